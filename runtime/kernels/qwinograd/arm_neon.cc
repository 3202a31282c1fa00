// Int8 Winograd F(2x2, 3x3), NEON without dot products: the input transform on 8 int16
// channels per q register, the products as a 4x16 smlal-by-lane microkernel (vld2 splits the
// packed pairs of U_e rows back into rows), the output transform and requantization on 8
// int32 channels. smlal multiplies int16 pairs like the int8 GEMM's own NEON kernel, so the
// 2.25x fewer products are 2.25x fewer multiply instructions. The integer results are the
// reference's exactly.
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "runtime/kernels/qwinograd/qwinograd.h"
#include "runtime/kernels/qwinograd/transform_impl.h"
#include "runtime/kernels/simd/arm_neon_int8.h"

namespace pare::rt::kernels {

namespace {

using V = simd::NeonInt8;

// The transforms' vectors (transform_impl.h): 8 int16 channels in, 8 int32 channels (two q
// registers) out.
struct Lanes {
  using R = int16x8_t;
  static constexpr int64_t kInputLanes = 8;
  static R zero() { return vdupq_n_s16(0); }
  static R add(R a, R b) { return vaddq_s16(a, b); }
  static R sub(R a, R b) { return vsubq_s16(a, b); }
  static void store(int16_t* p, R v) { vst1q_s16(p, v); }
  struct Widen {
    uint8x8_t mask;
    int16x8_t zp;
    Widen(bool flip, int32_t zero_point)
        : mask(vdup_n_u8(flip ? 0x80 : 0)), zp(vdupq_n_s16(static_cast<int16_t>(zero_point))) {}
    R operator()(const uint8_t* pixel, int64_t count) const {
      uint8x8_t bytes;
      if (count == kInputLanes) {
        bytes = vld1_u8(pixel);
      } else {
        uint8_t tail[8] = {};
        std::memcpy(tail, pixel, static_cast<size_t>(count));
        bytes = vld1_u8(tail);
      }
      return vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(veor_u8(bytes, mask))), zp);
    }
  };

  using I32 = V::I32x8;
  static constexpr int64_t kOutputLanes = 8;
  static I32 load32(const int32_t* p) { return V::load_i32<8>(p); }
  static I32 add32(const I32& a, const I32& b) { return {{vaddq_s32(a.v[0], b.v[0]), vaddq_s32(a.v[1], b.v[1])}}; }
  static I32 sub32(const I32& a, const I32& b) { return {{vsubq_s32(a.v[0], b.v[0]), vsubq_s32(a.v[1], b.v[1])}}; }
  static I32 quarter32(const I32& a) { return {{vshrq_n_s32(a.v[0], 2), vshrq_n_s32(a.v[1], 2)}}; }
  using Requantizer = V::Requantizer<8>;
  static void store_bytes(uint8_t* p, const I32& v, size_t count) {
    if (count == kOutputLanes)
      V::store_low_bytes(p, v);
    else
      V::store_low_bytes_partial(p, v, count);
  }
};

// Rows [0, MR) of M for one panel of 16 columns, over `pairs` pairs of channels.
template <size_t MR>
__attribute__((noinline)) void gemm_rows(size_t pairs, const int16_t* v, size_t v_stride, const int16_t* panel,
                                         int32_t* m, size_t m_stride) {
  int32x4_t acc[MR][4];
  for (size_t i = 0; i < MR; ++i)
    for (size_t j = 0; j < 4; ++j) acc[i][j] = vdupq_n_s32(0);
  for (size_t q = 0; q < pairs; ++q) {
    const int16x8x2_t lo = vld2q_s16(panel + 32 * q);       // rows 2q, 2q + 1 of columns 0-7
    const int16x8x2_t hi = vld2q_s16(panel + 32 * q + 16);  // and of columns 8-15
    for (size_t i = 0; i < MR; ++i) {
      int32_t pair;
      std::memcpy(&pair, v + i * v_stride + 2 * q, sizeof(pair));
      const int16x4_t a = vreinterpret_s16_s32(vdup_n_s32(pair));  // lanes: v[2q], v[2q + 1], ...
      acc[i][0] = vmlal_lane_s16(acc[i][0], vget_low_s16(lo.val[0]), a, 0);
      acc[i][1] = vmlal_high_lane_s16(acc[i][1], lo.val[0], a, 0);
      acc[i][2] = vmlal_lane_s16(acc[i][2], vget_low_s16(hi.val[0]), a, 0);
      acc[i][3] = vmlal_high_lane_s16(acc[i][3], hi.val[0], a, 0);
      acc[i][0] = vmlal_lane_s16(acc[i][0], vget_low_s16(lo.val[1]), a, 1);
      acc[i][1] = vmlal_high_lane_s16(acc[i][1], lo.val[1], a, 1);
      acc[i][2] = vmlal_lane_s16(acc[i][2], vget_low_s16(hi.val[1]), a, 1);
      acc[i][3] = vmlal_high_lane_s16(acc[i][3], hi.val[1], a, 1);
    }
  }
  for (size_t i = 0; i < MR; ++i)
    for (size_t j = 0; j < 4; ++j) vst1q_s32(m + i * m_stride + 4 * j, acc[i][j]);
}

template <size_t MR = 1>
void gemm_dispatch(size_t mr, size_t pairs, const int16_t* v, size_t v_stride, const int16_t* panel, int32_t* m,
                   size_t m_stride) {
  if constexpr (MR < 4) {
    if (mr > MR) return gemm_dispatch<MR + 1>(mr, pairs, v, v_stride, panel, m, m_stride);
  }
  gemm_rows<MR>(pairs, v, v_stride, panel, m, m_stride);
}

}  // namespace

void q8_winograd_f23_input_c8__neon(const ConvGeometry& g, const uint8_t* x, bool flip, int32_t zero_point,
                                    int64_t tile_begin, int64_t tile_end, int16_t* v, int64_t matrix_stride) {
  qwinograd_impl::input<Lanes>(g, x, flip, zero_point, tile_begin, tile_end, v, matrix_stride);
}

void q8_winograd_f23_gemm_4x16__neon(size_t rows, size_t cin_pad, size_t cout, const int16_t* v,
                                     const int16_t* packed, int32_t* m) {
  const size_t cout_pad = q8_winograd_cout_pad(static_cast<int64_t>(cout));
  for (size_t p = 0; p < cout_pad / 16; ++p) {
    const int16_t* panel = packed + p * cin_pad * 16;
    for (size_t r0 = 0; r0 < rows; r0 += 4)
      gemm_dispatch(std::min<size_t>(4, rows - r0), cin_pad / 2, v + r0 * cin_pad, cin_pad, panel,
                    m + r0 * cout_pad + p * 16, cout_pad);
  }
}

void q8_winograd_f23_output_c8__neon(const ConvGeometry& g, const int32_t* m, int64_t matrix_stride,
                                    const int32_t* bias, const int32_t* multipliers, const int32_t* shifts,
                                    int32_t y_zero_point, int32_t lo, int32_t hi, int64_t tile_begin,
                                    int64_t tile_end, uint8_t* y) {
  qwinograd_impl::output<Lanes>(g, m, matrix_stride, bias, multipliers, shifts, y_zero_point, lo, hi, tile_begin,
                                tile_end, y);
}

}  // namespace pare::rt::kernels
