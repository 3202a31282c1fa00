// Fused activations (Conv/Gemm outputs), float32: the scalar formulas, defined once for the
// kernels that apply an activation themselves and for rt::apply_activation.
#pragma once

#include <cstddef>

#include "runtime/cpu.h"
#include "runtime/kernels/eltwise/eltwise.h"
#include "runtime/types.h"

namespace pare::rt::kernels {

// Applies `act` in place to data[0 .. n).
void f32_activation__scalar(const FusedActivation& act, float* data, size_t n);

// The vector kernel that applies an activation of `kind` in place under the ISA cap, chosen
// at prepare: the eltwise family's Sigmoid and Silu (an exp per element, ten times the cost
// of the scalar formula's std::exp) and HardSwish (the scalar formula divides by 6), null
// for the other kinds and the scalar cap, which take f32_activation__scalar.
F32UnaryFn f32_activation_vector(ActivationKind kind, Isa cap);

// Applies `act` in place to data[0 .. n): through `vector` when set (f32_activation_vector
// of its kind), else the scalar formula.
inline void f32_activation(const FusedActivation& act, F32UnaryFn vector, float* data, size_t n) {
  if (vector)
    vector(n, data, data);
  else
    f32_activation__scalar(act, data, n);
}

}  // namespace pare::rt::kernels
