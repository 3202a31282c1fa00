// f32 LUT GEMM, AVX2 + FMA: tiles of 4 rows x 2 output channels, 16 input channels per
// step; 8 index bytes widened to dwords look up the channel's 16-float table as two 8-float
// halves (vpermps on bits 0-2) blended on bit 3. (int8 runs qgemm's AVX2 microkernel on
// panels decoded by reference.cc.)
#include <immintrin.h>

#include <algorithm>

#include "runtime/kernels/lutgemm/lutgemm.h"
#include "runtime/kernels/lutgemm/tile_macros.h"

namespace pare::rt::kernels {

namespace {

constexpr size_t kMR = 4, kNR = 2;

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// Lanes of `selector` with bit 31 set take hi's entry, the others lo's; bits 0-2 index.
inline __m256 lookup16(__m256i index, __m256i selector, __m256 lo, __m256 hi) {
  return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, index), _mm256_permutevar8x32_ps(hi, index),
                          _mm256_castsi256_ps(selector));
}

// First `count` (0 .. 8) lanes set.
inline __m256i first_lanes(size_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

PARE_LUT_NO_MEMSET void f32_tile(const F32LutArgs& args, size_t i0, size_t rows, size_t j0, size_t cols) {
  constexpr size_t kHalf = 8;
  const F32LutPacked& w = *args.w;
  const size_t k = w.w.k;
  const float* x[kMR];
  const uint8_t* idx[kNR];
  __m256 t_lo[kNR], t_hi[kNR], acc[kMR][kNR];
  PARE_LUT_UNROLL
  for (size_t r = 0; r < kMR; ++r) x[r] = args.x + (i0 + std::min(r, rows - 1)) * args.x_stride;
  PARE_LUT_UNROLL
  for (size_t c = 0; c < kNR; ++c) {
    const size_t j = j0 + std::min(c, cols - 1);
    idx[c] = w.w.row(j);
    t_lo[c] = _mm256_loadu_ps(w.tables.data() + j * kLutEntries);
    t_hi[c] = _mm256_loadu_ps(w.tables.data() + j * kLutEntries + 8);
    PARE_LUT_UNROLL
    for (size_t r = 0; r < kMR; ++r) acc[r][c] = _mm256_setzero_ps();
  }
  for (size_t g = 0; g < w.w.groups; ++g) {
    const size_t q = g * 2 * kHalf, left = k - q;
    const bool full = left >= 2 * kHalf;
    // Past k the activations load as zeros and so do the weights (a table entry may be inf).
    const __m256i lo_mask = first_lanes(std::min(left, kHalf));
    const __m256i hi_mask = first_lanes(left > kHalf ? std::min(left - kHalf, kHalf) : 0);
    __m256 w_lo[kNR], w_hi[kNR];
    PARE_LUT_UNROLL
    for (size_t c = 0; c < kNR; ++c) {
      const __m256i d = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(idx[c] + g * kHalf)));
      w_lo[c] = lookup16(d, _mm256_slli_epi32(d, 28), t_lo[c], t_hi[c]);
      w_hi[c] = lookup16(_mm256_srli_epi32(d, 4), _mm256_slli_epi32(d, 24), t_lo[c], t_hi[c]);
      if (!full) {
        w_lo[c] = _mm256_and_ps(w_lo[c], _mm256_castsi256_ps(lo_mask));
        w_hi[c] = _mm256_and_ps(w_hi[c], _mm256_castsi256_ps(hi_mask));
      }
    }
    PARE_LUT_UNROLL
    for (size_t r = 0; r < kMR; ++r) {
      const __m256 x_lo = full ? _mm256_loadu_ps(x[r] + q) : _mm256_maskload_ps(x[r] + q, lo_mask);
      const __m256 x_hi = full ? _mm256_loadu_ps(x[r] + q + kHalf) : _mm256_maskload_ps(x[r] + q + kHalf, hi_mask);
      PARE_LUT_UNROLL
      for (size_t c = 0; c < kNR; ++c) {
        acc[r][c] = _mm256_fmadd_ps(x_lo, w_lo[c], acc[r][c]);
        acc[r][c] = _mm256_fmadd_ps(x_hi, w_hi[c], acc[r][c]);
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

void f32_lutgemm_4x2__avx2(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1) {
  f32_lut_tiles<kMR, kNR>(args, m0, m1, n0, n1, f32_tile);
}

}  // namespace pare::rt::kernels
