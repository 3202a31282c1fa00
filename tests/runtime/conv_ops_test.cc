// The Conv and ConvTranspose ops of the runtime (NCHW and NHWC, every fast path),
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
// Naive formulas.

struct ConvCase {
  Shape x_shape, w_shape;  // NC..., M C/g k...
  int64_t group = 1;
  Shape strides, dilations, pad_begin, out_spatial;
  bool bias = true;
};

// y[n, m, o] = b[m] + sum_{c, k} x[n, g * C/g + c, o * s + k * d - p] * w[m, c, k].
std::vector<float> naive_conv(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& w,
                              const std::vector<float>& b) {
  const size_t sp = c.x_shape.size() - 2;
  const int64_t cin_g = c.w_shape[1], m_total = c.w_shape[0], m_g = m_total / c.group;
  Shape y_shape = {c.x_shape[0], m_total};
  y_shape.insert(y_shape.end(), c.out_spatial.begin(), c.out_spatial.end());
  std::vector<float> y(static_cast<size_t>(numel(y_shape)));
  Shape yc(y_shape.size(), 0);
  const Shape k_shape(c.w_shape.begin() + 2, c.w_shape.end());
  do {
    const int64_t n = yc[0], m = yc[1], g = m / m_g;
    double acc = c.bias ? b[static_cast<size_t>(m)] : 0.0;
    for (int64_t ci = 0; ci < cin_g; ++ci) {
      Shape kc(sp, 0);
      do {
        Shape xc = {n, g * cin_g + ci};
        bool inside = true;
        for (size_t d = 0; d < sp; ++d) {
          const int64_t i = yc[2 + d] * c.strides[d] + kc[d] * c.dilations[d] - c.pad_begin[d];
          inside = inside && i >= 0 && i < c.x_shape[2 + d];
          xc.push_back(i);
        }
        if (!inside) continue;
        Shape wc = {m, ci};
        wc.insert(wc.end(), kc.begin(), kc.end());
        acc += static_cast<double>(x[static_cast<size_t>(offset_of(c.x_shape, xc))]) *
               w[static_cast<size_t>(offset_of(c.w_shape, wc))];
      } while (next_coord(k_shape, &kc));
    }
    y[static_cast<size_t>(offset_of(y_shape, yc))] = static_cast<float>(acc);
  } while (next_coord(y_shape, &yc));
  return y;
}

// Every input element scatters x * w into y[n, g * M/g + m, i * s + k * d - p].
std::vector<float> naive_conv_transpose(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& w,
                                        const std::vector<float>& b) {
  const size_t sp = c.x_shape.size() - 2;
  const int64_t cin = c.x_shape[1], cin_g = cin / c.group, m_g = c.w_shape[1];
  Shape y_shape = {c.x_shape[0], m_g * c.group};
  y_shape.insert(y_shape.end(), c.out_spatial.begin(), c.out_spatial.end());
  const int64_t plane = numel(c.out_spatial);
  std::vector<double> y(static_cast<size_t>(numel(y_shape)), 0.0);
  for (int64_t i = 0; i < numel(y_shape); ++i)
    y[static_cast<size_t>(i)] = c.bias ? b[static_cast<size_t>((i / plane) % (m_g * c.group))] : 0.0;
  const Shape k_shape(c.w_shape.begin() + 2, c.w_shape.end());
  Shape xc(c.x_shape.size(), 0);
  do {
    const int64_t n = xc[0], ci = xc[1], g = ci / cin_g;
    for (int64_t m = 0; m < m_g; ++m) {
      Shape kc(sp, 0);
      do {
        Shape yc = {n, g * m_g + m};
        bool inside = true;
        for (size_t d = 0; d < sp; ++d) {
          const int64_t o = xc[2 + d] * c.strides[d] + kc[d] * c.dilations[d] - c.pad_begin[d];
          inside = inside && o >= 0 && o < c.out_spatial[d];
          yc.push_back(o);
        }
        if (!inside) continue;
        Shape wc = {ci, m};
        wc.insert(wc.end(), kc.begin(), kc.end());
        y[static_cast<size_t>(offset_of(y_shape, yc))] +=
            static_cast<double>(x[static_cast<size_t>(offset_of(c.x_shape, xc))]) *
            w[static_cast<size_t>(offset_of(c.w_shape, wc))];
      } while (next_coord(k_shape, &kc));
    }
  } while (next_coord(c.x_shape, &xc));
  return std::vector<float>(y.begin(), y.end());
}

Shape conv_out_shape(const ConvCase& c, int64_t channels) {
  Shape s = {c.x_shape[0], channels};
  s.insert(s.end(), c.out_spatial.begin(), c.out_spatial.end());
  return s;
}

// ---------------------------------------------------------------------------------------
// Conv

TEST(Conv, HandComputedPaddedSum) {
  // 5x5 ramp, 3x3 ones, pads 1: each output is the sum of its 3x3 neighbourhood.
  Node node(ops::prepare_Conv, "Conv");
  node.in(make<float>({1, 1, 5, 5}, iota(25))).in(constant<float>({1, 1, 3, 3}, std::vector<float>(9, 1.f)));
  node.ints("kernel_shape", {3, 3}).ints("pads", {1, 1, 1, 1}).out({1, 1, 5, 5});
  expect_near_all(node.run(), {12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81,
                               93, 144, 153, 162, 111, 72, 111, 117, 123, 84});
}

void check_conv(const ConvCase& c, Node& node, ActivationKind act = ActivationKind::kNone) {
  const auto x = random_floats(static_cast<size_t>(numel(c.x_shape)), 1);
  const auto w = random_floats(static_cast<size_t>(numel(c.w_shape)), 2);
  const auto b = random_floats(static_cast<size_t>(c.w_shape[0]), 3);
  node.in(make<float>(c.x_shape, x)).in(constant<float>(c.w_shape, w));
  if (c.bias) node.in(constant<float>({c.w_shape[0]}, b));
  node.out(conv_out_shape(c, c.w_shape[0]));
  if (act != ActivationKind::kNone) node.act(act);
  auto want = naive_conv(c, x, w, b);
  if (act == ActivationKind::kRelu) want = relu(want);
  expect_near_all(node.run(), want);
}

TEST(Conv, GroupedStridedDilatedAsymmetricPads) {
  ConvCase c{{2, 4, 7, 6}, {6, 2, 3, 2}, 2, {2, 1}, {1, 2}, {1, 0}, {0, 0}, true};
  // H: (7 + 1 + 2 - 3) / 2 + 1 = 4; W: (6 + 0 + 1 - 3) / 1 + 1 = 5
  c.out_spatial = {4, 5};
  Node node(ops::prepare_Conv, "Conv");
  node.i("group", 2).ints("strides", {2, 1}).ints("dilations", {1, 2}).ints("pads", {1, 0, 2, 1});
  check_conv(c, node);
}

TEST(Conv, DepthwiseWithoutKernelShapeAttr) {
  ConvCase c{{1, 3, 6, 5}, {3, 1, 3, 3}, 3, {1, 1}, {1, 1}, {1, 1}, {6, 5}, true};
  Node node(ops::prepare_Conv, "Conv");
  node.i("group", 3).ints("pads", {1, 1, 1, 1});
  check_conv(c, node);
}

TEST(Conv, DepthwiseChannelMultiplierNoBias) {
  ConvCase c{{1, 2, 5, 5}, {4, 1, 2, 2}, 2, {2, 2}, {1, 1}, {0, 0}, {2, 2}, false};
  Node node(ops::prepare_Conv, "Conv");
  node.i("group", 2).ints("strides", {2, 2});
  check_conv(c, node);
}

TEST(Conv, AutoPadSameUpperAndLower) {
  // in 5, k 3, stride 2: out 3, total pad (3-1)*2 + 3 - 5 = 2 -> 1 and 1.
  // in 6, k 4, stride 1: out 6, total pad 3 -> upper: 1 begin, lower: 2 begin.
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER"}) {
    const bool upper = std::string(mode) == "SAME_UPPER";
    ConvCase c{{1, 2, 5, 6}, {3, 2, 3, 4}, 1, {2, 1}, {1, 1}, {1, upper ? 1 : 2}, {3, 6}, true};
    Node node(ops::prepare_Conv, "Conv");
    node.s("auto_pad", mode).ints("strides", {2, 1});
    check_conv(c, node);
  }
}

TEST(Conv, AutoPadValid) {
  ConvCase c{{1, 1, 7, 5}, {2, 1, 3, 3}, 1, {2, 2}, {1, 1}, {0, 0}, {3, 2}, true};
  Node node(ops::prepare_Conv, "Conv");
  node.s("auto_pad", "VALID").ints("strides", {2, 2}).ints("pads", {5, 5, 5, 5});
  check_conv(c, node);
}

TEST(Conv, OneDimensional) {
  // kernel 3 dilated by 2 spans 5; pads 2 and 1: (11 + 3 - 5) / 2 + 1 = 5
  ConvCase c{{2, 3, 11}, {4, 3, 3}, 1, {2}, {2}, {2}, {5}, true};
  Node node(ops::prepare_Conv, "Conv");
  node.ints("strides", {2}).ints("dilations", {2}).ints("pads", {2, 1});
  check_conv(c, node);
}

TEST(Conv, ThreeDimensionalGrouped) {
  ConvCase c{{1, 4, 4, 5, 3}, {2, 2, 2, 3, 2}, 2, {1, 2, 1}, {1, 1, 2}, {0, 1, 1}, {3, 3, 3}, true};
  // D: (4 - 2) + 1 = 3; H: (5 + 2 - 3) / 2 + 1 = 3; W: (3 + 2 - 3) + 1 = 3
  Node node(ops::prepare_Conv, "Conv");
  node.i("group", 2).ints("strides", {1, 2, 1}).ints("dilations", {1, 1, 2}).ints("pads", {0, 1, 1, 0, 1, 1});
  check_conv(c, node);
}

TEST(Conv, FusedReluAndKernelName) {
  ConvCase c{{1, 3, 6, 6}, {4, 3, 3, 3}, 1, {1, 1}, {1, 1}, {1, 1}, {6, 6}, true};
  Node node(ops::prepare_Conv, "Conv");
  node.ints("pads", {1, 1, 1, 1});
  check_conv(c, node, ActivationKind::kRelu);
  EXPECT_EQ(node.kernel_name(), "f32_conv_relu_ref__scalar");
}

TEST(Conv, SameResultWithThreads) {
  const Shape xs = {2, 8, 9, 9}, ws = {16, 8, 3, 3};
  auto make_node = [&] {
    Node node(ops::prepare_Conv, "Conv");
    node.in(make<float>(xs, random_floats(static_cast<size_t>(numel(xs)), 4)))
        .in(constant<float>(ws, random_floats(static_cast<size_t>(numel(ws)), 5)))
        .ints("pads", {1, 1, 1, 1})
        .act(ActivationKind::kClip, 0.f, 0.5f)
        .out({2, 16, 9, 9});
    return node;
  };
  ThreadPool pool(3);
  Node a = make_node(), b = make_node();
  EXPECT_EQ(a.run_bytes(), b.run_bytes(&pool));
}

TEST(Conv, PrepareErrors) {
  auto base = [] {
    Node node(ops::prepare_Conv, "Conv");
    node.in(make<float>({1, 4, 5, 5}, std::vector<float>(100))).in(constant<float>({2, 4, 3, 3}, std::vector<float>(72)));
    return node;
  };
  {  // planned output shape differs
    Node n = base();
    n.out({1, 2, 5, 5});
    expect_error(n, Status::kBadModel);
  }
  {  // weight channels do not match the input for group 2
    Node n = base();
    n.i("group", 2).out({1, 2, 3, 3});
    expect_error(n, Status::kBadModel);
  }
  {  // kernel_shape contradicts the weight
    Node n = base();
    n.ints("kernel_shape", {2, 2}).out({1, 2, 3, 3});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n = base();
    n.s("auto_pad", "SAME").out({1, 2, 3, 3});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n = base();
    n.ints("strides", {0, 1}).out({1, 2, 3, 3});
    expect_error(n, Status::kBadModel);
  }
  {  // bias of the wrong length
    Node n = base();
    n.in(constant<float>({3}, {1, 2, 3})).out({1, 2, 3, 3});
    expect_error(n, Status::kBadModel);
  }
  {  // integer input
    Node n(ops::prepare_Conv, "Conv");
    n.in(make<int32_t>({1, 1, 3, 3}, std::vector<int32_t>(9)))
        .in(constant<float>({1, 1, 3, 3}, std::vector<float>(9)))
        .out({1, 1, 1, 1});
    expect_error(n, Status::kUnsupported);
  }
  {  // window larger than the input
    Node n(ops::prepare_Conv, "Conv");
    n.in(make<float>({1, 1, 2, 2}, std::vector<float>(4))).in(constant<float>({1, 1, 3, 3}, std::vector<float>(9))).out({1, 1, 0, 0});
    expect_error(n, Status::kBadModel);
  }
}

// ---------------------------------------------------------------------------------------
// Conv, NHWC: checked against the NCHW op through explicit transposes.

struct NhwcConvCase {
  Shape x_shape, w_shape, out_shape;  // NCHW
  std::function<void(Node&)> attrs;
  bool bias = true;
  bool constant_weight = true;
  ActivationKind act = ActivationKind::kNone;
  const char* kernel = "";
};

void check_nhwc_conv(const NhwcConvCase& c) {
  const auto x = random_floats(static_cast<size_t>(numel(c.x_shape)), 11);
  const auto w = random_floats(static_cast<size_t>(numel(c.w_shape)), 12);
  const auto b = random_floats(static_cast<size_t>(c.w_shape[0]), 13);
  auto make_node = [&](bool nhwc) {
    Node node(ops::prepare_Conv, "Conv");
    node.in(make<float>(nhwc ? nhwc_shape(c.x_shape) : c.x_shape, nhwc ? to_nhwc(c.x_shape, x) : x));
    node.in(c.constant_weight ? constant<float>(c.w_shape, w) : make<float>(c.w_shape, w));
    if (c.bias) node.in(constant<float>({c.w_shape[0]}, b));
    node.out(nhwc ? nhwc_shape(c.out_shape) : c.out_shape).act(c.act, 0.f, 0.5f);
    c.attrs(node);
    if (nhwc) node.s("layout", "NHWC");
    return node;
  };
  Node nchw = make_node(false), nhwc = make_node(true);
  expect_near_all(to_nchw(c.out_shape, nhwc.run()), nchw.run());
  EXPECT_EQ(nhwc.kernel_name(), c.kernel);
  ThreadPool pool(3);
  Node again = make_node(true);
  EXPECT_EQ(again.run_bytes(&pool), nhwc.run_bytes());
}

TEST(ConvNhwc, GroupedStridedDilatedAsymmetricPads) {
  check_nhwc_conv({{2, 4, 7, 6}, {6, 2, 3, 2}, {2, 6, 4, 5}, [](Node& n) {
                     n.i("group", 2).ints("strides", {2, 1}).ints("dilations", {1, 2}).ints("pads", {1, 0, 2, 1});
                   }, true, true, ActivationKind::kNone, "f32_conv_nhwc_ref__scalar"});
}

TEST(ConvNhwc, DepthwiseAndChannelMultiplier) {
  check_nhwc_conv({{1, 5, 6, 5}, {5, 1, 3, 3}, {1, 5, 6, 5}, [](Node& n) { n.i("group", 5).ints("pads", {1, 1, 1, 1}); },
                   true, true, ActivationKind::kClip, "f32_dwconv_clip_ref__scalar"});
  check_nhwc_conv({{1, 2, 5, 5}, {4, 1, 2, 2}, {1, 4, 2, 2}, [](Node& n) { n.i("group", 2).ints("strides", {2, 2}); },
                   false, true, ActivationKind::kNone, "f32_conv_nhwc_ref__scalar"});
}

TEST(ConvNhwc, PointwiseRunsAsGemm) {
  check_nhwc_conv({{2, 7, 3, 5}, {9, 7, 1, 1}, {2, 9, 3, 5}, [](Node&) {}, true, true, ActivationKind::kRelu,
                   "f32_gemm_relu_4x8__scalar"});
  check_nhwc_conv({{1, 3, 4, 4}, {5, 3, 1, 1}, {1, 5, 4, 4}, [](Node& n) { n.ints("kernel_shape", {1, 1}); }, false,
                   false, ActivationKind::kNone, "f32_gemm_ref__scalar"});
  // Strided or padded 1x1 convolutions are not a plain GEMM over the pixels: indirect rows.
  check_nhwc_conv({{1, 3, 5, 5}, {4, 3, 1, 1}, {1, 4, 3, 3}, [](Node& n) { n.ints("strides", {2, 2}); }, true, true,
                   ActivationKind::kNone, "f32_conv_indirect_4x8__scalar"});
  check_nhwc_conv({{1, 3, 4, 4}, {4, 3, 1, 1}, {1, 4, 4, 5}, [](Node& n) { n.ints("pads", {0, 0, 0, 1}); }, true, true,
                   ActivationKind::kNone, "f32_conv_indirect_4x8__scalar"});
}

TEST(ConvNhwc, AutoPadAndWeightsComputedAtRunTime) {
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    const bool valid = std::string(mode) == "VALID";
    check_nhwc_conv({{1, 3, 7, 6}, {4, 3, 3, 4}, {1, 4, valid ? 3 : 4, valid ? 3 : 6},
                     [mode](Node& n) { n.s("auto_pad", mode).ints("strides", {2, 1}); }, true, false,
                     ActivationKind::kHardSwish, "f32_conv_nhwc_hardswish_ref__scalar"});
  }
}

TEST(ConvNhwc, PrepareErrors) {
  {  // the planned output in NCHW order
    Node n(ops::prepare_Conv, "Conv");
    n.in(make<float>({1, 5, 5, 4}, std::vector<float>(100))).in(constant<float>({2, 4, 3, 3}, std::vector<float>(72)));
    n.s("layout", "NHWC").out({1, 2, 3, 3});
    expect_error(n, Status::kBadModel);
  }
  {  // NHWC is for 4-D data only
    Node n(ops::prepare_Conv, "Conv");
    n.in(make<float>({1, 5, 4}, std::vector<float>(20))).in(constant<float>({2, 4, 3}, std::vector<float>(24)));
    n.s("layout", "NHWC").out({1, 3, 2});
    expect_error(n, Status::kUnsupported);
  }
  {
    Node n(ops::prepare_Conv, "Conv");
    n.in(make<float>({1, 4, 5, 5}, std::vector<float>(100))).in(constant<float>({2, 4, 3, 3}, std::vector<float>(72)));
    n.s("layout", "NCWH").out({1, 2, 3, 3});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n(ops::prepare_ConvTranspose, "ConvTranspose");
    n.in(make<float>({1, 3, 3, 2}, std::vector<float>(18))).in(constant<float>({2, 1, 2, 2}, std::vector<float>(8)));
    n.s("layout", "NHWC").out({1, 4, 4, 1});
    expect_error(n, Status::kUnsupported);
  }
}

// Above the scalar cap (which keeps the plain loop as the reference), a channel-first node
// runs the channels-last kernel between two transposes: the same values as that kernel,
// and the same bytes on 1 and 3 threads.
template <typename MakeNode>
void expect_channel_first_via_nhwc(MakeNode& make_node, Isa cap, const std::vector<float>& nhwc_result,
                                   const std::string& nhwc_kernel) {
  if (cap == Isa::kScalar) return;
  Node nchw = make_node(false, cap);
  EXPECT_EQ(nchw.run(), nhwc_result);
  EXPECT_EQ(nchw.kernel_name(), nhwc_kernel + "_via_nhwc");
  ThreadPool pool(3);
  Node threaded = make_node(false, cap);
  EXPECT_EQ(threaded.run_bytes(&pool), nchw.run_bytes());
}

// The fast NHWC paths (packed GEMM on the pixels, im2col blocks and packed GEMM,
// depthwise) under every ISA cap usable here: against the NCHW reference op, and the same
// bytes on 1 and 3 threads.
void check_fast_nhwc_conv(const Shape& xs, const Shape& ws, const Shape& ys, const std::function<void(Node&)>& attrs,
                          FusedActivation act, const char* kernel_prefix) {
  const auto x = random_floats(static_cast<size_t>(numel(xs)), 61);
  const auto w = random_floats(static_cast<size_t>(numel(ws)), 62);
  const auto b = random_floats(static_cast<size_t>(ws[0]), 63);
  auto make_node = [&](bool nhwc, Isa cap) {
    Node node(ops::prepare_Conv, "Conv");
    node.in(make<float>(nhwc ? nhwc_shape(xs) : xs, nhwc ? to_nhwc(xs, x) : x)).in(constant<float>(ws, w)).in(constant<float>({ws[0]}, b));
    node.out(nhwc ? nhwc_shape(ys) : ys).act(act.kind, act.p0, act.p1).isa(cap);
    attrs(node);
    if (nhwc) node.s("layout", "NHWC");
    return node;
  };
  Node reference = make_node(false, Isa::kScalar);
  const std::vector<float> want = reference.run();
  for (Isa cap : usable_caps()) {
    SCOPED_TRACE(std::string("cap ") + isa_name(cap));
    Node fast = make_node(true, cap);
    const std::vector<float> got = to_nchw(ys, fast.run());
    expect_near_all(got, want);
    expect_kernel_for(fast.kernel_name(), kernel_prefix, cap);
    ThreadPool pool(3);
    Node threaded = make_node(true, cap);
    EXPECT_EQ(threaded.run_bytes(&pool), fast.run_bytes());
    expect_channel_first_via_nhwc(make_node, cap, got, fast.kernel_name());
  }
}

TEST(ConvNhwcFast, PointwiseAroundTheTiles) {
  // 126 pixels (not a multiple of 4, 6 or 8 rows), 40 output channels (a partial panel).
  check_fast_nhwc_conv({2, 37, 9, 7}, {40, 37, 1, 1}, {2, 40, 9, 7}, [](Node&) {}, {ActivationKind::kRelu},
                       "f32_gemm_relu_");
  check_fast_nhwc_conv({1, 16, 1, 1}, {33, 16, 1, 1}, {1, 33, 1, 1}, [](Node&) {}, {ActivationKind::kNone},
                       "f32_gemm_");
  check_fast_nhwc_conv({1, 8, 5, 5}, {16, 8, 1, 1}, {1, 16, 5, 5}, [](Node&) {},
                       {ActivationKind::kHardSwish}, "f32_gemm_hardswish_");
  check_fast_nhwc_conv({1, 8, 5, 5}, {40, 8, 1, 1}, {1, 40, 5, 5}, [](Node&) {}, {ActivationKind::kSilu},
                       "f32_gemm_silu_");
}

TEST(ConvNhwcFast, IndirectStridesPadsDilations) {
  // A 3-channel stem of 1600 pixels: more than one block of rows.
  check_fast_nhwc_conv({1, 3, 40, 40}, {16, 3, 3, 3}, {1, 16, 40, 40}, [](Node& n) { n.ints("pads", {1, 1, 1, 1}); },
                       {ActivationKind::kClip, 0.f, 6.f}, "f32_conv_indirect_clip_");
  check_fast_nhwc_conv({1, 3, 17, 16}, {32, 3, 3, 3}, {1, 32, 9, 8},
                       [](Node& n) { n.ints("strides", {2, 2}).ints("pads", {1, 1, 1, 1}); },
                       {ActivationKind::kRelu}, "f32_conv_indirect_relu_");
  // K = 576: a block holds one tile of rows, so 32 pixels make several blocks per worker.
  check_fast_nhwc_conv({2, 64, 6, 7}, {24, 64, 3, 3}, {2, 24, 4, 4},
                       [](Node& n) { n.ints("strides", {2, 1}).ints("dilations", {1, 2}).ints("pads", {1, 0, 2, 1}); },
                       {ActivationKind::kSigmoid}, "f32_conv_indirect_sigmoid_");
  check_fast_nhwc_conv({2, 5, 9, 8}, {33, 5, 5, 5}, {2, 33, 5, 4},
                       [](Node& n) { n.ints("strides", {2, 2}).s("auto_pad", "SAME_UPPER"); },
                       {ActivationKind::kLeakyRelu, 0.1f}, "f32_conv_indirect_leakyrelu_");
  // 81 pixels of K = 576 and 7x7 of K = 2304 (ResNet's late layers): all pixels at once,
  // the panels in the outer loop.
  check_fast_nhwc_conv({1, 64, 9, 9}, {48, 64, 3, 3}, {1, 48, 9, 9},
                       [](Node& n) { n.ints("dilations", {2, 2}).ints("pads", {2, 2, 2, 2}); }, {ActivationKind::kRelu},
                       "f32_conv_indirect_relu_");
  check_fast_nhwc_conv({1, 256, 14, 14}, {72, 256, 3, 3}, {1, 72, 7, 7},
                       [](Node& n) { n.ints("strides", {2, 2}).ints("pads", {1, 1, 1, 1}); }, {ActivationKind::kNone},
                       "f32_conv_indirect_");
  // Pads wider than the kernel: kernel rows wholly in the pads (the shared zero run) and
  // runs of pixels wholly in the left or right pads (gathered as zeros).
  check_fast_nhwc_conv({1, 4, 3, 5}, {8, 4, 2, 3}, {1, 8, 8, 11}, [](Node& n) { n.ints("pads", {3, 4, 3, 4}); },
                       {ActivationKind::kNone}, "f32_conv_indirect_");
}

TEST(ConvNhwcFast, GroupedRunsAGemmPerGroup) {
  // RegNet's shape: groups of 8 channels, stride 2.
  check_fast_nhwc_conv({1, 48, 14, 14}, {48, 8, 3, 3}, {1, 48, 7, 7},
                       [](Node& n) { n.i("group", 6).ints("strides", {2, 2}).ints("pads", {1, 1, 1, 1}); },
                       {ActivationKind::kRelu}, "f32_conv_grouped_relu_");
  // 40 output channels per group (a full and a partial panel), dilation, asymmetric pads.
  check_fast_nhwc_conv({2, 10, 9, 8}, {80, 5, 3, 3}, {2, 80, 7, 7},
                       [](Node& n) { n.i("group", 2).ints("dilations", {2, 2}).ints("pads", {2, 1, 0, 2}); },
                       {ActivationKind::kSigmoid}, "f32_conv_grouped_sigmoid_");
  // A channel multiplier of 4 (one input channel per group).
  check_fast_nhwc_conv({1, 4, 6, 6}, {16, 1, 3, 3}, {1, 16, 6, 6}, [](Node& n) { n.i("group", 4).ints("pads", {1, 1, 1, 1}); },
                       {ActivationKind::kSilu}, "f32_conv_grouped_silu_");
  // Grouped 1x1 (ShuffleNet v1).
  check_fast_nhwc_conv({1, 16, 5, 5}, {24, 4, 1, 1}, {1, 24, 5, 5}, [](Node& n) { n.i("group", 4); },
                       {ActivationKind::kHardSwish}, "f32_conv_grouped_hardswish_");
  // 400 pixels of 64 channels: several blocks of rows per worker.
  check_fast_nhwc_conv({1, 64, 20, 20}, {64, 16, 3, 3}, {1, 64, 20, 20},
                       [](Node& n) { n.i("group", 4).ints("pads", {1, 1, 1, 1}); }, {ActivationKind::kClip, 0.f, 6.f},
                       "f32_conv_grouped_clip_");
}

// Winograd for 3x3 stride-1 convs above the scalar cap, F(4x4, 3x3) from 32 tiles of 4x4
// outputs, else F(2x2, 3x3) from 32 tiles of 2x2: against the NCHW reference op within 1e-4
// of the sum of |products| (the transforms change the rounding), and the same bytes on 1
// and 3 threads.
void check_winograd_conv(int64_t batch, int64_t cin, int64_t cout, int64_t h, int64_t w, int64_t pad, bool has_bias,
                         FusedActivation act) {
  SCOPED_TRACE(std::to_string(batch) + "x" + std::to_string(cin) + "x" + std::to_string(h) + "x" + std::to_string(w) +
               " -> " + std::to_string(cout) + " pad " + std::to_string(pad) + (has_bias ? " bias" : ""));
  const Shape xs = {batch, cin, h, w}, ws = {cout, cin, 3, 3}, ys = {batch, cout, h + 2 * pad - 2, w + 2 * pad - 2};
  const auto x = random_floats(static_cast<size_t>(numel(xs)), 71);
  const auto wt = random_floats(static_cast<size_t>(numel(ws)), 72);
  const auto b = random_floats(static_cast<size_t>(cout), 73);
  auto abs_of = [](std::vector<float> v) {
    for (float& f : v) f = std::fabs(f);
    return v;
  };
  auto make_node = [&](bool nhwc, Isa cap, const std::vector<float>& xv, const std::vector<float>& wv,
                  const std::vector<float>& bv, FusedActivation a) {
    Node node(ops::prepare_Conv, "Conv");
    node.in(make<float>(nhwc ? nhwc_shape(xs) : xs, nhwc ? to_nhwc(xs, xv) : xv)).in(constant<float>(ws, wv));
    if (has_bias) node.in(constant<float>({cout}, bv));
    node.out(nhwc ? nhwc_shape(ys) : ys).act(a.kind, a.p0, a.p1).isa(cap).ints("pads", {pad, pad, pad, pad});
    if (nhwc) node.s("layout", "NHWC");
    return node;
  };
  const std::vector<float> want = make_node(false, Isa::kScalar, x, wt, b, act).run();
  const std::vector<float> scale = make_node(false, Isa::kScalar, abs_of(x), abs_of(wt), abs_of(b), {}).run();
  for (Isa cap : usable_caps()) {
    if (cap == Isa::kScalar) continue;
    SCOPED_TRACE(std::string("cap ") + isa_name(cap));
    Node fast = make_node(true, cap, x, wt, b, act);
    const std::vector<float> got = to_nchw(ys, fast.run());
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 1e-4f * scale[i] + 1e-6f) << "element " << i;
    // Below 32 tiles of 2x2 outputs the conv runs on the indirect GEMM instead.
    const int64_t tiles = batch * ((ys[2] + 1) / 2) * ((ys[3] + 1) / 2);
    const int64_t tiles43 = batch * ((ys[2] + 3) / 4) * ((ys[3] + 3) / 4);
    expect_kernel_for(fast.kernel_name(),
                      tiles43 >= 32 ? "f32_conv_winograd_f43_"
                      : tiles >= 32 ? "f32_conv_winograd_f23_"
                                    : "f32_conv_indirect_",
                      cap);
    ThreadPool pool(3);
    Node threaded = make_node(true, cap, x, wt, b, act);
    EXPECT_EQ(threaded.run_bytes(&pool), fast.run_bytes());
    auto make_same = [&](bool nhwc, Isa c) { return make_node(nhwc, c, x, wt, b, act); };
    expect_channel_first_via_nhwc(make_same, cap, got, fast.kernel_name());
  }
}

TEST(ConvNhwcFast, WinogradOddAndEvenSizes) {
  const FusedActivation relu{ActivationKind::kRelu}, clip{ActivationKind::kClip, -0.5f, 0.5f},
      hardswish{ActivationKind::kHardSwish};
  for (int64_t size = 1; size <= 9; ++size) {
    check_winograd_conv(1, 16, 16, size, size, 1, true, relu);
    if (size >= 3) check_winograd_conv(1, 17, 33, size, size + 1, 0, false, {});
  }
  check_winograd_conv(2, 32, 33, 28, 28, 1, true, relu);
  check_winograd_conv(1, 33, 32, 7, 6, 1, false, clip);
  check_winograd_conv(2, 16, 32, 9, 14, 0, true, hardswish);
  check_winograd_conv(2, 24, 40, 8, 9, 1, true, {ActivationKind::kSilu});
  // Odd sizes of 32 tiles or more: partial tiles at the right and bottom edges.
  check_winograd_conv(1, 16, 16, 11, 13, 1, true, relu);
  check_winograd_conv(2, 17, 33, 12, 11, 0, false, {});
  // 128 channels: blocks of a few tiles, many blocks per worker.
  check_winograd_conv(1, 128, 128, 14, 14, 1, true, relu);
  // F(4x4, 3x3): 36 and 42 tiles (partial 4x4 tiles at the right and bottom edges), two
  // images, and 128 channels in many blocks.
  check_winograd_conv(1, 16, 16, 24, 24, 1, true, relu);
  check_winograd_conv(1, 17, 33, 25, 27, 0, false, {});
  check_winograd_conv(2, 24, 40, 17, 18, 1, true, {ActivationKind::kSilu});
  check_winograd_conv(1, 33, 32, 23, 22, 1, false, clip);
  check_winograd_conv(1, 128, 128, 28, 28, 1, true, relu);
}

TEST(ConvNhwcFast, DepthwiseWindowsAndStrides) {
  // 37 channels: whole channel blocks of 4, 8 and 16 and a partial one.
  auto depthwise = [](int64_t c, int64_t h, int64_t w, int64_t k, int64_t oh, int64_t ow,
                      const std::function<void(Node&)>& attrs, FusedActivation act, const char* prefix) {
    SCOPED_TRACE(std::to_string(k) + "x" + std::to_string(k) + " " + prefix);
    check_fast_nhwc_conv({2, c, h, w}, {c, 1, k, k}, {2, c, oh, ow},
                         [&](Node& n) {
                           n.i("group", c);
                           attrs(n);
                         },
                         act, prefix);
  };
  depthwise(37, 9, 10, 3, 9, 10, [](Node& n) { n.ints("pads", {1, 1, 1, 1}); }, {ActivationKind::kClip, 0.f, 6.f},
            "f32_dwconv_clip_");
  depthwise(37, 9, 10, 3, 4, 5, [](Node& n) { n.ints("strides", {2, 2}).ints("pads", {0, 0, 1, 1}); },
            {ActivationKind::kRelu}, "f32_dwconv_relu_");
  depthwise(24, 11, 9, 5, 11, 9, [](Node& n) { n.ints("pads", {2, 2, 2, 2}); }, {ActivationKind::kHardSwish},
            "f32_dwconv_hardswish_");
  depthwise(24, 11, 9, 5, 6, 5, [](Node& n) { n.ints("strides", {2, 2}).ints("pads", {2, 2, 2, 2}); },
            {ActivationKind::kSigmoid}, "f32_dwconv_sigmoid_");
  depthwise(16, 8, 8, 3, 6, 6, [](Node& n) { n.ints("dilations", {2, 2}).ints("pads", {1, 1, 1, 1}); },
            {ActivationKind::kNone}, "f32_dwconv_");
  depthwise(37, 9, 10, 5, 9, 10, [](Node& n) { n.ints("pads", {2, 2, 2, 2}); }, {ActivationKind::kSilu},
            "f32_dwconv_silu_");
}

// A pointwise Conv, the depthwise Conv after it and optionally the projection after that,
// fused (ops::fuse_conv_chain): the same bytes as the nodes run apart, on 1 and 3
// threads, for bands of one row up to the whole image (band_bytes), under every ISA cap
// that has the fast kernels.
struct FusionCase {
  int64_t batch, cin, channels, h, w, k, stride, dilation;
  Shape pads;  // top, left, bottom, right
  FusedActivation pw_act, dw_act;
  int64_t projected = 0;  // the projection's output channels; 0: no projection
  FusedActivation proj_act = {};
  int64_t first_k = 1;  // the first conv's window (stride 1, "same" pads): 3 for a stem through im2col
};

void check_pointwise_depthwise_fusion(const FusionCase& c) {
  const int64_t window = (c.k - 1) * c.dilation + 1;
  const int64_t oh = (c.h + c.pads[0] + c.pads[2] - window) / c.stride + 1;
  const int64_t ow = (c.w + c.pads[1] + c.pads[3] - window) / c.stride + 1;
  SCOPED_TRACE(std::to_string(c.batch) + "x" + std::to_string(c.h) + "x" + std::to_string(c.w) + "x" +
               std::to_string(c.cin) + " -> " + std::to_string(c.channels) + ", " + std::to_string(c.k) + "x" +
               std::to_string(c.k) + " s" + std::to_string(c.stride) + " d" + std::to_string(c.dilation));
  const Shape xs = {c.batch, c.h, c.w, c.cin}, ts = {c.batch, c.h, c.w, c.channels}, ys = {c.batch, oh, ow, c.channels};
  const auto x = random_floats(static_cast<size_t>(numel(xs)), 91);
  const auto w1 = random_floats(static_cast<size_t>(c.channels * c.cin * c.first_k * c.first_k), 92);
  const auto b1 = random_floats(static_cast<size_t>(c.channels), 93);
  const auto w2 = random_floats(static_cast<size_t>(c.channels * c.k * c.k), 94);
  const auto b2 = random_floats(static_cast<size_t>(c.channels), 95);
  const Shape ps = {c.batch, oh, ow, c.projected};
  const auto w3 = random_floats(static_cast<size_t>(c.projected * c.channels), 96);
  const auto b3 = random_floats(static_cast<size_t>(c.projected), 97);
  auto projection = [&](Isa cap, const std::vector<float>& in) {
    Node n(ops::prepare_Conv, "Conv");
    n.in(make<float>(ys, in)).in(constant<float>({c.projected, c.channels, 1, 1}, w3)).in(constant<float>({c.projected}, b3));
    n.out(ps).act(c.proj_act.kind, c.proj_act.p0, c.proj_act.p1).isa(cap).s("layout", "NHWC");
    return n;
  };
  auto pointwise = [&](Isa cap, const std::vector<float>& in) {
    Node n(ops::prepare_Conv, "Conv");
    n.in(make<float>(xs, in)).in(constant<float>({c.channels, c.cin, c.first_k, c.first_k}, w1)).in(constant<float>({c.channels}, b1));
    n.out(ts).act(c.pw_act.kind, c.pw_act.p0, c.pw_act.p1).isa(cap).s("layout", "NHWC");
    const int64_t pad = c.first_k / 2;
    n.ints("pads", {pad, pad, pad, pad});
    return n;
  };
  auto depthwise = [&](Isa cap, const std::vector<float>& in) {
    Node n(ops::prepare_Conv, "Conv");
    n.in(make<float>(ts, in)).in(constant<float>({c.channels, 1, c.k, c.k}, w2)).in(constant<float>({c.channels}, b2));
    n.out(ys).act(c.dw_act.kind, c.dw_act.p0, c.dw_act.p1).isa(cap).s("layout", "NHWC").i("group", c.channels);
    n.ints("strides", {c.stride, c.stride}).ints("dilations", {c.dilation, c.dilation}).ints("pads", c.pads);
    return n;
  };
  for (Isa cap : usable_caps()) {
    if (cap == Isa::kScalar) continue;  // the scalar cap has no packed depthwise kernel
    SCOPED_TRACE(std::string("cap ") + isa_name(cap));
    const std::vector<float> t = pointwise(cap, x).run();
    Node apart = depthwise(cap, t);
    std::vector<uint8_t> want = apart.run_bytes();
    std::string name = pointwise(cap, x).kernel_name() + "+" + apart.kernel_name();
    std::vector<float> d(want.size() / sizeof(float));  // the depthwise output
    std::memcpy(d.data(), want.data(), want.size());
    if (c.projected) {
      Node proj = projection(cap, d);
      want = proj.run_bytes();
      name += "+" + proj.kernel_name();
    }
    const size_t row_bytes = static_cast<size_t>(c.w * c.channels) * sizeof(float);
    for (size_t band_rows : {size_t{1}, size_t{2}, size_t{5}, static_cast<size_t>(c.h)}) {
      SCOPED_TRACE("band of " + std::to_string(band_rows) + " rows");
      ops::PointwiseDepthwiseFusion tuning;
      tuning.min_expanded_bytes = 0;
      tuning.band_bytes = band_rows * row_bytes;
      for (int threads : {1, 3}) {
        Result<std::unique_ptr<OpKernel>> pw = pointwise(cap, x).prepare();
        Result<std::unique_ptr<OpKernel>> dw = depthwise(cap, t).prepare();
        ASSERT_TRUE(pw.is_ok() && dw.is_ok());
        std::unique_ptr<OpKernel> pw_kernel = std::move(pw).value(), dw_kernel = std::move(dw).value();
        std::unique_ptr<OpKernel> fused = ops::fuse_conv_chain(pw_kernel, dw_kernel, 0, tuning);
        ASSERT_NE(fused, nullptr);
        if (c.projected) {
          Result<std::unique_ptr<OpKernel>> proj = projection(cap, d).prepare();
          ASSERT_TRUE(proj.is_ok());
          std::unique_ptr<OpKernel> proj_kernel = std::move(proj).value();
          fused = ops::fuse_conv_chain(fused, proj_kernel, 0, tuning);
          ASSERT_NE(fused, nullptr);
        }
        EXPECT_EQ(std::string(fused->kernel_name()), name);
        EXPECT_EQ(run_kernel_bytes(*fused, {x.data(), nullptr, nullptr}, want.size(), threads), want)
            << threads << " threads";
      }
    }
  }
}

TEST(ConvNhwcFast, PointwiseDepthwiseFusedGivesTheSameBytes) {
  const FusedActivation none{}, relu6{ActivationKind::kClip, 0.f, 6.f}, relu{ActivationKind::kRelu},
      hardswish{ActivationKind::kHardSwish}, sigmoid{ActivationKind::kSigmoid}, silu{ActivationKind::kSilu};
  // MobileNet's forms: 3x3 stride 1 and 2 with pads 1 (odd and even sizes), ReLU6 on both.
  check_pointwise_depthwise_fusion({1, 8, 48, 13, 11, 3, 1, 1, {1, 1, 1, 1}, relu6, relu6});
  check_pointwise_depthwise_fusion({1, 8, 48, 14, 12, 3, 2, 1, {1, 1, 1, 1}, relu6, relu6});
  check_pointwise_depthwise_fusion({2, 16, 37, 9, 10, 3, 2, 1, {0, 0, 1, 1}, relu, none});
  // 5x5 (MobileNetV3), a partial channel block, an activation the depthwise kernel does not
  // fuse, a dilated window, asymmetric pads and no pads.
  check_pointwise_depthwise_fusion({1, 5, 40, 11, 9, 5, 1, 1, {2, 2, 2, 2}, hardswish, hardswish});
  check_pointwise_depthwise_fusion({2, 7, 24, 12, 7, 5, 2, 1, {2, 2, 1, 1}, none, sigmoid});
  check_pointwise_depthwise_fusion({1, 4, 16, 10, 10, 3, 1, 2, {2, 2, 2, 2}, sigmoid, relu});
  check_pointwise_depthwise_fusion({1, 3, 20, 9, 8, 3, 1, 1, {0, 1, 2, 0}, relu6, none});
  check_pointwise_depthwise_fusion({1, 6, 17, 8, 8, 3, 2, 1, {0, 0, 0, 0}, relu, relu});
  // With the projection: MobileNetV2's block (no activation after it), a partial panel of
  // output channels, an activation the GEMM applies after its tiles, two images.
  check_pointwise_depthwise_fusion({1, 8, 48, 13, 11, 3, 1, 1, {1, 1, 1, 1}, relu6, relu6, 8});
  // EfficientNet's: SiLU after the expansion and the depthwise conv, a projection after.
  check_pointwise_depthwise_fusion({1, 8, 48, 14, 12, 3, 2, 1, {1, 1, 1, 1}, silu, silu, 16});
  check_pointwise_depthwise_fusion({2, 16, 37, 9, 10, 3, 2, 1, {1, 1, 1, 1}, relu6, relu6, 35, relu});
  check_pointwise_depthwise_fusion({1, 5, 40, 11, 9, 5, 1, 1, {2, 2, 2, 2}, hardswish, sigmoid, 12, hardswish});
  // A 3x3 stem through im2col first (MobileNetV2's stem, depthwise and projection), and a
  // 5x5 one-group conv with more channels than one im2col chunk row holds.
  check_pointwise_depthwise_fusion({1, 3, 32, 17, 16, 3, 1, 1, {1, 1, 1, 1}, relu6, relu6, 16, {}, 3});
  check_pointwise_depthwise_fusion({2, 24, 20, 9, 70, 3, 2, 1, {1, 1, 1, 1}, relu, none, 0, {}, 5});
}

TEST(ConvNhwcFast, PointwiseDepthwiseFusionTakesOnlyThatPair) {
  const Isa fast = usable_caps().back();  // the best cap: its packed kernels fuse
  if (fast == Isa::kScalar) GTEST_SKIP() << "this CPU has no SIMD cap with the packed conv kernels";
  auto conv = [&](const Shape& xs, const Shape& ws, const Shape& ys, int64_t group, int64_t pad) {
    Node n(ops::prepare_Conv, "Conv");
    n.in(make<float>(xs, random_floats(static_cast<size_t>(numel(xs)), 1)))
        .in(constant<float>(ws, random_floats(static_cast<size_t>(numel(ws)), 2)));
    n.out(ys).isa(fast).s("layout", "NHWC").i("group", group).ints("pads", {pad, pad, pad, pad});
    Result<std::unique_ptr<OpKernel>> k = n.prepare();
    EXPECT_TRUE(k.is_ok());
    return k.is_ok() ? std::move(k).value() : nullptr;
  };
  ops::PointwiseDepthwiseFusion any_size;
  any_size.min_expanded_bytes = 0;
  auto pw = [&] { return conv({1, 8, 8, 4}, {16, 4, 1, 1}, {1, 8, 8, 16}, 1, 0); };
  auto dw = [&] { return conv({1, 8, 8, 16}, {16, 1, 3, 3}, {1, 8, 8, 16}, 16, 1); };
  auto fuses = [&](std::unique_ptr<OpKernel> a, std::unique_ptr<OpKernel> b, const ops::PointwiseDepthwiseFusion& t) {
    std::unique_ptr<OpKernel> fused = ops::fuse_conv_chain(a, b, 0, t);
    if (!fused) {
      EXPECT_TRUE(a && b) << "a refused pair must keep both kernels";
    }
    return fused != nullptr;
  };
  EXPECT_TRUE(fuses(pw(), dw(), any_size));
  EXPECT_FALSE(fuses(pw(), dw(), {})) << "8x8x16 floats are under the default minimum";
  EXPECT_FALSE(fuses(dw(), pw(), any_size)) << "the order matters";
  EXPECT_FALSE(fuses(pw(), conv({1, 8, 8, 16}, {16, 16, 3, 3}, {1, 8, 8, 16}, 1, 1), any_size)) << "not depthwise";
  EXPECT_FALSE(fuses(pw(), conv({1, 8, 8, 16}, {16, 1, 3, 3}, {1, 12, 12, 16}, 16, 3), any_size))
      << "pads as wide as the window leave bands without input rows";
  EXPECT_FALSE(fuses(conv({1, 8, 8, 4}, {16, 4, 1, 1}, {1, 8, 8, 16}, 1, 0), conv({1, 8, 8, 32}, {32, 1, 3, 3}, {1, 8, 8, 32}, 32, 1), any_size))
      << "the depthwise conv must read the pointwise output whole";
  {
    // A hostile dilation: a window of 131,073 rows would need a band buffer of 64 MiB per
    // worker for an 8x8 map; such a pair runs apart.
    Node n(ops::prepare_Conv, "Conv");
    n.in(make<float>({1, 8, 8, 16}, random_floats(8 * 8 * 16, 3)))
        .in(constant<float>({16, 1, 3, 3}, random_floats(16 * 9, 4)));
    n.out({1, 8, 8, 16}).isa(fast).s("layout", "NHWC").i("group", 16);
    n.ints("dilations", {65536, 1}).ints("pads", {131072, 1, 0, 1});
    Result<std::unique_ptr<OpKernel>> k = n.prepare();
    ASSERT_TRUE(k.is_ok()) << k.status().message();
    EXPECT_FALSE(fuses(pw(), std::move(k).value(), any_size)) << "a window of hostile size";
  }
  // A projection joins once, and only a pointwise conv over the depthwise output.
  std::unique_ptr<OpKernel> a = pw(), b = dw();
  std::unique_ptr<OpKernel> pair = ops::fuse_conv_chain(a, b, 0, any_size);
  ASSERT_NE(pair, nullptr);
  std::unique_ptr<OpKernel> wrong = conv({1, 8, 8, 8}, {4, 8, 1, 1}, {1, 8, 8, 4}, 1, 0);
  EXPECT_EQ(ops::fuse_conv_chain(pair, wrong, 0, any_size), nullptr) << "8 input channels, not 16";
  EXPECT_TRUE(pair && wrong);
  std::unique_ptr<OpKernel> other_dw = dw();
  EXPECT_EQ(ops::fuse_conv_chain(pair, other_dw, 0, any_size), nullptr) << "not pointwise";
  std::unique_ptr<OpKernel> proj = conv({1, 8, 8, 16}, {4, 16, 1, 1}, {1, 8, 8, 4}, 1, 0);
  pair = ops::fuse_conv_chain(pair, proj, 0, any_size);
  ASSERT_NE(pair, nullptr);
  std::unique_ptr<OpKernel> second = conv({1, 8, 8, 16}, {4, 16, 1, 1}, {1, 8, 8, 4}, 1, 0);
  EXPECT_EQ(ops::fuse_conv_chain(pair, second, 0, any_size), nullptr) << "one projection";
  EXPECT_TRUE(pair && second);
}

// ---------------------------------------------------------------------------------------
// ConvTranspose

// A residual Add after a one-group conv (fuse_conv_chain): the conv kernel adds the Add's
// other input to its output tiles, with the bytes of the two run apart, whichever input of
// the Add reads the conv, on 1 and 3 threads; for the pointwise GEMM and for a KxK conv on
// indirect rows, at the best cap and the scalar one.
TEST(ConvNhwcFast, ResidualAddFusedGivesTheSameBytes) {
  struct Case {
    Shape xs, ws, ys;
    int64_t pad;
  };
  // The last: few pixels of deep rows, run with the panels outside (all pixels at once).
  const std::vector<Case> cases = {{{1, 13, 11, 8}, {40, 8, 1, 1}, {1, 13, 11, 40}, 0},
                                   {{2, 9, 10, 3}, {24, 3, 3, 3}, {2, 9, 10, 24}, 1},
                                   {{1, 9, 9, 256}, {72, 256, 2, 2}, {1, 10, 10, 72}, 1}};
  for (Isa cap : {Isa::kScalar, usable_caps().back()})
    for (const Case& c : cases)
      for (size_t slot : {0, 1}) {
        SCOPED_TRACE(std::string(isa_name(cap)) + " kernel " + std::to_string(c.ws[2]) + " slot " + std::to_string(slot));
        const auto x = random_floats(static_cast<size_t>(numel(c.xs)), 11);
        const auto r = random_floats(static_cast<size_t>(numel(c.ys)), 12);
        auto conv = [&] {
          Node n(ops::prepare_Conv, "Conv");
          n.in(make<float>(c.xs, x)).in(constant<float>(c.ws, random_floats(static_cast<size_t>(numel(c.ws)), 13)));
          n.in(constant<float>({c.ws[0]}, random_floats(static_cast<size_t>(c.ws[0]), 14)));
          n.out(c.ys).act(ActivationKind::kClip, 0.f, 6.f).isa(cap).s("layout", "NHWC");
          n.ints("pads", {c.pad, c.pad, c.pad, c.pad});
          return n;
        };
        const std::vector<float> t = conv().run();
        auto add = [&] {
          Node n(ops::prepare_Add, "Add");
          n.in(make<float>(c.ys, slot == 0 ? t : r)).in(make<float>(c.ys, slot == 0 ? r : t)).out(c.ys).isa(cap);
          return n;
        };
        const std::vector<uint8_t> want = add().run_bytes();
        for (int threads : {1, 3}) {
          std::unique_ptr<OpKernel> conv_kernel = std::move(conv().prepare()).value();
          std::unique_ptr<OpKernel> add_kernel = std::move(add().prepare()).value();
          const std::string name = std::string(conv_kernel->kernel_name()) + "+" + add_kernel->kernel_name();
          std::unique_ptr<OpKernel> fused = ops::fuse_conv_chain(conv_kernel, add_kernel, slot);
          ASSERT_NE(fused, nullptr);
          EXPECT_EQ(std::string(fused->kernel_name()), name);
          std::unique_ptr<OpKernel> second = std::move(add().prepare()).value();
          EXPECT_EQ(ops::fuse_conv_chain(fused, second, slot), nullptr) << "one Add";
          ASSERT_TRUE(fused && second);
          const std::vector<const void*> inputs = {slot == 0 ? x.data() : r.data(), slot == 0 ? r.data() : x.data()};
          EXPECT_EQ(run_kernel_bytes(*fused, inputs, want.size(), threads), want) << threads << " threads";
        }
      }
}

TEST(ConvNhwcFast, ResidualAddFusionTakesOnlySameShapeAdds) {
  const Isa fast = usable_caps().back();
  auto kernel = [](Node n) {
    Result<std::unique_ptr<OpKernel>> k = n.prepare();
    EXPECT_TRUE(k.is_ok());
    return k.is_ok() ? std::move(k).value() : nullptr;
  };
  auto conv = [&](const Shape& ws, int64_t group, int64_t channels) {
    Node n(ops::prepare_Conv, "Conv");
    n.in(make<float>({1, 6, 6, channels}, random_floats(static_cast<size_t>(36 * channels), 1)))
        .in(constant<float>(ws, random_floats(static_cast<size_t>(numel(ws)), 2)));
    n.out({1, 6, 6, ws[0]}).isa(fast).s("layout", "NHWC").i("group", group).ints("pads", {ws[2] / 2, ws[2] / 2, ws[2] / 2, ws[2] / 2});
    return kernel(n);
  };
  auto add = [&](const Shape& other) {
    Node n(ops::prepare_Add, "Add");
    n.in(make<float>({1, 6, 6, 16}, random_floats(576, 3))).in(make<float>(other, random_floats(static_cast<size_t>(numel(other)), 4)));
    n.out({1, 6, 6, 16}).isa(fast);
    return kernel(n);
  };
  auto fuses = [](std::unique_ptr<OpKernel> a, std::unique_ptr<OpKernel> b, size_t slot) {
    std::unique_ptr<OpKernel> fused = ops::fuse_conv_chain(a, b, slot);
    if (!fused) {
      EXPECT_TRUE(a && b) << "a refused pair must keep both kernels";
    }
    return fused != nullptr;
  };
  EXPECT_TRUE(fuses(conv({16, 4, 1, 1}, 1, 4), add({1, 6, 6, 16}), 0));
  EXPECT_FALSE(fuses(conv({16, 4, 1, 1}, 1, 4), add({16}), 0)) << "a broadcast Add";
  EXPECT_FALSE(fuses(conv({16, 4, 1, 1}, 1, 4), add({1, 6, 6, 16}), 2)) << "no third input";
  EXPECT_FALSE(fuses(conv({16, 1, 3, 3}, 16, 16), add({1, 6, 6, 16}), 0)) << "a depthwise conv";
  // An expansion and depthwise pair takes an Add only once it has its projection.
  ops::PointwiseDepthwiseFusion any_size;
  any_size.min_expanded_bytes = 0;
  std::unique_ptr<OpKernel> pw = conv({16, 4, 1, 1}, 1, 4), dw = conv({16, 1, 3, 3}, 16, 16);
  std::unique_ptr<OpKernel> pair = ops::fuse_conv_chain(pw, dw, 0, any_size);
  ASSERT_NE(pair, nullptr);
  std::unique_ptr<OpKernel> residual = add({1, 6, 6, 16});
  EXPECT_EQ(ops::fuse_conv_chain(pair, residual, 0), nullptr) << "no projection yet";
  EXPECT_TRUE(pair && residual);
}

TEST(ConvTranspose, HandComputed1d) {
  Node node(ops::prepare_ConvTranspose, "ConvTranspose");
  node.in(make<float>({1, 1, 3}, {0, 1, 2})).in(constant<float>({1, 2, 3}, std::vector<float>(6, 1.f))).out({1, 2, 5});
  expect_near_all(node.run(), {0, 1, 3, 3, 2, 0, 1, 3, 3, 2});
}

void check_conv_transpose(const ConvCase& c, Node& node, ActivationKind act = ActivationKind::kNone) {
  const auto x = random_floats(static_cast<size_t>(numel(c.x_shape)), 11);
  const auto w = random_floats(static_cast<size_t>(numel(c.w_shape)), 12);
  const int64_t m = c.w_shape[1] * c.group;
  const auto b = random_floats(static_cast<size_t>(m), 13);
  node.in(make<float>(c.x_shape, x)).in(constant<float>(c.w_shape, w));
  if (c.bias) node.in(constant<float>({m}, b));
  node.out(conv_out_shape(c, m));
  if (act != ActivationKind::kNone) node.act(act);
  auto want = naive_conv_transpose(c, x, w, b);
  if (act == ActivationKind::kRelu) want = relu(want);
  expect_near_all(node.run(), want);
}

TEST(ConvTranspose, GroupedStridedDilatedPadded) {
  // out = s * (in - 1) + output_padding + (k - 1) * d + 1 - pads
  // H: 3 * 2 + 1 + 2 * 2 + 1 - (1 + 2) = 9; W: 2 * 3 + 0 + 1 * 1 + 1 - (0 + 1) = 7
  ConvCase c{{2, 4, 3, 4}, {4, 3, 3, 2}, 2, {3, 2}, {2, 1}, {1, 0}, {9, 7}, true};
  Node node(ops::prepare_ConvTranspose, "ConvTranspose");
  node.i("group", 2).ints("strides", {3, 2}).ints("dilations", {2, 1}).ints("pads", {1, 0, 2, 1});
  node.ints("output_padding", {1, 0});
  check_conv_transpose(c, node);
}

TEST(ConvTranspose, OutputShapeDerivesPads) {
  // full extent H: 3 * 2 + 3 = 9, W: 2 * 2 + 3 = 7; output_shape 10 x 8: total pads -1,
  // so the pads at the start are -1 - floor(-1 / 2) = 0 and the extra row/col is at the end.
  ConvCase c{{1, 1, 3, 3}, {1, 2, 3, 3}, 1, {3, 2}, {1, 1}, {0, 0}, {10, 8}, false};
  Node node(ops::prepare_ConvTranspose, "ConvTranspose");
  node.ints("strides", {3, 2}).ints("output_shape", {10, 8});
  check_conv_transpose(c, node);
}

TEST(ConvTranspose, OutputShapeSmallerThanFull) {
  // full 9 x 7, output 7 x 6: total pads 2 and 1 -> start pads 1 and 1 (NOTSET puts the odd one first).
  ConvCase c{{1, 2, 3, 3}, {2, 1, 3, 3}, 1, {3, 2}, {1, 1}, {1, 1}, {7, 6}, true};
  Node node(ops::prepare_ConvTranspose, "ConvTranspose");
  node.ints("strides", {3, 2}).ints("output_shape", {1, 1, 7, 6});
  check_conv_transpose(c, node);
}

TEST(ConvTranspose, AutoPadSameUpper) {
  // out = in * stride = 6; full 2 * 2 + 3 = 7; total 1 -> SAME_UPPER puts 0 at the start.
  ConvCase c{{1, 1, 3, 3}, {1, 2, 3, 3}, 1, {2, 2}, {1, 1}, {0, 0}, {6, 6}, true};
  Node node(ops::prepare_ConvTranspose, "ConvTranspose");
  node.s("auto_pad", "SAME_UPPER").ints("strides", {2, 2});
  check_conv_transpose(c, node);
}

TEST(ConvTranspose, AutoPadSameLower) {
  ConvCase c{{1, 1, 3, 3}, {1, 2, 3, 3}, 1, {2, 2}, {1, 1}, {1, 1}, {6, 6}, true};
  Node node(ops::prepare_ConvTranspose, "ConvTranspose");
  node.s("auto_pad", "SAME_LOWER").ints("strides", {2, 2});
  check_conv_transpose(c, node);
}

TEST(ConvTranspose, ThreeDimensionalWithRelu) {
  // s * (in - 1) + k - pads: D: 1 * 2 + 2 - 0 = 4; H: 2 * 2 + 3 - 2 = 5; W: 1 * 1 + 2 - 0 = 3
  ConvCase c{{1, 2, 3, 3, 2}, {2, 2, 2, 3, 2}, 1, {1, 2, 1}, {1, 1, 1}, {0, 1, 0}, {4, 5, 3}, true};
  Node node(ops::prepare_ConvTranspose, "ConvTranspose");
  node.ints("strides", {1, 2, 1}).ints("pads", {0, 1, 0, 0, 1, 0});
  check_conv_transpose(c, node, ActivationKind::kRelu);
}

TEST(ConvTranspose, PrepareErrors) {
  {  // weight dim 0 must be the input channels
    Node n(ops::prepare_ConvTranspose, "ConvTranspose");
    n.in(make<float>({1, 2, 3, 3}, std::vector<float>(18))).in(constant<float>({3, 1, 3, 3}, std::vector<float>(27))).out({1, 1, 5, 5});
    expect_error(n, Status::kBadModel);
  }
  {  // planned shape differs
    Node n(ops::prepare_ConvTranspose, "ConvTranspose");
    n.in(make<float>({1, 2, 3, 3}, std::vector<float>(18))).in(constant<float>({2, 1, 3, 3}, std::vector<float>(18))).out({1, 1, 6, 6});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n(ops::prepare_ConvTranspose, "ConvTranspose");
    n.in(make<float>({1, 2, 3, 3}, std::vector<float>(18))).in(constant<float>({2, 1, 3, 3}, std::vector<float>(18)));
    n.ints("output_padding", {1}).out({1, 1, 5, 5});
    expect_error(n, Status::kBadModel);
  }
}

}  // namespace
}  // namespace pare::rt
