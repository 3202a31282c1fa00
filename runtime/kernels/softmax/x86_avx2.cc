// Float32 row softmax, AVX2 + FMA: 8 lanes per ymm register.
#include "runtime/kernels/simd/x86_avx2.h"

#include "runtime/kernels/softmax/softmax.h"
#include "runtime/kernels/softmax/vector_impl.h"

namespace pare::rt::kernels {

void f32_softmax_rows_x8__avx2(int64_t cols, const float* x, float* y, int64_t row_begin,
                               int64_t row_end) {
  softmax_vec::softmax_rows<simd::F32x8Avx2>(cols, x, y, row_begin, row_end);
}

}  // namespace pare::rt::kernels
