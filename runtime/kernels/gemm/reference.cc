#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
#include "runtime/kernels/gemm/gemm.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "runtime/kernels/activation/activation.h"

namespace pare::rt::kernels {

void f32_gemm_ref__scalar(const GemmArgs& p) {
  for (int64_t m = 0; m < p.rows; ++m) {
    float* y = p.y + m * p.cols;
    for (int64_t n = 0; n < p.cols; ++n) y[n] = 0.f;
    // Row m of y accumulates a(m, k) * row k of b, k in order.
    for (int64_t k = 0; k < p.depth; ++k) {
      const float av = p.a[m * p.a_row_stride + k * p.a_col_stride];
      const float* b = p.b + k * p.b_row_stride;
      for (int64_t n = 0; n < p.cols; ++n) y[n] += av * b[n * p.b_col_stride];
    }
    if (p.c) {
      const float* c = p.c + m * p.c_row_stride;
      for (int64_t n = 0; n < p.cols; ++n) y[n] = p.alpha * y[n] + p.beta * c[n * p.c_col_stride];
    } else if (p.alpha != 1.f) {
      for (int64_t n = 0; n < p.cols; ++n) y[n] *= p.alpha;
    }
  }
}

// ---- Packed weights ----

size_t f32_gemm_panel_stride(size_t nr, size_t k) { return (nr * (k + 1) + 15) / 16 * 16; }

size_t f32_gemm_packed_b_bytes(size_t nr, size_t n, size_t k) {
  return (n + nr - 1) / nr * f32_gemm_panel_stride(nr, k) * sizeof(float);
}

namespace {

// B[p, j] = b[p * k_step + j * n_step].
void pack_b(size_t nr, size_t n, size_t k, const float* b, size_t k_step, size_t n_step,
            const float* bias, float* packed) {
  const size_t stride = f32_gemm_panel_stride(nr, k);
  for (size_t j0 = 0; j0 < n; j0 += nr) {
    float* panel = packed + j0 / nr * stride;
    std::memset(panel, 0, stride * sizeof(float));
    const size_t nc = std::min(nr, n - j0);
    if (bias) std::memcpy(panel, bias + j0, nc * sizeof(float));
    for (size_t p = 0; p < k; ++p)
      for (size_t j = 0; j < nc; ++j) panel[nr * (p + 1) + j] = b[p * k_step + (j0 + j) * n_step];
  }
}

}  // namespace

void f32_gemm_pack_b_kn(size_t nr, size_t n, size_t k, const float* b, size_t ldb,
                        const float* bias, float* packed) {
  pack_b(nr, n, k, b, ldb, 1, bias, packed);
}

void f32_gemm_pack_b_nk(size_t nr, size_t n, size_t k, const float* b, size_t ldb,
                        const float* bias, float* packed) {
  pack_b(nr, n, k, b, 1, ldb, bias, packed);
}

// ---- Portable microkernel ----
//
// Written with GCC vector extensions (4 floats), which compile to the baseline SIMD of any
// target (SSE2, NEON) or to scalar code; plain loops over float[4][8] lose their registers
// at -O3.

namespace {

#define PARE_GEMM_UNROLL _Pragma("GCC unroll 16")

using Float4 = float __attribute__((vector_size(16)));

inline Float4 load4(const float* p) {
  Float4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Row i of A is `runs` runs of run_len floats, run r at a[i * runs + r] (a strided A is one
// run per row).
template <size_t MR, size_t NR>
void portable_tile(size_t nc, size_t runs, size_t run_len, const float* const* a, const float* w,
                   float* c, size_t c_stride, float min, float max, const F32GemmResidual* residual) {
  constexpr size_t kNv = NR / 4;
  Float4 acc[MR][kNv];
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i)
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < kNv; ++j) acc[i][j] = load4(w + 4 * j);
  w += NR;
  for (size_t r = 0; r < runs; ++r) {
    for (size_t q = 0; q < run_len; ++q, w += NR) {
      Float4 b[kNv];
      PARE_GEMM_UNROLL
      for (size_t j = 0; j < kNv; ++j) b[j] = load4(w + 4 * j);
      PARE_GEMM_UNROLL
      for (size_t i = 0; i < MR; ++i) {
        const float av = a[i * runs + r][q];
        PARE_GEMM_UNROLL
        for (size_t j = 0; j < kNv; ++j) acc[i][j] += av * b[j];
      }
    }
  }
  // As std::min(std::max(v, min), max), so NaN passes.
  const Float4 lo = Float4{} + min, hi = Float4{} + max;
  PARE_GEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) {
    float* row = c + i * c_stride;
    PARE_GEMM_UNROLL
    for (size_t j = 0; j < kNv; ++j) {
      Float4 v = acc[i][j] < lo ? lo : acc[i][j];
      v = hi < v ? hi : v;
      if (residual) {
        Float4 r{};
        const float* r_row = residual->r + i * residual->stride + 4 * j;
        if (4 * j + 4 <= nc)
          r = load4(r_row);
        else if (4 * j < nc)
          std::memcpy(&r, r_row, (nc - 4 * j) * sizeof(float));
        v = residual->first ? r + v : v + r;
      }
      if (4 * j + 4 <= nc)
        std::memcpy(row + 4 * j, &v, sizeof(v));
      else if (4 * j < nc)
        std::memcpy(row + 4 * j, &v, (nc - 4 * j) * sizeof(float));
    }
  }
}

}  // namespace

void f32_igemm_4x8__scalar(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                           const float* panel, float* c, size_t c_stride, float min, float max,
                           const F32GemmResidual* residual) {
  switch (mr) {
    case 1: return portable_tile<1, 8>(nc, runs, run_len, a, panel, c, c_stride, min, max, residual);
    case 2: return portable_tile<2, 8>(nc, runs, run_len, a, panel, c, c_stride, min, max, residual);
    case 3: return portable_tile<3, 8>(nc, runs, run_len, a, panel, c, c_stride, min, max, residual);
    default: return portable_tile<4, 8>(nc, runs, run_len, a, panel, c, c_stride, min, max, residual);
  }
}

void f32_gemm_4x8__scalar(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                          const float* panel, float* c, size_t c_stride, float min, float max,
                          const F32GemmResidual* residual) {
  const float* rows[4];
  for (size_t i = 0; i < 4; ++i) rows[i] = a + std::min(i, mr - 1) * a_stride;
  f32_igemm_4x8__scalar(mr, nc, 1, k, rows, panel, c, c_stride, min, max, residual);
}

// ---- Variants ----

namespace {

constexpr F32GemmVariant kReference = {"f32_gemm_4x8__scalar", "4x8__scalar", Isa::kScalar, 4, 8,
                                       f32_gemm_4x8__scalar, f32_igemm_4x8__scalar, f32_gemm_4x8__scalar,
                                       f32_igemm_4x8__scalar};

// From this depth the 12-row AVX-512 tile is chosen: on an Intel Xeon (AVX-512 VNNI, AMX)
// it made MobileNetV2-224 3-4% faster with its large-K 1x1 convs, and on Zen 4 12 rows
// measured as fast on large shapes but 3-15% slower at small K with large M (README.md).
constexpr size_t kTallTileMinK = 64;

constexpr F32GemmVariant kVariants[] = {
    kReference,
#if PARE_KERNELS_AVX2
    {"f32_gemm_6x16__avx2", "6x16__avx2", Isa::kAvx2, 6, 16, f32_gemm_6x16__avx2, f32_igemm_6x16__avx2,
     f32_gemm_6x16__avx2_streaming, f32_igemm_6x16__avx2_streaming},
#endif
#if PARE_KERNELS_AVX512
    {"f32_gemm_8x32__avx512", "8x32__avx512", Isa::kAvx512, 8, 32, f32_gemm_8x32__avx512,
     f32_igemm_8x32__avx512, f32_gemm_8x32__avx512_streaming, f32_igemm_8x32__avx512_streaming},
    {"f32_gemm_12x32__avx512", "12x32__avx512", Isa::kAvx512, 12, 32, f32_gemm_12x32__avx512,
     f32_igemm_12x32__avx512, f32_gemm_12x32__avx512_streaming, f32_igemm_12x32__avx512_streaming,
     kTallTileMinK},
#endif
#if PARE_KERNELS_NEON
    {"f32_gemm_8x8__neon", "8x8__neon", Isa::kNeon, 8, 8, f32_gemm_8x8__neon, f32_igemm_8x8__neon,
     f32_gemm_8x8__neon_streaming, f32_igemm_8x8__neon_streaming},
#endif
};

}  // namespace

const F32GemmVariant* f32_gemm_variants(size_t* count) {
  if constexpr (!kernel_family_selected("f32_gemm")) {
    *count = 1;
    return &kReference;
  }
  *count = sizeof(kVariants) / sizeof(kVariants[0]);
  return kVariants;
}

// The table runs from the portable variant to the fastest.
const F32GemmVariant& select_f32_gemm(Isa isa, size_t k) {
  note_kernel_family("f32_gemm");
  size_t count = 0;
  const F32GemmVariant* all = f32_gemm_variants(&count);
  const F32GemmVariant* best = best_usable_variant(all, count, true, isa, [k](const F32GemmVariant& v) {
    return v.min_k == 0 || (k != 0 && k >= v.min_k);
  });
  return best ? *best : all[0];
}

// ---- Driver ----

namespace {

// Packed weights larger than this stream from L3 in a large model (its weights do not stay
// in L2 between inferences), so their tiles prefetch the panel ahead. MobileNetV2-224's 14x14
// and 7x7 1x1 convs (221 KiB to 1.6 MiB of weights), with their weights evicted to L3: 3-12%
// faster. Weights of 64 KiB that stay in L2 measured 2-4% slower with it.
constexpr size_t kStreamMinBytes = 128 * 1024;

}  // namespace

namespace {

// The rows of each M tile, worked out once per call: the tile loop then needs no division.
class RowSplit {
 public:
  RowSplit(size_t mr, size_t m) : mr_(mr), m_(m) {
    const size_t tiles = (m + mr - 1) / mr, rest = m % mr;
    // A short last tile has too few independent accumulator chains to hide the FMA
    // latency; the last two tiles share their rows evenly instead.
    if (tiles < 2 || rest == 0 || 2 * rest >= mr) return;
    pair_ = tiles - 2;
    shared_ = mr + rest;
    upper_ = (shared_ + 1) / 2;
  }
  void rows(size_t m_tile, size_t* first_row, size_t* rows) const {
    if (m_tile < pair_) {
      *first_row = m_tile * mr_;
      *rows = std::min(mr_, m_ - *first_row);
    } else if (m_tile == pair_) {
      *first_row = m_tile * mr_;
      *rows = upper_;
    } else {
      *first_row = pair_ * mr_ + upper_;
      *rows = shared_ - upper_;
    }
  }

 private:
  size_t mr_, m_;
  size_t pair_ = SIZE_MAX;  // the first of the last two tiles when they share their rows
  size_t shared_ = 0, upper_ = 0;
};

// Adds the residual to rows x cols of c (after an activation the microkernel does not
// apply), in the residual's operand order.
void add_residual(size_t rows, size_t cols, const F32GemmResidual& r, float* c, size_t c_stride) {
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) {
      float& y = c[i * c_stride + j];
      const float x = r.r[i * r.stride + j];
      y = r.first ? x + y : y + x;
    }
}

// One product's tiles: what each tile needs, worked out once per call.
class TileRunner {
 public:
  TileRunner(const F32GemmVariant& v, const F32GemmArgs& g) : TileRunner(v, g, f32_gemm_streams_b(v, g)) {}

  void run(size_t m_tile, size_t n_panel) const {
    size_t i0, mr;
    split_.rows(m_tile, &i0, &mr);
    const F32GemmArgs& g = g_;
    const size_t j0 = n_panel * v_.nr, nc = std::min(v_.nr, g.n - j0);
    float* c = g.c + i0 * g.c_stride + j0;
    const float* panel = g.packed_b + n_panel * panel_stride_;
    F32GemmResidual residual;
    if (g.residual) residual = {g.residual + i0 * g.residual_stride + j0, g.residual_stride, g.residual_first};
    // The residual goes after the activation: in the microkernel's epilogue when the clamp
    // is all of it.
    const F32GemmResidual* in_tile = g.residual && !g.activation ? &residual : nullptr;
    if (g.a_runs)
      indirect_(mr, nc, g.a_run_count, g.k / g.a_run_count, g.a_runs + i0 * g.a_run_count, panel, c,
                g.c_stride, g.min, g.max, in_tile);
    else
      microkernel_(mr, nc, g.k, g.a + i0 * g.a_stride, g.a_stride, panel, c, g.c_stride, g.min, g.max, in_tile);
    if (g.activation) {
      f32_gemm_activation(*g.activation, g.activation_vector, mr, nc, c, g.c_stride);
      if (g.residual) add_residual(mr, nc, residual, c, g.c_stride);
    }
  }

 private:
  TileRunner(const F32GemmVariant& v, const F32GemmArgs& g, bool stream)
      : v_(v), g_(g), split_(v.mr, g.m), panel_stride_(f32_gemm_panel_stride(v.nr, g.k)),
        microkernel_(stream ? v.streaming : v.microkernel), indirect_(stream ? v.indirect_streaming : v.indirect) {}

  const F32GemmVariant& v_;
  const F32GemmArgs& g_;
  RowSplit split_;
  size_t panel_stride_;
  F32GemmMicrokernel microkernel_;
  F32GemmIndirectMicrokernel indirect_;
};

}  // namespace

void f32_gemm_tile_rows(const F32GemmVariant& v, size_t m, size_t m_tile, size_t* first_row,
                        size_t* rows) {
  RowSplit(v.mr, m).rows(m_tile, first_row, rows);
}

bool f32_gemm_streams_b(const F32GemmVariant& v, const F32GemmArgs& args) {
  const size_t bytes = f32_gemm_packed_b_bytes(v.nr, args.n, args.k);
  if (bytes <= kStreamMinBytes) return false;
  // One row (a batch-1 Gemm or MatMul) reads each weight once. From L3 the hardware keeps up
  // and the prefetches only cost: fmnist_mlp (5.3 MB of weights) 0.063 -> 0.050 ms on Zen 5
  // without them. From memory they gain 5-12% (kernel_gemm_bench classifier_cold). Weights
  // of a quarter of the last-level cache or less are taken to stay there between inferences.
  if (args.m == 1) {
    const size_t llc = last_level_cache_bytes();
    return llc == 0 || bytes > llc / 4;
  }
  return true;
}

void f32_gemm(const F32GemmVariant& v, const F32GemmArgs& g, size_t m_tile_begin,
              size_t m_tile_end, size_t n_panel_begin, size_t n_panel_end) {
  const TileRunner tiles(v, g);
  for (size_t mt = m_tile_begin; mt < m_tile_end; ++mt)
    for (size_t np = n_panel_begin; np < n_panel_end; ++np) tiles.run(mt, np);
}

void f32_gemm_tiles(const F32GemmVariant& v, const F32GemmArgs& g, size_t tile_begin,
                    size_t tile_end) {
  if (tile_begin >= tile_end) return;
  const TileRunner tiles(v, g);
  // Tile t's (M tile, N panel) by one division, then by stepping.
  if (f32_gemm_panel_major(g)) {
    const size_t m_tiles = f32_gemm_m_tiles(v, g.m);
    size_t mt = tile_begin % m_tiles, np = tile_begin / m_tiles;
    for (size_t t = tile_begin; t < tile_end; ++t) {
      tiles.run(mt, np);
      if (++mt == m_tiles) {
        mt = 0;
        ++np;
      }
    }
    return;
  }
  const size_t n_panels = f32_gemm_n_panels(v, g.n);
  size_t mt = tile_begin / n_panels, np = tile_begin % n_panels;
  for (size_t t = tile_begin; t < tile_end; ++t) {
    tiles.run(mt, np);
    if (++np == n_panels) {
      np = 0;
      ++mt;
    }
  }
}

void f32_gemm_set_activation(const FusedActivation& act, F32GemmArgs* args, Isa cap) {
  args->min = -std::numeric_limits<float>::infinity();
  args->max = std::numeric_limits<float>::infinity();
  args->activation = nullptr;
  args->activation_vector = f32_activation_vector(act.kind, cap);
  switch (act.kind) {
    case ActivationKind::kNone: return;
    case ActivationKind::kRelu: args->min = 0.f; return;
    case ActivationKind::kClip: args->min = act.p0; args->max = act.p1; return;
    case ActivationKind::kSigmoid:
    case ActivationKind::kHardSigmoid:
    case ActivationKind::kHardSwish:
    case ActivationKind::kLeakyRelu:
    case ActivationKind::kSilu: args->activation = &act; return;
  }
}

void f32_gemm_activation(const FusedActivation& act, F32UnaryFn vector, size_t rows, size_t cols, float* c,
                         size_t c_stride) {
  for (size_t i = 0; i < rows; ++i) f32_activation(act, vector, c + i * c_stride, cols);
}

}  // namespace pare::rt::kernels
