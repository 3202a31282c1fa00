// Float32 row softmax, AArch64 NEON: 4 lanes per q register.
#include "runtime/kernels/simd/arm_neon.h"

#include "runtime/kernels/softmax/softmax.h"
#include "runtime/kernels/softmax/vector_impl.h"

namespace pare::rt::kernels {

void f32_softmax_rows_x4__neon(int64_t cols, const float* x, float* y, int64_t row_begin,
                               int64_t row_end) {
  softmax_vec::softmax_rows<simd::F32x4Neon>(cols, x, y, row_begin, row_end);
}

}  // namespace pare::rt::kernels
