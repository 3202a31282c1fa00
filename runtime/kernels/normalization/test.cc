// Float32 LayerNormalization: every vector kernel usable on this CPU against the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/isa_coverage_test.h"
#include "runtime/kernels/normalization/normalization.h"

namespace pare::rt::kernels {
namespace {

std::vector<const F32LayerNormVariant*> usable_variants() {
  size_t count = 0;
  const F32LayerNormVariant* all = f32_layernorm_variants(&count);
  std::vector<const F32LayerNormVariant*> out;
  for (size_t i = 0; i < count; ++i)
    if (isa_usable(all[i].isa, all[i].isa)) out.push_back(&all[i]);
  return out;
}

std::vector<int64_t> row_lengths() {
  std::vector<int64_t> lengths;
  for (int64_t n = 1; n <= 3 * 16 + 1; ++n) lengths.push_back(n);
  for (int64_t n : {64, 127, 128, 1000}) lengths.push_back(n);
  return lengths;
}

// Runs the variant and the reference over the same rows and compares Y, Mean and InvStdDev
// within 1e-5 relative (to 1 + |value|, as normalized outputs cross zero).
void expect_matches_reference(const F32LayerNormVariant& v, int64_t rows, int64_t cols,
                              const std::vector<float>& x, const std::vector<float>& scale,
                              const float* bias) {
  const size_t n = x.size(), r = static_cast<size_t>(rows);
  std::vector<float> want(n), got(n, -1.f), want_mean(r), got_mean(r), want_inv(r), got_inv(r);
  f32_layernorm_ref__scalar(cols, x.data(), scale.data(), bias, 1e-5f, want.data(),
                            want_mean.data(), want_inv.data(), 0, rows);
  v.fn(cols, x.data(), scale.data(), bias, 1e-5f, got.data(), got_mean.data(), got_inv.data(), 0,
       rows);
  for (size_t i = 0; i < n; ++i)
    ASSERT_NEAR(got[i], want[i], 1e-5f * (1.f + std::fabs(want[i])))
        << v.name << " rows " << rows << " cols " << cols << " at " << i;
  for (size_t i = 0; i < r; ++i) {
    ASSERT_NEAR(got_mean[i], want_mean[i], 1e-5f * (1.f + std::fabs(want_mean[i]))) << v.name;
    ASSERT_NEAR(got_inv[i], want_inv[i], 1e-5f * std::fabs(want_inv[i])) << v.name;
  }
}

TEST(F32LayerNorm, MatchesReference) {
  ASSERT_FALSE(usable_variants().empty());
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-2.f, 2.f);
  std::uniform_real_distribution<float> scale_dist(0.5f, 1.5f);
  for (const F32LayerNormVariant* v : usable_variants())
    for (int64_t cols : row_lengths())
      for (int64_t rows = 1; rows <= 5; ++rows) {
        std::vector<float> x(static_cast<size_t>(rows * cols));
        std::vector<float> scale(static_cast<size_t>(cols)), bias(static_cast<size_t>(cols));
        for (float& e : scale) e = scale_dist(rng);
        for (float& e : bias) e = dist(rng);
        for (float& e : x) e = dist(rng);
        expect_matches_reference(*v, rows, cols, x, scale, bias.data());
        expect_matches_reference(*v, rows, cols, x, scale, nullptr);
        // Rows far from zero mean: the float statistics must not lose the variance.
        for (float& e : x) e = 100.f + dist(rng);
        expect_matches_reference(*v, rows, cols, x, scale, bias.data());
      }
}

TEST(F32LayerNorm, StatisticsAreOptional) {
  std::vector<float> x = {1.f, 2.f, 4.f, 8.f, 3.f}, scale(5, 1.f), y(5), want(5);
  f32_layernorm_ref__scalar(5, x.data(), scale.data(), nullptr, 1e-5f, want.data(), nullptr,
                            nullptr, 0, 1);
  for (const F32LayerNormVariant* v : usable_variants()) {
    v->fn(5, x.data(), scale.data(), nullptr, 1e-5f, y.data(), nullptr, nullptr, 0, 1);
    for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(y[i], want[i], 1e-5f) << v->name;
  }
}

TEST(F32LayerNorm, ConstantRowGivesBias) {
  std::vector<float> x(20, 3.f), scale(20, 2.f), bias(20, 0.25f), y(20);
  for (const F32LayerNormVariant* v : usable_variants()) {
    v->fn(20, x.data(), scale.data(), bias.data(), 1e-5f, y.data(), nullptr, nullptr, 0, 1);
    for (float e : y) EXPECT_FLOAT_EQ(e, 0.25f) << v->name;
  }
}

TEST(F32LayerNorm, NaNPropagatesToItsRow) {
  std::vector<float> x(2 * 17, 1.f), scale(17, 1.f), y(2 * 17);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 5);
  x[3] = std::nanf("");
  for (const F32LayerNormVariant* v : usable_variants()) {
    v->fn(17, x.data(), scale.data(), nullptr, 1e-5f, y.data(), nullptr, nullptr, 0, 2);
    for (size_t i = 0; i < 17; ++i) EXPECT_TRUE(std::isnan(y[i])) << v->name;
    for (size_t i = 17; i < 34; ++i) EXPECT_FALSE(std::isnan(y[i])) << v->name;
  }
}

TEST(F32LayerNorm, AnyRowSplitGivesIdenticalBytes) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> dist(-3.f, 3.f);
  const int64_t rows = 6, cols = 45;
  std::vector<float> x(static_cast<size_t>(rows * cols)), scale(cols), bias(cols);
  for (float& e : x) e = dist(rng);
  for (float& e : scale) e = dist(rng);
  for (float& e : bias) e = dist(rng);
  for (const F32LayerNormVariant* v : usable_variants()) {
    std::vector<float> whole(x.size()), split(x.size()), mean_whole(rows), mean_split(rows);
    v->fn(cols, x.data(), scale.data(), bias.data(), 1e-5f, whole.data(), mean_whole.data(),
          nullptr, 0, rows);
    v->fn(cols, x.data(), scale.data(), bias.data(), 1e-5f, split.data(), mean_split.data(),
          nullptr, 0, 1);
    v->fn(cols, x.data(), scale.data(), bias.data(), 1e-5f, split.data(), mean_split.data(),
          nullptr, 1, 4);
    v->fn(cols, x.data(), scale.data(), bias.data(), 1e-5f, split.data(), mean_split.data(),
          nullptr, 4, rows);
    EXPECT_EQ(std::memcmp(whole.data(), split.data(), x.size() * sizeof(float)), 0) << v->name;
    EXPECT_EQ(mean_whole, mean_split) << v->name;
  }
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(layernorm, isa_coverage::cases(f32_layernorm_variants,
                                         [](const F32LayerNormVariant& v) { return v.name; }));

}  // namespace
}  // namespace pare::rt::kernels
