// The int8 Conv, Gemm and MatMul ops, called through the Conv/Gemm/MatMul factories with
// quantized 8-bit inputs: every path (pointwise, depthwise, im2col, the scalar reference for
// grouped and NCHW convolutions, Gemm, MatMul) under every usable ISA cap and thread count
// is compared byte for byte with a plain computation written out here (int64 sums, then the
// shared requantize()).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/qgemm/qgemm.h"
#include "runtime/kernels/quant/requant.h"
#include "runtime/op.h"
#include "runtime/ops/ops.h"
#include "runtime/thread_pool.h"
#include "tests/runtime/op_harness.h"

namespace pare::rt {
namespace {

using namespace op_harness;
using kernels::Requant;

// Prints each kernel name the first time a test prepares it (which variants ran).
void note_kernel(const std::string& name) {
  static std::set<std::string> seen;
  if (seen.insert(name).second) std::printf("kernel %s\n", name.c_str());
}

// ---- Quantized data and the plain computation ------------------------------------------

// Scales and zero points of one case; the output scale keeps most outputs inside the range.
struct QParams {
  bool is_signed = false;
  float sx = 0.02f, sy = 1.f;
  int32_t zx = 0, zy = 0;
  std::vector<float> sw;  // one per output channel (or one)
};

QParams make_qparams(bool is_signed, int64_t channels, bool per_channel, int64_t k, std::mt19937* rng) {
  QParams q;
  q.is_signed = is_signed;
  std::uniform_int_distribution<int32_t> zp(is_signed ? -40 : 70, is_signed ? 40 : 190);
  q.zx = zp(*rng);
  q.zy = zp(*rng);
  std::uniform_real_distribution<float> sw(0.002f, 0.02f);
  q.sw.resize(per_channel ? static_cast<size_t>(channels) : 1);
  for (float& s : q.sw) s = sw(*rng);
  // acc ~ sqrt(k) * 74 * 73 (uniform bytes and weights): aim at outputs of spread ~60.
  q.sy = q.sx * 0.011f * 5400.f * std::sqrt(static_cast<float>(std::max<int64_t>(k, 1))) / 60.f;
  return q;
}

std::vector<uint8_t> random_bytes(size_t n, std::mt19937* rng) {
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (uint8_t& x : v) x = static_cast<uint8_t>(d(*rng));
  return v;
}

std::vector<int8_t> random_weights(size_t n, std::mt19937* rng) {
  std::uniform_int_distribution<int> d(-127, 127);
  std::vector<int8_t> v(n);
  for (int8_t& x : v) x = static_cast<int8_t>(d(*rng));
  return v;
}

// Of the size of a sum of k products (so that outputs stay spread).
std::vector<int32_t> random_bias(size_t n, int64_t k, std::mt19937* rng) {
  const auto range = static_cast<int32_t>(3000 * std::sqrt(static_cast<double>(std::max<int64_t>(k, 1))));
  std::uniform_int_distribution<int32_t> d(-range, range);
  std::vector<int32_t> v(n);
  for (int32_t& x : v) x = d(*rng);
  return v;
}

int32_t byte_value(uint8_t b, bool is_signed) {
  return is_signed ? static_cast<int32_t>(static_cast<int8_t>(b)) : static_cast<int32_t>(b);
}

// The bytes of one output from its exact sum.
uint8_t requantize_output(int64_t acc, const QParams& q, int64_t channel, const FusedActivation& act) {
  EXPECT_LT(std::llabs(acc), int64_t{1} << 31);
  Requant rq;
  EXPECT_TRUE(kernels::requant_from_scale(
      static_cast<double>(q.sx) * q.sw[q.sw.size() == 1 ? 0 : static_cast<size_t>(channel)] / q.sy, &rq));
  float lo_real = -INFINITY, hi_real = INFINITY;
  if (act.kind == ActivationKind::kRelu) lo_real = 0.f;
  if (act.kind == ActivationKind::kClip) {
    lo_real = act.p0;
    hi_real = act.p1;
  }
  int32_t lo = 0, hi = 0;
  kernels::q8_clamp_range(q.is_signed, q.sy, q.zy, lo_real, hi_real, &lo, &hi);
  return static_cast<uint8_t>(kernels::requantize(static_cast<int32_t>(acc), rq, q.zy, lo, hi));
}

Tensor activation_tensor(const QParams& q, const Shape& shape, std::vector<uint8_t> bytes) {
  Tensor t = make(shape, bytes, q.is_signed ? DType::kInt8 : DType::kUInt8, false);
  quantize(&t.desc, {q.sx}, {q.zx}, -1);
  return t;
}

TensorDesc output_desc(const QParams& q, const Shape& shape) {
  TensorDesc d;
  d.dtype = q.is_signed ? DType::kInt8 : DType::kUInt8;
  d.shape = shape;
  d.quantized = true;
  d.quant.scales = {q.sy};
  d.quant.zero_points = {q.zy};
  return d;
}

Tensor weight_tensor(const QParams& q, const Shape& shape, const std::vector<int8_t>& w, int32_t axis) {
  Tensor t = make(shape, w, DType::kInt8, true);
  quantize(&t.desc, q.sw, std::vector<int64_t>(q.sw.size(), 0), q.sw.size() == 1 ? -1 : axis);
  return t;
}

// ---- Conv ------------------------------------------------------------------------------

struct ConvCase {
  int64_t batch = 1, cin = 8, h = 6, w = 6, cout = 8, group = 1, kh = 1, kw = 1;
  int64_t stride = 1, dilation = 1;
  Shape pads = {0, 0, 0, 0};  // top, left, bottom, right
  bool nhwc = true, is_signed = false, bias = true, per_channel = true;
  FusedActivation act;
  const char* path = "q8_conv_pointwise";  // in the expected kernel name
  // In the expected kernel name instead, under ISA caps whose int8 GEMM multiplies int16
  // operands (AVX2's vpmaddwd, NEON's smlal: a 3x3 stride-1 conv there runs as int8 Winograd).
  const char* int16_gemm_path = nullptr;
};

std::string describe(const ConvCase& c) {
  return "N" + std::to_string(c.batch) + " Cin" + std::to_string(c.cin) + " " + std::to_string(c.h) + "x" +
         std::to_string(c.w) + " Cout" + std::to_string(c.cout) + " g" + std::to_string(c.group) + " k" +
         std::to_string(c.kh) + "x" + std::to_string(c.kw) + " s" + std::to_string(c.stride) + " d" +
         std::to_string(c.dilation) + " pads " + shape_str(c.pads) + (c.nhwc ? " NHWC" : " NCHW") +
         (c.is_signed ? " s8" : " u8") + (c.bias ? " bias" : "") + " act" + std::to_string(static_cast<int>(c.act.kind));
}

void check_conv(const ConvCase& c, uint32_t seed) {
  SCOPED_TRACE(describe(c));
  std::mt19937 rng(seed);
  const int64_t cin_g = c.cin / c.group, cout_g = c.cout / c.group;
  const int64_t oh = (c.h + c.pads[0] + c.pads[2] - ((c.kh - 1) * c.dilation + 1)) / c.stride + 1;
  const int64_t ow = (c.w + c.pads[1] + c.pads[3] - ((c.kw - 1) * c.dilation + 1)) / c.stride + 1;
  const QParams q = make_qparams(c.is_signed, c.cout, c.per_channel, cin_g * c.kh * c.kw, &rng);
  const Shape x_shape = c.nhwc ? Shape{c.batch, c.h, c.w, c.cin} : Shape{c.batch, c.cin, c.h, c.w};
  const Shape y_shape = c.nhwc ? Shape{c.batch, oh, ow, c.cout} : Shape{c.batch, c.cout, oh, ow};
  const std::vector<uint8_t> x = random_bytes(static_cast<size_t>(numel(x_shape)), &rng);
  const std::vector<int8_t> w = random_weights(static_cast<size_t>(c.cout * cin_g * c.kh * c.kw), &rng);
  const std::vector<int32_t> b = random_bias(static_cast<size_t>(c.cout), cin_g * c.kh * c.kw, &rng);
  auto x_at = [&](int64_t n, int64_t ch, int64_t y, int64_t xx) {
    const int64_t i = c.nhwc ? ((n * c.h + y) * c.w + xx) * c.cin + ch : ((n * c.cin + ch) * c.h + y) * c.w + xx;
    return byte_value(x[static_cast<size_t>(i)], c.is_signed);
  };

  // The plain computation.
  std::vector<uint8_t> want(static_cast<size_t>(numel(y_shape)));
  for (int64_t n = 0; n < c.batch; ++n)
    for (int64_t m = 0; m < c.cout; ++m)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          int64_t acc = c.bias ? b[static_cast<size_t>(m)] : 0;
          const int64_t g = m / cout_g;
          for (int64_t ci = 0; ci < cin_g; ++ci)
            for (int64_t ky = 0; ky < c.kh; ++ky)
              for (int64_t kx = 0; kx < c.kw; ++kx) {
                const int64_t iy = oy * c.stride - c.pads[0] + ky * c.dilation;
                const int64_t ix = ox * c.stride - c.pads[1] + kx * c.dilation;
                if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w) continue;  // a pad is a real zero
                const int64_t wv = w[static_cast<size_t>(((m * cin_g + ci) * c.kh + ky) * c.kw + kx)];
                acc += (x_at(n, g * cin_g + ci, iy, ix) - q.zx) * wv;
              }
          const int64_t i = c.nhwc ? ((n * oh + oy) * ow + ox) * c.cout + m : ((n * c.cout + m) * oh + oy) * ow + ox;
          want[static_cast<size_t>(i)] = requantize_output(acc, q, m, c.act);
        }

  auto build = [&]() {
    Node node(ops::prepare_Conv, "Conv");
    node.in(activation_tensor(q, x_shape, x)).in(weight_tensor(q, {c.cout, cin_g, c.kh, c.kw}, w, 0));
    if (c.bias) node.in(make({c.cout}, b, DType::kInt32, true));
    node.out(output_desc(q, y_shape))
        .ints("kernel_shape", {c.kh, c.kw})
        .ints("strides", {c.stride, c.stride})
        .ints("dilations", {c.dilation, c.dilation})
        .ints("pads", c.pads)
        .i("group", c.group)
        .act(c.act.kind, c.act.p0, c.act.p1);
    if (c.nhwc) node.s("layout", "NHWC");
    return node;
  };
  ThreadPool pool2(2), pool3(3);
  for (Isa cap : usable_int8_caps()) {
    SCOPED_TRACE(isa_name(cap));
    Node node = build();
    std::string name;
    const std::vector<uint8_t> got = node.isa(cap).run_bytes(nullptr, &name);
    note_kernel(name);
    const Isa gemm_isa = kernels::select_qgemm(cap).isa;
    const bool int16_gemm = gemm_isa == Isa::kAvx2 || gemm_isa == Isa::kNeon;
    EXPECT_NE(name.find(c.int16_gemm_path && int16_gemm ? c.int16_gemm_path : c.path), std::string::npos) << name;
    ASSERT_EQ(got.size(), want.size());
    size_t bad = 0;
    for (size_t i = 0; i < got.size() && bad < 5; ++i)
      if (got[i] != want[i]) {
        ++bad;
        ADD_FAILURE() << name << ": output " << i << " is " << int(got[i]) << ", expected " << int(want[i]);
      }
    EXPECT_EQ(node.isa(cap).run_bytes(&pool2), got) << name << " with 2 threads";
    EXPECT_EQ(node.isa(cap).run_bytes(&pool3), got) << name << " with 3 threads";
  }
}

FusedActivation relu() { return {ActivationKind::kRelu, 0.f, 0.f}; }
FusedActivation clip6() { return {ActivationKind::kClip, 0.f, 6.f}; }

TEST(QConv, Pointwise) {
  uint32_t seed = 1;
  // Pixels and channels around the tiles (MR 4/6/8, NR 8/16/32) with odd remainders.
  for (int64_t hw : {1, 5, 7, 9})
    for (int64_t cin : {1, 3, 16, 19, 64})
      for (int64_t cout : {1, 8, 17, 33, 64}) {
        ConvCase c;
        c.h = hw;
        c.w = hw + 1;
        c.cin = cin;
        c.cout = cout;
        c.is_signed = seed % 2 == 0;
        c.bias = seed % 3 != 0;
        check_conv(c, seed++);
      }
}

TEST(QConv, PointwiseActivationsAndBatch) {
  uint32_t seed = 100;
  for (bool is_signed : {false, true})
    for (FusedActivation act : {FusedActivation{}, relu(), clip6()}) {
      ConvCase c;
      c.batch = 2;
      c.h = 11;
      c.w = 13;
      c.cin = 24;
      c.cout = 40;
      c.is_signed = is_signed;
      c.act = act;
      check_conv(c, seed++);
      c.per_channel = false;
      check_conv(c, seed++);
    }
}

TEST(QConv, Depthwise) {
  uint32_t seed = 200;
  for (int64_t k : {3, 5})
    for (int64_t stride : {1, 2})
      for (int64_t channels : {1, 8, 16, 24, 37})
        for (bool is_signed : {false, true}) {
          ConvCase c;
          c.h = 9;
          c.w = 10;
          c.cin = c.cout = c.group = channels;
          c.kh = c.kw = k;
          c.stride = stride;
          c.pads = {k / 2, k / 2, k / 2, k / 2};
          c.is_signed = is_signed;
          c.bias = channels != 8;
          c.act = seed % 3 == 0 ? relu() : seed % 3 == 1 ? clip6() : FusedActivation{};
          c.path = channels == 1 ? "q8_conv_im2col" : "q8_conv_depthwise";  // one channel: group 1
          check_conv(c, seed++);
        }
  // Batch 2, asymmetric pads, dilation.
  ConvCase c;
  c.batch = 2;
  c.h = c.w = 8;
  c.cin = c.cout = c.group = 32;
  c.kh = c.kw = 3;
  c.pads = {0, 1, 1, 0};
  c.path = "q8_conv_depthwise";
  check_conv(c, seed++);
  c.dilation = 2;
  c.pads = {2, 2, 2, 2};
  c.is_signed = true;
  check_conv(c, seed++);
}

TEST(QConv, Im2col) {
  uint32_t seed = 300;
  for (int64_t k : {3, 5})
    for (int64_t stride : {1, 2})
      for (bool is_signed : {false, true})
        for (int64_t cin : {3, 8, 21}) {
          ConvCase c;
          c.h = 11;
          c.w = 9;
          c.cin = cin;
          c.cout = cin == 3 ? 32 : 19;
          c.kh = c.kw = k;
          c.stride = stride;
          c.pads = {k / 2, k / 2, k / 2, k / 2};
          c.is_signed = is_signed;
          c.bias = cin != 8;
          c.act = seed % 3 == 0 ? relu() : seed % 3 == 1 ? clip6() : FusedActivation{};
          c.path = "q8_conv_im2col";
          if (k == 3 && stride == 1 && cin >= 16) c.int16_gemm_path = "q8_conv_winograd_f23";
          check_conv(c, seed++);
        }
  // Windows of at most 16 (32) bytes per kernel row take the 16-byte (32-byte) copies: runs
  // of pixels cut by pads, by the end of X and (at 2 and 3 threads) by the blocks; 1-row and
  // 1-column kernels; 5 channels under 5 columns are 25 bytes.
  for (const auto& [kh, kw] : std::vector<std::pair<int64_t, int64_t>>{{1, 5}, {5, 1}, {2, 3}, {3, 3}})
    for (int64_t cin : {1, 2, 5}) {
      ConvCase c;
      c.batch = cin == 2 ? 2 : 1;
      c.h = 7;
      c.w = 10 + cin;
      c.cin = cin;
      c.cout = 9;
      c.kh = kh;
      c.kw = kw;
      c.stride = cin;
      c.pads = {kh / 2, 0, 0, kw - 1};
      c.path = "q8_conv_im2col";
      check_conv(c, seed++);
    }
  // Stems over 3 channels, batch 2: MobileNetV2's (3x3 s2, asymmetric pads: 9-byte window
  // rows) and ResNet-18's (7x7 s2 pads 3: 21-byte window rows; an odd size, so that the last
  // windows end at X's last byte).
  const auto stem = [&](int64_t size, int64_t k, int64_t cout, Shape pads, FusedActivation act) {
    ConvCase c;
    c.batch = 2;
    c.h = c.w = size;
    c.cin = 3;
    c.cout = cout;
    c.kh = c.kw = k;
    c.stride = 2;
    c.pads = pads;
    c.act = act;
    c.path = "q8_conv_im2col";
    check_conv(c, seed++);
  };
  stem(17, 3, 32, {0, 0, 1, 1}, clip6());
  stem(19, 7, 64, {3, 3, 3, 3}, relu());
  // A strided 1x1.
  ConvCase s;
  s.cin = 16;
  s.cout = 24;
  s.h = s.w = 9;
  s.stride = 2;
  s.is_signed = true;
  s.path = "q8_conv_im2col";
  check_conv(s, seed++);
}

// 3x3 stride-1 convs with 16 input channels or more and 16 tiles of 2x2 outputs or more:
// int8 Winograd where the int8 GEMM multiplies int16 operands, im2col elsewhere; the same bytes
// as the plain computation either way. Channels around the 16-lane chunks and the 8- and
// 16-column vectors, odd sizes (tiles clipped), pads 0 and 1, two images, both signs, every
// clamp, 2 and 3 threads.
TEST(QConv, Winograd) {
  uint32_t seed = 700;
  struct Image {
    int64_t batch, h, w, pad;
  };
  for (const Image& im : {Image{1, 11, 9, 1}, Image{2, 7, 7, 1}, Image{1, 10, 12, 0}})
    for (int64_t cin : {16, 21, 64})
      for (int64_t cout : {16, 19, 40}) {
        ConvCase c;
        c.batch = im.batch;
        c.h = im.h;
        c.w = im.w;
        c.cin = cin;
        c.cout = cout;
        c.kh = c.kw = 3;
        c.pads = {im.pad, im.pad, im.pad, im.pad};
        c.is_signed = seed % 2 == 0;
        c.bias = seed % 4 != 0;
        c.act = seed % 3 == 0 ? relu() : seed % 3 == 1 ? clip6() : FusedActivation{};
        c.path = "q8_conv_im2col";
        c.int16_gemm_path = "q8_conv_winograd_f23";
        check_conv(c, seed++);
      }
}

TEST(QConv, ReferencePath) {
  uint32_t seed = 400;
  for (bool is_signed : {false, true}) {
    // NCHW: pointwise, 3x3 with pads and stride, depthwise.
    ConvCase c;
    c.nhwc = false;
    c.is_signed = is_signed;
    c.cin = 5;
    c.cout = 7;
    c.path = "ref__scalar";
    check_conv(c, seed++);
    c.kh = c.kw = 3;
    c.stride = 2;
    c.pads = {1, 1, 1, 1};
    c.act = relu();
    check_conv(c, seed++);
    c.cin = c.cout = c.group = 6;
    c.act = clip6();
    check_conv(c, seed++);
    // NHWC grouped with 3 output channels per group, and channel multiplier 2: fewer than
    // the grouped GEMM takes.
    ConvCase g;
    g.is_signed = is_signed;
    g.cin = 8;
    g.cout = 6;
    g.group = 2;
    g.kh = g.kw = 3;
    g.pads = {1, 1, 1, 1};
    g.path = "ref__scalar";
    check_conv(g, seed++);
    g.cin = 4;
    g.cout = 8;
    g.group = 4;
    check_conv(g, seed++);
  }
}

TEST(QConv, Grouped) {
  uint32_t seed = 500;
  for (bool is_signed : {false, true}) {
    // RegNet's: groups of 8 channels, 3x3 stride 2.
    ConvCase c;
    c.is_signed = is_signed;
    c.cin = c.cout = 48;
    c.group = 6;
    c.h = c.w = 9;
    c.kh = c.kw = 3;
    c.stride = 2;
    c.pads = {1, 1, 1, 1};
    c.act = relu();
    c.path = "q8_conv_grouped";
    check_conv(c, seed++);
    // 40 output channels per group (a full and a partial panel), dilation, asymmetric pads,
    // a batch of two.
    c.batch = 2;
    c.cin = 10;
    c.cout = 80;
    c.group = 2;
    c.stride = 1;
    c.dilation = 2;
    c.pads = {2, 1, 0, 2};
    c.act = clip6();
    check_conv(c, seed++);
    // A channel multiplier of 4 (one input channel per group), and grouped 1x1 convs.
    ConvCase m;
    m.is_signed = is_signed;
    m.cin = 4;
    m.cout = 16;
    m.group = 4;
    m.kh = m.kw = 3;
    m.pads = {1, 1, 1, 1};
    m.path = "q8_conv_grouped";
    check_conv(m, seed++);
    m.cin = 16;
    m.cout = 24;
    m.kh = m.kw = 1;
    m.pads = {0, 0, 0, 0};
    m.bias = false;
    check_conv(m, seed++);
  }
}

TEST(QConv, Refusals) {
  std::mt19937 rng(7);
  const QParams q = make_qparams(false, 4, true, 4, &rng);
  auto node = [&](ActivationKind act, DType w_dtype) {
    Node n(ops::prepare_Conv, "Conv");
    Tensor w = weight_tensor(q, {4, 4, 1, 1}, std::vector<int8_t>(16, 1), 0);
    w.desc.dtype = w_dtype;
    n.in(activation_tensor(q, {1, 3, 3, 4}, std::vector<uint8_t>(36, 1))).in(w);
    n.out(output_desc(q, {1, 3, 3, 4})).s("layout", "NHWC").act(act, 0.f, 0.f);
    return n;
  };
  Status st = node(ActivationKind::kHardSwish, DType::kInt8).prepare().status();
  EXPECT_EQ(st.code(), Status::kUnsupported);
  EXPECT_NE(st.message().find("Relu or Clip"), std::string::npos) << st.message();
  st = node(ActivationKind::kNone, DType::kUInt8).prepare().status();
  EXPECT_EQ(st.code(), Status::kUnsupported) << st.message();
  EXPECT_TRUE(node(ActivationKind::kRelu, DType::kInt8).prepare().is_ok());
}

// ---- Gemm and MatMul -------------------------------------------------------------------

// Y [m, n] from A [m, k] (bytes) and B[p, j] = w[j * row_stride + p * col_stride].
std::vector<uint8_t> plain_gemm(const QParams& q, int64_t m, int64_t n, int64_t k, const std::vector<uint8_t>& a,
                                const std::vector<int8_t>& w, int64_t row_stride, int64_t col_stride,
                                const int32_t* bias, const FusedActivation& act) {
  std::vector<uint8_t> y(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t acc = bias ? bias[j] : 0;
      for (int64_t p = 0; p < k; ++p)
        acc += static_cast<int64_t>(byte_value(a[static_cast<size_t>(i * k + p)], q.is_signed) - q.zx) *
               w[static_cast<size_t>(j * row_stride + p * col_stride)];
      y[static_cast<size_t>(i * n + j)] = requantize_output(acc, q, j, act);
    }
  return y;
}

void expect_all_runs(Node& node, const std::vector<uint8_t>& want, const char* prefix) {
  ThreadPool pool2(2), pool3(3);
  for (Isa cap : usable_int8_caps()) {
    SCOPED_TRACE(isa_name(cap));
    std::string name;
    const std::vector<uint8_t> got = node.isa(cap).run_bytes(nullptr, &name);
    note_kernel(name);
    EXPECT_EQ(name.rfind(prefix, 0), 0u) << name;
    EXPECT_EQ(got, want) << name;
    EXPECT_EQ(node.isa(cap).run_bytes(&pool2), want) << name << " with 2 threads";
    EXPECT_EQ(node.isa(cap).run_bytes(&pool3), want) << name << " with 3 threads";
  }
}

TEST(QGemm, Gemm) {
  uint32_t seed = 500;
  for (int64_t trans_b : {0, 1})
    for (bool is_signed : {false, true})
      for (int64_t m : {1, 7, 9, 17, 40})  // 40: one whole 32-row AMX tile and 8 rows
        for (int64_t n : {1, 15, 33})
          for (int64_t k : {1, 5, 64, 70}) {
            SCOPED_TRACE("transB " + std::to_string(trans_b) + (is_signed ? " s8" : " u8") + " m" +
                         std::to_string(m) + " n" + std::to_string(n) + " k" + std::to_string(k));
            std::mt19937 rng(seed++);
            const bool bias = seed % 2 == 0;
            const FusedActivation act = seed % 3 == 0 ? relu() : seed % 5 == 0 ? clip6() : FusedActivation{};
            const QParams q = make_qparams(is_signed, n, seed % 7 != 0, k, &rng);
            const std::vector<uint8_t> a = random_bytes(static_cast<size_t>(m * k), &rng);
            const std::vector<int8_t> w = random_weights(static_cast<size_t>(k * n), &rng);
            const std::vector<int32_t> b = random_bias(static_cast<size_t>(n), k, &rng);
            const std::vector<uint8_t> want = plain_gemm(q, m, n, k, a, w, trans_b ? k : 1, trans_b ? 1 : n,
                                                         bias ? b.data() : nullptr, act);
            Node node(ops::prepare_Gemm, "Gemm");
            node.in(activation_tensor(q, {m, k}, a))
                .in(weight_tensor(q, trans_b ? Shape{n, k} : Shape{k, n}, w, trans_b ? 0 : 1));
            if (bias) node.in(make({n}, b, DType::kInt32, true));
            node.out(output_desc(q, {m, n})).i("transB", trans_b).act(act.kind, act.p0, act.p1);
            expect_all_runs(node, want, "q8_gemm");
          }
}

TEST(QGemm, MatMul) {
  uint32_t seed = 600;
  for (bool is_signed : {false, true})
    for (const Shape& a_shape : {Shape{2, 3, 40}, Shape{3, 5, 17}, Shape{1, 17}, Shape{17}}) {
      SCOPED_TRACE("A " + shape_str(a_shape) + (is_signed ? " s8" : " u8"));
      std::mt19937 rng(seed++);
      const int64_t k = a_shape.back(), n = seed % 2 ? 24 : 33, m = numel(a_shape) / k;
      const QParams q = make_qparams(is_signed, n, true, k, &rng);
      const std::vector<uint8_t> a = random_bytes(static_cast<size_t>(m * k), &rng);
      const std::vector<int8_t> w = random_weights(static_cast<size_t>(k * n), &rng);
      const std::vector<uint8_t> want = plain_gemm(q, m, n, k, a, w, 1, n, nullptr, relu());
      Shape y_shape(a_shape.begin(), a_shape.end() - 1);
      y_shape.push_back(n);
      Node node(ops::prepare_MatMul, "MatMul");
      node.in(activation_tensor(q, a_shape, a)).in(weight_tensor(q, {k, n}, w, 1));
      node.out(output_desc(q, y_shape)).act(ActivationKind::kRelu);
      expect_all_runs(node, want, "q8_gemm_relu");
    }
}

TEST(QGemm, MatMulOfTwoActivationsIsRefused) {
  std::mt19937 rng(8);
  const QParams q = make_qparams(false, 4, false, 4, &rng);
  Node node(ops::prepare_MatMul, "MatMul");
  Tensor b = activation_tensor(q, {4, 4}, std::vector<uint8_t>(16, 3));
  node.in(activation_tensor(q, {2, 4}, std::vector<uint8_t>(8, 1))).in(b).out(output_desc(q, {2, 4}));
  const Status st = node.prepare().status();
  EXPECT_EQ(st.code(), Status::kUnsupported);
  EXPECT_NE(st.message().find("runs in float"), std::string::npos) << st.message();
}

// ---- Timing: int8 vs float pointwise Conv on MobileNetV2-224 shapes ---------------------
// Run with PARE_QCONV_BENCH=1 (timings are never assertions).

TEST(QConvTiming, PointwiseMobileNetV2) {
  if (!std::getenv("PARE_QCONV_BENCH")) GTEST_SKIP() << "set PARE_QCONV_BENCH=1 to time";
  struct Layer {
    int64_t hw, cin, cout;
  };
  const Layer layers[] = {{112, 32, 16}, {112, 16, 96}, {56, 96, 24},  {56, 24, 144},  {56, 144, 24},
                          {28, 144, 32}, {28, 32, 192}, {14, 192, 64}, {14, 64, 384},  {14, 384, 96},
                          {14, 96, 576}, {7, 576, 160}, {7, 160, 960}, {7, 960, 320}, {7, 320, 1280}};
  const int threads = std::getenv("PARE_QCONV_THREADS") ? std::atoi(std::getenv("PARE_QCONV_THREADS")) : 1;
  std::unique_ptr<ThreadPool> pool(threads > 1 ? new ThreadPool(threads) : nullptr);
  const Isa cap = best_isa();
  double total_f = 0, total_q = 0;
  std::mt19937 rng(9);
  for (const Layer& l : layers) {
    const int runs = static_cast<int>(std::max<int64_t>(5, 2000000000 / (l.hw * l.hw * l.cin * l.cout) / 10));
    const QParams q = make_qparams(false, l.cout, true, l.cin, &rng);
    Node qnode(ops::prepare_Conv, "Conv");
    qnode.in(activation_tensor(q, {1, l.hw, l.hw, l.cin}, random_bytes(static_cast<size_t>(l.hw * l.hw * l.cin), &rng)))
        .in(weight_tensor(q, {l.cout, l.cin, 1, 1}, random_weights(static_cast<size_t>(l.cout * l.cin), &rng), 0))
        .in(make({l.cout}, random_bias(static_cast<size_t>(l.cout), l.cin, &rng), DType::kInt32, true))
        .out(output_desc(q, {1, l.hw, l.hw, l.cout}))
        .s("layout", "NHWC");
    Node fnode(ops::prepare_Conv, "Conv");
    std::vector<float> xf(static_cast<size_t>(l.hw * l.hw * l.cin), 0.5f), wf(static_cast<size_t>(l.cout * l.cin), 0.1f),
        bf(static_cast<size_t>(l.cout), 0.f);
    TensorDesc fy;
    fy.dtype = DType::kFloat32;
    fy.shape = {1, l.hw, l.hw, l.cout};
    fnode.in(make({1, l.hw, l.hw, l.cin}, xf, DType::kFloat32, false))
        .in(make({l.cout, l.cin, 1, 1}, wf, DType::kFloat32, true))
        .in(make({l.cout}, bf, DType::kFloat32, true))
        .out(fy)
        .s("layout", "NHWC");
    std::string qname, fname;
    // The best of alternating rounds: the machine may be shared.
    double q_ms = 1e30, f_ms = 1e30;
    for (int round = 0; round < 7; ++round) {
      double ms = 0;
      qnode.isa(cap).run_bytes(pool.get(), &qname, runs, &ms);
      q_ms = std::min(q_ms, ms);
      fnode.isa(cap).run_bytes(pool.get(), &fname, runs, &ms);
      f_ms = std::min(f_ms, ms);
    }
    total_q += q_ms;
    total_f += f_ms;
    const double macs = static_cast<double>(l.hw * l.hw * l.cin * l.cout);
    std::printf("%3lldx%-3lld %4lld->%-4lld  f32 %7.3f ms (%5.1f GMAC/s)  q8 %7.3f ms (%5.1f GMAC/s)  x%.2f  %s / %s\n",
                static_cast<long long>(l.hw), static_cast<long long>(l.hw), static_cast<long long>(l.cin),
                static_cast<long long>(l.cout), f_ms, macs / f_ms / 1e6, q_ms, macs / q_ms / 1e6, f_ms / q_ms,
                fname.c_str(), qname.c_str());
  }
  std::printf("total: f32 %.3f ms, q8 %.3f ms, x%.2f (%d thread(s))\n", total_f, total_q, total_f / total_q, threads);
}

}  // namespace
}  // namespace pare::rt
