// Float32 vectors for AVX-512F (with VL, DQ): 16 lanes per zmm register, and the ymm half
// used where a tile ends in 8 lanes. The operations are those listed in x86_avx2.h. Included
// only by the x86_avx512*.cc kernel files (compiled with their own flags).
//
// GCC 12's avx512fintrin.h starts max/min/convert results from _mm512_undefined_*, which
// -Wmaybe-uninitialized reports once they are inlined; the zero-masked forms with a full
// mask are the same instructions without that false warning.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "runtime/kernels/simd/x86_avx2.h"

namespace pare::rt::kernels::simd {

struct F32x16Avx512 {
  using R = __m512;
  using Mask = __mmask16;
  using LaneMask = __mmask16;
  static constexpr size_t kWidth = 16;
  static constexpr bool kFmaByLane = false;

  static PARE_SIMD_INLINE R load(const float* p) { return _mm512_loadu_ps(p); }
  static PARE_SIMD_INLINE void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static PARE_SIMD_INLINE R broadcast(const float* p) { return _mm512_set1_ps(*p); }
  // acc + *p * b, the broadcast of *p taken by the FMA as a memory operand (no register).
  static PARE_SIMD_INLINE R fmadd_broadcast(const float* p, R b, R acc) {
    asm("vfmadd231ps %1%{1to16%}, %2, %0" : "+v"(acc) : "m"(*p), "v"(b));
    return acc;
  }
  static PARE_SIMD_INLINE R set1(float v) { return _mm512_set1_ps(v); }
  static PARE_SIMD_INLINE R zero() { return _mm512_setzero_ps(); }

  static PARE_SIMD_INLINE LaneMask first_lanes(int64_t n) {
    return n >= 16 ? LaneMask(0xFFFF) : LaneMask((1u << n) - 1u);
  }
  static PARE_SIMD_INLINE R load_partial(const float* p, LaneMask m) {
    return _mm512_maskz_loadu_ps(m, p);
  }
  static PARE_SIMD_INLINE void store_partial(float* p, LaneMask m, R v) {
    _mm512_mask_storeu_ps(p, m, v);
  }
  static PARE_SIMD_INLINE void store_first(float* p, size_t n, R v) {
    _mm512_mask_storeu_ps(p, first_lanes(static_cast<int64_t>(n)), v);
  }

  static PARE_SIMD_INLINE R add(R a, R b) { return _mm512_add_ps(a, b); }
  static PARE_SIMD_INLINE R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static PARE_SIMD_INLINE R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static PARE_SIMD_INLINE R div(R a, R b) { return _mm512_div_ps(a, b); }
  // 1 / a within about 2 ulp for a finite, normal a: the 14-bit estimate and one Newton
  // step (vdivps takes 16 cycles per vector; this is 3 instructions).
  static PARE_SIMD_INLINE R reciprocal(R a) {
    const R r = _mm512_rcp14_ps(a);
    return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(a, r, _mm512_set1_ps(1.f)), r);
  }
  static PARE_SIMD_INLINE R fmadd(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static PARE_SIMD_INLINE R min(R a, R b) { return _mm512_maskz_min_ps(0xFFFF, a, b); }
  static PARE_SIMD_INLINE R max(R a, R b) { return _mm512_maskz_max_ps(0xFFFF, a, b); }
  static PARE_SIMD_INLINE R min_native(R a, R b) { return min(a, b); }
  static PARE_SIMD_INLINE R max_native(R a, R b) { return max(a, b); }
  // The masked form with v as its own pass-through: the plain intrinsic's undefined
  // pass-through trips GCC 12's maybe-uninitialized warning once inlined.
  static PARE_SIMD_INLINE R round(R v) {
    return _mm512_mask_roundscale_ps(v, static_cast<__mmask16>(0xFFFF), v,
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static PARE_SIMD_INLINE R pow2i(R n) {
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  static PARE_SIMD_INLINE R abs(R v) { return _mm512_abs_ps(v); }
  static PARE_SIMD_INLINE R copysign(R magnitude, R sign) {
    const __m512i sign_bit = _mm512_set1_epi32(static_cast<int>(0x80000000u));
    // (sign & sign_bit) | (magnitude & ~sign_bit): ternary-logic table 0xE4 picks bits of the
    // first operand where the mask (third) is set and the second elsewhere.
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
        _mm512_castps_si512(sign), _mm512_castps_si512(magnitude), sign_bit, 0xE4));
  }
  static PARE_SIMD_INLINE Mask lt(R a, R b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static PARE_SIMD_INLINE Mask is_nan(R a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
  static PARE_SIMD_INLINE R select(Mask mask, R if_true, R if_false) {
    return _mm512_mask_blend_ps(mask, if_false, if_true);
  }
  // One vrangeps: the smaller magnitude of v and limit, with v's sign.
  static PARE_SIMD_INLINE R clamp_magnitude(R v, float limit) {
    return _mm512_mask_range_ps(v, static_cast<__mmask16>(0xFFFF), v, _mm512_set1_ps(limit), 0x02);
  }
  // The dropped lanes zeroed by the FMA's own mask: no blend.
  static PARE_SIMD_INLINE R fmadd_unless(Mask drop, R a, R b, R c) {
    return _mm512_maskz_fmadd_ps(static_cast<__mmask16>(~drop), a, b, c);
  }

  // Both fold the 128-bit quarters in zmm registers, then the last four lanes.
  static PARE_SIMD_INLINE float reduce_add(R v) {
    __m512 h = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
    h = _mm512_add_ps(h, _mm512_shuffle_f32x4(h, h, 0xB1));
    __m128 s = _mm512_castps512_ps128(h);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static PARE_SIMD_INLINE float reduce_max(R v) {
    __m512 h = max(v, _mm512_shuffle_f32x4(v, v, 0x4E));
    h = max(h, _mm512_shuffle_f32x4(h, h, 0xB1));
    __m128 m = _mm512_castps512_ps128(h);
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }

  struct F64Sum {
    __m512d lo, hi;
  };
  static PARE_SIMD_INLINE F64Sum sum_zero() { return {_mm512_setzero_pd(), _mm512_setzero_pd()}; }
  static PARE_SIMD_INLINE F64Sum sum_add(F64Sum s, R v) {
    s.lo = _mm512_add_pd(s.lo,
                         _mm512_maskz_cvtps_pd(0xFF, _mm512_maskz_extractf32x8_ps(0xFF, v, 0)));
    s.hi = _mm512_add_pd(s.hi,
                         _mm512_maskz_cvtps_pd(0xFF, _mm512_maskz_extractf32x8_ps(0xFF, v, 1)));
    return s;
  }
  static PARE_SIMD_INLINE R sum_mean(F64Sum s, int64_t count) {
    const __m512d d = _mm512_set1_pd(static_cast<double>(count));
    const __m256 lo = _mm512_maskz_cvtpd_ps(0xFF, _mm512_div_pd(s.lo, d));
    const __m256 hi = _mm512_maskz_cvtpd_ps(0xFF, _mm512_div_pd(s.hi, d));
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
  }

  static PARE_SIMD_INLINE void keep_in_register(R& v) { __asm__("" : "+v"(v)); }
};

// The ymm half of an AVX-512 register tile: AVX2's operations, with the partial store masked
// (fast with AVX-512VL) and the broadcast from a scalar, so that a zmm broadcast of the same
// value serves both (vbroadcastss from memory twice measured 15% slower on N = 24 tiles).
struct F32x8Avx512 : F32x8Avx2 {
  static PARE_SIMD_INLINE R broadcast(const float* p) { return _mm256_set1_ps(*p); }
  static PARE_SIMD_INLINE void store_first(float* p, size_t n, R v) {
    _mm256_mask_storeu_ps(p, static_cast<__mmask8>((1u << n) - 1u), v);
  }
};

}  // namespace pare::rt::kernels::simd
