// f32 GEMM microkernel, AVX-512: 8 rows x 32 columns (two zmm per row; a last panel of at
// most 24 columns runs as zmm + ymm, of at most 8 as one ymm). On Zen 4, 8 rows measured
// as fast as 12 or 14 on large tiles and faster on small K (see README.md).
#include <immintrin.h>

#include "runtime/kernels/gemm/gemm.h"

// Register tiles are arrays indexed by constants only after full unrolling.
#define PARE_GEMM_UNROLL _Pragma("GCC unroll 16")

namespace pare::rt::kernels {

namespace {

constexpr size_t kNr = 32;

// The limit goes first: max/min return their second operand when either is NaN, so NaN
// passes through as in std::max/std::min. (The zero-masked forms avoid GCC 12's false
// -Wuninitialized on _mm512_max_ps.)
inline __m512 clamp(__m512 v, __m512 lo, __m512 hi) {
  return _mm512_maskz_min_ps(0xffff, hi, _mm512_maskz_max_ps(0xffff, lo, v));
}

inline __m256 clamp(__m256 v, __m256 lo, __m256 hi) {
  return _mm256_maskz_min_ps(0xff, hi, _mm256_maskz_max_ps(0xff, lo, v));
}

// The first n (<= 16) lanes.
inline __mmask16 lanes(size_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }

// Rows x (16*Z + 8*Y) columns of a panel of kNr columns (Z zmm and Y in {0, 1} ymm per
// row): columns past the last multiple of 8 that holds data are zero padding, so the tile
// skips them. A ymm FMA costs half a zmm one where AVX-512 runs as two 256-bit halves.
template <size_t MR, size_t Z, size_t Y>
inline void tile(size_t nc, size_t k, const float* a, size_t a_stride, const float* w, float* c,
                 size_t c_stride, float min, float max) {
  static_assert(16 * Z + 8 * Y <= kNr && Y <= 1, "tile wider than the panel");
  constexpr size_t kZ = Z > 0 ? Z : 1;  // arrays need a size; only j < Z is used
  __m512 acc[MR][kZ];
  __m256 half[MR];
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) {
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < Z; ++j) acc[i][j] = _mm512_loadu_ps(w + 16 * j);
    if constexpr (Y > 0) half[i] = _mm256_loadu_ps(w + 16 * Z);
  }
  w += kNr;
  for (size_t p = 0; p < k; ++p, w += kNr) {
    __m512 b[kZ];
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < Z; ++j) b[j] = _mm512_loadu_ps(w + 16 * j);
    __m256 b_half;
    if constexpr (Y > 0) b_half = _mm256_loadu_ps(w + 16 * Z);
    PARE_GEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) {
      const float* ap = a + i * a_stride + p;
      if constexpr (Z > 0) {
        const __m512 av = _mm512_set1_ps(*ap);
        PARE_GEMM_UNROLL
        for (size_t j = 0; j < Z; ++j) acc[i][j] = _mm512_fmadd_ps(av, b[j], acc[i][j]);
      }
      if constexpr (Y > 0) half[i] = _mm256_fmadd_ps(_mm256_set1_ps(*ap), b_half, half[i]);
    }
  }
  const __m512 vmin = _mm512_set1_ps(min), vmax = _mm512_set1_ps(max);
  const __m256 vmin_half = _mm256_set1_ps(min), vmax_half = _mm256_set1_ps(max);
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) {
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < Z; ++j) acc[i][j] = clamp(acc[i][j], vmin, vmax);
    if constexpr (Y > 0) half[i] = clamp(half[i], vmin_half, vmax_half);
  }
  if (nc == 16 * Z + 8 * Y) {
    PARE_GEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) {
      PARE_GEMM_UNROLL
      for (size_t j = 0; j < Z; ++j) _mm512_storeu_ps(c + i * c_stride + 16 * j, acc[i][j]);
      if constexpr (Y > 0) _mm256_storeu_ps(c + i * c_stride + 16 * Z, half[i]);
    }
    return;
  }
  __mmask16 mask[kZ];
  PARE_GEMM_UNROLL
  for (size_t j = 0; j < Z; ++j) mask[j] = lanes(nc > 16 * j ? nc - 16 * j : 0);
  const __mmask8 half_mask = static_cast<__mmask8>(lanes(nc > 16 * Z ? nc - 16 * Z : 0));
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) {
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < Z; ++j)
      _mm512_mask_storeu_ps(c + i * c_stride + 16 * j, mask[j], acc[i][j]);
    if constexpr (Y > 0) _mm256_mask_storeu_ps(c + i * c_stride + 16 * Z, half_mask, half[i]);
  }
}

template <size_t MR>
inline void tile_nc(size_t nc, size_t k, const float* a, size_t a_stride, const float* w,
                    float* c, size_t c_stride, float min, float max) {
  if (nc > 24)
    tile<MR, 2, 0>(nc, k, a, a_stride, w, c, c_stride, min, max);
  else if (nc > 16)
    tile<MR, 1, 1>(nc, k, a, a_stride, w, c, c_stride, min, max);
  else if (nc > 8)
    tile<MR, 1, 0>(nc, k, a, a_stride, w, c, c_stride, min, max);
  else
    tile<MR, 0, 1>(nc, k, a, a_stride, w, c, c_stride, min, max);
}

// Calls the instance for exactly mr rows (mr in 1..MR), so short tiles do no extra work.
template <size_t MR>
void microkernel(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                 const float* w, float* c, size_t c_stride, float min, float max) {
  if constexpr (MR > 1) {
    if (mr < MR) return microkernel<MR - 1>(mr, nc, k, a, a_stride, w, c, c_stride, min, max);
  }
  tile_nc<MR>(nc, k, a, a_stride, w, c, c_stride, min, max);
}

}  // namespace

void f32_gemm_8x32__avx512(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                           const float* panel, float* c, size_t c_stride, float min, float max) {
  microkernel<8>(mr, nc, k, a, a_stride, panel, c, c_stride, min, max);
}

}  // namespace pare::rt::kernels
