// Winograd F(2x2, 3x3) and F(4x4, 3x3) input and output transforms over a vector type V (a simd::F32x*
// struct, see simd/x86_avx2.h): one vector of channels at a time, every lane doing the
// reference's additions in the reference's order, so that the results are bit-identical to
// reference.cc's. The last partial vector of channels goes through masked loads and stores.
// Included only by the per-ISA .cc files.
#pragma once

#include <cstdint>

#include "runtime/kernels/winograd/winograd.h"

namespace pare::rt::kernels::winograd_impl {

// B^T d B for one vector of channels: d[i][j] is the window's pixel (i, j) (zero outside the
// image); element e goes to out[e * stride].
template <typename V, typename Store>
inline void input_tile(const typename V::R (&d)[4][4], Store store) {
  using R = typename V::R;
  R r[4][4];
  for (int j = 0; j < 4; ++j) {
    r[0][j] = V::sub(d[0][j], d[2][j]);
    r[1][j] = V::add(d[1][j], d[2][j]);
    r[2][j] = V::sub(d[2][j], d[1][j]);
    r[3][j] = V::sub(d[1][j], d[3][j]);
  }
  for (int i = 0; i < 4; ++i) {
    store(i * 4 + 0, V::sub(r[i][0], r[i][2]));
    store(i * 4 + 1, V::add(r[i][1], r[i][2]));
    store(i * 4 + 2, V::sub(r[i][2], r[i][1]));
    store(i * 4 + 3, V::sub(r[i][1], r[i][3]));
  }
}

template <typename V>
void input(const ConvGeometry& g, const float* x, int64_t tile_begin, int64_t tile_end, float* v,
           int64_t matrix_stride) {
  using R = typename V::R;
  constexpr int64_t W = V::kWidth;
  const int64_t cin = g.in_channels;
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    const float* px[4][4];
    const bool inside = winograd_detail::tile_window(g, x, t, px);
    float* out = v + (t - tile_begin) * cin;
    R d[4][4];
    int64_t c = 0;
    if (inside) {
      for (; c + W <= cin; c += W) {
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 4; ++j) d[i][j] = V::load(px[i][j] + c);
        input_tile<V>(d, [&](int e, R value) { V::store(out + e * matrix_stride + c, value); });
      }
    } else {
      for (; c + W <= cin; c += W) {
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 4; ++j) d[i][j] = px[i][j] ? V::load(px[i][j] + c) : V::zero();
        input_tile<V>(d, [&](int e, R value) { V::store(out + e * matrix_stride + c, value); });
      }
    }
    if (c < cin) {
      const auto lanes = V::first_lanes(cin - c);
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) d[i][j] = px[i][j] ? V::load_partial(px[i][j] + c, lanes) : V::zero();
      input_tile<V>(d, [&](int e, R value) { V::store_partial(out + e * matrix_stride + c, lanes, value); });
    }
  }
}

template <typename V>
void output(const ConvGeometry& g, const float* m, int64_t matrix_stride, const float* bias, float min,
            float max, int64_t tile_begin, int64_t tile_end, float* y) {
  using R = typename V::R;
  constexpr int64_t W = V::kWidth;
  const int64_t cout = g.out_channels;
  const R lo = V::set1(min), hi = V::set1(max);
  // A^T s A + b, clamped; rows first, as the reference. store(i, j, value) writes pixel (i, j).
  const auto tile = [&](const R (&s)[16], R b, auto store) {
    R r[2][4];
    for (int j = 0; j < 4; ++j) {
      r[0][j] = V::add(V::add(s[j], s[4 + j]), s[8 + j]);
      r[1][j] = V::sub(V::sub(s[4 + j], s[8 + j]), s[12 + j]);
    }
    for (int i = 0; i < 2; ++i) {
      store(i, 0, V::min(hi, V::max(lo, V::add(V::add(V::add(r[i][0], r[i][1]), r[i][2]), b))));
      store(i, 1, V::min(hi, V::max(lo, V::add(V::sub(V::sub(r[i][1], r[i][2]), r[i][3]), b))));
    }
  };
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    float* px[2][2];
    winograd_detail::tile_outputs<2>(g, y, t, px);
    const float* in = m + (t - tile_begin) * cout;
    R s[16];
    int64_t c = 0;
    for (; c + W <= cout; c += W) {
      for (int e = 0; e < 16; ++e) s[e] = V::load(in + e * matrix_stride + c);
      tile(s, bias ? V::load(bias + c) : V::zero(), [&](int i, int j, R value) {
        if (px[i][j]) V::store(px[i][j] + c, value);
      });
    }
    if (c < cout) {
      const auto lanes = V::first_lanes(cout - c);
      for (int e = 0; e < 16; ++e) s[e] = V::load_partial(in + e * matrix_stride + c, lanes);
      tile(s, bias ? V::load_partial(bias + c, lanes) : V::zero(), [&](int i, int j, R value) {
        if (px[i][j]) V::store_partial(px[i][j] + c, lanes, value);
      });
    }
  }
}

// F(4x4, 3x3): B^T d B for one vector of channels of each 6x6 window, columns first, then
// rows, with the reference's one-dimensional steps (winograd_detail::f43_input_1d).
template <typename V>
void input_f43(const ConvGeometry& g, const float* x, int64_t tile_begin, int64_t tile_end, float* v,
               int64_t matrix_stride) {
  using R = typename V::R;
  constexpr int64_t W = V::kWidth;
  const int64_t cin = g.in_channels;
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    const float* px[6][6];
    winograd_detail::tile_window<4>(g, x, t, px);
    float* out = v + (t - tile_begin) * cin;
    R d[6][6];
    int64_t c = 0;
    for (; c + W <= cin; c += W) {
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) d[i][j] = px[i][j] ? V::load(px[i][j] + c) : V::zero();
      winograd_detail::f43_input_tile<V>(d, [&](int e, R value) { V::store(out + e * matrix_stride + c, value); });
    }
    if (c < cin) {
      const auto lanes = V::first_lanes(cin - c);
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) d[i][j] = px[i][j] ? V::load_partial(px[i][j] + c, lanes) : V::zero();
      winograd_detail::f43_input_tile<V>(
          d, [&](int e, R value) { V::store_partial(out + e * matrix_stride + c, lanes, value); });
    }
  }
}

// F(4x4, 3x3): A^T s A + b, clamped, columns first, then rows (winograd_detail::f43_output_1d).
template <typename V>
void output_f43(const ConvGeometry& g, const float* m, int64_t matrix_stride, const float* bias, float min,
                float max, int64_t tile_begin, int64_t tile_end, float* y) {
  using R = typename V::R;
  constexpr int64_t W = V::kWidth;
  const int64_t cout = g.out_channels;
  const R lo = V::set1(min), hi = V::set1(max);
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    float* px[4][4];
    winograd_detail::tile_outputs<4>(g, y, t, px);
    const float* in = m + (t - tile_begin) * cout;
    R s[36];
    int64_t c = 0;
    for (; c + W <= cout; c += W) {
      for (int e = 0; e < 36; ++e) s[e] = V::load(in + e * matrix_stride + c);
      winograd_detail::f43_output_tile<V>(s, bias ? V::load(bias + c) : V::zero(), [&](int i, int j, R value) {
        if (px[i][j]) V::store(px[i][j] + c, V::min(hi, V::max(lo, value)));
      });
    }
    if (c < cout) {
      const auto lanes = V::first_lanes(cout - c);
      for (int e = 0; e < 36; ++e) s[e] = V::load_partial(in + e * matrix_stride + c, lanes);
      winograd_detail::f43_output_tile<V>(s, bias ? V::load_partial(bias + c, lanes) : V::zero(),
                                          [&](int i, int j, R value) {
                                            if (px[i][j]) V::store_partial(px[i][j] + c, lanes, V::min(hi, V::max(lo, value)));
                                          });
    }
  }
}

}  // namespace pare::rt::kernels::winograd_impl
