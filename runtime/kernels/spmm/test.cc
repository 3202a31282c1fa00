// f32 sparse x dense: every variant usable on this CPU against the reference that reads the
// view, and that against the dense GEMM reference on the densified weights, over sizes
// around each tile, sparsities from dense to empty, and each stored format.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/isa_coverage_test.h"
#include "runtime/kernels/spmm/random_sparse.h"
#include "runtime/kernels/spmm/spmm.h"

namespace pare::rt::kernels {
namespace {

using spmm_testing::make_sparse;
using spmm_testing::Pattern;
using spmm_testing::pattern_name;
using spmm_testing::random_values;
using spmm_testing::SparseMatrix;

bool supported_here(Isa isa) {
  const CpuFeatures& f = cpu_features();
  return isa == Isa::kScalar || (isa == Isa::kAvx2 && f.avx2_fma) || (isa == Isa::kAvx512 && f.avx512) ||
         (isa == Isa::kNeon && f.neon);
}

void expect_near(const std::vector<float>& want, const std::vector<float>& got, size_t k,
                 const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  const float tolerance = 1e-5f * static_cast<float>(k + 1);
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(want[i], got[i], tolerance) << what << " element " << i;
}

// Y from the variant through the driver (rows of Y padded, pixels split in two calls).
std::vector<float> run_variant(const F32SpmmVariant& v, const F32SpmmPacked& w, size_t m,
                               const std::vector<float>& x, size_t x_stride, const FusedActivation& act) {
  const size_t y_stride = w.n + 3;
  std::vector<float> y(m * y_stride, 777.f);
  F32SpmmArgs args;
  args.m = m;
  args.w = &w;
  args.x = x.data();
  args.x_stride = x_stride;
  args.y = y.data();
  args.y_stride = y_stride;
  f32_spmm_set_activation(act, &args);
  const size_t bytes = f32_spmm_scratch_bytes(v, w.n, w.k);
  float* scratch = static_cast<float*>(std::aligned_alloc(64, (bytes + 64) / 64 * 64));
  const size_t tiles = f32_spmm_tiles(v, m);
  f32_spmm(v, args, 0, tiles / 2, scratch);
  f32_spmm(v, args, tiles / 2, tiles, scratch);
  std::free(scratch);
  std::vector<float> out(m * w.n);
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = w.n; j < y_stride; ++j) EXPECT_EQ(y[i * y_stride + j], 777.f) << "row padding written";
    std::copy(y.begin() + i * y_stride, y.begin() + i * y_stride + w.n, out.begin() + i * w.n);
  }
  return out;
}

void check(Pattern pattern, size_t m, size_t n, size_t k, double sparsity, const FusedActivation& act) {
  const std::string what = std::string(pattern_name(pattern)) + " M" + std::to_string(m) + " N" +
                           std::to_string(n) + " K" + std::to_string(k) + " s" + std::to_string(sparsity);
  const SparseMatrix w = make_sparse(pattern, static_cast<int64_t>(n), static_cast<int64_t>(k), sparsity,
                                     static_cast<uint32_t>(m * 131 + n * 17 + k));
  const size_t x_stride = k + 2;
  const std::vector<float> x = random_values(m * x_stride, 5), bias = random_values(n, 6);
  std::vector<float> want(m * n);
  f32_spmm_ref__scalar(w.view, bias.data(), m, x.data(), x_stride, act, want.data());

  // The reference against the dense GEMM reference on the densified view.
  std::vector<float> dense(n * k, -1.f), gemm_out(m * n);
  spmm_densify(w.view, sizeof(float), dense.data());
  ASSERT_EQ(dense, w.dense) << what;
  GemmArgs g;
  g.rows = static_cast<int64_t>(m);
  g.cols = static_cast<int64_t>(n);
  g.depth = static_cast<int64_t>(k);
  g.a = x.data();
  g.a_row_stride = static_cast<int64_t>(x_stride);
  g.a_col_stride = 1;
  g.b = dense.data();
  g.b_row_stride = 1;
  g.b_col_stride = static_cast<int64_t>(k);
  g.c = bias.data();
  g.c_col_stride = 1;
  g.y = gemm_out.data();
  f32_gemm_ref__scalar(g);
  for (size_t i = 0; i < m; ++i) f32_gemm_activation(act, nullptr, 1, n, gemm_out.data() + i * n, n);
  expect_near(gemm_out, want, k, what + " reference vs dense");

  // The transposed view (W^T stored as [K, N]) packs to the same product.
  const SparseMatrix wt = [&] {
    SparseMatrix t;
    t.dense.resize(n * k);
    for (size_t j = 0; j < n; ++j)
      for (size_t p = 0; p < k; ++p) t.dense[p * n + j] = w.dense[j * k + p];
    t.block_starts.push_back(0);
    for (size_t p = 0; p < k; ++p) {
      for (size_t j = 0; j < n; ++j)
        if (t.dense[p * n + j] != 0.f) {
          t.columns.push_back(static_cast<uint16_t>(j));
          t.values.push_back(t.dense[p * n + j]);
        }
      t.block_starts.push_back(static_cast<uint32_t>(t.columns.size()));
    }
    t.view.rows = static_cast<int64_t>(k);
    t.view.cols = static_cast<int64_t>(n);
    t.view.entries = static_cast<int64_t>(t.columns.size());
    t.view.block_starts = t.block_starts.data();
    t.view.columns = t.columns.data();
    t.view.values = t.values.data();
    return t;
  }();

  size_t count = 0;
  const F32SpmmVariant* variants = f32_spmm_variants(&count);
  for (size_t i = 0; i < count; ++i) {
    const F32SpmmVariant& v = variants[i];
    if (!supported_here(v.isa)) continue;
    const F32SpmmPacked packed = f32_spmm_pack(w.view, false, bias.data(), 1.f, v.tile_pixels);
    expect_near(want, run_variant(v, packed, m, x, x_stride, act), k, what + " " + v.name);
    const F32SpmmPacked packed_t = f32_spmm_pack(wt.view, true, bias.data(), 1.f, v.tile_pixels);
    expect_near(want, run_variant(v, packed_t, m, x, x_stride, act), k, what + " transposed " + v.name);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(Spmm, SizesAroundTilesEveryFormatAndSparsity) {
  const FusedActivation none;
  for (Pattern pattern : {Pattern::kRows1, Pattern::kRows4, Pattern::kTwoOfFour})
    for (size_t m : {1, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 130, 200, 250})
      for (size_t n : {4, 8, 12, 16, 20, 36})
        for (size_t k : {4, 8, 16, 20, 36})
          for (double s : {0.0, 0.5, 0.9, 0.99, 1.0}) {
            if (pattern == Pattern::kTwoOfFour && s != 0.5) continue;
            check(pattern, m, n, k, s, none);
            if (::testing::Test::HasFatalFailure()) return;
          }
}

TEST(Spmm, OddSizesUnstructured) {
  const FusedActivation none;
  for (size_t m : {2, 7, 67})
    for (size_t n : {1, 3, 5, 17})
      for (size_t k : {1, 3, 5, 17, 35})
        for (double s : {0.0, 0.7, 1.0}) {
          check(Pattern::kRows1, m, n, k, s, none);
          if (::testing::Test::HasFatalFailure()) return;
        }
}

// Enough input channels that the transposed tile goes in chunks (partial sums carried
// between them) on every SIMD variant.
TEST(Spmm, ManyInputChannelsInChunks) {
  const FusedActivation relu6{ActivationKind::kClip, 0.f, 6.f};
  for (Pattern pattern : {Pattern::kRows1, Pattern::kRows4})
    for (size_t m : {5, 64, 70})
      for (size_t n : {4, 20, 36})
        for (size_t k : {170, 350, 700})
          for (double s : {0.0, 0.8, 1.0}) {
            check(pattern, m, n, k, s, relu6);
            if (::testing::Test::HasFatalFailure()) return;
          }
  const SparseMatrix w = make_sparse(Pattern::kRows1, 8, 700, 0.5, 3);
  size_t count = 0;
  const F32SpmmVariant* variants = f32_spmm_variants(&count);
  for (size_t i = 0; i < count; ++i) {
    const F32SpmmPacked p = f32_spmm_pack(w.view, false, nullptr, 1.f, variants[i].tile_pixels);
    EXPECT_EQ(p.chunks > 1, variants[i].tile_pixels > 1) << variants[i].name;
    EXPECT_GE(p.chunks * p.chunk_channels, p.k);
  }
}

TEST(Spmm, FusedActivations) {
  const FusedActivation acts[] = {{ActivationKind::kRelu, 0.f, 0.f},
                                  {ActivationKind::kClip, -0.25f, 0.5f},
                                  {ActivationKind::kHardSwish, 0.f, 0.f},
                                  {ActivationKind::kSigmoid, 0.f, 0.f}};
  for (const FusedActivation& act : acts)
    for (Pattern pattern : {Pattern::kRows1, Pattern::kRows4, Pattern::kTwoOfFour}) {
      check(pattern, 70, 24, 40, 0.5, act);
      if (::testing::Test::HasFatalFailure()) return;
    }
}

TEST(Spmm, SparsityAndPacking) {
  const SparseMatrix w = make_sparse(Pattern::kRows4, 8, 10, 1.0, 1);
  EXPECT_EQ(f32_spmm_sparsity(w.view), 1.0);
  const SparseMatrix two = make_sparse(Pattern::kTwoOfFour, 8, 12, 0.5, 1);
  EXPECT_EQ(f32_spmm_sparsity(two.view), 0.5);
  // 2:4 packs one row per block, exactly its two values per group.
  const F32SpmmPacked p = f32_spmm_pack(two.view, false, nullptr, 2.f, 16);
  EXPECT_EQ(p.block_rows, 1u);
  EXPECT_LE(p.values.size(), 8u * 6u);
  for (uint32_t off : p.offsets) EXPECT_EQ(off % 16, 0u);
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(spmm, isa_coverage::cases(f32_spmm_variants,
                                         [](const F32SpmmVariant& v) { return v.name; }));

}  // namespace
}  // namespace pare::rt::kernels
