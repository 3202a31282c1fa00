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
                                               "HardSigmoid", "HardSwish", "LeakyRelu", "Silu"};
static_assert(static_cast<int32_t>(sizeof(kActivationNames) / sizeof(kActivationNames[0])) == kActivationKindCount,
              "one name per ActivationKind");

const char* activation_name(ActivationKind a) {
  const int32_t i = static_cast<int32_t>(a);
  return i >= 0 && i < kActivationKindCount ? kActivationNames[i] : "?";
}

bool activation_from_name(const std::string& name, ActivationKind* out) {
  for (int32_t i = 0; i < kActivationKindCount; ++i) {
    if (name == kActivationNames[i]) {
      *out = static_cast<ActivationKind>(i);
      return true;
    }
  }
  return false;
}

}  // namespace pare::ir
