// Int8 GEMM microkernel, AVX2 without VNNI: 6 rows x 16 columns of int32 accumulators (two
// ymm per row; a last panel of at most 8 columns runs as one ymm). B is packed widened to
// int16 as [16 columns x 2 rows] per 2 rows of K; A's two bytes of those rows are zero-extended
// to int16 and broadcast, and vpmaddwd adds both products per column into int32 exactly.
// Not vpmaddubsw: it sums its two uint8 x int8 products into an int16 with saturation, and
// 255 * 127 * 2 > 32767, so results would differ from the reference.
#include <immintrin.h>

#include <cstring>

#include "runtime/kernels/qgemm/qgemm.h"

#define PARE_QGEMM_UNROLL _Pragma("GCC unroll 16")

namespace pare::rt::kernels {

namespace {

constexpr size_t kNr = 16;
constexpr size_t kHeader = 3 * kNr * sizeof(int32_t);  // bias, multiplier, shift; 192 bytes

inline int32_t load_u32(const uint8_t* p) {
  int32_t x;
  std::memcpy(&x, p, sizeof(x));
  return x;
}

inline int32_t load_tail(const uint8_t* p, size_t n) {
  int32_t x = 0;
  std::memcpy(&x, p, n);
  return x;
}

// 64-bit arithmetic shift right by per-lane counts. AVX2 only shifts 64-bit lanes logically:
// for negative x, x >> s == ~(~x >>> s), so flip negative lanes before and after.
inline __m256i sra_epi64(__m256i x, __m256i count) {
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), x);
  return _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(x, sign), count), sign);
}

inline __m256i clamp_epi64(__m256i v, __m256i lo, __m256i hi) {
  v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
  return _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
}

// Requantization of 8 columns, as requantize() in requant.h: even and odd int32 lanes each
// as 4 int64 products, rounded, shifted, offset by the zero point and clamped in 64 bits.
struct Epilogue {
  __m256i mult_even, mult_odd, shift_even, shift_odd, round_even, round_odd;

  Epilogue(const int32_t* mult, const int32_t* shift) {
    const __m256i m = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(mult));
    const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(shift));
    const __m256i low = _mm256_set1_epi64x(0xffffffff), one = _mm256_set1_epi64x(1);
    mult_even = m;
    mult_odd = _mm256_srli_epi64(m, 32);
    shift_even = _mm256_and_si256(s, low);
    shift_odd = _mm256_srli_epi64(s, 32);
    round_even = _mm256_sllv_epi64(one, _mm256_sub_epi64(shift_even, one));
    round_odd = _mm256_sllv_epi64(one, _mm256_sub_epi64(shift_odd, one));
  }

  // The 8 results as bytes in the low 64 bits.
  __m128i apply(__m256i acc, __m256i zp, __m256i lo, __m256i hi) const {
    __m256i e = _mm256_mul_epi32(acc, mult_even);  // signed low 32 bits of each 64-bit lane
    __m256i o = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), mult_odd);
    e = sra_epi64(_mm256_add_epi64(e, round_even), shift_even);
    o = sra_epi64(_mm256_add_epi64(o, round_odd), shift_odd);
    e = clamp_epi64(_mm256_add_epi64(e, zp), lo, hi);
    o = clamp_epi64(_mm256_add_epi64(o, zp), lo, hi);
    const __m256i v = _mm256_blend_epi32(e, _mm256_slli_epi64(o, 32), 0xAA);
    // The low byte of each int32 (the clamp makes it the right uint8 or int8), lanes 0..7.
    const __m256i bytes = _mm256_shuffle_epi8(
        v, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12,
                            -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1));
    return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1)));
  }
};

// Rows x 8*Y columns of the panel (Y ymm per row).
template <size_t MR, size_t Y>
void tile(size_t nc, size_t k, const uint8_t* a, size_t a_stride, const uint8_t* panel, uint8_t* c,
          size_t c_stride, int32_t c_zero_point, int32_t lo, int32_t hi) {
  const auto* bias = reinterpret_cast<const int32_t*>(panel);
  const uint8_t* w = panel + kHeader;
  __m256i acc[MR][Y];
  PARE_QGEMM_UNROLL
  for (size_t i = 0; i < MR; ++i)
    PARE_QGEMM_UNROLL
    for (size_t j = 0; j < Y; ++j) acc[i][j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + 8 * j));
  // Bytes (0, 1) and (2, 3) of a broadcast int32 as int16 pairs.
  const __m256i pair01 = _mm256_setr_epi8(0, -1, 1, -1, 0, -1, 1, -1, 0, -1, 1, -1, 0, -1, 1, -1, 0, -1, 1, -1,
                                          0, -1, 1, -1, 0, -1, 1, -1, 0, -1, 1, -1);
  const __m256i pair23 = _mm256_add_epi8(pair01, _mm256_set1_epi16(2));  // -1 stays negative
  const size_t k4 = k / 4;
  // Four rows of K: two steps of two rows, 2 * kNr int16 of B each (read from L1 for each
  // row: the 12 accumulators leave too few registers to hold B).
  auto step = [&](auto&& a_bytes) {
    PARE_QGEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) {
      const __m256i av = _mm256_set1_epi32(a_bytes(a + i * a_stride));
      PARE_QGEMM_UNROLL
      for (size_t h = 0; h < 2; ++h) {
        const __m256i x = _mm256_shuffle_epi8(av, h == 0 ? pair01 : pair23);
        PARE_QGEMM_UNROLL
        for (size_t j = 0; j < Y; ++j) {
          const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * h + 32 * j));
          acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(x, b));
        }
      }
    }
    w += 2 * kNr * 2 * sizeof(int16_t);
  };
  for (size_t g = 0; g < k4; ++g) step([g](const uint8_t* row) { return load_u32(row + 4 * g); });
  if (k % 4) step([k4, k](const uint8_t* row) { return load_tail(row + 4 * k4, k % 4); });

  const auto* mult = reinterpret_cast<const int32_t*>(panel + kNr * sizeof(int32_t));
  const auto* shift = reinterpret_cast<const int32_t*>(panel + 2 * kNr * sizeof(int32_t));
  const __m256i zp = _mm256_set1_epi64x(c_zero_point), vlo = _mm256_set1_epi64x(lo),
                vhi = _mm256_set1_epi64x(hi);
  PARE_QGEMM_UNROLL
  for (size_t j = 0; j < Y; ++j) {
    const Epilogue ep(mult + 8 * j, shift + 8 * j);
    const size_t cols = nc - 8 * j < 8 ? nc - 8 * j : 8;
    PARE_QGEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) {
      const __m128i v = ep.apply(acc[i][j], zp, vlo, vhi);
      uint8_t* out = c + i * c_stride + 8 * j;
      if (cols == 8) {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out), v);
      } else {
        const uint64_t x = static_cast<uint64_t>(_mm_cvtsi128_si64(v));
        std::memcpy(out, &x, cols);  // little-endian: the first cols bytes
      }
    }
  }
}

template <size_t MR>
void tile_rows(size_t nc, size_t k, const uint8_t* a, size_t a_stride, const uint8_t* panel,
               uint8_t* c, size_t c_stride, int32_t czp, int32_t lo, int32_t hi) {
  if (nc <= 8) return tile<MR, 1>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
  return tile<MR, 2>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
}

}  // namespace

void q8_gemm_6x16__avx2(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                        const void* panel_v, uint8_t* c, size_t c_stride, int32_t czp, int32_t lo,
                        int32_t hi) {
  const auto* panel = static_cast<const uint8_t*>(panel_v);
  switch (mr) {
    case 1: return tile_rows<1>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 2: return tile_rows<2>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 3: return tile_rows<3>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 4: return tile_rows<4>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 5: return tile_rows<5>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    default: return tile_rows<6>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
  }
}

}  // namespace pare::rt::kernels
