// The int8 forms of the runtime ops, called through their factories with hand-made tensor
// descriptions: QuantizeLinear and DequantizeLinear (per tensor and per axis, constant and
// runtime scales), Add and Mul with broadcasting and a fused Relu/Clip, the table
// activations, and the average pools; each against the float computation (dequantize ->
// float op -> quantize), exactly or within one unit where the float rounding may differ, and
// each ISA usable here against the scalar kernels bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "runtime/op.h"
#include "runtime/ops/ops.h"
#include "tests/runtime/op_harness.h"

namespace pare::rt {
namespace {

using namespace op_harness;

struct Quant {
  bool is_signed = false;
  float scale = 1.f;
  int32_t zero_point = 0;
};

DType q8_dtype(const Quant& q) { return q.is_signed ? DType::kInt8 : DType::kUInt8; }

void set_quant(TensorDesc* d, const Quant& q) { quantize(d, {q.scale}, {q.zero_point}); }

// A quantized 8-bit tensor of random bytes.
Tensor random_q8(const Quant& q, Shape shape, std::mt19937* rng) {
  Tensor t;
  t.desc.name = "x";
  t.desc.dtype = q8_dtype(q);
  t.desc.shape = std::move(shape);
  set_quant(&t.desc, q);
  t.bytes.resize(static_cast<size_t>(t.desc.num_elements()));
  for (uint8_t& b : t.bytes) b = static_cast<uint8_t>((*rng)());
  return t;
}

TensorDesc q8_out(const Quant& q, const Shape& shape) {
  TensorDesc d = out(q8_dtype(q), shape);
  set_quant(&d, q);
  return d;
}

float dequant(uint8_t byte, const Quant& q) {
  const int32_t v = q.is_signed ? static_cast<int8_t>(byte) : byte;
  return static_cast<float>(v - q.zero_point) * q.scale;
}

int32_t quant(float x, const Quant& q, float min = -INFINITY, float max = INFINITY) {
  x = std::min(std::max(x, min), max);
  if (std::isnan(x)) return q.zero_point;
  const float r = std::nearbyint(x / q.scale) + static_cast<float>(q.zero_point);
  return static_cast<int32_t>(std::min<float>(std::max<float>(r, q.is_signed ? -128 : 0), q.is_signed ? 127 : 255));
}

int32_t value(uint8_t byte, bool is_signed) { return is_signed ? static_cast<int8_t>(byte) : byte; }

// Every output byte against want(i) (an integer in y's domain), within `tolerance` units.
void expect_q8(const std::vector<uint8_t>& got, const Quant& qy, const std::function<int32_t(size_t)>& want,
               int tolerance, const std::string& what) {
  int mismatches = 0;
  for (size_t i = 0; i < got.size() && mismatches < 5; ++i) {
    const int32_t g = value(got[i], qy.is_signed), w = want(i);
    if (std::abs(g - w) > tolerance) {
      ADD_FAILURE() << what << " at " << i << ": got " << g << ", want " << w;
      ++mismatches;
    }
  }
}

// ---- QuantizeLinear / DequantizeLinear -------------------------------------------------

TEST(QuantizeLinear, PerTensorConstantAndRuntimeScale) {
  std::vector<float> x = {0.f, 0.5f, 1.f, 1.5f, 2.5f, -2.5f, 3.5f, 1000.f, -1000.f,
                          INFINITY, -INFINITY, NAN, 0.49999997f, 126.f, -129.f};
  for (size_t i = 0; i < 50; ++i) x.push_back(static_cast<float>(i) * 0.37f - 9.f);
  const Shape shape = {static_cast<int64_t>(x.size())};
  const Tensor xt = make<float>(shape, x, DType::kFloat32);
  for (bool is_signed : {false, true}) {
    for (bool constant : {true, false}) {
      const Quant q{is_signed, 0.5f, is_signed ? -3 : 7};
      const Tensor scale = make<float>({}, {q.scale}, DType::kFloat32, constant);
      const Tensor zp = is_signed ? make<int8_t>({}, {static_cast<int8_t>(q.zero_point)}, DType::kInt8, constant)
                                  : make<uint8_t>({}, {static_cast<uint8_t>(q.zero_point)}, DType::kUInt8, constant);
      const TensorDesc y = out(q8_dtype(q), shape);
      for (Isa isa : usable_caps()) {
        const Outcome r = run(ops::prepare_QuantizeLinear, {}, {&xt, &scale, &zp}, {y}, {}, isa);
        EXPECT_OK(r);
        expect_q8(r.outputs[0], q, [&](size_t i) { return quant(x[i], q); }, 0,
                  std::string("quantize ") + r.kernel + (constant ? " constant" : " runtime"));
      }
    }
  }
  // Without a zero point: uint8, zero point 0.
  const Tensor scale = make<float>({}, {2.f}, DType::kFloat32, true);
  const TensorDesc y = out(DType::kUInt8, shape);
  const Outcome r = run(ops::prepare_QuantizeLinear, {}, {&xt, &scale}, {y});
  EXPECT_OK(r);
  expect_q8(r.outputs[0], Quant{false, 2.f, 0}, [&](size_t i) { return quant(x[i], Quant{false, 2.f, 0}); }, 0, "no zp");
}

TEST(QuantizeLinear, PerAxis) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-4.f, 4.f);
  const Shape shape = {2, 3, 5};
  std::vector<float> x(30);
  for (float& v : x) v = dist(rng);
  const Tensor xt = make<float>(shape, x, DType::kFloat32);
  const std::vector<float> scales = {0.02f, 0.05f, 0.1f};
  const std::vector<int8_t> zps = {-5, 0, 17};
  for (bool constant : {true, false}) {
    const Tensor scale = make<float>({3}, scales, DType::kFloat32, constant);
    const Tensor zp = make<int8_t>({3}, zps, DType::kInt8, constant);
    const TensorDesc y = out(DType::kInt8, shape);
    for (Isa isa : usable_caps()) {
      for (int64_t axis : {1, -2}) {
        const Outcome r = run(ops::prepare_QuantizeLinear, {attr_int("axis", axis)}, {&xt, &scale, &zp}, {y}, {}, isa);
        EXPECT_OK(r);
        expect_q8(r.outputs[0], Quant{true, 1.f, 0},
                  [&](size_t i) {
                    const size_t c = i / 5 % 3;
                    return quant(x[i], Quant{true, scales[c], zps[c]});
                  },
                  0, "per axis " + r.kernel);
      }
    }
  }
  // A scale that matches no axis; blocked scales.
  const Tensor bad = make<float>({4}, {1, 1, 1, 1}, DType::kFloat32, true);
  const TensorDesc y = out(DType::kUInt8, shape);
  EXPECT_EQ(run(ops::prepare_QuantizeLinear, {attr_int("axis", 1)}, {&xt, &bad}, {y}).status.code(), Status::kBadModel);
  const Tensor blocked = make<float>({2, 3, 1}, {1, 1, 1, 1, 1, 1}, DType::kFloat32, true);
  EXPECT_EQ(run(ops::prepare_QuantizeLinear, {}, {&xt, &blocked}, {y}).status.code(), Status::kUnsupported);
}

TEST(DequantizeLinear, PerTensorPerAxisAndInt32) {
  std::mt19937 rng(2);
  for (bool is_signed : {false, true}) {
    const Quant q{is_signed, 0.125f, is_signed ? 100 : 200};
    Tensor x = random_q8(q, {4, 33}, &rng);
    x.desc.quantized = false;  // a model input: quantization comes from the node's inputs
    for (bool constant : {true, false}) {
      const Tensor scale = make<float>({}, {q.scale}, DType::kFloat32, constant);
      const Tensor zp = is_signed ? make<int8_t>({}, {static_cast<int8_t>(q.zero_point)}, DType::kInt8, constant)
                                  : make<uint8_t>({}, {static_cast<uint8_t>(q.zero_point)}, DType::kUInt8, constant);
      for (Isa isa : usable_caps()) {
        const Outcome r = run(ops::prepare_DequantizeLinear, {}, {&x, &scale, &zp}, {out(DType::kFloat32, {4, 33})}, {}, isa);
        EXPECT_OK(r);
        std::vector<float> y(132);
        std::memcpy(y.data(), r.outputs[0].data(), r.outputs[0].size());
        for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], dequant(x.bytes[i], q)) << r.kernel << " at " << i;
      }
    }
    // Per axis 0.
    const Tensor scales = make<float>({4}, {0.5f, 1.f, 2.f, 0.25f}, DType::kFloat32, true);
    const Tensor zps = is_signed ? make<int8_t>({4}, {-128, 0, 5, 127}, DType::kInt8, true)
                                 : make<uint8_t>({4}, {0, 255, 5, 128}, DType::kUInt8, true);
    const Outcome r = run(ops::prepare_DequantizeLinear, {attr_int("axis", 0)}, {&x, &scales, &zps}, {out(DType::kFloat32, {4, 33})}, {}, best_isa());
    EXPECT_OK(r);
    std::vector<float> y(132);
    std::memcpy(y.data(), r.outputs[0].data(), r.outputs[0].size());
    const float s[4] = {0.5f, 1.f, 2.f, 0.25f};
    for (size_t i = 0; i < y.size(); ++i) {
      const size_t c = i / 33;
      const int32_t zp = is_signed ? static_cast<int8_t>(zps.bytes[c]) : zps.bytes[c];
      ASSERT_EQ(y[i], dequant(x.bytes[i], Quant{is_signed, s[c], zp})) << "per axis at " << i;
    }
  }
  const Tensor x32 = make<int32_t>({3}, {-1000000, 0, 123456}, DType::kInt32);
  const Tensor s32 = make<float>({}, {0.001f}, DType::kFloat32, true);
  const Tensor z32 = make<int32_t>({}, {6}, DType::kInt32, true);
  const Outcome r = run(ops::prepare_DequantizeLinear, {}, {&x32, &s32, &z32}, {out(DType::kFloat32, {3})});
  EXPECT_OK(r);
  std::vector<float> y(3);
  std::memcpy(y.data(), r.outputs[0].data(), 12);
  EXPECT_FLOAT_EQ(y[0], -1000006 * 0.001f);
  EXPECT_FLOAT_EQ(y[2], 123450 * 0.001f);
}

// ---- Add / Mul -------------------------------------------------------------------------

void check_binary(OpFactory factory, bool mul, const Shape& a_shape, const Shape& b_shape, const Shape& y_shape,
                  bool is_signed, ActivationKind act, std::mt19937* rng) {
  const Quant qa{is_signed, 0.05f, is_signed ? -10 : 120}, qb{is_signed, 0.02f, is_signed ? 3 : 130};
  const Quant qy{is_signed, mul ? 0.04f : 0.06f, is_signed ? -2 : 110};
  const Tensor a = random_q8(qa, a_shape, rng), b = random_q8(qb, b_shape, rng);
  FusedActivation fa;
  fa.kind = act;
  fa.p0 = -0.5f;
  fa.p1 = 1.5f;
  float lo = -INFINITY, hi = INFINITY;
  if (act == ActivationKind::kRelu) lo = 0.f;
  if (act == ActivationKind::kClip) lo = fa.p0, hi = fa.p1;
  std::vector<uint8_t> first;
  for (Isa isa : usable_caps()) {
    const Outcome r = run(factory, {}, {&a, &b}, {q8_out(qy, y_shape)}, fa, isa);
    EXPECT_OK(r);
    const std::string what = r.kernel + " " + shape_str(a_shape) + shape_str(b_shape);
    expect_q8(r.outputs[0], qy,
              [&](size_t i) {
                const float va = dequant(a.bytes[static_cast<size_t>(broadcast_index(a_shape, y_shape, static_cast<int64_t>(i)))], qa);
                const float vb = dequant(b.bytes[static_cast<size_t>(broadcast_index(b_shape, y_shape, static_cast<int64_t>(i)))], qb);
                return quant(mul ? va * vb : va + vb, qy, lo, hi);
              },
              1, what);
    if (first.empty()) first = r.outputs[0];
    EXPECT_EQ(r.outputs[0], first) << what << " differs from the scalar kernels";
  }
}

TEST(Q8Binary, AddAndMulBroadcastAgainstFloat) {
  std::mt19937 rng(3);
  struct Case { Shape a, b, y; };
  const Case cases[] = {{{2, 3, 4, 5}, {2, 3, 4, 5}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {5}, {2, 3, 4, 5}},
                        {{1}, {3, 40}, {3, 40}},                    {{2, 1, 4, 1}, {1, 3, 1, 5}, {2, 3, 4, 5}},
                        {{1, 7, 7, 33}, {1, 1, 1, 33}, {1, 7, 7, 33}}, {{1000}, {1000}, {1000}}};
  for (bool mul : {false, true}) {
    for (bool is_signed : {false, true}) {
      for (const Case& c : cases) {
        check_binary(mul ? ops::prepare_Mul : ops::prepare_Add, mul, c.a, c.b, c.y, is_signed, ActivationKind::kNone,
                     &rng);
      }
      check_binary(mul ? ops::prepare_Mul : ops::prepare_Add, mul, {2, 3, 4, 5}, {1, 3, 1, 1}, {2, 3, 4, 5}, is_signed,
                   ActivationKind::kRelu, &rng);
      check_binary(mul ? ops::prepare_Mul : ops::prepare_Add, mul, {64}, {64}, {64}, is_signed, ActivationKind::kClip,
                   &rng);
    }
  }
}

TEST(Q8Binary, KernelNameAndErrors) {
  std::mt19937 rng(4);
  const Quant q{false, 0.1f, 128};
  const Tensor a = random_q8(q, {4}, &rng), b = random_q8(q, {4}, &rng);
  FusedActivation relu;
  relu.kind = ActivationKind::kRelu;
  EXPECT_EQ(run(ops::prepare_Add, {}, {&a, &b}, {q8_out(q, {4})}, relu, Isa::kScalar).kernel, "u8_add_relu__scalar");
  FusedActivation sigmoid;
  sigmoid.kind = ActivationKind::kSigmoid;
  EXPECT_EQ(run(ops::prepare_Mul, {}, {&a, &b}, {q8_out(q, {4})}, sigmoid, Isa::kScalar).status.code(),
            Status::kUnsupported);
  TensorDesc unquantized = q8_out(q, {4});
  unquantized.quantized = false;
  EXPECT_FALSE(run(ops::prepare_Add, {}, {&a, &b}, {unquantized}).status.is_ok());
}

// ---- tables ----------------------------------------------------------------------------

void check_table(OpFactory factory, const std::vector<Attribute>& attrs, const std::vector<const Tensor*>& extra,
                 const std::function<double(double)>& f, const Quant& qx, const Quant& qy) {
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  Tensor x = make<uint8_t>({4, 64}, all, q8_dtype(qx));
  set_quant(&x.desc, qx);
  std::vector<const Tensor*> inputs = {&x};
  inputs.insert(inputs.end(), extra.begin(), extra.end());
  for (Isa isa : usable_caps()) {
    const Outcome r = run(factory, attrs, inputs, {q8_out(qy, {4, 64})}, {}, isa);
    EXPECT_OK(r);
    expect_q8(r.outputs[0], qy, [&](size_t i) { return quant(static_cast<float>(f(dequant(x.bytes[i], qx))), qy); }, 1,
              r.kernel);
  }
}

TEST(Q8Table, ActivationsAgainstFloat) {
  for (bool is_signed : {false, true}) {
    const Quant qx{is_signed, 0.05f, is_signed ? 10 : 140};
    const Quant qy{is_signed, 0.03f, is_signed ? -20 : 100};
    const Quant qu{is_signed, 1.f / 256, is_signed ? -128 : 0};  // [0, 1) outputs
    check_table(ops::prepare_Relu, {}, {}, [](double v) { return std::max(v, 0.0); }, qx, qy);
    check_table(ops::prepare_Sigmoid, {}, {}, [](double v) { return 1 / (1 + std::exp(-v)); }, qx, qu);
    check_table(ops::prepare_Tanh, {}, {}, [](double v) { return std::tanh(v); }, qx, qy);
    check_table(ops::prepare_Erf, {}, {}, [](double v) { return std::erf(v); }, qx, qy);
    check_table(ops::prepare_HardSwish, {}, {},
                [](double v) { return v * std::max(0.0, std::min(1.0, v / 6 + 0.5)); }, qx, qy);
    check_table(ops::prepare_HardSigmoid, {attr_float("alpha", 0.25f), attr_float("beta", 0.4f)}, {},
                [](double v) { return std::max(0.0, std::min(1.0, 0.25 * v + 0.4)); }, qx, qu);
    check_table(ops::prepare_LeakyRelu, {attr_float("alpha", 0.1f)}, {},
                [](double v) { return v < 0 ? 0.1 * v : v; }, qx, qy);
    check_table(ops::prepare_Gelu, {}, {}, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); },
                qx, qy);
    check_table(ops::prepare_Gelu, {attr_string("approximate", "tanh")}, {},
                [](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); },
                qx, qy);
    // Clip with float bounds, and with one bound omitted.
    const Tensor lo = make<float>({}, {-1.f}, DType::kFloat32, true), hi = make<float>({}, {2.f}, DType::kFloat32, true);
    check_table(ops::prepare_Clip, {}, {&lo, &hi}, [](double v) { return std::min(2.0, std::max(-1.0, v)); }, qx, qy);
    check_table(ops::prepare_Clip, {}, {&lo}, [](double v) { return std::max(-1.0, v); }, qx, qy);
  }
}

// ---- pools -----------------------------------------------------------------------------

// Float average pool of the dequantized NCHW input [1, C, H, W], 2-D.
std::vector<float> float_avgpool(const std::vector<float>& x, int64_t c, int64_t h, int64_t w, int64_t k,
                                 int64_t stride, int64_t pad, bool include_pad, int64_t oh, int64_t ow) {
  std::vector<float> y;
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        double sum = 0;
        int64_t inside = 0, padded = 0;
        for (int64_t ky = 0; ky < k; ++ky)
          for (int64_t kx = 0; kx < k; ++kx) {
            const int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
            if (iy >= -pad && iy < h + pad && ix >= -pad && ix < w + pad) ++padded;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            sum += x[static_cast<size_t>((ch * h + iy) * w + ix)];
            ++inside;
          }
        y.push_back(static_cast<float>(sum / static_cast<double>(include_pad ? padded : inside)));
      }
  return y;
}

TEST(Q8Pool, AveragePoolAgainstFloat) {
  std::mt19937 rng(5);
  const int64_t c = 19, h = 9, w = 7;
  for (bool is_signed : {false, true}) {
    const Quant qx{is_signed, 0.04f, is_signed ? -7 : 121}, qy{is_signed, 0.03f, is_signed ? 4 : 117};
    const Tensor x = random_q8(qx, {1, c, h, w}, &rng);
    std::vector<float> xf(x.bytes.size());
    for (size_t i = 0; i < xf.size(); ++i) xf[i] = dequant(x.bytes[i], qx);
    for (int64_t k : {2, 3}) {
      for (int64_t pad : {0, 1}) {
        for (bool include_pad : {false, true}) {
          const int64_t stride = 2, oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
          const std::vector<float> want = float_avgpool(xf, c, h, w, k, stride, pad, include_pad, oh, ow);
          std::vector<Attribute> attrs = {attr_ints("kernel_shape", {k, k}), attr_ints("strides", {stride, stride}),
                                          attr_ints("pads", {pad, pad, pad, pad}),
                                          attr_int("count_include_pad", include_pad ? 1 : 0)};
          const Outcome r = run(ops::prepare_AveragePool, attrs, {&x}, {q8_out(qy, {1, c, oh, ow})});
          EXPECT_OK(r);
          expect_q8(r.outputs[0], qy, [&](size_t i) { return quant(want[i], qy); }, 1, r.kernel);
          // NHWC: the same values channels-last.
          Tensor xn = x;
          xn.desc.shape = {1, h, w, c};
          xn.bytes = to_nhwc(Shape{1, c, 1, h * w}, x.bytes);
          attrs.push_back(attr_string("layout", "NHWC"));
          const Outcome rn = run(ops::prepare_AveragePool, attrs, {&xn}, {q8_out(qy, {1, oh, ow, c})});
          EXPECT_OK(rn);
          EXPECT_EQ(rn.outputs[0], to_nhwc(Shape{1, c, 1, oh * ow}, r.outputs[0])) << rn.kernel;
        }
      }
    }
  }
}

TEST(Q8Pool, GlobalAveragePoolAgainstFloat) {
  std::mt19937 rng(6);
  for (bool is_signed : {false, true}) {
    for (int64_t c : {3, 300}) {
      const int64_t n = 2, hw = 49;
      const Quant qx{is_signed, 0.02f, is_signed ? 5 : 128}, qy{is_signed, 0.01f, is_signed ? -3 : 125};
      const Tensor x = random_q8(qx, {n, c, 7, 7}, &rng);
      const Outcome r = run(ops::prepare_GlobalAveragePool, {}, {&x}, {q8_out(qy, {n, c, 1, 1})});
      EXPECT_OK(r);
      expect_q8(r.outputs[0], qy,
                [&](size_t i) {
                  double sum = 0;
                  for (int64_t p = 0; p < hw; ++p) sum += dequant(x.bytes[i * hw + static_cast<size_t>(p)], qx);
                  return quant(static_cast<float>(sum / hw), qy);
                },
                1, r.kernel);
      Tensor xn = x;
      xn.desc.shape = {n, 7, 7, c};
      xn.bytes.clear();
      for (int64_t b = 0; b < n; ++b) {
        const std::vector<uint8_t> image(x.bytes.begin() + b * c * hw, x.bytes.begin() + (b + 1) * c * hw);
        const std::vector<uint8_t> t = to_nhwc(Shape{1, c, 1, hw}, image);
        xn.bytes.insert(xn.bytes.end(), t.begin(), t.end());
      }
      const Outcome rn = run(ops::prepare_GlobalAveragePool, {attr_string("layout", "NHWC")}, {&xn}, {q8_out(qy, {n, 1, 1, c})});
      EXPECT_OK(rn);
      EXPECT_EQ(rn.outputs[0], r.outputs[0]) << rn.kernel;
    }
  }
}

TEST(Q8Pool, MaxPoolNhwcMatchesNchw) {
  std::mt19937 rng(7);
  for (bool is_signed : {false, true}) {
    const Quant q{is_signed, 0.1f, 3};
    const int64_t c = 5, h = 6, w = 6;
    const Tensor x = random_q8(q, {1, c, h, w}, &rng);
    std::vector<Attribute> attrs = {attr_ints("kernel_shape", {3, 3}), attr_ints("strides", {2, 2}),
                                    attr_ints("pads", {1, 1, 1, 1})};
    const Outcome r = run(ops::prepare_MaxPool, attrs, {&x}, {q8_out(q, {1, c, 3, 3})});
    EXPECT_OK(r);
    Tensor xn = x;
    xn.desc.shape = {1, h, w, c};
    xn.bytes = to_nhwc(Shape{1, c, 1, h * w}, x.bytes);
    attrs.push_back(attr_string("layout", "NHWC"));
    const Outcome rn = run(ops::prepare_MaxPool, attrs, {&xn}, {q8_out(q, {1, 3, 3, c})});
    EXPECT_OK(rn);
    EXPECT_EQ(rn.outputs[0], to_nhwc(Shape{1, c, 1, 9}, r.outputs[0])) << rn.kernel;
  }
}

}  // namespace
}  // namespace pare::rt
