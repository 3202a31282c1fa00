// The int8 depthwise convolution written once over an ISA's channel block D; each ISA file
// defines its D on the vectors of runtime/kernels/simd/<isa>_int8.h and instantiates
// qdwconv_fixed<D, K, S, T> and qdwconv_generic<D>.
//
// Each output row and channel block is computed T pixels at a time as in the float kernels,
// every input column of the tile loaded once; pad taps read x_zero_point (the packed bias has
// x_zero_point * sum(w) folded out). The last block of fewer than kBlock channels reads and
// writes only its channels (a lane mask or a small buffer), so no byte outside the tensors is
// touched. The multiply-accumulate is exact (see quant/requant.h), so is every variant.
//
// D provides:
//   kBlock (channels per block), kWeightBytes (2 or 4: packed weight size, see qdwconv.h),
//   kRegisterTaps (kernels of at most that many taps keep all weights in registers),
//   kMaskedTail (the last block runs the full-block code under a lane mask);
//   types Acc (kBlock int32), X (kBlock widened input bytes), W (kBlock weights), Lanes,
//   Requantizer(mult, shift, zero point, lo, hi);
//   Lanes lanes(int64_t n); template <bool kTail> X load_x(const uint8_t*, Lanes);
//   X broadcast_x(int32_t); W load_w(const uint8_t* weights, int64_t tap);
//   void keep_in_register(W&); Acc load_bias(const int32_t*); Acc mac(Acc, X, W);
//   template <bool kTail> void store(const Requantizer&, Acc, Lanes, uint8_t*).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "runtime/kernels/qdwconv/qdwconv.h"

#define PARE_QDW_INLINE inline __attribute__((always_inline))

namespace pare::rt::kernels::qdwconv_vec {

using qdwconv_detail::block_bytes;
using qdwconv_detail::interior_columns;
using qdwconv_detail::valid_taps;

// One channel block of the packed buffer: bias, requantization and the weights.
template <class D>
struct Block {
  typename D::Acc bias;
  typename D::Requantizer rq;
  const uint8_t* weights;

  static const int32_t* header(const void* packed, int64_t block, int64_t taps) {
    return reinterpret_cast<const int32_t*>(static_cast<const uint8_t*>(packed) +
                                            block * block_bytes(D::kBlock, taps, D::kWeightBytes));
  }
  Block(const QDwConvParams& p, const void* packed, int64_t block, int64_t taps)
      : bias(D::load_bias(header(packed, block, taps))),
        rq(header(packed, block, taps) + D::kBlock, header(packed, block, taps) + 2 * D::kBlock, p.y_zero_point,
           p.lo, p.hi),
        weights(reinterpret_cast<const uint8_t*>(header(packed, block, taps) + 3 * D::kBlock)) {}

  PARE_QDW_INLINE typename D::W weight(int64_t tap) const { return D::load_w(weights, tap); }
};

// Small kernels: all K * K weight vectors stay in registers for the whole row.
template <class D, int K>
struct RegisterWeights {
  typename D::W w[K * K];
  explicit RegisterWeights(const Block<D>& b) {
    for (int t = 0; t < K * K; ++t) w[t] = b.weight(t);
  }
  PARE_QDW_INLINE void row(int ky, typename D::W* out) const {
    for (int kx = 0; kx < K; ++kx) out[kx] = w[ky * K + kx];
  }
};

// Larger kernels: one kernel row loaded per tile row, each kept in a register.
template <class D, int K>
struct RowWeights {
  const Block<D>& b;
  explicit RowWeights(const Block<D>& block) : b(block) {}
  PARE_QDW_INLINE void row(int ky, typename D::W* out) const {
    for (int kx = 0; kx < K; ++kx) {
      out[kx] = b.weight(ky * K + kx);
      D::keep_in_register(out[kx]);
    }
  }
};

template <int K>
struct WindowRows {
  const uint8_t* rows[K];
  int64_t ky_lo, ky_hi;
};

// T neighbouring output pixels, first taps at input column col0 (pixel t at col0 + t * S).
// With kCheckRows / kCheckCols, taps outside the input use x_zero_point instead of a load.
template <class D, int K, int S, int T, bool kTail, bool kCheckRows, bool kCheckCols, class Weights>
PARE_QDW_INLINE void tile(const WindowRows<K>& win, int64_t col0, int64_t in_w, int64_t ps,
                      typename D::Lanes lanes, const Weights& weights, const typename D::Acc& bias,
                      const typename D::X& xzp, typename D::Acc* acc) {
  for (int t = 0; t < T; ++t) acc[t] = bias;
#pragma GCC unroll 8
  for (int ky = 0; ky < K; ++ky) {
    const bool row_inside = !kCheckRows || (ky >= win.ky_lo && ky < win.ky_hi);
    typename D::W w[K];
    weights.row(ky, w);
#pragma GCC unroll 32
    for (int j = 0; j < (T - 1) * S + K; ++j) {
      const int64_t ix = col0 + j;
      typename D::X v;
      if (!row_inside || (kCheckCols && (ix < 0 || ix >= in_w)))
        v = xzp;
      else
        v = D::template load_x<kTail>(win.rows[ky] + ix * ps, lanes);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const int kx = j - t * S;
        if (kx >= 0 && kx < K) acc[t] = D::mac(acc[t], v, w[kx]);
      }
    }
  }
}

// Output pixels [*ox, end) of one row, T at a time, then the rest by tiles of T / 2, ..., 1.
// kCheckCols for pixels whose windows reach into the side pads.
template <class D, int K, int S, int T, bool kTail, bool kCheckRows, bool kCheckCols, class Weights>
PARE_QDW_INLINE void row_tiles(const QDwConvParams& p, const WindowRows<K>& win, int64_t end, int64_t* ox,
                           typename D::Lanes lanes, const Weights& w, const Block<D>& b,
                           const typename D::X& xzp, uint8_t* out) {
  const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
  for (; *ox + T <= end; *ox += T) {
    typename D::Acc acc[T];
    tile<D, K, S, T, kTail, kCheckRows, kCheckCols>(win, *ox * S - p.pad_left, p.in_w, ps, lanes, w, b.bias,
                                                    xzp, acc);
    for (int t = 0; t < T; ++t) D::template store<kTail>(b.rq, acc[t], lanes, out + (*ox + t) * ops);
  }
  if constexpr (T > 1)
    row_tiles<D, K, S, T / 2, kTail, kCheckRows, kCheckCols>(p, win, end, ox, lanes, w, b, xzp, out);
}

// One output row of one channel block. 3x3: the edge pixels (windows reaching into the side
// pads) one at a time, the interior T at a time, which saves a copy of every tile shape in
// the binary at no measured cost. 5x5 edges keep whole tiles (their weights are loaded per
// tile, so single-pixel edges are slower on small maps).
template <class D, int K, int S, int T, bool kTail, bool kCheckRows, class Weights>
PARE_QDW_INLINE void row(const QDwConvParams& p, const WindowRows<K>& win, int64_t ox_lo, int64_t ox_hi,
                     typename D::Lanes lanes, const Weights& w, const Block<D>& b,
                     const typename D::X& xzp, uint8_t* out) {
  int64_t ox = 0;
  if constexpr (K == 3) {
    row_tiles<D, K, S, 1, kTail, kCheckRows, true>(p, win, ox_lo, &ox, lanes, w, b, xzp, out);
    row_tiles<D, K, S, T, kTail, kCheckRows, false>(p, win, ox_hi, &ox, lanes, w, b, xzp, out);
    row_tiles<D, K, S, 1, kTail, kCheckRows, true>(p, win, p.out_w, &ox, lanes, w, b, xzp, out);
  } else {
    const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
    for (; ox + T <= p.out_w; ox += T) {
      typename D::Acc acc[T];
      const int64_t col0 = ox * S - p.pad_left;
      if (ox >= ox_lo && ox + T <= ox_hi)
        tile<D, K, S, T, kTail, kCheckRows, false>(win, col0, p.in_w, ps, lanes, w, b.bias, xzp, acc);
      else
        tile<D, K, S, T, kTail, kCheckRows, true>(win, col0, p.in_w, ps, lanes, w, b.bias, xzp, acc);
      for (int t = 0; t < T; ++t) D::template store<kTail>(b.rq, acc[t], lanes, out + (ox + t) * ops);
    }
    if constexpr (T > 1)
      row_tiles<D, K, S, T / 2, kTail, kCheckRows, true>(p, win, p.out_w, &ox, lanes, w, b, xzp, out);
  }
}

template <class D, int K, int S, int T, bool kTail>
PARE_QDW_INLINE void block_row(const QDwConvParams& p, const WindowRows<K>& win, int64_t ox_lo, int64_t ox_hi,
                           typename D::Lanes lanes, const Block<D>& b, const typename D::X& xzp, uint8_t* out) {
  using Weights = std::conditional_t<K * K <= D::kRegisterTaps, RegisterWeights<D, K>, RowWeights<D, K>>;
  const Weights w(b);
  if (win.ky_lo == 0 && win.ky_hi == K)
    row<D, K, S, T, kTail, false>(p, win, ox_lo, ox_hi, lanes, w, b, xzp, out);
  else
    row<D, K, S, T, kTail, true>(p, win, ox_lo, ox_hi, lanes, w, b, xzp, out);
}

// A K x K kernel with stride S, dilation 1, T output pixels per tile.
template <class D, int K, int S, int T>
void qdwconv_fixed(const QDwConvParams& p, const uint8_t* input, const void* packed, uint8_t* output,
                   int64_t oh_begin, int64_t oh_end) {
  const typename D::X xzp = D::broadcast_x(p.x_zero_point);
  int64_t ox_lo, ox_hi;
  interior_columns(p, &ox_lo, &ox_hi);
  const int64_t row_stride = p.in_w * p.in_pixel_stride;
  for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
    const int64_t iy0 = oy * S - p.pad_top;
    WindowRows<K> win;
    valid_taps(iy0, p.in_h, K, 1, &win.ky_lo, &win.ky_hi);
    uint8_t* out_row = output + oy * p.out_w * p.out_pixel_stride;
    for (int64_t c = 0; c < p.channels; c += D::kBlock) {
      const int64_t n = std::min<int64_t>(D::kBlock, p.channels - c);
      const Block<D> b(p, packed, c / D::kBlock, K * K);
      for (int ky = 0; ky < K; ++ky) {
        const bool inside = ky >= win.ky_lo && ky < win.ky_hi;
        win.rows[ky] = input + (inside ? (iy0 + ky) * row_stride : 0) + c;
      }
      if (D::kMaskedTail || n == D::kBlock)
        block_row<D, K, S, T, false>(p, win, ox_lo, ox_hi, D::lanes(n), b, xzp, out_row + c);
      else
        block_row<D, K, S, T, true>(p, win, ox_lo, ox_hi, D::lanes(n), b, xzp, out_row + c);
    }
  }
}

// Any kernel, stride and dilation: weights read from the packed buffer, interior pixels
// four at a time, border pixels one at a time with pad taps reading x_zero_point.
template <class D, bool kTail>
void generic_block_row(const QDwConvParams& p, const uint8_t* in, int64_t iy0, int64_t ky_lo, int64_t ky_hi,
                       int64_t ox_lo, int64_t ox_hi, typename D::Lanes lanes, const Block<D>& b,
                       const typename D::X& xzp, uint8_t* out) {
  constexpr int T = 4;
  const int64_t kh = p.kernel_h, kw = p.kernel_w;
  const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
  const int64_t row_stride = p.in_w * ps;
  const int64_t tile_step = p.stride_w * ps, tap_step = p.dilation_w * ps;
  auto pixel = [&](int64_t ox) {
    const int64_t ix0 = ox * p.stride_w - p.pad_left;
    int64_t kx_lo, kx_hi;
    valid_taps(ix0, p.in_w, kw, p.dilation_w, &kx_lo, &kx_hi);
    typename D::Acc acc = b.bias;
    for (int64_t ky = 0; ky < kh; ++ky) {
      const bool row_in = ky >= ky_lo && ky < ky_hi;
      const uint8_t* row = in + (row_in ? (iy0 + ky * p.dilation_h) * row_stride : 0);
      for (int64_t kx = 0; kx < kw; ++kx) {
        const typename D::X v = row_in && kx >= kx_lo && kx < kx_hi
                                    ? D::template load_x<kTail>(row + (ix0 + kx * p.dilation_w) * ps, lanes)
                                    : xzp;
        acc = D::mac(acc, v, b.weight(ky * kw + kx));
      }
    }
    D::template store<kTail>(b.rq, acc, lanes, out + ox * ops);
  };
  int64_t ox = 0;
  if (ky_lo == 0 && ky_hi == kh) {
    for (; ox < ox_lo; ++ox) pixel(ox);
    for (; ox + T <= ox_hi; ox += T) {
      typename D::Acc acc[T] = {b.bias, b.bias, b.bias, b.bias};
      const int64_t ix0 = ox * p.stride_w - p.pad_left;
      for (int64_t ky = 0; ky < kh; ++ky) {
        const uint8_t* row = in + (iy0 + ky * p.dilation_h) * row_stride + ix0 * ps;
        for (int64_t kx = 0; kx < kw; ++kx) {
          const typename D::W wv = b.weight(ky * kw + kx);
          const uint8_t* tap = row + kx * tap_step;
          for (int t = 0; t < T; ++t) acc[t] = D::mac(acc[t], D::template load_x<kTail>(tap + t * tile_step, lanes), wv);
        }
      }
      for (int t = 0; t < T; ++t) D::template store<kTail>(b.rq, acc[t], lanes, out + (ox + t) * ops);
    }
  }
  for (; ox < p.out_w; ++ox) pixel(ox);
}

template <class D>
void qdwconv_generic(const QDwConvParams& p, const uint8_t* input, const void* packed, uint8_t* output,
                     int64_t oh_begin, int64_t oh_end) {
  const typename D::X xzp = D::broadcast_x(p.x_zero_point);
  int64_t ox_lo, ox_hi;
  interior_columns(p, &ox_lo, &ox_hi);
  const int64_t taps = p.kernel_h * p.kernel_w;
  for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
    const int64_t iy0 = oy * p.stride_h - p.pad_top;
    int64_t ky_lo, ky_hi;
    valid_taps(iy0, p.in_h, p.kernel_h, p.dilation_h, &ky_lo, &ky_hi);
    uint8_t* out_row = output + oy * p.out_w * p.out_pixel_stride;
    for (int64_t c = 0; c < p.channels; c += D::kBlock) {
      const int64_t n = std::min<int64_t>(D::kBlock, p.channels - c);
      const Block<D> b(p, packed, c / D::kBlock, taps);
      if (D::kMaskedTail || n == D::kBlock)
        generic_block_row<D, false>(p, input + c, iy0, ky_lo, ky_hi, ox_lo, ox_hi, D::lanes(n), b, xzp, out_row + c);
      else
        generic_block_row<D, true>(p, input + c, iy0, ky_lo, ky_hi, ox_lo, ox_hi, D::lanes(n), b, xzp, out_row + c);
    }
  }
}

}  // namespace pare::rt::kernels::qdwconv_vec

#undef PARE_QDW_INLINE
