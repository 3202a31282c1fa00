// Softmax kernel, float32.
#pragma once

#include <cstdint>

namespace pare::rt::kernels {

// Softmax along the middle axis of x viewed as [outer, axis_size, inner], for the
// (outer, inner) lines with outer in [outer_begin, outer_end). Subtracts each line's max
// before exponentiating, so large inputs do not overflow.
void f32_softmax_ref__scalar(int64_t axis_size, int64_t inner, const float* x, float* y,
                             int64_t outer_begin, int64_t outer_end);

}  // namespace pare::rt::kernels
