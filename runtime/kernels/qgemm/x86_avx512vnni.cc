// Int8 GEMM microkernel, AVX-512 VNNI: 8 rows x 32 columns of int32 accumulators (two zmm
// per row; a last panel of at most 24 columns runs as zmm + ymm, of at most 16 as one zmm,
// of at most 8 as one ymm). Each vpdpbusd adds 4 products of uint8 A by int8 B per column:
// A's 4 bytes broadcast to every lane, B packed as [32 columns x 4 bytes] per 4 rows of K.
// Products of 4 are at most 4 * 255 * 128, so nothing saturates: the sums are exact.
// GCC 12 reports the undefined pass-through operand of many AVX-512 intrinsics as
// uninitialized (a false positive inside avx512fintrin.h).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstring>

#include "runtime/kernels/qgemm/qgemm.h"

#define PARE_QGEMM_UNROLL _Pragma("GCC unroll 16")

namespace pare::rt::kernels {

namespace {

constexpr size_t kNr = 32;
constexpr size_t kHeader = 3 * kNr * sizeof(int32_t);  // bias, multiplier, shift; 384 bytes

inline __mmask16 lanes(size_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }

inline int32_t load_u32(const uint8_t* p) {
  int32_t x;
  std::memcpy(&x, p, sizeof(x));
  return x;
}

// The last k % 4 bytes of a row, zero-extended (never read past the row).
inline int32_t load_tail(const uint8_t* p, size_t n) {
  int32_t x = 0;
  std::memcpy(&x, p, n);
  return x;
}

// Requantization of 16 columns, as requantize() in requant.h: the even and odd int32 lanes
// each as 8 int64 products, rounded and shifted arithmetically in 64 bits and clamped to
// [lo - zero point, hi - zero point] there; the zero point is added after narrowing.
struct Epilogue {
  __m512i mult_even, mult_odd, shift_even, shift_odd, round_even, round_odd;

  Epilogue(__m512i m, __m512i s) {
    const __m512i low = _mm512_set1_epi64(0xffffffff), one = _mm512_set1_epi64(1);
    mult_even = m;
    mult_odd = _mm512_srli_epi64(m, 32);
    shift_even = _mm512_and_si512(s, low);
    shift_odd = _mm512_srli_epi64(s, 32);
    round_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(shift_even, one));
    round_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(shift_odd, one));
  }

  // lo, hi: 64-bit lanes of lo - zp and hi - zp; zp: 32-bit lanes.
  __m512i apply(__m512i acc, __m512i zp, __m512i lo, __m512i hi) const {
    __m512i e = _mm512_mul_epi32(acc, mult_even);  // signed low 32 bits of each 64-bit lane
    __m512i o = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), mult_odd);
    e = _mm512_srav_epi64(_mm512_add_epi64(e, round_even), shift_even);
    o = _mm512_srav_epi64(_mm512_add_epi64(o, round_odd), shift_odd);
    e = _mm512_min_epi64(_mm512_max_epi64(e, lo), hi);
    o = _mm512_min_epi64(_mm512_max_epi64(o, lo), hi);
    // Odd 32-bit lanes from the low halves of o's 64-bit lanes.
    return _mm512_add_epi32(_mm512_mask_shuffle_epi32(e, 0xAAAA, o, _MM_PERM_CDAB), zp);
  }
};

// The usual case, a real scale below 1/2 (every shift >= 32, or a zero multiplier): |acc *
// multiplier| < 2^62, so the rounded and shifted product fits in int32 and is the high half
// of the rounded 64-bit product shifted right by shift - 32 in 32-bit lanes (a zero
// multiplier with shift 1 shifts 0 by an out-of-range count, which gives 0 as well).
struct FastScale {
  __m512i mult_odd, round_even, round_odd, mult, shift;

  FastScale(__m512i m, __m512i s) : mult(m) {
    const __m512i one = _mm512_set1_epi64(1);
    mult_odd = _mm512_srli_epi64(m, 32);
    round_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(_mm512_and_si512(s, _mm512_set1_epi64(0xffffffff)), one));
    round_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(_mm512_srli_epi64(s, 32), one));
    shift = _mm512_sub_epi32(s, _mm512_set1_epi32(32));
  }

  // The scaled accumulators, before the zero point and the clamp.
  __m512i apply(__m512i acc) const {
    const __m512i e = _mm512_add_epi64(_mm512_mul_epi32(acc, mult), round_even);
    const __m512i o = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(acc, 32), mult_odd), round_odd);
    // Even 32-bit lanes from the high halves of e's 64-bit lanes, odd ones from o's.
    return _mm512_srav_epi32(_mm512_mask_shuffle_epi32(o, 0x5555, e, _MM_PERM_CDAB), shift);
  }
};

// True when every one of the first n columns has shift >= 32 or multiplier 0.
inline bool fast_columns(const int32_t* mult, const int32_t* shift, size_t n) {
  const __mmask16 m = lanes(n);
  const __m512i s = _mm512_maskz_loadu_epi32(m, shift), mu = _mm512_maskz_loadu_epi32(m, mult);
  const __mmask16 slow = _mm512_mask_cmplt_epi32_mask(m, s, _mm512_set1_epi32(32)) &
                         _mm512_cmpneq_epi32_mask(mu, _mm512_setzero_si512());
  return slow == 0;
}

// Scaled int32 rows to bytes by saturating packs: int32 -> int16 (saturation keeps anything
// beyond int16 beyond the byte range), + zero point saturating in int16, -> uint8 (kSigned:
// int8) saturating, then the clamp [lo, hi] in bytes. Valid when [lo, hi] lies in the byte
// range of the signedness and |zero point| < 2^15 - 2^8.
template <bool kSigned>
struct BytePacker {
  __m512i zp16, lo8, hi8, order;

  BytePacker(int32_t zp, int32_t lo, int32_t hi)
      : zp16(_mm512_set1_epi16(static_cast<int16_t>(zp))),
        lo8(_mm512_set1_epi8(static_cast<char>(lo))),
        hi8(_mm512_set1_epi8(static_cast<char>(hi))),
        // After two in-lane packs, 128-bit lane l holds dwords (r0, r1, r2, r3) of lane l of
        // the four inputs: gather each input's dwords into a lane of its own.
        order(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)) {}

  __m512i words(__m512i x, __m512i y) const { return _mm512_adds_epi16(_mm512_packs_epi32(x, y), zp16); }

  // Bytes of (x0, x1, x2, x3) laid out as 128-bit lanes (x0 x1 packed, x2 x3 packed).
  __m512i bytes(__m512i x01, __m512i x23) const {
    __m512i b = kSigned ? _mm512_packs_epi16(x01, x23) : _mm512_packus_epi16(x01, x23);
    b = _mm512_permutexvar_epi32(order, b);
    return kSigned ? _mm512_min_epi8(_mm512_max_epi8(b, lo8), hi8) : _mm512_min_epu8(_mm512_max_epu8(b, lo8), hi8);
  }
};

// Stores MR rows of Z (1 or 2) groups of 16 scaled columns through BytePacker.
template <size_t MR, size_t Z, bool kSigned>
void store_packed(const __m512i (&v)[MR][Z], size_t nc, uint8_t* c, size_t c_stride, int32_t zp, int32_t lo,
                  int32_t hi) {
  const BytePacker<kSigned> pk(zp, lo, hi);
  if constexpr (Z == 2) {
    // Two rows per zmm: row i in the low 32 bytes, row i + 1 in the high ones.
    const __mmask32 mask = nc >= 32 ? ~__mmask32(0) : __mmask32((1u << nc) - 1);
    PARE_QGEMM_UNROLL
    for (size_t i = 0; i < MR; i += 2) {
      const size_t i1 = i + 1 < MR ? i + 1 : i;
      const __m512i b = pk.bytes(pk.words(v[i][0], v[i][1]), pk.words(v[i1][0], v[i1][1]));
      uint8_t* row = c + i * c_stride;
      if (nc >= 32) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(row), _mm512_castsi512_si256(b));
        if (i + 1 < MR)
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + c_stride), _mm512_extracti64x4_epi64(b, 1));
      } else {
        _mm256_mask_storeu_epi8(row, mask, _mm512_castsi512_si256(b));
        if (i + 1 < MR) _mm256_mask_storeu_epi8(row + c_stride, mask, _mm512_extracti64x4_epi64(b, 1));
      }
    }
  } else {
    // One row per vpmovdb (register form: the memory form is slow on some cores).
    const __mmask16 mask = lanes(nc);
    const __m512i zp32 = _mm512_set1_epi32(zp), lo32 = _mm512_set1_epi32(lo - zp), hi32 = _mm512_set1_epi32(hi - zp);
    PARE_QGEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) {
      const __m512i x = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v[i][0], lo32), hi32), zp32);
      const __m128i r = _mm512_cvtepi32_epi8(x);
      uint8_t* row = c + i * c_stride;
      if (nc >= 16) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(row), r);
      } else {
        _mm_mask_storeu_epi8(row, mask, r);
      }
    }
  }
}

// Rows x (16*Z + 8*Y) columns of the panel: columns past the last multiple of 8 that holds
// data are zero padding, so the tile skips them.
template <size_t MR, size_t Z, size_t Y>
void tile(size_t nc, size_t k, const uint8_t* a, size_t a_stride, const uint8_t* panel, uint8_t* c,
          size_t c_stride, int32_t c_zero_point, int32_t lo, int32_t hi) {
  static_assert(16 * Z + 8 * Y <= kNr && Y <= 1, "tile wider than the panel");
  constexpr size_t kZ = Z > 0 ? Z : 1;
  const auto* bias = reinterpret_cast<const int32_t*>(panel);
  const uint8_t* w = panel + kHeader;
  __m512i acc[MR][kZ];
  __m256i half[MR];
  PARE_QGEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) {
    if constexpr (Z > 0) {
      PARE_QGEMM_UNROLL
      for (size_t j = 0; j < Z; ++j) acc[i][j] = _mm512_loadu_si512(bias + 16 * j);
    }
    if constexpr (Y > 0) half[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + 16 * Z));
  }
  const size_t k4 = k / 4;
  auto step = [&](auto&& a_bytes) {
    __m512i b[kZ];
    if constexpr (Z > 0) {
      PARE_QGEMM_UNROLL
      for (size_t j = 0; j < Z; ++j) b[j] = _mm512_loadu_si512(w + 64 * j);
    }
    __m256i b_half;
    if constexpr (Y > 0) b_half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * Z));
    PARE_QGEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) {
      const int32_t x = a_bytes(a + i * a_stride);
      if constexpr (Z > 0) {
        const __m512i av = _mm512_set1_epi32(x);
        PARE_QGEMM_UNROLL
        for (size_t j = 0; j < Z; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], av, b[j]);
      }
      if constexpr (Y > 0) half[i] = _mm256_dpbusd_epi32(half[i], _mm256_set1_epi32(x), b_half);
    }
    w += kNr * 4;
  };
  for (size_t g = 0; g < k4; ++g) step([g](const uint8_t* row) { return load_u32(row + 4 * g); });
  if (k % 4) step([k4, k](const uint8_t* row) { return load_tail(row + 4 * k4, k % 4); });

  const auto* mult = reinterpret_cast<const int32_t*>(panel + kNr * sizeof(int32_t));
  const auto* shift = reinterpret_cast<const int32_t*>(panel + 2 * kNr * sizeof(int32_t));
  if constexpr (Z > 0) {
    // The packed path needs the clamp inside one byte range and a small zero point.
    const bool as_u8 = lo >= 0 && hi <= 255, as_s8 = lo >= -128 && hi <= 127;
    if ((as_u8 || as_s8) && c_zero_point > -32000 && c_zero_point < 32000 &&
        fast_columns(mult, shift, nc < 16 * Z ? nc : 16 * Z) &&
        (Z == 1 || fast_columns(mult + 16, shift + 16, nc - 16))) {
      PARE_QGEMM_UNROLL
      for (size_t j = 0; j < Z; ++j) {
        const FastScale fs(_mm512_loadu_si512(mult + 16 * j), _mm512_loadu_si512(shift + 16 * j));
        PARE_QGEMM_UNROLL
        for (size_t i = 0; i < MR; ++i) acc[i][j] = fs.apply(acc[i][j]);
      }
      const size_t ncz = nc < 16 * Z ? nc : 16 * Z;
      if (as_u8) {
        store_packed<MR, Z, false>(acc, ncz, c, c_stride, c_zero_point, lo, hi);
      } else {
        store_packed<MR, Z, true>(acc, ncz, c, c_stride, c_zero_point, lo, hi);
      }
    } else {
      const __m512i zp = _mm512_set1_epi32(c_zero_point);
      const __m512i vlo = _mm512_set1_epi64(int64_t{lo} - c_zero_point);
      const __m512i vhi = _mm512_set1_epi64(int64_t{hi} - c_zero_point);
      PARE_QGEMM_UNROLL
      for (size_t j = 0; j < Z; ++j) {
        const Epilogue ep(_mm512_loadu_si512(mult + 16 * j), _mm512_loadu_si512(shift + 16 * j));
        const __mmask16 mask = lanes(nc - 16 * j);
        PARE_QGEMM_UNROLL
        for (size_t i = 0; i < MR; ++i)
          _mm512_mask_cvtepi32_storeu_epi8(c + i * c_stride + 16 * j, mask, ep.apply(acc[i][j], zp, vlo, vhi));
      }
    }
  }
  if constexpr (Y > 0) {
    // The 8-column halves of two rows per zmm.
    const __m512i zp = _mm512_set1_epi32(c_zero_point);
    const __m512i vlo = _mm512_set1_epi64(int64_t{lo} - c_zero_point);
    const __m512i vhi = _mm512_set1_epi64(int64_t{hi} - c_zero_point);
    const auto* m8 = reinterpret_cast<const __m256i*>(mult + 16 * Z);
    const auto* s8 = reinterpret_cast<const __m256i*>(shift + 16 * Z);
    const Epilogue ep(_mm512_broadcast_i64x4(_mm256_loadu_si256(m8)), _mm512_broadcast_i64x4(_mm256_loadu_si256(s8)));
    const __mmask16 mask = lanes(nc - 16 * Z);
    uint8_t* out = c + 16 * Z;
    PARE_QGEMM_UNROLL
    for (size_t i = 0; i + 1 < MR; i += 2) {
      const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(half[i]), half[i + 1], 1);
      const __m128i bytes = _mm512_cvtepi32_epi8(ep.apply(v, zp, vlo, vhi));
      _mm_mask_storeu_epi8(out + i * c_stride, mask, bytes);
      _mm_mask_storeu_epi8(out + (i + 1) * c_stride, mask, _mm_unpackhi_epi64(bytes, bytes));
    }
    if constexpr (MR % 2 == 1) {
      const __m512i v = _mm512_zextsi256_si512(half[MR - 1]);
      _mm_mask_storeu_epi8(out + (MR - 1) * c_stride, mask, _mm512_cvtepi32_epi8(ep.apply(v, zp, vlo, vhi)));
    }
  }
}

template <size_t MR>
void tile_rows(size_t nc, size_t k, const uint8_t* a, size_t a_stride, const uint8_t* panel,
               uint8_t* c, size_t c_stride, int32_t czp, int32_t lo, int32_t hi) {
  if (nc <= 8) return tile<MR, 0, 1>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
  if (nc <= 16) return tile<MR, 1, 0>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
  if (nc <= 24) return tile<MR, 1, 1>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
  return tile<MR, 2, 0>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
}

}  // namespace

void q8_gemm_8x32__avx512vnni(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                              const void* panel_v, uint8_t* c, size_t c_stride, int32_t czp,
                              int32_t lo, int32_t hi) {
  const auto* panel = static_cast<const uint8_t*>(panel_v);
  switch (mr) {
    case 1: return tile_rows<1>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 2: return tile_rows<2>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 3: return tile_rows<3>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 4: return tile_rows<4>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 5: return tile_rows<5>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 6: return tile_rows<6>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 7: return tile_rows<7>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    default: return tile_rows<8>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
  }
}

}  // namespace pare::rt::kernels
