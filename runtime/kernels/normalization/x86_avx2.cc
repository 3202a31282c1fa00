// Float32 LayerNormalization, AVX2 + FMA: 8 lanes per ymm register.
#include <immintrin.h>

#include "runtime/kernels/normalization/normalization.h"
#include "runtime/kernels/normalization/vector_impl.h"

namespace pare::rt::kernels {

namespace {

struct Avx2 {
  static constexpr size_t kWidth = 8;
  static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
  static __m256 set1(float v) { return _mm256_set1_ps(v); }
  static __m256 add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
  static __m256 sub(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }
  static __m256 mul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
  static __m256 fmadd(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
  static float reduce_add(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace

void f32_layernorm_x8__avx2(int64_t cols, const float* x, const float* scale, const float* bias,
                            float epsilon, float* y, float* mean, float* inv_std,
                            int64_t row_begin, int64_t row_end) {
  layernorm_vec::layernorm_rows<Avx2>(cols, x, scale, bias, epsilon, y, mean, inv_std, row_begin,
                                    row_end);
}

}  // namespace pare::rt::kernels
