// The normalization ops of the runtime (BatchNormalization, LayerNormalization, Softmax),
// called through their factories on small cases: outputs are checked against values
// computed by hand or against naive formulas written out here (one output element or one
// input element at a time), and bad nodes must fail at prepare time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/op.h"
#include "runtime/ops/ops.h"
#include "runtime/thread_pool.h"
#include "tests/runtime/op_harness.h"

namespace pare::rt {
namespace {

using namespace op_harness;

// ---------------------------------------------------------------------------------------
// Normalization

TEST(BatchNormalization, HandComputed) {
  Node node(ops::prepare_BatchNormalization, "BatchNormalization");
  node.in(make<float>({1, 2, 1, 2}, {1, 2, 3, 4})).in(constant<float>({2}, {1, 2})).in(constant<float>({2}, {0, 1}));
  node.in(constant<float>({2}, {1, 3})).in(constant<float>({2}, {4, 1})).f("epsilon", 0.f).out({1, 2, 1, 2});
  expect_near_all(node.run(), {0, 0.5f, 1, 3});
}

TEST(BatchNormalization, EpsilonAndBatch) {
  const auto x = random_floats(2 * 3 * 4, 81);
  const std::vector<float> scale = {0.5f, 1.5f, -1}, bias = {0.1f, 0.2f, 0.3f}, mean = {0.f, 0.5f, -0.5f},
                           var = {1, 0.25f, 2};
  Node node(ops::prepare_BatchNormalization, "BatchNormalization");
  node.in(make<float>({2, 3, 4}, x)).in(make<float>({3}, scale)).in(make<float>({3}, bias)).in(make<float>({3}, mean)).in(make<float>({3}, var));
  node.f("epsilon", 0.01f).out({2, 3, 4});
  std::vector<float> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t c = (i / 4) % 3;
    want[i] = static_cast<float>((x[i] - mean[c]) / std::sqrt(var[c] + 0.01) * scale[c] + bias[c]);
  }
  expect_near_all(node.run(), want);
}

TEST(BatchNormalization, PrepareErrors) {
  auto base = [] {
    Node node(ops::prepare_BatchNormalization, "BatchNormalization");
    node.in(make<float>({1, 2, 2}, std::vector<float>(4)));
    return node;
  };
  {
    Node n = base();
    for (int i = 0; i < 4; ++i) n.in(constant<float>({2}, {1, 1}));
    n.i("training_mode", 1).out({1, 2, 2});
    expect_error(n, Status::kUnsupported);
  }
  {
    Node n = base();
    for (int i = 0; i < 3; ++i) n.in(constant<float>({2}, {1, 1}));
    n.in(constant<float>({3}, {1, 1, 1})).out({1, 2, 2});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n = base();
    for (int i = 0; i < 3; ++i) n.in(constant<float>({2}, {1, 1}));
    n.out({1, 2, 2});
    expect_error(n, Status::kBadModel);
  }
}

TEST(LayerNormalization, HandComputed) {
  Node node(ops::prepare_LayerNormalization, "LayerNormalization");
  node.in(make<float>({1, 4}, {1, 2, 3, 4})).in(constant<float>({4}, {1, 1, 1, 1})).in(constant<float>({4}, {0, 0, 0, 0}));
  node.f("epsilon", 0.f).out({1, 4});
  // mean 2.5, variance 1.25
  expect_near_all(node.run(), {-1.3416408f, -0.4472136f, 0.4472136f, 1.3416408f});
}

TEST(LayerNormalization, AxesAgainstFormula) {
  const Shape xs = {2, 3, 4};
  const auto x = random_floats(24, 91);
  for (int64_t axis : {-1, 1, -3, 2, 0}) {
    const int64_t a = axis < 0 ? axis + 3 : axis;
    const Shape norm(xs.begin() + a, xs.end());
    const int64_t cols = numel(norm), rows = 24 / cols;
    const auto scale = random_floats(static_cast<size_t>(cols), 92);
    const auto bias = random_floats(static_cast<size_t>(cols), 93);
    for (int with_bias = 0; with_bias < 2; ++with_bias) {
      Node node(ops::prepare_LayerNormalization, "LayerNormalization");
      node.in(make<float>(xs, x)).in(constant<float>(norm, scale));
      if (with_bias) node.in(constant<float>(norm, bias));
      node.i("axis", axis).f("epsilon", 1e-3f).out(xs);
      std::vector<float> want(24);
      for (int64_t r = 0; r < rows; ++r) {
        double mean = 0, var = 0;
        for (int64_t j = 0; j < cols; ++j) mean += x[r * cols + j];
        mean /= cols;
        for (int64_t j = 0; j < cols; ++j) var += (x[r * cols + j] - mean) * (x[r * cols + j] - mean);
        var /= cols;
        for (int64_t j = 0; j < cols; ++j)
          want[r * cols + j] = static_cast<float>((x[r * cols + j] - mean) / std::sqrt(var + 1e-3) * scale[j] +
                                                  (with_bias ? bias[j] : 0.f));
      }
      SCOPED_TRACE("axis " + std::to_string(axis) + " bias " + std::to_string(with_bias));
      expect_near_all(node.run(), want);
    }
  }
}

TEST(LayerNormalization, PrepareErrors) {
  {  // Mean must have 1 for each normalized dim
    Node n(ops::prepare_LayerNormalization, "LayerNormalization");
    n.in(make<float>({2, 4}, std::vector<float>(8))).in(constant<float>({4}, std::vector<float>(4))).out({2, 4}).out({2, 4});
    expect_error(n, Status::kBadModel);
  }
  {  // Scale would need broadcasting
    Node n(ops::prepare_LayerNormalization, "LayerNormalization");
    n.in(make<float>({2, 4}, std::vector<float>(8))).in(constant<float>({1}, {1})).out({2, 4});
    expect_error(n, Status::kUnsupported);
  }
  {
    Node n(ops::prepare_LayerNormalization, "LayerNormalization");
    n.in(make<float>({2, 4}, std::vector<float>(8))).in(constant<float>({4}, std::vector<float>(4))).i("axis", 2).out({2, 4});
    expect_error(n, Status::kBadModel);
  }
}

// ---------------------------------------------------------------------------------------
// Softmax

TEST(Softmax, HandComputedAndLargeInputs) {
  const std::vector<float> want = {0.09003057f, 0.24472847f, 0.66524096f};
  Node node(ops::prepare_Softmax, "Softmax");
  node.in(make<float>({1, 3}, {0, 1, 2})).out({1, 3});
  expect_near_all(node.run(), want, 1e-6f);
  Node large(ops::prepare_Softmax, "Softmax");
  large.in(make<float>({3}, {1000, 1001, 1002})).out({3});
  expect_near_all(large.run(), want, 1e-6f);
}

TEST(Softmax, EveryAxis) {
  const Shape xs = {2, 3, 4};
  const auto x = random_floats(24, 101);
  for (int64_t axis = -3; axis < 3; ++axis) {
    const size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
    Node node(ops::prepare_Softmax, "Softmax");
    node.in(make<float>(xs, x)).i("axis", axis).out(xs);
    std::vector<float> want(24);
    Shape c(3, 0);
    do {
      double sum = 0;
      Shape k = c;
      for (k[a] = 0; k[a] < xs[a]; ++k[a]) sum += std::exp(static_cast<double>(x[offset_of(xs, k)]));
      want[offset_of(xs, c)] = static_cast<float>(std::exp(static_cast<double>(x[offset_of(xs, c)])) / sum);
    } while (next_coord(xs, &c));
    SCOPED_TRACE("axis " + std::to_string(axis));
    expect_near_all(node.run(), want, 1e-5f);
  }
  Node bad(ops::prepare_Softmax, "Softmax");
  bad.in(make<float>(xs, x)).i("axis", 3).out(xs);
  expect_error(bad, Status::kBadModel);
}

}  // namespace
}  // namespace pare::rt
