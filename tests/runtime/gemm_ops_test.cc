// The Gemm and MatMul ops of the runtime (reference and packed kernels for every ISA),
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
// Gemm and MatMul

TEST(Gemm, HandComputed) {
  Node node(ops::prepare_Gemm, "Gemm");
  node.in(make<float>({2, 2}, {1, 2, 3, 4})).in(constant<float>({2, 2}, {5, 6, 7, 8})).in(constant<float>({2}, {1, -1}));
  node.f("alpha", 0.5f).f("beta", 2.f).out({2, 2});
  // A B = [[19, 22], [43, 50]]
  expect_near_all(node.run(), {11.5f, 9.f, 23.5f, 23.f});
}

TEST(Gemm, EveryTransposeAndBiasShape) {
  const int64_t m = 3, k = 4, n = 5;
  const auto a = random_floats(m * k, 21), b = random_floats(k * n, 22), c = random_floats(m * n, 23);
  const std::vector<Shape> c_shapes = {{}, {1}, {n}, {1, n}, {m, 1}, {m, n}, {1, 1}};
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      for (int with_c = 0; with_c <= static_cast<int>(c_shapes.size()); ++with_c) {
        const Shape a_shape = ta ? Shape{k, m} : Shape{m, k};
        const Shape b_shape = tb ? Shape{n, k} : Shape{k, n};
        const float alpha = 0.75f, beta = -1.5f;
        Node node(ops::prepare_Gemm, "Gemm");
        node.in(make<float>(a_shape, a)).in(constant<float>(b_shape, b)).i("transA", ta).i("transB", tb);
        node.f("alpha", alpha).f("beta", beta).out({m, n});
        Shape cs;
        if (with_c < static_cast<int>(c_shapes.size())) {
          cs = c_shapes[static_cast<size_t>(with_c)];
          node.in(constant<float>(cs, std::vector<float>(c.begin(), c.begin() + numel(cs))));
        }
        std::vector<float> want(m * n);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            double acc = 0;
            for (int64_t p = 0; p < k; ++p)
              acc += static_cast<double>(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            double cv = 0;
            if (with_c < static_cast<int>(c_shapes.size())) {
              // right-aligned broadcast of C to [m, n]
              const int64_t rows = cs.size() == 2 ? cs[0] : 1, cols = cs.empty() ? 1 : cs.back();
              cv = c[(rows == 1 ? 0 : i) * cols + (cols == 1 ? 0 : j)];
            }
            want[i * n + j] = static_cast<float>(alpha * acc + beta * cv);
          }
        }
        SCOPED_TRACE("transA=" + std::to_string(ta) + " transB=" + std::to_string(tb) + " C " +
                     std::to_string(with_c));
        expect_near_all(node.run(), want);
      }
    }
  }
}

TEST(Gemm, FusedClipAndThreads) {
  const int64_t m = 7, k = 9, n = 6;
  auto make_node = [&] {
    Node node(ops::prepare_Gemm, "Gemm");
    node.in(make<float>({m, k}, random_floats(m * k, 31))).in(constant<float>({n, k}, random_floats(n * k, 32)));
    node.i("transB", 1).act(ActivationKind::kClip, -0.25f, 0.5f).out({m, n});
    return node;
  };
  Node plain = make_node();
  const auto y = plain.run();
  const auto a = random_floats(m * k, 31), b = random_floats(n * k, 32);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) acc += static_cast<double>(a[i * k + p]) * b[j * k + p];
      EXPECT_NEAR(y[i * n + j], std::min(std::max(acc, -0.25), 0.5), 1e-5);
    }
  ThreadPool pool(4);
  Node threaded = make_node();
  EXPECT_EQ(plain.run_bytes(), threaded.run_bytes(&pool));
  EXPECT_EQ(threaded.kernel_name(), "f32_gemm_clip_4x8__scalar");
}

// The packed Gemm (constant B, C a row folded into the bias, alpha folded into B) under
// every ISA cap usable here against the reference path (B computed at run time), and the
// same bytes on 1 and 3 threads.
TEST(Gemm, PackedMatchesReferenceForEveryIsa) {
  const int64_t m = 37, k = 45, n = 41;
  const auto a = random_floats(m * k, 71), b = random_floats(k * n, 72), c = random_floats(n, 73);
  const std::vector<Shape> c_shapes = {{}, {n}, {1, n}, {1}};
  for (int tb = 0; tb < 2; ++tb) {
    for (size_t ci = 0; ci <= c_shapes.size(); ++ci) {
      for (float alpha : {1.f, 0.75f}) {
        const float beta = alpha == 1.f ? 1.f : -1.5f;
        auto make_node = [&](bool constant_b, Isa cap) {
          Node node(ops::prepare_Gemm, "Gemm");
          const Shape bs = tb ? Shape{n, k} : Shape{k, n};
          node.in(make<float>({m, k}, a)).in(constant_b ? constant<float>(bs, b) : make<float>(bs, b));
          if (ci < c_shapes.size()) {
            const Shape& cs = c_shapes[ci];
            node.in(constant<float>(cs, std::vector<float>(c.begin(), c.begin() + numel(cs))));
          }
          node.i("transB", tb).f("alpha", alpha).f("beta", beta).act(ActivationKind::kHardSigmoid, 0.2f, 0.5f);
          node.out({m, n}).isa(cap);
          return node;
        };
        SCOPED_TRACE("transB=" + std::to_string(tb) + " C " + std::to_string(ci) + " alpha " + std::to_string(alpha));
        Node reference = make_node(false, Isa::kScalar);
        EXPECT_EQ(reference.kernel_name(), "f32_gemm_hardsigmoid_ref__scalar");
        const std::vector<float> want = reference.run();
        for (Isa cap : usable_caps()) {
          Node fast = make_node(true, cap);
          expect_near_all(fast.run(), want, 1e-5f);
          expect_kernel_for(fast.kernel_name(), "f32_gemm_hardsigmoid_", cap);
          ThreadPool pool(3);
          Node threaded = make_node(true, cap);
          EXPECT_EQ(threaded.run_bytes(&pool), fast.run_bytes());
        }
      }
    }
  }
}

// C with one value per row cannot be a bias, and transposed A is not packed: the reference.
TEST(Gemm, RowwiseCAndTransposedAStayOnTheReference) {
  Node rowwise(ops::prepare_Gemm, "Gemm");
  rowwise.in(make<float>({3, 4}, random_floats(12, 1))).in(constant<float>({4, 5}, random_floats(20, 2)));
  rowwise.in(constant<float>({3, 1}, random_floats(3, 3))).out({3, 5}).isa(best_isa());
  EXPECT_EQ(rowwise.kernel_name(), "f32_gemm_ref__scalar");
  Node trans_a(ops::prepare_Gemm, "Gemm");
  trans_a.in(make<float>({4, 3}, random_floats(12, 1))).in(constant<float>({4, 5}, random_floats(20, 2))).i("transA", 1);
  trans_a.out({3, 5}).isa(best_isa());
  EXPECT_EQ(trans_a.kernel_name(), "f32_gemm_ref__scalar");
}

TEST(Gemm, PrepareErrors) {
  {
    Node n(ops::prepare_Gemm, "Gemm");
    n.in(make<float>({2, 3}, std::vector<float>(6))).in(constant<float>({4, 2}, std::vector<float>(8))).out({2, 2});
    expect_error(n, Status::kBadModel);
  }
  {  // C does not broadcast
    Node n(ops::prepare_Gemm, "Gemm");
    n.in(make<float>({2, 3}, std::vector<float>(6))).in(constant<float>({3, 4}, std::vector<float>(12)));
    n.in(constant<float>({3}, std::vector<float>(3))).out({2, 4});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n(ops::prepare_Gemm, "Gemm");
    n.in(make<float>({2, 3}, std::vector<float>(6))).in(constant<float>({3, 4}, std::vector<float>(12))).i("transA", 2).out({2, 4});
    expect_error(n, Status::kBadModel);
  }
  {  // planned output shape differs
    Node n(ops::prepare_Gemm, "Gemm");
    n.in(make<float>({2, 3}, std::vector<float>(6))).in(constant<float>({3, 4}, std::vector<float>(12))).out({4, 2});
    expect_error(n, Status::kBadModel);
  }
}

// numpy matmul, one output element at a time.
std::vector<float> naive_matmul(const Shape& as, const std::vector<float>& a, const Shape& bs,
                                const std::vector<float>& b, const Shape& ys) {
  Shape a2 = as, b2 = bs;
  if (a2.size() == 1) a2.insert(a2.begin(), 1);
  if (b2.size() == 1) b2.push_back(1);
  const int64_t m = a2[a2.size() - 2], k = a2.back(), n = b2.back();
  const size_t batch_rank = std::max(a2.size(), b2.size()) - 2;
  Shape y_full;  // batch + [m, n]
  for (size_t i = 0; i < batch_rank; ++i) {
    const size_t back = batch_rank - 1 - i;
    const int64_t ad = back < a2.size() - 2 ? a2[a2.size() - 3 - back] : 1;
    const int64_t bd = back < b2.size() - 2 ? b2[b2.size() - 3 - back] : 1;
    y_full.push_back(std::max(ad, bd));
  }
  y_full.push_back(m);
  y_full.push_back(n);
  EXPECT_EQ(numel(y_full), numel(ys));
  std::vector<float> y(static_cast<size_t>(numel(y_full)));
  Shape yc(y_full.size(), 0);
  do {
    // The batch coordinate of each operand: right-aligned, 0 where its dim is 1.
    auto operand_coord = [&](const Shape& s, int64_t row, int64_t col) {
      Shape c;
      for (size_t i = 0; i + 2 < s.size(); ++i) {
        const int64_t yi = yc[batch_rank - (s.size() - 2) + i];
        c.push_back(s[i] == 1 ? 0 : yi);
      }
      c.push_back(row);
      c.push_back(col);
      return c;
    };
    double acc = 0;
    for (int64_t p = 0; p < k; ++p)
      acc += static_cast<double>(a[offset_of(a2, operand_coord(a2, yc[batch_rank], p))]) *
             b[offset_of(b2, operand_coord(b2, p, yc[batch_rank + 1]))];
    y[offset_of(y_full, yc)] = static_cast<float>(acc);
  } while (next_coord(y_full, &yc));
  return y;
}

TEST(MatMul, NumpyShapes) {
  struct Case {
    Shape a, b, y;
  };
  const std::vector<Case> cases = {
      {{3, 4}, {4, 5}, {3, 5}},
      {{4}, {4, 5}, {5}},
      {{3, 4}, {4}, {3}},
      {{4}, {4}, {}},
      {{2, 3, 4}, {2, 4, 5}, {2, 3, 5}},
      {{2, 1, 3, 4}, {3, 4, 5}, {2, 3, 3, 5}},
      {{4}, {2, 4, 3}, {2, 3}},
      {{2, 3, 4}, {4}, {2, 3}},
      {{1, 3, 4}, {2, 1, 4, 2}, {2, 1, 3, 2}},
  };
  for (const Case& c : cases) {
    const auto a = random_floats(static_cast<size_t>(numel(c.a)), 41);
    const auto b = random_floats(static_cast<size_t>(numel(c.b)), 42);
    Node node(ops::prepare_MatMul, "MatMul");
    node.in(make<float>(c.a, a)).in(make<float>(c.b, b)).out(c.y);
    SCOPED_TRACE(shape_str(c.a) + " x " + shape_str(c.b));
    expect_near_all(node.run(), naive_matmul(c.a, a, c.b, b, c.y));
  }
}

TEST(MatMul, BatchedWithThreadsAndRelu) {
  const Shape as = {3, 5, 6}, bs = {6, 4};
  auto make_node = [&] {
    Node node(ops::prepare_MatMul, "MatMul");
    node.in(make<float>(as, random_floats(90, 51))).in(constant<float>(bs, random_floats(24, 52))).act(ActivationKind::kRelu);
    node.out({3, 5, 4});
    return node;
  };
  Node plain = make_node();
  const auto y = plain.run();
  expect_near_all(y, relu(naive_matmul(as, random_floats(90, 51), bs, random_floats(24, 52), {3, 5, 4})));
  ThreadPool pool(4);
  Node threaded = make_node();
  EXPECT_EQ(plain.run_bytes(), threaded.run_bytes(&pool));
}

// MatMul with B packed at prepare (constant 2-D B) or at each run (any other B), under
// every ISA cap usable here, against the formula; the same bytes on 1 and 3 threads.
TEST(MatMul, PackedForEveryIsaConstantAndRunTimeB) {
  struct Case {
    Shape a, b, y;
  };
  const std::vector<Case> cases = {
      {{3, 13, 45}, {45, 41}, {3, 13, 41}},            // batches of A as rows of one product
      {{2, 3, 17, 20}, {2, 3, 20, 19}, {2, 3, 17, 19}},  // attention-like: one B per batch
      {{1, 17, 20}, {3, 20, 9}, {3, 17, 9}},           // A broadcast over B's batches
      {{2, 1, 9, 33}, {3, 33, 8}, {2, 3, 9, 8}},
      {{5, 7}, {7}, {5}},
      {{7}, {7, 40}, {40}},
  };
  for (const Case& c : cases) {
    const auto a = random_floats(static_cast<size_t>(numel(c.a)), 81);
    const auto b = random_floats(static_cast<size_t>(numel(c.b)), 82);
    const std::vector<float> want = relu(naive_matmul(c.a, a, c.b, b, c.y));
    for (bool constant_b : {false, true}) {
      for (Isa cap : usable_caps()) {
        auto make_node = [&] {
          Node node(ops::prepare_MatMul, "MatMul");
          node.in(make<float>(c.a, a)).in(constant_b ? constant<float>(c.b, b) : make<float>(c.b, b)).act(ActivationKind::kRelu);
          node.out(c.y).isa(cap);
          return node;
        };
        SCOPED_TRACE(shape_str(c.a) + " x " + shape_str(c.b) + (constant_b ? " constant B, cap " : ", cap ") +
                     isa_name(cap));
        Node fast = make_node();
        expect_near_all(fast.run(), want, 1e-5f);
        expect_kernel_for(fast.kernel_name(), "f32_gemm_relu_", cap);
        ThreadPool pool(3);
        Node threaded = make_node();
        EXPECT_EQ(threaded.run_bytes(&pool), fast.run_bytes());
      }
    }
  }
}

// The Add of a bias row after a MatMul or Gemm with a constant B (ops::fuse_gemm_bias): the
// product's kernel adds the row in its output tiles, with the bytes of the Add run after it,
// whichever input of the Add reads the product (and with the product's activation first),
// on 1 and 3 threads, at every cap.
TEST(MatMul, BiasAddFusedGivesTheSameBytes) {
  const Shape as = {2, 25, 40}, bs = {40, 70}, ys = {2, 25, 70};
  const auto a = random_floats(static_cast<size_t>(numel(as)), 31);
  const auto b = random_floats(static_cast<size_t>(numel(bs)), 32);
  for (const Shape& row : {Shape{70}, Shape{1, 1, 70}})
    for (Isa cap : usable_caps())
      for (size_t slot : {0, 1}) {
        SCOPED_TRACE(shape_str(row) + " cap " + isa_name(cap) + " slot " + std::to_string(slot));
        const auto bias = random_floats(static_cast<size_t>(numel(row)), 33);
        auto matmul = [&] {
          Node n(ops::prepare_MatMul, "MatMul");
          n.in(make<float>(as, a)).in(constant<float>(bs, b)).act(ActivationKind::kRelu).out(ys).isa(cap);
          return n;
        };
        const std::vector<float> t = matmul().run();
        auto add = [&] {
          Node n(ops::prepare_Add, "Add");
          if (slot == 0)
            n.in(make<float>(ys, t)).in(constant<float>(row, bias));
          else
            n.in(constant<float>(row, bias)).in(make<float>(ys, t));
          n.out(ys).isa(cap);
          return n;
        };
        const std::vector<uint8_t> want = add().run_bytes();
        for (int threads : {1, 3}) {
          std::unique_ptr<OpKernel> product = std::move(matmul().prepare()).value();
          std::unique_ptr<OpKernel> bias_add = std::move(add().prepare()).value();
          const std::string name = std::string(product->kernel_name()) + "+" + bias_add->kernel_name();
          EXPECT_EQ(ops::fuse_gemm_bias(product, bias_add, 1 - slot), nullptr) << "the other input";
          ASSERT_TRUE(product && bias_add);
          std::unique_ptr<OpKernel> fused = ops::fuse_gemm_bias(product, bias_add, slot);
          ASSERT_NE(fused, nullptr);
          EXPECT_EQ(std::string(fused->kernel_name()), name);
          std::unique_ptr<OpKernel> second = std::move(add().prepare()).value();
          EXPECT_EQ(ops::fuse_gemm_bias(fused, second, slot), nullptr) << "one bias";
          ASSERT_TRUE(fused && second);
          const std::vector<const void*> inputs = {slot == 0 ? a.data() : bias.data(),
                                                   slot == 0 ? bias.data() : a.data()};
          EXPECT_EQ(run_kernel_bytes(*fused, inputs, want.size(), threads), want) << threads << " threads";
        }
      }
}

TEST(MatMul, BiasAddFusionTakesOnlyConstantRows) {
  const Isa cap = usable_caps().back();
  auto kernel = [](Node n) {
    Result<std::unique_ptr<OpKernel>> k = n.prepare();
    EXPECT_TRUE(k.is_ok());
    return k.is_ok() ? std::move(k).value() : nullptr;
  };
  auto matmul = [&](bool constant_b) {
    Node n(ops::prepare_MatMul, "MatMul");
    const auto b = random_floats(8 * 16, 2);
    n.in(make<float>({4, 8}, random_floats(32, 1))).in(constant_b ? constant<float>({8, 16}, b) : make<float>({8, 16}, b));
    n.out({4, 16}).isa(cap);
    return kernel(n);
  };
  auto add = [&](const Shape& other, bool constant_other) {
    Node n(ops::prepare_Add, "Add");
    const auto v = random_floats(static_cast<size_t>(numel(other)), 4);
    n.in(make<float>({4, 16}, random_floats(64, 3))).in(constant_other ? constant<float>(other, v) : make<float>(other, v));
    n.out({4, 16}).isa(cap);
    return kernel(n);
  };
  auto fuses = [](std::unique_ptr<OpKernel> p, std::unique_ptr<OpKernel> c) {
    std::unique_ptr<OpKernel> fused = ops::fuse_gemm_bias(p, c, 0);
    if (!fused) {
      EXPECT_TRUE(p && c) << "a refused pair must keep both kernels";
    }
    return fused != nullptr;
  };
  EXPECT_TRUE(fuses(matmul(true), add({16}, true)));
  EXPECT_TRUE(fuses(matmul(true), add({1, 16}, true)));
  EXPECT_FALSE(fuses(matmul(false), add({16}, true))) << "B computed at run time";
  EXPECT_FALSE(fuses(matmul(true), add({16}, false))) << "a row computed at run time";
  EXPECT_FALSE(fuses(matmul(true), add({4, 16}, true))) << "a constant of the output's shape";
  EXPECT_FALSE(fuses(matmul(true), add({4, 1}, true))) << "a column, not a row";
}

TEST(MatMul, PrepareErrors) {
  {
    Node n(ops::prepare_MatMul, "MatMul");
    n.in(make<float>({2, 3}, std::vector<float>(6))).in(make<float>({4, 2}, std::vector<float>(8))).out({2, 2});
    expect_error(n, Status::kBadModel);
  }
  {  // batch dims 2 and 3 do not broadcast
    Node n(ops::prepare_MatMul, "MatMul");
    n.in(make<float>({2, 2, 3}, std::vector<float>(12))).in(make<float>({3, 3, 2}, std::vector<float>(18))).out({3, 2, 2});
    expect_error(n, Status::kBadModel);
  }
  {  // 1-D times 1-D is a scalar, not [1]
    Node n(ops::prepare_MatMul, "MatMul");
    n.in(make<float>({3}, std::vector<float>(3))).in(make<float>({3}, std::vector<float>(3))).out({1});
    expect_error(n, Status::kBadModel);
  }
}

}  // namespace
}  // namespace pare::rt
