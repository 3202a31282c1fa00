// Elementwise, activation and reduction ops, called through their factories with hand-made
// tensor descriptions: results against hand-computed values (or a plain N-d reference for
// broadcasting), and the errors prepare must report.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/reduce/reduce.h"
#include "runtime/op.h"
#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"
#include "tests/runtime/op_harness.h"

namespace pare::rt {
namespace {

using namespace op_harness;

// ---- binary ops ----------------------------------------------------------------------

TEST(Elementwise, AddSameShapeAndKernelName) {
  Tensor a = make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = make<float>({2, 3}, {10, 20, 30, 40, 50, 60});
  Outcome r = run(ops::prepare_Add, {}, {&a, &b}, {out(DType::kFloat32, {2, 3})});
  EXPECT_OK(r);
  EXPECT_EQ(r.kernel, "f32_add_ref__scalar");
  EXPECT_EQ(r.values<float>(), (std::vector<float>{11, 22, 33, 44, 55, 66}));
}

TEST(Elementwise, ScalarOnEitherSide) {
  Tensor v = make<float>({4}, {1, 2, 3, 4});
  Tensor s = make<float>({}, {8});
  Outcome left = run(ops::prepare_Sub, {}, {&s, &v}, {out(DType::kFloat32, {4})});
  EXPECT_OK(left);
  EXPECT_EQ(left.values<float>(), (std::vector<float>{7, 6, 5, 4}));
  Outcome right = run(ops::prepare_Div, {}, {&v, &s}, {out(DType::kFloat32, {4})});
  EXPECT_OK(right);
  EXPECT_EQ(right.values<float>(), (std::vector<float>{0.125f, 0.25f, 0.375f, 0.5f}));
  Outcome both = run(ops::prepare_Mul, {}, {&s, &s}, {out(DType::kFloat32, {})});
  EXPECT_OK(both);
  EXPECT_EQ(both.values<float>(), (std::vector<float>{64}));
}

TEST(Elementwise, BroadcastRowAndColumn) {
  Tensor col = make<float>({2, 1}, {1, 2});
  Tensor row = make<float>({1, 3}, {10, 20, 30});
  Outcome r = run(ops::prepare_Mul, {}, {&col, &row}, {out(DType::kFloat32, {2, 3})});
  EXPECT_OK(r);
  EXPECT_EQ(r.values<float>(), (std::vector<float>{10, 20, 30, 20, 40, 60}));
  Tensor m = make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor last = make<float>({3}, {1, 0, -1});
  Outcome r2 = run(ops::prepare_Sub, {}, {&m, &last}, {out(DType::kFloat32, {2, 3})});
  EXPECT_OK(r2);
  EXPECT_EQ(r2.values<float>(), (std::vector<float>{0, 2, 4, 3, 5, 7}));
}

// Every arithmetic op over shape pairs that need the general N-d walk, against a plain
// per-element reference.
TEST(Elementwise, BroadcastShapesAgainstReference) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 1, 3}, {4, 1}},          {{3, 1, 2, 1}, {1, 4, 1, 5}}, {{5}, {2, 3, 1}},
      {{1, 3, 1, 2}, {2, 1, 4, 2}}, {{2, 3, 4}, {2, 1, 4}},       {{1}, {3, 1, 2}},
  };
  struct Op {
    OpFactory factory;
    std::function<float(float, float)> fn;
  };
  const std::vector<Op> op_list = {
      {ops::prepare_Add, [](float x, float y) { return x + y; }},
      {ops::prepare_Sub, [](float x, float y) { return x - y; }},
      {ops::prepare_Mul, [](float x, float y) { return x * y; }},
      {ops::prepare_Div, [](float x, float y) { return x / y; }},
  };
  for (const auto& [sa, sb] : cases) {
    Shape so;
    ASSERT_TRUE(ops::broadcast_shapes(sa, sb, &so));
    const auto na = static_cast<size_t>(ops::num_elements(sa));
    const auto nb = static_cast<size_t>(ops::num_elements(sb));
    Tensor a = make<float>(sa, iota(na, 1.f, 1.f));
    Tensor b = make<float>(sb, iota(nb, 0.5f, 0.25f));
    for (const Op& op : op_list) {
      Outcome r = run(op.factory, {}, {&a, &b}, {out(DType::kFloat32, so)});
      EXPECT_OK(r);
      std::vector<float> want;
      for (int64_t i = 0; i < ops::num_elements(so); ++i)
        want.push_back(op.fn(1.f + static_cast<float>(broadcast_index(sa, so, i)),
                             0.5f + 0.25f * static_cast<float>(broadcast_index(sb, so, i))));
      EXPECT_EQ(r.values<float>(), want) << ops::num_elements(so) << " elements";
    }
  }
}

// A row over contiguous rows (a [C] scale over NHWC pixels, on either side) runs in blocks
// of rows against the row repeated in scratch: the same values as element by element, on
// every ISA cap, with and without threads, for row lengths that do and do not divide the
// block and row counts that leave a partial block.
TEST(Elementwise, RowOverPixelsRunsInBlocks) {
  ThreadPool pool(3);
  for (int64_t c : {32, 48, 7}) {
    for (int64_t pixels : {1, 63, 3000}) {
      const Shape full = {1, pixels, c}, row = {c};
      const std::vector<float> xs = random_floats(static_cast<size_t>(pixels * c), 11),
                               ss = random_floats(static_cast<size_t>(c), 12);
      Tensor x = make<float>(full, xs), s = make<float>(row, ss);
      for (Isa cap : usable_caps()) {
        for (bool row_first : {false, true}) {
          for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
            Node node(ops::prepare_Mul, "Mul");
            node.in(row_first ? s : x).in(row_first ? x : s).out(full).isa(cap);
            const std::vector<float> got = node.run(p);
            ASSERT_EQ(got.size(), static_cast<size_t>(pixels * c));
            for (size_t i = 0; i < got.size(); ++i)
              ASSERT_EQ(got[i], row_first ? ss[i % static_cast<size_t>(c)] * xs[i] : xs[i] * ss[i % static_cast<size_t>(c)])
                  << "c=" << c << " pixels=" << pixels << " i=" << i;
          }
        }
      }
    }
  }
}

TEST(Elementwise, IntegerArithmetic) {
  Tensor a64 = make<int64_t>({3}, {7, -7, 1LL << 40});
  Tensor b64 = make<int64_t>({3}, {2, 2, 3});
  Outcome add = run(ops::prepare_Add, {}, {&a64, &b64}, {out(DType::kInt64, {3})});
  EXPECT_OK(add);
  EXPECT_EQ(add.kernel, "i64_add_ref__scalar");
  EXPECT_EQ(add.values<int64_t>(), (std::vector<int64_t>{9, -5, (1LL << 40) + 3}));
  Outcome div = run(ops::prepare_Div, {}, {&a64, &b64}, {out(DType::kInt64, {3})});
  EXPECT_OK(div);  // truncates toward zero
  EXPECT_EQ(div.values<int64_t>(), (std::vector<int64_t>{3, -3, (1LL << 40) / 3}));

  Tensor a32 = make<int32_t>({2}, {6, -4});
  Tensor b32 = make<int32_t>({}, {-3});
  Outcome mul = run(ops::prepare_Mul, {}, {&a32, &b32}, {out(DType::kInt32, {2})});
  EXPECT_OK(mul);
  EXPECT_EQ(mul.values<int32_t>(), (std::vector<int32_t>{-18, 12}));

  Tensor zero = make<int32_t>({}, {0});
  Outcome by_zero = run(ops::prepare_Div, {}, {&a32, &zero}, {out(DType::kInt32, {2})});
  EXPECT_OK(by_zero);
  EXPECT_EQ(by_zero.values<int32_t>(), (std::vector<int32_t>{0, 0}));

  // uint8 and int8 wrap around like numpy.
  Tensor u = make<uint8_t>({2}, {250, 3});
  Tensor v = make<uint8_t>({2}, {10, 5});
  Outcome uadd = run(ops::prepare_Add, {}, {&u, &v}, {out(DType::kUInt8, {2})});
  EXPECT_OK(uadd);
  EXPECT_EQ(uadd.values<uint8_t>(), (std::vector<uint8_t>{4, 8}));
  Outcome usub = run(ops::prepare_Sub, {}, {&u, &v}, {out(DType::kUInt8, {2})});
  EXPECT_OK(usub);
  EXPECT_EQ(usub.values<uint8_t>(), (std::vector<uint8_t>{240, 254}));
  Tensor s = make<int8_t>({2}, {-128, 100});
  Tensor t = make<int8_t>({2}, {1, 100});
  Outcome ssub = run(ops::prepare_Sub, {}, {&s, &t}, {out(DType::kInt8, {2})});
  EXPECT_OK(ssub);
  EXPECT_EQ(ssub.values<int8_t>(), (std::vector<int8_t>{127, 0}));
}

TEST(Elementwise, Pow) {
  Tensor x = make<float>({3}, {2, 3, 4});
  Tensor e = make<float>({3}, {0.5f, -1.5f, 0});
  Outcome r = run(ops::prepare_Pow, {}, {&x, &e}, {out(DType::kFloat32, {3})});
  EXPECT_OK(r);
  expect_near(r.values<float>(), {1.41421356f, 0.19245009f, 1.f});
  Tensor e64 = make<int64_t>({}, {3});
  Outcome ri = run(ops::prepare_Pow, {}, {&x, &e64}, {out(DType::kFloat32, {3})});
  EXPECT_OK(ri);
  EXPECT_EQ(ri.kernel, "f32_pow_i64_ref__scalar");
  EXPECT_EQ(ri.values<float>(), (std::vector<float>{8, 27, 64}));
  Tensor e32 = make<int32_t>({1, 3}, {1, 2, 3});
  Outcome rb = run(ops::prepare_Pow, {}, {&x, &e32}, {out(DType::kFloat32, {1, 3})});
  EXPECT_OK(rb);
  EXPECT_EQ(rb.values<float>(), (std::vector<float>{2, 9, 64}));
  Tensor f64 = make<double>({3}, {1, 2, 3});
  EXPECT_EQ(run(ops::prepare_Pow, {}, {&f64, &e64}, {out(DType::kFloat64, {3})}).status.code(),
            Status::kUnsupported);
}

TEST(Elementwise, PowOfTwoIsThePowBytes) {
  // Squares take a product instead of pow: the same bytes over finite, huge, tiny and special
  // values, whichever dtype holds the 2, and when the 2 varies along the row.
  std::vector<float> v = {0.f, -0.f, 1.f, -3.5f, 1e-20f, -1e-30f, 1e-45f, 3e19f, -2e19f, 3.4e38f,
                          INFINITY, -INFINITY, NAN, 0.1f, 1.0000001f, -123.456f};
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> dist(-1e4f, 1e4f);
  for (int i = 0; i < 200; ++i) v.push_back(dist(gen));
  const int64_t n = static_cast<int64_t>(v.size());
  Tensor x = make<float>({n}, v);
  Tensor two = make<float>({}, {2.f});
  Tensor two64 = make<int64_t>({1}, {2});
  Tensor twos = make<float>({n}, std::vector<float>(v.size(), 2.f));
  for (const Tensor* e : {&two, &two64, &twos}) {
    Outcome r = run(ops::prepare_Pow, {}, {&x, e}, {out(DType::kFloat32, {n})});
    EXPECT_OK(r);
    const std::vector<float> got = r.values<float>();
    for (size_t i = 0; i < v.size(); ++i) {
      const float want = static_cast<float>(std::pow(static_cast<double>(v[i]), 2.0));
      EXPECT_EQ(std::memcmp(&got[i], &want, sizeof(float)) == 0 || (std::isnan(got[i]) && std::isnan(want)), true)
          << v[i] << ": " << got[i] << " against " << want;
    }
  }
}

TEST(Elementwise, Equal) {
  Tensor a = make<float>({2, 2}, {1, 2, 3, 4});
  Tensor b = make<float>({2}, {1, 4});
  Outcome r = run(ops::prepare_Equal, {}, {&a, &b}, {out(DType::kBool, {2, 2})});
  EXPECT_OK(r);
  EXPECT_EQ(r.values<uint8_t>(), (std::vector<uint8_t>{1, 0, 0, 1}));
  Tensor i = make<int64_t>({3}, {5, 6, 7});
  Tensor j = make<int64_t>({}, {6});
  Outcome ri = run(ops::prepare_Equal, {}, {&i, &j}, {out(DType::kBool, {3})});
  EXPECT_OK(ri);
  EXPECT_EQ(ri.values<uint8_t>(), (std::vector<uint8_t>{0, 1, 0}));
  Tensor i32a = make<int32_t>({2}, {-1, 2});
  Tensor i32b = make<int32_t>({2}, {-1, 3});
  Outcome r32 = run(ops::prepare_Equal, {}, {&i32a, &i32b}, {out(DType::kBool, {2})});
  EXPECT_OK(r32);
  EXPECT_EQ(r32.values<uint8_t>(), (std::vector<uint8_t>{1, 0}));
  Tensor p = make<uint8_t>({3}, {1, 0, 1}, DType::kBool);
  Tensor q = make<uint8_t>({3}, {1, 1, 0}, DType::kBool);
  Outcome rb = run(ops::prepare_Equal, {}, {&p, &q}, {out(DType::kBool, {3})});
  EXPECT_OK(rb);
  EXPECT_EQ(rb.values<uint8_t>(), (std::vector<uint8_t>{1, 0, 0}));
  // Output must be bool.
  EXPECT_EQ(run(ops::prepare_Equal, {}, {&i, &j}, {out(DType::kInt64, {3})}).status.code(),
            Status::kBadModel);
}

TEST(Elementwise, ComparisonsLogicAndFloatTests) {
  Tensor a = make<int64_t>({4}, {-3, 0, 2, 9});
  Tensor b = make<int64_t>({}, {2});
  const std::pair<OpFactory, std::vector<uint8_t>> cases[] = {
      {ops::prepare_Less, {1, 1, 0, 0}},
      {ops::prepare_LessOrEqual, {1, 1, 1, 0}},
      {ops::prepare_Greater, {0, 0, 0, 1}},
      {ops::prepare_GreaterOrEqual, {0, 0, 1, 1}},
  };
  for (const auto& [prepare, expected] : cases) {
    Outcome r = run(prepare, {}, {&a, &b}, {out(DType::kBool, {4})});
    EXPECT_OK(r);
    EXPECT_EQ(r.values<uint8_t>(), expected);
  }
  Tensor u = make<uint8_t>({2}, {200, 3});
  Tensor v = make<uint8_t>({2}, {100, 3});
  EXPECT_EQ(run(ops::prepare_Greater, {}, {&u, &v}, {out(DType::kBool, {2})}).values<uint8_t>(),
            (std::vector<uint8_t>{1, 0}));  // unsigned, not signed, order
  // Mixed dtypes and non-bool outputs are refused.
  Tensor f = make<float>({4}, {1, 2, 3, 4});
  EXPECT_FALSE(run(ops::prepare_Less, {}, {&a, &f}, {out(DType::kBool, {4})}).status.is_ok());
  EXPECT_EQ(run(ops::prepare_Less, {}, {&a, &b}, {out(DType::kInt64, {4})}).status.code(), Status::kBadModel);

  Tensor p = make<uint8_t>({2, 2}, {1, 0, 1, 0}, DType::kBool);
  Tensor q = make<uint8_t>({2}, {1, 0}, DType::kBool);
  EXPECT_EQ(run(ops::prepare_And, {}, {&p, &q}, {out(DType::kBool, {2, 2})}).values<uint8_t>(),
            (std::vector<uint8_t>{1, 0, 1, 0}));
  EXPECT_EQ(run(ops::prepare_Or, {}, {&p, &q}, {out(DType::kBool, {2, 2})}).values<uint8_t>(),
            (std::vector<uint8_t>{1, 0, 1, 0}));
  EXPECT_EQ(run(ops::prepare_Not, {}, {&q}, {out(DType::kBool, {2})}).values<uint8_t>(), (std::vector<uint8_t>{0, 1}));
  EXPECT_FALSE(run(ops::prepare_And, {}, {&a, &b}, {out(DType::kBool, {4})}).status.is_ok());  // not bool

  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = make<float>({4}, {-inf, inf, nan, 1.f});
  EXPECT_EQ(run(ops::prepare_IsNaN, {}, {&x}, {out(DType::kBool, {4})}).values<uint8_t>(),
            (std::vector<uint8_t>{0, 0, 1, 0}));
  EXPECT_EQ(run(ops::prepare_IsInf, {}, {&x}, {out(DType::kBool, {4})}).values<uint8_t>(),
            (std::vector<uint8_t>{1, 1, 0, 0}));
  EXPECT_EQ(run(ops::prepare_IsInf, {attr_int("detect_negative", 0)}, {&x}, {out(DType::kBool, {4})}).values<uint8_t>(),
            (std::vector<uint8_t>{0, 1, 0, 0}));
  Tensor y = make<float>({3}, {-2.f, 0.f, 1.f});
  EXPECT_EQ(run(ops::prepare_Neg, {}, {&y}, {out(DType::kFloat32, {3})}).values<float>(), (std::vector<float>{2.f, -0.f, -1.f}));
  EXPECT_EQ(run(ops::prepare_Abs, {}, {&y}, {out(DType::kFloat32, {3})}).values<float>(), (std::vector<float>{2.f, 0.f, 1.f}));
  const std::vector<float> e = run(ops::prepare_Exp, {}, {&y}, {out(DType::kFloat32, {3})}).values<float>();
  EXPECT_FLOAT_EQ(e[2], std::exp(1.f));
  const std::vector<float> l = run(ops::prepare_Log, {}, {&y}, {out(DType::kFloat32, {3})}).values<float>();
  EXPECT_TRUE(std::isnan(l[0]));
  EXPECT_EQ(l[1], -inf);
}

TEST(Elementwise, WhereBroadcasts) {
  Tensor cond = make<uint8_t>({2, 1}, {1, 0}, DType::kBool);
  Tensor x = make<float>({2, 2}, {1, 2, 3, 4});
  Tensor y = make<float>({}, {-1});
  Outcome r = run(ops::prepare_Where, {}, {&cond, &x, &y}, {out(DType::kFloat32, {2, 2})});
  EXPECT_OK(r);
  EXPECT_EQ(r.kernel, "x32_where_ref__scalar");
  EXPECT_EQ(r.values<float>(), (std::vector<float>{1, 2, -1, -1}));
  Tensor c2 = make<uint8_t>({3}, {0, 1, 0}, DType::kBool);
  Tensor a = make<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = make<int64_t>({3}, {-1, -2, -3});
  Outcome ri = run(ops::prepare_Where, {}, {&c2, &a, &b}, {out(DType::kInt64, {2, 3})});
  EXPECT_OK(ri);
  EXPECT_EQ(ri.values<int64_t>(), (std::vector<int64_t>{-1, 2, -3, -1, 5, -3}));
  Tensor not_bool = make<float>({3}, {0, 1, 0});
  EXPECT_EQ(
      run(ops::prepare_Where, {}, {&not_bool, &a, &b}, {out(DType::kInt64, {2, 3})}).status.code(),
      Status::kUnsupported);
}

TEST(Elementwise, PRelu) {
  Tensor x = make<float>({2, 3}, {-1, 2, -3, 4, -5, 0});
  Tensor slope = make<float>({3}, {0.5f, 0.25f, 2});
  Outcome r = run(ops::prepare_PRelu, {}, {&x, &slope}, {out(DType::kFloat32, {2, 3})});
  EXPECT_OK(r);
  EXPECT_EQ(r.values<float>(), (std::vector<float>{-0.5f, 2, -6, 4, -1.25f, 0}));
  // The slope broadcasts to x, never the other way.
  Tensor wide = make<float>({2, 2, 3}, std::vector<float>(12, 1.f));
  EXPECT_EQ(
      run(ops::prepare_PRelu, {}, {&x, &wide}, {out(DType::kFloat32, {2, 2, 3})}).status.code(),
      Status::kBadModel);
}

TEST(Elementwise, PrepareErrors) {
  Tensor a = make<float>({2, 3}, std::vector<float>(6, 1.f));
  Tensor b = make<float>({4}, std::vector<float>(4, 1.f));
  Outcome bad = run(ops::prepare_Add, {}, {&a, &b}, {out(DType::kFloat32, {2, 4})});
  EXPECT_EQ(bad.status.code(), Status::kBadModel);
  EXPECT_NE(bad.status.message().find("cannot broadcast"), std::string::npos)
      << bad.status.message();
  EXPECT_NE(bad.status.message().find("Op 'node'"), std::string::npos);

  Tensor i = make<int64_t>({2, 3}, std::vector<int64_t>(6, 1));
  EXPECT_EQ(run(ops::prepare_Add, {}, {&a, &i}, {out(DType::kFloat32, {2, 3})}).status.code(),
            Status::kBadModel);
  Outcome planned = run(ops::prepare_Add, {}, {&a, &a}, {out(DType::kFloat32, {3, 2})});
  EXPECT_EQ(planned.status.code(), Status::kBadModel);
  EXPECT_NE(planned.status.message().find("[3,2]"), std::string::npos);
  EXPECT_EQ(run(ops::prepare_Add, {}, {&a}, {out(DType::kFloat32, {2, 3})}).status.code(),
            Status::kBadModel);
  Tensor d = make<double>({2}, {1, 2});
  Outcome dbl = run(ops::prepare_Mul, {}, {&d, &d}, {out(DType::kFloat64, {2})});
  EXPECT_EQ(dbl.status.code(), Status::kUnsupported);
  EXPECT_NE(dbl.status.message().find("float64"), std::string::npos);
  FusedActivation relu;
  relu.kind = ActivationKind::kRelu;
  EXPECT_EQ(run(ops::prepare_Add, {}, {&a, &a}, {out(DType::kFloat32, {2, 3})}, relu).status.code(),
            Status::kBadModel);
}

TEST(Elementwise, EmptyTensors) {
  Tensor a = make<float>({0, 3}, {});
  Tensor b = make<float>({3}, {1, 2, 3});
  Outcome r = run(ops::prepare_Add, {}, {&a, &b}, {out(DType::kFloat32, {0, 3})});
  EXPECT_OK(r);
  EXPECT_TRUE(r.values<float>().empty());
}

// ---- activations ---------------------------------------------------------------------

TEST(Activation, ReluAndLeakyRelu) {
  Tensor x = make<float>({5}, {-2, -0.5f, 0, 0.5f, 3});
  Outcome relu = run(ops::prepare_Relu, {}, {&x}, {out(DType::kFloat32, {5})});
  EXPECT_OK(relu);
  EXPECT_EQ(relu.kernel, "f32_relu_ref__scalar");
  EXPECT_EQ(relu.values<float>(), (std::vector<float>{0, 0, 0, 0.5f, 3}));
  Outcome leaky = run(ops::prepare_LeakyRelu, {}, {&x}, {out(DType::kFloat32, {5})});
  EXPECT_OK(leaky);  // alpha defaults to 0.01
  expect_near(leaky.values<float>(), {-0.02f, -0.005f, 0, 0.5f, 3});
  Outcome leaky2 =
      run(ops::prepare_LeakyRelu, {attr_float("alpha", 0.5f)}, {&x}, {out(DType::kFloat32, {5})});
  EXPECT_OK(leaky2);
  EXPECT_EQ(leaky2.values<float>(), (std::vector<float>{-1, -0.25f, 0, 0.5f, 3}));
  EXPECT_EQ(run(ops::prepare_LeakyRelu, {attr_int("alpha", 1)}, {&x}, {out(DType::kFloat32, {5})})
                .status.code(),
            Status::kBadModel);
}

TEST(Activation, Clip) {
  Tensor x = make<float>({5}, {-3, -1, 0, 1, 3});
  Tensor lo = constant<float>({}, {-1.5f});
  Tensor hi = constant<float>({}, {2});
  Outcome both = run(ops::prepare_Clip, {}, {&x, &lo, &hi}, {out(DType::kFloat32, {5})});
  EXPECT_OK(both);
  EXPECT_EQ(both.values<float>(), (std::vector<float>{-1.5f, -1, 0, 1, 2}));
  Outcome max_only = run(ops::prepare_Clip, {}, {&x, nullptr, &hi}, {out(DType::kFloat32, {5})});
  EXPECT_OK(max_only);
  EXPECT_EQ(max_only.values<float>(), (std::vector<float>{-3, -1, 0, 1, 2}));
  Outcome none = run(ops::prepare_Clip, {}, {&x}, {out(DType::kFloat32, {5})});
  EXPECT_OK(none);
  EXPECT_EQ(none.values<float>(), (std::vector<float>{-3, -1, 0, 1, 3}));

  Tensor xi = make<int8_t>({4}, {-128, -5, 5, 127});
  Tensor loi = constant<int8_t>({}, {-10});
  Tensor hii = constant<int8_t>({}, {0});
  Outcome ri = run(ops::prepare_Clip, {}, {&xi, &loi, &hii}, {out(DType::kInt8, {4})});
  EXPECT_OK(ri);
  EXPECT_EQ(ri.kernel, "i8_clip_ref__scalar");
  EXPECT_EQ(ri.values<int8_t>(), (std::vector<int8_t>{-10, -5, 0, 0}));
  Tensor x64 = make<int64_t>({3}, {-7, 0, 7});
  Tensor lo64 = constant<int64_t>({}, {-2});
  Outcome r64 = run(ops::prepare_Clip, {}, {&x64, &lo64}, {out(DType::kInt64, {3})});
  EXPECT_OK(r64);
  EXPECT_EQ(r64.values<int64_t>(), (std::vector<int64_t>{-2, 0, 7}));

  Tensor runtime_lo = make<float>({}, {-1});
  Outcome not_const = run(ops::prepare_Clip, {}, {&x, &runtime_lo}, {out(DType::kFloat32, {5})});
  EXPECT_EQ(not_const.status.code(), Status::kUnsupported);
  EXPECT_NE(not_const.status.message().find("min"), std::string::npos);
  EXPECT_EQ(run(ops::prepare_Clip, {}, {&x, &lo64}, {out(DType::kFloat32, {5})}).status.code(),
            Status::kBadModel);
}

TEST(Activation, SmoothFunctions) {
  Tensor x = make<float>({4}, {0, 1, -2, 0.5f});
  Outcome sig = run(ops::prepare_Sigmoid, {}, {&x}, {out(DType::kFloat32, {4})});
  EXPECT_OK(sig);
  expect_near(sig.values<float>(), {0.5f, 0.731058579f, 0.119202922f, 0.622459331f});
  Outcome tanh = run(ops::prepare_Tanh, {}, {&x}, {out(DType::kFloat32, {4})});
  EXPECT_OK(tanh);
  expect_near(tanh.values<float>(), {0, 0.761594156f, -0.964027580f, 0.462117157f});
  Outcome erf = run(ops::prepare_Erf, {}, {&x}, {out(DType::kFloat32, {4})});
  EXPECT_OK(erf);
  expect_near(erf.values<float>(), {0, 0.842700793f, -0.995322265f, 0.520499878f});
  Tensor g = make<float>({3}, {1, -1, 0.5f});
  Outcome gelu = run(ops::prepare_Gelu, {}, {&g}, {out(DType::kFloat32, {3})});
  EXPECT_OK(gelu);
  expect_near(gelu.values<float>(), {0.841344746f, -0.158655254f, 0.345731231f});
  Outcome gelu_tanh = run(ops::prepare_Gelu, {attr_string("approximate", "tanh")}, {&g},
                          {out(DType::kFloat32, {3})});
  EXPECT_OK(gelu_tanh);
  EXPECT_EQ(gelu_tanh.kernel, "f32_gelu_tanh_ref__scalar");
  expect_near(gelu_tanh.values<float>(), {0.841191991f, -0.158808009f, 0.345714010f});
  EXPECT_EQ(run(ops::prepare_Gelu, {attr_string("approximate", "fast")}, {&g},
                {out(DType::kFloat32, {3})})
                .status.code(),
            Status::kBadModel);
  Tensor s = make<float>({3}, {4, 2, 0});
  Outcome sqrt = run(ops::prepare_Sqrt, {}, {&s}, {out(DType::kFloat32, {3})});
  EXPECT_OK(sqrt);
  expect_near(sqrt.values<float>(), {2, 1.41421356f, 0});
}

TEST(Activation, HardSigmoidAndHardSwish) {
  Tensor x = make<float>({5}, {-4, -1, 0, 1, 4});
  Outcome hs = run(ops::prepare_HardSigmoid, {}, {&x}, {out(DType::kFloat32, {5})});
  EXPECT_OK(hs);  // alpha 0.2, beta 0.5
  expect_near(hs.values<float>(), {0, 0.3f, 0.5f, 0.7f, 1});
  Outcome hs2 =
      run(ops::prepare_HardSigmoid, {attr_float("alpha", 0.5f), attr_float("beta", 0.25f)}, {&x},
          {out(DType::kFloat32, {5})});
  EXPECT_OK(hs2);
  expect_near(hs2.values<float>(), {0, 0, 0.25f, 0.75f, 1});
  Outcome sw = run(ops::prepare_HardSwish, {}, {&x}, {out(DType::kFloat32, {5})});
  EXPECT_OK(sw);  // x * clamp(x / 6 + 0.5, 0, 1)
  expect_near(sw.values<float>(), {0, -1.f / 3.f, 0, 2.f / 3.f, 4});
}

TEST(Activation, PrepareErrors) {
  Tensor i = make<int32_t>({2}, {1, 2});
  Outcome r = run(ops::prepare_Relu, {}, {&i}, {out(DType::kInt32, {2})});
  EXPECT_EQ(r.status.code(), Status::kUnsupported);
  EXPECT_NE(r.status.message().find("int32"), std::string::npos);
  Tensor x = make<float>({2}, {1, 2});
  EXPECT_EQ(run(ops::prepare_Sigmoid, {}, {&x}, {out(DType::kFloat32, {1, 2})}).status.code(),
            Status::kBadModel);
  EXPECT_EQ(run(ops::prepare_Tanh, {}, {&x, &x}, {out(DType::kFloat32, {2})}).status.code(),
            Status::kBadModel);
}

// ---- reductions ----------------------------------------------------------------------

TEST(Reduce, SumOverAxes) {
  Tensor x = make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor last = constant<int64_t>({1}, {1});
  Outcome keep = run(ops::prepare_ReduceSum, {}, {&x, &last}, {out(DType::kFloat32, {2, 1})});
  EXPECT_OK(keep);
  EXPECT_EQ(keep.kernel, "f32_reduce_sum_ref__scalar");
  EXPECT_EQ(keep.values<float>(), (std::vector<float>{6, 15}));
  Tensor first = constant<int64_t>({1}, {-2});
  Outcome drop = run(ops::prepare_ReduceSum, {attr_int("keepdims", 0)}, {&x, &first},
                     {out(DType::kFloat32, {3})});
  EXPECT_OK(drop);
  EXPECT_EQ(drop.values<float>(), (std::vector<float>{5, 7, 9}));
  Outcome all = run(ops::prepare_ReduceSum, {}, {&x}, {out(DType::kFloat32, {1, 1})});
  EXPECT_OK(all);
  EXPECT_EQ(all.values<float>(), (std::vector<float>{21}));
  Tensor empty_axes = constant<int64_t>({0}, {});
  Outcome all2 = run(ops::prepare_ReduceSum, {attr_int("keepdims", 0)}, {&x, &empty_axes},
                     {out(DType::kFloat32, {})});
  EXPECT_OK(all2);
  EXPECT_EQ(all2.values<float>(), (std::vector<float>{21}));
  Outcome noop = run(ops::prepare_ReduceSum, {attr_int("noop_with_empty_axes", 1)},
                     {&x, &empty_axes}, {out(DType::kFloat32, {2, 3})});
  EXPECT_OK(noop);
  EXPECT_EQ(noop.values<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Reduce, MeanOverSplitAxes) {
  // x[i][j][k] = 4i + 2j + k; mean over i and k for each j.
  Tensor x = make<float>({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  Tensor axes = constant<int64_t>({2}, {0, 2});
  Outcome r = run(ops::prepare_ReduceMean, {attr_int("keepdims", 0)}, {&x, &axes},
                  {out(DType::kFloat32, {2})});
  EXPECT_OK(r);
  EXPECT_EQ(r.kernel, "f32_reduce_mean_ref__scalar");
  EXPECT_EQ(r.values<float>(), (std::vector<float>{2.5f, 4.5f}));
  Tensor mid = constant<int32_t>({1}, {1});
  Outcome r2 = run(ops::prepare_ReduceMean, {}, {&x, &mid}, {out(DType::kFloat32, {2, 1, 2})});
  EXPECT_OK(r2);
  EXPECT_EQ(r2.values<float>(), (std::vector<float>{1, 2, 5, 6}));
}

TEST(Reduce, MeanOverTheSpatialAxesOfChannelsLastImagesIsAGlobalPooling) {
  // x.mean([2, 3]) after the nhwc pass: axes 1 and 2 of [N, H, W, C]. It runs the pool
  // family's vector kernel and must give the reduce reference's bytes.
  const std::vector<float> xs = random_floats(2 * 5 * 7 * 37, 21);
  Tensor x = make<float>({2, 5, 7, 37}, xs);
  Tensor axes = constant<int64_t>({2}, {1, 2});
  Outcome r = run(ops::prepare_ReduceMean, {attr_int("keepdims", 0)}, {&x, &axes}, {out(DType::kFloat32, {2, 37})});
  EXPECT_OK(r);
  EXPECT_NE(r.kernel.find("global_avgpool_nhwc"), std::string::npos) << r.kernel;
  const int64_t kept_dims[] = {2, 37}, kept_strides[] = {5 * 7 * 37, 1}, pixels[] = {35}, pixel_stride[] = {37};
  std::vector<float> expected(2 * 37);
  kernels::reduce_sum_ref<float>({2, kept_dims, kept_strides}, {1, pixels, pixel_stride}, xs.data(), expected.data(), 35);
  const std::vector<float> got = r.values<float>();
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_EQ(std::memcmp(got.data(), expected.data(), expected.size() * sizeof(float)), 0);
  // One image with keepdims, and a mean over the pixels of a single channel stay correct too.
  Tensor one = make<float>({1, 3, 2, 1}, {1, 2, 3, 4, 5, 7});
  Tensor hw = constant<int64_t>({2}, {1, 2});
  Outcome single = run(ops::prepare_ReduceMean, {}, {&one, &hw}, {out(DType::kFloat32, {1, 1, 1, 1})});
  EXPECT_OK(single);
  EXPECT_EQ(single.values<float>(), (std::vector<float>{22.f / 6.f}));
}

TEST(Reduce, Int64) {
  Tensor x = make<int64_t>({2, 3}, {1, 2, 4, -1, -2, -4});
  Tensor axes = constant<int64_t>({1}, {1});
  Outcome sum = run(ops::prepare_ReduceSum, {attr_int("keepdims", 0)}, {&x, &axes},
                    {out(DType::kInt64, {2})});
  EXPECT_OK(sum);
  EXPECT_EQ(sum.values<int64_t>(), (std::vector<int64_t>{7, -7}));
  Outcome mean = run(ops::prepare_ReduceMean, {attr_int("keepdims", 0)}, {&x, &axes},
                     {out(DType::kInt64, {2})});
  EXPECT_OK(mean);  // 7 / 3 truncates toward zero
  EXPECT_EQ(mean.values<int64_t>(), (std::vector<int64_t>{2, -2}));
}

TEST(Reduce, PrepareErrors) {
  Tensor x = make<float>({2, 3}, std::vector<float>(6, 1.f));
  Tensor runtime_axes = make<int64_t>({1}, {1});
  Outcome not_const =
      run(ops::prepare_ReduceSum, {}, {&x, &runtime_axes}, {out(DType::kFloat32, {2, 1})});
  EXPECT_EQ(not_const.status.code(), Status::kUnsupported);
  EXPECT_NE(not_const.status.message().find("axes"), std::string::npos);
  Tensor bad_axis = constant<int64_t>({1}, {2});
  Outcome out_of_range =
      run(ops::prepare_ReduceSum, {}, {&x, &bad_axis}, {out(DType::kFloat32, {2, 1})});
  EXPECT_EQ(out_of_range.status.code(), Status::kBadModel);
  EXPECT_NE(out_of_range.status.message().find("axis 2"), std::string::npos);
  Tensor twice = constant<int64_t>({2}, {1, -1});
  EXPECT_EQ(
      run(ops::prepare_ReduceMean, {}, {&x, &twice}, {out(DType::kFloat32, {2, 1})}).status.code(),
      Status::kBadModel);
  Tensor axes = constant<int64_t>({1}, {1});
  EXPECT_EQ(
      run(ops::prepare_ReduceMean, {}, {&x, &axes}, {out(DType::kFloat32, {2})}).status.code(),
      Status::kBadModel);
}


}  // namespace
}  // namespace pare::rt
