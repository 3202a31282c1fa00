// The pooling ops of the runtime (MaxPool, AveragePool, GlobalAveragePool; NCHW and NHWC),
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
// Pooling

TEST(MaxPool, CeilModeHandComputed) {
  Node node(ops::prepare_MaxPool, "MaxPool");
  node.in(make<float>({1, 1, 4, 4}, iota(16, 1))).ints("kernel_shape", {3, 3}).ints("strides", {2, 2});
  node.i("ceil_mode", 1).out({1, 1, 2, 2});
  expect_near_all(node.run(), {11, 12, 15, 16});
}

TEST(MaxPool, PadsDilationsHandComputed) {
  // 4x4 ramp 1..16, kernel 2x2 dilated by 2, pads 1 at the start: windows start at -1 and 1.
  Node node(ops::prepare_MaxPool, "MaxPool");
  node.in(make<float>({1, 1, 4, 4}, iota(16, 1))).ints("kernel_shape", {2, 2}).ints("dilations", {2, 2});
  node.ints("pads", {1, 1, 0, 0}).ints("strides", {2, 2}).out({1, 1, 2, 2});
  // out(0,0): taps (-1,-1),(-1,1),(1,-1),(1,1) -> 6; out(0,1): taps cols 1,3 rows -1,1 -> 8;
  // out(1,0): rows 1,3 cols -1,1 -> 14; out(1,1): rows 1,3 cols 1,3 -> 16.
  expect_near_all(node.run(), {6, 8, 14, 16});
}

TEST(MaxPool, NegativeValuesIgnorePads) {
  Node node(ops::prepare_MaxPool, "MaxPool");
  node.in(make<float>({1, 1, 3}, {-3, -1, -2})).ints("kernel_shape", {3}).ints("pads", {1, 1}).out({1, 1, 3});
  expect_near_all(node.run(), {-1, -1, -1});
}

// Max or mean over each window, one output element at a time.
std::vector<float> naive_pool(bool max, const Shape& xs, const std::vector<float>& x, const Shape& kernel,
                              const Shape& strides, const Shape& dil, const Shape& pb, const Shape& out,
                              bool count_include_pad = false, const Shape& pe = {}) {
  const size_t sp = kernel.size();
  Shape ys = {xs[0], xs[1]};
  ys.insert(ys.end(), out.begin(), out.end());
  std::vector<float> y(static_cast<size_t>(numel(ys)));
  Shape yc(ys.size(), 0);
  do {
    double best = -INFINITY, sum = 0;
    int64_t count = 0, padded = 0;
    Shape kc(sp, 0);
    do {
      Shape xc = {yc[0], yc[1]};
      bool inside = true, in_pads = true;
      for (size_t d = 0; d < sp; ++d) {
        const int64_t i = yc[2 + d] * strides[d] + kc[d] * dil[d] - pb[d];
        inside = inside && i >= 0 && i < xs[2 + d];
        if (!pe.empty()) in_pads = in_pads && i >= -pb[d] && i < xs[2 + d] + pe[d];
        xc.push_back(i);
      }
      padded += in_pads;
      if (!inside) continue;
      const float v = x[offset_of(xs, xc)];
      best = std::max<double>(best, v);
      sum += v;
      ++count;
    } while (next_coord(kernel, &kc));
    y[offset_of(ys, yc)] = static_cast<float>(max ? best : sum / (count_include_pad ? padded : count));
  } while (next_coord(ys, &yc));
  return y;
}

TEST(MaxPool, OneTwoAndThreeDimensionalAgainstFormula) {
  {
    const Shape xs = {2, 3, 10};
    const auto x = random_floats(60, 61);
    Node node(ops::prepare_MaxPool, "MaxPool");
    node.in(make<float>(xs, x)).ints("kernel_shape", {3}).ints("strides", {2}).ints("pads", {1, 2}).out({2, 3, 6});
    expect_near_all(node.run(), naive_pool(true, xs, x, {3}, {2}, {1}, {1}, {6}));
  }
  {  // SAME_LOWER: in 7, k 2, s 1 -> out 7, one pad at the start
    const Shape xs = {1, 2, 7, 7};
    const auto x = random_floats(98, 62);
    Node node(ops::prepare_MaxPool, "MaxPool");
    node.in(make<float>(xs, x)).ints("kernel_shape", {2, 2}).s("auto_pad", "SAME_LOWER").out({1, 2, 7, 7});
    expect_near_all(node.run(), naive_pool(true, xs, x, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {7, 7}));
  }
  {
    const Shape xs = {1, 2, 5, 4, 6};
    const auto x = random_floats(240, 63);
    Node node(ops::prepare_MaxPool, "MaxPool");
    node.in(make<float>(xs, x)).ints("kernel_shape", {2, 2, 3}).ints("strides", {1, 2, 3}).out({1, 2, 4, 2, 2});
    expect_near_all(node.run(), naive_pool(true, xs, x, {2, 2, 3}, {1, 2, 3}, {1, 1, 1}, {0, 0, 0}, {4, 2, 2}));
  }
}

TEST(MaxPool, Uint8) {
  Node node(ops::prepare_MaxPool, "MaxPool");
  node.in(make<uint8_t>({1, 1, 2, 3}, {1, 200, 3, 4, 5, 255}));
  node.ints("kernel_shape", {2, 2}).out({1, 1, 1, 2}, DType::kUInt8);
  EXPECT_EQ(node.run_as<uint8_t>(), (std::vector<uint8_t>{200, 255}));
}

TEST(MaxPool, PrepareErrors) {
  {  // the Indices output
    Node n(ops::prepare_MaxPool, "MaxPool");
    n.in(make<float>({1, 1, 4, 4}, std::vector<float>(16))).ints("kernel_shape", {2, 2}).out({1, 1, 3, 3});
    n.out({1, 1, 3, 3}, DType::kInt64);
    expect_error(n, Status::kUnsupported);
  }
  {
    Node n(ops::prepare_MaxPool, "MaxPool");
    n.in(make<float>({1, 1, 4, 4}, std::vector<float>(16))).out({1, 1, 3, 3});
    expect_error(n, Status::kBadModel);  // no kernel_shape
  }
  {
    Node n(ops::prepare_MaxPool, "MaxPool");
    n.in(make<float>({1, 1, 4, 4}, std::vector<float>(16))).ints("kernel_shape", {2, 2}).ints("pads", {1, 1}).out({1, 1, 3, 3});
    expect_error(n, Status::kBadModel);
  }
  {  // ceil_mode changes the planned shape: 4x4, k 3, s 2 -> 1x1 floor, 2x2 ceil
    Node n(ops::prepare_MaxPool, "MaxPool");
    n.in(make<float>({1, 1, 4, 4}, std::vector<float>(16))).ints("kernel_shape", {3, 3}).ints("strides", {2, 2});
    n.out({1, 1, 2, 2});
    expect_error(n, Status::kBadModel);
  }
}

TEST(AveragePool, CeilModeHandComputed) {
  Node node(ops::prepare_AveragePool, "AveragePool");
  node.in(make<float>({1, 1, 4, 4}, iota(16, 1))).ints("kernel_shape", {3, 3}).ints("strides", {2, 2});
  node.i("ceil_mode", 1).out({1, 1, 2, 2});
  expect_near_all(node.run(), {6, 7.5f, 12, 13.5f});
}

TEST(AveragePool, PadsWithAndWithoutCountIncludePad) {
  for (int include = 0; include < 2; ++include) {
    Node node(ops::prepare_AveragePool, "AveragePool");
    node.in(make<float>({1, 1, 3, 3}, iota(9, 1))).ints("kernel_shape", {3, 3}).ints("pads", {1, 1, 1, 1});
    node.i("count_include_pad", include).out({1, 1, 3, 3});
    if (include)
      expect_near_all(node.run(), {12 / 9.f, 21 / 9.f, 16 / 9.f, 27 / 9.f, 5, 33 / 9.f, 24 / 9.f, 39 / 9.f, 28 / 9.f});
    else
      expect_near_all(node.run(), {3, 3.5f, 4, 4.5f, 5, 5.5f, 6, 6.5f, 7});
  }
}

TEST(AveragePool, CeilModeWindowPastThePads) {
  // x = 1..6, k 3, s 2, pads 1/1, ceil: 4 windows starting at -1, 1, 3, 5; the last one
  // covers 5 (input), 6 (end pad) and 7 (past the pads, never counted).
  for (int include = 0; include < 2; ++include) {
    Node node(ops::prepare_AveragePool, "AveragePool");
    node.in(make<float>({1, 1, 6}, iota(6, 1))).ints("kernel_shape", {3}).ints("strides", {2});
    node.ints("pads", {1, 1}).i("ceil_mode", 1).i("count_include_pad", include).out({1, 1, 4});
    expect_near_all(node.run(), include ? std::vector<float>{1, 3, 5, 3} : std::vector<float>{1.5f, 3, 5, 6});
  }
}

TEST(AveragePool, CeilModeDropsWindowStartingInEndPad) {
  // x = 1..5, k 3, s 3, pads 1/1: ceil((5 + 2 - 3) / 3) + 1 = 3, but the third window
  // would start at 5, inside the end pad, so there are 2.
  Node node(ops::prepare_AveragePool, "AveragePool");
  node.in(make<float>({1, 1, 5}, iota(5, 1))).ints("kernel_shape", {3}).ints("strides", {3});
  node.ints("pads", {1, 1}).i("ceil_mode", 1).out({1, 1, 2});
  expect_near_all(node.run(), {1.5f, 4});
}

TEST(AveragePool, TwoAndThreeDimensionalAgainstFormula) {
  {
    const Shape xs = {2, 3, 9, 8};
    const auto x = random_floats(432, 71);
    Node node(ops::prepare_AveragePool, "AveragePool");
    node.in(make<float>(xs, x)).ints("kernel_shape", {3, 2}).ints("strides", {2, 3}).ints("pads", {1, 0, 1, 1});
    node.i("count_include_pad", 1).out({2, 3, 5, 3});
    expect_near_all(node.run(), naive_pool(false, xs, x, {3, 2}, {2, 3}, {1, 1}, {1, 0}, {5, 3}, true, {1, 1}));
  }
  {  // SAME_UPPER, k 3, stride 2: in 5 -> out 3, total pad 2 * 2 + 3 - 5 = 2 -> 1 and 1
    const Shape xs = {1, 1, 5, 5, 5};
    const auto x = random_floats(125, 72);
    Node node(ops::prepare_AveragePool, "AveragePool");
    node.in(make<float>(xs, x)).ints("kernel_shape", {3, 3, 3}).ints("strides", {2, 2, 2}).s("auto_pad", "SAME_UPPER");
    node.out({1, 1, 3, 3, 3});
    expect_near_all(node.run(), naive_pool(false, xs, x, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, {3, 3, 3}));
  }
  {  // opset-19 dilations
    const Shape xs = {1, 2, 7, 7};
    const auto x = random_floats(98, 73);
    Node node(ops::prepare_AveragePool, "AveragePool");
    node.in(make<float>(xs, x)).ints("kernel_shape", {2, 3}).ints("dilations", {3, 2}).out({1, 2, 4, 3});
    expect_near_all(node.run(), naive_pool(false, xs, x, {2, 3}, {1, 1}, {3, 2}, {0, 0}, {4, 3}));
  }
}

TEST(AveragePool, SameResultWithThreads) {
  auto make_node = [] {
    Node node(ops::prepare_AveragePool, "AveragePool");
    node.in(make<float>({2, 5, 8, 8}, random_floats(640, 74))).ints("kernel_shape", {3, 3}).ints("pads", {1, 1, 1, 1});
    node.out({2, 5, 8, 8});
    return node;
  };
  ThreadPool pool(3);
  Node a = make_node(), b = make_node();
  EXPECT_EQ(a.run_bytes(), b.run_bytes(&pool));
}

TEST(GlobalAveragePool, MeansOfEachPlane) {
  Node node(ops::prepare_GlobalAveragePool, "GlobalAveragePool");
  node.in(make<float>({1, 2, 2, 2}, {1, 2, 3, 4, -1, -1, 5, 5})).out({1, 2, 1, 1});
  expect_near_all(node.run(), {2.5f, 2});
  Node node3(ops::prepare_GlobalAveragePool, "GlobalAveragePool");
  node3.in(make<float>({2, 1, 3}, {1, 2, 6, 0, 0, 3})).out({2, 1, 1});
  expect_near_all(node3.run(), {3, 1});
  Node node5(ops::prepare_GlobalAveragePool, "GlobalAveragePool");
  node5.in(make<float>({1, 1, 2, 1, 2}, {1, 2, 3, 4})).out({1, 1, 1, 1, 1});
  expect_near_all(node5.run(), {2.5f});
  Node bad(ops::prepare_GlobalAveragePool, "GlobalAveragePool");
  bad.in(make<float>({1, 2, 2, 2}, std::vector<float>(8))).out({1, 2});
  expect_error(bad, Status::kBadModel);
}

// Pools, NHWC: the same taps in the same order as NCHW, so the same bits.
void check_nhwc_pool(OpFactory factory, const char* op, const Shape& xs, const Shape& ys,
                     const std::function<void(Node&)>& attrs, const char* kernel) {
  const auto x = random_floats(static_cast<size_t>(numel(xs)), 81);
  Node nchw(factory, op), nhwc(factory, op);
  nchw.in(make<float>(xs, x)).out(ys);
  nhwc.in(make<float>(nhwc_shape(xs), to_nhwc(xs, x))).out(nhwc_shape(ys)).s("layout", "NHWC");
  attrs(nchw);
  attrs(nhwc);
  EXPECT_EQ(to_nchw(ys, nhwc.run()), nchw.run());
  EXPECT_EQ(nhwc.kernel_name(), kernel);
  ThreadPool pool(3);
  EXPECT_EQ(nhwc.run_bytes(&pool), nhwc.run_bytes());
}

TEST(PoolNhwc, MaxPoolMatchesNchw) {
  check_nhwc_pool(ops::prepare_MaxPool, "MaxPool", {2, 5, 7, 6}, {2, 5, 4, 4}, [](Node& n) {
    n.ints("kernel_shape", {3, 2}).ints("strides", {2, 2}).ints("pads", {0, 1, 1, 1}).i("ceil_mode", 1);
  }, "f32_maxpool_nhwc_ref__scalar");
  check_nhwc_pool(ops::prepare_MaxPool, "MaxPool", {1, 3, 7, 7}, {1, 3, 7, 7}, [](Node& n) {
    n.ints("kernel_shape", {2, 3}).ints("dilations", {2, 1}).s("auto_pad", "SAME_LOWER");
  }, "f32_maxpool_nhwc_ref__scalar");
}

TEST(PoolNhwc, MaxPoolInt8AndUint8) {
  const std::vector<uint8_t> x = {1, 200, 3, 4, 5, 255, 9, 0, 7, 250, 11, 12};  // NHWC [1, 2, 3, 2]
  Node u8(ops::prepare_MaxPool, "MaxPool");
  u8.in(make<uint8_t>({1, 2, 3, 2}, x)).s("layout", "NHWC");
  u8.ints("kernel_shape", {2, 2}).out({1, 1, 2, 2}, DType::kUInt8);
  // channel 0: {1, 3, 5, 9, 7, 11} windows cols 0-1 -> 9, cols 1-2 -> 11; channel 1: 250, 255
  EXPECT_EQ(u8.run_as<uint8_t>(), (std::vector<uint8_t>{9, 250, 11, 255}));
  const std::vector<int8_t> xs = {-1, -7, -3, 4, -5, -6};  // NHWC [1, 1, 3, 2]
  Node s8(ops::prepare_MaxPool, "MaxPool");
  s8.in(make<int8_t>({1, 1, 3, 2}, xs)).s("layout", "NHWC");
  s8.ints("kernel_shape", {1, 2}).out({1, 1, 2, 2}, DType::kInt8);
  EXPECT_EQ(s8.run_as<int8_t>(), (std::vector<int8_t>{-1, 4, -3, 4}));
}

TEST(PoolNhwc, AveragePoolMatchesNchw) {
  for (int include = 0; include < 2; ++include) {
    check_nhwc_pool(ops::prepare_AveragePool, "AveragePool", {2, 3, 9, 8}, {2, 3, 5, 3}, [include](Node& n) {
      n.ints("kernel_shape", {3, 2}).ints("strides", {2, 3}).ints("pads", {1, 0, 1, 1}).i("count_include_pad", include);
    }, "f32_avgpool_nhwc_ref__scalar");
  }
  check_nhwc_pool(ops::prepare_AveragePool, "AveragePool", {1, 4, 6, 5}, {1, 4, 4, 3}, [](Node& n) {
    n.ints("kernel_shape", {3, 3}).ints("strides", {2, 2}).ints("pads", {1, 1, 1, 1}).i("ceil_mode", 1);
  }, "f32_avgpool_nhwc_ref__scalar");
  check_nhwc_pool(ops::prepare_AveragePool, "AveragePool", {1, 2, 7, 7}, {1, 2, 4, 3}, [](Node& n) {
    n.ints("kernel_shape", {2, 3}).ints("dilations", {3, 2});
  }, "f32_avgpool_nhwc_ref__scalar");
}

TEST(PoolNhwc, GlobalAveragePoolMatchesNchw) {
  check_nhwc_pool(ops::prepare_GlobalAveragePool, "GlobalAveragePool", {3, 5, 4, 7}, {3, 5, 1, 1}, [](Node&) {},
                  "f32_global_avgpool_nhwc_ref__scalar");
  Node bad(ops::prepare_GlobalAveragePool, "GlobalAveragePool");
  bad.in(make<float>({1, 2, 2, 3}, std::vector<float>(12))).s("layout", "NHWC").out({1, 3, 1, 1});
  expect_error(bad, Status::kBadModel);
}

TEST(PoolNhwc, PrepareErrors) {
  {
    Node n(ops::prepare_MaxPool, "MaxPool");
    n.in(make<float>({1, 4, 3}, std::vector<float>(12))).ints("kernel_shape", {2}).s("layout", "NHWC").out({1, 3, 3});
    expect_error(n, Status::kUnsupported);
  }
  {  // the planned output in NCHW order
    Node n(ops::prepare_AveragePool, "AveragePool");
    n.in(make<float>({1, 4, 4, 2}, std::vector<float>(32))).ints("kernel_shape", {2, 2}).s("layout", "NHWC");
    n.out({1, 2, 3, 3});
    expect_error(n, Status::kBadModel);
  }
}

}  // namespace
}  // namespace pare::rt
