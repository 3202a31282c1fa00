// The ops transformer exports need beyond the basics: ReduceMax/Min/Prod/L2, ArgMax, TopK,
// CumSum, Range, Tile, GatherElements, ScatterND, Max/Min, Mod and Einsum, called through their factories
// against hand-computed values, with their edge cases (negative axes, ties, empty results)
// and the errors prepare and run must report.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "runtime/op.h"
#include "runtime/ops/ops.h"
#include "tests/runtime/op_harness.h"

namespace pare::rt {
namespace {

using namespace op_harness;

const float kInf = std::numeric_limits<float>::infinity();

// ---- reductions ------------------------------------------------------------------------

TEST(TransformerOps, ReduceMaxMinProdL2) {
  Tensor x = make<float>({2, 3}, {1, -2, 3, 4, 5, -6});
  Tensor last = constant<int64_t>({1}, {-1});
  const std::vector<Attribute> drop = {attr_int("keepdims", 0)};
  EXPECT_EQ(run(ops::prepare_ReduceMax, drop, {&x, &last}, {out(DType::kFloat32, {2})}).values<float>(),
            (std::vector<float>{3, 5}));
  EXPECT_EQ(run(ops::prepare_ReduceMin, drop, {&x, &last}, {out(DType::kFloat32, {2})}).values<float>(),
            (std::vector<float>{-2, -6}));
  EXPECT_EQ(run(ops::prepare_ReduceProd, drop, {&x, &last}, {out(DType::kFloat32, {2})}).values<float>(),
            (std::vector<float>{-6, -120}));
  const std::vector<float> l2 =
      run(ops::prepare_ReduceL2, drop, {&x, &last}, {out(DType::kFloat32, {2})}).values<float>();
  ASSERT_EQ(l2.size(), 2u);
  EXPECT_FLOAT_EQ(l2[0], std::sqrt(14.f));
  EXPECT_FLOAT_EQ(l2[1], std::sqrt(77.f));

  Tensor first = constant<int64_t>({1}, {0});
  EXPECT_EQ(run(ops::prepare_ReduceMax, {}, {&x, &first}, {out(DType::kFloat32, {1, 3})}).values<float>(),
            (std::vector<float>{4, 5, 3}));
  // No axes: every axis.
  EXPECT_EQ(run(ops::prepare_ReduceMax, {}, {&x}, {out(DType::kFloat32, {1, 1})}).values<float>(),
            (std::vector<float>{5}));

  // Reducing an empty axis gives the identity of each reduction.
  Tensor empty = make<float>({2, 0}, {});
  Tensor one = constant<int64_t>({1}, {1});
  EXPECT_EQ(run(ops::prepare_ReduceMax, drop, {&empty, &one}, {out(DType::kFloat32, {2})}).values<float>(),
            (std::vector<float>{-kInf, -kInf}));
  EXPECT_EQ(run(ops::prepare_ReduceMin, drop, {&empty, &one}, {out(DType::kFloat32, {2})}).values<float>(),
            (std::vector<float>{kInf, kInf}));
  EXPECT_EQ(run(ops::prepare_ReduceProd, drop, {&empty, &one}, {out(DType::kFloat32, {2})}).values<float>(),
            (std::vector<float>{1, 1}));
  EXPECT_EQ(run(ops::prepare_ReduceL2, drop, {&empty, &one}, {out(DType::kFloat32, {2})}).values<float>(),
            (std::vector<float>{0, 0}));

  Tensor ints = make<int64_t>({3}, {7, -9, 2});
  EXPECT_EQ(run(ops::prepare_ReduceMin, {}, {&ints}, {out(DType::kInt64, {1})}).values<int64_t>(),
            (std::vector<int64_t>{-9}));
  // NaN wins a max.
  Tensor nan = make<float>({3}, {1, std::numeric_limits<float>::quiet_NaN(), 2});
  EXPECT_TRUE(std::isnan(run(ops::prepare_ReduceMax, {}, {&nan}, {out(DType::kFloat32, {1})}).values<float>()[0]));
}

TEST(TransformerOps, ArgMax) {
  Tensor x = make<float>({2, 3}, {1, 3, 3, 2, 2, 1});
  EXPECT_EQ(run(ops::prepare_ArgMax, {attr_int("axis", -1)}, {&x}, {out(DType::kInt64, {2, 1})}).values<int64_t>(),
            (std::vector<int64_t>{1, 0}));  // ties: the first index
  EXPECT_EQ(run(ops::prepare_ArgMax, {attr_int("axis", -1), attr_int("select_last_index", 1)}, {&x},
                {out(DType::kInt64, {2, 1})})
                .values<int64_t>(),
            (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(run(ops::prepare_ArgMax, {attr_int("keepdims", 0)}, {&x}, {out(DType::kInt64, {3})}).values<int64_t>(),
            (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(run(ops::prepare_ArgMax, {attr_int("axis", 2)}, {&x}, {out(DType::kInt64, {2, 1})}).status.code(),
            Status::kBadModel);
}

TEST(TransformerOps, TopKTiesLargestSmallestAndNegativeAxis) {
  Tensor x = make<float>({1, 5}, {3, 1, 3, 2, 3});
  Tensor two = constant<int64_t>({1}, {2});
  Outcome r = run(ops::prepare_TopK, {}, {&x, &two}, {out(DType::kFloat32, {1, 2}), out(DType::kInt64, {1, 2})});
  EXPECT_OK(r);
  EXPECT_EQ(r.values<float>(0), (std::vector<float>{3, 3}));
  EXPECT_EQ(r.values<int64_t>(1), (std::vector<int64_t>{0, 2}));  // equal values: lower index first

  Tensor three = constant<int64_t>({1}, {3});
  r = run(ops::prepare_TopK, {attr_int("largest", 0)}, {&x, &three},
          {out(DType::kFloat32, {1, 3}), out(DType::kInt64, {1, 3})});
  EXPECT_OK(r);
  EXPECT_EQ(r.values<float>(0), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(r.values<int64_t>(1), (std::vector<int64_t>{1, 3, 0}));

  Tensor y = make<float>({3, 2}, {1, 6, 5, 2, 5, 4});
  r = run(ops::prepare_TopK, {attr_int("axis", -2)}, {&y, &two},
          {out(DType::kFloat32, {2, 2}), out(DType::kInt64, {2, 2})});
  EXPECT_OK(r);
  EXPECT_EQ(r.values<float>(0), (std::vector<float>{5, 6, 5, 4}));
  EXPECT_EQ(r.values<int64_t>(1), (std::vector<int64_t>{1, 0, 2, 2}));

  Tensor six = constant<int64_t>({1}, {6});
  EXPECT_EQ(run(ops::prepare_TopK, {}, {&x, &six}, {out(DType::kFloat32, {1, 6}), out(DType::kInt64, {1, 6})})
                .status.code(),
            Status::kBadModel);
  Tensor runtime_k = make<int64_t>({1}, {2});
  EXPECT_EQ(run(ops::prepare_TopK, {}, {&x, &runtime_k}, {out(DType::kFloat32, {1, 2}), out(DType::kInt64, {1, 2})})
                .status.code(),
            Status::kUnsupported);
}

// ---- scans and generators --------------------------------------------------------------

TEST(TransformerOps, CumSumExclusiveReverse) {
  Tensor x = make<float>({4}, {1, 2, 3, 4});
  Tensor axis = constant<int32_t>({}, {0});
  const std::vector<TensorDesc> o = {out(DType::kFloat32, {4})};
  EXPECT_EQ(run(ops::prepare_CumSum, {}, {&x, &axis}, o).values<float>(), (std::vector<float>{1, 3, 6, 10}));
  EXPECT_EQ(run(ops::prepare_CumSum, {attr_int("exclusive", 1)}, {&x, &axis}, o).values<float>(),
            (std::vector<float>{0, 1, 3, 6}));
  EXPECT_EQ(run(ops::prepare_CumSum, {attr_int("reverse", 1)}, {&x, &axis}, o).values<float>(),
            (std::vector<float>{10, 9, 7, 4}));
  EXPECT_EQ(run(ops::prepare_CumSum, {attr_int("exclusive", 1), attr_int("reverse", 1)}, {&x, &axis}, o)
                .values<float>(),
            (std::vector<float>{9, 7, 4, 0}));

  Tensor m = make<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor rows = constant<int64_t>({1}, {-2});
  EXPECT_EQ(run(ops::prepare_CumSum, {}, {&m, &rows}, {out(DType::kInt32, {2, 3})}).values<int32_t>(),
            (std::vector<int32_t>{1, 2, 3, 5, 7, 9}));
  Tensor l = make<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor cols = constant<int64_t>({1}, {1});
  EXPECT_EQ(run(ops::prepare_CumSum, {}, {&l, &cols}, {out(DType::kInt64, {2, 3})}).values<int64_t>(),
            (std::vector<int64_t>{1, 3, 6, 4, 9, 15}));
  // int32 sums wrap around.
  Tensor big = make<int32_t>({2}, {std::numeric_limits<int32_t>::max(), 1});
  Tensor zero = constant<int64_t>({}, {0});
  EXPECT_EQ(run(ops::prepare_CumSum, {}, {&big, &zero}, {out(DType::kInt32, {2})}).values<int32_t>(),
            (std::vector<int32_t>{std::numeric_limits<int32_t>::max(), std::numeric_limits<int32_t>::min()}));
}

TEST(TransformerOps, RangeNegativeDeltaEmptyAndErrors) {
  auto i32 = [](int32_t v) { return constant<int32_t>({}, {v}); };
  Tensor a = i32(10), b = i32(4), c = i32(-3);
  EXPECT_EQ(run(ops::prepare_Range, {}, {&a, &b, &c}, {out(DType::kInt32, {2})}).values<int32_t>(),
            (std::vector<int32_t>{10, 7}));
  Tensor d = i32(1), e = i32(5), f = i32(-1);
  Outcome empty = run(ops::prepare_Range, {}, {&d, &e, &f}, {out(DType::kInt32, {0})});
  EXPECT_OK(empty);
  EXPECT_TRUE(empty.values<int32_t>().empty());

  Tensor s = constant<float>({}, {1.f}), l = constant<float>({}, {2.f}), st = constant<float>({}, {0.3f});
  const std::vector<float> r = run(ops::prepare_Range, {}, {&s, &l, &st}, {out(DType::kFloat32, {4})}).values<float>();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_FLOAT_EQ(r[3], 1.9f);

  Tensor zero = i32(0);
  EXPECT_EQ(run(ops::prepare_Range, {}, {&a, &b, &zero}, {out(DType::kInt32, {0})}).status.code(), Status::kBadModel);
  Tensor lo = constant<int64_t>({}, {std::numeric_limits<int64_t>::min()});
  Tensor hi = constant<int64_t>({}, {std::numeric_limits<int64_t>::max()});
  Tensor step = constant<int64_t>({}, {1});
  EXPECT_EQ(run(ops::prepare_Range, {}, {&lo, &hi, &step}, {out(DType::kInt64, {1})}).status.code(),
            Status::kBadModel);  // too many elements, not a wrapped count
  Tensor runtime_start = make<int32_t>({}, {1});
  EXPECT_EQ(run(ops::prepare_Range, {}, {&runtime_start, &e, &f}, {out(DType::kInt32, {0})}).status.code(),
            Status::kUnsupported);
}

// ---- data movement ---------------------------------------------------------------------

TEST(TransformerOps, Tile) {
  Tensor x = make<float>({2, 2}, {1, 2, 3, 4});
  Tensor cols = constant<int64_t>({2}, {1, 2});
  EXPECT_EQ(run(ops::prepare_Tile, {}, {&x, &cols}, {out(DType::kFloat32, {2, 4})}).values<float>(),
            (std::vector<float>{1, 2, 1, 2, 3, 4, 3, 4}));
  Tensor rows = constant<int64_t>({2}, {2, 1});
  EXPECT_EQ(run(ops::prepare_Tile, {}, {&x, &rows}, {out(DType::kFloat32, {4, 2})}).values<float>(),
            (std::vector<float>{1, 2, 3, 4, 1, 2, 3, 4}));
  Tensor none = constant<int64_t>({2}, {0, 1});
  EXPECT_OK(run(ops::prepare_Tile, {}, {&x, &none}, {out(DType::kFloat32, {0, 2})}));
  Tensor bytes = make<int8_t>({3}, {1, -2, 3});
  Tensor twice = constant<int64_t>({1}, {2});
  EXPECT_EQ(run(ops::prepare_Tile, {}, {&bytes, &twice}, {out(DType::kInt8, {6})}).values<int8_t>(),
            (std::vector<int8_t>{1, -2, 3, 1, -2, 3}));

  Tensor huge = constant<int64_t>({2}, {std::numeric_limits<int64_t>::max(), 1});
  EXPECT_EQ(run(ops::prepare_Tile, {}, {&x, &huge}, {out(DType::kFloat32, {2, 2})}).status.code(), Status::kBadModel);
  Tensor negative = constant<int64_t>({2}, {-1, 1});
  EXPECT_EQ(run(ops::prepare_Tile, {}, {&x, &negative}, {out(DType::kFloat32, {2, 2})}).status.code(),
            Status::kBadModel);
  Tensor short_repeats = constant<int64_t>({1}, {2});
  EXPECT_EQ(run(ops::prepare_Tile, {}, {&x, &short_repeats}, {out(DType::kFloat32, {4, 2})}).status.code(),
            Status::kBadModel);
}

TEST(TransformerOps, GatherElementsAndIndexOutOfRangeAtRunTime) {
  Tensor data = make<float>({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor rows = make<int64_t>({2, 3}, {1, 2, 0, 2, 0, 0});
  EXPECT_EQ(run(ops::prepare_GatherElements, {}, {&data, &rows}, {out(DType::kFloat32, {2, 3})}).values<float>(),
            (std::vector<float>{4, 8, 3, 7, 2, 3}));

  Tensor small = make<int64_t>({2, 2}, {1, 2, 3, 4});
  Tensor cols = make<int32_t>({2, 2}, {0, 0, -1, 0});
  EXPECT_EQ(run(ops::prepare_GatherElements, {attr_int("axis", -1)}, {&small, &cols}, {out(DType::kInt64, {2, 2})})
                .values<int64_t>(),
            (std::vector<int64_t>{1, 1, 4, 3}));

  Tensor bad = make<int64_t>({2, 3}, {1, 2, 0, 3, 0, 0});
  Outcome r = run(ops::prepare_GatherElements, {}, {&data, &bad}, {out(DType::kFloat32, {2, 3})});
  EXPECT_EQ(r.status.code(), Status::kInvalidArgument);
  EXPECT_NE(r.status.message().find("'node'"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("index 3 is out of range"), std::string::npos) << r.status.message();

  Tensor wide = make<int64_t>({1, 4}, {0, 0, 0, 0});
  EXPECT_EQ(run(ops::prepare_GatherElements, {}, {&data, &wide}, {out(DType::kFloat32, {1, 4})}).status.code(),
            Status::kBadModel);
}

TEST(TransformerOps, ScatterNDReductionsNegativeIndicesAndOutOfRange) {
  Tensor data = make<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor rows = make<int64_t>({2, 1}, {2, -3});  // rows 2 and 0
  Tensor updates = make<float>({2, 2}, {10, 1, 0, 20});
  auto scatter = [&](const char* reduction) {
    return run(ops::prepare_ScatterND, {attr_string("reduction", reduction)}, {&data, &rows, &updates},
               {out(DType::kFloat32, {3, 2})});
  };
  EXPECT_EQ(scatter("none").values<float>(), (std::vector<float>{0, 20, 3, 4, 10, 1}));
  EXPECT_EQ(scatter("add").values<float>(), (std::vector<float>{1, 22, 3, 4, 15, 7}));
  EXPECT_EQ(scatter("mul").values<float>(), (std::vector<float>{0, 40, 3, 4, 50, 6}));
  EXPECT_EQ(scatter("max").values<float>(), (std::vector<float>{1, 20, 3, 4, 10, 6}));
  EXPECT_EQ(scatter("min").values<float>(), (std::vector<float>{0, 2, 3, 4, 5, 1}));

  // Full index tuples on int64 data.
  Tensor ints = make<int64_t>({2, 2}, {1, 2, 3, 4});
  Tensor cells = make<int64_t>({2, 2}, {0, 1, 1, 0});
  Tensor values = make<int64_t>({2}, {-7, 9});
  EXPECT_EQ(run(ops::prepare_ScatterND, {}, {&ints, &cells, &values}, {out(DType::kInt64, {2, 2})}).values<int64_t>(),
            (std::vector<int64_t>{1, -7, 9, 4}));

  Tensor bad = make<int64_t>({2, 1}, {0, 3});
  Outcome r = run(ops::prepare_ScatterND, {}, {&data, &bad, &updates}, {out(DType::kFloat32, {3, 2})});
  EXPECT_EQ(r.status.code(), Status::kInvalidArgument);
  EXPECT_NE(r.status.message().find("index 3 is out of range"), std::string::npos) << r.status.message();
  Tensor short_updates = make<float>({2, 1}, {0, 0});
  EXPECT_EQ(run(ops::prepare_ScatterND, {}, {&data, &rows, &short_updates}, {out(DType::kFloat32, {3, 2})})
                .status.code(),
            Status::kBadModel);
}

TEST(TransformerOps, ModSignsAndZeroDivisors) {
  Tensor a = make<int32_t>({4}, {7, -7, 7, -7});
  Tensor b = make<int32_t>({4}, {3, 3, -3, 0});
  EXPECT_EQ(run(ops::prepare_Mod, {}, {&a, &b}, {out(DType::kInt32, {4})}).values<int32_t>(),
            (std::vector<int32_t>{1, 2, -2, 0}));  // the divisor's sign; 0 for a zero divisor
  EXPECT_EQ(run(ops::prepare_Mod, {attr_int("fmod", 1)}, {&a, &b}, {out(DType::kInt32, {4})}).values<int32_t>(),
            (std::vector<int32_t>{1, -1, 1, 0}));  // the dividend's sign
  Tensor lowest = make<int64_t>({1}, {std::numeric_limits<int64_t>::min()});
  Tensor minus_one = make<int64_t>({1}, {-1});
  EXPECT_EQ(run(ops::prepare_Mod, {}, {&lowest, &minus_one}, {out(DType::kInt64, {1})}).values<int64_t>(),
            (std::vector<int64_t>{0}));
  Tensor x = make<float>({2}, {5.5f, -5.5f});
  Tensor y = make<float>({2}, {2, 2});
  EXPECT_EQ(run(ops::prepare_Mod, {attr_int("fmod", 1)}, {&x, &y}, {out(DType::kFloat32, {2})}).values<float>(),
            (std::vector<float>{1.5f, -1.5f}));
}

// ---- Max, Min ----------------------------------------------------------------------------

TEST(TransformerOps, MaxMinVariadicBroadcast) {
  Tensor a = make<float>({2, 2}, {1, 5, 3, -1});
  Tensor b = make<float>({2}, {2, 2});
  Tensor c = make<float>({}, {0});
  EXPECT_EQ(run(ops::prepare_Max, {}, {&a, &b}, {out(DType::kFloat32, {2, 2})}).values<float>(),
            (std::vector<float>{2, 5, 3, 2}));
  EXPECT_EQ(run(ops::prepare_Min, {}, {&a, &b, &c}, {out(DType::kFloat32, {2, 2})}).values<float>(),
            (std::vector<float>{0, 0, 0, -1}));
  EXPECT_EQ(run(ops::prepare_Max, {}, {&c, &b}, {out(DType::kFloat32, {2})}).values<float>(),
            (std::vector<float>{2, 2}));  // the output is larger than input 0
  EXPECT_EQ(run(ops::prepare_Max, {}, {&a}, {out(DType::kFloat32, {2, 2})}).values<float>(),
            (std::vector<float>{1, 5, 3, -1}));
  Tensor p = make<int64_t>({3}, {-5, 7, 0});
  Tensor q = make<int64_t>({3, 1}, {1, -9, 3});
  EXPECT_EQ(run(ops::prepare_Max, {}, {&p, &q}, {out(DType::kInt64, {3, 3})}).values<int64_t>(),
            (std::vector<int64_t>{1, 7, 1, -5, 7, 0, 3, 7, 3}));
  Tensor nan = make<float>({2}, {std::numeric_limits<float>::quiet_NaN(), 1});
  EXPECT_TRUE(std::isnan(run(ops::prepare_Min, {}, {&b, &nan}, {out(DType::kFloat32, {2})}).values<float>()[0]));
  EXPECT_EQ(run(ops::prepare_Max, {}, {&a, &p}, {out(DType::kFloat32, {2, 3})}).status.code(), Status::kBadModel);
}

// ---- Einsum ------------------------------------------------------------------------------

std::vector<float> einsum(const std::string& equation, const std::vector<const Tensor*>& inputs,
                          const Shape& out_shape) {
  Outcome r = run(ops::prepare_Einsum, {attr_string("equation", equation)}, inputs, {out(DType::kFloat32, out_shape)});
  EXPECT_TRUE(r.status.is_ok()) << equation << ": " << r.status.message();
  return r.status.is_ok() ? r.values<float>() : std::vector<float>{};
}

TEST(TransformerOps, EinsumForms) {
  Tensor m = make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(einsum("ij->ji", {&m}, {3, 2}), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(einsum("ij->i", {&m}, {2}), (std::vector<float>{6, 15}));
  EXPECT_EQ(einsum("ij", {&m}, {2, 3}), (std::vector<float>{1, 2, 3, 4, 5, 6}));

  // Attention: scores = q k^T per batch and head, then weights times values.
  Tensor q = make<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor k = make<float>({1, 1, 2, 2}, {1, 1, 0, 2});
  EXPECT_EQ(einsum("bhid,bhjd->bhij", {&q, &k}, {1, 1, 2, 2}), (std::vector<float>{3, 4, 7, 8}));
  Tensor w = make<float>({1, 1, 2, 2}, {1, 0, 0.5f, 0.5f});
  Tensor v = make<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(einsum("bhij,bhjd->bhid", {&w, &v}, {1, 1, 2, 2}), (std::vector<float>{1, 2, 2, 3}));

  Tensor a = make<float>({2, 1, 2}, {1, 2, 3, 4});
  Tensor b = make<float>({2, 2, 1}, {5, 6, 7, 8});
  EXPECT_EQ(einsum("bij,bjk->bik", {&a, &b}, {2, 1, 1}), (std::vector<float>{17, 53}));
  Tensor x = make<float>({2, 2}, {1, 2, 3, 4});
  Tensor y = make<float>({2, 2}, {0, 1, 1, 0});
  EXPECT_EQ(einsum("ij,jk->ik", {&x, &y}, {2, 2}), (std::vector<float>{2, 1, 4, 3}));
  EXPECT_EQ(einsum("ij,jk", {&x, &y}, {2, 2}), (std::vector<float>{2, 1, 4, 3}));  // implicit output "ik"
  EXPECT_EQ(einsum("ij,kj->ik", {&x, &y}, {2, 2}), (std::vector<float>{2, 1, 4, 3}));
  Tensor u = make<float>({3}, {1, 2, 3});
  EXPECT_EQ(einsum("i,i->", {&u, &u}, {}), (std::vector<float>{14}));
  EXPECT_EQ(einsum("i,j->ij", {&u, &u}, {3, 3}), (std::vector<float>{1, 2, 3, 2, 4, 6, 3, 6, 9}));

  // Refused, naming the node and the equation.
  Tensor sq = make<float>({2, 2}, {1, 2, 3, 4});
  for (const char* eq : {"ii->i", "...ij->...ji"}) {
    Outcome r = run(ops::prepare_Einsum, {attr_string("equation", eq)}, {&sq}, {out(DType::kFloat32, {2})});
    EXPECT_EQ(r.status.code(), Status::kUnsupported) << eq;
    EXPECT_NE(r.status.message().find("'node'"), std::string::npos) << r.status.message();
    EXPECT_NE(r.status.message().find(std::string("'") + eq + "'"), std::string::npos) << r.status.message();
  }
  EXPECT_EQ(run(ops::prepare_Einsum, {attr_string("equation", "ij,jk->ik")}, {&m, &m}, {out(DType::kFloat32, {2, 3})})
                .status.code(),
            Status::kBadModel);  // j is 3 in one operand and 2 in the other
}

}  // namespace
}  // namespace pare::rt
