// The integer vectors of the AArch64 int8 kernels: groups of 8 and 16 int32 lanes held in q
// registers, the exact multiply-accumulate of uint8 by int8 (smlal on int16 operands; sdot
// where the file is built with +dotprod), the requantization of quant/requant.h per vector
// and byte loads and stores. The float lanes are the float struct's of the same width (Float).
//
// Internal linkage: the header is compiled into files built with different -march, and a
// merged inline copy from a dotprod file must not run on a CPU without it.
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "runtime/kernels/simd/arm_neon.h"

namespace pare::rt::kernels::simd {
namespace {

struct NeonInt8 {
  // N int32 lanes (N = 8 or 16) in N / 4 q registers.
  template <size_t N>
  struct I32xN {
    int32x4_t v[N / 4];
  };
  using I32x8 = I32xN<8>;
  using I32x16 = I32xN<16>;
  // 16 int16 lanes: widened bytes or weights.
  struct I16x16 {
    int16x8_t lo, hi;
  };

  template <size_t N>
  static I32xN<N> load_i32(const int32_t* p) {
    I32xN<N> r;
    for (size_t q = 0; q < N / 4; ++q) r.v[q] = vld1q_s32(p + 4 * q);
    return r;
  }

  // 16 bytes zero-extended to int16; the partial form reads only the first n bytes.
  static I16x16 widen_u8(const uint8_t* p) {
    const uint8x16_t v = vld1q_u8(p);
    return {vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(v))), vreinterpretq_s16_u16(vmovl_high_u8(v))};
  }
  static I16x16 widen_u8_partial(const uint8_t* p, size_t n) {
    uint8_t buf[16] = {};
    std::memcpy(buf, p, n);
    return widen_u8(buf);
  }
  static I16x16 load_i16(const int16_t* p) { return {vld1q_s16(p), vld1q_s16(p + 8)}; }
  static I16x16 set1_i16(int16_t v) { return {vdupq_n_s16(v), vdupq_n_s16(v)}; }

  // acc + x * w per lane (smlal, int16 x int16 -> int32, exact).
  static void mac_widened(I32x16* acc, const I16x16& x, const I16x16& w) {
    acc->v[0] = vmlal_s16(acc->v[0], vget_low_s16(x.lo), vget_low_s16(w.lo));
    acc->v[1] = vmlal_high_s16(acc->v[1], x.lo, w.lo);
    acc->v[2] = vmlal_s16(acc->v[2], vget_low_s16(x.hi), vget_low_s16(w.hi));
    acc->v[3] = vmlal_high_s16(acc->v[3], x.hi, w.hi);
  }

  // Four bytes of A (one int32) zero-extended to int16.
  static int16x4_t widen_u8x4(uint32_t bytes) {
    const uint8x8_t x = vreinterpret_u8_u32(vdup_n_u32(bytes));
    return vreinterpret_s16_u16(vget_low_u16(vmovl_u8(x)));
  }
  // acc + the four products of a by 8 columns of int16 B, b[r] holding row r (smlal by lane).
  static void dot_u8x4(I32x8* acc, int16x4_t a, const int16x8_t* b) {
    acc->v[0] = vmlal_lane_s16(acc->v[0], vget_low_s16(b[0]), a, 0);
    acc->v[1] = vmlal_high_lane_s16(acc->v[1], b[0], a, 0);
    acc->v[0] = vmlal_lane_s16(acc->v[0], vget_low_s16(b[1]), a, 1);
    acc->v[1] = vmlal_high_lane_s16(acc->v[1], b[1], a, 1);
    acc->v[0] = vmlal_lane_s16(acc->v[0], vget_low_s16(b[2]), a, 2);
    acc->v[1] = vmlal_high_lane_s16(acc->v[1], b[2], a, 2);
    acc->v[0] = vmlal_lane_s16(acc->v[0], vget_low_s16(b[3]), a, 3);
    acc->v[1] = vmlal_high_lane_s16(acc->v[1], b[3], a, 3);
  }
#if defined(__ARM_FEATURE_DOTPROD)
  // Four bytes of A (one int32) read as a ^ 0x80 = a - 128 (exact in int8) in every lane:
  // sdot multiplies signed bytes, so the caller adds 128 * sum(w) back (the packed bias).
  static int8x16_t broadcast_u8x4_flipped(uint32_t bytes) {
    return vreinterpretq_s8_u32(vdupq_n_u32(bytes ^ 0x80808080u));
  }
  // acc + four products per column of 8 columns, B as [8 columns x 4 int8] in b0, b1 (sdot).
  static void dot_s8x4(I32x8* acc, int8x16_t a, int8x16_t b0, int8x16_t b1) {
    acc->v[0] = vdotq_s32(acc->v[0], b0, a);
    acc->v[1] = vdotq_s32(acc->v[1], b1, a);
  }
#endif

  // requantize() of requant.h for N lanes. srshl by -shift adds 2^(shift-1) and shifts right
  // arithmetically: the rounding of requant_scale (ties toward +infinity); |acc * multiplier|
  // < 2^62, so nothing overflows. Saturating to int32 before adding the zero point and
  // clamping keeps every result, since [lo, hi] lies far inside the int32 range.
  //
  // When every shift is >= 32 (real scales below 1/2; a zero multiplier gives 0 either way)
  // the 64-bit products are not needed: sqdmulh gives h = floor(acc * m / 2^31) (it saturates
  // only for INT32_MIN squared, and m > 0), and since 2^(s-1) = 2^31 * 2^(s-32),
  // floor((acc * m + 2^(s-1)) / 2^s) = (h + 2^(s-32)) >> (s-31): srshl by 31 - s. Two
  // instructions per 4 lanes instead of six.
  template <size_t N>
  struct Requantizer {
    int32x4_t mult[N / 4];
    int64x2_t neg_shift[N / 2];  // -shift of lanes (0, 1), (2, 3), ...
    int32x4_t high_shift[N / 4];  // 31 - shift, for the sqdmulh path
    bool high = true;             // every shift >= 32 (or a zero multiplier)
    int32x4_t zp, lo, hi;

    Requantizer(const int32_t* multipliers, const int32_t* shifts, int32_t zero_point, int32_t lo_, int32_t hi_) {
      for (size_t q = 0; q < N / 4; ++q) {
        mult[q] = vld1q_s32(multipliers + 4 * q);
        const int32x4_t s = vld1q_s32(shifts + 4 * q);
        neg_shift[2 * q] = vnegq_s64(vmovl_s32(vget_low_s32(s)));
        neg_shift[2 * q + 1] = vnegq_s64(vmovl_high_s32(s));
        high_shift[q] = vsubq_s32(vdupq_n_s32(31), s);
        const uint32x4_t ok = vorrq_u32(vcgeq_s32(s, vdupq_n_s32(32)), vceqzq_s32(mult[q]));
        high = high && vminvq_u32(ok) != 0;
      }
      zp = vdupq_n_s32(zero_point);
      lo = vdupq_n_s32(lo_);
      hi = vdupq_n_s32(hi_);
    }

    int32x4_t apply4(int32x4_t acc, size_t q) const {
      int32x4_t v;
      if (high) {
        v = vrshlq_s32(vqdmulhq_s32(acc, mult[q]), high_shift[q]);
      } else {
        const int64x2_t p0 = vrshlq_s64(vmull_s32(vget_low_s32(acc), vget_low_s32(mult[q])), neg_shift[2 * q]);
        const int64x2_t p1 = vrshlq_s64(vmull_high_s32(acc, mult[q]), neg_shift[2 * q + 1]);
        v = vcombine_s32(vqmovn_s64(p0), vqmovn_s64(p1));
      }
      v = vqaddq_s32(v, zp);
      return vminq_s32(vmaxq_s32(v, lo), hi);
    }

    // The clamped outputs as int32 lanes.
    I32xN<N> apply(const I32xN<N>& acc) const {
      I32xN<N> r;
      for (size_t q = 0; q < N / 4; ++q) r.v[q] = apply4(acc.v[q], q);
      return r;
    }
  };

  // The low byte of each lane (a clamped output: the right uint8 or int8).
  static uint8x8_t low_bytes(const I32x8& v) {
    return vreinterpret_u8_s8(vmovn_s16(vcombine_s16(vmovn_s32(v.v[0]), vmovn_s32(v.v[1]))));
  }
  static uint8x16_t low_bytes(const I32x16& v) {
    const int16x8_t h0 = vmovn_high_s32(vmovn_s32(v.v[0]), v.v[1]);
    const int16x8_t h1 = vmovn_high_s32(vmovn_s32(v.v[2]), v.v[3]);
    return vreinterpretq_u8_s8(vmovn_high_s16(vmovn_s16(h0), h1));
  }
  static void store_low_bytes(uint8_t* p, const I32x8& v) { vst1_u8(p, low_bytes(v)); }
  static void store_low_bytes(uint8_t* p, const I32x16& v) { vst1q_u8(p, low_bytes(v)); }
  // The first n of them.
  template <size_t N>
  static void store_low_bytes_partial(uint8_t* p, const I32xN<N>& v, size_t n) {
    uint8_t buf[N];
    store_low_bytes(buf, v);
    std::memcpy(p, buf, n);
  }

  // ---- Between int32 and float lanes (the float arithmetic is Float's) ----
  using I32 = int32x4_t;
  using Float = F32x4Neon;  // the float lanes of the same width
  using F32 = Float::R;
  static constexpr size_t kLanes = 4;
  static constexpr size_t kBlockVecs = 4;  // vectors per elementwise block of 16 bytes
  static I32 set1_i32(int32_t v) { return vdupq_n_s32(v); }
  static I32 sub_i32(I32 a, I32 b) { return vsubq_s32(a, b); }
  static I32 xor_i32(I32 a, I32 b) { return veorq_s32(a, b); }
  static void widen_u8_block(const uint8_t* p, I32* v) {
    const uint8x16_t b = vld1q_u8(p);
    const uint16x8_t l = vmovl_u8(vget_low_u8(b)), h = vmovl_high_u8(b);
    v[0] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(l)));
    v[1] = vreinterpretq_s32_u32(vmovl_high_u16(l));
    v[2] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(h)));
    v[3] = vreinterpretq_s32_u32(vmovl_high_u16(h));
  }
  static void store_low_bytes_block(uint8_t* p, const I32* v) {
    const int16x8_t s0 = vcombine_s16(vmovn_s32(v[0]), vmovn_s32(v[1]));
    const int16x8_t s1 = vcombine_s16(vmovn_s32(v[2]), vmovn_s32(v[3]));
    vst1q_u8(p, vcombine_u8(vmovn_u16(vreinterpretq_u16_s16(s0)), vmovn_u16(vreinterpretq_u16_s16(s1))));
  }
  static F32 to_f32(I32 v) { return vcvtq_f32_s32(v); }
  static I32 truncate_to_i32(F32 v) { return vcvtq_s32_f32(v); }
};

}  // namespace
}  // namespace pare::rt::kernels::simd
