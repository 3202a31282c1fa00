// f32 LUT GEMM, AVX-512: tiles of 4 rows of X x 4 output channels, 32 input channels per
// step: 16 index bytes widened to dwords, vpermps on the channel's 16-float table for the
// low nibbles and again for the high ones. 16 accumulators of 16 lanes, reduced per tile.
#include <immintrin.h>

#include <algorithm>

#include "runtime/kernels/lutgemm/lutgemm.h"
#include "runtime/kernels/lutgemm/tile_macros.h"

namespace pare::rt::kernels {

namespace {

constexpr size_t kMR = 4, kNR = 4, kHalf = 16;

// GCC 12's unmasked extracts, widenings and shifts start from _mm512_undefined_ps, which
// -Wuninitialized reports once inlined; the zero-masked forms are the same instructions.
inline float hsum(__m512 v) {
  const __m256 h = _mm256_add_ps(_mm512_maskz_extractf32x8_ps(0xFF, v, 0), _mm512_maskz_extractf32x8_ps(0xFF, v, 1));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// Rows past the end repeat the last row (computed, never stored), so one code path serves
// every edge.
PARE_LUT_NO_MEMSET void tile(const F32LutArgs& args, size_t i0, size_t rows, size_t j0, size_t cols) {
  const F32LutPacked& w = *args.w;
  const size_t k = w.w.k;
  const float* x[kMR];
  const uint8_t* idx[kNR];
  __m512 table[kNR], acc[kMR][kNR];
  PARE_LUT_UNROLL
  for (size_t r = 0; r < kMR; ++r) x[r] = args.x + (i0 + std::min(r, rows - 1)) * args.x_stride;
  PARE_LUT_UNROLL
  for (size_t c = 0; c < kNR; ++c) {
    const size_t j = j0 + std::min(c, cols - 1);
    idx[c] = w.w.row(j);
    table[c] = _mm512_loadu_ps(w.tables.data() + j * kLutEntries);
    PARE_LUT_UNROLL
    for (size_t r = 0; r < kMR; ++r) acc[r][c] = _mm512_setzero_ps();
  }
  for (size_t g = 0; g < w.w.groups; ++g) {
    const size_t q = g * 2 * kHalf, left = k - q;
    // Past k the activations load as zeros and so do the weights (a table entry may be inf).
    const __mmask16 lo = left >= kHalf ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1);
    const __mmask16 hi = left >= 2 * kHalf ? 0xFFFF : left <= kHalf ? 0 : static_cast<__mmask16>((1u << (left - kHalf)) - 1);
    __m512 w_lo[kNR], w_hi[kNR];
    PARE_LUT_UNROLL
    for (size_t c = 0; c < kNR; ++c) {
      const __m512i d = _mm512_maskz_cvtepu8_epi32(0xFFFF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(idx[c] + g * kHalf)));
      w_lo[c] = _mm512_maskz_permutexvar_ps(lo, d, table[c]);
      w_hi[c] = _mm512_maskz_permutexvar_ps(hi, _mm512_maskz_srli_epi32(0xFFFF, d, 4), table[c]);
    }
    PARE_LUT_UNROLL
    for (size_t r = 0; r < kMR; ++r) {
      const __m512 x_lo = _mm512_maskz_loadu_ps(lo, x[r] + q);
      const __m512 x_hi = _mm512_maskz_loadu_ps(hi, x[r] + q + kHalf);
      PARE_LUT_UNROLL
      for (size_t c = 0; c < kNR; ++c) {
        acc[r][c] = _mm512_fmadd_ps(x_lo, w_lo[c], acc[r][c]);
        acc[r][c] = _mm512_fmadd_ps(x_hi, w_hi[c], acc[r][c]);
      }
    }
  }
  // Reduced with constant indices, so the accumulators stay in registers.
  float sums[kMR][kNR];
  PARE_LUT_UNROLL
  for (size_t r = 0; r < kMR; ++r)
    PARE_LUT_UNROLL
    for (size_t c = 0; c < kNR; ++c) sums[r][c] = hsum(acc[r][c]);
  f32_lut_store_tile(args, sums, i0, rows, j0, cols);
}

}  // namespace

void f32_lutgemm_4x4__avx512(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1) {
  f32_lut_tiles<kMR, kNR>(args, m0, m1, n0, n1, tile);
}

}  // namespace pare::rt::kernels
