// The Resize and Pad ops of the runtime,
// called through their factories on small cases: outputs are checked against values
// computed by hand or against naive formulas written out here (one output element or one
// input element at a time), and bad nodes must fail at prepare time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
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
// Resize

const std::vector<float> kRamp = {10, 20, 30, 40};

Node resize_scales(const Shape& xs, const std::vector<float>& x, const std::vector<float>& scales, const Shape& ys) {
  Node node(ops::prepare_Resize, "Resize");
  node.in(make<float>(xs, x)).in(absent()).in(constant<float>({static_cast<int64_t>(scales.size())}, scales)).out(ys);
  return node;
}

Node resize_sizes(const Shape& xs, const std::vector<float>& x, const Shape& sizes) {
  Node node(ops::prepare_Resize, "Resize");
  node.in(make<float>(xs, x)).in(absent()).in(absent()).in(constant<int64_t>({static_cast<int64_t>(sizes.size())}, sizes)).out(sizes);
  return node;
}

TEST(Resize, NearestUpsample2dHalfPixel) {
  Node node = resize_scales({1, 1, 2, 2}, {1, 2, 3, 4}, {1, 1, 2, 3}, {1, 1, 4, 6});
  expect_near_all(node.run(), {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4});
}

TEST(Resize, NearestModesAndCoordinateModes) {
  struct Case {
    const char* coord;
    const char* nearest;
    bool sizes;  // else scale 2
    int64_t out;
    std::vector<float> want;
  };
  const std::vector<Case> cases = {
      // asymmetric: x / 2 = 0, .5, 1, 1.5, ...
      {"asymmetric", "round_prefer_ceil", false, 8, {10, 20, 20, 30, 30, 40, 40, 40}},
      {"asymmetric", "round_prefer_floor", false, 8, {10, 10, 20, 20, 30, 30, 40, 40}},
      {"asymmetric", "floor", false, 8, {10, 10, 20, 20, 30, 30, 40, 40}},
      {"asymmetric", "ceil", false, 8, {10, 20, 20, 30, 30, 40, 40, 40}},
      // half_pixel: (x + .5) / 2 - .5 = -.25, .25, .75, ...
      {"half_pixel", "floor", false, 8, {10, 10, 10, 20, 20, 30, 30, 40}},
      {"half_pixel", "ceil", false, 8, {10, 20, 20, 30, 30, 40, 40, 40}},
      // align_corners to 7: x * 3 / 6
      {"align_corners", "round_prefer_floor", true, 7, {10, 10, 20, 20, 30, 30, 40}},
      // tf_half_pixel_for_nn: (x + .5) / 2 = .25, .75, 1.25, ...
      {"tf_half_pixel_for_nn", "round_prefer_floor", false, 8, {10, 20, 20, 30, 30, 40, 40, 40}},
      // downsample to 2 (scale .5): (x + .5) * 2 - .5 = .5, 2.5
      {"half_pixel", "round_prefer_floor", true, 2, {10, 30}},
      {"half_pixel", "round_prefer_ceil", true, 2, {20, 40}},
      // pytorch_half_pixel to a single element reads coordinate 0
      {"pytorch_half_pixel", "round_prefer_floor", true, 1, {10}},
  };
  for (const Case& c : cases) {
    Node node = c.sizes ? resize_sizes({4}, kRamp, {c.out}) : resize_scales({4}, kRamp, {2}, {8});
    node.s("mode", "nearest").s("coordinate_transformation_mode", c.coord).s("nearest_mode", c.nearest);
    SCOPED_TRACE(std::string(c.coord) + " " + c.nearest);
    expect_near_all(node.run(), c.want);
  }
}

TEST(Resize, Linear1dCoordinateModes) {
  struct Case {
    const char* coord;
    bool sizes;
    float scale;
    int64_t out;
    std::vector<float> want;
  };
  const std::vector<Case> cases = {
      {"half_pixel", false, 2, 8, {10, 12.5f, 17.5f, 22.5f, 27.5f, 32.5f, 37.5f, 40}},
      {"align_corners", true, 0, 7, {10, 15, 20, 25, 30, 35, 40}},
      {"asymmetric", false, 2, 8, {10, 15, 20, 25, 30, 35, 40, 40}},
      {"half_pixel", false, 0.5f, 2, {15, 35}},
      {"pytorch_half_pixel", true, 0, 1, {10}},
      {"half_pixel", true, 0, 1, {25}},  // (0 + .5) * 4 - .5 = 1.5
      // scales given: align_corners divides by the scaled length 4 * 0.6 - 1 = 1.4
      {"align_corners", false, 0.6f, 2, {10, 10 + 10 * 3 / 1.4f}},
  };
  for (const Case& c : cases) {
    Node node = c.sizes ? resize_sizes({4}, kRamp, {c.out}) : resize_scales({4}, kRamp, {c.scale}, {c.out});
    node.s("mode", "linear").s("coordinate_transformation_mode", c.coord);
    SCOPED_TRACE(c.coord);
    expect_near_all(node.run(), c.want);
  }
}

TEST(Resize, Bilinear2d) {
  Node half = resize_scales({1, 1, 2, 2}, {1, 2, 3, 4}, {1, 1, 2, 2}, {1, 1, 4, 4});
  half.s("mode", "linear");
  expect_near_all(half.run(), {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f,
                               3.75f, 4});
  Node corners = resize_sizes({1, 1, 2, 2}, {1, 2, 3, 4}, {1, 1, 4, 4});
  corners.s("mode", "linear").s("coordinate_transformation_mode", "align_corners");
  const float t = 1.f / 3, tt = 2.f / 3;
  expect_near_all(corners.run(), {1, 1 + t, 1 + tt, 2, 1 + tt, 2, 2 + t, 2 + tt, 2 + t, 2 + tt, 3, 3 + t, 3, 3 + t,
                                  3 + tt, 4});
}

TEST(Resize, TrilinearAgainstSeparableFormula) {
  // A linear function of the coordinates is reproduced exactly by multilinear
  // interpolation inside the input (align_corners keeps every sample inside).
  const Shape xs = {1, 2, 3, 3};
  std::vector<float> x(18);
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t h = 0; h < 3; ++h)
      for (int64_t w = 0; w < 3; ++w) x[(c * 3 + h) * 3 + w] = 5.f * c + 2.f * h - 1.f * w;
  Node node = resize_sizes(xs, x, {1, 3, 5, 4});
  node.s("mode", "linear").s("coordinate_transformation_mode", "align_corners");
  std::vector<float> want;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t h = 0; h < 5; ++h)
      for (int64_t w = 0; w < 4; ++w) want.push_back(5.f * (c * 0.5f) + 2.f * (h * 0.5f) - 1.f * (w * 2.f / 3));
  expect_near_all(node.run(), want);
}

TEST(Resize, TfCropAndResizeExtrapolates) {
  Node node(ops::prepare_Resize, "Resize");
  node.in(make<float>({4}, kRamp)).in(constant<float>({2}, {0.4f, 1.2f})).in(absent()).in(constant<int64_t>({1}, {3})).out({3});
  node.s("mode", "linear").s("coordinate_transformation_mode", "tf_crop_and_resize").f("extrapolation_value", -1);
  // x_original = 0.4 * 3 + x * 0.8 * 3 / 2 = 1.2, 2.4, 3.6 (outside)
  expect_near_all(node.run(), {22, 34, -1});
  Node nearest(ops::prepare_Resize, "Resize");
  nearest.in(make<float>({4}, kRamp)).in(constant<float>({2}, {0.4f, 1.2f})).in(absent()).in(constant<int64_t>({1}, {3})).out({3});
  nearest.s("mode", "nearest").s("coordinate_transformation_mode", "tf_crop_and_resize");
  expect_near_all(nearest.run(), {20, 30, 0});
}

TEST(Resize, AxesAttribute) {
  for (int64_t axis : {3, -1}) {
    Node node(ops::prepare_Resize, "Resize");
    node.in(make<float>({1, 1, 2, 2}, {1, 2, 3, 4})).in(absent()).in(constant<float>({1}, {2})).out({1, 1, 2, 4});
    node.s("mode", "linear").ints("axes", {axis});
    expect_near_all(node.run(), {1, 1.25f, 1.75f, 2, 3, 3.25f, 3.75f, 4});
  }
}

TEST(Resize, PrepareErrors) {
  {
    Node n = resize_scales({1, 1, 2, 2}, {1, 2, 3, 4}, {1, 1, 2, 2}, {1, 1, 4, 4});
    n.s("mode", "cubic");
    Status st = n.prepare_status();
    EXPECT_EQ(st.code(), Status::kUnsupported);
    EXPECT_NE(st.message().find("cubic"), std::string::npos);
  }
  {
    Node n = resize_scales({1, 1, 2, 2}, {1, 2, 3, 4}, {1, 1, 2, 2}, {1, 1, 4, 4});
    n.i("antialias", 1);
    expect_error(n, Status::kUnsupported);
  }
  {  // scales not constant
    Node n(ops::prepare_Resize, "Resize");
    n.in(make<float>({1, 1, 2, 2}, {1, 2, 3, 4})).in(absent()).in(make<float>({4}, {1, 1, 2, 2})).out({1, 1, 4, 4});
    expect_error(n, Status::kUnsupported);
  }
  {  // planned shape differs
    Node n = resize_scales({1, 1, 2, 2}, {1, 2, 3, 4}, {1, 1, 2, 2}, {1, 1, 4, 5});
    expect_error(n, Status::kBadModel);
  }
  {  // both scales and sizes
    Node n(ops::prepare_Resize, "Resize");
    n.in(make<float>({2}, {1, 2})).in(absent()).in(constant<float>({1}, {2})).in(constant<int64_t>({1}, {4})).out({4});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n = resize_sizes({1, 1, 2, 2}, {1, 2, 3, 4}, {1, 1, 4, 4});
    n.s("keep_aspect_ratio_policy", "not_larger");
    expect_error(n, Status::kUnsupported);
  }
  {
    Node n = resize_sizes({1, 1, 2, 2}, {1, 2, 3, 4}, {1, 1, 4, 4});
    n.s("coordinate_transformation_mode", "sideways");
    expect_error(n, Status::kUnsupported);
  }
}

// ---------------------------------------------------------------------------------------
// Pad

TEST(Pad, ConstantWithValue) {
  Node node(ops::prepare_Pad, "Pad");
  node.in(make<float>({2, 3}, {1, 2, 3, 4, 5, 6})).in(constant<int64_t>({4}, {0, 1, 1, 2})).in(constant<float>({}, {9})).out({3, 6});
  expect_near_all(node.run(), {9, 1, 2, 3, 9, 9, 9, 4, 5, 6, 9, 9, 9, 9, 9, 9, 9, 9});
}

TEST(Pad, ConstantDefaultZeroAndNegativePads) {
  Node node(ops::prepare_Pad, "Pad");
  node.in(make<float>({6}, iota(6, 1))).in(constant<int64_t>({2}, {-2, 1})).out({5});
  expect_near_all(node.run(), {3, 4, 5, 6, 0});
}

TEST(Pad, ReflectAndEdge) {
  const std::vector<float> x = {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f};
  Node reflect(ops::prepare_Pad, "Pad");
  reflect.in(make<float>({3, 2}, x)).in(constant<int64_t>({4}, {0, 2, 0, 0})).s("mode", "reflect").out({3, 4});
  expect_near_all(reflect.run(), {1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f});
  Node edge(ops::prepare_Pad, "Pad");
  edge.in(make<float>({3, 2}, x)).in(constant<int64_t>({4}, {0, 2, 0, 0})).s("mode", "edge").out({3, 4});
  expect_near_all(edge.run(), {1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f});
  // pads wider than the input fold back and forth
  Node wide(ops::prepare_Pad, "Pad");
  wide.in(make<float>({3}, {1, 2, 3})).in(constant<int64_t>({2}, {2, 3})).s("mode", "reflect").out({8});
  expect_near_all(wide.run(), {3, 2, 1, 2, 3, 2, 1, 2});
  Node edge1d(ops::prepare_Pad, "Pad");
  edge1d.in(make<float>({3}, {1, 2, 3})).in(constant<int64_t>({2}, {2, 1})).s("mode", "edge").out({6});
  expect_near_all(edge1d.run(), {1, 1, 1, 2, 3, 3});
}

TEST(Pad, AxesInput) {
  for (int64_t axis : {1, -1}) {
    Node node(ops::prepare_Pad, "Pad");
    node.in(make<float>({2, 3}, {1, 2, 3, 4, 5, 6})).in(constant<int64_t>({2}, {1, 1})).in(absent()).in(constant<int64_t>({1}, {axis})).out({2, 5});
    expect_near_all(node.run(), {0, 1, 2, 3, 0, 0, 4, 5, 6, 0});
  }
}

TEST(Pad, Int64AndInt32Data) {
  Node node(ops::prepare_Pad, "Pad");
  node.in(make<int64_t>({2}, {7, -8})).in(constant<int64_t>({2}, {1, 2}));
  node.in(constant<int64_t>({1}, {5})).out({5}, DType::kInt64);
  EXPECT_EQ(node.run_as<int64_t>(), (std::vector<int64_t>{5, 7, -8, 5, 5}));
  Node i32(ops::prepare_Pad, "Pad");
  i32.in(make<int32_t>({2, 2}, {1, 2, 3, 4})).in(constant<int64_t>({4}, {1, 0, 0, 1}));
  i32.s("mode", "reflect").out({3, 3}, DType::kInt32);
  EXPECT_EQ(i32.run_as<int32_t>(), (std::vector<int32_t>{3, 4, 3, 1, 2, 1, 3, 4, 3}));
}

// An empty input padded along another axis to 2^63 - 2 (a fuzzed TorchScript graph's
// constant_pad_nd): the output has no elements, so prepare builds no per-axis index table
// (it asked for 2^63 entries) and the run writes nothing. A scalar still pads to itself.
TEST(Pad, EmptyOutputWithHugeAxis) {
  const int64_t huge = std::numeric_limits<int64_t>::max() - 2;
  Node node(ops::prepare_Pad, "Pad");
  node.in(make<float>({0, 1}, {})).in(constant<int64_t>({4}, {0, huge, 0, 0})).out({0, huge + 1});
  EXPECT_TRUE(node.run().empty());
  Node scalar(ops::prepare_Pad, "Pad");
  scalar.in(make<float>({}, {4.5f})).in(constant<int64_t>({0}, {})).out(Shape{});
  expect_near_all(scalar.run(), {4.5f});
}

TEST(Pad, PrepareErrors) {
  {
    Node n(ops::prepare_Pad, "Pad");
    n.in(make<float>({3}, {1, 2, 3})).in(constant<int64_t>({2}, {1, 1})).s("mode", "wrap").out({5});
    expect_error(n, Status::kUnsupported);
  }
  {  // pads not constant
    Node n(ops::prepare_Pad, "Pad");
    n.in(make<float>({3}, {1, 2, 3})).in(make<int64_t>({2}, {1, 1})).out({5});
    expect_error(n, Status::kUnsupported);
  }
  {
    Node n(ops::prepare_Pad, "Pad");
    n.in(make<float>({3}, {1, 2, 3})).in(constant<int64_t>({4}, {1, 1, 1, 1})).out({5});
    expect_error(n, Status::kBadModel);
  }
  {  // constant_value of another dtype
    Node n(ops::prepare_Pad, "Pad");
    n.in(make<float>({3}, {1, 2, 3})).in(constant<int64_t>({2}, {1, 1})).in(constant<int64_t>({}, {0})).out({5});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n(ops::prepare_Pad, "Pad");
    n.in(make<float>({3}, {1, 2, 3})).in(constant<int64_t>({2}, {1, 1})).out({6});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n(ops::prepare_Pad, "Pad");
    n.in(make<float>({3}, {1, 2, 3})).in(constant<int64_t>({2}, {-2, -2})).out(Shape{0});
    expect_error(n, Status::kBadModel);
  }
}

}  // namespace
}  // namespace pare::rt
