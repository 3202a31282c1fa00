// Float32 LayerNormalization, AVX-512F + FMA: 16 lanes per zmm register.
//
// GCC 12's avx512fintrin.h starts convert/shift/cast results from _mm512_undefined_*,
// which -Wmaybe-uninitialized reports once they are inlined here; the warning is false.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "runtime/kernels/simd/x86_avx512.h"

#include "runtime/kernels/normalization/normalization.h"
#include "runtime/kernels/normalization/vector_impl.h"

namespace pare::rt::kernels {

void f32_layernorm_x16__avx512(int64_t cols, const float* x, const float* scale, const float* bias,
                               float epsilon, float* y, float* mean, float* inv_std,
                               int64_t row_begin, int64_t row_end) {
  layernorm_vec::layernorm_rows<simd::F32x16Avx512>(cols, x, scale, bias, epsilon, y, mean, inv_std,
                                                    row_begin, row_end);
}

}  // namespace pare::rt::kernels
