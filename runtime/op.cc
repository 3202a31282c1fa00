#include "runtime/op.h"

#include "runtime/kernels/activation/activation.h"

namespace pare::rt {

Status PrepareContext::error(Status::Code code, const std::string& message) const {
  return Status(code, op + " '" + node_name + "': " + message);
}

void apply_activation(const FusedActivation& act, float* data, size_t n) {
  kernels::f32_activation__scalar(act, data, n);
}

}  // namespace pare::rt
