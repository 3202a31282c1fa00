// Float32 elementwise kernels, AVX2 + FMA: 8 lanes per ymm register.
#include <immintrin.h>

#include "runtime/kernels/eltwise/vector_impl.h"

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
  static __m256 div(__m256 a, __m256 b) { return _mm256_div_ps(a, b); }
  static __m256 fmadd(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
  static __m256 min(__m256 a, __m256 b) { return _mm256_min_ps(a, b); }
  static __m256 max(__m256 a, __m256 b) { return _mm256_max_ps(a, b); }
  static __m256 round(__m256 v) {
    return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static __m256 pow2i(__m256 n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  static __m256 abs(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), v); }
  static __m256 copysign(__m256 magnitude, __m256 sign) {
    const __m256 sign_bit = _mm256_set1_ps(-0.f);
    return _mm256_or_ps(_mm256_andnot_ps(sign_bit, magnitude), _mm256_and_ps(sign_bit, sign));
  }
  static __m256 lt(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static __m256 is_nan(__m256 a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static __m256 select(__m256 mask, __m256 if_true, __m256 if_false) {
    return _mm256_blendv_ps(if_false, if_true, mask);
  }
};

constexpr F32EltwiseVariant kAvx2 =
    eltwise_vec::make_f32_eltwise_variant<Avx2>(Isa::kAvx2, "x8__avx2");

}  // namespace

const F32EltwiseVariant& f32_eltwise_avx2() { return kAvx2; }

}  // namespace pare::rt::kernels
