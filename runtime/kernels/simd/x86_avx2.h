// Float32 vectors for AVX2 + FMA: 8 lanes per ymm register. Included only by the x86_avx2.cc
// and x86_avx512.cc kernel files (compiled with their own flags).
//
// Every simd::F32x* struct offers the same static operations, so a kernel family is written
// once as a template over the struct (R: register, Mask: result of a compare, LaneMask: the
// first lanes of a partial load or store):
//   kWidth; R load(p), store(p, v), broadcast(p) (one float to every lane), set1(x), zero();
//   LaneMask first_lanes(n), R load_partial(p, mask), store_partial(p, mask, v): the first
//     n (1 <= n < kWidth) lanes; the other lanes load as zero, nothing past n is touched;
//   store_first(p, n, v): stores the first n (< kWidth) lanes, the fastest way on the ISA;
//   add, sub, mul, div; fmadd(a, b, c) = a * b + c (one rounding);
//   min(a, b) = a < b ? a : b, max(a, b) = a > b ? a : b (the x86 rule: b when either is NaN,
//     on every ISA, so NaN handling is the same everywhere);
//   min_native, max_native: the ISA's own instruction (x86: as min/max; NEON: NaN when either
//     is NaN, -0 below +0), where a kernel must keep the bytes that instruction gives;
//   round (to nearest even), pow2i(n) = 2^n for integral n in [-126, 127], abs,
//   copysign(magnitude, sign); Mask lt(a, b), is_nan(a); select(mask, if_true, if_false);
//   clamp_magnitude(v, limit): v with its magnitude at most limit > 0, its sign kept (NaN:
//     unspecified); fmadd_unless(drop, a, b, c) = drop ? +0 : fmadd(a, b, c);
//   float reduce_add(v), reduce_max(v) (horizontal, in a fixed order);
//   F64Sum sum_zero(), sum_add(sum, v), R sum_mean(sum, count): kWidth double sums;
//   keep_in_register(v): stops the compiler from folding the loads of v into its uses;
//   kFmaByLane: whether fmadd_lane<L>(a, b, acc) = acc + a * b[L] exists (NEON).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#ifndef PARE_SIMD_INLINE
#define PARE_SIMD_INLINE inline __attribute__((always_inline))
#endif

namespace pare::rt::kernels::simd {

struct F32x8Avx2 {
  using R = __m256;
  using Mask = __m256;
  using LaneMask = __m256i;
  static constexpr size_t kWidth = 8;
  static constexpr bool kFmaByLane = false;

  static PARE_SIMD_INLINE R load(const float* p) { return _mm256_loadu_ps(p); }
  static PARE_SIMD_INLINE void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static PARE_SIMD_INLINE R broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static PARE_SIMD_INLINE R set1(float v) { return _mm256_set1_ps(v); }
  static PARE_SIMD_INLINE R zero() { return _mm256_setzero_ps(); }

  static PARE_SIMD_INLINE LaneMask first_lanes(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  // vmaskmovps reads and writes only the selected lanes.
  static PARE_SIMD_INLINE R load_partial(const float* p, LaneMask m) {
    return _mm256_maskload_ps(p, m);
  }
  static PARE_SIMD_INLINE void store_partial(float* p, LaneMask m, R v) {
    _mm256_maskstore_ps(p, m, v);
  }
  // In pieces of 4, 2 and 1 lanes: masked stores are slow on AMD cores.
  static PARE_SIMD_INLINE void store_first(float* p, size_t n, R v) {
    __m128 lo = _mm256_castps256_ps128(v);
    if (n & 4) {
      _mm_storeu_ps(p, lo);
      lo = _mm256_extractf128_ps(v, 1);
      p += 4;
    }
    if (n & 2) {
      _mm_storel_pi(reinterpret_cast<__m64*>(p), lo);
      lo = _mm_movehl_ps(lo, lo);
      p += 2;
    }
    if (n & 1) _mm_store_ss(p, lo);
  }

  static PARE_SIMD_INLINE R add(R a, R b) { return _mm256_add_ps(a, b); }
  static PARE_SIMD_INLINE R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static PARE_SIMD_INLINE R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static PARE_SIMD_INLINE R div(R a, R b) { return _mm256_div_ps(a, b); }
  // 1 / a within a few ulp for a finite, normal a: the 12-bit estimate and one Newton step.
  static PARE_SIMD_INLINE R reciprocal(R a) {
    const R r = _mm256_rcp_ps(a);
    return _mm256_fmadd_ps(r, _mm256_fnmadd_ps(a, r, _mm256_set1_ps(1.f)), r);
  }
  static PARE_SIMD_INLINE R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static PARE_SIMD_INLINE R fmadd_broadcast(const float* p, R b, R acc) { return fmadd(broadcast(p), b, acc); }
  static PARE_SIMD_INLINE R min(R a, R b) { return _mm256_min_ps(a, b); }
  static PARE_SIMD_INLINE R max(R a, R b) { return _mm256_max_ps(a, b); }
  static PARE_SIMD_INLINE R min_native(R a, R b) { return _mm256_min_ps(a, b); }
  static PARE_SIMD_INLINE R max_native(R a, R b) { return _mm256_max_ps(a, b); }
  static PARE_SIMD_INLINE R round(R v) {
    return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static PARE_SIMD_INLINE R pow2i(R n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  static PARE_SIMD_INLINE R abs(R v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), v); }
  static PARE_SIMD_INLINE R copysign(R magnitude, R sign) {
    const __m256 sign_bit = _mm256_set1_ps(-0.f);
    return _mm256_or_ps(_mm256_andnot_ps(sign_bit, magnitude), _mm256_and_ps(sign_bit, sign));
  }
  static PARE_SIMD_INLINE Mask lt(R a, R b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static PARE_SIMD_INLINE Mask is_nan(R a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
  static PARE_SIMD_INLINE R select(Mask mask, R if_true, R if_false) {
    return _mm256_blendv_ps(if_false, if_true, mask);
  }
  static PARE_SIMD_INLINE R clamp_magnitude(R v, float limit) {
    return _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-limit)), _mm256_set1_ps(limit));
  }
  static PARE_SIMD_INLINE R fmadd_unless(Mask drop, R a, R b, R c) {
    return _mm256_andnot_ps(drop, _mm256_fmadd_ps(a, b, c));
  }

  static PARE_SIMD_INLINE float reduce_add(R v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static PARE_SIMD_INLINE float reduce_max(R v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }

  struct F64Sum {
    __m256d lo, hi;
  };
  static PARE_SIMD_INLINE F64Sum sum_zero() { return {_mm256_setzero_pd(), _mm256_setzero_pd()}; }
  static PARE_SIMD_INLINE F64Sum sum_add(F64Sum s, R v) {
    s.lo = _mm256_add_pd(s.lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    s.hi = _mm256_add_pd(s.hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    return s;
  }
  static PARE_SIMD_INLINE R sum_mean(F64Sum s, int64_t count) {
    const __m256d d = _mm256_set1_pd(static_cast<double>(count));
    const __m128 lo = _mm256_cvtpd_ps(_mm256_div_pd(s.lo, d));
    const __m128 hi = _mm256_cvtpd_ps(_mm256_div_pd(s.hi, d));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
  }

  static PARE_SIMD_INLINE void keep_in_register(R& v) { __asm__("" : "+x"(v)); }
};

}  // namespace pare::rt::kernels::simd
