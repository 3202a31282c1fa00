// The float32 depthwise convolution kernels written once over a vector type V (a simd::F32x*
// struct, see simd/x86_avx2.h): blocks of V::kWidth channels, the last, partial block through
// V's partial loads and stores. For each output row and channel block the row's output
// pixels are computed T at a time: each input column of the tile's windows is loaded once and
// feeds every pixel of the tile that uses it, with T independent accumulators. 3x3 weights
// stay in registers for the whole row; 5x5 and 7x7 weights are loaded one kernel row per
// tile. Windows that reach into the pads skip the missing taps, so nothing outside the input
// is read; pixels whose windows reach into the side pads go one at a time. Each output sums its taps in the reference order (row by row, left to
// right). The activations use V::min_native and V::max_native, the bytes each ISA's kernels
// have always given. Only included by the ISA files (compiled with their own flags).
#pragma once

#include <cstdint>
#include <type_traits>

#include "runtime/kernels/dwconv/dwconv.h"

#define PARE_INLINE inline __attribute__((always_inline))

namespace pare::rt::kernels::dwconv_impl {

template <class V>
struct DwConv {
  using R = typename V::R;
  static constexpr int64_t kBlock = V::kWidth;

  // The fused activation, chosen per call rather than per instantiation: a branch per
  // stored vector costs little next to the K * K FMAs behind it, and one instantiation per
  // activation doubled the unrolled code (bytes an embedding app pays for).
  struct Activation {
    R lo, hi;
    bool hard_swish;
    explicit Activation(const FusedActivation& a) : hard_swish(a.kind == ActivationKind::kHardSwish) {
      float l, h;
      dwconv_detail::clamp_bounds(a, &l, &h);
      lo = V::set1(l);
      hi = V::set1(h);
    }
    PARE_INLINE R operator()(R x) const {
      if (hard_swish) {
        const R gate = V::fmadd(x, V::set1(1.f / 6.f), V::set1(0.5f));
        return V::mul(x, V::min_native(V::max_native(gate, V::zero()), V::set1(1.f)));
      }
      return V::min_native(V::max_native(x, lo), hi);
    }
  };

  // Loads and stores of a whole block of kBlock channels.
  struct FullBlock {
    PARE_INLINE R load(const float* p) const { return V::load(p); }
    PARE_INLINE void store(float* p, R v) const { V::store(p, v); }
  };

  // Loads and stores of the first `count` (< kBlock) channels; the other lanes load as zero
  // and are never touched in memory.
  struct TailBlock {
    typename V::LaneMask mask;
    explicit TailBlock(int64_t count) : mask(V::first_lanes(count)) {}
    PARE_INLINE R load(const float* p) const { return V::load_partial(p, mask); }
    PARE_INLINE void store(float* p, R v) const { V::store_partial(p, mask, v); }
  };

  // The weights of one channel block. 3x3: all 9 vectors stay in registers for the whole row.
  template <int K>
  struct RegisterWeights {
    R w[K * K];
    explicit RegisterWeights(const float* taps) {
      for (int t = 0; t < K * K; ++t) w[t] = V::load(taps + t * kBlock);
    }
    PARE_INLINE void row(int ky, R* out) const {
      for (int kx = 0; kx < K; ++kx) out[kx] = w[ky * K + kx];
    }
  };

  // 5x5 and 7x7: each tile loads one kernel row at a time (K loads shared by the T pixels of
  // the tile); 25 or 49 vectors exceed the 16 ymm registers, and on AVX-512 this measured
  // faster than keeping 25 weights in the 32 zmm registers, where GCC spills. keep_in_register
  // keeps each weight in a register: otherwise GCC folds a separate load into every FMA.
  template <int K>
  struct RowWeights {
    const float* taps;
    explicit RowWeights(const float* t) : taps(t) {}
    PARE_INLINE void row(int ky, R* out) const {
      for (int kx = 0; kx < K; ++kx) {
        out[kx] = V::load(taps + (ky * K + kx) * kBlock);
        V::keep_in_register(out[kx]);
      }
    }
  };

  // The window rows of one output row, for one channel block: rows[ky] is input row
  // iy0 + ky at the block's first channel when ky is in [ky_lo, ky_hi), unused otherwise.
  template <int K>
  struct WindowRows {
    const float* rows[K];
    int64_t ky_lo, ky_hi;
  };

  // T neighbouring output pixels of one output row, their first taps at input column col0
  // (pixel t at col0 + t * S). Each input column of the window is loaded once for the whole
  // tile. With kCheckRows only the rows [ky_lo, ky_hi) are read; with kCheckCols only the
  // columns inside the input: the taps in the pads are skipped.
  template <int K, int S, int T, bool kCheckRows, bool kCheckCols, class Block, class Weights>
  static PARE_INLINE void tile(const WindowRows<K>& win, int64_t col0, int64_t in_w, int64_t ps,
                               const Block& blk, const Weights& weights, R bias, R* acc) {
    for (int t = 0; t < T; ++t) acc[t] = bias;
#pragma GCC unroll 8
    for (int ky = 0; ky < K; ++ky) {
      if (kCheckRows && (ky < win.ky_lo || ky >= win.ky_hi)) continue;
      R w[K];
      weights.row(ky, w);
#pragma GCC unroll 32
      for (int j = 0; j < (T - 1) * S + K; ++j) {
        const int64_t ix = col0 + j;
        if (kCheckCols && (ix < 0 || ix >= in_w)) continue;
        const R v = blk.load(win.rows[ky] + ix * ps);
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) {
          const int kx = j - t * S;
          if (kx >= 0 && kx < K) acc[t] = V::fmadd(v, w[kx], acc[t]);
        }
      }
    }
  }

  // Output pixels [*ox, end) of one row and channel block, T at a time, then the rest by
  // tiles of T / 2, T / 4, ..., 1. kCheckCols for pixels whose windows reach into the side
  // pads.
  template <int K, int S, int T, bool kCheckRows, bool kCheckCols, class Block, class Weights>
  static PARE_INLINE void row_tiles(const DwConvParams& p, const WindowRows<K>& win, int64_t end,
                                    int64_t* ox, const Block& blk, const Weights& w, R bias,
                                    const Activation& act, float* out) {
    const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
    for (; *ox + T <= end; *ox += T) {
      R acc[T];
      tile<K, S, T, kCheckRows, kCheckCols>(win, *ox * S - p.pad_left, p.in_w, ps, blk, w, bias, acc);
      for (int t = 0; t < T; ++t) blk.store(out + (*ox + t) * ops, act(acc[t]));
    }
    if constexpr (T > 1)
      row_tiles<K, S, T / 2, kCheckRows, kCheckCols>(p, win, end, ox, blk, w, bias, act, out);
  }

  // One output row of one channel block. 3x3: the pixels whose windows reach into the side
  // pads (one per side) go one at a time, the interior T at a time; tiles of T pixels over
  // the edges too would repeat every tile shape once more in the binary for no measured
  // gain. 5x5 and 7x7 load their weights per tile, and single-pixel edge tiles measured
  // 1.25-1.5x slower on 7x7 and 14x14 maps, so their edges keep whole tiles.
  template <int K, int S, int T, bool kCheckRows, class Block, class Weights>
  static PARE_INLINE void row(const DwConvParams& p, const WindowRows<K>& win, int64_t ox_lo,
                              int64_t ox_hi, const Block& blk, const Weights& w, R bias,
                              const Activation& act, float* out) {
    int64_t ox = 0;
    if constexpr (K == 3) {
      row_tiles<K, S, 1, kCheckRows, true>(p, win, ox_lo, &ox, blk, w, bias, act, out);
      row_tiles<K, S, T, kCheckRows, false>(p, win, ox_hi, &ox, blk, w, bias, act, out);
      row_tiles<K, S, 1, kCheckRows, true>(p, win, p.out_w, &ox, blk, w, bias, act, out);
    } else {
      const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
      for (; ox + T <= p.out_w; ox += T) {
        R acc[T];
        const int64_t col0 = ox * S - p.pad_left;
        if (ox >= ox_lo && ox + T <= ox_hi)
          tile<K, S, T, kCheckRows, false>(win, col0, p.in_w, ps, blk, w, bias, acc);
        else
          tile<K, S, T, kCheckRows, true>(win, col0, p.in_w, ps, blk, w, bias, acc);
        for (int t = 0; t < T; ++t) blk.store(out + (ox + t) * ops, act(acc[t]));
      }
      row_tiles<K, S, T / 2, kCheckRows, true>(p, win, p.out_w, &ox, blk, w, bias, act, out);
    }
  }

  template <int K, int S, int T, class Block>
  static PARE_INLINE void channel_block(const DwConvParams& p, const float* input, const float* wp,
                                        int64_t iy0, int64_t ky_lo, int64_t ky_hi, int64_t ox_lo,
                                        int64_t ox_hi, const Block& blk, const Activation& act,
                                        float* out) {
    const R bias = V::load(wp);
    using Weights = std::conditional_t<K * K <= 9, RegisterWeights<K>, RowWeights<K>>;
    const Weights w(wp + kBlock);
    WindowRows<K> win;
    win.ky_lo = ky_lo;
    win.ky_hi = ky_hi;
    const int64_t row_stride = p.in_w * p.in_pixel_stride;
    for (int ky = 0; ky < K; ++ky) {
      const bool inside = ky >= ky_lo && ky < ky_hi;
      win.rows[ky] = input + (inside ? (iy0 + ky) * row_stride : 0);
    }
    if (ky_lo == 0 && ky_hi == K)
      row<K, S, T, false>(p, win, ox_lo, ox_hi, blk, w, bias, act, out);
    else
      row<K, S, T, true>(p, win, ox_lo, ox_hi, blk, w, bias, act, out);
  }

  // Output rows [oh_begin, oh_end) of a K x K window at stride S (dilation 1), T pixels per
  // tile: the entry point of the fixed-shape kernels.
  template <int K, int S, int T>
  static void fixed(const DwConvParams& p, const float* input, const float* packed,
                    float* output, int64_t oh_begin, int64_t oh_end) {
    const Activation act(p.activation);
    int64_t ox_lo, ox_hi;
    dwconv_detail::interior_columns(p, &ox_lo, &ox_hi);
    const int64_t full_end = p.channels / kBlock * kBlock;
    const TailBlock tail(p.channels - full_end);
    for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
      const int64_t iy0 = oy * S - p.pad_top;
      int64_t ky_lo, ky_hi;
      dwconv_detail::valid_taps(iy0, p.in_h, K, 1, &ky_lo, &ky_hi);
      float* out_row = output + oy * p.out_w * p.out_pixel_stride;
      for (int64_t c = 0; c < p.channels; c += kBlock) {
        const float* wp = packed + (c / kBlock) * kBlock * (1 + K * K);
        if (c < full_end)
          channel_block<K, S, T>(p, input + c, wp, iy0, ky_lo, ky_hi, ox_lo, ox_hi, FullBlock(),
                                 act, out_row + c);
        else
          channel_block<K, S, T>(p, input + c, wp, iy0, ky_lo, ky_hi, ox_lo, ox_hi, tail, act,
                                 out_row + c);
      }
    }
  }

  // Any kernel, stride and dilation, for one channel block; weights are read from the packed
  // buffer (L1-resident) and interior pixels go four at a time.
  template <class Block>
  static PARE_INLINE void generic_block(const DwConvParams& p, const float* in, const float* wp,
                                        int64_t iy0, int64_t ky_lo, int64_t ky_hi, int64_t ox_lo,
                                        int64_t ox_hi, const Block& blk, const Activation& act,
                                        float* out) {
    constexpr int T = 4;
    const int64_t kw = p.kernel_w;
    const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
    const int64_t row_stride = p.in_w * ps;
    const int64_t tile_step = p.stride_w * ps, tap_step = p.dilation_w * ps;
    const R bias = V::load(wp);
    auto pixel = [&](int64_t ox) {
      const int64_t ix0 = ox * p.stride_w - p.pad_left;
      int64_t kx_lo, kx_hi;
      dwconv_detail::valid_taps(ix0, p.in_w, kw, p.dilation_w, &kx_lo, &kx_hi);
      R acc = bias;
      for (int64_t ky = ky_lo; ky < ky_hi; ++ky) {
        const float* row = in + (iy0 + ky * p.dilation_h) * row_stride;
        const float* wr = wp + (1 + ky * kw) * kBlock;
        for (int64_t kx = kx_lo; kx < kx_hi; ++kx)
          acc = V::fmadd(blk.load(row + (ix0 + kx * p.dilation_w) * ps), V::load(wr + kx * kBlock),
                         acc);
      }
      blk.store(out + ox * ops, act(acc));
    };
    int64_t ox = 0;
    for (; ox < ox_lo; ++ox) pixel(ox);
    for (; ox + T <= ox_hi; ox += T) {
      R acc[T] = {bias, bias, bias, bias};
      const int64_t ix0 = ox * p.stride_w - p.pad_left;
      for (int64_t ky = ky_lo; ky < ky_hi; ++ky) {
        const float* row = in + (iy0 + ky * p.dilation_h) * row_stride + ix0 * ps;
        const float* wr = wp + (1 + ky * kw) * kBlock;
        for (int64_t kx = 0; kx < kw; ++kx) {
          const R wv = V::load(wr + kx * kBlock);
          const float* tap = row + kx * tap_step;
          for (int t = 0; t < T; ++t) acc[t] = V::fmadd(blk.load(tap + t * tile_step), wv, acc[t]);
        }
      }
      for (int t = 0; t < T; ++t) blk.store(out + (ox + t) * ops, act(acc[t]));
    }
    for (; ox < p.out_w; ++ox) pixel(ox);
  }

  // Any kernel size, stride and dilation: the entry point of the kxk kernels.
  static void generic(const DwConvParams& p, const float* input, const float* packed,
                      float* output, int64_t oh_begin, int64_t oh_end) {
    const Activation act(p.activation);
    int64_t ox_lo, ox_hi;
    dwconv_detail::interior_columns(p, &ox_lo, &ox_hi);
    const int64_t taps = p.kernel_h * p.kernel_w;
    const int64_t full_end = p.channels / kBlock * kBlock;
    const TailBlock tail(p.channels - full_end);
    for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
      const int64_t iy0 = oy * p.stride_h - p.pad_top;
      int64_t ky_lo, ky_hi;
      dwconv_detail::valid_taps(iy0, p.in_h, p.kernel_h, p.dilation_h, &ky_lo, &ky_hi);
      float* out_row = output + oy * p.out_w * p.out_pixel_stride;
      for (int64_t c = 0; c < p.channels; c += kBlock) {
        const float* wp = packed + (c / kBlock) * kBlock * (1 + taps);
        if (c < full_end)
          generic_block(p, input + c, wp, iy0, ky_lo, ky_hi, ox_lo, ox_hi, FullBlock(), act,
                        out_row + c);
        else
          generic_block(p, input + c, wp, iy0, ky_lo, ky_hi, ox_lo, ox_hi, tail, act, out_row + c);
      }
    }
  }
};

}  // namespace pare::rt::kernels::dwconv_impl
