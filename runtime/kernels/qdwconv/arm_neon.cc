// Int8 depthwise convolution, NEON (AArch64): blocks of 16 channels held as four int32x4
// accumulators. Input bytes widen to int16 (uxtl) and multiply-accumulate against the packed
// int16 weights with smlal / smlal2 (int16 x int16 -> int32). Output rows and channel blocks
// are computed T pixels at a time, each input column of the tile loaded once; pad taps read
// x_zero_point (folded out of the packed bias). The last block of fewer than 16 channels goes
// through a small buffer so no byte outside the tensors is read or written. The epilogue is
// requantize(): 64-bit products (smull), rounding add, arithmetic shift (sshl by -shift),
// saturating narrow to int32 (the clamp bounds are far inside int32), + zero point, clamp.
#include <arm_neon.h>

#include <algorithm>
#include <cstring>

#include "runtime/kernels/qdwconv/qdwconv.h"

#define PARE_INLINE inline __attribute__((always_inline))

namespace pare::rt::kernels {

namespace {

using qdwconv_detail::block_bytes;
using qdwconv_detail::interior_columns;
using qdwconv_detail::valid_taps;

constexpr int64_t kBlock = 16;

// 16 input bytes widened to two int16x8 (channels 0-7, 8-15).
struct X {
  int16x8_t lo, hi;
};

template <bool kTail>
PARE_INLINE X load_x(const uint8_t* p, int64_t n) {
  uint8x16_t v;
  if constexpr (kTail) {
    uint8_t buf[kBlock] = {};
    std::memcpy(buf, p, static_cast<size_t>(n));
    v = vld1q_u8(buf);
  } else {
    (void)n;
    v = vld1q_u8(p);
  }
  return {vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(v))), vreinterpretq_s16_u16(vmovl_high_u8(v))};
}

struct Acc {
  int32x4_t v[4];
};

struct W {
  int16x8_t lo, hi;
};

PARE_INLINE void mac(Acc* a, const X& x, const W& w) {
  a->v[0] = vmlal_s16(a->v[0], vget_low_s16(x.lo), vget_low_s16(w.lo));
  a->v[1] = vmlal_high_s16(a->v[1], x.lo, w.lo);
  a->v[2] = vmlal_s16(a->v[2], vget_low_s16(x.hi), vget_low_s16(w.hi));
  a->v[3] = vmlal_high_s16(a->v[3], x.hi, w.hi);
}

struct Block {
  Acc bias;
  int32x4_t mult[4];
  int64x2_t round[8], neg_shift[8];
  int32x4_t zp, lo, hi;
  const int16_t* weights;
  Block(const QDwConvParams& p, const void* packed, int64_t block, int64_t taps) {
    const uint8_t* base = static_cast<const uint8_t*>(packed) + block * block_bytes(kBlock, taps, 2);
    const auto* b = reinterpret_cast<const int32_t*>(base);
    int32_t shifts[kBlock];
    std::memcpy(shifts, b + 2 * kBlock, sizeof(shifts));
    for (int i = 0; i < 4; ++i) {
      bias.v[i] = vld1q_s32(b + 4 * i);
      mult[i] = vld1q_s32(b + kBlock + 4 * i);
    }
    for (int i = 0; i < 8; ++i) {
      const int64_t s0 = shifts[2 * i], s1 = shifts[2 * i + 1];
      const int64_t r[2] = {int64_t{1} << (s0 - 1), int64_t{1} << (s1 - 1)};
      const int64_t ns[2] = {-s0, -s1};
      round[i] = vld1q_s64(r);
      neg_shift[i] = vld1q_s64(ns);
    }
    zp = vdupq_n_s32(p.y_zero_point);
    lo = vdupq_n_s32(p.lo);
    hi = vdupq_n_s32(p.hi);
    weights = reinterpret_cast<const int16_t*>(base + 3 * 4 * kBlock);
  }

  PARE_INLINE W weight(int64_t tap) const {
    return {vld1q_s16(weights + tap * kBlock), vld1q_s16(weights + tap * kBlock + 8)};
  }

  PARE_INLINE int32x4_t requant4(int32x4_t acc, int i) const {
    int64x2_t a = vmull_s32(vget_low_s32(acc), vget_low_s32(mult[i]));
    int64x2_t b = vmull_high_s32(acc, mult[i]);
    a = vshlq_s64(vaddq_s64(a, round[2 * i]), neg_shift[2 * i]);
    b = vshlq_s64(vaddq_s64(b, round[2 * i + 1]), neg_shift[2 * i + 1]);
    const int32x4_t v = vqaddq_s32(vcombine_s32(vqmovn_s64(a), vqmovn_s64(b)), zp);
    return vminq_s32(vmaxq_s32(v, lo), hi);
  }

  template <bool kTail>
  PARE_INLINE void store(const Acc& a, int64_t n, uint8_t* out) const {
    const int16x8_t h0 = vmovn_high_s32(vmovn_s32(requant4(a.v[0], 0)), requant4(a.v[1], 1));
    const int16x8_t h1 = vmovn_high_s32(vmovn_s32(requant4(a.v[2], 2)), requant4(a.v[3], 3));
    const uint8x16_t bytes = vreinterpretq_u8_s8(vmovn_high_s16(vmovn_s16(h0), h1));
    if constexpr (kTail) {
      uint8_t buf[kBlock];
      vst1q_u8(buf, bytes);
      std::memcpy(out, buf, static_cast<size_t>(n));
    } else {
      (void)n;
      vst1q_u8(out, bytes);
    }
  }
};

template <int K>
struct WindowRows {
  const uint8_t* rows[K];
  int64_t ky_lo, ky_hi;
};

// T output pixels of one row, first taps at input column col0; one kernel row of weights
// loaded at a time and shared by the T pixels.
template <int K, int S, int T, bool kTail, bool kCheckRows, bool kCheckCols>
PARE_INLINE void tile(const WindowRows<K>& win, int64_t col0, int64_t in_w, int64_t ps, int64_t n,
                      const Block& b, const X& xzp, Acc* acc) {
  for (int t = 0; t < T; ++t) acc[t] = b.bias;
#pragma GCC unroll 8
  for (int ky = 0; ky < K; ++ky) {
    const bool row_inside = !kCheckRows || (ky >= win.ky_lo && ky < win.ky_hi);
    W w[K];
    for (int kx = 0; kx < K; ++kx) w[kx] = b.weight(ky * K + kx);
#pragma GCC unroll 32
    for (int j = 0; j < (T - 1) * S + K; ++j) {
      const int64_t ix = col0 + j;
      X v;
      if (!row_inside || (kCheckCols && (ix < 0 || ix >= in_w)))
        v = xzp;
      else
        v = load_x<kTail>(win.rows[ky] + ix * ps, n);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const int kx = j - t * S;
        if (kx >= 0 && kx < K) mac(&acc[t], v, w[kx]);
      }
    }
  }
}

template <int K, int S, int T, bool kTail, bool kCheckRows>
PARE_INLINE void row_tiles(const QDwConvParams& p, const WindowRows<K>& win, int64_t ox_lo,
                           int64_t ox_hi, int64_t* ox, int64_t n, const Block& b, const X& xzp,
                           uint8_t* out) {
  const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
  for (; *ox + T <= p.out_w; *ox += T) {
    Acc acc[T];
    const int64_t col0 = *ox * S - p.pad_left;
    if (*ox >= ox_lo && *ox + T <= ox_hi)
      tile<K, S, T, kTail, kCheckRows, false>(win, col0, p.in_w, ps, n, b, xzp, acc);
    else
      tile<K, S, T, kTail, kCheckRows, true>(win, col0, p.in_w, ps, n, b, xzp, acc);
    for (int t = 0; t < T; ++t) b.store<kTail>(acc[t], n, out + (*ox + t) * ops);
  }
  if constexpr (T > 1)
    row_tiles<K, S, T / 2, kTail, kCheckRows>(p, win, ox_lo, ox_hi, ox, n, b, xzp, out);
}

template <int K, int S, int T, bool kTail>
PARE_INLINE void block_row(const QDwConvParams& p, const WindowRows<K>& win, int64_t ox_lo,
                           int64_t ox_hi, int64_t n, const Block& b, const X& xzp, uint8_t* out) {
  int64_t ox = 0;
  if (win.ky_lo == 0 && win.ky_hi == K)
    row_tiles<K, S, T, kTail, false>(p, win, ox_lo, ox_hi, &ox, n, b, xzp, out);
  else
    row_tiles<K, S, T, kTail, true>(p, win, ox_lo, ox_hi, &ox, n, b, xzp, out);
}

X zero_point_x(int32_t x_zero_point) {
  const int16x8_t v = vdupq_n_s16(static_cast<int16_t>(x_zero_point));
  return {v, v};
}

template <int K, int S, int T>
void qdwconv_fixed(const QDwConvParams& p, const uint8_t* input, const void* packed,
                   uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  const X xzp = zero_point_x(p.x_zero_point);
  int64_t ox_lo, ox_hi;
  interior_columns(p, &ox_lo, &ox_hi);
  const int64_t row_stride = p.in_w * p.in_pixel_stride;
  for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
    const int64_t iy0 = oy * S - p.pad_top;
    WindowRows<K> win;
    valid_taps(iy0, p.in_h, K, 1, &win.ky_lo, &win.ky_hi);
    uint8_t* out_row = output + oy * p.out_w * p.out_pixel_stride;
    for (int64_t c = 0; c < p.channels; c += kBlock) {
      const int64_t n = std::min(kBlock, p.channels - c);
      const Block b(p, packed, c / kBlock, K * K);
      for (int ky = 0; ky < K; ++ky) {
        const bool inside = ky >= win.ky_lo && ky < win.ky_hi;
        win.rows[ky] = input + (inside ? (iy0 + ky) * row_stride : 0) + c;
      }
      if (n == kBlock)
        block_row<K, S, T, false>(p, win, ox_lo, ox_hi, n, b, xzp, out_row + c);
      else
        block_row<K, S, T, true>(p, win, ox_lo, ox_hi, n, b, xzp, out_row + c);
    }
  }
}

template <bool kTail>
void generic_block_row(const QDwConvParams& p, const uint8_t* in, int64_t iy0, int64_t ky_lo,
                       int64_t ky_hi, int64_t n, const Block& b, const X& xzp, uint8_t* out) {
  const int64_t kh = p.kernel_h, kw = p.kernel_w, ps = p.in_pixel_stride;
  const int64_t row_stride = p.in_w * ps;
  for (int64_t ox = 0; ox < p.out_w; ++ox) {
    const int64_t ix0 = ox * p.stride_w - p.pad_left;
    int64_t kx_lo, kx_hi;
    valid_taps(ix0, p.in_w, kw, p.dilation_w, &kx_lo, &kx_hi);
    Acc acc = b.bias;
    for (int64_t ky = 0; ky < kh; ++ky) {
      const bool row_in = ky >= ky_lo && ky < ky_hi;
      const uint8_t* row = in + (row_in ? (iy0 + ky * p.dilation_h) * row_stride : 0);
      for (int64_t kx = 0; kx < kw; ++kx) {
        const X v = row_in && kx >= kx_lo && kx < kx_hi
                        ? load_x<kTail>(row + (ix0 + kx * p.dilation_w) * ps, n)
                        : xzp;
        mac(&acc, v, b.weight(ky * kw + kx));
      }
    }
    b.store<kTail>(acc, n, out + ox * p.out_pixel_stride);
  }
}

void qdwconv_generic(const QDwConvParams& p, const uint8_t* input, const void* packed,
                     uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  const X xzp = zero_point_x(p.x_zero_point);
  const int64_t taps = p.kernel_h * p.kernel_w;
  for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
    const int64_t iy0 = oy * p.stride_h - p.pad_top;
    int64_t ky_lo, ky_hi;
    valid_taps(iy0, p.in_h, p.kernel_h, p.dilation_h, &ky_lo, &ky_hi);
    uint8_t* out_row = output + oy * p.out_w * p.out_pixel_stride;
    for (int64_t c = 0; c < p.channels; c += kBlock) {
      const int64_t n = std::min(kBlock, p.channels - c);
      const Block b(p, packed, c / kBlock, taps);
      if (n == kBlock)
        generic_block_row<false>(p, input + c, iy0, ky_lo, ky_hi, n, b, xzp, out_row + c);
      else
        generic_block_row<true>(p, input + c, iy0, ky_lo, ky_hi, n, b, xzp, out_row + c);
    }
  }
}

}  // namespace

void q8_dwconv_3x3s1__neon(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<3, 1, 2>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_3x3s2__neon(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<3, 2, 2>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_5x5s1__neon(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<5, 1, 2>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_5x5s2__neon(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<5, 2, 2>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_kxk__neon(const QDwConvParams& p, const uint8_t* input, const void* packed,
                         uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_generic(p, input, packed, output, oh_begin, oh_end);
}

}  // namespace pare::rt::kernels
