// The f32 sparse kernel written once over a vector type V (a simd::F32x* struct) and a
// square transpose T of V::kWidth x V::kWidth floats, the one operation each ISA file
// supplies: T::block(src, src_stride, dst, dst_stride) sets dst[c * dst_stride + r] =
// src[r * src_stride + c]. A call covers one tile of 4 vectors of pixels, or two (8
// vectors) when w.tiles_per_call says so, and runs only as many vectors as it has rows:
// X's rows are transposed into scratch, the output channels are computed in groups of
// V::kWidth into a small buffer that stays in L1, and each group is transposed into Y's rows
// as soon as it is done (in chunks of input channels, after the last chunk). Unstructured
// weights run two channels at once up to 4 vectors and one channel over more (8
// independent FMA chains either way, enough to hide the FMA latency); blocks of 4 channels
// run 4 channels x 2 vectors. Only included by the ISA files (compiled with their own flags).
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

// Where a channel's sums start: the bias on the first chunk of input channels, what the
// previous chunk stored otherwise.
template <class V, size_t TN>
PARE_SIMD_INLINE void start_sums(float bias, const float* partial, typename V::R* acc) {
  PARE_SPMM_UNROLL
  for (size_t t = 0; t < TN; ++t) acc[t] = partial ? V::load(partial + t * V::kWidth) : V::set1(bias);
}

// The sums of one channel into its row: clamped after the last chunk, as they are before.
// The limit goes first, so NaN passes the clamp on every ISA (see gemm/microkernel_impl.h).
template <class V, size_t TN>
PARE_SIMD_INLINE void store_sums(const typename V::R* acc, bool last, float* y, typename V::R lo,
                                 typename V::R hi) {
  PARE_SPMM_UNROLL
  for (size_t t = 0; t < TN; ++t)
    V::store(y + t * V::kWidth, last ? V::min_native(hi, V::max_native(lo, acc[t])) : acc[t]);
}

// Pixel vector t (< 8) of the row x of the transposed tile: vectors 4 and up are in the
// second tile's transpose, `second` floats further on.
template <class V>
PARE_SIMD_INLINE typename V::R pixels(const float* x, size_t t, size_t second) {
  return V::load(x + (t / 4) * second + (t % 4) * V::kWidth);
}

// acc[t] += value[e] * x(offset[e])[t] for the entries [e, end) of one channel, in order.
template <class V, size_t TN>
PARE_SIMD_INLINE void accumulate(const uint32_t* offset, const float* value, size_t e, size_t end,
                                 const float* xt, size_t second, typename V::R* acc) {
  for (; e < end; ++e) {
    const typename V::R wv = V::broadcast(value + e);
    const float* x = xt + offset[e];
    PARE_SPMM_UNROLL
    for (size_t t = 0; t < TN; ++t) acc[t] = V::fmadd(wv, pixels<V>(x, t, second), acc[t]);
  }
}

// One chunk of the entries of each block: block b's are [starts[b], starts[b + 1]).
// `first`: the sums start from the bias; `last`: they are final (clamped).
struct Chunk {
  const uint32_t* starts;
  bool first, last;
};

// Unstructured channels j and j + 1 over TN <= 4 vectors of pixels: both channels step
// through their common number of entries together (twice the independent chains of one
// channel), then each finishes its own; every channel still sums its entries in order.
template <class V, size_t TN>
PARE_SIMD_INLINE void channel_pair(const F32SpmmPacked& w, const Chunk& c, size_t j, const float* xt, float* y0,
                                   float* y1, typename V::R lo, typename V::R hi) {
  using Reg = typename V::R;
  Reg a0[TN], a1[TN];
  start_sums<V, TN>(w.bias[j], c.first ? nullptr : y0, a0);
  start_sums<V, TN>(w.bias[j + 1], c.first ? nullptr : y1, a1);
  const uint32_t* offset = w.offsets.data();
  const float* value = w.values.data();
  const size_t s0 = c.starts[j], e0 = c.starts[j + 1], s1 = e0, e1 = c.starts[j + 2];
  const size_t common = e0 - s0 < e1 - s1 ? e0 - s0 : e1 - s1;
  const uint32_t *o0 = offset + s0, *o1 = offset + s1;
  const float *v0 = value + s0, *v1 = value + s1;
  for (size_t e = 0; e < common; ++e) {
    const Reg w0 = V::broadcast(v0 + e), w1 = V::broadcast(v1 + e);
    const float *x0 = xt + o0[e], *x1 = xt + o1[e];
    PARE_SPMM_UNROLL
    for (size_t t = 0; t < TN; ++t) {
      a0[t] = V::fmadd(w0, V::load(x0 + t * V::kWidth), a0[t]);
      a1[t] = V::fmadd(w1, V::load(x1 + t * V::kWidth), a1[t]);
    }
  }
  accumulate<V, TN>(offset, value, s0 + common, e0, xt, 0, a0);
  accumulate<V, TN>(offset, value, s1 + common, e1, xt, 0, a1);
  store_sums<V, TN>(a0, c.last, y0, lo, hi);
  store_sums<V, TN>(a1, c.last, y1, lo, hi);
}

// One unstructured channel over TN vectors of pixels (up to 8, from two tiles).
template <class V, size_t TN>
PARE_SIMD_INLINE void channel(const F32SpmmPacked& w, const Chunk& c, size_t j, const float* xt, size_t second,
                              float* y, typename V::R lo, typename V::R hi) {
  typename V::R acc[TN];
  start_sums<V, TN>(w.bias[j], c.first ? nullptr : y, acc);
  accumulate<V, TN>(w.offsets.data(), w.values.data(), c.starts[j], c.starts[j + 1], xt, second, acc);
  store_sums<V, TN>(acc, c.last, y, lo, hi);
}

// Block b of 4 output channels: acc[r][t] over the vectors t in [T0, T0 + TN); y: the
// block's first row, rows `row` apart.
template <class V, size_t T0, size_t TN>
inline void block4(const F32SpmmPacked& w, const Chunk& c, size_t b, const float* xt, size_t second, float* y,
                   size_t row, typename V::R lo, typename V::R hi) {
  constexpr size_t kW = V::kWidth;
  using Reg = typename V::R;
  Reg acc[4][TN];
  PARE_SPMM_UNROLL
  for (size_t r = 0; r < 4; ++r)
    start_sums<V, TN>(w.bias[b * 4 + r], c.first ? nullptr : y + r * row + T0 * kW, acc[r]);
  const uint32_t* offset = w.offsets.data();
  const float* value = w.values.data();
  for (uint32_t e = c.starts[b], end = c.starts[b + 1]; e < end; ++e) {
    const float* x = xt + offset[e];
    Reg xv[TN];
    PARE_SPMM_UNROLL
    for (size_t t = 0; t < TN; ++t) xv[t] = pixels<V>(x, T0 + t, second);
    PARE_SPMM_UNROLL
    for (size_t r = 0; r < 4; ++r) {
      const Reg wv = V::broadcast(value + e * 4 + r);
      PARE_SPMM_UNROLL
      for (size_t t = 0; t < TN; ++t) acc[r][t] = V::fmadd(wv, xv[t], acc[r][t]);
    }
  }
  PARE_SPMM_UNROLL
  for (size_t r = 0; r < 4; ++r) store_sums<V, TN>(acc[r], c.last, y + r * row + T0 * kW, lo, hi);
}

// Output channels [g, g + channels) of one chunk over NV vectors of pixels, into rows
// `row` apart from y.
template <class V, size_t NV>
void channels(const F32SpmmPacked& w, const Chunk& c, size_t g, size_t channels, const float* xt, size_t second,
              float* y, size_t row, typename V::R lo, typename V::R hi) {
  if (w.block_rows == 4) {
    // 4 channels x 2 vectors = 8 chains per pass, which leaves AVX2 registers for the loads.
    for (size_t b = g / 4; b < (g + channels) / 4; ++b) {
      float* yb = y + (b * 4 - g) * row;
      block4<V, 0, (NV < 2 ? NV : 2)>(w, c, b, xt, second, yb, row, lo, hi);
      if constexpr (NV > 2) block4<V, 2, (NV < 4 ? NV - 2 : 2)>(w, c, b, xt, second, yb, row, lo, hi);
      if constexpr (NV > 4) block4<V, 4, (NV < 6 ? NV - 4 : 2)>(w, c, b, xt, second, yb, row, lo, hi);
      if constexpr (NV > 6) block4<V, 6, NV - 6>(w, c, b, xt, second, yb, row, lo, hi);
    }
    return;
  }
  size_t j = g;
  if constexpr (NV <= 4) {
    for (; j + 2 <= g + channels; j += 2)
      channel_pair<V, NV>(w, c, j, xt, y + (j - g) * row, y + (j + 1 - g) * row, lo, hi);
  }
  // Past 4 vectors one channel alone has enough chains.
  for (; j < g + channels; ++j) channel<V, NV>(w, c, j, xt, second, y + (j - g) * row, lo, hi);
}

// rows <= NV * kWidth pixels, NV vectors wide: up to two tiles (w.tiles_per_call), each
// transposed into its own [k, tile] block of xt. Unchunked, the output channels go in
// groups of kWidth through a [kWidth, NV vectors] buffer, each group transposed into Y as
// soon as it is done. Chunked (w.chunks > 1, one tile per call), each chunk of input
// channels is transposed just before its entries run, so the loads hit L1, and the
// partial sums of all channels wait in a [n, tile] buffer for the next chunk.
template <class V, class T, size_t NV>
void tile(const F32SpmmArgs& a, size_t m0, size_t rows, float* xt, float* yt) {
  constexpr size_t kW = V::kWidth, kTile = 4 * kW, kRow = NV * kW;
  const F32SpmmPacked& w = *a.w;
  const float* x = a.x + m0 * a.x_stride;
  float* y = a.y + m0 * a.y_stride;
  const typename V::R lo = V::set1(a.min), hi = V::set1(a.max);
  if (w.chunks <= 1) {
    const size_t second = w.k * kTile;
    transpose<V, T>(x, a.x_stride, rows < kTile ? rows : kTile, w.k, xt, kTile);
    if (rows > kTile) transpose<V, T>(x + kTile * a.x_stride, a.x_stride, rows - kTile, w.k, xt + second, kTile);
    const Chunk all{w.block_starts.data(), true, true};
    for (size_t g = 0; g < w.n; g += kW) {
      const size_t group = w.n - g < kW ? w.n - g : kW;
      channels<V, NV>(w, all, g, group, xt, second, yt, kRow, lo, hi);
      transpose<V, T>(yt, kRow, group, rows, y + g, a.y_stride);
    }
    return;
  }
  if constexpr (NV <= 4) {
    const size_t blocks = w.n / w.block_rows;
    for (size_t c = 0; c < w.chunks; ++c) {
      const size_t k0 = c * w.chunk_channels, k1 = k0 + w.chunk_channels < w.k ? k0 + w.chunk_channels : w.k;
      transpose<V, T>(x + k0, a.x_stride, rows, k1 - k0, xt + k0 * kTile, kTile);
      const Chunk chunk{w.block_starts.data() + c * blocks, c == 0, c + 1 == w.chunks};
      channels<V, NV>(w, chunk, 0, w.n, xt, 0, yt, kTile, lo, hi);
    }
    transpose<V, T>(yt, kTile, w.n, rows, y, a.y_stride);
  }
}

template <class V, class T>
void kernel(const F32SpmmArgs& a, size_t m0, size_t rows, float* scratch) {
  constexpr size_t kW = V::kWidth;
  float* xt = scratch;                                         // [tiles_per_call * k, tile]
  float* yt = scratch + a.w->tiles_per_call * a.w->k * 4 * kW;  // [kW, tiles_per_call * tile] or [n, tile]
  switch ((rows + kW - 1) / kW) {
    case 1: return tile<V, T, 1>(a, m0, rows, xt, yt);
    case 2: return tile<V, T, 2>(a, m0, rows, xt, yt);
    case 3: return tile<V, T, 3>(a, m0, rows, xt, yt);
    case 4: return tile<V, T, 4>(a, m0, rows, xt, yt);
    case 5: return tile<V, T, 5>(a, m0, rows, xt, yt);
    case 6: return tile<V, T, 6>(a, m0, rows, xt, yt);
    case 7: return tile<V, T, 7>(a, m0, rows, xt, yt);
    default: return tile<V, T, 8>(a, m0, rows, xt, yt);
  }
}

}  // namespace pare::rt::kernels::spmm_impl
