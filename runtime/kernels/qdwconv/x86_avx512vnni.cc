// Int8 depthwise convolution, AVX-512 VNNI. The fixed-shape kernels (3x3 and 5x5, stride 1
// and 2) use vpdpbusd, four taps of one input column per int32 lane: for each input column
// the bytes of kernel rows 4h..4h+3 are interleaved with byte and word unpacks, so one
// vpdpbusd adds four taps for 16 channels, and a column built once serves every output pixel
// of the tile whose window covers it. Blocks of 64 channels: the unpacks work within 128-bit
// lanes, so accumulator q holds channels 16L + 4q + i at lane 4L + i (the packed bias,
// requantization and weights use that order) and the saturating packs at the end put the
// bytes back in channel order. A block of at most 32 channels (a narrow layer, or the last
// block of 144 or 96) computes two output pixels per vector, ox and ox + ceil(out_w / 2). The generic kxk kernel is the template of vector_impl.h on the
// AVX-512 channel block (x86_avx512.h), whose multiply-accumulate is vpdpwssd here.
#include <immintrin.h>

#include <cstdint>

#include "runtime/kernels/qdwconv/x86_avx512.h"

#define PARE_INLINE inline __attribute__((always_inline))

namespace pare::rt::kernels {
namespace {

using qdwconv_detail::dot4_block_bytes;
using qdwconv_detail::interior_columns;
using qdwconv_detail::valid_taps;

constexpr int64_t kDotBlock = 64;

PARE_INLINE __mmask64 byte_mask(int64_t remaining) {
  return remaining >= kDotBlock ? ~__mmask64(0) : (__mmask64(1) << remaining) - 1;
}

// Lane 4L + i of out[q] = bytes (a, b, c, d) of channel 16L + 4q + i.
PARE_INLINE void interleave4(__m512i a, __m512i b, __m512i c, __m512i d, __m512i* out) {
  const __m512i ab_lo = _mm512_unpacklo_epi8(a, b), ab_hi = _mm512_unpackhi_epi8(a, b);
  const __m512i cd_lo = _mm512_unpacklo_epi8(c, d), cd_hi = _mm512_unpackhi_epi8(c, d);
  out[0] = _mm512_unpacklo_epi16(ab_lo, cd_lo);
  out[1] = _mm512_unpackhi_epi16(ab_lo, cd_lo);
  out[2] = _mm512_unpacklo_epi16(ab_hi, cd_hi);
  out[3] = _mm512_unpackhi_epi16(ab_hi, cd_hi);
}

enum { kScaleFast, kScaleHigh, kScaleWide };

// One 64-channel block of the packed buffer and its requantization constants.
struct DotBlock {
  __m512i bias[4], mult[4], mult_odd[4];
  // The scaling the block's shifts allow (lanes with a zero multiplier give 0 on every path):
  // kScaleFast, every shift >= 33: the high dword of the 64-bit product, plus 2^(shift-33) and
  // shifted by shift-32, is the rounded result. kScaleHigh, every shift >= 32: the high dword
  // of the product plus 2^(shift-1) (in 64 bits), shifted by shift-32. kScaleWide: rounded,
  // shifted and clamped in 64 bits.
  __m512i round32[4], shift32[4];
  __m512i round_even[4], round_odd[4], shift_even[4], shift_odd[4];
  const uint8_t* weights;
  int scaling;
  DotBlock(const void* packed, int64_t block, int64_t groups) {
    const auto* base = static_cast<const uint8_t*>(packed) + block * dot4_block_bytes(groups);
    const auto* b = reinterpret_cast<const int32_t*>(base);
    weights = base + 12 * kDotBlock;
    const __m512i one = _mm512_set1_epi32(1), one64 = _mm512_set1_epi64(1);
    __mmask16 below33 = 0, below32 = 0;
    for (int q = 0; q < 4; ++q) {
      bias[q] = _mm512_loadu_si512(b + q * 16);
      mult[q] = _mm512_loadu_si512(b + kDotBlock + q * 16);
      const __m512i shift = _mm512_loadu_si512(b + 2 * kDotBlock + q * 16);
      mult_odd[q] = _mm512_srli_epi64(mult[q], 32);
      const __mmask16 nonzero = _mm512_test_epi32_mask(mult[q], mult[q]);
      below33 |= _mm512_mask_cmplt_epi32_mask(nonzero, shift, _mm512_set1_epi32(33));
      below32 |= _mm512_mask_cmplt_epi32_mask(nonzero, shift, _mm512_set1_epi32(32));
      // Counts past 31 (zero-multiplier lanes) give 0, which is what those lanes need.
      shift32[q] = _mm512_sub_epi32(shift, _mm512_set1_epi32(32));
      round32[q] = _mm512_sllv_epi32(one, _mm512_sub_epi32(shift32[q], one));
      shift_even[q] = _mm512_and_si512(shift, _mm512_set1_epi64(0xFFFFFFFF));
      shift_odd[q] = _mm512_srli_epi64(shift, 32);
      round_even[q] = _mm512_sllv_epi64(one64, _mm512_sub_epi64(shift_even[q], one64));
      round_odd[q] = _mm512_sllv_epi64(one64, _mm512_sub_epi64(shift_odd[q], one64));
    }
    scaling = below33 == 0 ? kScaleFast : below32 == 0 ? kScaleHigh : kScaleWide;
  }
};

// requantize() for 64 channels, bytes stored in channel order. The results are offset by
// -off (off = 128 when hi > 127) so that the signed saturating packs are exact; the byte
// clamp to [lo, hi] - off and the xor with off finish the job. Two pixels per tile: more
// accumulators spill.
struct DotEpilogue {
  __m512i zp, lo64, hi64, lo8, hi8, off8;  // zp: int16, minus off
  explicit DotEpilogue(const QDwConvParams& p) {
    const int32_t off = p.hi > 127 ? 128 : 0;
    zp = _mm512_set1_epi16(static_cast<int16_t>(p.y_zero_point - off));
    lo64 = _mm512_set1_epi64(p.lo - p.y_zero_point);
    hi64 = _mm512_set1_epi64(p.hi - p.y_zero_point);
    lo8 = _mm512_set1_epi8(static_cast<char>(p.lo - off));
    hi8 = _mm512_set1_epi8(static_cast<char>(p.hi - off));
    off8 = _mm512_set1_epi8(static_cast<char>(off));
  }
  template <int kScaling>
  PARE_INLINE __m512i scale(const DotBlock& b, int q, __m512i acc) const {
    const __m512i even = _mm512_mul_epi32(acc, b.mult[q]);
    const __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), b.mult_odd[q]);
    if constexpr (kScaling == kScaleFast) {
      // Even lanes take the high dwords of the even products; odd lanes already hold theirs.
      const __m512i hi = _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_DDBB);
      return _mm512_srav_epi32(_mm512_add_epi32(hi, b.round32[q]), b.shift32[q]);
    } else if constexpr (kScaling == kScaleHigh) {
      const __m512i e = _mm512_add_epi64(even, b.round_even[q]), o = _mm512_add_epi64(odd, b.round_odd[q]);
      return _mm512_srav_epi32(_mm512_mask_shuffle_epi32(o, 0x5555, e, _MM_PERM_DDBB), b.shift32[q]);
    } else {
      __m512i e = _mm512_srav_epi64(_mm512_add_epi64(even, b.round_even[q]), b.shift_even[q]);
      __m512i o = _mm512_srav_epi64(_mm512_add_epi64(odd, b.round_odd[q]), b.shift_odd[q]);
      e = _mm512_min_epi64(_mm512_max_epi64(e, lo64), hi64);
      o = _mm512_min_epi64(_mm512_max_epi64(o, lo64), hi64);
      return _mm512_mask_shuffle_epi32(e, 0xAAAA, o, _MM_PERM_CCAA);
    }
  }
  // The 64 output bytes of a block in channel order.
  template <int kScaling>
  PARE_INLINE __m512i bytes(const DotBlock& b, const __m512i* acc) const {
    // The zero point is added to int16 lanes with saturation: exact after the final clamp.
    const __m512i w01 = _mm512_adds_epi16(
        _mm512_packs_epi32(scale<kScaling>(b, 0, acc[0]), scale<kScaling>(b, 1, acc[1])), zp);
    const __m512i w23 = _mm512_adds_epi16(
        _mm512_packs_epi32(scale<kScaling>(b, 2, acc[2]), scale<kScaling>(b, 3, acc[3])), zp);
    __m512i v = _mm512_packs_epi16(w01, w23);
    v = _mm512_min_epi8(_mm512_max_epi8(v, lo8), hi8);
    return _mm512_xor_si512(v, off8);
  }
};

template <int K>
struct DotRows {
  const uint8_t* rows[K];
  int64_t ky_lo, ky_hi;
};

// One row's 64 bytes at input column ix, or x_zero_point where the column is outside. Paired:
// the low 32 bytes from column ix, the high 32 from column ix + pair (the second pixel).
template <bool kPaired, bool kCheckCols>
PARE_INLINE __m512i load_column(const uint8_t* row, int64_t ix, int64_t pair, int64_t in_w, int64_t ps,
                                __mmask64 m, __m512i xzp) {
  if constexpr (kPaired) {
    const auto m32 = static_cast<__mmask32>(m);
    const __m256i z = _mm512_castsi512_si256(xzp);
    const __m256i lo = ix >= 0 && ix < in_w ? _mm256_maskz_loadu_epi8(m32, row + ix * ps) : z;
    const int64_t jx = ix + pair;
    const __m256i hi = jx >= 0 && jx < in_w ? _mm256_maskz_loadu_epi8(m32, row + jx * ps) : z;
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  } else {
    if (kCheckCols && (ix < 0 || ix >= in_w)) return xzp;
    return _mm512_maskz_loadu_epi8(m, row + ix * ps);
  }
}

// T neighbouring output pixels of one 64-channel block, first taps at input column col0
// (pixel t at col0 + t * S). Each input column is turned into (K + 3) / 4 groups of four
// interleaved rows; with kCheckRows / kCheckCols taps outside the input read x_zero_point.
// kPaired (at most 32 channels): the high half of every vector is a second pixel, `pair`
// input columns to the right, with the block's weights and constants packed twice.
template <int K, int S, int T, bool kCheckRows, bool kCheckCols, bool kPaired>
PARE_INLINE void dot_tile(const DotRows<K>& win, int64_t col0, int64_t pair, int64_t in_w, int64_t ps,
                          __mmask64 m, const DotBlock& b, __m512i xzp, __m512i (*acc)[4]) {
  constexpr int G = (K + 3) / 4;
  for (int t = 0; t < T; ++t)
    for (int q = 0; q < 4; ++q) acc[t][q] = b.bias[q];
#pragma GCC unroll 32
  for (int j = 0; j < (T - 1) * S + K; ++j) {
    const int64_t ix = col0 + j;
    const bool col_out = !kPaired && kCheckCols && (ix < 0 || ix >= in_w);
#pragma GCC unroll 4
    for (int h = 0; h < G; ++h) {
      __m512i v[4];
      if (col_out) {
        v[0] = v[1] = v[2] = v[3] = xzp;
      } else {
        __m512i r[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; ++k) {
          const int ky = 4 * h + k;
          if (ky >= K)
            r[k] = r[0];  // its weight is 0
          else if (kCheckRows && (ky < win.ky_lo || ky >= win.ky_hi))
            r[k] = xzp;
          else
            r[k] = load_column<kPaired, kCheckCols>(win.rows[ky], ix, pair, in_w, ps, m, xzp);
        }
        interleave4(r[0], r[1], r[2], r[3], v);
      }
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        const int kx = j - t * S;
        if (kx < 0 || kx >= K) continue;
        const uint8_t* w = b.weights + (kx * G + h) * 4 * kDotBlock;
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q)
          acc[t][q] = simd::Avx512Int8::dot_u8x4(acc[t][q], v[q], _mm512_loadu_si512(w + q * kDotBlock));
      }
    }
  }
}

// The output pixels [*ox, end) of a row, T at a time. Paired: pixel ox + half of the row
// rides in the high half of pixel ox's vectors (stored where it is inside the row).
template <int K, int S, int T, bool kCheckRows, int kScaling, bool kPaired>
PARE_INLINE void dot_row_tiles(const QDwConvParams& p, const DotRows<K>& win, int64_t ox_lo,
                               int64_t ox_hi, int64_t end, int64_t half, int64_t* ox, __mmask64 m,
                               const DotBlock& b, const DotEpilogue& epi, __m512i xzp, uint8_t* out) {
  const int64_t ps = p.in_pixel_stride, ops = p.out_pixel_stride;
  for (; *ox + T <= end; *ox += T) {
    __m512i acc[T][4];
    const int64_t col0 = *ox * S - p.pad_left;
    if constexpr (kPaired)
      dot_tile<K, S, T, kCheckRows, true, true>(win, col0, half * S, p.in_w, ps, m, b, xzp, acc);
    else if (*ox >= ox_lo && *ox + T <= ox_hi)
      dot_tile<K, S, T, kCheckRows, false, false>(win, col0, 0, p.in_w, ps, m, b, xzp, acc);
    else
      dot_tile<K, S, T, kCheckRows, true, false>(win, col0, 0, p.in_w, ps, m, b, xzp, acc);
    for (int t = 0; t < T; ++t) {
      const __m512i v = epi.bytes<kScaling>(b, acc[t]);
      if constexpr (kPaired) {
        const auto m32 = static_cast<__mmask32>(m);
        _mm256_mask_storeu_epi8(out + (*ox + t) * ops, m32, _mm512_castsi512_si256(v));
        if (*ox + t + half < p.out_w)
          _mm256_mask_storeu_epi8(out + (*ox + t + half) * ops, m32, _mm512_extracti64x4_epi64(v, 1));
      } else {
        _mm512_mask_storeu_epi8(out + (*ox + t) * ops, m, v);
      }
    }
  }
  if constexpr (T > 1)
    dot_row_tiles<K, S, T / 2, kCheckRows, kScaling, kPaired>(p, win, ox_lo, ox_hi, end, half, ox, m, b, epi, xzp,
                                                           out);
}

template <int K, int S, int T, int kScaling, bool kPaired>
PARE_INLINE void dot_row(const QDwConvParams& p, const DotRows<K>& win, int64_t ox_lo, int64_t ox_hi,
                         __mmask64 m, const DotBlock& b, const DotEpilogue& epi, __m512i xzp,
                         uint8_t* out) {
  int64_t ox = 0;
  // Paired, the first ceil(out_w / 2) pixels carry the rest.
  const int64_t half = kPaired ? (p.out_w + 1) / 2 : 0, end = kPaired ? half : p.out_w;
  if (win.ky_lo == 0 && win.ky_hi == K)
    dot_row_tiles<K, S, T, false, kScaling, kPaired>(p, win, ox_lo, ox_hi, end, half, &ox, m, b, epi, xzp, out);
  else
    dot_row_tiles<K, S, T, true, kScaling, kPaired>(p, win, ox_lo, ox_hi, end, half, &ox, m, b, epi, xzp, out);
}

// One output row of one channel block, on the scaling its shifts allow.
template <int K, int S, int T, bool kPaired>
void dot_block_row(const QDwConvParams& p, const DotRows<K>& win, int64_t ox_lo, int64_t ox_hi, __mmask64 m,
                   const DotBlock& b, const DotEpilogue& epi, __m512i xzp, uint8_t* out) {
  if (b.scaling == kScaleFast)
    dot_row<K, S, T, kScaleFast, kPaired>(p, win, ox_lo, ox_hi, m, b, epi, xzp, out);
  else if (b.scaling == kScaleHigh)
    dot_row<K, S, T, kScaleHigh, kPaired>(p, win, ox_lo, ox_hi, m, b, epi, xzp, out);
  else
    dot_row<K, S, T, kScaleWide, kPaired>(p, win, ox_lo, ox_hi, m, b, epi, xzp, out);
}

template <int K, int S, int T>
void qdwconv_dot4(const QDwConvParams& p, const uint8_t* input, const void* packed, uint8_t* output,
                  int64_t oh_begin, int64_t oh_end) {
  constexpr int64_t G = (K + 3) / 4;
  const DotEpilogue epi(p);
  const __m512i xzp = _mm512_set1_epi8(static_cast<char>(p.x_zero_point));
  int64_t ox_lo, ox_hi;
  interior_columns(p, &ox_lo, &ox_hi);
  const int64_t row_stride = p.in_w * p.in_pixel_stride;
  for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
    const int64_t iy0 = oy * S - p.pad_top;
    DotRows<K> win;
    valid_taps(iy0, p.in_h, K, 1, &win.ky_lo, &win.ky_hi);
    uint8_t* out_row = output + oy * p.out_w * p.out_pixel_stride;
    for (int64_t c = 0; c < p.channels; c += kDotBlock) {
      const __mmask64 m = byte_mask(p.channels - c);
      const DotBlock b(packed, c / kDotBlock, K * G);
      for (int ky = 0; ky < K; ++ky) {
        const bool inside = ky >= win.ky_lo && ky < win.ky_hi;
        win.rows[ky] = input + (inside ? (iy0 + ky) * row_stride : 0) + c;
      }
      // A block of at most 32 channels is packed paired (qdwconv.h): two pixels per vector.
      if (p.channels - c <= 32)
        dot_block_row<K, S, T, true>(p, win, ox_lo, ox_hi, m, b, epi, xzp, out_row + c);
      else
        dot_block_row<K, S, T, false>(p, win, ox_lo, ox_hi, m, b, epi, xzp, out_row + c);
    }
  }
}

}  // namespace

void q8_dwconv_3x3s1__avx512vnni(const QDwConvParams& p, const uint8_t* input, const void* packed,
                                 uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_dot4<3, 1, 2>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_3x3s2__avx512vnni(const QDwConvParams& p, const uint8_t* input, const void* packed,
                                 uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_dot4<3, 2, 2>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_5x5s1__avx512vnni(const QDwConvParams& p, const uint8_t* input, const void* packed,
                                 uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_dot4<5, 1, 2>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_5x5s2__avx512vnni(const QDwConvParams& p, const uint8_t* input, const void* packed,
                                 uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_dot4<5, 2, 2>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_kxk__avx512vnni(const QDwConvParams& p, const uint8_t* input, const void* packed,
                               uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_vec::qdwconv_generic<Avx512DwBlock>(p, input, packed, output, oh_begin, oh_end);
}

}  // namespace pare::rt::kernels
