// The NN ops of the runtime (conv, gemm, pool, normalization, softmax, resize, pad),
// called through their factories on small cases: outputs are checked against values
// computed by hand or against naive formulas written out here (one output element or one
// input element at a time), and bad nodes must fail at prepare time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/op.h"
#include "runtime/ops/ops.h"
#include "runtime/thread_pool.h"

namespace pare::rt {
namespace {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Row-major offset of coord in shape.
int64_t offset_of(const Shape& shape, const Shape& coord) {
  int64_t off = 0;
  for (size_t i = 0; i < shape.size(); ++i) off = off * shape[i] + coord[i];
  return off;
}

// Advances a row-major coordinate; false after the last one.
bool next_coord(const Shape& shape, Shape* coord) {
  for (size_t d = shape.size(); d-- > 0;) {
    if (++(*coord)[d] < shape[d]) return true;
    (*coord)[d] = 0;
  }
  return false;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<float> iota_floats(size_t n, float start = 0.f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + static_cast<float>(i);
  return v;
}

// A tensor fed to an op: its description and bytes; absent = an omitted optional input.
struct Tensor {
  TensorDesc desc;
  std::vector<uint8_t> bytes;
  bool constant = false;
  bool absent = false;
};

template <typename T>
Tensor make_tensor(DType dtype, const Shape& shape, const std::vector<T>& values, bool constant) {
  Tensor t;
  t.desc.dtype = dtype;
  t.desc.shape = shape;
  t.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  t.constant = constant;
  EXPECT_EQ(static_cast<int64_t>(values.size()), numel(shape)) << "test tensor size";
  return t;
}

Tensor f32(const Shape& shape, const std::vector<float>& v) { return make_tensor(DType::kFloat32, shape, v, false); }
Tensor f32c(const Shape& shape, const std::vector<float>& v) { return make_tensor(DType::kFloat32, shape, v, true); }
Tensor i64c(const Shape& shape, const std::vector<int64_t>& v) { return make_tensor(DType::kInt64, shape, v, true); }
// The ISA caps usable on this machine (PrepareContext::isa), each selecting its own
// kernel variants.
std::vector<Isa> usable_caps() {
  std::vector<Isa> caps;
  for (Isa cap : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon})
    if (isa_usable(cap, cap)) caps.push_back(cap);
  return caps;
}

// The kernel name starts with `prefix` and ends with the cap's ISA.
void expect_kernel_for(const std::string& name, const std::string& prefix, Isa cap) {
  const std::string suffix = std::string("__") + isa_name(cap);
  EXPECT_EQ(name.rfind(prefix, 0), 0u) << name;
  EXPECT_TRUE(name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      << name << " for cap " << isa_name(cap);
}

Tensor absent() {
  Tensor t;
  t.absent = true;
  return t;
}

// One node: inputs, attributes, planned outputs; prepares through the op's factory and
// runs with or without a thread pool.
class Node {
 public:
  explicit Node(OpFactory factory, const char* op = "Op") : factory_(factory), op_(op) {}

  Node& in(Tensor t) {
    t.desc.name = "in" + std::to_string(inputs_.size());
    inputs_.push_back(std::move(t));
    return *this;
  }
  Node& out(const Shape& shape, DType dtype = DType::kFloat32) {
    TensorDesc d;
    d.name = "out" + std::to_string(outputs_.size());
    d.dtype = dtype;
    d.shape = shape;
    outputs_.push_back(d);
    return *this;
  }
  Node& i(const char* name, int64_t v) { return attr(name, Attribute::kInt, [&](Attribute& a) { a.i = v; }); }
  Node& f(const char* name, float v) { return attr(name, Attribute::kFloat, [&](Attribute& a) { a.f = v; }); }
  Node& s(const char* name, const char* v) { return attr(name, Attribute::kString, [&](Attribute& a) { a.s = v; }); }
  Node& ints(const char* name, const Shape& v) {
    return attr(name, Attribute::kInts, [&](Attribute& a) { a.ints = v; });
  }
  Node& act(ActivationKind kind, float p0 = 0.f, float p1 = 0.f) {
    activation_ = {kind, p0, p1};
    return *this;
  }
  Node& isa(Isa cap) {
    isa_ = cap;
    return *this;
  }

  Result<std::unique_ptr<OpKernel>> prepare() {
    PrepareContext ctx;
    ctx.op = op_;
    ctx.node_name = "node";
    ctx.attrs = &attrs_;
    ctx.activation = activation_;
    ctx.isa = isa_;
    for (Tensor& t : inputs_) {
      t.desc.constant = t.constant ? t.bytes.data() : nullptr;
      ctx.inputs.push_back(t.absent ? nullptr : &t.desc);
    }
    for (const TensorDesc& d : outputs_) ctx.outputs.push_back(&d);
    return factory_(ctx);
  }

  Status prepare_status() { return prepare().status(); }

  // Prepares (must succeed) and runs; returns output 0's bytes.
  std::vector<uint8_t> run_bytes(ThreadPool* pool = nullptr, std::string* kernel_name = nullptr) {
    auto kernel = prepare();
    EXPECT_TRUE(kernel.is_ok()) << kernel.status().message();
    if (!kernel.is_ok()) return {};
    if (kernel_name) *kernel_name = kernel.value()->kernel_name();
    std::vector<const void*> in_ptrs;
    for (const Tensor& t : inputs_) in_ptrs.push_back(t.absent ? nullptr : t.bytes.data());
    std::vector<uint8_t> out(outputs_[0].byte_size(), 0xCD);
    void* out_ptr = out.data();
    // Scratch is 64-byte aligned, as the interpreter gives it.
    std::vector<uint8_t> scratch(kernel.value()->scratch_bytes() + 64);
    const size_t misalignment = reinterpret_cast<uintptr_t>(scratch.data()) % 64;
    ExecContext ctx;
    ctx.inputs = in_ptrs.data();
    ctx.outputs = &out_ptr;
    ctx.scratch = scratch.data() + (misalignment ? 64 - misalignment : 0);
    ctx.pool = pool;
    kernel.value()->run(ctx);
    return out;
  }

  std::vector<float> run(ThreadPool* pool = nullptr) {
    std::vector<uint8_t> bytes = run_bytes(pool);
    std::vector<float> v(bytes.size() / sizeof(float));
    if (!v.empty()) std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
  }

  template <typename T>
  std::vector<T> run_as() {
    std::vector<uint8_t> bytes = run_bytes();
    std::vector<T> v(bytes.size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
  }

  std::string kernel_name() {
    std::string name;
    run_bytes(nullptr, &name);
    return name;
  }

 private:
  Node& attr(const char* name, Attribute::Type type, const std::function<void(Attribute&)>& set) {
    Attribute a;
    a.name = name;
    a.type = type;
    set(a);
    attrs_.add(a);
    return *this;
  }

  OpFactory factory_;
  std::string op_;
  Attrs attrs_;
  FusedActivation activation_;
  Isa isa_ = Isa::kScalar;
  std::vector<Tensor> inputs_;
  std::vector<TensorDesc> outputs_;
};

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-4f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.f, std::fabs(want[i]))) << "element " << i;
}

void expect_error(Node& node, Status::Code code) {
  Status st = node.prepare_status();
  EXPECT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), code) << st.message();
  EXPECT_NE(st.message().find("node"), std::string::npos) << st.message();
}

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

std::vector<float> relu(std::vector<float> v) {
  for (float& x : v) x = std::max(x, 0.f);
  return v;
}

// ---------------------------------------------------------------------------------------
// Conv

TEST(Conv, HandComputedPaddedSum) {
  // 5x5 ramp, 3x3 ones, pads 1: each output is the sum of its 3x3 neighbourhood.
  Node node(ops::prepare_Conv, "Conv");
  node.in(f32({1, 1, 5, 5}, iota_floats(25))).in(f32c({1, 1, 3, 3}, std::vector<float>(9, 1.f)));
  node.ints("kernel_shape", {3, 3}).ints("pads", {1, 1, 1, 1}).out({1, 1, 5, 5});
  expect_near_all(node.run(), {12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81,
                               93, 144, 153, 162, 111, 72, 111, 117, 123, 84});
}

void check_conv(const ConvCase& c, Node& node, ActivationKind act = ActivationKind::kNone) {
  const auto x = random_floats(static_cast<size_t>(numel(c.x_shape)), 1);
  const auto w = random_floats(static_cast<size_t>(numel(c.w_shape)), 2);
  const auto b = random_floats(static_cast<size_t>(c.w_shape[0]), 3);
  node.in(f32(c.x_shape, x)).in(f32c(c.w_shape, w));
  if (c.bias) node.in(f32c({c.w_shape[0]}, b));
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
  auto make = [&] {
    Node node(ops::prepare_Conv, "Conv");
    node.in(f32(xs, random_floats(static_cast<size_t>(numel(xs)), 4)))
        .in(f32c(ws, random_floats(static_cast<size_t>(numel(ws)), 5)))
        .ints("pads", {1, 1, 1, 1})
        .act(ActivationKind::kClip, 0.f, 0.5f)
        .out({2, 16, 9, 9});
    return node;
  };
  ThreadPool pool(3);
  Node a = make(), b = make();
  EXPECT_EQ(a.run_bytes(), b.run_bytes(&pool));
}

TEST(Conv, PrepareErrors) {
  auto base = [] {
    Node node(ops::prepare_Conv, "Conv");
    node.in(f32({1, 4, 5, 5}, std::vector<float>(100))).in(f32c({2, 4, 3, 3}, std::vector<float>(72)));
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
    n.in(f32c({3}, {1, 2, 3})).out({1, 2, 3, 3});
    expect_error(n, Status::kBadModel);
  }
  {  // integer input
    Node n(ops::prepare_Conv, "Conv");
    n.in(make_tensor<int32_t>(DType::kInt32, {1, 1, 3, 3}, std::vector<int32_t>(9), false))
        .in(f32c({1, 1, 3, 3}, std::vector<float>(9)))
        .out({1, 1, 1, 1});
    expect_error(n, Status::kUnsupported);
  }
  {  // window larger than the input
    Node n(ops::prepare_Conv, "Conv");
    n.in(f32({1, 1, 2, 2}, std::vector<float>(4))).in(f32c({1, 1, 3, 3}, std::vector<float>(9))).out({1, 1, 0, 0});
    expect_error(n, Status::kBadModel);
  }
}

// ---------------------------------------------------------------------------------------
// Conv, NHWC: checked against the NCHW op through explicit transposes.

// [N, C, H, W] data -> [N, H, W, C] and back.
std::vector<float> to_nhwc(const Shape& nchw, const std::vector<float>& x) {
  const int64_t n = nchw[0], c = nchw[1], h = nchw[2], w = nchw[3];
  std::vector<float> y(x.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j)
      for (int64_t k = 0; k < h * w; ++k)
        y[static_cast<size_t>((i * h * w + k) * c + j)] = x[static_cast<size_t>((i * c + j) * h * w + k)];
  return y;
}

std::vector<float> to_nchw(const Shape& nchw, const std::vector<float>& y) {
  const int64_t n = nchw[0], c = nchw[1], h = nchw[2], w = nchw[3];
  std::vector<float> x(y.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j)
      for (int64_t k = 0; k < h * w; ++k)
        x[static_cast<size_t>((i * c + j) * h * w + k)] = y[static_cast<size_t>((i * h * w + k) * c + j)];
  return x;
}

Shape nhwc_shape(const Shape& nchw) { return {nchw[0], nchw[2], nchw[3], nchw[1]}; }

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
  auto make = [&](bool nhwc) {
    Node node(ops::prepare_Conv, "Conv");
    node.in(f32(nhwc ? nhwc_shape(c.x_shape) : c.x_shape, nhwc ? to_nhwc(c.x_shape, x) : x));
    node.in(c.constant_weight ? f32c(c.w_shape, w) : f32(c.w_shape, w));
    if (c.bias) node.in(f32c({c.w_shape[0]}, b));
    node.out(nhwc ? nhwc_shape(c.out_shape) : c.out_shape).act(c.act, 0.f, 0.5f);
    c.attrs(node);
    if (nhwc) node.s("layout", "NHWC");
    return node;
  };
  Node nchw = make(false), nhwc = make(true);
  expect_near_all(to_nchw(c.out_shape, nhwc.run()), nchw.run());
  EXPECT_EQ(nhwc.kernel_name(), c.kernel);
  ThreadPool pool(3);
  Node again = make(true);
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
  // Strided or padded 1x1 convolutions are not a plain GEMM over the pixels: im2col first.
  check_nhwc_conv({{1, 3, 5, 5}, {4, 3, 1, 1}, {1, 4, 3, 3}, [](Node& n) { n.ints("strides", {2, 2}); }, true, true,
                   ActivationKind::kNone, "f32_conv_im2col_4x8__scalar"});
  check_nhwc_conv({{1, 3, 4, 4}, {4, 3, 1, 1}, {1, 4, 4, 5}, [](Node& n) { n.ints("pads", {0, 0, 0, 1}); }, true, true,
                   ActivationKind::kNone, "f32_conv_im2col_4x8__scalar"});
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
    n.in(f32({1, 5, 5, 4}, std::vector<float>(100))).in(f32c({2, 4, 3, 3}, std::vector<float>(72)));
    n.s("layout", "NHWC").out({1, 2, 3, 3});
    expect_error(n, Status::kBadModel);
  }
  {  // NHWC is for 4-D data only
    Node n(ops::prepare_Conv, "Conv");
    n.in(f32({1, 5, 4}, std::vector<float>(20))).in(f32c({2, 4, 3}, std::vector<float>(24)));
    n.s("layout", "NHWC").out({1, 3, 2});
    expect_error(n, Status::kUnsupported);
  }
  {
    Node n(ops::prepare_Conv, "Conv");
    n.in(f32({1, 4, 5, 5}, std::vector<float>(100))).in(f32c({2, 4, 3, 3}, std::vector<float>(72)));
    n.s("layout", "NCWH").out({1, 2, 3, 3});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n(ops::prepare_ConvTranspose, "ConvTranspose");
    n.in(f32({1, 3, 3, 2}, std::vector<float>(18))).in(f32c({2, 1, 2, 2}, std::vector<float>(8)));
    n.s("layout", "NHWC").out({1, 4, 4, 1});
    expect_error(n, Status::kUnsupported);
  }
}

// The fast NHWC paths (packed GEMM on the pixels, im2col blocks and packed GEMM,
// depthwise) under every ISA cap usable here: against the NCHW reference op, and the same
// bytes on 1 and 3 threads.
void check_fast_nhwc_conv(const Shape& xs, const Shape& ws, const Shape& ys, const std::function<void(Node&)>& attrs,
                          FusedActivation act, const char* kernel_prefix) {
  const auto x = random_floats(static_cast<size_t>(numel(xs)), 61);
  const auto w = random_floats(static_cast<size_t>(numel(ws)), 62);
  const auto b = random_floats(static_cast<size_t>(ws[0]), 63);
  auto make = [&](bool nhwc, Isa cap) {
    Node node(ops::prepare_Conv, "Conv");
    node.in(f32(nhwc ? nhwc_shape(xs) : xs, nhwc ? to_nhwc(xs, x) : x)).in(f32c(ws, w)).in(f32c({ws[0]}, b));
    node.out(nhwc ? nhwc_shape(ys) : ys).act(act.kind, act.p0, act.p1).isa(cap);
    attrs(node);
    if (nhwc) node.s("layout", "NHWC");
    return node;
  };
  Node reference = make(false, Isa::kScalar);
  const std::vector<float> want = reference.run();
  for (Isa cap : usable_caps()) {
    SCOPED_TRACE(std::string("cap ") + isa_name(cap));
    Node fast = make(true, cap);
    expect_near_all(to_nchw(ys, fast.run()), want);
    expect_kernel_for(fast.kernel_name(), kernel_prefix, cap);
    ThreadPool pool(3);
    Node threaded = make(true, cap);
    EXPECT_EQ(threaded.run_bytes(&pool), fast.run_bytes());
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
}

TEST(ConvNhwcFast, Im2colStridesPadsDilations) {
  // A 3-channel stem of 1600 pixels: more than one im2col block.
  check_fast_nhwc_conv({1, 3, 40, 40}, {16, 3, 3, 3}, {1, 16, 40, 40}, [](Node& n) { n.ints("pads", {1, 1, 1, 1}); },
                       {ActivationKind::kClip, 0.f, 6.f}, "f32_conv_im2col_clip_");
  check_fast_nhwc_conv({1, 3, 17, 16}, {32, 3, 3, 3}, {1, 32, 9, 8},
                       [](Node& n) { n.ints("strides", {2, 2}).ints("pads", {1, 1, 1, 1}); },
                       {ActivationKind::kRelu}, "f32_conv_im2col_relu_");
  // K = 576: a block holds one tile of rows, so 32 pixels make several blocks per worker.
  check_fast_nhwc_conv({2, 64, 6, 7}, {24, 64, 3, 3}, {2, 24, 4, 4},
                       [](Node& n) { n.ints("strides", {2, 1}).ints("dilations", {1, 2}).ints("pads", {1, 0, 2, 1}); },
                       {ActivationKind::kSigmoid}, "f32_conv_im2col_sigmoid_");
  check_fast_nhwc_conv({2, 5, 9, 8}, {33, 5, 5, 5}, {2, 33, 5, 4},
                       [](Node& n) { n.ints("strides", {2, 2}).s("auto_pad", "SAME_UPPER"); },
                       {ActivationKind::kLeakyRelu, 0.1f}, "f32_conv_im2col_leakyrelu_");
}

// Winograd F(2x2, 3x3) for 3x3 stride-1 convs above the scalar cap: against the NCHW
// reference op within 1e-4 of the sum of |products| (the transforms change the rounding),
// and the same bytes on 1 and 3 threads.
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
  auto make = [&](bool nhwc, Isa cap, const std::vector<float>& xv, const std::vector<float>& wv,
                  const std::vector<float>& bv, FusedActivation a) {
    Node node(ops::prepare_Conv, "Conv");
    node.in(f32(nhwc ? nhwc_shape(xs) : xs, nhwc ? to_nhwc(xs, xv) : xv)).in(f32c(ws, wv));
    if (has_bias) node.in(f32c({cout}, bv));
    node.out(nhwc ? nhwc_shape(ys) : ys).act(a.kind, a.p0, a.p1).isa(cap).ints("pads", {pad, pad, pad, pad});
    if (nhwc) node.s("layout", "NHWC");
    return node;
  };
  const std::vector<float> want = make(false, Isa::kScalar, x, wt, b, act).run();
  const std::vector<float> scale = make(false, Isa::kScalar, abs_of(x), abs_of(wt), abs_of(b), {}).run();
  for (Isa cap : usable_caps()) {
    if (cap == Isa::kScalar) continue;
    SCOPED_TRACE(std::string("cap ") + isa_name(cap));
    Node fast = make(true, cap, x, wt, b, act);
    const std::vector<float> got = to_nchw(ys, fast.run());
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 1e-4f * scale[i] + 1e-6f) << "element " << i;
    expect_kernel_for(fast.kernel_name(), "f32_conv_winograd_f23_", cap);
    ThreadPool pool(3);
    Node threaded = make(true, cap, x, wt, b, act);
    EXPECT_EQ(threaded.run_bytes(&pool), fast.run_bytes());
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
  // 128 channels: blocks of a few tiles, many blocks per worker.
  check_winograd_conv(1, 128, 128, 7, 7, 1, true, relu);
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
}

// ---------------------------------------------------------------------------------------
// ConvTranspose

TEST(ConvTranspose, HandComputed1d) {
  Node node(ops::prepare_ConvTranspose, "ConvTranspose");
  node.in(f32({1, 1, 3}, {0, 1, 2})).in(f32c({1, 2, 3}, std::vector<float>(6, 1.f))).out({1, 2, 5});
  expect_near_all(node.run(), {0, 1, 3, 3, 2, 0, 1, 3, 3, 2});
}

void check_conv_transpose(const ConvCase& c, Node& node, ActivationKind act = ActivationKind::kNone) {
  const auto x = random_floats(static_cast<size_t>(numel(c.x_shape)), 11);
  const auto w = random_floats(static_cast<size_t>(numel(c.w_shape)), 12);
  const int64_t m = c.w_shape[1] * c.group;
  const auto b = random_floats(static_cast<size_t>(m), 13);
  node.in(f32(c.x_shape, x)).in(f32c(c.w_shape, w));
  if (c.bias) node.in(f32c({m}, b));
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
    n.in(f32({1, 2, 3, 3}, std::vector<float>(18))).in(f32c({3, 1, 3, 3}, std::vector<float>(27))).out({1, 1, 5, 5});
    expect_error(n, Status::kBadModel);
  }
  {  // planned shape differs
    Node n(ops::prepare_ConvTranspose, "ConvTranspose");
    n.in(f32({1, 2, 3, 3}, std::vector<float>(18))).in(f32c({2, 1, 3, 3}, std::vector<float>(18))).out({1, 1, 6, 6});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n(ops::prepare_ConvTranspose, "ConvTranspose");
    n.in(f32({1, 2, 3, 3}, std::vector<float>(18))).in(f32c({2, 1, 3, 3}, std::vector<float>(18)));
    n.ints("output_padding", {1}).out({1, 1, 5, 5});
    expect_error(n, Status::kBadModel);
  }
}

// ---------------------------------------------------------------------------------------
// Gemm and MatMul

TEST(Gemm, HandComputed) {
  Node node(ops::prepare_Gemm, "Gemm");
  node.in(f32({2, 2}, {1, 2, 3, 4})).in(f32c({2, 2}, {5, 6, 7, 8})).in(f32c({2}, {1, -1}));
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
        node.in(f32(a_shape, a)).in(f32c(b_shape, b)).i("transA", ta).i("transB", tb);
        node.f("alpha", alpha).f("beta", beta).out({m, n});
        Shape cs;
        if (with_c < static_cast<int>(c_shapes.size())) {
          cs = c_shapes[static_cast<size_t>(with_c)];
          node.in(f32c(cs, std::vector<float>(c.begin(), c.begin() + numel(cs))));
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
  auto make = [&] {
    Node node(ops::prepare_Gemm, "Gemm");
    node.in(f32({m, k}, random_floats(m * k, 31))).in(f32c({n, k}, random_floats(n * k, 32)));
    node.i("transB", 1).act(ActivationKind::kClip, -0.25f, 0.5f).out({m, n});
    return node;
  };
  Node plain = make();
  const auto y = plain.run();
  const auto a = random_floats(m * k, 31), b = random_floats(n * k, 32);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) acc += static_cast<double>(a[i * k + p]) * b[j * k + p];
      EXPECT_NEAR(y[i * n + j], std::min(std::max(acc, -0.25), 0.5), 1e-5);
    }
  ThreadPool pool(4);
  Node threaded = make();
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
        auto make = [&](bool constant_b, Isa cap) {
          Node node(ops::prepare_Gemm, "Gemm");
          const Shape bs = tb ? Shape{n, k} : Shape{k, n};
          node.in(f32({m, k}, a)).in(constant_b ? f32c(bs, b) : f32(bs, b));
          if (ci < c_shapes.size()) {
            const Shape& cs = c_shapes[ci];
            node.in(f32c(cs, std::vector<float>(c.begin(), c.begin() + numel(cs))));
          }
          node.i("transB", tb).f("alpha", alpha).f("beta", beta).act(ActivationKind::kHardSigmoid, 0.2f, 0.5f);
          node.out({m, n}).isa(cap);
          return node;
        };
        SCOPED_TRACE("transB=" + std::to_string(tb) + " C " + std::to_string(ci) + " alpha " + std::to_string(alpha));
        Node reference = make(false, Isa::kScalar);
        EXPECT_EQ(reference.kernel_name(), "f32_gemm_hardsigmoid_ref__scalar");
        const std::vector<float> want = reference.run();
        for (Isa cap : usable_caps()) {
          Node fast = make(true, cap);
          expect_near_all(fast.run(), want, 1e-5f);
          expect_kernel_for(fast.kernel_name(), "f32_gemm_hardsigmoid_", cap);
          ThreadPool pool(3);
          Node threaded = make(true, cap);
          EXPECT_EQ(threaded.run_bytes(&pool), fast.run_bytes());
        }
      }
    }
  }
}

// C with one value per row cannot be a bias, and transposed A is not packed: the reference.
TEST(Gemm, RowwiseCAndTransposedAStayOnTheReference) {
  Node rowwise(ops::prepare_Gemm, "Gemm");
  rowwise.in(f32({3, 4}, random_floats(12, 1))).in(f32c({4, 5}, random_floats(20, 2)));
  rowwise.in(f32c({3, 1}, random_floats(3, 3))).out({3, 5}).isa(best_isa());
  EXPECT_EQ(rowwise.kernel_name(), "f32_gemm_ref__scalar");
  Node trans_a(ops::prepare_Gemm, "Gemm");
  trans_a.in(f32({4, 3}, random_floats(12, 1))).in(f32c({4, 5}, random_floats(20, 2))).i("transA", 1);
  trans_a.out({3, 5}).isa(best_isa());
  EXPECT_EQ(trans_a.kernel_name(), "f32_gemm_ref__scalar");
}

TEST(Gemm, PrepareErrors) {
  {
    Node n(ops::prepare_Gemm, "Gemm");
    n.in(f32({2, 3}, std::vector<float>(6))).in(f32c({4, 2}, std::vector<float>(8))).out({2, 2});
    expect_error(n, Status::kBadModel);
  }
  {  // C does not broadcast
    Node n(ops::prepare_Gemm, "Gemm");
    n.in(f32({2, 3}, std::vector<float>(6))).in(f32c({3, 4}, std::vector<float>(12)));
    n.in(f32c({3}, std::vector<float>(3))).out({2, 4});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n(ops::prepare_Gemm, "Gemm");
    n.in(f32({2, 3}, std::vector<float>(6))).in(f32c({3, 4}, std::vector<float>(12))).i("transA", 2).out({2, 4});
    expect_error(n, Status::kBadModel);
  }
  {  // planned output shape differs
    Node n(ops::prepare_Gemm, "Gemm");
    n.in(f32({2, 3}, std::vector<float>(6))).in(f32c({3, 4}, std::vector<float>(12))).out({4, 2});
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
    node.in(f32(c.a, a)).in(f32(c.b, b)).out(c.y);
    SCOPED_TRACE(shape_str(c.a) + " x " + shape_str(c.b));
    expect_near_all(node.run(), naive_matmul(c.a, a, c.b, b, c.y));
  }
}

TEST(MatMul, BatchedWithThreadsAndRelu) {
  const Shape as = {3, 5, 6}, bs = {6, 4};
  auto make = [&] {
    Node node(ops::prepare_MatMul, "MatMul");
    node.in(f32(as, random_floats(90, 51))).in(f32c(bs, random_floats(24, 52))).act(ActivationKind::kRelu);
    node.out({3, 5, 4});
    return node;
  };
  Node plain = make();
  const auto y = plain.run();
  expect_near_all(y, relu(naive_matmul(as, random_floats(90, 51), bs, random_floats(24, 52), {3, 5, 4})));
  ThreadPool pool(4);
  Node threaded = make();
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
        auto make = [&] {
          Node node(ops::prepare_MatMul, "MatMul");
          node.in(f32(c.a, a)).in(constant_b ? f32c(c.b, b) : f32(c.b, b)).act(ActivationKind::kRelu);
          node.out(c.y).isa(cap);
          return node;
        };
        SCOPED_TRACE(shape_str(c.a) + " x " + shape_str(c.b) + (constant_b ? " constant B, cap " : ", cap ") +
                     isa_name(cap));
        Node fast = make();
        expect_near_all(fast.run(), want, 1e-5f);
        expect_kernel_for(fast.kernel_name(), "f32_gemm_relu_", cap);
        ThreadPool pool(3);
        Node threaded = make();
        EXPECT_EQ(threaded.run_bytes(&pool), fast.run_bytes());
      }
    }
  }
}

TEST(MatMul, PrepareErrors) {
  {
    Node n(ops::prepare_MatMul, "MatMul");
    n.in(f32({2, 3}, std::vector<float>(6))).in(f32({4, 2}, std::vector<float>(8))).out({2, 2});
    expect_error(n, Status::kBadModel);
  }
  {  // batch dims 2 and 3 do not broadcast
    Node n(ops::prepare_MatMul, "MatMul");
    n.in(f32({2, 2, 3}, std::vector<float>(12))).in(f32({3, 3, 2}, std::vector<float>(18))).out({3, 2, 2});
    expect_error(n, Status::kBadModel);
  }
  {  // 1-D times 1-D is a scalar, not [1]
    Node n(ops::prepare_MatMul, "MatMul");
    n.in(f32({3}, std::vector<float>(3))).in(f32({3}, std::vector<float>(3))).out({1});
    expect_error(n, Status::kBadModel);
  }
}

// ---------------------------------------------------------------------------------------
// Pooling

TEST(MaxPool, CeilModeHandComputed) {
  Node node(ops::prepare_MaxPool, "MaxPool");
  node.in(f32({1, 1, 4, 4}, iota_floats(16, 1))).ints("kernel_shape", {3, 3}).ints("strides", {2, 2});
  node.i("ceil_mode", 1).out({1, 1, 2, 2});
  expect_near_all(node.run(), {11, 12, 15, 16});
}

TEST(MaxPool, PadsDilationsHandComputed) {
  // 4x4 ramp 1..16, kernel 2x2 dilated by 2, pads 1 at the start: windows start at -1 and 1.
  Node node(ops::prepare_MaxPool, "MaxPool");
  node.in(f32({1, 1, 4, 4}, iota_floats(16, 1))).ints("kernel_shape", {2, 2}).ints("dilations", {2, 2});
  node.ints("pads", {1, 1, 0, 0}).ints("strides", {2, 2}).out({1, 1, 2, 2});
  // out(0,0): taps (-1,-1),(-1,1),(1,-1),(1,1) -> 6; out(0,1): taps cols 1,3 rows -1,1 -> 8;
  // out(1,0): rows 1,3 cols -1,1 -> 14; out(1,1): rows 1,3 cols 1,3 -> 16.
  expect_near_all(node.run(), {6, 8, 14, 16});
}

TEST(MaxPool, NegativeValuesIgnorePads) {
  Node node(ops::prepare_MaxPool, "MaxPool");
  node.in(f32({1, 1, 3}, {-3, -1, -2})).ints("kernel_shape", {3}).ints("pads", {1, 1}).out({1, 1, 3});
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
    node.in(f32(xs, x)).ints("kernel_shape", {3}).ints("strides", {2}).ints("pads", {1, 2}).out({2, 3, 6});
    expect_near_all(node.run(), naive_pool(true, xs, x, {3}, {2}, {1}, {1}, {6}));
  }
  {  // SAME_LOWER: in 7, k 2, s 1 -> out 7, one pad at the start
    const Shape xs = {1, 2, 7, 7};
    const auto x = random_floats(98, 62);
    Node node(ops::prepare_MaxPool, "MaxPool");
    node.in(f32(xs, x)).ints("kernel_shape", {2, 2}).s("auto_pad", "SAME_LOWER").out({1, 2, 7, 7});
    expect_near_all(node.run(), naive_pool(true, xs, x, {2, 2}, {1, 1}, {1, 1}, {1, 1}, {7, 7}));
  }
  {
    const Shape xs = {1, 2, 5, 4, 6};
    const auto x = random_floats(240, 63);
    Node node(ops::prepare_MaxPool, "MaxPool");
    node.in(f32(xs, x)).ints("kernel_shape", {2, 2, 3}).ints("strides", {1, 2, 3}).out({1, 2, 4, 2, 2});
    expect_near_all(node.run(), naive_pool(true, xs, x, {2, 2, 3}, {1, 2, 3}, {1, 1, 1}, {0, 0, 0}, {4, 2, 2}));
  }
}

TEST(MaxPool, Uint8) {
  Node node(ops::prepare_MaxPool, "MaxPool");
  node.in(make_tensor<uint8_t>(DType::kUInt8, {1, 1, 2, 3}, {1, 200, 3, 4, 5, 255}, false));
  node.ints("kernel_shape", {2, 2}).out({1, 1, 1, 2}, DType::kUInt8);
  EXPECT_EQ(node.run_as<uint8_t>(), (std::vector<uint8_t>{200, 255}));
}

TEST(MaxPool, PrepareErrors) {
  {  // the Indices output
    Node n(ops::prepare_MaxPool, "MaxPool");
    n.in(f32({1, 1, 4, 4}, std::vector<float>(16))).ints("kernel_shape", {2, 2}).out({1, 1, 3, 3});
    n.out({1, 1, 3, 3}, DType::kInt64);
    expect_error(n, Status::kUnsupported);
  }
  {
    Node n(ops::prepare_MaxPool, "MaxPool");
    n.in(f32({1, 1, 4, 4}, std::vector<float>(16))).out({1, 1, 3, 3});
    expect_error(n, Status::kBadModel);  // no kernel_shape
  }
  {
    Node n(ops::prepare_MaxPool, "MaxPool");
    n.in(f32({1, 1, 4, 4}, std::vector<float>(16))).ints("kernel_shape", {2, 2}).ints("pads", {1, 1}).out({1, 1, 3, 3});
    expect_error(n, Status::kBadModel);
  }
  {  // ceil_mode changes the planned shape: 4x4, k 3, s 2 -> 1x1 floor, 2x2 ceil
    Node n(ops::prepare_MaxPool, "MaxPool");
    n.in(f32({1, 1, 4, 4}, std::vector<float>(16))).ints("kernel_shape", {3, 3}).ints("strides", {2, 2});
    n.out({1, 1, 2, 2});
    expect_error(n, Status::kBadModel);
  }
}

TEST(AveragePool, CeilModeHandComputed) {
  Node node(ops::prepare_AveragePool, "AveragePool");
  node.in(f32({1, 1, 4, 4}, iota_floats(16, 1))).ints("kernel_shape", {3, 3}).ints("strides", {2, 2});
  node.i("ceil_mode", 1).out({1, 1, 2, 2});
  expect_near_all(node.run(), {6, 7.5f, 12, 13.5f});
}

TEST(AveragePool, PadsWithAndWithoutCountIncludePad) {
  for (int include = 0; include < 2; ++include) {
    Node node(ops::prepare_AveragePool, "AveragePool");
    node.in(f32({1, 1, 3, 3}, iota_floats(9, 1))).ints("kernel_shape", {3, 3}).ints("pads", {1, 1, 1, 1});
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
    node.in(f32({1, 1, 6}, iota_floats(6, 1))).ints("kernel_shape", {3}).ints("strides", {2});
    node.ints("pads", {1, 1}).i("ceil_mode", 1).i("count_include_pad", include).out({1, 1, 4});
    expect_near_all(node.run(), include ? std::vector<float>{1, 3, 5, 3} : std::vector<float>{1.5f, 3, 5, 6});
  }
}

TEST(AveragePool, CeilModeDropsWindowStartingInEndPad) {
  // x = 1..5, k 3, s 3, pads 1/1: ceil((5 + 2 - 3) / 3) + 1 = 3, but the third window
  // would start at 5, inside the end pad, so there are 2.
  Node node(ops::prepare_AveragePool, "AveragePool");
  node.in(f32({1, 1, 5}, iota_floats(5, 1))).ints("kernel_shape", {3}).ints("strides", {3});
  node.ints("pads", {1, 1}).i("ceil_mode", 1).out({1, 1, 2});
  expect_near_all(node.run(), {1.5f, 4});
}

TEST(AveragePool, TwoAndThreeDimensionalAgainstFormula) {
  {
    const Shape xs = {2, 3, 9, 8};
    const auto x = random_floats(432, 71);
    Node node(ops::prepare_AveragePool, "AveragePool");
    node.in(f32(xs, x)).ints("kernel_shape", {3, 2}).ints("strides", {2, 3}).ints("pads", {1, 0, 1, 1});
    node.i("count_include_pad", 1).out({2, 3, 5, 3});
    expect_near_all(node.run(), naive_pool(false, xs, x, {3, 2}, {2, 3}, {1, 1}, {1, 0}, {5, 3}, true, {1, 1}));
  }
  {  // SAME_UPPER, k 3, stride 2: in 5 -> out 3, total pad 2 * 2 + 3 - 5 = 2 -> 1 and 1
    const Shape xs = {1, 1, 5, 5, 5};
    const auto x = random_floats(125, 72);
    Node node(ops::prepare_AveragePool, "AveragePool");
    node.in(f32(xs, x)).ints("kernel_shape", {3, 3, 3}).ints("strides", {2, 2, 2}).s("auto_pad", "SAME_UPPER");
    node.out({1, 1, 3, 3, 3});
    expect_near_all(node.run(), naive_pool(false, xs, x, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, {3, 3, 3}));
  }
  {  // opset-19 dilations
    const Shape xs = {1, 2, 7, 7};
    const auto x = random_floats(98, 73);
    Node node(ops::prepare_AveragePool, "AveragePool");
    node.in(f32(xs, x)).ints("kernel_shape", {2, 3}).ints("dilations", {3, 2}).out({1, 2, 4, 3});
    expect_near_all(node.run(), naive_pool(false, xs, x, {2, 3}, {1, 1}, {3, 2}, {0, 0}, {4, 3}));
  }
}

TEST(AveragePool, SameResultWithThreads) {
  auto make = [] {
    Node node(ops::prepare_AveragePool, "AveragePool");
    node.in(f32({2, 5, 8, 8}, random_floats(640, 74))).ints("kernel_shape", {3, 3}).ints("pads", {1, 1, 1, 1});
    node.out({2, 5, 8, 8});
    return node;
  };
  ThreadPool pool(3);
  Node a = make(), b = make();
  EXPECT_EQ(a.run_bytes(), b.run_bytes(&pool));
}

TEST(GlobalAveragePool, MeansOfEachPlane) {
  Node node(ops::prepare_GlobalAveragePool, "GlobalAveragePool");
  node.in(f32({1, 2, 2, 2}, {1, 2, 3, 4, -1, -1, 5, 5})).out({1, 2, 1, 1});
  expect_near_all(node.run(), {2.5f, 2});
  Node node3(ops::prepare_GlobalAveragePool, "GlobalAveragePool");
  node3.in(f32({2, 1, 3}, {1, 2, 6, 0, 0, 3})).out({2, 1, 1});
  expect_near_all(node3.run(), {3, 1});
  Node node5(ops::prepare_GlobalAveragePool, "GlobalAveragePool");
  node5.in(f32({1, 1, 2, 1, 2}, {1, 2, 3, 4})).out({1, 1, 1, 1, 1});
  expect_near_all(node5.run(), {2.5f});
  Node bad(ops::prepare_GlobalAveragePool, "GlobalAveragePool");
  bad.in(f32({1, 2, 2, 2}, std::vector<float>(8))).out({1, 2});
  expect_error(bad, Status::kBadModel);
}

// Pools, NHWC: the same taps in the same order as NCHW, so the same bits.
void check_nhwc_pool(OpFactory factory, const char* op, const Shape& xs, const Shape& ys,
                     const std::function<void(Node&)>& attrs, const char* kernel) {
  const auto x = random_floats(static_cast<size_t>(numel(xs)), 81);
  Node nchw(factory, op), nhwc(factory, op);
  nchw.in(f32(xs, x)).out(ys);
  nhwc.in(f32(nhwc_shape(xs), to_nhwc(xs, x))).out(nhwc_shape(ys)).s("layout", "NHWC");
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
  u8.in(make_tensor<uint8_t>(DType::kUInt8, {1, 2, 3, 2}, x, false)).s("layout", "NHWC");
  u8.ints("kernel_shape", {2, 2}).out({1, 1, 2, 2}, DType::kUInt8);
  // channel 0: {1, 3, 5, 9, 7, 11} windows cols 0-1 -> 9, cols 1-2 -> 11; channel 1: 250, 255
  EXPECT_EQ(u8.run_as<uint8_t>(), (std::vector<uint8_t>{9, 250, 11, 255}));
  const std::vector<int8_t> xs = {-1, -7, -3, 4, -5, -6};  // NHWC [1, 1, 3, 2]
  Node s8(ops::prepare_MaxPool, "MaxPool");
  s8.in(make_tensor<int8_t>(DType::kInt8, {1, 1, 3, 2}, xs, false)).s("layout", "NHWC");
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
  bad.in(f32({1, 2, 2, 3}, std::vector<float>(12))).s("layout", "NHWC").out({1, 3, 1, 1});
  expect_error(bad, Status::kBadModel);
}

TEST(PoolNhwc, PrepareErrors) {
  {
    Node n(ops::prepare_MaxPool, "MaxPool");
    n.in(f32({1, 4, 3}, std::vector<float>(12))).ints("kernel_shape", {2}).s("layout", "NHWC").out({1, 3, 3});
    expect_error(n, Status::kUnsupported);
  }
  {  // the planned output in NCHW order
    Node n(ops::prepare_AveragePool, "AveragePool");
    n.in(f32({1, 4, 4, 2}, std::vector<float>(32))).ints("kernel_shape", {2, 2}).s("layout", "NHWC");
    n.out({1, 2, 3, 3});
    expect_error(n, Status::kBadModel);
  }
}

// ---------------------------------------------------------------------------------------
// Normalization

TEST(BatchNormalization, HandComputed) {
  Node node(ops::prepare_BatchNormalization, "BatchNormalization");
  node.in(f32({1, 2, 1, 2}, {1, 2, 3, 4})).in(f32c({2}, {1, 2})).in(f32c({2}, {0, 1}));
  node.in(f32c({2}, {1, 3})).in(f32c({2}, {4, 1})).f("epsilon", 0.f).out({1, 2, 1, 2});
  expect_near_all(node.run(), {0, 0.5f, 1, 3});
}

TEST(BatchNormalization, EpsilonAndBatch) {
  const auto x = random_floats(2 * 3 * 4, 81);
  const std::vector<float> scale = {0.5f, 1.5f, -1}, bias = {0.1f, 0.2f, 0.3f}, mean = {0.f, 0.5f, -0.5f},
                           var = {1, 0.25f, 2};
  Node node(ops::prepare_BatchNormalization, "BatchNormalization");
  node.in(f32({2, 3, 4}, x)).in(f32({3}, scale)).in(f32({3}, bias)).in(f32({3}, mean)).in(f32({3}, var));
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
    node.in(f32({1, 2, 2}, std::vector<float>(4)));
    return node;
  };
  {
    Node n = base();
    for (int i = 0; i < 4; ++i) n.in(f32c({2}, {1, 1}));
    n.i("training_mode", 1).out({1, 2, 2});
    expect_error(n, Status::kUnsupported);
  }
  {
    Node n = base();
    for (int i = 0; i < 3; ++i) n.in(f32c({2}, {1, 1}));
    n.in(f32c({3}, {1, 1, 1})).out({1, 2, 2});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n = base();
    for (int i = 0; i < 3; ++i) n.in(f32c({2}, {1, 1}));
    n.out({1, 2, 2});
    expect_error(n, Status::kBadModel);
  }
}

TEST(LayerNormalization, HandComputed) {
  Node node(ops::prepare_LayerNormalization, "LayerNormalization");
  node.in(f32({1, 4}, {1, 2, 3, 4})).in(f32c({4}, {1, 1, 1, 1})).in(f32c({4}, {0, 0, 0, 0}));
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
      node.in(f32(xs, x)).in(f32c(norm, scale));
      if (with_bias) node.in(f32c(norm, bias));
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
    n.in(f32({2, 4}, std::vector<float>(8))).in(f32c({4}, std::vector<float>(4))).out({2, 4}).out({2, 4});
    expect_error(n, Status::kBadModel);
  }
  {  // Scale would need broadcasting
    Node n(ops::prepare_LayerNormalization, "LayerNormalization");
    n.in(f32({2, 4}, std::vector<float>(8))).in(f32c({1}, {1})).out({2, 4});
    expect_error(n, Status::kUnsupported);
  }
  {
    Node n(ops::prepare_LayerNormalization, "LayerNormalization");
    n.in(f32({2, 4}, std::vector<float>(8))).in(f32c({4}, std::vector<float>(4))).i("axis", 2).out({2, 4});
    expect_error(n, Status::kBadModel);
  }
}

// ---------------------------------------------------------------------------------------
// Softmax

TEST(Softmax, HandComputedAndLargeInputs) {
  const std::vector<float> want = {0.09003057f, 0.24472847f, 0.66524096f};
  Node node(ops::prepare_Softmax, "Softmax");
  node.in(f32({1, 3}, {0, 1, 2})).out({1, 3});
  expect_near_all(node.run(), want, 1e-6f);
  Node large(ops::prepare_Softmax, "Softmax");
  large.in(f32({3}, {1000, 1001, 1002})).out({3});
  expect_near_all(large.run(), want, 1e-6f);
}

TEST(Softmax, EveryAxis) {
  const Shape xs = {2, 3, 4};
  const auto x = random_floats(24, 101);
  for (int64_t axis = -3; axis < 3; ++axis) {
    const size_t a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
    Node node(ops::prepare_Softmax, "Softmax");
    node.in(f32(xs, x)).i("axis", axis).out(xs);
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
  bad.in(f32(xs, x)).i("axis", 3).out(xs);
  expect_error(bad, Status::kBadModel);
}

// ---------------------------------------------------------------------------------------
// Resize

const std::vector<float> kRamp = {10, 20, 30, 40};

Node resize_scales(const Shape& xs, const std::vector<float>& x, const std::vector<float>& scales, const Shape& ys) {
  Node node(ops::prepare_Resize, "Resize");
  node.in(f32(xs, x)).in(absent()).in(f32c({static_cast<int64_t>(scales.size())}, scales)).out(ys);
  return node;
}

Node resize_sizes(const Shape& xs, const std::vector<float>& x, const Shape& sizes) {
  Node node(ops::prepare_Resize, "Resize");
  node.in(f32(xs, x)).in(absent()).in(absent()).in(i64c({static_cast<int64_t>(sizes.size())}, sizes)).out(sizes);
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
  node.in(f32({4}, kRamp)).in(f32c({2}, {0.4f, 1.2f})).in(absent()).in(i64c({1}, {3})).out({3});
  node.s("mode", "linear").s("coordinate_transformation_mode", "tf_crop_and_resize").f("extrapolation_value", -1);
  // x_original = 0.4 * 3 + x * 0.8 * 3 / 2 = 1.2, 2.4, 3.6 (outside)
  expect_near_all(node.run(), {22, 34, -1});
  Node nearest(ops::prepare_Resize, "Resize");
  nearest.in(f32({4}, kRamp)).in(f32c({2}, {0.4f, 1.2f})).in(absent()).in(i64c({1}, {3})).out({3});
  nearest.s("mode", "nearest").s("coordinate_transformation_mode", "tf_crop_and_resize");
  expect_near_all(nearest.run(), {20, 30, 0});
}

TEST(Resize, AxesAttribute) {
  for (int64_t axis : {3, -1}) {
    Node node(ops::prepare_Resize, "Resize");
    node.in(f32({1, 1, 2, 2}, {1, 2, 3, 4})).in(absent()).in(f32c({1}, {2})).out({1, 1, 2, 4});
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
    n.in(f32({1, 1, 2, 2}, {1, 2, 3, 4})).in(absent()).in(f32({4}, {1, 1, 2, 2})).out({1, 1, 4, 4});
    expect_error(n, Status::kUnsupported);
  }
  {  // planned shape differs
    Node n = resize_scales({1, 1, 2, 2}, {1, 2, 3, 4}, {1, 1, 2, 2}, {1, 1, 4, 5});
    expect_error(n, Status::kBadModel);
  }
  {  // both scales and sizes
    Node n(ops::prepare_Resize, "Resize");
    n.in(f32({2}, {1, 2})).in(absent()).in(f32c({1}, {2})).in(i64c({1}, {4})).out({4});
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
  node.in(f32({2, 3}, {1, 2, 3, 4, 5, 6})).in(i64c({4}, {0, 1, 1, 2})).in(f32c({}, {9})).out({3, 6});
  expect_near_all(node.run(), {9, 1, 2, 3, 9, 9, 9, 4, 5, 6, 9, 9, 9, 9, 9, 9, 9, 9});
}

TEST(Pad, ConstantDefaultZeroAndNegativePads) {
  Node node(ops::prepare_Pad, "Pad");
  node.in(f32({6}, iota_floats(6, 1))).in(i64c({2}, {-2, 1})).out({5});
  expect_near_all(node.run(), {3, 4, 5, 6, 0});
}

TEST(Pad, ReflectAndEdge) {
  const std::vector<float> x = {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f};
  Node reflect(ops::prepare_Pad, "Pad");
  reflect.in(f32({3, 2}, x)).in(i64c({4}, {0, 2, 0, 0})).s("mode", "reflect").out({3, 4});
  expect_near_all(reflect.run(), {1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f, 4.5f, 5.7f});
  Node edge(ops::prepare_Pad, "Pad");
  edge.in(f32({3, 2}, x)).in(i64c({4}, {0, 2, 0, 0})).s("mode", "edge").out({3, 4});
  expect_near_all(edge.run(), {1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f, 4.5f, 5.7f});
  // pads wider than the input fold back and forth
  Node wide(ops::prepare_Pad, "Pad");
  wide.in(f32({3}, {1, 2, 3})).in(i64c({2}, {2, 3})).s("mode", "reflect").out({8});
  expect_near_all(wide.run(), {3, 2, 1, 2, 3, 2, 1, 2});
  Node edge1d(ops::prepare_Pad, "Pad");
  edge1d.in(f32({3}, {1, 2, 3})).in(i64c({2}, {2, 1})).s("mode", "edge").out({6});
  expect_near_all(edge1d.run(), {1, 1, 1, 2, 3, 3});
}

TEST(Pad, AxesInput) {
  for (int64_t axis : {1, -1}) {
    Node node(ops::prepare_Pad, "Pad");
    node.in(f32({2, 3}, {1, 2, 3, 4, 5, 6})).in(i64c({2}, {1, 1})).in(absent()).in(i64c({1}, {axis})).out({2, 5});
    expect_near_all(node.run(), {0, 1, 2, 3, 0, 0, 4, 5, 6, 0});
  }
}

TEST(Pad, Int64AndInt32Data) {
  Node node(ops::prepare_Pad, "Pad");
  node.in(make_tensor<int64_t>(DType::kInt64, {2}, {7, -8}, false)).in(i64c({2}, {1, 2}));
  node.in(make_tensor<int64_t>(DType::kInt64, {1}, {5}, true)).out({5}, DType::kInt64);
  EXPECT_EQ(node.run_as<int64_t>(), (std::vector<int64_t>{5, 7, -8, 5, 5}));
  Node i32(ops::prepare_Pad, "Pad");
  i32.in(make_tensor<int32_t>(DType::kInt32, {2, 2}, {1, 2, 3, 4}, false)).in(i64c({4}, {1, 0, 0, 1}));
  i32.s("mode", "reflect").out({3, 3}, DType::kInt32);
  EXPECT_EQ(i32.run_as<int32_t>(), (std::vector<int32_t>{3, 4, 3, 1, 2, 1, 3, 4, 3}));
}

TEST(Pad, PrepareErrors) {
  {
    Node n(ops::prepare_Pad, "Pad");
    n.in(f32({3}, {1, 2, 3})).in(i64c({2}, {1, 1})).s("mode", "wrap").out({5});
    expect_error(n, Status::kUnsupported);
  }
  {  // pads not constant
    Node n(ops::prepare_Pad, "Pad");
    n.in(f32({3}, {1, 2, 3})).in(make_tensor<int64_t>(DType::kInt64, {2}, {1, 1}, false)).out({5});
    expect_error(n, Status::kUnsupported);
  }
  {
    Node n(ops::prepare_Pad, "Pad");
    n.in(f32({3}, {1, 2, 3})).in(i64c({4}, {1, 1, 1, 1})).out({5});
    expect_error(n, Status::kBadModel);
  }
  {  // constant_value of another dtype
    Node n(ops::prepare_Pad, "Pad");
    n.in(f32({3}, {1, 2, 3})).in(i64c({2}, {1, 1})).in(i64c({}, {0})).out({5});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n(ops::prepare_Pad, "Pad");
    n.in(f32({3}, {1, 2, 3})).in(i64c({2}, {1, 1})).out({6});
    expect_error(n, Status::kBadModel);
  }
  {
    Node n(ops::prepare_Pad, "Pad");
    n.in(f32({3}, {1, 2, 3})).in(i64c({2}, {-2, -2})).out({0});
    expect_error(n, Status::kBadModel);
  }
}

}  // namespace
}  // namespace pare::rt
