// Float32 row softmax, AVX-512F + FMA: 16 lanes per zmm register.
//
// GCC 12's avx512fintrin.h starts convert/shift/cast results from _mm512_undefined_*,
// which -Wmaybe-uninitialized reports once they are inlined here; the warning is false.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "runtime/kernels/simd/x86_avx512.h"

#include "runtime/kernels/softmax/softmax.h"
#include "runtime/kernels/softmax/vector_impl.h"

namespace pare::rt::kernels {

void f32_softmax_rows_x16__avx512(int64_t cols, const float* x, float* y, int64_t row_begin,
                                  int64_t row_end) {
  softmax_vec::softmax_rows<simd::F32x16Avx512>(cols, x, y, row_begin, row_end);
}

}  // namespace pare::rt::kernels
