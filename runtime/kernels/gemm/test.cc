// f32 GEMM with packed weights: every variant usable on this CPU against the strided
// reference, over sizes around each variant's tile.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/activation/activation.h"
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/isa_coverage_test.h"

namespace pare::rt::kernels {
namespace {

constexpr float kSentinel = 12345.f;
constexpr float kInf = std::numeric_limits<float>::infinity();

bool supported_here(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return f.avx2_fma;
    case Isa::kAvx512: return f.avx512;
    case Isa::kAvx512Vnni: return f.avx512vnni;
    case Isa::kAmx: return f.amx;
    case Isa::kNeon: return f.neon;
    case Isa::kNeonDot: return f.neon_dot;
  }
  return false;
}

std::vector<const F32GemmVariant*> usable_variants() {
  size_t count = 0;
  const F32GemmVariant* all = f32_gemm_variants(&count);
  std::vector<const F32GemmVariant*> out;
  for (size_t i = 0; i < count; ++i)
    if (supported_here(all[i].isa)) out.push_back(&all[i]);
  return out;
}

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float, FreeDeleter>;

AlignedFloats alloc_packed(size_t nr, size_t n, size_t k) {
  const size_t bytes = f32_gemm_packed_b_bytes(nr, n, k);
  return AlignedFloats(static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
}

enum class Layout { kKN, kNK };

// One problem: A [m, k] with row stride k + a_pad, B [k, n] in `layout` with padding on its
// rows, C with row stride n + c_pad.
struct Problem {
  size_t m, n, k;
  Layout layout = Layout::kKN;
  bool bias = true;
  size_t a_pad = 3, b_pad = 2, c_pad = 5;
  uint32_t seed = 1;
};

struct Data {
  std::vector<float> a, b, bias;
  size_t a_stride, ldb, c_stride;
};

Data make_data(const Problem& p) {
  Data d;
  d.a_stride = p.k + p.a_pad;
  d.c_stride = p.n + p.c_pad;
  d.ldb = (p.layout == Layout::kKN ? p.n : p.k) + p.b_pad;
  // A holds exactly the rows it needs: the last row ends at its k-th element.
  d.a = random_values((p.m - 1) * d.a_stride + p.k, p.seed);
  // Padding of A is NaN: a kernel that reads it poisons its output.
  for (size_t i = 0; i + 1 < p.m; ++i)
    for (size_t q = p.k; q < d.a_stride; ++q) d.a[i * d.a_stride + q] = std::nanf("");
  const size_t b_rows = p.layout == Layout::kKN ? p.k : p.n;
  d.b = random_values(b_rows * d.ldb, p.seed + 1);
  if (p.bias) d.bias = random_values(p.n, p.seed + 2);
  return d;
}

AlignedFloats pack(const F32GemmVariant& v, const Problem& p, const Data& d) {
  AlignedFloats packed = alloc_packed(v.nr, p.n, p.k);
  const float* bias = p.bias ? d.bias.data() : nullptr;
  if (p.layout == Layout::kKN)
    f32_gemm_pack_b_kn(v.nr, p.n, p.k, d.b.data(), d.ldb, bias, packed.get());
  else
    f32_gemm_pack_b_nk(v.nr, p.n, p.k, d.b.data(), d.ldb, bias, packed.get());
  return packed;
}

// The driver's arguments for problem p, C not yet set (`act` must outlive them).
F32GemmArgs gemm_args(const Problem& p, const Data& d, const float* packed, const FusedActivation& act) {
  F32GemmArgs args;
  args.m = p.m;
  args.n = p.n;
  args.k = p.k;
  args.a = d.a.data();
  args.a_stride = d.a_stride;
  args.packed_b = packed;
  args.c_stride = d.c_stride;
  f32_gemm_set_activation(act, &args);
  return args;
}

// Runs the whole product through the driver into a C filled with sentinels.
std::vector<float> run_gemm(const F32GemmVariant& v, const Problem& p, const Data& d,
                            const float* packed, const FusedActivation& act) {
  std::vector<float> c(p.m * d.c_stride + 7, kSentinel);
  F32GemmArgs args = gemm_args(p, d, packed, act);
  args.c = c.data();
  f32_gemm(v, args, 0, f32_gemm_m_tiles(v, p.m), 0, f32_gemm_n_panels(v, p.n));
  return c;
}

// C = activation(A B + bias) by the strided reference, dense [m, n]; `scale` gets
// |bias| + sum_k |a b| per element, the size of the rounding error to allow.
std::vector<float> reference(const Problem& p, const Data& d, const FusedActivation& act,
                             std::vector<float>* scale) {
  GemmArgs g;
  g.rows = static_cast<int64_t>(p.m);
  g.cols = static_cast<int64_t>(p.n);
  g.depth = static_cast<int64_t>(p.k);
  g.a = d.a.data();
  g.a_row_stride = static_cast<int64_t>(d.a_stride);
  g.a_col_stride = 1;
  g.b = d.b.data();
  const int64_t ldb = static_cast<int64_t>(d.ldb);
  g.b_row_stride = p.layout == Layout::kKN ? ldb : 1;
  g.b_col_stride = p.layout == Layout::kKN ? 1 : ldb;
  if (p.bias) {
    g.c = d.bias.data();
    g.c_row_stride = 0;
    g.c_col_stride = 1;
  }
  std::vector<float> y(p.m * p.n);
  g.y = y.data();
  f32_gemm_ref__scalar(g);
  f32_activation__scalar(act, y.data(), y.size());

  scale->assign(p.m * p.n, 0.f);
  for (size_t i = 0; i < p.m; ++i)
    for (size_t j = 0; j < p.n; ++j) {
      float s = p.bias ? std::fabs(d.bias[j]) : 0.f;
      for (size_t q = 0; q < p.k; ++q)
        s += std::fabs(d.a[i * d.a_stride + q] * d.b[q * g.b_row_stride + j * g.b_col_stride]);
      (*scale)[i * p.n + j] = s;
    }
  return y;
}

// Checks C against the reference and that nothing outside the m x n elements was written.
void expect_matches(const F32GemmVariant& v, const Problem& p, const FusedActivation& act) {
  SCOPED_TRACE(std::string(v.name) + " m=" + std::to_string(p.m) + " n=" + std::to_string(p.n) +
               " k=" + std::to_string(p.k) + (p.layout == Layout::kKN ? " [K,N]" : " [N,K]") +
               (p.bias ? " bias" : " no bias") + " act=" + std::to_string(static_cast<int>(act.kind)));
  const Data d = make_data(p);
  const AlignedFloats packed = pack(v, p, d);
  const std::vector<float> c = run_gemm(v, p, d, packed.get(), act);
  std::vector<float> scale;
  const std::vector<float> want = reference(p, d, act, &scale);
  // Activations here change an error by at most 1.5x (HardSwish's steepest slope).
  const float slope = act.kind == ActivationKind::kHardSwish ? 1.5f : 1.f;
  size_t bad = 0;
  for (size_t i = 0; i < p.m; ++i) {
    for (size_t j = 0; j < p.n; ++j) {
      const float got = c[i * d.c_stride + j], ref = want[i * p.n + j];
      const float tol = 1e-5f * slope * scale[i * p.n + j] + 1e-30f;
      if (!(std::fabs(got - ref) <= tol) && bad++ < 5)
        ADD_FAILURE() << "C[" << i << "," << j << "] = " << got << ", want " << ref;
    }
    for (size_t j = p.n; j < d.c_stride; ++j)
      if (c[i * d.c_stride + j] != kSentinel && bad++ < 5)
        ADD_FAILURE() << "wrote C[" << i << "," << j << "] past the row end";
  }
  for (size_t q = p.m * d.c_stride; q < c.size(); ++q)
    if (c[q] != kSentinel && bad++ < 5) ADD_FAILURE() << "wrote past C's last row";
  EXPECT_EQ(bad, 0u);
}

std::vector<size_t> n_sizes(const F32GemmVariant& v) {
  const size_t nr = v.nr;
  // Quarter and half panels: microkernels narrow their tile to the columns left.
  std::vector<size_t> sizes = {1,      2,          3,      nr / 4, nr / 4 + 1, nr / 2 - 1,
                               nr / 2, nr / 2 + 1, 3 * nr / 4, 3 * nr / 4 + 1, nr - 1, nr,
                               nr + 1, 2 * nr + 3};
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

TEST(F32Gemm, VariantsAreListedAndSelectable) {
  const std::vector<const F32GemmVariant*> variants = usable_variants();
  ASSERT_FALSE(variants.empty());
  EXPECT_STREQ(select_f32_gemm(Isa::kScalar).name, "f32_gemm_4x8__scalar");
  for (const F32GemmVariant* v : variants) {
    EXPECT_GE(v->mr, 1u);
    EXPECT_EQ(std::string(v->name), "f32_gemm_" + std::string(v->tile_isa));
    const std::string tile = std::to_string(v->mr) + "x" + std::to_string(v->nr) + "__";
    EXPECT_EQ(std::string(v->tile_isa).rfind(tile, 0), 0u) << v->name;
    // The selected variant for a variant's own ISA uses that ISA.
    EXPECT_EQ(select_f32_gemm(v->isa).isa, v->isa) << v->name;
    // A variant for deep products only is chosen from its depth on, never when the depth
    // is unknown, and never below it.
    if (v->min_k > 0) {
      EXPECT_STREQ(select_f32_gemm(v->isa, v->min_k).name, v->name);
      EXPECT_STRNE(select_f32_gemm(v->isa, v->min_k - 1).name, v->name);
      EXPECT_STRNE(select_f32_gemm(v->isa).name, v->name);
      EXPECT_EQ(select_f32_gemm(v->isa, v->min_k - 1).nr, v->nr) << "packed weights are shared";
    }
  }
}

TEST(F32Gemm, TileRowsCoverMOnce) {
  for (const F32GemmVariant* v : usable_variants()) {
    for (size_t m = 1; m <= 5 * v->mr; ++m) {
      size_t next = 0;
      const size_t tiles = f32_gemm_m_tiles(*v, m);
      for (size_t t = 0; t < tiles; ++t) {
        size_t first = 0, rows = 0;
        f32_gemm_tile_rows(*v, m, t, &first, &rows);
        EXPECT_EQ(first, next) << v->name << " m=" << m << " tile " << t;
        EXPECT_GE(rows, 1u);
        EXPECT_LE(rows, v->mr);
        // No tile shorter than half a tile unless M itself is.
        if (m >= v->mr) {
          EXPECT_GE(2 * rows, v->mr) << v->name << " m=" << m << " tile " << t;
        }
        next = first + rows;
      }
      EXPECT_EQ(next, m) << v->name << " m=" << m;
    }
  }
}

TEST(F32Gemm, PackedLayout) {
  // [K, N] = [3, 5], nr = 4: two panels of 4 columns, the second zero-padded.
  const size_t k = 3, n = 5, nr = 4;
  std::vector<float> b(k * n), bias = {10, 20, 30, 40, 50};
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i + 1);
  const size_t stride = f32_gemm_panel_stride(nr, k);
  EXPECT_EQ(stride, 16u);  // 4 * (3 + 1) floats, a multiple of 64 bytes
  EXPECT_EQ(f32_gemm_packed_b_bytes(nr, n, k), 2 * stride * sizeof(float));
  std::vector<float> kn(2 * stride, -1.f), nk(2 * stride, -1.f);
  f32_gemm_pack_b_kn(nr, n, k, b.data(), n, bias.data(), kn.data());
  // The same matrix given as [N, K].
  std::vector<float> bt(n * k);
  for (size_t p = 0; p < k; ++p)
    for (size_t j = 0; j < n; ++j) bt[j * k + p] = b[p * n + j];
  f32_gemm_pack_b_nk(nr, n, k, bt.data(), k, bias.data(), nk.data());
  const std::vector<float> want = {
      10, 20, 30, 40, 1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14,  // panel 0: bias, rows 0..2
      50, 0,  0,  0,  5, 0, 0, 0, 10, 0, 0, 0, 15, 0, 0, 0,    // panel 1: column 4 only
  };
  EXPECT_EQ(kn, want);
  EXPECT_EQ(nk, want);
  // Panels round up to 16 floats so that each starts 64-byte aligned.
  EXPECT_EQ(f32_gemm_panel_stride(8, 2), 32u);
  EXPECT_EQ(f32_gemm_panel_stride(32, 7), 256u);
}

TEST(F32Gemm, SizesAroundTheTile) {
  for (const F32GemmVariant* v : usable_variants()) {
    for (size_t k : {0, 1, 7, 64, 257})
      for (size_t n : n_sizes(*v))
        for (size_t m = 1; m <= 3 * v->mr + 1; ++m) {
          Problem p{m, n, k};
          p.seed = static_cast<uint32_t>(m * 1000 + n * 10 + k);
          expect_matches(*v, p, FusedActivation{});
        }
  }
}

TEST(F32Gemm, LayoutsBiasAndStrides) {
  for (const F32GemmVariant* v : usable_variants()) {
    for (Layout layout : {Layout::kKN, Layout::kNK})
      for (bool bias : {false, true})
        for (size_t pad : {0, 1, 17})
          for (size_t m : {size_t{1}, v->mr - 1, 2 * v->mr + 1})
            for (size_t n : {size_t{1}, v->nr - 1, 2 * v->nr + 3}) {
              if (m == 0) continue;
              Problem p{m, n, 33};
              p.layout = layout;
              p.bias = bias;
              p.a_pad = pad;
              p.b_pad = pad;
              p.c_pad = pad;
              expect_matches(*v, p, FusedActivation{});
            }
  }
}

TEST(F32Gemm, ClampsAndActivations) {
  std::vector<FusedActivation> acts = {
      {ActivationKind::kRelu, 0.f, 0.f},       {ActivationKind::kClip, 0.f, 6.f},
      {ActivationKind::kClip, -0.5f, 0.25f},   {ActivationKind::kSigmoid, 0.f, 0.f},
      {ActivationKind::kHardSigmoid, 0.2f, 0.5f}, {ActivationKind::kHardSwish, 0.f, 0.f},
      {ActivationKind::kLeakyRelu, 0.1f, 0.f},
  };
  for (const F32GemmVariant* v : usable_variants())
    for (const FusedActivation& act : acts)
      for (size_t m : {size_t{1}, v->mr, 2 * v->mr + 1})
        for (size_t n : {size_t{2}, v->nr / 2 + 1, v->nr + 1})
          for (size_t k : {1, 7, 64}) {
            Problem p{m, n, k};
            p.seed = static_cast<uint32_t>(m + n + k);
            expect_matches(*v, p, act);
          }
}

TEST(F32Gemm, SetActivationMapsClampsToMinMax) {
  F32GemmArgs args;
  f32_gemm_set_activation({ActivationKind::kRelu, 0.f, 0.f}, &args);
  EXPECT_EQ(args.min, 0.f);
  EXPECT_EQ(args.max, kInf);
  EXPECT_EQ(args.activation, nullptr);
  f32_gemm_set_activation({ActivationKind::kClip, -1.f, 6.f}, &args);
  EXPECT_EQ(args.min, -1.f);
  EXPECT_EQ(args.max, 6.f);
  const FusedActivation sigmoid{ActivationKind::kSigmoid, 0.f, 0.f};
  f32_gemm_set_activation(sigmoid, &args);
  EXPECT_EQ(args.min, -kInf);
  EXPECT_EQ(args.max, kInf);
  EXPECT_EQ(args.activation, &sigmoid);
  f32_gemm_set_activation({}, &args);
  EXPECT_EQ(args.activation, nullptr);
}

TEST(F32Gemm, ClampPassesNaN) {
  for (const F32GemmVariant* v : usable_variants()) {
    const size_t k = 3, n = v->nr;
    std::vector<float> a(k, 1.f), b(k * n, 1.f);
    b[1 * n + 2] = std::nanf("");  // column 2 sums a NaN
    AlignedFloats packed = alloc_packed(v->nr, n, k);
    f32_gemm_pack_b_kn(v->nr, n, k, b.data(), n, nullptr, packed.get());
    std::vector<float> c(n);
    v->microkernel(1, n, k, a.data(), k, packed.get(), c.data(), n, 0.f, 6.f, nullptr);
    EXPECT_TRUE(std::isnan(c[2])) << v->name;
    EXPECT_EQ(c[0], 3.f) << v->name;
  }
}

// Any split of the tiles among calls gives the same bytes as one call, with the tiles
// numbered panel by panel (A small enough to stay in cache) and row by row (a long K).
TEST(F32Gemm, TileRangesGiveIdenticalBytes) {
  for (const F32GemmVariant* v : usable_variants())
    for (size_t k : {131, 3001}) {
      SCOPED_TRACE(std::string(v->name) + " k " + std::to_string(k));
      Problem p{5 * v->mr + 3, 3 * v->nr + 5, k};
      const Data d = make_data(p);
      const AlignedFloats packed = pack(*v, p, d);
      const FusedActivation act{ActivationKind::kHardSwish, 0.f, 0.f};
      const std::vector<float> whole = run_gemm(*v, p, d, packed.get(), act);
      const size_t m_tiles = f32_gemm_m_tiles(*v, p.m), n_panels = f32_gemm_n_panels(*v, p.n);
      ASSERT_EQ(m_tiles, 6u);
      ASSERT_EQ(n_panels, 4u);

      F32GemmArgs args = gemm_args(p, d, packed.get(), act);
      EXPECT_EQ(f32_gemm_panel_major(args), k == 131);
      // Splits of M tiles x N panels: [begin, end) cut points on each axis.
      const std::vector<std::vector<size_t>> m_cuts = {{0, 6}, {0, 1, 6}, {0, 3, 5, 6},
                                                       {0, 1, 2, 3, 4, 5, 6}};
      const std::vector<std::vector<size_t>> n_cuts = {{0, 4}, {0, 1, 4}, {0, 2, 3, 4},
                                                       {0, 1, 2, 3, 4}};
      for (const std::vector<size_t>& mc : m_cuts)
        for (const std::vector<size_t>& nc : n_cuts) {
          std::vector<float> c(whole.size(), kSentinel);
          args.c = c.data();
          // Run the pieces in reverse order: the result must not depend on it either.
          for (size_t mi = mc.size() - 1; mi-- > 0;)
            for (size_t ni = nc.size() - 1; ni-- > 0;)
              f32_gemm(*v, args, mc[mi], mc[mi + 1], nc[ni], nc[ni + 1]);
          EXPECT_EQ(std::memcmp(c.data(), whole.data(), c.size() * sizeof(float)), 0)
              << "m cuts " << mc.size() - 1 << ", n cuts " << nc.size() - 1;
        }
      // Contiguous ranges of the numbered tiles, as threads would take them.
      const size_t tiles = m_tiles * n_panels;
      for (size_t parts : {1, 2, 3, 5, 7, 24}) {
        std::vector<float> c(whole.size(), kSentinel);
        args.c = c.data();
        for (size_t part = parts; part-- > 0;)
          f32_gemm_tiles(*v, args, tiles * part / parts, tiles * (part + 1) / parts);
        EXPECT_EQ(std::memcmp(c.data(), whole.data(), c.size() * sizeof(float)), 0)
            << parts << " parts";
      }
    }
}

// The streaming microkernels only add prefetches: the same bytes as the plain one, strided or
// indirect, for every tile shape; and a product with weights large enough to stream matches
// the reference.
TEST(F32Gemm, StreamingMicrokernelGivesTheSameBytes) {
  for (const F32GemmVariant* v : usable_variants())
    for (size_t k : {1, 5, 33, 200, 1100}) {
      Problem p{v->mr, v->nr, k};
      const Data d = make_data(p);
      const AlignedFloats packed = pack(*v, p, d);
      for (size_t mr = 1; mr <= v->mr; ++mr)
        for (size_t nc : n_sizes(*v)) {
          if (nc > v->nr) continue;
          SCOPED_TRACE(std::string(v->name) + " mr " + std::to_string(mr) + " nc " + std::to_string(nc) +
                       " k " + std::to_string(k));
          std::vector<float> plain(v->mr * d.c_stride, kSentinel), streamed(plain);
          v->microkernel(mr, nc, k, d.a.data(), d.a_stride, packed.get(), plain.data(), d.c_stride, -0.5f, 2.f,
                         nullptr);
          v->streaming(mr, nc, k, d.a.data(), d.a_stride, packed.get(), streamed.data(), d.c_stride, -0.5f, 2.f,
                       nullptr);
          EXPECT_EQ(std::memcmp(plain.data(), streamed.data(), plain.size() * sizeof(float)), 0);
          // The indirect forms, on the same rows given as runs of k / runs floats.
          for (size_t runs : {size_t{1}, size_t{5}}) {
            if (k % runs != 0) continue;
            std::vector<const float*> row_runs(v->mr * runs);
            for (size_t i = 0; i < v->mr; ++i)
              for (size_t r = 0; r < runs; ++r) row_runs[i * runs + r] = d.a.data() + i * d.a_stride + r * (k / runs);
            std::vector<float> indirect(plain.size(), kSentinel), indirect_streamed(plain);
            v->indirect(mr, nc, runs, k / runs, row_runs.data(), packed.get(), indirect.data(), d.c_stride, -0.5f,
                        2.f, nullptr);
            v->indirect_streaming(mr, nc, runs, k / runs, row_runs.data(), packed.get(), indirect_streamed.data(),
                                  d.c_stride, -0.5f, 2.f, nullptr);
            EXPECT_EQ(std::memcmp(plain.data(), indirect.data(), plain.size() * sizeof(float)), 0) << runs;
            EXPECT_EQ(std::memcmp(plain.data(), indirect_streamed.data(), plain.size() * sizeof(float)), 0) << runs;
          }
        }
    }
  for (const F32GemmVariant* v : usable_variants()) {
    Problem p{2 * v->mr + 3, 2 * v->nr + 3, 4200};
    F32GemmArgs args;
    args.n = p.n;
    args.k = p.k;
    ASSERT_TRUE(f32_gemm_streams_b(*v, args)) << v->name;
    expect_matches(*v, p, FusedActivation{ActivationKind::kRelu});
  }
}

// A product of one row streams its weights only when they may not stay in the last-level
// cache between inferences (more than a quarter of it, or its size unknown); products of
// more rows stream every panel set over 128 KiB.
TEST(F32Gemm, OneRowStreamsOnlyWeightsPastTheLastLevelCache) {
  const size_t llc = last_level_cache_bytes();
  for (const F32GemmVariant* v : usable_variants()) {
    F32GemmArgs args;
    args.m = 1;
    args.n = v->nr;
    args.k = 2 * 1024 * 1024 / (v->nr * sizeof(float));  // 2 MiB of weights
    const size_t bytes = f32_gemm_packed_b_bytes(v->nr, args.n, args.k);
    EXPECT_EQ(f32_gemm_streams_b(*v, args), llc == 0 || bytes > llc / 4) << v->name << " llc " << llc;
    if (llc > 0) {
      args.k = llc / 2 / (v->nr * sizeof(float));  // half the cache
      EXPECT_TRUE(f32_gemm_streams_b(*v, args)) << v->name << " llc " << llc;
    }
    args.m = 2;
    args.k = 2 * 1024 * 1024 / (v->nr * sizeof(float));
    EXPECT_TRUE(f32_gemm_streams_b(*v, args)) << v->name;
  }
}

// A residual added in the tiles (a fused Add) gives the bytes of the product followed by the
// Add, in either operand order, whether the clamp or a later activation ends the tile; the
// rows of R have their own stride and partial panels read only their columns.
TEST(F32Gemm, ResidualGivesTheBytesOfAnAddAfter) {
  for (const F32GemmVariant* v : usable_variants())
    for (const FusedActivation& act : {FusedActivation{}, FusedActivation{ActivationKind::kClip, -0.5f, 0.5f},
                                       FusedActivation{ActivationKind::kHardSwish}})
      for (bool first : {false, true}) {
        SCOPED_TRACE(std::string(v->name) + " act " + std::to_string(static_cast<int>(act.kind)) +
                     (first ? " residual first" : " residual second"));
        Problem p{2 * v->mr + 3, 2 * v->nr + 3, 37};
        const Data d = make_data(p);
        const AlignedFloats packed = pack(*v, p, d);
        std::vector<float> want = run_gemm(*v, p, d, packed.get(), act);
        const size_t r_stride = p.n + 9;
        // R ends at its last element, so a read past a partial panel's columns would be caught
        // by the sanitizers.
        const std::vector<float> r = random_values((p.m - 1) * r_stride + p.n, 77);
        for (size_t i = 0; i < p.m; ++i)
          for (size_t j = 0; j < p.n; ++j) {
            float& y = want[i * d.c_stride + j];
            y = first ? r[i * r_stride + j] + y : y + r[i * r_stride + j];
          }
        std::vector<float> c(want.size(), kSentinel);
        F32GemmArgs args = gemm_args(p, d, packed.get(), act);
        args.c = c.data();
        args.residual = r.data();
        args.residual_stride = r_stride;
        args.residual_first = first;
        f32_gemm_tiles(*v, args, 0, f32_gemm_m_tiles(*v, p.m) * f32_gemm_n_panels(*v, p.n));
        EXPECT_EQ(std::memcmp(c.data(), want.data(), c.size() * sizeof(float)), 0);
      }
}

// A given as runs through pointers (a conv's input pixels under each kernel row) gives the
// bytes of the same rows given with a stride: the same multiply-adds in the same order.
// The runs sit at scattered places in one pool, some rows share runs, and run lengths cross
// the NEON four-step grouping and, for the AVX-512 tiles that take their rows in two halves
// over runs of 64 floats or more, the 128-step chunks.
TEST(F32Gemm, IndirectRowsGiveTheStridedBytes) {
  const std::vector<std::pair<size_t, size_t>> shapes = {{1, 1},  {1, 27}, {3, 9},  {9, 3}, {5, 7},  {2, 1},
                                                         {4, 16}, {3, 13}, {7, 5}, {3, 96}, {1, 64}, {2, 300}};
  for (const F32GemmVariant* v : usable_variants())
    for (const auto& [runs, run_len] : shapes)
      for (size_t m : {size_t{1}, v->mr - 1, v->mr, v->mr + 1, 2 * v->mr + 3, 5 * v->mr + 2})
        for (size_t n : {size_t{1}, v->nr / 2 + 1, v->nr, 2 * v->nr + 3}) {
          if (m == 0) continue;
          const size_t k = runs * run_len;
          SCOPED_TRACE(std::string(v->name) + " m " + std::to_string(m) + " n " + std::to_string(n) +
                       " runs " + std::to_string(runs) + " x " + std::to_string(run_len));
          const std::vector<float> pool = random_values(64 * run_len + 3, static_cast<uint32_t>(m * 131 + n));
          std::mt19937 gen(static_cast<uint32_t>(runs * 7 + run_len));
          std::uniform_int_distribution<size_t> start(0, pool.size() - run_len);
          std::vector<const float*> a_runs(m * runs);
          Problem p{m, n, k};
          p.a_pad = 2;
          Data d = make_data(p);
          for (size_t i = 0; i < m; ++i)
            for (size_t r = 0; r < runs; ++r) {
              // Every third row repeats the runs of the row before it.
              a_runs[i * runs + r] = i % 3 == 2 ? a_runs[(i - 1) * runs + r] : pool.data() + start(gen);
              std::memcpy(&d.a[i * d.a_stride + r * run_len], a_runs[i * runs + r], run_len * sizeof(float));
            }
          const AlignedFloats packed = pack(*v, p, d);
          const FusedActivation act{ActivationKind::kHardSwish, 0.f, 0.f};
          const std::vector<float> strided = run_gemm(*v, p, d, packed.get(), act);
          std::vector<float> indirect(strided.size(), kSentinel);
          F32GemmArgs args = gemm_args(p, d, packed.get(), act);
          args.a = nullptr;
          args.a_runs = a_runs.data();
          args.a_run_count = runs;
          args.c = indirect.data();
          f32_gemm_tiles(*v, args, 0, f32_gemm_m_tiles(*v, m) * f32_gemm_n_panels(*v, n));
          EXPECT_EQ(std::memcmp(indirect.data(), strided.data(), strided.size() * sizeof(float)), 0);
        }
}

// The microkernels of one architecture differ only in tile shape: each element is the
// same chain of fused multiply-adds, so they agree bit for bit.
TEST(F32Gemm, SimdVariantsAgreeBitwise) {
  std::vector<const F32GemmVariant*> simd;
  for (const F32GemmVariant* v : usable_variants())
    if (v->isa != Isa::kScalar) simd.push_back(v);
  if (simd.size() < 2) GTEST_SKIP() << "fewer than two SIMD variants usable here";
  Problem p{53, 77, 200};
  const Data d = make_data(p);
  std::vector<float> first;
  for (const F32GemmVariant* v : simd) {
    const AlignedFloats packed = pack(*v, p, d);
    const std::vector<float> c = run_gemm(*v, p, d, packed.get(), FusedActivation{});
    if (first.empty())
      first = c;
    else
      EXPECT_EQ(std::memcmp(c.data(), first.data(), c.size() * sizeof(float)), 0) << v->name;
  }
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(gemm, isa_coverage::cases(f32_gemm_variants,
                                         [](const F32GemmVariant& v) { return v.name; }));

}  // namespace
}  // namespace pare::rt::kernels
