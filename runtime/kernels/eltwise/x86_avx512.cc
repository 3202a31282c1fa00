// Float32 elementwise kernels, AVX-512F: 16 lanes per zmm register.
//
// GCC 12's avx512fintrin.h starts min/max/convert/shift results from
// _mm512_undefined_*, which -Wmaybe-uninitialized reports once they are inlined
// here; the warning is false.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "runtime/kernels/eltwise/vector_impl.h"

namespace pare::rt::kernels {

namespace {

struct Avx512 {
  static constexpr size_t kWidth = 16;
  static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
  static __m512 set1(float v) { return _mm512_set1_ps(v); }
  static __m512 add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
  static __m512 sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
  static __m512 mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
  static __m512 div(__m512 a, __m512 b) { return _mm512_div_ps(a, b); }
  static __m512 fmadd(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
  static __m512 min(__m512 a, __m512 b) { return _mm512_min_ps(a, b); }
  static __m512 max(__m512 a, __m512 b) { return _mm512_max_ps(a, b); }
  static __m512 round(__m512 v) {
    return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static __m512 pow2i(__m512 n) {
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  static __m512 abs(__m512 v) { return _mm512_abs_ps(v); }
  static __m512 copysign(__m512 magnitude, __m512 sign) {
    const __m512i sign_bit = _mm512_set1_epi32(static_cast<int>(0x80000000u));
    // (sign & sign_bit) | (magnitude & ~sign_bit): ternary-logic table 0xE4
    // picks bits of the first operand where the mask (third) is set and the
    // second elsewhere.
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
        _mm512_castps_si512(sign), _mm512_castps_si512(magnitude), sign_bit, 0xE4));
  }
  static __mmask16 lt(__m512 a, __m512 b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static __mmask16 is_nan(__m512 a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static __m512 select(__mmask16 mask, __m512 if_true, __m512 if_false) {
    return _mm512_mask_blend_ps(mask, if_false, if_true);
  }
};

constexpr F32EltwiseVariant kAvx512 =
    eltwise_vec::make_f32_eltwise_variant<Avx512>(Isa::kAvx512, "x16__avx512");

}  // namespace

const F32EltwiseVariant& f32_eltwise_avx512() { return kAvx512; }

}  // namespace pare::rt::kernels
