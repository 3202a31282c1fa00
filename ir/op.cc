#include "ir/op.h"

#include <cstring>

namespace pare::ir {

const char* op_name(OpKind op) {
  switch (op) {
#define PARE_OP_NAME(name) \
  case OpKind::k##name:    \
    return #name;
    PARE_IR_OPS(PARE_OP_NAME)
#undef PARE_OP_NAME
    case OpKind::kCount: break;
  }
  return "?";
}

bool op_from_name(const std::string& name, OpKind* out) {
#define PARE_OP_MATCH(n)     \
  if (name == #n) {          \
    *out = OpKind::k##n;     \
    return true;             \
  }
  PARE_IR_OPS(PARE_OP_MATCH)
#undef PARE_OP_MATCH
  return false;
}

static const char* const kActivationNames[] = {"none",        "Relu",      "Clip",     "Sigmoid",
                                               "HardSigmoid", "HardSwish", "LeakyRelu"};

const char* activation_name(Activation a) {
  int i = static_cast<int>(a);
  if (i < 0 || i >= static_cast<int>(sizeof(kActivationNames) / sizeof(kActivationNames[0])))
    return "?";
  return kActivationNames[i];
}

bool activation_from_name(const std::string& name, Activation* out) {
  for (size_t i = 0; i < sizeof(kActivationNames) / sizeof(kActivationNames[0]); ++i) {
    if (name == kActivationNames[i]) {
      *out = static_cast<Activation>(i);
      return true;
    }
  }
  return false;
}

}  // namespace pare::ir
