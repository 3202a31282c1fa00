// Float32 row softmax: every vector kernel usable on this CPU against the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/isa_coverage_test.h"
#include "runtime/kernels/softmax/softmax.h"

namespace pare::rt::kernels {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<const F32SoftmaxRowsVariant*> usable_variants() {
  size_t count = 0;
  const F32SoftmaxRowsVariant* all = f32_softmax_rows_variants(&count);
  std::vector<const F32SoftmaxRowsVariant*> out;
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

void expect_matches_reference(const F32SoftmaxRowsVariant& v, int64_t rows, int64_t cols,
                              const std::vector<float>& x) {
  std::vector<float> want(x.size()), got(x.size(), -1.f);
  f32_softmax_ref__scalar(cols, 1, x.data(), want.data(), 0, rows);
  v.fn(cols, x.data(), got.data(), 0, rows);
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-6f) << v.name << " rows " << rows << " cols " << cols
                                        << " at " << i << " x " << x[i];
}

TEST(F32SoftmaxRows, MatchesReference) {
  ASSERT_FALSE(usable_variants().empty());
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> small(-5.f, 5.f);
  std::uniform_real_distribution<float> large(-1e4f, 1e4f);
  for (const F32SoftmaxRowsVariant* v : usable_variants())
    for (int64_t cols : row_lengths())
      for (int64_t rows = 1; rows <= 5; ++rows) {
        std::vector<float> x(static_cast<size_t>(rows * cols));
        for (float& e : x) e = small(rng);
        expect_matches_reference(*v, rows, cols, x);
        // Large magnitudes: the max subtraction keeps exp in range.
        for (float& e : x) e = large(rng);
        expect_matches_reference(*v, rows, cols, x);
        for (float& e : x) e = 80.f + small(rng);
        expect_matches_reference(*v, rows, cols, x);
      }
}

TEST(F32SoftmaxRows, SumsToOne) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.f, 3.f);
  for (const F32SoftmaxRowsVariant* v : usable_variants()) {
    std::vector<float> x(1000), y(1000);
    for (float& e : x) e = dist(rng);
    v->fn(1000, x.data(), y.data(), 0, 1);
    double sum = 0.0;
    for (float e : y) sum += e;
    EXPECT_NEAR(sum, 1.0, 1e-5) << v->name;
  }
}

TEST(F32SoftmaxRows, NonFiniteInputsLikeReference) {
  const std::vector<std::vector<float>> cases = {
      {1.f, -kInf, 2.f, 0.f, -kInf, 3.f, 1.f, 0.5f, -1.f, 2.f},  // -inf gives 0
      {1.f, kInf, 2.f, 0.f, 0.f, 3.f, 1.f, 0.5f, -1.f, 2.f},     // inf - inf is NaN
      {1.f, kNaN, 2.f, 0.f, 0.f, 3.f, 1.f, 0.5f, -1.f, 2.f},     // NaN poisons the sum
      {-kInf, -kInf, -kInf},
      {kNaN, kNaN},
  };
  for (const F32SoftmaxRowsVariant* v : usable_variants())
    for (const std::vector<float>& x : cases) {
      const auto cols = static_cast<int64_t>(x.size());
      std::vector<float> want(x.size()), got(x.size());
      f32_softmax_ref__scalar(cols, 1, x.data(), want.data(), 0, 1);
      v->fn(cols, x.data(), got.data(), 0, 1);
      for (size_t i = 0; i < x.size(); ++i) {
        EXPECT_EQ(std::isnan(got[i]), std::isnan(want[i])) << v->name << " at " << i;
        if (!std::isnan(want[i])) {
          EXPECT_NEAR(got[i], want[i], 1e-6f) << v->name << " at " << i;
        }
      }
    }
}

TEST(F32SoftmaxRows, AnyRowSplitGivesIdenticalBytes) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-10.f, 10.f);
  const int64_t rows = 7, cols = 37;
  std::vector<float> x(static_cast<size_t>(rows * cols));
  for (float& e : x) e = dist(rng);
  for (const F32SoftmaxRowsVariant* v : usable_variants()) {
    std::vector<float> whole(x.size()), split(x.size());
    v->fn(cols, x.data(), whole.data(), 0, rows);
    v->fn(cols, x.data(), split.data(), 0, 2);
    v->fn(cols, x.data(), split.data(), 2, 3);
    v->fn(cols, x.data(), split.data(), 3, rows);
    EXPECT_EQ(std::memcmp(whole.data(), split.data(), x.size() * sizeof(float)), 0) << v->name;
  }
}

TEST(F32SoftmaxRows, SelectionHonoursTheCap) {
  EXPECT_EQ(select_f32_softmax_rows(Isa::kScalar), nullptr);
  const F32SoftmaxRowsVariant* best = select_f32_softmax_rows(best_isa());
  if (best != nullptr) {
    EXPECT_TRUE(isa_usable(best->isa, best_isa()));
  }
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(softmax, isa_coverage::cases(f32_softmax_rows_variants,
                                         [](const F32SoftmaxRowsVariant& v) { return v.name; }));

}  // namespace
}  // namespace pare::rt::kernels
