// Depthwise convolution, AArch64 NEON: blocks of 4 channels (one q register; the last,
// partial block goes through lane loads and stores). Same structure as the x86 kernels: for
// each output row and channel block the row's pixels go T at a time, each input column of
// the tile loaded once; 3x3 weights stay in registers, 5x5 and 7x7 weights are loaded one
// kernel row per tile. Taps in the pads are skipped, never read.
#include <arm_neon.h>

#include <type_traits>

#include "runtime/kernels/dwconv/dwconv.h"

#define PARE_INLINE inline __attribute__((always_inline))

namespace pare::rt::kernels {

namespace {

using dwconv_detail::clamp_bounds;
using dwconv_detail::interior_columns;
using dwconv_detail::valid_taps;

constexpr int64_t kBlock = 4;

struct ClampActivation {
  float32x4_t lo, hi;
  explicit ClampActivation(const FusedActivation& a) {
    float l, h;
    clamp_bounds(a, &l, &h);
    lo = vdupq_n_f32(l);
    hi = vdupq_n_f32(h);
  }
  PARE_INLINE float32x4_t operator()(float32x4_t x) const {
    return vminq_f32(vmaxq_f32(x, lo), hi);
  }
};

struct HardSwishActivation {
  explicit HardSwishActivation(const FusedActivation&) {}
  PARE_INLINE float32x4_t operator()(float32x4_t x) const {
    const float32x4_t gate = vfmaq_f32(vdupq_n_f32(0.5f), x, vdupq_n_f32(1.f / 6.f));
    return vmulq_f32(x, vminq_f32(vmaxq_f32(gate, vdupq_n_f32(0.f)), vdupq_n_f32(1.f)));
  }
};

// Loads and stores of a whole block of 4 channels.
struct FullBlock {
  PARE_INLINE float32x4_t load(const float* p) const { return vld1q_f32(p); }
  PARE_INLINE void store(float* p, float32x4_t v) const { vst1q_f32(p, v); }
};

// Loads and stores of the first `count` (< 4) channels; the other lanes load as zero and
// are never touched in memory.
struct TailBlock {
  int64_t count;
  explicit TailBlock(int64_t n) : count(n) {}
  PARE_INLINE float32x4_t load(const float* p) const {
    float32x4_t v = vld1q_lane_f32(p, vdupq_n_f32(0.f), 0);
    if (count > 1) v = vld1q_lane_f32(p + 1, v, 1);
    if (count > 2) v = vld1q_lane_f32(p + 2, v, 2);
    return v;
  }
  PARE_INLINE void store(float* p, float32x4_t v) const {
    vst1q_lane_f32(p, v, 0);
    if (count > 1) vst1q_lane_f32(p + 1, v, 1);
    if (count > 2) vst1q_lane_f32(p + 2, v, 2);
  }
};

// The weights of one channel block. 3x3: all 9 vectors stay in registers for the whole row.
template <int K>
struct RegisterWeights {
  float32x4_t w[K * K];
  explicit RegisterWeights(const float* taps) {
    for (int t = 0; t < K * K; ++t) w[t] = vld1q_f32(taps + t * kBlock);
  }
  PARE_INLINE void row(int ky, float32x4_t* out) const {
    for (int kx = 0; kx < K; ++kx) out[kx] = w[ky * K + kx];
  }
};

// 5x5 and 7x7: each tile loads one kernel row at a time (K loads shared by the T pixels of
// the tile), which leaves the compiler registers for the accumulators and input columns.
// The empty asm keeps each weight in a register rather than reloaded at every use.
template <int K>
struct RowWeights {
  const float* taps;
  explicit RowWeights(const float* t) : taps(t) {}
  PARE_INLINE void row(int ky, float32x4_t* out) const {
    for (int kx = 0; kx < K; ++kx) {
      out[kx] = vld1q_f32(taps + (ky * K + kx) * kBlock);
      __asm__("" : "+w"(out[kx]));
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
                      const Block& blk, const Weights& weights, float32x4_t bias,
                      float32x4_t* acc) {
  for (int t = 0; t < T; ++t) acc[t] = bias;
#pragma GCC unroll 8
  for (int ky = 0; ky < K; ++ky) {
    if (kCheckRows && (ky < win.ky_lo || ky >= win.ky_hi)) continue;
    float32x4_t w[K];
    weights.row(ky, w);
#pragma GCC unroll 32
    for (int j = 0; j < (T - 1) * S + K; ++j) {
      const int64_t ix = col0 + j;
      if (kCheckCols && (ix < 0 || ix >= in_w)) continue;
      const float32x4_t v = blk.load(win.rows[ky] + ix * ps);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const int kx = j - t * S;
        if (kx >= 0 && kx < K) acc[t] = vfmaq_f32(acc[t], v, w[kx]);
      }
    }
  }
}

// Output pixels [*ox, out_w) of one row and channel block, T at a time, then the rest by
// tiles of T / 2, T / 4, ..., 1. Only tiles that reach into the side pads check columns.
template <int K, int S, int T, bool kCheckRows, class Block, class Weights, class Activation>
PARE_INLINE void row_tiles(const DwConvParams& p, const WindowRows<K>& win, int64_t ox_lo,
                           int64_t ox_hi, int64_t* ox, const Block& blk, const Weights& w,
                           float32x4_t bias, const Activation& act, float* out) {
  const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
  for (; *ox + T <= p.out_w; *ox += T) {
    float32x4_t acc[T];
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
  const float32x4_t bias = vld1q_f32(wp);
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
  const float32x4_t bias = vld1q_f32(wp);
  auto pixel = [&](int64_t ox) {
    const int64_t ix0 = ox * p.stride_w - p.pad_left;
    int64_t kx_lo, kx_hi;
    valid_taps(ix0, p.in_w, kw, p.dilation_w, &kx_lo, &kx_hi);
    float32x4_t acc = bias;
    for (int64_t ky = ky_lo; ky < ky_hi; ++ky) {
      const float* row = in + (iy0 + ky * p.dilation_h) * row_stride;
      const float* wr = wp + (1 + ky * kw) * kBlock;
      for (int64_t kx = kx_lo; kx < kx_hi; ++kx)
        acc = vfmaq_f32(acc, blk.load(row + (ix0 + kx * p.dilation_w) * ps),
                        vld1q_f32(wr + kx * kBlock));
    }
    blk.store(out + ox * ops, act(acc));
  };
  int64_t ox = 0;
  for (; ox < ox_lo; ++ox) pixel(ox);
  for (; ox + T <= ox_hi; ox += T) {
    float32x4_t acc[T] = {bias, bias, bias, bias};
    const int64_t ix0 = ox * p.stride_w - p.pad_left;
    for (int64_t ky = ky_lo; ky < ky_hi; ++ky) {
      const float* row = in + (iy0 + ky * p.dilation_h) * row_stride + ix0 * ps;
      const float* wr = wp + (1 + ky * kw) * kBlock;
      for (int64_t kx = 0; kx < kw; ++kx) {
        const float32x4_t wv = vld1q_f32(wr + kx * kBlock);
        const float* tap = row + kx * tap_step;
        for (int t = 0; t < T; ++t) acc[t] = vfmaq_f32(acc[t], blk.load(tap + t * tile_step), wv);
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

void f32_dwconv_3x3s1__neon(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<3, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_3x3s2__neon(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<3, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_5x5s1__neon(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<5, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_5x5s2__neon(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<5, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_7x7s1__neon(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<7, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_7x7s2__neon(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  dwconv_fixed_any_activation<7, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_kxk__neon(const DwConvParams& p, const float* input, const float* packed,
                          float* output, int64_t oh_begin, int64_t oh_end) {
  if (p.activation.kind == ActivationKind::kHardSwish)
    dwconv_generic<HardSwishActivation>(p, input, packed, output, oh_begin, oh_end);
  else
    dwconv_generic<ClampActivation>(p, input, packed, output, oh_begin, oh_end);
}

}  // namespace pare::rt::kernels
