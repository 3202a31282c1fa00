// The f32 GEMM microkernel written once over a vector type V (a simd::F32x* struct, see
// simd/x86_avx2.h): tiles of up to MR rows x NR = 2 * V::kWidth columns, one panel of the
// packed B (gemm.h). H is the half-width vector of V's ISA (AVX-512: a ymm, so a last panel
// of at most 24 columns runs as zmm + ymm and one of at most 8 as one ymm; a ymm FMA costs
// half a zmm one where AVX-512 runs as two 256-bit halves), or V itself where there is none.
// With V::kFmaByLane (NEON), each row's next four A values are loaded as one vector and used
// by lane, four steps of K at a time. The indirect microkernel reads each A row as runs of
// floats through pointers (a convolution's input rows under the kernel window, so that no
// im2col copy is made) and does the same steps in the same order. Only included by the ISA
// files (compiled with their own flags), each instantiating it with its own V.
#pragma once

#include <cstddef>
#include <type_traits>

#include "runtime/kernels/gemm/gemm.h"

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

// The accumulators of a tile of MR rows x (Z * V::kWidth + Y * H::kWidth) columns of a
// panel, Y in {0, 1}: columns past the last vector that holds data are zero padding, so the
// tile skips them. The strided and the indirect tile below share its steps, so both do one
// fused multiply-add per step of K in the same order and agree bit for bit.
template <class V, class H, size_t MR, size_t Z, size_t Y>
struct Accumulators {
  static constexpr size_t kW = V::kWidth, kNr = 2 * kW;
  static_assert(Z * kW + Y * H::kWidth <= kNr && Y <= 1, "tile wider than the panel");
  static constexpr size_t kZ = Z > 0 ? Z : 1;  // arrays need a size; only j < Z is used
  using R = typename V::R;
  using RH = typename H::R;
  R acc[MR][kZ];
  RH half[MR];
};

// Every row starts from the panel's bias row `w`.
template <class V, class H, size_t MR, size_t Z, size_t Y>
inline void start_from_bias(Accumulators<V, H, MR, Z, Y>& t, const float* w) {
  constexpr size_t kW = V::kWidth;
  PARE_GEMM_UNROLL
  for (size_t j = 0; j < Z; ++j) t.acc[0][j] = V::load(w + kW * j);
  if constexpr (Y > 0) t.half[0] = H::load(w + kW * Z);
  PARE_GEMM_UNROLL
  for (size_t i = 1; i < MR; ++i) {
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < Z; ++j) t.acc[i][j] = t.acc[0][j];
    if constexpr (Y > 0) t.half[i] = t.half[0];
  }
}

// One step of K: row i += A value *a_at(i) times the panel row `w`. EachUse: each FMA takes
// the A value as a broadcast memory operand (V::fmadd_broadcast) instead of sharing one
// broadcast register (see indirect_tile).
// Rows [I0, I1) only (all by default).
template <bool EachUse = false, size_t I0 = 0, size_t I1 = ~size_t{0}, class V, class H, size_t MR, size_t Z,
          size_t Y, class At>
inline void fma_step(Accumulators<V, H, MR, Z, Y>& t, const float* w, At a_at) {
  constexpr size_t kEnd = I1 < MR ? I1 : MR;
  constexpr size_t kW = V::kWidth;
  using T = Accumulators<V, H, MR, Z, Y>;
  typename T::R b[T::kZ];
  PARE_GEMM_UNROLL
  for (size_t j = 0; j < Z; ++j) b[j] = V::load(w + kW * j);
  [[maybe_unused]] typename T::RH b_half;
  if constexpr (Y > 0) b_half = H::load(w + kW * Z);
  PARE_GEMM_UNROLL
  for (size_t i = I0; i < kEnd; ++i) {
    const float* ap = a_at(i);
    if constexpr (Z > 0 && EachUse) {
      PARE_GEMM_UNROLL
      for (size_t j = 0; j < Z; ++j) t.acc[i][j] = V::fmadd_broadcast(ap, b[j], t.acc[i][j]);
    } else if constexpr (Z > 0) {
      const typename T::R av = V::broadcast(ap);
      PARE_GEMM_UNROLL
      for (size_t j = 0; j < Z; ++j) t.acc[i][j] = V::fmadd(av, b[j], t.acc[i][j]);
    }
    if constexpr (Y > 0) t.half[i] = H::fmadd(H::broadcast(ap), b_half, t.half[i]);
  }
}

// Four steps of K with V::kFmaByLane (NEON, where H = V and Y = 0): each row's four A values
// from a_at(i) loaded as one vector and used by lane.
template <class V, class H, size_t MR, size_t Z, size_t Y, class At>
inline void fma_four_steps(Accumulators<V, H, MR, Z, Y>& t, const float* w, At a_at) {
  constexpr size_t kNr = 2 * V::kWidth;
  using T = Accumulators<V, H, MR, Z, Y>;
  typename T::R a_vec[MR];
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) a_vec[i] = V::load(a_at(i));
  fma_lane<V, MR, T::kZ, 0>(t.acc, a_vec, w);
  fma_lane<V, MR, T::kZ, 1>(t.acc, a_vec, w + kNr);
  fma_lane<V, MR, T::kZ, 2>(t.acc, a_vec, w + 2 * kNr);
  fma_lane<V, MR, T::kZ, 3>(t.acc, a_vec, w + 3 * kNr);
}

// How far ahead of the panel row in use a streaming tile asks for the panel, into L2: 256
// steps of K of a 32-float panel. Weights that come from L3 or memory (a large CNN's late
// layers and its classifier: they do not stay in L2 between inferences) then arrive before
// the tile needs them. A classifier's 5 MB from memory (kernel_gemm_bench classifier_cold)
// took 369-389 us with 4 KB into L1 and 272-324 us with 32 KB into L2 (a plain read of the
// bytes: 230-280 us); 32 KB into L1 would evict the rows in use. A burst of prefetches for
// the next panel at the start of each tile measured 7-12% slower on MobileNetV2-224's 7x7
// layers: it stalls on the core's outstanding-miss slots.
constexpr size_t kStreamAheadBytes = 32768;

// Asks for the panel bytes `kStreamAheadBytes` past the `bytes` from `w` on.
template <size_t Bytes>
inline void prefetch_panel_ahead(const float* w) {
  const char* ahead = reinterpret_cast<const char*>(w) + kStreamAheadBytes;
  PARE_GEMM_UNROLL
  for (size_t b = 0; b < Bytes; b += 64) __builtin_prefetch(ahead + b, /*read*/ 0, /*L2*/ 2);
}

// Steps [0, k) of a run of K, A value p of row i at a_at(i) + p; returns `w` past them.
// Stream: prefetch the panel ahead of use. EachUse, I0, I1: as fma_step's.
template <bool Stream, bool EachUse = false, size_t I0 = 0, size_t I1 = ~size_t{0}, class V, class H, size_t MR,
          size_t Z, size_t Y, class At>
inline const float* fma_run(Accumulators<V, H, MR, Z, Y>& t, size_t k, const float* w, At a_at) {
  constexpr size_t kNr = 2 * V::kWidth;
  size_t p = 0;
  if constexpr (V::kFmaByLane && Y == 0 && I0 == 0 && I1 >= MR) {
    for (; p + 4 <= k; p += 4, w += 4 * kNr) {
      if constexpr (Stream) prefetch_panel_ahead<4 * kNr * sizeof(float)>(w);
      fma_four_steps(t, w, [&](size_t i) { return a_at(i) + p; });
    }
  }
  for (; p < k; ++p, w += kNr) {
    if constexpr (Stream) prefetch_panel_ahead<kNr * sizeof(float)>(w);
    fma_step<EachUse, I0, I1>(t, w, [&](size_t i) { return a_at(i) + p; });
  }
  return w;
}

// v + the residual at `r` (its first nc - col columns when fewer than a vector), in the
// residual's operand order.
template <class W>
inline typename W::R add_residual(typename W::R v, const float* r, size_t col, size_t nc, bool first) {
  const typename W::R x =
      col + W::kWidth <= nc ? W::load(r + col) : W::load_partial(r + col, W::first_lanes(nc - col));
  return first ? W::add(x, v) : W::add(v, x);
}

// Clamps to [min, max], adds the residual when there is one, and stores the first nc
// columns of each row of C.
template <class V, class H, size_t MR, size_t Z, size_t Y>
inline void clamp_and_store(Accumulators<V, H, MR, Z, Y>& t, size_t nc, float* c, size_t c_stride,
                            float min, float max, const F32GemmResidual* residual) {
  constexpr size_t kW = V::kWidth;
  using T = Accumulators<V, H, MR, Z, Y>;
  // The limit goes first: the x86 max/min return their second operand when either is NaN,
  // NEON's return NaN, so NaN passes through as in std::max/std::min.
  const typename T::R lo = V::set1(min), hi = V::set1(max);
  [[maybe_unused]] const typename T::RH lo_half = H::set1(min), hi_half = H::set1(max);
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) {
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < Z; ++j) t.acc[i][j] = V::min_native(hi, V::max_native(lo, t.acc[i][j]));
    if constexpr (Y > 0) t.half[i] = H::min_native(hi_half, H::max_native(lo_half, t.half[i]));
  }
  if (residual) {
    const bool first = residual->first;
    PARE_GEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) {
      const float* r = residual->r + i * residual->stride;
      PARE_GEMM_UNROLL
      for (size_t j = 0; j < Z; ++j) t.acc[i][j] = add_residual<V>(t.acc[i][j], r, kW * j, nc, first);
      if constexpr (Y > 0) t.half[i] = add_residual<H>(t.half[i], r, kW * Z, nc, first);
    }
  }
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) {
    float* row = c + i * c_stride;
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < Z; ++j) store_columns<V>(row, kW * j, nc, t.acc[i][j]);
    if constexpr (Y > 0) store_columns<H>(row, kW * Z, nc, t.half[i]);
  }
}

// A tile with A rows at a + i * a_stride.
template <bool Stream, class V, class H, size_t MR, size_t Z, size_t Y>
inline void tile(size_t nc, size_t k, const float* a, size_t a_stride, const float* w, float* c,
                 size_t c_stride, float min, float max, const F32GemmResidual* residual) {
  Accumulators<V, H, MR, Z, Y> t;
  start_from_bias(t, w);
  fma_run<Stream>(t, k, w + 2 * V::kWidth, [&](size_t i) { return a + i * a_stride; });
  clamp_and_store(t, nc, c, c_stride, min, max, residual);
}

// Runs of at least kSplitMinRun floats go through the indirect tile's rows in two halves,
// kSplitChunk steps of K at a time (the chunk's panel rows, 16 KiB, stay in L1 for the
// second half), on ISAs without the lane FMA and tiles of 8 rows or more: a half of 4 rows
// keeps 8 accumulator chains, enough to hide the FMA latency. The 7- and 6-row tiles that
// share a remainder (M49 = 12 + 12 + 12 + 7 + 6) ran latency-bound in 3-row halves:
// M49 K4608 N512 215-219 -> 223-228 GFLOP/s with them read in place.
template <class V, size_t MR>
constexpr bool kSplitRows = !V::kFmaByLane && MR >= 8;
constexpr size_t kSplitMinRun = 64;
constexpr size_t kSplitChunk = 128;

// A tile whose A row i is `runs` runs of run_len floats, run r at a[i * runs + r].
// Stream: prefetch the panel ahead of use, as the streaming microkernel does.
template <bool Stream, class V, class H, size_t MR, size_t Z, size_t Y>
inline void indirect_tile(size_t nc, size_t runs, size_t run_len, const float* const* a,
                          const float* w, float* c, size_t c_stride, float min, float max,
                          const F32GemmResidual* residual) {
  Accumulators<V, H, MR, Z, Y> t;
  start_from_bias(t, w);
  w += 2 * V::kWidth;
  for (size_t r = 0; r < runs; ++r) {
    const float* run[MR];
    PARE_GEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) run[i] = a[i * runs + r];
    // Broadcasts as memory operands: with MR row pointers in registers GCC 12 kept no room
    // for the second panel vector and reloaded it from the stack for every row.
    w = fma_run<Stream, true>(t, run_len, w, [&](size_t i) { return run[i]; });
  }
  clamp_and_store(t, nc, c, c_stride, min, max, residual);
}

// The same tile, its rows in two halves in turn over each kSplitChunk steps of a run: each
// half's pointers fit in registers beside the panel vectors, so each A value is broadcast
// once for the row's FMAs. With all MR pointers at once, every FMA needed its own broadcast
// memory operand (above): 219-224 GFLOP/s on Zen 5 where the strided tile ran at 251-258
// on the same products (kernel_gemm_bench `indirect_*`). A function of its own: with both
// loops in one, GCC 12 kept the accumulators on the stack.
template <bool Stream, class V, class H, size_t MR, size_t Z, size_t Y>
inline void indirect_split_tile(size_t nc, size_t runs, size_t run_len, const float* const* a,
                                const float* w, float* c, size_t c_stride, float min, float max,
                                const F32GemmResidual* residual) {
  constexpr size_t kHalf = MR / 2;
  Accumulators<V, H, MR, Z, Y> t;
  start_from_bias(t, w);
  w += 2 * V::kWidth;
  for (size_t r = 0; r < runs; ++r) {
    const float* const* run = a + r;  // row i's run at run[i * runs]
    for (size_t p0 = 0; p0 < run_len; p0 += kSplitChunk) {
      const size_t len = run_len - p0 < kSplitChunk ? run_len - p0 : kSplitChunk;
      fma_run<Stream, false, 0, kHalf>(t, len, w, [&](size_t i) { return run[i * runs] + p0; });
      w = fma_run<false, false, kHalf, MR>(t, len, w, [&](size_t i) { return run[i * runs] + p0; });
    }
  }
  clamp_and_store(t, nc, c, c_stride, min, max, residual);
}

template <size_t N>
using Count = std::integral_constant<size_t, N>;

// Calls tile_for(Count<Z>, Count<Y>) with the vectors that cover nc columns.
template <class V, class H, class TileFor>
inline void for_columns(size_t nc, TileFor tile_for) {
  constexpr size_t kW = V::kWidth;
  if constexpr (H::kWidth < kW) {
    if (nc > kW + H::kWidth)
      tile_for(Count<2>(), Count<0>());
    else if (nc > kW)
      tile_for(Count<1>(), Count<1>());
    else if (nc > H::kWidth)
      tile_for(Count<1>(), Count<0>());
    else
      tile_for(Count<0>(), Count<1>());
  } else {
    if (nc > kW)
      tile_for(Count<2>(), Count<0>());
    else
      tile_for(Count<1>(), Count<0>());
  }
}

// Calls the instance for exactly mr rows (mr in 1..MR), so short tiles do no extra work.
// Stream: the streaming microkernel (prefetch_panel_ahead).
template <class V, class H, size_t MR, bool Stream = false>
void microkernel(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride, const float* panel,
                 float* c, size_t c_stride, float min, float max, const F32GemmResidual* residual) {
  if constexpr (MR > 1) {
    if (mr < MR)
      return microkernel<V, H, MR - 1, Stream>(mr, nc, k, a, a_stride, panel, c, c_stride, min, max,
                                               residual);
  }
  for_columns<V, H>(nc, [&](auto z, auto y) {
    tile<Stream, V, H, MR, decltype(z)::value, decltype(y)::value>(nc, k, a, a_stride, panel, c, c_stride,
                                                                   min, max, residual);
  });
}

template <class V, class H, size_t MR, bool Stream = false>
void indirect_microkernel(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                          const float* panel, float* c, size_t c_stride, float min, float max,
                          const F32GemmResidual* residual) {
  if constexpr (MR > 1) {
    if (mr < MR)
      return indirect_microkernel<V, H, MR - 1, Stream>(mr, nc, runs, run_len, a, panel, c, c_stride, min, max,
                                                        residual);
  }
  for_columns<V, H>(nc, [&](auto z, auto y) {
    constexpr size_t kZ = decltype(z)::value, kY = decltype(y)::value;
    if constexpr (kSplitRows<V, MR>) {
      if (run_len >= kSplitMinRun)
        return indirect_split_tile<Stream, V, H, MR, kZ, kY>(nc, runs, run_len, a, panel, c, c_stride, min, max,
                                                             residual);
    }
    indirect_tile<Stream, V, H, MR, kZ, kY>(nc, runs, run_len, a, panel, c, c_stride, min, max, residual);
  });
}

}  // namespace pare::rt::kernels::gemm_impl
