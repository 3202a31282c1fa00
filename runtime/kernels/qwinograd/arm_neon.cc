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
#include "runtime/kernels/simd/arm_neon_int8.h"
#include "runtime/kernels/winograd/winograd.h"

namespace pare::rt::kernels {

namespace {

using V = simd::NeonInt8;

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
  const int64_t cin = g.in_channels;
  const auto cin_pad = static_cast<int64_t>(q8_winograd_cin_pad(cin));
  const uint8x8_t mask = vdup_n_u8(flip ? 0x80 : 0);
  const int16x8_t zp = vdupq_n_s16(static_cast<int16_t>(zero_point));
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    const uint8_t* window[4][4];
    winograd_detail::tile_window(g, x, t, window);
    int16_t* out = v + (t - tile_begin) * cin_pad;
    for (int64_t c = 0; c < cin; c += 8) {
      const int64_t count = std::min<int64_t>(8, cin - c);
      int16x8_t d[16];
      for (int k = 0; k < 16; ++k) {  // pixel (k / 4, k % 4)
        const uint8_t* pixel = window[k / 4][k % 4];
        if (!pixel) {
          d[k] = vdupq_n_s16(0);
          continue;
        }
        uint8x8_t bytes;
        if (count == 8) {
          bytes = vld1_u8(pixel + c);
        } else {  // the last channels: never read past the pixel (its lanes past Cin meet zero weights)
          uint8_t tail[8] = {};
          std::memcpy(tail, pixel + c, static_cast<size_t>(count));
          bytes = vld1_u8(tail);
        }
        d[k] = vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(veor_u8(bytes, mask))), zp);
      }
      // B^T d B as in the reference, rows first; |values| <= 4 * 255 fit int16.
      int16x8_t r[16];
      for (int j = 0; j < 4; ++j) {
        r[0 + j] = vsubq_s16(d[0 + j], d[8 + j]);
        r[4 + j] = vaddq_s16(d[4 + j], d[8 + j]);
        r[8 + j] = vsubq_s16(d[8 + j], d[4 + j]);
        r[12 + j] = vsubq_s16(d[4 + j], d[12 + j]);
      }
      for (int i = 0; i < 4; ++i) {
        const int16x8_t* ri = r + 4 * i;
        vst1q_s16(out + (i * 4 + 0) * matrix_stride + c, vsubq_s16(ri[0], ri[2]));
        vst1q_s16(out + (i * 4 + 1) * matrix_stride + c, vaddq_s16(ri[1], ri[2]));
        vst1q_s16(out + (i * 4 + 2) * matrix_stride + c, vsubq_s16(ri[2], ri[1]));
        vst1q_s16(out + (i * 4 + 3) * matrix_stride + c, vsubq_s16(ri[1], ri[3]));
      }
    }
  }
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
  const int64_t cout = g.out_channels, out_h = g.out_size[1], out_w = g.out_size[2];
  const auto cout_pad = static_cast<int64_t>(q8_winograd_cout_pad(cout));
  for (int64_t c = 0; c < cout; c += 8) {
    const auto cols = static_cast<size_t>(std::min<int64_t>(8, cout - c));
    const V::Requantizer<8> rq(multipliers + c, shifts + c, y_zero_point, lo, hi);
    const V::I32x8 b = V::load_i32<8>(bias + c);
    for (int64_t t = tile_begin; t < tile_end; ++t) {
      int64_t n, oh, ow;
      winograd_detail::tile_origin(g, t, &n, &oh, &ow);
      const int32_t* in = m + (t - tile_begin) * cout_pad + c;
      int32x4_t acc[4][2];  // output pixel (i, j) = 2i + j: channels c .. c + 3, c + 4 .. c + 7
      for (int h = 0; h < 2; ++h) {  // channels c + 4h .. c + 4h + 3
        int32x4_t s[16];
        for (int e = 0; e < 16; ++e) s[e] = vld1q_s32(in + e * matrix_stride + 4 * h);
        int32x4_t r[2][4];
        for (int j = 0; j < 4; ++j) {
          r[0][j] = vaddq_s32(vaddq_s32(s[j], s[4 + j]), s[8 + j]);
          r[1][j] = vsubq_s32(vsubq_s32(s[4 + j], s[8 + j]), s[12 + j]);
        }
        for (int i = 0; i < 2; ++i) {
          const int32x4_t four_conv[2] = {vaddq_s32(vaddq_s32(r[i][0], r[i][1]), r[i][2]),
                                          vsubq_s32(vsubq_s32(r[i][1], r[i][2]), r[i][3])};
          for (int j = 0; j < 2; ++j)  // exact: a multiple of 4
            acc[i * 2 + j][h] = vaddq_s32(vshrq_n_s32(four_conv[j], 2), b.v[h]);
        }
      }
      for (int i = 0; i < 2 && oh + i < out_h; ++i)
        for (int j = 0; j < 2 && ow + j < out_w; ++j) {
          const V::I32x8 pixel = {{acc[i * 2 + j][0], acc[i * 2 + j][1]}};
          uint8_t* out = y + ((n * out_h + oh + i) * out_w + ow + j) * cout + c;
          if (cols == 8)
            V::store_low_bytes(out, rq.apply(pixel));
          else
            V::store_low_bytes_partial(out, rq.apply(pixel), cols);
        }
    }
  }
}

}  // namespace pare::rt::kernels
