// f32 LUT GEMM, NEON (AArch64): tiles of 4 rows x 2 output channels, 16 input channels per
// step. The channel's 16 floats are 64 table bytes (4 q registers): each index becomes the
// byte offsets 4i .. 4i+3 and tbl (vqtbl4q_u8) gathers 4 floats per register.
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "runtime/kernels/lutgemm/lutgemm.h"
#include "runtime/kernels/lutgemm/tile_macros.h"

namespace pare::rt::kernels {

namespace {

constexpr size_t kMR = 4, kNR = 2, kHalf = 8;

// The floats of 8 indices (bytes of `ids`, each < 16) from the 64-byte table.
inline void lookup8(uint8x8_t ids, const uint8x16x4_t& table, float32x4_t* out) {
  const uint8x8_t times4 = vshl_n_u8(ids, 2);
  const uint8x16_t twice = vzip1q_u8(vcombine_u8(times4, times4), vcombine_u8(times4, times4));
  const uint8x16_t bytes_offsets = vreinterpretq_u8_u32(vdupq_n_u32(0x03020100));
  const uint8x16_t lo = vaddq_u8(vzip1q_u8(twice, twice), bytes_offsets);
  const uint8x16_t hi = vaddq_u8(vzip2q_u8(twice, twice), bytes_offsets);
  out[0] = vreinterpretq_f32_u8(vqtbl4q_u8(table, lo));
  out[1] = vreinterpretq_f32_u8(vqtbl4q_u8(table, hi));
}

PARE_LUT_NO_MEMSET void tile(const F32LutArgs& args, size_t i0, size_t rows, size_t j0, size_t cols) {
  const F32LutPacked& w = *args.w;
  const size_t k = w.w.k;
  const float* x[kMR];
  const uint8_t* idx[kNR];
  uint8x16x4_t table[kNR];
  float32x4_t acc[kMR][kNR];
  PARE_LUT_UNROLL
  for (size_t r = 0; r < kMR; ++r) x[r] = args.x + (i0 + std::min(r, rows - 1)) * args.x_stride;
  PARE_LUT_UNROLL
  for (size_t c = 0; c < kNR; ++c) {
    const size_t j = j0 + std::min(c, cols - 1);
    idx[c] = w.w.row(j);
    table[c] = vld1q_u8_x4(reinterpret_cast<const uint8_t*>(w.tables.data() + j * kLutEntries));
    PARE_LUT_UNROLL
    for (size_t r = 0; r < kMR; ++r) acc[r][c] = vdupq_n_f32(0.f);
  }
  const uint32x4_t lane = {0, 1, 2, 3};
  for (size_t g = 0; g < w.w.groups; ++g) {
    const size_t q = g * 2 * kHalf, left = k - q;
    const bool full = left >= 2 * kHalf;
    // wv[c][v]: weights of input channels q + 4v .. q + 4v + 3 (v 0-1 low nibbles, 2-3 high).
    float32x4_t wv[kNR][4];
    PARE_LUT_UNROLL
    for (size_t c = 0; c < kNR; ++c) {
      const uint8x8_t v = vld1_u8(idx[c] + g * kHalf);
      lookup8(vand_u8(v, vdup_n_u8(15)), table[c], wv[c]);
      lookup8(vshr_n_u8(v, 4), table[c], wv[c] + 2);
      if (!full)  // past k the weights are zeros (a table entry may be inf), as the activations
        PARE_LUT_UNROLL
        for (size_t u = 0; u < 4; ++u) {
          const uint32x4_t keep = vcltq_u32(vaddq_u32(lane, vdupq_n_u32(static_cast<uint32_t>(4 * u))),
                                            vdupq_n_u32(static_cast<uint32_t>(left)));
          wv[c][u] = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(wv[c][u]), keep));
        }
    }
    PARE_LUT_UNROLL
    for (size_t r = 0; r < kMR; ++r) {
      float tail[2 * kHalf] = {};
      const float* src = x[r] + q;
      if (!full) {
        std::copy(src, src + left, tail);
        src = tail;
      }
      PARE_LUT_UNROLL
      for (size_t u = 0; u < 4; ++u) {
        const float32x4_t xv = vld1q_f32(src + 4 * u);
        PARE_LUT_UNROLL
        for (size_t c = 0; c < kNR; ++c) acc[r][c] = vfmaq_f32(acc[r][c], xv, wv[c][u]);
      }
    }
  }
  // Reduced with constant indices, so the accumulators stay in registers.
  float sums[kMR][kNR];
  PARE_LUT_UNROLL
  for (size_t r = 0; r < kMR; ++r)
    PARE_LUT_UNROLL
    for (size_t c = 0; c < kNR; ++c) sums[r][c] = vaddvq_f32(acc[r][c]);
  f32_lut_store_tile(args, sums, i0, rows, j0, cols);
}

}  // namespace

void f32_lutgemm_4x2__neon(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1) {
  f32_lut_tiles<kMR, kNR>(args, m0, m1, n0, n1, tile);
}

}  // namespace pare::rt::kernels
