// Depthwise convolution, AVX-512: blocks of 16 channels (one zmm, the last block masked).
// For each output row and channel block, the row's output pixels are computed T at a time:
// each input column of the tile's windows is loaded once and feeds every pixel of the tile
// that uses it, with T independent accumulators. 3x3 weights stay in registers for the whole
// row; 5x5 and 7x7 weights are loaded one kernel row per tile. Tiles whose windows reach
// into the pads skip the missing taps, so nothing outside the input is read. Each output
// sums its taps in the reference order (row by row, left to right).
#include <immintrin.h>

#include <type_traits>

#include "runtime/kernels/dwconv/dwconv.h"

#define PARE_INLINE inline __attribute__((always_inline))

namespace pare::rt::kernels {

namespace {

using dwconv_detail::clamp_bounds;
using dwconv_detail::interior_columns;
using dwconv_detail::valid_taps;

constexpr int64_t kBlock = 16;

// _mm512_max_ps and _mm512_min_ps trip GCC 12's -Wmaybe-uninitialized (their undefined
// pass-through operand); the zero-masked forms with a full mask are the same instructions.
PARE_INLINE __m512 max_ps(__m512 a, __m512 b) { return _mm512_maskz_max_ps(0xFFFF, a, b); }
PARE_INLINE __m512 min_ps(__m512 a, __m512 b) { return _mm512_maskz_min_ps(0xFFFF, a, b); }

struct ClampActivation {
  __m512 lo, hi;
  explicit ClampActivation(const FusedActivation& a) {
    float l, h;
    clamp_bounds(a, &l, &h);
    lo = _mm512_set1_ps(l);
    hi = _mm512_set1_ps(h);
  }
  PARE_INLINE __m512 operator()(__m512 x) const { return min_ps(max_ps(x, lo), hi); }
};

struct HardSwishActivation {
  explicit HardSwishActivation(const FusedActivation&) {}
  PARE_INLINE __m512 operator()(__m512 x) const {
    const __m512 gate = _mm512_fmadd_ps(x, _mm512_set1_ps(1.f / 6.f), _mm512_set1_ps(0.5f));
    return _mm512_mul_ps(x, min_ps(max_ps(gate, _mm512_setzero_ps()), _mm512_set1_ps(1.f)));
  }
};

PARE_INLINE __mmask16 channel_mask(int64_t remaining) {
  return remaining >= kBlock ? __mmask16(0xFFFF) : __mmask16((1u << remaining) - 1u);
}

// The weights of one channel block. 3x3: all 9 vectors stay in registers for the whole row.
template <int K>
struct RegisterWeights {
  __m512 w[K * K];
  explicit RegisterWeights(const float* taps) {
    for (int t = 0; t < K * K; ++t) w[t] = _mm512_loadu_ps(taps + t * kBlock);
  }
  PARE_INLINE void row(int ky, __m512* out) const {
    for (int kx = 0; kx < K; ++kx) out[kx] = w[ky * K + kx];
  }
};

// 5x5 and 7x7: each tile loads one kernel row at a time (K loads shared by the T pixels of
// the tile). Measured faster than keeping 25 weights in the 32 zmm registers, where GCC
// spills and folds a separate load into every FMA. The empty asm keeps each weight in a
// register for all its uses in the tile.
template <int K>
struct RowWeights {
  const float* taps;
  explicit RowWeights(const float* t) : taps(t) {}
  PARE_INLINE void row(int ky, __m512* out) const {
    for (int kx = 0; kx < K; ++kx) {
      out[kx] = _mm512_loadu_ps(taps + (ky * K + kx) * kBlock);
      __asm__("" : "+v"(out[kx]));
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
template <int K, int S, int T, bool kCheckRows, bool kCheckCols, class Weights>
PARE_INLINE void tile(const WindowRows<K>& win, int64_t col0, int64_t in_w, int64_t ps, __mmask16 m,
                      const Weights& weights, __m512 bias, __m512* acc) {
  for (int t = 0; t < T; ++t) acc[t] = bias;
#pragma GCC unroll 8
  for (int ky = 0; ky < K; ++ky) {
    if (kCheckRows && (ky < win.ky_lo || ky >= win.ky_hi)) continue;
    __m512 w[K];
    weights.row(ky, w);
#pragma GCC unroll 32
    for (int j = 0; j < (T - 1) * S + K; ++j) {
      const int64_t ix = col0 + j;
      if (kCheckCols && (ix < 0 || ix >= in_w)) continue;
      const __m512 v = _mm512_maskz_loadu_ps(m, win.rows[ky] + ix * ps);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const int kx = j - t * S;
        if (kx >= 0 && kx < K) acc[t] = _mm512_fmadd_ps(v, w[kx], acc[t]);
      }
    }
  }
}

// Output pixels [*ox, out_w) of one row and channel block, T at a time, then the rest by
// tiles of T / 2, T / 4, ..., 1. Only tiles that reach into the side pads check columns.
template <int K, int S, int T, bool kCheckRows, class Weights, class Activation>
PARE_INLINE void row_tiles(const DwConvParams& p, const WindowRows<K>& win, int64_t ox_lo,
                           int64_t ox_hi, int64_t* ox, __mmask16 m, const Weights& w, __m512 bias,
                           const Activation& act, float* out) {
  const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
  for (; *ox + T <= p.out_w; *ox += T) {
    __m512 acc[T];
    const int64_t col0 = *ox * S - p.pad_left;
    if (*ox >= ox_lo && *ox + T <= ox_hi)
      tile<K, S, T, kCheckRows, false>(win, col0, p.in_w, ps, m, w, bias, acc);
    else
      tile<K, S, T, kCheckRows, true>(win, col0, p.in_w, ps, m, w, bias, acc);
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(out + (*ox + t) * ops, m, act(acc[t]));
  }
  if constexpr (T > 1)
    row_tiles<K, S, T / 2, kCheckRows>(p, win, ox_lo, ox_hi, ox, m, w, bias, act, out);
}

template <int K, int S, int T, class Activation>
void dwconv_fixed(const DwConvParams& p, const float* input, const float* packed, float* output,
                  int64_t oh_begin, int64_t oh_end) {
  const Activation act(p.activation);
  int64_t ox_lo, ox_hi;
  interior_columns(p, &ox_lo, &ox_hi);
  const int64_t row_stride = p.in_w * p.in_pixel_stride;
  for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
    const int64_t iy0 = oy * S - p.pad_top;
    WindowRows<K> win;
    valid_taps(iy0, p.in_h, K, 1, &win.ky_lo, &win.ky_hi);
    float* out_row = output + oy * p.out_w * p.out_pixel_stride;
    for (int64_t c = 0; c < p.channels; c += kBlock) {
      const __mmask16 m = channel_mask(p.channels - c);
      const float* wp = packed + (c / kBlock) * kBlock * (1 + K * K);
      const __m512 bias = _mm512_loadu_ps(wp);
      using Weights = std::conditional_t<K * K <= 9, RegisterWeights<K>, RowWeights<K>>;
      const Weights w(wp + kBlock);
      for (int ky = 0; ky < K; ++ky) {
        const bool inside = ky >= win.ky_lo && ky < win.ky_hi;
        win.rows[ky] = input + (inside ? (iy0 + ky) * row_stride : 0) + c;
      }
      int64_t ox = 0;
      if (win.ky_lo == 0 && win.ky_hi == K)
        row_tiles<K, S, T, false>(p, win, ox_lo, ox_hi, &ox, m, w, bias, act, out_row + c);
      else
        row_tiles<K, S, T, true>(p, win, ox_lo, ox_hi, &ox, m, w, bias, act, out_row + c);
    }
  }
}

template <int K, int S, int T>
void dwconv_fixed_any_activation(const DwConvParams& p, const float* input, const float* packed,
                                 float* output, int64_t oh_begin, int64_t oh_end) {
  if (p.activation.kind == ActivationKind::kHardSwish)
    dwconv_fixed<K, S, T, HardSwishActivation>(p, input, packed, output, oh_begin, oh_end);
  else
    dwconv_fixed<K, S, T, ClampActivation>(p, input, packed, output, oh_begin, oh_end);
}

// Any kernel, stride and dilation; weights are read from the packed buffer (L1-resident)
// and interior pixels go four at a time.
template <class Activation>
void dwconv_generic(const DwConvParams& p, const float* input, const float* packed, float* output,
                    int64_t oh_begin, int64_t oh_end) {
  constexpr int T = 4;
  const Activation act(p.activation);
  int64_t ox_lo, ox_hi;
  interior_columns(p, &ox_lo, &ox_hi);
  const int64_t kw = p.kernel_w, taps = p.kernel_h * p.kernel_w;
  const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
  const int64_t row_stride = p.in_w * ps;
  const int64_t tile_step = p.stride_w * ps, tap_step = p.dilation_w * ps;
  for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
    const int64_t iy0 = oy * p.stride_h - p.pad_top;
    int64_t ky_lo, ky_hi;
    valid_taps(iy0, p.in_h, p.kernel_h, p.dilation_h, &ky_lo, &ky_hi);
    float* out_row = output + oy * p.out_w * ops;
    for (int64_t c = 0; c < p.channels; c += kBlock) {
      const __mmask16 m = channel_mask(p.channels - c);
      const float* wp = packed + (c / kBlock) * kBlock * (1 + taps);
      const __m512 bias = _mm512_loadu_ps(wp);
      const float* in = input + c;
      float* out = out_row + c;
      auto pixel = [&](int64_t ox) {
        const int64_t ix0 = ox * p.stride_w - p.pad_left;
        int64_t kx_lo, kx_hi;
        valid_taps(ix0, p.in_w, kw, p.dilation_w, &kx_lo, &kx_hi);
        __m512 acc = bias;
        for (int64_t ky = ky_lo; ky < ky_hi; ++ky) {
          const float* row = in + (iy0 + ky * p.dilation_h) * row_stride;
          const float* wr = wp + (1 + ky * kw) * kBlock;
          for (int64_t kx = kx_lo; kx < kx_hi; ++kx)
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row + (ix0 + kx * p.dilation_w) * ps),
                                  _mm512_loadu_ps(wr + kx * kBlock), acc);
        }
        _mm512_mask_storeu_ps(out + ox * ops, m, act(acc));
      };
      int64_t ox = 0;
      for (; ox < ox_lo; ++ox) pixel(ox);
      for (; ox + T <= ox_hi; ox += T) {
        __m512 acc[T] = {bias, bias, bias, bias};
        const int64_t ix0 = ox * p.stride_w - p.pad_left;
        for (int64_t ky = ky_lo; ky < ky_hi; ++ky) {
          const float* row = in + (iy0 + ky * p.dilation_h) * row_stride + ix0 * ps;
          const float* wr = wp + (1 + ky * kw) * kBlock;
          for (int64_t kx = 0; kx < kw; ++kx) {
            const __m512 wv = _mm512_loadu_ps(wr + kx * kBlock);
            const float* tap = row + kx * tap_step;
            for (int t = 0; t < T; ++t)
              acc[t] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, tap + t * tile_step), wv, acc[t]);
          }
        }
        for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(out + (ox + t) * ops, m, act(acc[t]));
      }
      for (; ox < p.out_w; ++ox) pixel(ox);
    }
  }
}

}  // namespace

void f32_dwconv_3x3s1__avx512(const DwConvParams& p, const float* input, const float* packed,
                              float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<3, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_3x3s2__avx512(const DwConvParams& p, const float* input, const float* packed,
                              float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<3, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_5x5s1__avx512(const DwConvParams& p, const float* input, const float* packed,
                              float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<5, 1, 8>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_5x5s2__avx512(const DwConvParams& p, const float* input, const float* packed,
                              float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<5, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_7x7s1__avx512(const DwConvParams& p, const float* input, const float* packed,
                              float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<7, 1, 8>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_7x7s2__avx512(const DwConvParams& p, const float* input, const float* packed,
                              float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<7, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_kxk__avx512(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  if (p.activation.kind == ActivationKind::kHardSwish)
    dwconv_generic<HardSwishActivation>(p, input, packed, output, oh_begin, oh_end);
  else
    dwconv_generic<ClampActivation>(p, input, packed, output, oh_begin, oh_end);
}

}  // namespace pare::rt::kernels
