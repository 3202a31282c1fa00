// The requantization epilogue of the AArch64 microkernels (arm_neon.cc, arm_neondot.cc):
// 8 int32 accumulators of one row to 8 output bytes, exactly as requantize() in requant.h.
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pare::rt::kernels::qgemm_neon {
// Internal linkage: the two files are built for different -march, and a merged inline copy
// from the dotprod file must not run on a CPU without it.
namespace {

struct Epilogue {
  int32x4_t mult[2];
  int64x2_t neg_shift[4];  // -shift of columns 0-1, 2-3, 4-5, 6-7
  int32x4_t zp, lo, hi;

  Epilogue(const int32_t* multipliers, const int32_t* shifts, int32_t c_zero_point, int32_t lo_, int32_t hi_) {
    for (int h = 0; h < 2; ++h) {
      mult[h] = vld1q_s32(multipliers + 4 * h);
      const int32x4_t s = vld1q_s32(shifts + 4 * h);
      neg_shift[2 * h] = vnegq_s64(vmovl_s32(vget_low_s32(s)));
      neg_shift[2 * h + 1] = vnegq_s64(vmovl_high_s32(s));
    }
    zp = vdupq_n_s32(c_zero_point);
    lo = vdupq_n_s32(lo_);
    hi = vdupq_n_s32(hi_);
  }

  // srshl by -shift adds 2^(shift-1) and shifts right arithmetically: the rounding of
  // requant_scale (ties toward +infinity); |acc * multiplier| < 2^62, so nothing overflows.
  // Saturating to int32 before adding the zero point and clamping keeps every result,
  // since [lo, hi] lies far inside the int32 range.
  int32x4_t apply4(int32x4_t acc, int h) const {
    const int64x2_t p0 = vrshlq_s64(vmull_s32(vget_low_s32(acc), vget_low_s32(mult[h])), neg_shift[2 * h]);
    const int64x2_t p1 = vrshlq_s64(vmull_high_s32(acc, mult[h]), neg_shift[2 * h + 1]);
    const int32x4_t v = vqaddq_s32(vcombine_s32(vqmovn_s64(p0), vqmovn_s64(p1)), zp);
    return vminq_s32(vmaxq_s32(v, lo), hi);
  }

  // Columns [0, nc) of one row: the low byte of each clamped value.
  void store(int32x4_t acc0, int32x4_t acc1, size_t nc, uint8_t* c) const {
    const int16x8_t v16 = vcombine_s16(vmovn_s32(apply4(acc0, 0)), vmovn_s32(apply4(acc1, 1)));
    const uint8x8_t bytes = vreinterpret_u8_s8(vmovn_s16(v16));
    if (nc >= 8) {
      vst1_u8(c, bytes);
    } else {
      uint8_t tmp[8];
      vst1_u8(tmp, bytes);
      std::memcpy(c, tmp, nc);
    }
  }
};

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t x;
  std::memcpy(&x, p, sizeof(x));
  return x;
}

// The last n < 4 bytes of a row, zero-extended (never read past the row).
inline uint32_t load_tail(const uint8_t* p, size_t n) {
  uint32_t x = 0;
  std::memcpy(&x, p, n);
  return x;
}

}  // namespace
}  // namespace pare::rt::kernels::qgemm_neon
