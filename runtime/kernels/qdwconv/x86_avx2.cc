// Int8 depthwise convolution, AVX2: blocks of 8 channels, one ymm of int32 accumulators. Each
// input byte is zero-extended to an int32 lane (upper int16 0), so vpmaddwd against the
// sign-extended int32 weight gives exactly x * w. Output rows and channel blocks are computed
// T pixels at a time as in the float kernels; pad taps read x_zero_point (folded out of the
// packed bias). The last block of fewer than 8 channels goes through a small buffer so no
// byte outside the tensors is read or written. The epilogue is requantize() in 64-bit lanes;
// AVX2 has no 64-bit arithmetic shift, so the rounded product is offset by 2^62 to make it
// non-negative, shifted logically, clamped in that offset domain and the offset removed.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "runtime/kernels/qdwconv/qdwconv.h"

#define PARE_INLINE inline __attribute__((always_inline))

namespace pare::rt::kernels {

namespace {

using qdwconv_detail::block_bytes;
using qdwconv_detail::interior_columns;
using qdwconv_detail::valid_taps;

constexpr int64_t kBlock = 8;

// n == kBlock: a plain 8-byte load; fewer: only the n channels are read.
template <bool kTail>
PARE_INLINE __m256i load_x(const uint8_t* p, int64_t n) {
  if constexpr (kTail) {
    uint64_t v = 0;
    std::memcpy(&v, p, static_cast<size_t>(n));
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(v)));
  } else {
    (void)n;
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
}

PARE_INLINE __m256i mac(__m256i acc, __m256i x, __m256i w) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(x, w));
}

// One channel block's bias, weights and requantization constants (even / odd lanes of the
// 64-bit products).
struct Block {
  __m256i bias, mult, mult_odd;
  __m256i round[2], shift[2], lo[2], hi[2], add[2];
  const int32_t* weights;
  Block(const QDwConvParams& p, const void* packed, int64_t block, int64_t taps) {
    const auto* base = reinterpret_cast<const int32_t*>(static_cast<const uint8_t*>(packed) +
                                                        block * block_bytes(kBlock, taps, 4));
    bias = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base));
    mult = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + kBlock));
    const __m256i sh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + 2 * kBlock));
    weights = base + 3 * kBlock;
    mult_odd = _mm256_srli_epi64(mult, 32);
    shift[0] = _mm256_and_si256(sh, _mm256_set1_epi64x(0xFFFFFFFF));
    shift[1] = _mm256_srli_epi64(sh, 32);
    const __m256i one = _mm256_set1_epi64x(1);
    const __m256i sixty_two = _mm256_set1_epi64x(62);
    const __m256i offset_in = _mm256_set1_epi64x(int64_t{1} << 62);
    for (int h = 0; h < 2; ++h) {
      // (p + 2^(s-1) + 2^62) >> s == ((p + 2^(s-1)) >> s) + 2^(62-s), exactly.
      const __m256i off = _mm256_sllv_epi64(one, _mm256_sub_epi64(sixty_two, shift[h]));
      round[h] = _mm256_add_epi64(_mm256_sllv_epi64(one, _mm256_sub_epi64(shift[h], one)), offset_in);
      lo[h] = _mm256_add_epi64(_mm256_set1_epi64x(p.lo - p.y_zero_point), off);
      hi[h] = _mm256_add_epi64(_mm256_set1_epi64x(p.hi - p.y_zero_point), off);
      add[h] = _mm256_sub_epi64(_mm256_set1_epi64x(p.y_zero_point), off);
    }
  }

  PARE_INLINE __m256i finish(__m256i prod, int h) const {
    __m256i u = _mm256_srlv_epi64(_mm256_add_epi64(prod, round[h]), shift[h]);
    u = _mm256_blendv_epi8(u, lo[h], _mm256_cmpgt_epi64(lo[h], u));
    u = _mm256_blendv_epi8(u, hi[h], _mm256_cmpgt_epi64(u, hi[h]));
    return _mm256_add_epi64(u, add[h]);
  }

  // requantize() of 8 lanes, stored as 8 bytes (or n through a buffer).
  template <bool kTail>
  PARE_INLINE void store(__m256i acc, int64_t n, uint8_t* out) const {
    const __m256i even = finish(_mm256_mul_epi32(acc, mult), 0);
    const __m256i odd = finish(_mm256_mul_epi32(_mm256_srli_epi64(acc, 32), mult_odd), 1);
    const __m256i v = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    const __m256i bytes = _mm256_shuffle_epi8(
        v, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8,
                            12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
    const __m128i packed =
        _mm_unpacklo_epi32(_mm256_castsi256_si128(bytes), _mm256_extracti128_si256(bytes, 1));
    if constexpr (kTail) {
      const auto v64 = static_cast<uint64_t>(_mm_cvtsi128_si64(packed));
      std::memcpy(out, &v64, static_cast<size_t>(n));
    } else {
      (void)n;
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out), packed);
    }
  }
};

template <int K>
struct RegisterWeights {
  __m256i w[K * K];
  explicit RegisterWeights(const int32_t* taps) {
    for (int t = 0; t < K * K; ++t)
      w[t] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(taps + t * kBlock));
  }
  PARE_INLINE void row(int ky, __m256i* out) const {
    for (int kx = 0; kx < K; ++kx) out[kx] = w[ky * K + kx];
  }
};

template <int K>
struct RowWeights {
  const int32_t* taps;
  explicit RowWeights(const int32_t* t) : taps(t) {}
  PARE_INLINE void row(int ky, __m256i* out) const {
    for (int kx = 0; kx < K; ++kx) {
      out[kx] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(taps + (ky * K + kx) * kBlock));
      __asm__("" : "+x"(out[kx]));
    }
  }
};

template <int K>
struct WindowRows {
  const uint8_t* rows[K];
  int64_t ky_lo, ky_hi;
};

template <int K, int S, int T, bool kTail, bool kCheckRows, bool kCheckCols, class Weights>
PARE_INLINE void tile(const WindowRows<K>& win, int64_t col0, int64_t in_w, int64_t ps, int64_t n,
                      const Weights& weights, __m256i bias, __m256i xzp, __m256i* acc) {
  for (int t = 0; t < T; ++t) acc[t] = bias;
#pragma GCC unroll 8
  for (int ky = 0; ky < K; ++ky) {
    const bool row_inside = !kCheckRows || (ky >= win.ky_lo && ky < win.ky_hi);
    __m256i w[K];
    weights.row(ky, w);
#pragma GCC unroll 32
    for (int j = 0; j < (T - 1) * S + K; ++j) {
      const int64_t ix = col0 + j;
      __m256i v;
      if (!row_inside || (kCheckCols && (ix < 0 || ix >= in_w)))
        v = xzp;
      else
        v = load_x<kTail>(win.rows[ky] + ix * ps, n);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const int kx = j - t * S;
        if (kx >= 0 && kx < K) acc[t] = mac(acc[t], v, w[kx]);
      }
    }
  }
}

template <int K, int S, int T, bool kTail, bool kCheckRows, class Weights>
PARE_INLINE void row_tiles(const QDwConvParams& p, const WindowRows<K>& win, int64_t ox_lo,
                           int64_t ox_hi, int64_t* ox, int64_t n, const Weights& w, const Block& b,
                           __m256i xzp, uint8_t* out) {
  const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
  for (; *ox + T <= p.out_w; *ox += T) {
    __m256i acc[T];
    const int64_t col0 = *ox * S - p.pad_left;
    if (*ox >= ox_lo && *ox + T <= ox_hi)
      tile<K, S, T, kTail, kCheckRows, false>(win, col0, p.in_w, ps, n, w, b.bias, xzp, acc);
    else
      tile<K, S, T, kTail, kCheckRows, true>(win, col0, p.in_w, ps, n, w, b.bias, xzp, acc);
    for (int t = 0; t < T; ++t) b.store<kTail>(acc[t], n, out + (*ox + t) * ops);
  }
  if constexpr (T > 1)
    row_tiles<K, S, T / 2, kTail, kCheckRows>(p, win, ox_lo, ox_hi, ox, n, w, b, xzp, out);
}

template <int K, int S, int T, bool kTail>
PARE_INLINE void block_row(const QDwConvParams& p, const WindowRows<K>& win, int64_t ox_lo,
                           int64_t ox_hi, int64_t n, const Block& b, __m256i xzp, uint8_t* out) {
  using Weights = std::conditional_t<K * K <= 9, RegisterWeights<K>, RowWeights<K>>;
  const Weights w(b.weights);
  int64_t ox = 0;
  if (win.ky_lo == 0 && win.ky_hi == K)
    row_tiles<K, S, T, kTail, false>(p, win, ox_lo, ox_hi, &ox, n, w, b, xzp, out);
  else
    row_tiles<K, S, T, kTail, true>(p, win, ox_lo, ox_hi, &ox, n, w, b, xzp, out);
}

template <int K, int S, int T>
void qdwconv_fixed(const QDwConvParams& p, const uint8_t* input, const void* packed,
                   uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  const __m256i xzp = _mm256_set1_epi32(p.x_zero_point);
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

// Any kernel, stride and dilation, one pixel at a time; weights from the packed buffer.
template <bool kTail>
void generic_block_row(const QDwConvParams& p, const uint8_t* in, int64_t iy0, int64_t ky_lo,
                       int64_t ky_hi, int64_t n, const Block& b, __m256i xzp, uint8_t* out) {
  const int64_t kh = p.kernel_h, kw = p.kernel_w, ps = p.in_pixel_stride;
  const int64_t row_stride = p.in_w * ps;
  for (int64_t ox = 0; ox < p.out_w; ++ox) {
    const int64_t ix0 = ox * p.stride_w - p.pad_left;
    int64_t kx_lo, kx_hi;
    valid_taps(ix0, p.in_w, kw, p.dilation_w, &kx_lo, &kx_hi);
    __m256i acc0 = b.bias, acc1 = _mm256_setzero_si256();
    for (int64_t ky = 0; ky < kh; ++ky) {
      const bool row_in = ky >= ky_lo && ky < ky_hi;
      const uint8_t* row = in + (row_in ? (iy0 + ky * p.dilation_h) * row_stride : 0);
      const int32_t* wr = b.weights + ky * kw * kBlock;
      for (int64_t kx = 0; kx < kw; ++kx) {
        const __m256i v = row_in && kx >= kx_lo && kx < kx_hi
                              ? load_x<kTail>(row + (ix0 + kx * p.dilation_w) * ps, n)
                              : xzp;
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + kx * kBlock));
        if (kx & 1)
          acc1 = mac(acc1, v, wv);
        else
          acc0 = mac(acc0, v, wv);
      }
    }
    b.store<kTail>(_mm256_add_epi32(acc0, acc1), n, out + ox * p.out_pixel_stride);
  }
}

void qdwconv_generic(const QDwConvParams& p, const uint8_t* input, const void* packed,
                     uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  const __m256i xzp = _mm256_set1_epi32(p.x_zero_point);
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

void q8_dwconv_3x3s1__avx2(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<3, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_3x3s2__avx2(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<3, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_5x5s1__avx2(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<5, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_5x5s2__avx2(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<5, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_kxk__avx2(const QDwConvParams& p, const uint8_t* input, const void* packed,
                         uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_generic(p, input, packed, output, oh_begin, oh_end);
}

}  // namespace pare::rt::kernels
