// Float32 elementwise vector kernels: every set usable on this CPU against the
// reference over sizes around the vector width with every operand step, special
// values (NaN, +-inf, large magnitudes), the transcendental ones against
// double-precision std:: on a dense grid of [-10, 10], and splits of a row into
// pieces giving identical bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/eltwise/eltwise.h"
#include "runtime/kernels/isa_coverage_test.h"

namespace pare::rt::kernels {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<const F32EltwiseVariant*> usable_variants() {
  size_t count = 0;
  const F32EltwiseVariant* all = f32_eltwise_variants(&count);
  std::vector<const F32EltwiseVariant*> out;
  for (size_t i = 0; i + 1 < count; ++i)
    if (isa_usable(all[i].isa, all[i].isa)) out.push_back(&all[i]);
  return out;
}

const F32EltwiseVariant& reference() {
  size_t count = 0;
  const F32EltwiseVariant* all = f32_eltwise_variants(&count);
  return all[count - 1];
}

size_t width_of(const F32EltwiseVariant& v) {
  // The suffix starts with the tile: "x8__avx2".
  return static_cast<size_t>(std::stoul(std::string(v.suffix + 1)));
}

std::vector<size_t> sizes_around(size_t width) {
  std::vector<size_t> sizes;
  for (size_t n = 1; n <= 3 * width + 1; ++n) sizes.push_back(n);
  for (size_t n : {size_t{100}, size_t{257}, size_t{1001}}) sizes.push_back(n);
  return sizes;
}

// Random values in [-8, 8] with special values sprinkled in.
std::vector<float> test_values(size_t n, std::mt19937* rng) {
  std::uniform_real_distribution<float> dist(-8.f, 8.f);
  const float specials[] = {0.f,    -0.f,   kNaN,   kInf, -kInf, 1e30f, -1e30f, 88.5f,
                            -88.5f, 1e-30f, -1e-7f, 3.f,  -3.f,  6.f,   1e-40f};
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = (i % 7 == 3) ? specials[(i / 7) % (sizeof(specials) / sizeof(float))] : dist(*rng);
  return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// Both NaN, or equal within rel * |expected| + abs.
::testing::AssertionResult close(float expected, float actual, double rel, double abs) {
  if (std::isnan(expected) || std::isnan(actual)) {
    if (std::isnan(expected) && std::isnan(actual)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected " << expected << ", got " << actual;
  }
  if (expected == actual) return ::testing::AssertionSuccess();
  const double diff = std::fabs(static_cast<double>(expected) - actual);
  if (diff <= rel * std::fabs(static_cast<double>(expected)) + abs)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected " << expected << ", got " << actual << " (diff " << diff << ")";
}

using Binary = F32BinaryFn F32EltwiseVariant::*;
struct BinaryOp {
  const char* name;
  Binary fn;
};
const BinaryOp kBinaryOps[] = {{"add", &F32EltwiseVariant::add},
                               {"sub", &F32EltwiseVariant::sub},
                               {"mul", &F32EltwiseVariant::mul},
                               {"div", &F32EltwiseVariant::div}};

TEST(F32Eltwise, BinaryMatchesReferenceExactlyForEveryStep) {
  std::mt19937 rng(1);
  for (const F32EltwiseVariant* v : usable_variants()) {
    for (size_t n : sizes_around(width_of(*v))) {
      const std::vector<float> a = test_values(n, &rng), b = test_values(n, &rng);
      for (const BinaryOp& op : kBinaryOps) {
        for (size_t a_step : {0, 1}) {
          for (size_t b_step : {0, 1}) {
            std::vector<float> want(n), got(n, -1.f);
            (reference().*op.fn)(n, a.data(), a_step, b.data(), b_step, want.data());
            (v->*op.fn)(n, a.data(), a_step, b.data(), b_step, got.data());
            for (size_t i = 0; i < n; ++i)
              ASSERT_TRUE(same_bits(want[i], got[i]) || (std::isnan(want[i]) && std::isnan(got[i])))
                  << v->suffix << " " << op.name << " n=" << n << " steps=" << a_step << ","
                  << b_step << " i=" << i << ": " << want[i] << " vs " << got[i];
          }
        }
      }
    }
  }
}

using Unary = F32UnaryFn F32EltwiseVariant::*;
struct UnaryOp {
  const char* name;
  Unary fn;
  double rel, abs;   // tolerance against the reference
  double abs_per_x = 0;  // and this times |x|
};
const UnaryOp kUnaryOps[] = {
    {"relu", &F32EltwiseVariant::relu, 0, 0},
    {"hard_swish", &F32EltwiseVariant::hard_swish, 2e-7, 1e-7},
    {"sigmoid", &F32EltwiseVariant::sigmoid, 1e-6, 1e-7},
    // Sigmoid's error is absolute (below 1.6e-7); Silu's is that times |x|.
    {"silu", &F32EltwiseVariant::silu, 1e-6, 1e-7, 1.6e-7},
    {"tanh", &F32EltwiseVariant::tanh, 1e-6, 1e-7},
    {"erf", &F32EltwiseVariant::erf, 1e-6, 1e-7},
    // Below x = -1, 1 + erf cancels: the error is absolute there, erf's 3.5e-7
    // times 0.5 |x|.
    {"gelu", &F32EltwiseVariant::gelu, 2e-6, 1e-15, 1.8e-7},
};

TEST(F32Eltwise, UnaryMatchReferenceAroundTheWidth) {
  std::mt19937 rng(2);
  for (const F32EltwiseVariant* v : usable_variants()) {
    for (size_t n : sizes_around(width_of(*v))) {
      const std::vector<float> x = test_values(n, &rng);
      for (const UnaryOp& op : kUnaryOps) {
        std::vector<float> want(n), got(n, -1.f);
        (reference().*op.fn)(n, x.data(), want.data());
        (v->*op.fn)(n, x.data(), got.data());
        for (size_t i = 0; i < n; ++i)
          ASSERT_TRUE(close(want[i], got[i], op.rel,
                            op.abs + (op.abs_per_x > 0 ? op.abs_per_x * std::fabs(static_cast<double>(x[i])) : 0)))
              << v->suffix << " " << op.name << " n=" << n << " x=" << x[i];
      }
      std::vector<float> want(n), got(n);
      for (auto [lo, hi] : {std::pair{-1.f, 2.5f}, std::pair{0.f, 6.f}, std::pair{1.f, -1.f}}) {
        reference().clip(n, x.data(), lo, hi, want.data());
        v->clip(n, x.data(), lo, hi, got.data());
        for (size_t i = 0; i < n; ++i)
          ASSERT_TRUE(close(want[i], got[i], 0, 0)) << v->suffix << " clip x=" << x[i];
      }
      reference().hard_sigmoid(n, x.data(), 0.2f, 0.5f, want.data());
      v->hard_sigmoid(n, x.data(), 0.2f, 0.5f, got.data());
      for (size_t i = 0; i < n; ++i)
        ASSERT_TRUE(close(want[i], got[i], 2e-7, 1e-7)) << v->suffix << " hard_sigmoid x=" << x[i];
    }
  }
}

// Dense grid of [-10, 10] plus large magnitudes against double-precision std::.
TEST(F32Eltwise, TranscendentalsWithin1e6OfDouble) {
  std::vector<float> x;
  for (int i = -200000; i <= 200000; ++i) x.push_back(static_cast<float>(i) * 5e-5f);
  for (float big : {15.f, 30.f, 87.f, 88.f, 89.f, 100.f, 1e4f, 1e30f, 3e38f, kInf})
    for (float s : {1.f, -1.f}) x.push_back(s * big);
  for (float tiny : {1e-3f, 1e-6f, 1e-12f, 1e-38f, 1e-44f})
    for (float s : {1.f, -1.f}) x.push_back(s * tiny);
  const size_t n = x.size();
  std::vector<float> y(n);
  for (const F32EltwiseVariant* v : usable_variants()) {
    v->sigmoid(n, x.data(), y.data());
    for (size_t i = 0; i < n; ++i)
      ASSERT_NEAR(y[i], 1.0 / (1.0 + std::exp(-static_cast<double>(x[i]))), 1e-6)
          << v->suffix << " sigmoid x=" << x[i];
    v->tanh(n, x.data(), y.data());
    for (size_t i = 0; i < n; ++i) {
      const double want = std::tanh(static_cast<double>(x[i]));
      ASSERT_NEAR(y[i], want, 1e-6) << v->suffix << " tanh x=" << x[i];
      ASSERT_NEAR(y[i], want, 1e-6 * std::fabs(want) + 1e-44) << v->suffix << " tanh x=" << x[i];
    }
    v->erf(n, x.data(), y.data());
    for (size_t i = 0; i < n; ++i) {
      const double want = std::erf(static_cast<double>(x[i]));
      ASSERT_NEAR(y[i], want, 1e-6 * std::fabs(want) + 1e-44) << v->suffix << " erf x=" << x[i];
    }
    v->gelu(n, x.data(), y.data());
    for (size_t i = 0; i < n; ++i) {
      const double d = x[i];
      const double want = 0.5 * d * std::erfc(-d / std::sqrt(2.0));
      if (std::isinf(x[i])) {
        // +inf stays; -inf gives -inf * 0 = NaN, as the reference computes it.
        ASSERT_TRUE(x[i] > 0 ? y[i] == x[i] : std::isnan(y[i])) << v->suffix << " " << x[i];
        continue;
      }
      // Relative 2e-6 for x >= -1; below, where 1 + erf cancels, 1.8e-7 |x| absolute.
      const double bound = x[i] >= -1.f ? 2e-6 * std::fabs(want) + 1e-37 : 1.8e-7 * std::fabs(d);
      ASSERT_NEAR(y[i], want, bound) << v->suffix << " gelu x=" << x[i];
    }
  }
}

TEST(F32Eltwise, NaNPassesThrough) {
  const float x[] = {kNaN, -kNaN, 1.f, kNaN};
  float y[4];
  for (const F32EltwiseVariant* v : usable_variants()) {
    for (const UnaryOp& op : kUnaryOps) {
      (v->*op.fn)(4, x, y);
      EXPECT_TRUE(std::isnan(y[0]) && std::isnan(y[1]) && std::isnan(y[3]))
          << v->suffix << " " << op.name;
    }
  }
}

// A row computed in one call and in arbitrary pieces gives identical bytes, as
// the ops do when they split a tensor over threads.
TEST(F32Eltwise, SplitsGiveIdenticalBytes) {
  std::mt19937 rng(3);
  const size_t n = 1237;
  const std::vector<float> a = test_values(n, &rng), b = test_values(n, &rng);
  const size_t cuts[] = {0, 1, 17, 333, 334, 800, 1229, n};
  for (const F32EltwiseVariant* v : usable_variants()) {
    for (const UnaryOp& op : kUnaryOps) {
      std::vector<float> whole(n), pieces(n);
      (v->*op.fn)(n, a.data(), whole.data());
      for (size_t c = 0; c + 1 < sizeof(cuts) / sizeof(cuts[0]); ++c)
        (v->*op.fn)(cuts[c + 1] - cuts[c], a.data() + cuts[c], pieces.data() + cuts[c]);
      ASSERT_EQ(0, std::memcmp(whole.data(), pieces.data(), n * sizeof(float)))
          << v->suffix << " " << op.name;
    }
    std::vector<float> whole(n), pieces(n);
    v->mul(n, a.data(), 1, b.data(), 1, whole.data());
    for (size_t c = 0; c + 1 < sizeof(cuts) / sizeof(cuts[0]); ++c)
      v->mul(cuts[c + 1] - cuts[c], a.data() + cuts[c], 1, b.data() + cuts[c], 1,
             pieces.data() + cuts[c]);
    ASSERT_EQ(0, std::memcmp(whole.data(), pieces.data(), n * sizeof(float))) << v->suffix;
  }
}

TEST(F32Eltwise, SelectHonoursTheCap) {
  EXPECT_EQ(select_f32_eltwise(Isa::kScalar).isa, Isa::kScalar);
  EXPECT_STREQ(select_f32_eltwise(Isa::kScalar).suffix, "ref__scalar");
  const F32EltwiseVariant& best = select_f32_eltwise(best_isa());
  EXPECT_TRUE(isa_usable(best.isa, best_isa()));
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(eltwise, isa_coverage::cases(f32_eltwise_variants,
                                         [](const F32EltwiseVariant& v) { return v.suffix; }));

}  // namespace
}  // namespace pare::rt::kernels
