// The f32 GEMM microkernel written once over a vector type V (a simd::F32x* struct, see
// simd/x86_avx2.h): tiles of up to MR rows x NR = 2 * V::kWidth columns, one panel of the
// packed B (gemm.h). H is the half-width vector of V's ISA (AVX-512: a ymm, so a last panel
// of at most 24 columns runs as zmm + ymm and one of at most 8 as one ymm; a ymm FMA costs
// half a zmm one where AVX-512 runs as two 256-bit halves), or V itself where there is none.
// With V::kFmaByLane (NEON), each row's next four A values are loaded as one vector and used
// by lane, four steps of K at a time. Only included by the ISA files (compiled with their own
// flags), each instantiating it with its own V.
#pragma once

#include <cstddef>

// Register tiles are arrays indexed by constants only after full unrolling.
#define PARE_GEMM_UNROLL _Pragma("GCC unroll 16")

namespace pare::rt::kernels::gemm_impl {

// acc[i][j] += a_vec[i][Lane] * w[j]: one step of K for every row, the A values taken by lane.
template <class V, size_t MR, size_t Z, int Lane>
inline void fma_lane(typename V::R (&acc)[MR][Z], const typename V::R (&a_vec)[MR],
                     const float* w) {
  typename V::R b[Z];
  PARE_GEMM_UNROLL
  for (size_t j = 0; j < Z; ++j) b[j] = V::load(w + V::kWidth * j);
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) PARE_GEMM_UNROLL
  for (size_t j = 0; j < Z; ++j)
    acc[i][j] = V::template fmadd_lane<Lane>(b[j], a_vec[i], acc[i][j]);
}

// Stores v at column `col` of a row of the tile of nc columns: whole, or its first columns
// before nc, or nothing past nc.
template <class V>
inline void store_columns(float* row, size_t col, size_t nc, typename V::R v) {
  if (col + V::kWidth <= nc)
    V::store(row + col, v);
  else if (col < nc)
    V::store_first(row + col, nc - col, v);
}

// Rows x (Z * V::kWidth + Y * H::kWidth) columns of a panel, Y in {0, 1}: columns past the
// last vector that holds data are zero padding, so the tile skips them.
template <class V, class H, size_t MR, size_t Z, size_t Y>
inline void tile(size_t nc, size_t k, const float* a, size_t a_stride, const float* w, float* c,
                 size_t c_stride, float min, float max) {
  constexpr size_t kW = V::kWidth, kNr = 2 * kW;
  static_assert(Z * kW + Y * H::kWidth <= kNr && Y <= 1, "tile wider than the panel");
  constexpr size_t kZ = Z > 0 ? Z : 1;  // arrays need a size; only j < Z is used
  using R = typename V::R;
  using RH = typename H::R;
  R acc[MR][kZ];
  [[maybe_unused]] RH half[MR];
  PARE_GEMM_UNROLL
  for (size_t j = 0; j < Z; ++j) acc[0][j] = V::load(w + kW * j);
  if constexpr (Y > 0) half[0] = H::load(w + kW * Z);
  PARE_GEMM_UNROLL
  for (size_t i = 1; i < MR; ++i) {
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < Z; ++j) acc[i][j] = acc[0][j];
    if constexpr (Y > 0) half[i] = half[0];
  }
  w += kNr;
  size_t p = 0;
  if constexpr (V::kFmaByLane && Y == 0) {  // NEON has no half vectors: H = V, Y = 0
    for (; p + 4 <= k; p += 4, w += 4 * kNr) {
      R a_vec[MR];
      PARE_GEMM_UNROLL
      for (size_t i = 0; i < MR; ++i) a_vec[i] = V::load(a + i * a_stride + p);
      fma_lane<V, MR, kZ, 0>(acc, a_vec, w);
      fma_lane<V, MR, kZ, 1>(acc, a_vec, w + kNr);
      fma_lane<V, MR, kZ, 2>(acc, a_vec, w + 2 * kNr);
      fma_lane<V, MR, kZ, 3>(acc, a_vec, w + 3 * kNr);
    }
  }
  for (; p < k; ++p, w += kNr) {
    R b[kZ];
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < Z; ++j) b[j] = V::load(w + kW * j);
    [[maybe_unused]] RH b_half;
    if constexpr (Y > 0) b_half = H::load(w + kW * Z);
    PARE_GEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) {
      const float* ap = a + i * a_stride + p;
      if constexpr (Z > 0) {
        const R av = V::broadcast(ap);
        PARE_GEMM_UNROLL
        for (size_t j = 0; j < Z; ++j) acc[i][j] = V::fmadd(av, b[j], acc[i][j]);
      }
      if constexpr (Y > 0) half[i] = H::fmadd(H::broadcast(ap), b_half, half[i]);
    }
  }
  // The limit goes first: the x86 max/min return their second operand when either is NaN,
  // NEON's return NaN, so NaN passes through as in std::max/std::min.
  const R lo = V::set1(min), hi = V::set1(max);
  [[maybe_unused]] const RH lo_half = H::set1(min), hi_half = H::set1(max);
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) {
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < Z; ++j) acc[i][j] = V::min_native(hi, V::max_native(lo, acc[i][j]));
    if constexpr (Y > 0) half[i] = H::min_native(hi_half, H::max_native(lo_half, half[i]));
  }
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) {
    float* row = c + i * c_stride;
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < Z; ++j) store_columns<V>(row, kW * j, nc, acc[i][j]);
    if constexpr (Y > 0) store_columns<H>(row, kW * Z, nc, half[i]);
  }
}

template <class V, class H, size_t MR>
inline void tile_nc(size_t nc, size_t k, const float* a, size_t a_stride, const float* w, float* c,
                    size_t c_stride, float min, float max) {
  constexpr size_t kW = V::kWidth;
  if constexpr (H::kWidth < kW) {
    if (nc > kW + H::kWidth)
      tile<V, H, MR, 2, 0>(nc, k, a, a_stride, w, c, c_stride, min, max);
    else if (nc > kW)
      tile<V, H, MR, 1, 1>(nc, k, a, a_stride, w, c, c_stride, min, max);
    else if (nc > H::kWidth)
      tile<V, H, MR, 1, 0>(nc, k, a, a_stride, w, c, c_stride, min, max);
    else
      tile<V, H, MR, 0, 1>(nc, k, a, a_stride, w, c, c_stride, min, max);
  } else {
    if (nc > kW)
      tile<V, H, MR, 2, 0>(nc, k, a, a_stride, w, c, c_stride, min, max);
    else
      tile<V, H, MR, 1, 0>(nc, k, a, a_stride, w, c, c_stride, min, max);
  }
}

// Calls the instance for exactly mr rows (mr in 1..MR), so short tiles do no extra work.
template <class V, class H, size_t MR>
void microkernel(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                 const float* panel, float* c, size_t c_stride, float min, float max) {
  if constexpr (MR > 1) {
    if (mr < MR)
      return microkernel<V, H, MR - 1>(mr, nc, k, a, a_stride, panel, c, c_stride, min, max);
  }
  tile_nc<V, H, MR>(nc, k, a, a_stride, panel, c, c_stride, min, max);
}

}  // namespace pare::rt::kernels::gemm_impl
