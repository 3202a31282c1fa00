// The f32 sparse kernel written once over a vector type V (a simd::F32x* struct) and a
// square transpose T of V::kWidth x V::kWidth floats, the one operation each ISA file
// supplies: T::block(src, src_stride, dst, dst_stride) sets dst[c * dst_stride + r] =
// src[r * src_stride + c]. A tile is 4 vectors of pixels: X's rows are transposed into
// scratch, each output channel (or block of 4) accumulates over its entries with four
// independent chains per channel, and the [N, pixels] result is transposed into Y's rows.
// Only included by the ISA files (compiled with their own flags).
#pragma once

#include <cstddef>

#include "runtime/kernels/spmm/spmm.h"

#define PARE_SPMM_UNROLL _Pragma("GCC unroll 16")

namespace pare::rt::kernels::spmm_impl {

// A block of rows x cols (each at most V::kWidth) at the edges of a transpose: through T on
// a copy padded with zeros, partial loads and stores at each end.
template <class V, class T>
inline void transpose_edge(const float* src, size_t src_stride, size_t rows, size_t cols, float* dst,
                           size_t dst_stride) {
  constexpr size_t kW = V::kWidth;
  alignas(64) float in[kW * kW], out[kW * kW];
  for (size_t r = 0; r < kW; ++r)
    V::store(in + r * kW, r >= rows    ? V::zero()
                          : cols == kW ? V::load(src + r * src_stride)
                                       : V::load_partial(src + r * src_stride, V::first_lanes(static_cast<int64_t>(cols))));
  T::block(in, kW, out, kW);
  for (size_t c = 0; c < cols; ++c) {
    if (rows == kW)
      V::store(dst + c * dst_stride, V::load(out + c * kW));
    else
      V::store_first(dst + c * dst_stride, rows, V::load(out + c * kW));
  }
}

// dst[c * dst_stride + r] = src[r * src_stride + c] for r < rows, c < cols, in blocks of
// V::kWidth x V::kWidth.
template <class V, class T>
inline void transpose(const float* src, size_t src_stride, size_t rows, size_t cols, float* dst,
                      size_t dst_stride) {
  constexpr size_t kW = V::kWidth;
  for (size_t r = 0; r < rows; r += kW) {
    const size_t nr = rows - r < kW ? rows - r : kW;
    for (size_t c = 0; c < cols; c += kW) {
      const size_t nc = cols - c < kW ? cols - c : kW;
      if (nr == kW && nc == kW)
        T::block(src + r * src_stride + c, src_stride, dst + c * dst_stride + r, dst_stride);
      else
        transpose_edge<V, T>(src + r * src_stride + c, src_stride, nr, nc, dst + c * dst_stride + r, dst_stride);
    }
  }
}

// Output channels [j, j + R) of the tile: acc[r][t] over the vectors t in [T0, T0 + TN).
template <class V, size_t R, size_t T0, size_t TN>
inline void block(const F32SpmmPacked& w, size_t b, const float* xt, float* yt, size_t tile,
                  typename V::R lo, typename V::R hi) {
  constexpr size_t kW = V::kWidth;
  using Reg = typename V::R;
  Reg acc[R][TN];
  PARE_SPMM_UNROLL
  for (size_t r = 0; r < R; ++r) {
    const Reg bias = V::set1(w.bias[b * R + r]);
    PARE_SPMM_UNROLL
    for (size_t t = 0; t < TN; ++t) acc[r][t] = bias;
  }
  const uint32_t* offset = w.offsets.data();
  const float* value = w.values.data();
  for (uint32_t e = w.block_starts[b], end = w.block_starts[b + 1]; e < end; ++e) {
    const float* x = xt + offset[e] + T0 * kW;
    Reg xv[TN];
    PARE_SPMM_UNROLL
    for (size_t t = 0; t < TN; ++t) xv[t] = V::load(x + t * kW);
    PARE_SPMM_UNROLL
    for (size_t r = 0; r < R; ++r) {
      const Reg wv = V::broadcast(value + e * R + r);
      PARE_SPMM_UNROLL
      for (size_t t = 0; t < TN; ++t) acc[r][t] = V::fmadd(wv, xv[t], acc[r][t]);
    }
  }
  // The limit goes first, so NaN passes the clamp on every ISA (see gemm/microkernel_impl.h).
  PARE_SPMM_UNROLL
  for (size_t r = 0; r < R; ++r) PARE_SPMM_UNROLL
  for (size_t t = 0; t < TN; ++t)
    V::store(yt + (b * R + r) * tile + (T0 + t) * kW, V::min_native(hi, V::max_native(lo, acc[r][t])));
}

template <class V, class T>
void kernel(const F32SpmmArgs& a, size_t m0, size_t rows, float* scratch) {
  constexpr size_t kTile = 4 * V::kWidth;
  const F32SpmmPacked& w = *a.w;
  float* xt = scratch;              // [k, kTile]
  float* yt = scratch + w.k * kTile;  // [n, kTile]
  transpose<V, T>(a.x + m0 * a.x_stride, a.x_stride, rows, w.k, xt, kTile);
  const typename V::R lo = V::set1(a.min), hi = V::set1(a.max);
  if (w.block_rows == 4) {
    // 4 channels x 2 vectors = 8 chains per pass, which leaves AVX2 registers for the loads.
    for (size_t b = 0; b < w.n / 4; ++b) {
      block<V, 4, 0, 2>(w, b, xt, yt, kTile, lo, hi);
      block<V, 4, 2, 2>(w, b, xt, yt, kTile, lo, hi);
    }
  } else {
    for (size_t j = 0; j < w.n; ++j) block<V, 1, 0, 4>(w, j, xt, yt, kTile, lo, hi);
  }
  transpose<V, T>(yt, kTile, w.n, rows, a.y + m0 * a.y_stride, a.y_stride);
}

}  // namespace pare::rt::kernels::spmm_impl
