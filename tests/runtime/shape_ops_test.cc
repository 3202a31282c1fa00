// Shape and data-movement ops and the shared stride helpers, called through their factories
// with hand-made tensor descriptions: results against hand-computed values (or a plain N-d
// reference for transposes), and the errors prepare must report.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "runtime/kernels/transpose/transpose.h"
#include "runtime/op.h"
#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"
#include "tests/runtime/op_harness.h"

namespace pare::rt {
namespace {

using namespace op_harness;

// ---- shape ops -----------------------------------------------------------------------

TEST(ShapeOps, Flatten) {
  Tensor x = make<float>({2, 3, 2}, iota(12, 0, 1));
  Outcome r = run(ops::prepare_Flatten, {}, {&x}, {out(DType::kFloat32, {2, 6})});
  EXPECT_OK(r);
  EXPECT_EQ(r.values<float>(), iota(12, 0, 1));
  EXPECT_OK(
      run(ops::prepare_Flatten, {attr_int("axis", 0)}, {&x}, {out(DType::kFloat32, {1, 12})}));
  EXPECT_OK(
      run(ops::prepare_Flatten, {attr_int("axis", -1)}, {&x}, {out(DType::kFloat32, {6, 2})}));
  EXPECT_OK(
      run(ops::prepare_Flatten, {attr_int("axis", 3)}, {&x}, {out(DType::kFloat32, {12, 1})}));
  EXPECT_EQ(run(ops::prepare_Flatten, {attr_int("axis", 4)}, {&x}, {out(DType::kFloat32, {12, 1})})
                .status.code(),
            Status::kBadModel);
}

TEST(ShapeOps, Reshape) {
  Tensor x = make<int32_t>({2, 3, 4}, std::vector<int32_t>(24, 7));
  Tensor zero_and_infer = constant<int64_t>({3}, {0, -1, 2});
  Outcome r = run(ops::prepare_Reshape, {}, {&x, &zero_and_infer}, {out(DType::kInt32, {2, 6, 2})});
  EXPECT_OK(r);
  EXPECT_EQ(r.kernel, "x32_copy_ref__scalar");
  EXPECT_EQ(r.values<int32_t>(), std::vector<int32_t>(24, 7));
  Tensor infer_first = constant<int64_t>({2}, {-1, 8});
  EXPECT_OK(run(ops::prepare_Reshape, {}, {&x, &infer_first}, {out(DType::kInt32, {3, 8})}));
  Tensor wrong = constant<int64_t>({2}, {5, 5});
  EXPECT_EQ(run(ops::prepare_Reshape, {}, {&x, &wrong}, {out(DType::kInt32, {5, 5})}).status.code(),
            Status::kBadModel);
  Tensor two_infer = constant<int64_t>({2}, {-1, -1});
  EXPECT_EQ(
      run(ops::prepare_Reshape, {}, {&x, &two_infer}, {out(DType::kInt32, {24, 1})}).status.code(),
      Status::kBadModel);
  Tensor runtime_shape = make<int64_t>({2}, {4, 6});
  EXPECT_EQ(run(ops::prepare_Reshape, {}, {&x, &runtime_shape}, {out(DType::kInt32, {4, 6})})
                .status.code(),
            Status::kUnsupported);

  // allowzero=1: a 0 is a real zero-sized dim.
  Tensor empty = make<float>({0, 3}, {});
  Tensor zeros = constant<int64_t>({2}, {3, 0});
  EXPECT_OK(run(ops::prepare_Reshape, {attr_int("allowzero", 1)}, {&empty, &zeros},
                {out(DType::kFloat32, {3, 0})}));
  EXPECT_EQ(
      run(ops::prepare_Reshape, {}, {&empty, &zeros}, {out(DType::kFloat32, {3, 0})}).status.code(),
      Status::kBadModel);  // without allowzero the 0 copies dim 1 (3): 9 elements
}

TEST(ShapeOps, SqueezeAndUnsqueeze) {
  Tensor x = make<float>({1, 3, 1, 2}, iota(6, 0, 1));
  Outcome all = run(ops::prepare_Squeeze, {}, {&x}, {out(DType::kFloat32, {3, 2})});
  EXPECT_OK(all);
  EXPECT_EQ(all.values<float>(), iota(6, 0, 1));
  Tensor axis = constant<int64_t>({1}, {-2});
  EXPECT_OK(run(ops::prepare_Squeeze, {}, {&x, &axis}, {out(DType::kFloat32, {1, 3, 2})}));
  Tensor not_one = constant<int64_t>({1}, {1});
  EXPECT_EQ(run(ops::prepare_Squeeze, {}, {&x, &not_one}, {out(DType::kFloat32, {1, 1, 2})})
                .status.code(),
            Status::kBadModel);

  Tensor v = make<float>({3}, {1, 2, 3});
  Tensor axes = constant<int64_t>({2}, {-1, 0});
  Outcome un = run(ops::prepare_Unsqueeze, {}, {&v, &axes}, {out(DType::kFloat32, {1, 3, 1})});
  EXPECT_OK(un);
  EXPECT_EQ(un.values<float>(), (std::vector<float>{1, 2, 3}));
  Tensor mid = constant<int64_t>({1}, {1});
  EXPECT_OK(run(ops::prepare_Unsqueeze, {}, {&v, &mid}, {out(DType::kFloat32, {3, 1})}));
  Tensor bad = constant<int64_t>({1}, {3});
  EXPECT_EQ(
      run(ops::prepare_Unsqueeze, {}, {&v, &bad}, {out(DType::kFloat32, {3, 1})}).status.code(),
      Status::kBadModel);
}

TEST(ShapeOps, IdentityKeepsBytes) {
  Tensor b = make<uint8_t>({3}, {1, 0, 1}, DType::kBool);
  Outcome r = run(ops::prepare_Identity, {}, {&b}, {out(DType::kBool, {3})});
  EXPECT_OK(r);
  EXPECT_EQ(r.kernel, "x8_copy_ref__scalar");
  EXPECT_EQ(r.values<uint8_t>(), (std::vector<uint8_t>{1, 0, 1}));
}

TEST(ShapeOps, ShapeWithStartAndEnd) {
  Tensor x = make<float>({2, 3, 4, 5}, std::vector<float>(120, 0.f));
  Outcome all = run(ops::prepare_Shape, {}, {&x}, {out(DType::kInt64, {4})});
  EXPECT_OK(all);
  EXPECT_EQ(all.values<int64_t>(), (std::vector<int64_t>{2, 3, 4, 5}));
  Outcome mid = run(ops::prepare_Shape, {attr_int("start", 1), attr_int("end", -1)}, {&x},
                    {out(DType::kInt64, {2})});
  EXPECT_OK(mid);
  EXPECT_EQ(mid.values<int64_t>(), (std::vector<int64_t>{3, 4}));
  Outcome clamped = run(ops::prepare_Shape, {attr_int("start", -10), attr_int("end", 10)}, {&x},
                        {out(DType::kInt64, {4})});
  EXPECT_OK(clamped);
  EXPECT_EQ(clamped.values<int64_t>(), (std::vector<int64_t>{2, 3, 4, 5}));
  Outcome last = run(ops::prepare_Shape, {attr_int("start", -1)}, {&x}, {out(DType::kInt64, {1})});
  EXPECT_OK(last);
  EXPECT_EQ(last.values<int64_t>(), (std::vector<int64_t>{5}));
  EXPECT_OK(run(ops::prepare_Shape, {attr_int("start", 3), attr_int("end", 1)}, {&x},
                {out(DType::kInt64, {0})}));
}

TEST(ShapeOps, ConstantOfShape) {
  Tensor shape = constant<int64_t>({2}, {2, 3});
  Outcome def = run(ops::prepare_ConstantOfShape, {}, {&shape}, {out(DType::kFloat32, {2, 3})});
  EXPECT_OK(def);
  EXPECT_EQ(def.values<float>(), std::vector<float>(6, 0.f));
  Outcome f = run(ops::prepare_ConstantOfShape, {attr_float("value", 1.5f)}, {&shape},
                  {out(DType::kFloat32, {2, 3})});
  EXPECT_OK(f);
  EXPECT_EQ(f.values<float>(), std::vector<float>(6, 1.5f));
  Outcome i = run(ops::prepare_ConstantOfShape, {attr_int("dtype", 7), attr_int("value", -7)},
                  {&shape}, {out(DType::kInt64, {2, 3})});
  EXPECT_OK(i);
  EXPECT_EQ(i.values<int64_t>(), std::vector<int64_t>(6, -7));
  Outcome b = run(ops::prepare_ConstantOfShape, {attr_int("dtype", 9), attr_int("value", 1)},
                  {&shape}, {out(DType::kBool, {2, 3})});
  EXPECT_OK(b);
  EXPECT_EQ(b.values<uint8_t>(), std::vector<uint8_t>(6, 1));
  Outcome d = run(ops::prepare_ConstantOfShape, {attr_int("dtype", 11), attr_float("value", 0.25f)},
                  {&shape}, {out(DType::kFloat64, {2, 3})});
  EXPECT_OK(d);
  EXPECT_EQ(d.values<double>(), std::vector<double>(6, 0.25));
  Tensor scalar_shape = constant<int64_t>({0}, {});
  Outcome s = run(ops::prepare_ConstantOfShape, {attr_int("dtype", 6), attr_int("value", 3)},
                  {&scalar_shape}, {out(DType::kInt32, {})});
  EXPECT_OK(s);
  EXPECT_EQ(s.values<int32_t>(), (std::vector<int32_t>{3}));

  // A float value for an integer dtype is the wrong form.
  EXPECT_EQ(run(ops::prepare_ConstantOfShape, {attr_int("dtype", 7), attr_float("value", 1.f)},
                {&shape}, {out(DType::kInt64, {2, 3})})
                .status.code(),
            Status::kBadModel);
  EXPECT_EQ(run(ops::prepare_ConstantOfShape, {attr_int("dtype", 10)}, {&shape},
                {out(DType::kFloat32, {2, 3})})
                .status.code(),
            Status::kUnsupported);
  Tensor runtime_shape = make<int64_t>({2}, {2, 3});
  Outcome not_const =
      run(ops::prepare_ConstantOfShape, {}, {&runtime_shape}, {out(DType::kFloat32, {2, 3})});
  EXPECT_EQ(not_const.status.code(), Status::kUnsupported);
  EXPECT_NE(not_const.status.message().find("shape"), std::string::npos);
}

TEST(ShapeOps, Expand) {
  Tensor x = make<float>({3, 1}, {1, 2, 3});
  Tensor shape = constant<int64_t>({3}, {2, 1, 2});
  Outcome r = run(ops::prepare_Expand, {}, {&x, &shape}, {out(DType::kFloat32, {2, 3, 2})});
  EXPECT_OK(r);
  EXPECT_EQ(r.kernel, "x32_expand_ref__scalar");
  EXPECT_EQ(r.values<float>(), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  // The target may be smaller than the input (numpy broadcast of both).
  Tensor small = constant<int64_t>({1}, {1});
  Outcome keep = run(ops::prepare_Expand, {}, {&x, &small}, {out(DType::kFloat32, {3, 1})});
  EXPECT_OK(keep);
  EXPECT_EQ(keep.values<float>(), (std::vector<float>{1, 2, 3}));
  Tensor bad = constant<int64_t>({2}, {2, 2});
  EXPECT_EQ(run(ops::prepare_Expand, {}, {&x, &bad}, {out(DType::kFloat32, {3, 2})}).status.code(),
            Status::kBadModel);
  Tensor runtime_shape = make<int64_t>({3}, {2, 1, 2});
  EXPECT_EQ(run(ops::prepare_Expand, {}, {&x, &runtime_shape}, {out(DType::kFloat32, {2, 3, 2})})
                .status.code(),
            Status::kUnsupported);
}

TEST(ShapeOps, Cast) {
  Tensor f = make<float>({6}, {2.7f, -2.7f, 0.5f, -0.5f, 300.f, -1e10f});
  Outcome to_i32 = run(ops::prepare_Cast, {attr_int("to", 6)}, {&f}, {out(DType::kInt32, {6})});
  EXPECT_OK(to_i32);
  EXPECT_EQ(to_i32.kernel, "f32_i32_cast_ref__scalar");
  // Truncation toward zero; out of range saturates.
  EXPECT_EQ(to_i32.values<int32_t>(),
            (std::vector<int32_t>{2, -2, 0, 0, 300, std::numeric_limits<int32_t>::min()}));
  Outcome to_i64 = run(ops::prepare_Cast, {attr_int("to", 7)}, {&f}, {out(DType::kInt64, {6})});
  EXPECT_OK(to_i64);
  EXPECT_EQ(to_i64.values<int64_t>(), (std::vector<int64_t>{2, -2, 0, 0, 300, -10000000000LL}));
  Outcome to_u8 = run(ops::prepare_Cast, {attr_int("to", 2)}, {&f}, {out(DType::kUInt8, {6})});
  EXPECT_OK(to_u8);
  EXPECT_EQ(to_u8.values<uint8_t>(), (std::vector<uint8_t>{2, 0, 0, 0, 255, 0}));
  Outcome to_bool = run(ops::prepare_Cast, {attr_int("to", 9)}, {&f}, {out(DType::kBool, {6})});
  EXPECT_OK(to_bool);
  EXPECT_EQ(to_bool.values<uint8_t>(), (std::vector<uint8_t>{1, 1, 1, 1, 1, 1}));
  Outcome to_f64 = run(ops::prepare_Cast, {attr_int("to", 11)}, {&f}, {out(DType::kFloat64, {6})});
  EXPECT_OK(to_f64);
  EXPECT_EQ(to_f64.values<double>()[0], static_cast<double>(2.7f));

  Tensor b = make<uint8_t>({3}, {1, 0, 1}, DType::kBool);
  Outcome from_bool =
      run(ops::prepare_Cast, {attr_int("to", 1)}, {&b}, {out(DType::kFloat32, {3})});
  EXPECT_OK(from_bool);
  EXPECT_EQ(from_bool.values<float>(), (std::vector<float>{1, 0, 1}));
  Tensor big = make<int64_t>({3}, {(1LL << 32) + 5, -1, 300});
  Outcome narrow = run(ops::prepare_Cast, {attr_int("to", 6)}, {&big}, {out(DType::kInt32, {3})});
  EXPECT_OK(narrow);  // keeps the low bits
  EXPECT_EQ(narrow.values<int32_t>(), (std::vector<int32_t>{5, -1, 300}));
  Outcome to_i8 = run(ops::prepare_Cast, {attr_int("to", 3)}, {&big}, {out(DType::kInt8, {3})});
  EXPECT_OK(to_i8);
  EXPECT_EQ(to_i8.values<int8_t>(), (std::vector<int8_t>{5, -1, 44}));
  Tensor d = make<double>({2}, {0.1, -3.5});
  Outcome to_f32 = run(ops::prepare_Cast, {attr_int("to", 1)}, {&d}, {out(DType::kFloat32, {2})});
  EXPECT_OK(to_f32);
  EXPECT_EQ(to_f32.values<float>(), (std::vector<float>{0.1f, -3.5f}));
  Outcome same = run(ops::prepare_Cast, {attr_int("to", 1)}, {&f}, {out(DType::kFloat32, {6})});
  EXPECT_OK(same);
  EXPECT_EQ(same.values<float>()[1], -2.7f);

  EXPECT_EQ(
      run(ops::prepare_Cast, {attr_int("to", 10)}, {&f}, {out(DType::kFloat32, {6})}).status.code(),
      Status::kUnsupported);
  EXPECT_EQ(run(ops::prepare_Cast, {}, {&f}, {out(DType::kFloat32, {6})}).status.code(),
            Status::kBadModel);
  EXPECT_EQ(
      run(ops::prepare_Cast, {attr_int("to", 7)}, {&f}, {out(DType::kInt32, {6})}).status.code(),
      Status::kBadModel);
}

// ---- data movement -------------------------------------------------------------------

TEST(DataMovement, TransposeDefaultReverses) {
  Tensor x = make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Outcome r = run(ops::prepare_Transpose, {}, {&x}, {out(DType::kFloat32, {3, 2})});
  EXPECT_OK(r);
  EXPECT_EQ(r.kernel, "x32_transpose_ref__scalar");
  EXPECT_EQ(r.values<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

// The im2col rows' short copies: every length up to past the memcpy switch, at every
// source and destination alignment in a word, copy exactly n bytes and nothing around them.
TEST(DataMovement, CopyShortCopiesExactlyNBytes) {
  std::vector<uint8_t> src(160);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7 + 1);
  for (size_t n = 0; n <= 80; ++n)
    for (size_t so = 0; so < 8; ++so)
      for (size_t d_off = 0; d_off < 8; ++d_off) {
        std::vector<uint8_t> dst(100, 0xEE);
        kernels::copy_short(dst.data() + d_off, src.data() + so, n);
        for (size_t i = 0; i < dst.size(); ++i) {
          const bool inside = i >= d_off && i < d_off + n;
          ASSERT_EQ(dst[i], inside ? src[so + i - d_off] : 0xEE) << "n " << n << " byte " << i;
        }
      }
}

// Every permutation of a tensor larger than the copy's 64 x 64 blocks (edges not a multiple
// of them; dims of 2, 3 and 4 for the interleaving cases), for 1-, 4- and 8-byte elements,
// against the index formula.
template <typename T>
void check_transposes_of(const Shape& shape, DType dtype) {
  const int64_t count = shape[0] * shape[1] * shape[2] * shape[3];
  std::vector<T> values(static_cast<size_t>(count));
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<T>(i % 251);
  Tensor x = make<T>(shape, values);
  const std::vector<int64_t> strides = ops::contiguous_strides(shape);
  std::vector<int64_t> perm = {0, 1, 2, 3};
  do {
    Shape out_shape;
    for (int64_t p : perm) out_shape.push_back(shape[static_cast<size_t>(p)]);
    Outcome r = run(ops::prepare_Transpose, {attr_ints("perm", perm)}, {&x}, {out(dtype, out_shape)});
    EXPECT_OK(r);
    std::vector<T> want;
    for (int64_t i = 0; i < count; ++i) {
      int64_t rest = i, index = 0;
      for (size_t k = 4; k-- > 0;) {
        index += (rest % out_shape[k]) * strides[static_cast<size_t>(perm[k])];
        rest /= out_shape[k];
      }
      want.push_back(values[static_cast<size_t>(index)]);
    }
    ASSERT_EQ(r.values<T>(), want) << "perm " << perm[0] << perm[1] << perm[2] << perm[3];
  } while (std::next_permutation(perm.begin(), perm.end()));
}

TEST(DataMovement, TransposeLargerThanItsBlocks) {
  check_transposes_of<uint8_t>({2, 70, 3, 131}, DType::kUInt8);
  check_transposes_of<float>({1, 3, 129, 65}, DType::kFloat32);
  check_transposes_of<float>({2, 4, 67, 70}, DType::kFloat32);  // 2 and 4 interleaved rows
  check_transposes_of<float>({2, 3, 9, 11}, DType::kFloat32);   // 3 planes into pixels, per batch
  check_transposes_of<int64_t>({3, 1, 67, 200}, DType::kInt64);
}

// Copies of 2^16 elements and more split their outer dim among the threads: the same bytes
// as on one thread, for an image's NCHW -> NHWC and a transpose that keeps an inner run.
TEST(DataMovement, LargeTransposesSplitAmongThreads) {
  const Shape shape = {2, 3, 129, 131};
  const int64_t count = 2 * 3 * 129 * 131;
  std::vector<float> values(static_cast<size_t>(count));
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  for (const Shape& perm : {Shape{0, 2, 3, 1}, Shape{2, 0, 1, 3}, Shape{3, 2, 1, 0}}) {
    Shape out_shape;
    for (int64_t p : perm) out_shape.push_back(shape[static_cast<size_t>(p)]);
    Node node(ops::prepare_Transpose, "Transpose");
    node.in(make<float>(shape, values)).ints("perm", perm).out(out_shape);
    const std::vector<uint8_t> single = node.run_bytes();
    for (int threads : {2, 3}) {
      ThreadPool pool(threads);
      EXPECT_EQ(node.run_bytes(&pool), single) << threads << " threads, perm " << perm[0] << perm[1] << perm[2] << perm[3];
    }
  }
}

TEST(DataMovement, TransposeEveryPermutationOfRank4) {
  const Shape shape = {2, 3, 1, 4};
  std::vector<int64_t> values(24);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int64_t>(i);
  Tensor x = make<int64_t>(shape, values);
  const std::vector<int64_t> strides = ops::contiguous_strides(shape);
  std::vector<int64_t> perm = {0, 1, 2, 3};
  do {
    Shape out_shape;
    for (int64_t p : perm) out_shape.push_back(shape[static_cast<size_t>(p)]);
    Outcome r = run(ops::prepare_Transpose, {attr_ints("perm", perm)}, {&x},
                    {out(DType::kInt64, out_shape)});
    EXPECT_OK(r);
    std::vector<int64_t> want;
    for (int64_t i = 0; i < 24; ++i) {
      int64_t rest = i, index = 0;
      for (size_t k = 4; k-- > 0;) {
        index += (rest % out_shape[k]) * strides[static_cast<size_t>(perm[k])];
        rest /= out_shape[k];
      }
      want.push_back(values[static_cast<size_t>(index)]);
    }
    EXPECT_EQ(r.values<int64_t>(), want);
  } while (std::next_permutation(perm.begin(), perm.end()));

  EXPECT_EQ(run(ops::prepare_Transpose, {attr_ints("perm", {0, 0, 1, 2})}, {&x},
                {out(DType::kInt64, shape)})
                .status.code(),
            Status::kBadModel);
  EXPECT_EQ(
      run(ops::prepare_Transpose, {attr_ints("perm", {0, 1})}, {&x}, {out(DType::kInt64, shape)})
          .status.code(),
      Status::kBadModel);
}

TEST(DataMovement, Concat) {
  Tensor a = make<float>({2, 1}, {1, 2});
  Tensor b = make<float>({2, 2}, {3, 4, 5, 6});
  Tensor none = make<float>({2, 0}, {});
  Outcome r = run(ops::prepare_Concat, {attr_int("axis", -1)}, {&a, &none, &b},
                  {out(DType::kFloat32, {2, 3})});
  EXPECT_OK(r);
  EXPECT_EQ(r.kernel, "x32_concat_ref__scalar");
  EXPECT_EQ(r.values<float>(), (std::vector<float>{1, 3, 4, 2, 5, 6}));
  Tensor c = make<float>({1, 2}, {7, 8});
  Outcome r0 =
      run(ops::prepare_Concat, {attr_int("axis", 0)}, {&b, &c}, {out(DType::kFloat32, {3, 2})});
  EXPECT_OK(r0);
  EXPECT_EQ(r0.values<float>(), (std::vector<float>{3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(
      run(ops::prepare_Concat, {attr_int("axis", 1)}, {&b, &c}, {out(DType::kFloat32, {2, 4})})
          .status.code(),
      Status::kBadModel);
  EXPECT_EQ(run(ops::prepare_Concat, {}, {&b, &c}, {out(DType::kFloat32, {3, 2})}).status.code(),
            Status::kBadModel);
  EXPECT_EQ(
      run(ops::prepare_Concat, {attr_int("axis", 2)}, {&b, &c}, {out(DType::kFloat32, {3, 2})})
          .status.code(),
      Status::kBadModel);
}

// Concats and Splits of 256 KiB and more split their outer rows among the threads: the
// values, and the same bytes on 1, 2 and 3 threads (a channel concat of NHWC data).
TEST(DataMovement, LargeConcatAndSplitSplitAmongThreads) {
  const Shape a_shape = {1, 41, 40, 24}, b_shape = {1, 41, 40, 40}, y_shape = {1, 41, 40, 64};
  std::vector<float> a(static_cast<size_t>(41 * 40 * 24)), b(static_cast<size_t>(41 * 40 * 40));
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i);
  for (size_t i = 0; i < b.size(); ++i) b[i] = -static_cast<float>(i);
  std::vector<float> want;
  for (size_t p = 0; p < 41 * 40; ++p) {
    want.insert(want.end(), a.begin() + static_cast<std::ptrdiff_t>(p * 24), a.begin() + static_cast<std::ptrdiff_t>(p * 24 + 24));
    want.insert(want.end(), b.begin() + static_cast<std::ptrdiff_t>(p * 40), b.begin() + static_cast<std::ptrdiff_t>(p * 40 + 40));
  }
  Node concat(ops::prepare_Concat, "Concat");
  concat.in(make<float>(a_shape, a)).in(make<float>(b_shape, b)).i("axis", 3).out(y_shape);
  EXPECT_EQ(concat.run(), want);
  Node split(ops::prepare_Split, "Split");
  split.in(make<float>(y_shape, want)).in(constant<int64_t>({2}, {24, 40})).i("axis", 3).out(a_shape).out(b_shape);
  EXPECT_EQ(split.run(), a);  // the first output
  const std::vector<uint8_t> concat_bytes = concat.run_bytes(), split_bytes = split.run_bytes();
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    EXPECT_EQ(concat.run_bytes(&pool), concat_bytes) << threads << " threads";
    EXPECT_EQ(split.run_bytes(&pool), split_bytes) << threads << " threads";
  }
}

TEST(DataMovement, SplitBySizesAndByCount) {
  Tensor x = make<int64_t>({2, 7}, {0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16});
  Tensor sizes = constant<int64_t>({3}, {2, 0, 5});
  Outcome r =
      run(ops::prepare_Split, {attr_int("axis", 1)}, {&x, &sizes},
          {out(DType::kInt64, {2, 2}), out(DType::kInt64, {2, 0}), out(DType::kInt64, {2, 5})});
  EXPECT_OK(r);
  EXPECT_EQ(r.kernel, "x64_split_ref__scalar");
  EXPECT_EQ(r.values<int64_t>(0), (std::vector<int64_t>{0, 1, 10, 11}));
  EXPECT_TRUE(r.values<int64_t>(1).empty());
  EXPECT_EQ(r.values<int64_t>(2), (std::vector<int64_t>{2, 3, 4, 5, 6, 12, 13, 14, 15, 16}));

  // Opset 18: 7 into 3 parts gives 3, 3, 1.
  Outcome uneven =
      run(ops::prepare_Split, {attr_int("axis", -1), attr_int("num_outputs", 3)}, {&x},
          {out(DType::kInt64, {2, 3}), out(DType::kInt64, {2, 3}), out(DType::kInt64, {2, 1})});
  EXPECT_OK(uneven);
  EXPECT_EQ(uneven.values<int64_t>(0), (std::vector<int64_t>{0, 1, 2, 10, 11, 12}));
  EXPECT_EQ(uneven.values<int64_t>(1), (std::vector<int64_t>{3, 4, 5, 13, 14, 15}));
  EXPECT_EQ(uneven.values<int64_t>(2), (std::vector<int64_t>{6, 16}));

  Outcome rows =
      run(ops::prepare_Split, {}, {&x}, {out(DType::kInt64, {1, 7}), out(DType::kInt64, {1, 7})});
  EXPECT_OK(rows);
  EXPECT_EQ(rows.values<int64_t>(1), (std::vector<int64_t>{10, 11, 12, 13, 14, 15, 16}));

  Tensor bad_sum = constant<int64_t>({2}, {3, 3});
  EXPECT_EQ(run(ops::prepare_Split, {attr_int("axis", 1)}, {&x, &bad_sum},
                {out(DType::kInt64, {2, 3}), out(DType::kInt64, {2, 3})})
                .status.code(),
            Status::kBadModel);
  EXPECT_EQ(run(ops::prepare_Split, {attr_int("axis", 1), attr_int("num_outputs", 2)}, {&x},
                {out(DType::kInt64, {2, 3}), out(DType::kInt64, {2, 4})})
                .status.code(),
            Status::kBadModel);  // ceil(7 / 2) = 4, then 3: the planned shapes are swapped
  Tensor runtime_sizes = make<int64_t>({2}, {3, 4});
  EXPECT_EQ(run(ops::prepare_Split, {attr_int("axis", 1)}, {&x, &runtime_sizes},
                {out(DType::kInt64, {2, 3}), out(DType::kInt64, {2, 4})})
                .status.code(),
            Status::kUnsupported);
}

TEST(DataMovement, Slice) {
  // x[i][j] = 10 i + j, shape [3, 4].
  Tensor x = make<float>({3, 4}, {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23});
  auto ints = [](std::vector<int64_t> v) {
    return constant<int64_t>({static_cast<int64_t>(v.size())}, v);
  };
  {  // x[0:2, 1:3]
    Tensor s = ints({0, 1}), e = ints({2, 3});
    Outcome r = run(ops::prepare_Slice, {}, {&x, &s, &e}, {out(DType::kFloat32, {2, 2})});
    EXPECT_OK(r);
    EXPECT_EQ(r.kernel, "x32_slice_ref__scalar");
    EXPECT_EQ(r.values<float>(), (std::vector<float>{1, 2, 11, 12}));
  }
  {  // x[:, ::-1] via axes=[1], steps=[-1], ends clamped from a huge negative
    Tensor s = ints({-1}), e = ints({std::numeric_limits<int64_t>::min()}), a = ints({-1}),
           st = ints({-1});
    Outcome r = run(ops::prepare_Slice, {}, {&x, &s, &e, &a, &st}, {out(DType::kFloat32, {3, 4})});
    EXPECT_OK(r);
    EXPECT_EQ(r.values<float>(), (std::vector<float>{3, 2, 1, 0, 13, 12, 11, 10, 23, 22, 21, 20}));
  }
  {  // x[2:0:-2, 3:0:-2] (negative steps on both axes)
    Tensor s = ints({2, 3}), e = ints({0, 0}), a = ints({0, 1}), st = ints({-2, -2});
    Outcome r = run(ops::prepare_Slice, {}, {&x, &s, &e, &a, &st}, {out(DType::kFloat32, {1, 2})});
    EXPECT_OK(r);
    EXPECT_EQ(r.values<float>(), (std::vector<float>{23, 21}));
  }
  {  // out-of-bounds starts and ends clamp: x[-10:10, 1:100:2]
    Tensor s = ints({-10, 1}), e = ints({10, 100}), a = ints({0, 1}), st = ints({1, 2});
    Outcome r = run(ops::prepare_Slice, {}, {&x, &s, &e, &a, &st}, {out(DType::kFloat32, {3, 2})});
    EXPECT_OK(r);
    EXPECT_EQ(r.values<float>(), (std::vector<float>{1, 3, 11, 13, 21, 23}));
  }
  {  // start past the end: empty
    Tensor s = ints({5}), e = ints({10}), a = ints({1});
    Outcome r = run(ops::prepare_Slice, {}, {&x, &s, &e, &a}, {out(DType::kFloat32, {3, 0})});
    EXPECT_OK(r);
  }
  {  // omitted axes with given steps (int32 inputs): x[1:, -2:]
    Tensor s = constant<int32_t>({2}, {1, -2}), e = constant<int32_t>({2}, {3, 4});
    Tensor st = constant<int32_t>({2}, {1, 1});
    Outcome r =
        run(ops::prepare_Slice, {}, {&x, &s, &e, nullptr, &st}, {out(DType::kFloat32, {2, 2})});
    EXPECT_OK(r);
    EXPECT_EQ(r.values<float>(), (std::vector<float>{12, 13, 22, 23}));
  }
  {
    Tensor s = ints({0}), e = ints({1}), a = ints({0}), zero = ints({0});
    EXPECT_EQ(run(ops::prepare_Slice, {}, {&x, &s, &e, &a, &zero}, {out(DType::kFloat32, {1, 4})})
                  .status.code(),
              Status::kBadModel);
    Tensor runtime_start = make<int64_t>({1}, {0});
    EXPECT_EQ(
        run(ops::prepare_Slice, {}, {&x, &runtime_start, &e, &a}, {out(DType::kFloat32, {1, 4})})
            .status.code(),
        Status::kUnsupported);
    Tensor bad_axis = ints({2});
    EXPECT_EQ(run(ops::prepare_Slice, {}, {&x, &s, &e, &bad_axis}, {out(DType::kFloat32, {1, 4})})
                  .status.code(),
              Status::kBadModel);
  }
}

TEST(DataMovement, Gather) {
  Tensor x = make<float>({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor idx = constant<int64_t>({3}, {-1, 0, 2});
  Outcome r = run(ops::prepare_Gather, {}, {&x, &idx}, {out(DType::kFloat32, {3, 2})});
  EXPECT_OK(r);
  EXPECT_EQ(r.kernel, "x32_gather_ref__scalar");
  EXPECT_EQ(r.values<float>(), (std::vector<float>{5, 6, 1, 2, 5, 6}));

  // axis 1 with 2-D int32 indices known only when running.
  Tensor idx2 = make<int32_t>({2, 2}, {1, 0, -1, 1});
  Outcome r1 = run(ops::prepare_Gather, {attr_int("axis", -1)}, {&x, &idx2},
                   {out(DType::kFloat32, {3, 2, 2})});
  EXPECT_OK(r1);
  EXPECT_EQ(r1.values<float>(), (std::vector<float>{2, 1, 2, 2, 4, 3, 4, 4, 6, 5, 6, 6}));

  // Scalar index drops the axis.
  Tensor one = make<int64_t>({}, {1});
  Outcome rs = run(ops::prepare_Gather, {}, {&x, &one}, {out(DType::kFloat32, {2})});
  EXPECT_OK(rs);
  EXPECT_EQ(rs.values<float>(), (std::vector<float>{3, 4}));

  // Out of range: an error at prepare when constant, at run time otherwise (token ids past
  // the vocabulary), naming the node and the index.
  Tensor bad_const = constant<int64_t>({1}, {3});
  EXPECT_EQ(
      run(ops::prepare_Gather, {}, {&x, &bad_const}, {out(DType::kFloat32, {1, 2})}).status.code(),
      Status::kBadModel);
  Tensor bad_runtime = make<int64_t>({2}, {1, -4});
  Outcome rz = run(ops::prepare_Gather, {}, {&x, &bad_runtime}, {out(DType::kFloat32, {2, 2})});
  EXPECT_EQ(rz.status.code(), Status::kInvalidArgument);
  EXPECT_NE(rz.status.message().find("index -4 is out of range for axis 0 of size 3"), std::string::npos)
      << rz.status.message();
  Tensor bad_runtime32 = make<int32_t>({1}, {3});
  EXPECT_EQ(run(ops::prepare_Gather, {}, {&x, &bad_runtime32}, {out(DType::kFloat32, {1, 2})}).status.code(),
            Status::kInvalidArgument);
  Tensor float_idx = make<float>({1}, {0});
  EXPECT_EQ(
      run(ops::prepare_Gather, {}, {&x, &float_idx}, {out(DType::kFloat32, {1, 2})}).status.code(),
      Status::kUnsupported);
}

// ---- shared helpers ------------------------------------------------------------------

TEST(Common, SimplifyLayoutMergesContiguousDims) {
  ops::StridedLayout same;
  same.dims = {2, 3, 4};
  same.strides = {{12, 4, 1}, {12, 4, 1}};
  ops::simplify_layout(&same);
  EXPECT_EQ(same.dims, (Shape{24}));
  EXPECT_EQ(same.strides[0], (Shape{1}));

  ops::StridedLayout scalar;
  scalar.dims = {2, 1, 3};
  scalar.strides = {{3, 3, 1}, {0, 0, 0}};
  ops::simplify_layout(&scalar);
  EXPECT_EQ(scalar.dims, (Shape{6}));
  EXPECT_EQ(scalar.strides[1], (Shape{0}));

  ops::StridedLayout row;  // [2,3,4] + [4]
  row.dims = {2, 3, 4};
  row.strides = {{12, 4, 1}, {0, 0, 1}};
  ops::simplify_layout(&row);
  EXPECT_EQ(row.dims, (Shape{6, 4}));
  EXPECT_EQ(row.strides[0], (Shape{4, 1}));
  EXPECT_EQ(row.strides[1], (Shape{0, 1}));

  ops::StridedLayout one;
  one.dims = {1, 1};
  one.strides = {{1, 1}};
  ops::simplify_layout(&one);
  EXPECT_EQ(one.dims, (Shape{1}));
}

TEST(Common, BroadcastShapes) {
  Shape s;
  EXPECT_TRUE(ops::broadcast_shapes({2, 1, 3}, {4, 1}, &s));
  EXPECT_EQ(s, (Shape{2, 4, 3}));
  EXPECT_TRUE(ops::broadcast_shapes({}, {3}, &s));
  EXPECT_EQ(s, (Shape{3}));
  EXPECT_TRUE(ops::broadcast_shapes({0, 1}, {1, 5}, &s));
  EXPECT_EQ(s, (Shape{0, 5}));
  EXPECT_FALSE(ops::broadcast_shapes({2, 3}, {4}, &s));
  EXPECT_EQ(ops::broadcast_strides({3, 1}, {2, 3, 4}), (Shape{0, 1, 0}));
}


}  // namespace
}  // namespace pare::rt
