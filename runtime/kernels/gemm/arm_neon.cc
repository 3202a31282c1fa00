// f32 GEMM microkernel, NEON (AArch64): 8 rows x 8 columns (two q registers per row). Four
// steps of K at a time: each row's next four A values are loaded as one vector and used by
// lane (vfmaq_laneq_f32), so 16 accumulators + 8 A vectors + 2 B vectors fit in 32 registers.
#include <arm_neon.h>

#include "runtime/kernels/gemm/gemm.h"

// Register tiles are arrays indexed by constants only after full unrolling.
#define PARE_GEMM_UNROLL _Pragma("GCC unroll 16")

namespace pare::rt::kernels {

namespace {

constexpr size_t kNr = 8;

template <size_t MR, size_t NV, int Lane>
inline void fma_lane(float32x4_t (&acc)[MR][NV], const float32x4_t (&av)[MR], const float* w) {
  float32x4_t b[NV];
  PARE_GEMM_UNROLL
  for (size_t j = 0; j < NV; ++j) b[j] = vld1q_f32(w + 4 * j);
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i)
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < NV; ++j) acc[i][j] = vfmaq_laneq_f32(acc[i][j], b[j], av[i], Lane);
}

// Stores the first n (< 4) lanes of v.
inline void store_partial(float* c, size_t n, float32x4_t v) {
  float32x2_t lo = vget_low_f32(v);
  if (n & 2) {
    vst1_f32(c, lo);
    lo = vget_high_f32(v);
    c += 2;
  }
  if (n & 1) vst1_lane_f32(c, lo, 0);
}

// Rows x 4*NV columns of a panel of kNr columns: when at most 4 columns are left, the
// second half of the panel is zero padding and NV = 1 skips it.
template <size_t MR, size_t NV>
inline void tile(size_t nc, size_t k, const float* a, size_t a_stride, const float* w, float* c,
                 size_t c_stride, float min, float max) {
  float32x4_t acc[MR][NV];
  PARE_GEMM_UNROLL
  for (size_t j = 0; j < NV; ++j) acc[0][j] = vld1q_f32(w + 4 * j);
  PARE_GEMM_UNROLL
  for (size_t i = 1; i < MR; ++i)
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < NV; ++j) acc[i][j] = acc[0][j];
  w += kNr;
  size_t p = 0;
  for (; p + 4 <= k; p += 4, w += 4 * kNr) {
    float32x4_t av[MR];
    PARE_GEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) av[i] = vld1q_f32(a + i * a_stride + p);
    fma_lane<MR, NV, 0>(acc, av, w);
    fma_lane<MR, NV, 1>(acc, av, w + kNr);
    fma_lane<MR, NV, 2>(acc, av, w + 2 * kNr);
    fma_lane<MR, NV, 3>(acc, av, w + 3 * kNr);
  }
  for (; p < k; ++p, w += kNr) {
    float32x4_t b[NV];
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < NV; ++j) b[j] = vld1q_f32(w + 4 * j);
    PARE_GEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) {
      const float32x4_t av = vld1q_dup_f32(a + i * a_stride + p);
      PARE_GEMM_UNROLL
      for (size_t j = 0; j < NV; ++j) acc[i][j] = vfmaq_f32(acc[i][j], b[j], av);
    }
  }
  // vmaxq/vminq return NaN when either operand is NaN, so NaN passes as in std::max/min.
  const float32x4_t vmin = vdupq_n_f32(min), vmax = vdupq_n_f32(max);
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i)
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < NV; ++j) acc[i][j] = vminq_f32(vmaxq_f32(acc[i][j], vmin), vmax);
  // Whole vectors, then the first nc % 4 lanes of the next one.
  const size_t full = nc / 4;
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) {
    float* row = c + i * c_stride;
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < NV; ++j) {
      if (j < full)
        vst1q_f32(row + 4 * j, acc[i][j]);
      else if (j == full)
        store_partial(row + 4 * j, nc % 4, acc[i][j]);
    }
  }
}

template <size_t MR>
inline void tile_nc(size_t nc, size_t k, const float* a, size_t a_stride, const float* w,
                    float* c, size_t c_stride, float min, float max) {
  if (nc > 4)
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

void f32_gemm_8x8__neon(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                        const float* panel, float* c, size_t c_stride, float min, float max) {
  microkernel<8>(mr, nc, k, a, a_stride, panel, c, c_stride, min, max);
}

}  // namespace pare::rt::kernels
