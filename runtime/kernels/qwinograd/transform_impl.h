// Int8 Winograd F(2x2, 3x3) input and output transforms over one ISA's integer vectors,
// written once for every vector variant. The ISA file supplies a struct T:
//
//   input:  R (int16 lanes), kInputLanes, zero(), add(), sub(), store(int16_t*, R), and
//           Widen{flip, zero_point}(pixel, count): the first `count` bytes of pixel (never
//           more are read), each XOR flip and minus the zero point, as int16 lanes.
//   output: I32 (kOutputLanes int32 lanes), load32(), add32(), sub32(), quarter32() (an
//           arithmetic shift by 2), Requantizer{multipliers, shifts, zp, lo, hi}.apply(I32),
//           store_bytes(uint8_t*, I32, count): the low bytes of the first `count` lanes.
//
// The arithmetic is reference.cc's; int16 values stay within 4 * 255 and int32 sums may
// wrap (see qwinograd.h), so the order of the additions does not change any result.
// Included only by the per-ISA .cc files.
#pragma once

#include <algorithm>
#include <cstdint>

#include "runtime/kernels/qwinograd/qwinograd.h"
#include "runtime/kernels/winograd/transform_impl.h"
#include "runtime/kernels/winograd/winograd.h"

namespace pare::rt::kernels::qwinograd_impl {

template <typename T>
void input(const ConvGeometry& g, const uint8_t* x, bool flip, int32_t zero_point, int64_t tile_begin,
           int64_t tile_end, int16_t* v, int64_t matrix_stride) {
  using R = typename T::R;
  constexpr int64_t W = T::kInputLanes;
  const int64_t cin = g.in_channels;
  const auto cin_pad = static_cast<int64_t>(q8_winograd_cin_pad(cin));
  const typename T::Widen widen(flip, zero_point);
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    const uint8_t* window[4][4];
    winograd_detail::tile_window(g, x, t, window);
    int16_t* out = v + (t - tile_begin) * cin_pad;
    for (int64_t c = 0; c < cin; c += W) {
      // The last channels read only up to Cin; their lanes past it meet zero weights.
      const int64_t count = std::min(W, cin - c);
      R d[4][4];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) d[i][j] = window[i][j] ? widen(window[i][j] + c, count) : T::zero();
      winograd_impl::input_tile<T>(d, [&](int e, R value) { T::store(out + e * matrix_stride + c, value); });
    }
  }
}

template <typename T>
void output(const ConvGeometry& g, const int32_t* m, int64_t matrix_stride, const int32_t* bias,
            const int32_t* multipliers, const int32_t* shifts, int32_t y_zero_point, int32_t lo, int32_t hi,
            int64_t tile_begin, int64_t tile_end, uint8_t* y) {
  using I32 = typename T::I32;
  constexpr int64_t W = T::kOutputLanes;
  const int64_t cout = g.out_channels, out_h = g.out_size[1], out_w = g.out_size[2];
  const auto cout_pad = static_cast<int64_t>(q8_winograd_cout_pad(cout));
  for (int64_t c = 0; c < cout; c += W) {  // bias, multipliers, shifts: cout_pad entries
    const auto cols = static_cast<size_t>(std::min(W, cout - c));
    const typename T::Requantizer rq(multipliers + c, shifts + c, y_zero_point, lo, hi);
    const I32 b = T::load32(bias + c);
    for (int64_t t = tile_begin; t < tile_end; ++t) {
      int64_t n, oh, ow;
      winograd_detail::tile_origin(g, t, &n, &oh, &ow);
      const int32_t* in = m + (t - tile_begin) * cout_pad + c;
      // A^T s A, one column of s at a time (fewer live registers), rows first.
      I32 r[2][4];
      for (int j = 0; j < 4; ++j) {
        const I32 s0 = T::load32(in + j * matrix_stride), s1 = T::load32(in + (4 + j) * matrix_stride);
        const I32 s2 = T::load32(in + (8 + j) * matrix_stride), s3 = T::load32(in + (12 + j) * matrix_stride);
        r[0][j] = T::add32(T::add32(s0, s1), s2);
        r[1][j] = T::sub32(T::sub32(s1, s2), s3);
      }
      for (int i = 0; i < 2 && oh + i < out_h; ++i) {
        const I32 four_conv[2] = {T::add32(T::add32(r[i][0], r[i][1]), r[i][2]),
                                  T::sub32(T::sub32(r[i][1], r[i][2]), r[i][3])};
        for (int j = 0; j < 2 && ow + j < out_w; ++j) {
          const I32 acc = T::add32(T::quarter32(four_conv[j]), b);  // exact: a multiple of 4
          T::store_bytes(y + ((n * out_h + oh + i) * out_w + ow + j) * cout + c, rq.apply(acc), cols);
        }
      }
    }
  }
}

}  // namespace pare::rt::kernels::qwinograd_impl
