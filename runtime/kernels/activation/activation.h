// Fused activations (Conv/Gemm outputs), float32: the scalar formulas, defined once for the
// kernels that apply an activation themselves and for rt::apply_activation.
#pragma once

#include <cstddef>

#include "runtime/types.h"

namespace pare::rt::kernels {

// Applies `act` in place to data[0 .. n).
void f32_activation__scalar(const FusedActivation& act, float* data, size_t n);

}  // namespace pare::rt::kernels
