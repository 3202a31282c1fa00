// int8 LUT GEMM, AVX-512 VNNI: tiles of 4 rows of A x 4 output channels, 64 input channels
// per step: 32 index bytes split into low and high nibbles (64 indices), vpshufb on the
// channel's 16 int8 entries (the same in every 128-bit lane) gives 64 s8 weights for one
// vpdpbusd per row. 16 int32 accumulators of 16 lanes, reduced per tile, then requantized.
#include <immintrin.h>

#include <algorithm>

#include "runtime/kernels/lutgemm/lutgemm.h"

#define PARE_LUT_UNROLL _Pragma("GCC unroll 16")
// The accumulators start as zeros in registers: without this GCC turns their initialisation
// into a memset of a stack copy (rep stos), which costs more than a small tile.
#define PARE_LUT_NO_MEMSET __attribute__((optimize("no-tree-loop-distribute-patterns")))

namespace pare::rt::kernels {

namespace {

constexpr size_t kMR = 4, kNR = 4, kHalf = 32;

// The sums of 16 vectors v[0..15]: lane e of the result is the sum of v[e]'s lanes
// (pairwise adds after unpacks, then 128-bit lane shuffles). GCC 12's unmasked shuffles and
// broadcasts start from _mm512_undefined_*, which -Wuninitialized reports once inlined; the
// zero-masked forms with every lane set are the same instructions.
inline __m512i reduce16(const __m512i* v) {
  constexpr __mmask16 kAll = 0xFFFF;
  __m512i s[8], t[4];
  PARE_LUT_UNROLL
  for (size_t i = 0; i < 8; ++i)  // lane L: [a0+a2, b0+b2, a1+a3, b1+b3] of v[2i], v[2i+1]
    s[i] = _mm512_add_epi32(_mm512_maskz_unpacklo_epi32(kAll, v[2 * i], v[2 * i + 1]), _mm512_maskz_unpackhi_epi32(kAll, v[2 * i], v[2 * i + 1]));
  PARE_LUT_UNROLL
  for (size_t i = 0; i < 4; ++i)  // lane L: the sums within lane L of v[4i .. 4i+3]
    t[i] = _mm512_add_epi32(_mm512_maskz_unpacklo_epi64(0xFF, s[2 * i], s[2 * i + 1]), _mm512_maskz_unpackhi_epi64(0xFF, s[2 * i], s[2 * i + 1]));
  const __m512i p = _mm512_add_epi32(_mm512_maskz_shuffle_i32x4(kAll, t[0], t[1], 0x88), _mm512_maskz_shuffle_i32x4(kAll, t[0], t[1], 0xDD));
  const __m512i q = _mm512_add_epi32(_mm512_maskz_shuffle_i32x4(kAll, t[2], t[3], 0x88), _mm512_maskz_shuffle_i32x4(kAll, t[2], t[3], 0xDD));
  return _mm512_add_epi32(_mm512_maskz_shuffle_i32x4(kAll, p, q, 0x88), _mm512_maskz_shuffle_i32x4(kAll, p, q, 0xDD));
}

PARE_LUT_NO_MEMSET void tile(const Q8LutArgs& args, size_t i0, size_t rows, size_t j0, size_t cols) {
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
    const bool full = left >= 2 * kHalf;
    const __mmask64 mask = full ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
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
      const __m512i av = full ? _mm512_loadu_si512(a[r] + q) : _mm512_maskz_loadu_epi8(mask, a[r] + q);
      PARE_LUT_UNROLL
      for (size_t c = 0; c < kNR; ++c) acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], av, wv[c]);
    }
  }
  // Reduced with constant indices, so the accumulators stay in registers.
  alignas(64) int32_t sums[kMR][kNR];
  _mm512_store_si512(sums, reduce16(&acc[0][0]));
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
