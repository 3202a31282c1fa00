#include "runtime/kernels/activation/activation.h"

#include <algorithm>
#include <cmath>

namespace pare::rt::kernels {

void f32_activation__scalar(const FusedActivation& act, float* data, size_t n) {
  switch (act.kind) {
    case ActivationKind::kNone:
      return;
    case ActivationKind::kRelu:
      for (size_t i = 0; i < n; ++i) data[i] = std::max(data[i], 0.f);
      return;
    case ActivationKind::kClip:
      for (size_t i = 0; i < n; ++i) data[i] = std::min(std::max(data[i], act.p0), act.p1);
      return;
    case ActivationKind::kSigmoid:
      for (size_t i = 0; i < n; ++i) data[i] = 1.f / (1.f + std::exp(-data[i]));
      return;
    case ActivationKind::kHardSigmoid:
      for (size_t i = 0; i < n; ++i)
        data[i] = std::max(0.f, std::min(1.f, act.p0 * data[i] + act.p1));
      return;
    case ActivationKind::kHardSwish:
      for (size_t i = 0; i < n; ++i)
        data[i] = data[i] * std::max(0.f, std::min(1.f, data[i] / 6.f + 0.5f));
      return;
    case ActivationKind::kLeakyRelu:
      for (size_t i = 0; i < n; ++i) data[i] = data[i] < 0.f ? act.p0 * data[i] : data[i];
      return;
    case ActivationKind::kSilu:
      for (size_t i = 0; i < n; ++i) data[i] = data[i] * (1.f / (1.f + std::exp(-data[i])));
      return;
  }
}

F32UnaryFn f32_activation_vector(ActivationKind kind, Isa cap) {
  if (cap == Isa::kScalar) return nullptr;
  switch (kind) {
    case ActivationKind::kSigmoid: return select_f32_eltwise(cap).sigmoid;
    case ActivationKind::kSilu: return select_f32_eltwise(cap).silu;
    case ActivationKind::kHardSwish: return select_f32_eltwise(cap).hard_swish;
    default: return nullptr;
  }
}

}  // namespace pare::rt::kernels
