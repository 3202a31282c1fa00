// f32 GEMM microkernel, AVX2 + FMA: 6 rows x 16 columns (two ymm per row, 12 accumulators
// of the 16 ymm registers).
#include <immintrin.h>

#include "runtime/kernels/gemm/gemm.h"

// Register tiles are arrays indexed by constants only after full unrolling.
#define PARE_GEMM_UNROLL _Pragma("GCC unroll 16")

namespace pare::rt::kernels {

namespace {

constexpr size_t kNr = 16;

// The limit goes first: max/min return their second operand when either is NaN, so NaN
// passes through as in std::max/std::min.
inline __m256 clamp(__m256 v, __m256 lo, __m256 hi) {
  return _mm256_min_ps(hi, _mm256_max_ps(lo, v));
}

// Stores the first n (< 8) lanes of v; masked stores are slow on AMD cores.
inline void store_partial(float* c, size_t n, __m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  if (n & 4) {
    _mm_storeu_ps(c, lo);
    lo = _mm256_extractf128_ps(v, 1);
    c += 4;
  }
  if (n & 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(c), lo);
    lo = _mm_movehl_ps(lo, lo);
    c += 2;
  }
  if (n & 1) _mm_store_ss(c, lo);
}

// Rows x 8*NV columns of a panel of kNr columns: when at most 8 columns are left, the
// second half of the panel is zero padding and NV = 1 skips it.
template <size_t MR, size_t NV>
inline void tile(size_t nc, size_t k, const float* a, size_t a_stride, const float* w, float* c,
                 size_t c_stride, float min, float max) {
  __m256 acc[MR][NV];
  PARE_GEMM_UNROLL
  for (size_t j = 0; j < NV; ++j) acc[0][j] = _mm256_loadu_ps(w + 8 * j);
  PARE_GEMM_UNROLL
  for (size_t i = 1; i < MR; ++i)
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < NV; ++j) acc[i][j] = acc[0][j];
  w += kNr;
  for (size_t p = 0; p < k; ++p, w += kNr) {
    __m256 b[NV];
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < NV; ++j) b[j] = _mm256_loadu_ps(w + 8 * j);
    PARE_GEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) {
      const __m256 av = _mm256_broadcast_ss(a + i * a_stride + p);
      PARE_GEMM_UNROLL
      for (size_t j = 0; j < NV; ++j) acc[i][j] = _mm256_fmadd_ps(av, b[j], acc[i][j]);
    }
  }
  const __m256 vmin = _mm256_set1_ps(min), vmax = _mm256_set1_ps(max);
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i)
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < NV; ++j) acc[i][j] = clamp(acc[i][j], vmin, vmax);
  // Whole vectors, then the first nc % 8 lanes of the next one.
  const size_t full = nc / 8;
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) {
    float* row = c + i * c_stride;
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < NV; ++j) {
      if (j < full)
        _mm256_storeu_ps(row + 8 * j, acc[i][j]);
      else if (j == full)
        store_partial(row + 8 * j, nc % 8, acc[i][j]);
    }
  }
}

template <size_t MR>
inline void tile_nc(size_t nc, size_t k, const float* a, size_t a_stride, const float* w,
                    float* c, size_t c_stride, float min, float max) {
  if (nc > 8)
    tile<MR, 2>(nc, k, a, a_stride, w, c, c_stride, min, max);
  else
    tile<MR, 1>(nc, k, a, a_stride, w, c, c_stride, min, max);
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

void f32_gemm_6x16__avx2(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                         const float* panel, float* c, size_t c_stride, float min, float max) {
  microkernel<6>(mr, nc, k, a, a_stride, panel, c, c_stride, min, max);
}

}  // namespace pare::rt::kernels
