// Depthwise convolution, AVX2 + FMA: blocks of 8 channels (one ymm; the last, partial block
// uses masked loads and stores). Same structure as the AVX-512 kernels: for each output row
// and channel block the row's pixels go T at a time, each input column of the tile loaded
// once; 3x3 weights stay in registers, 5x5 and 7x7 weights (more than the 16 ymm registers)
// are loaded one kernel row per tile. Taps in the pads are skipped, never read.
#include <immintrin.h>

#include <type_traits>

#include "runtime/kernels/dwconv/dwconv.h"

#define PARE_INLINE inline __attribute__((always_inline))

namespace pare::rt::kernels {

namespace {

using dwconv_detail::clamp_bounds;
using dwconv_detail::interior_columns;
using dwconv_detail::valid_taps;

constexpr int64_t kBlock = 8;

struct ClampActivation {
  __m256 lo, hi;
  explicit ClampActivation(const FusedActivation& a) {
    float l, h;
    clamp_bounds(a, &l, &h);
    lo = _mm256_set1_ps(l);
    hi = _mm256_set1_ps(h);
  }
  PARE_INLINE __m256 operator()(__m256 x) const { return _mm256_min_ps(_mm256_max_ps(x, lo), hi); }
};

struct HardSwishActivation {
  explicit HardSwishActivation(const FusedActivation&) {}
  PARE_INLINE __m256 operator()(__m256 x) const {
    const __m256 gate = _mm256_fmadd_ps(x, _mm256_set1_ps(1.f / 6.f), _mm256_set1_ps(0.5f));
    return _mm256_mul_ps(
        x, _mm256_min_ps(_mm256_max_ps(gate, _mm256_setzero_ps()), _mm256_set1_ps(1.f)));
  }
};

// Loads and stores of a whole block of 8 channels.
struct FullBlock {
  PARE_INLINE __m256 load(const float* p) const { return _mm256_loadu_ps(p); }
  PARE_INLINE void store(float* p, __m256 v) const { _mm256_storeu_ps(p, v); }
};

// Loads and stores of the first `count` (< 8) channels; the other lanes load as zero and
// are never touched in memory.
struct TailBlock {
  __m256i mask;
  explicit TailBlock(int64_t count)
      : mask(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))) {}
  PARE_INLINE __m256 load(const float* p) const { return _mm256_maskload_ps(p, mask); }
  PARE_INLINE void store(float* p, __m256 v) const { _mm256_maskstore_ps(p, mask, v); }
};

// The weights of one channel block. 3x3: all 9 vectors stay in registers for the whole row.
template <int K>
struct RegisterWeights {
  __m256 w[K * K];
  explicit RegisterWeights(const float* taps) {
    for (int t = 0; t < K * K; ++t) w[t] = _mm256_loadu_ps(taps + t * kBlock);
  }
  PARE_INLINE void row(int ky, __m256* out) const {
    for (int kx = 0; kx < K; ++kx) out[kx] = w[ky * K + kx];
  }
};

// 5x5 and 7x7: 25 or 49 vectors exceed the 16 ymm registers, so each tile loads one kernel
// row at a time (K loads shared by the T pixels of the tile). The empty asm keeps each
// weight in a register: otherwise GCC folds a separate load into every FMA that uses it.
template <int K>
struct RowWeights {
  const float* taps;
  explicit RowWeights(const float* t) : taps(t) {}
  PARE_INLINE void row(int ky, __m256* out) const {
    for (int kx = 0; kx < K; ++kx) {
      out[kx] = _mm256_loadu_ps(taps + (ky * K + kx) * kBlock);
      __asm__("" : "+x"(out[kx]));
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
PARE_INLINE void tile(const WindowRows<K>& win, int64_t col0, int64_t in_w, int64_t ps,
                      const Block& blk, const Weights& weights, __m256 bias, __m256* acc) {
  for (int t = 0; t < T; ++t) acc[t] = bias;
#pragma GCC unroll 8
  for (int ky = 0; ky < K; ++ky) {
    if (kCheckRows && (ky < win.ky_lo || ky >= win.ky_hi)) continue;
    __m256 w[K];
    weights.row(ky, w);
#pragma GCC unroll 32
    for (int j = 0; j < (T - 1) * S + K; ++j) {
      const int64_t ix = col0 + j;
      if (kCheckCols && (ix < 0 || ix >= in_w)) continue;
      const __m256 v = blk.load(win.rows[ky] + ix * ps);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const int kx = j - t * S;
        if (kx >= 0 && kx < K) acc[t] = _mm256_fmadd_ps(v, w[kx], acc[t]);
      }
    }
  }
}

// Output pixels [*ox, out_w) of one row and channel block, T at a time, then the rest by
// tiles of T / 2, T / 4, ..., 1. Only tiles that reach into the side pads check columns.
template <int K, int S, int T, bool kCheckRows, class Block, class Weights, class Activation>
PARE_INLINE void row_tiles(const DwConvParams& p, const WindowRows<K>& win, int64_t ox_lo,
                           int64_t ox_hi, int64_t* ox, const Block& blk, const Weights& w,
                           __m256 bias, const Activation& act, float* out) {
  const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
  for (; *ox + T <= p.out_w; *ox += T) {
    __m256 acc[T];
    const int64_t col0 = *ox * S - p.pad_left;
    if (*ox >= ox_lo && *ox + T <= ox_hi)
      tile<K, S, T, kCheckRows, false>(win, col0, p.in_w, ps, blk, w, bias, acc);
    else
      tile<K, S, T, kCheckRows, true>(win, col0, p.in_w, ps, blk, w, bias, acc);
    for (int t = 0; t < T; ++t) blk.store(out + (*ox + t) * ops, act(acc[t]));
  }
  if constexpr (T > 1)
    row_tiles<K, S, T / 2, kCheckRows>(p, win, ox_lo, ox_hi, ox, blk, w, bias, act, out);
}

template <int K, int S, int T, class Block, class Activation>
PARE_INLINE void channel_block(const DwConvParams& p, const float* input, const float* wp,
                               int64_t iy0, int64_t ky_lo, int64_t ky_hi, int64_t ox_lo,
                               int64_t ox_hi, const Block& blk, const Activation& act, float* out) {
  const __m256 bias = _mm256_loadu_ps(wp);
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
  int64_t ox = 0;
  if (ky_lo == 0 && ky_hi == K)
    row_tiles<K, S, T, false>(p, win, ox_lo, ox_hi, &ox, blk, w, bias, act, out);
  else
    row_tiles<K, S, T, true>(p, win, ox_lo, ox_hi, &ox, blk, w, bias, act, out);
}

template <int K, int S, int T, class Activation>
void dwconv_fixed(const DwConvParams& p, const float* input, const float* packed, float* output,
                  int64_t oh_begin, int64_t oh_end) {
  const Activation act(p.activation);
  int64_t ox_lo, ox_hi;
  interior_columns(p, &ox_lo, &ox_hi);
  const int64_t full_end = p.channels / kBlock * kBlock;
  const TailBlock tail(p.channels - full_end);
  for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
    const int64_t iy0 = oy * S - p.pad_top;
    int64_t ky_lo, ky_hi;
    valid_taps(iy0, p.in_h, K, 1, &ky_lo, &ky_hi);
    float* out_row = output + oy * p.out_w * p.out_pixel_stride;
    for (int64_t c = 0; c < p.channels; c += kBlock) {
      const float* wp = packed + (c / kBlock) * kBlock * (1 + K * K);
      if (c < full_end)
        channel_block<K, S, T>(p, input + c, wp, iy0, ky_lo, ky_hi, ox_lo, ox_hi, FullBlock(), act,
                               out_row + c);
      else
        channel_block<K, S, T>(p, input + c, wp, iy0, ky_lo, ky_hi, ox_lo, ox_hi, tail, act,
                               out_row + c);
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

// Any kernel, stride and dilation, for one channel block; weights are read from the packed
// buffer (L1-resident) and interior pixels go four at a time.
template <class Block, class Activation>
PARE_INLINE void generic_block(const DwConvParams& p, const float* in, const float* wp, int64_t iy0,
                               int64_t ky_lo, int64_t ky_hi, int64_t ox_lo, int64_t ox_hi,
                               const Block& blk, const Activation& act, float* out) {
  constexpr int T = 4;
  const int64_t kw = p.kernel_w;
  const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
  const int64_t row_stride = p.in_w * ps;
  const int64_t tile_step = p.stride_w * ps, tap_step = p.dilation_w * ps;
  const __m256 bias = _mm256_loadu_ps(wp);
  auto pixel = [&](int64_t ox) {
    const int64_t ix0 = ox * p.stride_w - p.pad_left;
    int64_t kx_lo, kx_hi;
    valid_taps(ix0, p.in_w, kw, p.dilation_w, &kx_lo, &kx_hi);
    __m256 acc = bias;
    for (int64_t ky = ky_lo; ky < ky_hi; ++ky) {
      const float* row = in + (iy0 + ky * p.dilation_h) * row_stride;
      const float* wr = wp + (1 + ky * kw) * kBlock;
      for (int64_t kx = kx_lo; kx < kx_hi; ++kx)
        acc = _mm256_fmadd_ps(blk.load(row + (ix0 + kx * p.dilation_w) * ps),
                              _mm256_loadu_ps(wr + kx * kBlock), acc);
    }
    blk.store(out + ox * ops, act(acc));
  };
  int64_t ox = 0;
  for (; ox < ox_lo; ++ox) pixel(ox);
  for (; ox + T <= ox_hi; ox += T) {
    __m256 acc[T] = {bias, bias, bias, bias};
    const int64_t ix0 = ox * p.stride_w - p.pad_left;
    for (int64_t ky = ky_lo; ky < ky_hi; ++ky) {
      const float* row = in + (iy0 + ky * p.dilation_h) * row_stride + ix0 * ps;
      const float* wr = wp + (1 + ky * kw) * kBlock;
      for (int64_t kx = 0; kx < kw; ++kx) {
        const __m256 wv = _mm256_loadu_ps(wr + kx * kBlock);
        const float* tap = row + kx * tap_step;
        for (int t = 0; t < T; ++t)
          acc[t] = _mm256_fmadd_ps(blk.load(tap + t * tile_step), wv, acc[t]);
      }
    }
    for (int t = 0; t < T; ++t) blk.store(out + (ox + t) * ops, act(acc[t]));
  }
  for (; ox < p.out_w; ++ox) pixel(ox);
}

template <class Activation>
void dwconv_generic(const DwConvParams& p, const float* input, const float* packed, float* output,
                    int64_t oh_begin, int64_t oh_end) {
  const Activation act(p.activation);
  int64_t ox_lo, ox_hi;
  interior_columns(p, &ox_lo, &ox_hi);
  const int64_t taps = p.kernel_h * p.kernel_w;
  const int64_t full_end = p.channels / kBlock * kBlock;
  const TailBlock tail(p.channels - full_end);
  for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
    const int64_t iy0 = oy * p.stride_h - p.pad_top;
    int64_t ky_lo, ky_hi;
    valid_taps(iy0, p.in_h, p.kernel_h, p.dilation_h, &ky_lo, &ky_hi);
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

}  // namespace

void f32_dwconv_3x3s1__avx2(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<3, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_3x3s2__avx2(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<3, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_5x5s1__avx2(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<5, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_5x5s2__avx2(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<5, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_7x7s1__avx2(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<7, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_7x7s2__avx2(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<7, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_kxk__avx2(const DwConvParams& p, const float* input, const float* packed,
                          float* output, int64_t oh_begin, int64_t oh_end) {
  if (p.activation.kind == ActivationKind::kHardSwish)
    dwconv_generic<HardSwishActivation>(p, input, packed, output, oh_begin, oh_end);
  else
    dwconv_generic<ClampActivation>(p, input, packed, output, oh_begin, oh_end);
}

}  // namespace pare::rt::kernels
