// int8 LUT GEMM, AVX-512 VNNI: tiles of 4 rows of A x 4 output channels, 64 input channels
// per step: 32 index bytes split into low and high nibbles (64 indices), vpshufb on the
// channel's 16 int8 entries (the same in every 128-bit lane) gives 64 s8 weights for one
// vpdpbusd per row. 16 int32 accumulators of 16 lanes, reduced per tile, then requantized.
#include <immintrin.h>

#include <algorithm>

#include "runtime/kernels/lutgemm/lutgemm.h"

#define PARE_LUT_UNROLL _Pragma("GCC unroll 16")

namespace pare::rt::kernels {

namespace {

constexpr size_t kMR = 4, kNR = 4, kHalf = 32;

// GCC 12's unmasked extracts and broadcasts start from _mm512_undefined_*, which
// -Wuninitialized reports once inlined; the zero-masked forms are the same instructions.
inline int32_t hsum(__m512i v) {
  const __m256i h = _mm256_add_epi32(_mm512_maskz_extracti32x8_epi32(0xFF, v, 0), _mm512_maskz_extracti32x8_epi32(0xFF, v, 1));
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1)));
}

void tile(const Q8LutArgs& args, size_t i0, size_t rows, size_t j0, size_t cols) {
  const Q8LutPacked& w = *args.w;
  const size_t k = w.w.k;
  const uint8_t* a[kMR];
  const uint8_t* idx[kNR];
  __m512i table[kNR], acc[kMR][kNR];
  PARE_LUT_UNROLL
  for (size_t r = 0; r < kMR; ++r) a[r] = args.a + (i0 + std::min(r, rows - 1)) * args.a_stride;
  PARE_LUT_UNROLL
  for (size_t c = 0; c < kNR; ++c) {
    const size_t j = j0 + std::min(c, cols - 1);
    idx[c] = w.w.row(j);
    table[c] = _mm512_maskz_broadcast_i32x4(0xFFFF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.tables.data() + j * kLutEntries)));
    PARE_LUT_UNROLL
    for (size_t r = 0; r < kMR; ++r) acc[r][c] = _mm512_setzero_si512();
  }
  const __m512i nibble = _mm512_set1_epi8(15);
  for (size_t g = 0; g < w.w.groups; ++g) {
    const size_t q = g * 2 * kHalf, left = k - q;
    // Past k the activations load as zeros, which cancels whatever weight index 0 gives.
    const __mmask64 mask = left >= 2 * kHalf ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
    __m512i wv[kNR];
    PARE_LUT_UNROLL
    for (size_t c = 0; c < kNR; ++c) {
      // The 32 bytes in both halves, the upper half shifted to its high nibbles.
      const __m512i v = _mm512_maskz_broadcast_i64x4(0xFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx[c] + g * kHalf)));
      const __m512i ids = _mm512_and_si512(_mm512_mask_srli_epi16(v, 0xFFFF0000u, v, 4), nibble);
      wv[c] = _mm512_shuffle_epi8(table[c], ids);
    }
    PARE_LUT_UNROLL
    for (size_t r = 0; r < kMR; ++r) {
      const __m512i av = _mm512_maskz_loadu_epi8(mask, a[r] + q);
      PARE_LUT_UNROLL
      for (size_t c = 0; c < kNR; ++c) acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], av, wv[c]);
    }
  }
  // Reduced with constant indices, so the accumulators stay in registers.
  int32_t sums[kMR][kNR];
  PARE_LUT_UNROLL
  for (size_t r = 0; r < kMR; ++r)
    PARE_LUT_UNROLL
    for (size_t c = 0; c < kNR; ++c) sums[r][c] = hsum(acc[r][c]);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      const size_t j = j0 + c;
      const auto sum = static_cast<int32_t>(static_cast<uint32_t>(w.bias[j]) +
                                            static_cast<uint32_t>(sums[r][c]));
      args.c[(i0 + r) * args.c_stride + j] =
          static_cast<uint8_t>(requantize(sum, w.rq[j], args.c_zero_point, args.lo, args.hi));
    }
}

}  // namespace

void q8_lutgemm_4x4__avx512vnni(const Q8LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1) {
  for (size_t i = m0; i < m1; i += kMR)
    for (size_t j = n0; j < n1; j += kNR) tile(args, i, std::min(kMR, m1 - i), j, std::min(kNR, n1 - j));
}

}  // namespace pare::rt::kernels
