// Float32 vectors for AArch64 NEON: 4 lanes per q register. The operations are those listed
// in x86_avx2.h; min and max are spelled as compares and selects to keep the x86 NaN rule,
// min_native and max_native are vminq/vmaxq; fmadd_lane<L> is vfmaq_laneq_f32. Included only
// by the arm_neon*.cc kernel files.
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>

#ifndef PARE_SIMD_INLINE
#define PARE_SIMD_INLINE inline __attribute__((always_inline))
#endif

namespace pare::rt::kernels::simd {

struct F32x4Neon {
  using R = float32x4_t;
  using Mask = uint32x4_t;
  using LaneMask = int64_t;  // the lane count
  static constexpr size_t kWidth = 4;
  static constexpr bool kFmaByLane = true;  // fmadd_lane<L>(a, b, acc) = acc + a * b[L]

  static PARE_SIMD_INLINE R load(const float* p) { return vld1q_f32(p); }
  static PARE_SIMD_INLINE void store(float* p, R v) { vst1q_f32(p, v); }
  static PARE_SIMD_INLINE R broadcast(const float* p) { return vld1q_dup_f32(p); }
  static PARE_SIMD_INLINE R set1(float v) { return vdupq_n_f32(v); }
  static PARE_SIMD_INLINE R zero() { return vdupq_n_f32(0.f); }

  static PARE_SIMD_INLINE LaneMask first_lanes(int64_t n) { return n; }
  // Lane by lane, so nothing past the n lanes is read or written.
  static PARE_SIMD_INLINE R load_partial(const float* p, LaneMask n) {
    R v = vld1q_lane_f32(p, vdupq_n_f32(0.f), 0);
    if (n > 1) v = vld1q_lane_f32(p + 1, v, 1);
    if (n > 2) v = vld1q_lane_f32(p + 2, v, 2);
    return v;
  }
  static PARE_SIMD_INLINE void store_partial(float* p, LaneMask n, R v) {
    vst1q_lane_f32(p, v, 0);
    if (n > 1) vst1q_lane_f32(p + 1, v, 1);
    if (n > 2) vst1q_lane_f32(p + 2, v, 2);
  }
  static PARE_SIMD_INLINE void store_first(float* p, size_t n, R v) {
    float32x2_t lo = vget_low_f32(v);
    if (n & 2) {
      vst1_f32(p, lo);
      lo = vget_high_f32(v);
      p += 2;
    }
    if (n & 1) vst1_lane_f32(p, lo, 0);
  }

  static PARE_SIMD_INLINE R add(R a, R b) { return vaddq_f32(a, b); }
  static PARE_SIMD_INLINE R sub(R a, R b) { return vsubq_f32(a, b); }
  static PARE_SIMD_INLINE R mul(R a, R b) { return vmulq_f32(a, b); }
  static PARE_SIMD_INLINE R div(R a, R b) { return vdivq_f32(a, b); }
  // 1 / a for a finite, normal a (the x86 types use an estimate and a Newton step).
  static PARE_SIMD_INLINE R reciprocal(R a) { return vdivq_f32(vdupq_n_f32(1.f), a); }
  static PARE_SIMD_INLINE R fmadd(R a, R b, R c) { return vfmaq_f32(c, a, b); }
  static PARE_SIMD_INLINE R fmadd_broadcast(const float* p, R b, R acc) { return fmadd(broadcast(p), b, acc); }
  template <int L>
  static PARE_SIMD_INLINE R fmadd_lane(R a, R b, R acc) {
    return vfmaq_laneq_f32(acc, a, b, L);
  }
  static PARE_SIMD_INLINE R min(R a, R b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
  static PARE_SIMD_INLINE R max(R a, R b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
  static PARE_SIMD_INLINE R min_native(R a, R b) { return vminq_f32(a, b); }
  static PARE_SIMD_INLINE R max_native(R a, R b) { return vmaxq_f32(a, b); }
  static PARE_SIMD_INLINE R round(R v) { return vrndnq_f32(v); }
  static PARE_SIMD_INLINE R pow2i(R n) {
    const int32x4_t e = vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127));
    return vreinterpretq_f32_s32(vshlq_n_s32(e, 23));
  }
  static PARE_SIMD_INLINE R abs(R v) { return vabsq_f32(v); }
  static PARE_SIMD_INLINE R copysign(R magnitude, R sign) {
    return vbslq_f32(vdupq_n_u32(0x80000000u), sign, magnitude);
  }
  static PARE_SIMD_INLINE Mask lt(R a, R b) { return vcltq_f32(a, b); }
  static PARE_SIMD_INLINE Mask is_nan(R a) { return vmvnq_u32(vceqq_f32(a, a)); }
  static PARE_SIMD_INLINE R select(Mask mask, R if_true, R if_false) {
    return vbslq_f32(mask, if_true, if_false);
  }
  static PARE_SIMD_INLINE R clamp_magnitude(R v, float limit) {
    return copysign(vminq_f32(vabsq_f32(v), vdupq_n_f32(limit)), v);
  }
  static PARE_SIMD_INLINE R fmadd_unless(Mask drop, R a, R b, R c) {
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(vfmaq_f32(c, a, b)), drop));
  }

  static PARE_SIMD_INLINE float reduce_add(R v) {
    const float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(s, 0) + vget_lane_f32(s, 1);
  }
  // vmaxvq_f32 returns NaN if any lane is; callers keep NaN out of their max accumulators.
  static PARE_SIMD_INLINE float reduce_max(R v) { return vmaxvq_f32(v); }

  struct F64Sum {
    float64x2_t lo, hi;
  };
  static PARE_SIMD_INLINE F64Sum sum_zero() { return {vdupq_n_f64(0.0), vdupq_n_f64(0.0)}; }
  static PARE_SIMD_INLINE F64Sum sum_add(F64Sum s, R v) {
    s.lo = vaddq_f64(s.lo, vcvt_f64_f32(vget_low_f32(v)));
    s.hi = vaddq_f64(s.hi, vcvt_high_f64_f32(v));
    return s;
  }
  static PARE_SIMD_INLINE R sum_mean(F64Sum s, int64_t count) {
    const float64x2_t d = vdupq_n_f64(static_cast<double>(count));
    return vcvt_high_f32_f64(vcvt_f32_f64(vdivq_f64(s.lo, d)), vdivq_f64(s.hi, d));
  }

  static PARE_SIMD_INLINE void keep_in_register(R& v) { __asm__("" : "+w"(v)); }
};

}  // namespace pare::rt::kernels::simd
