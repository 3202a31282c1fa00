#include "tests/runtime/op_harness.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <utility>

namespace pare::rt::op_harness {

int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t offset_of(const Shape& shape, const Shape& coord) {
  int64_t off = 0;
  for (size_t i = 0; i < shape.size(); ++i) off = off * shape[i] + coord[i];
  return off;
}

bool next_coord(const Shape& shape, Shape* coord) {
  for (size_t d = shape.size(); d-- > 0;) {
    if (++(*coord)[d] < shape[d]) return true;
    (*coord)[d] = 0;
  }
  return false;
}

int64_t broadcast_index(const Shape& shape, const Shape& out_shape, int64_t pos) {
  int64_t index = 0, stride = 1;
  for (size_t k = out_shape.size(); k-- > 0;) {
    const int64_t coord = pos % out_shape[k];
    pos /= out_shape[k];
    const size_t lead = out_shape.size() - shape.size();
    if (k >= lead) {
      const int64_t dim = shape[k - lead];
      index += (dim == 1 ? 0 : coord) * stride;
      stride *= dim;
    }
  }
  return index;
}

Tensor absent() {
  Tensor t;
  t.absent = true;
  return t;
}

TensorDesc out(DType dtype, const Shape& shape) {
  TensorDesc d;
  d.dtype = dtype;
  d.shape = shape;
  return d;
}

void quantize(TensorDesc* d, std::vector<float> scales, std::vector<int64_t> zero_points, int32_t axis) {
  d->quantized = true;
  d->quant.scales = std::move(scales);
  d->quant.zero_points = std::move(zero_points);
  d->quant.axis = axis;
}

namespace {

Attribute attribute(const std::string& name, Attribute::Type type) {
  Attribute a;
  a.name = name;
  a.type = type;
  return a;
}

}  // namespace

Attribute attr_int(const std::string& name, int64_t v) {
  Attribute a = attribute(name, Attribute::kInt);
  a.i = v;
  return a;
}

Attribute attr_float(const std::string& name, float v) {
  Attribute a = attribute(name, Attribute::kFloat);
  a.f = v;
  return a;
}

Attribute attr_string(const std::string& name, const std::string& v) {
  Attribute a = attribute(name, Attribute::kString);
  a.s = v;
  return a;
}

Attribute attr_ints(const std::string& name, const std::vector<int64_t>& v) {
  Attribute a = attribute(name, Attribute::kInts);
  a.ints = v;
  return a;
}

Node& Node::in(Tensor t) {
  if (t.desc.name.empty()) t.desc.name = "in" + std::to_string(inputs_.size());
  inputs_.push_back(std::move(t));
  return *this;
}

Node& Node::out(TensorDesc d) {
  if (d.name.empty()) d.name = "out" + std::to_string(outputs_.size());
  outputs_.push_back(std::move(d));
  return *this;
}

Node& Node::attr(const Attribute& a) {
  attrs_.add(a);
  return *this;
}

Node& Node::act(ActivationKind kind, float p0, float p1) {
  activation_ = {kind, p0, p1};
  return *this;
}

Node& Node::isa(Isa cap) {
  isa_ = cap;
  return *this;
}

Result<std::unique_ptr<OpKernel>> Node::prepare() {
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

Outcome Node::run_all(ThreadPool* pool, int runs, double* ms_per_run) {
  Outcome result;
  Result<std::unique_ptr<OpKernel>> prepared = prepare();
  if (!prepared.is_ok()) {
    result.status = prepared.status();
    return result;
  }
  OpKernel& kernel = *prepared.value();
  result.kernel = kernel.kernel_name();
  constexpr uint8_t kGuard = 0xA5;
  std::vector<const void*> in_ptrs;
  for (const Tensor& t : inputs_) in_ptrs.push_back(t.absent ? nullptr : t.bytes.data());
  std::vector<void*> out_ptrs;
  for (const TensorDesc& d : outputs_) {
    result.outputs.emplace_back(d.byte_size() + 1, kGuard);
    out_ptrs.push_back(result.outputs.back().data());
  }
  std::vector<uint8_t> scratch(kernel.scratch_bytes() + 64);
  const size_t misalignment = reinterpret_cast<uintptr_t>(scratch.data()) % 64;
  ExecContext exec;
  exec.inputs = in_ptrs.data();
  exec.outputs = out_ptrs.data();
  exec.scratch = scratch.data() + (misalignment ? 64 - misalignment : 0);
  exec.pool = pool;
  exec.status = &result.status;
  kernel.run(exec);
  const auto start = std::chrono::steady_clock::now();
  for (int r = 1; r < runs; ++r) kernel.run(exec);
  if (ms_per_run)
    *ms_per_run = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
                  std::max(1, runs - 1);
  for (std::vector<uint8_t>& o : result.outputs) {
    EXPECT_EQ(o.back(), kGuard) << "output overrun";
    o.pop_back();
  }
  return result;
}

std::vector<uint8_t> Node::run_bytes(ThreadPool* pool, std::string* kernel_name, int runs, double* ms_per_run) {
  Outcome r = run_all(pool, runs, ms_per_run);
  EXPECT_TRUE(r.status.is_ok()) << r.status.message();
  if (!r.status.is_ok()) return {};
  if (kernel_name) *kernel_name = r.kernel;
  return std::move(r.outputs[0]);
}

std::string Node::kernel_name() {
  std::string name;
  run_bytes(nullptr, &name);
  return name;
}

Outcome run(OpFactory factory, const std::vector<Attribute>& attributes, const std::vector<const Tensor*>& inputs,
            const std::vector<TensorDesc>& outputs, FusedActivation activation, Isa isa) {
  Node node(factory);
  for (const Attribute& a : attributes) node.attr(a);
  for (const Tensor* t : inputs) node.in(t ? *t : absent());
  for (const TensorDesc& d : outputs) node.out(d);
  return node.act(activation.kind, activation.p0, activation.p1).isa(isa).run_all();
}

void expect_error(Node& node, Status::Code code) {
  const Status st = node.prepare_status();
  EXPECT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), code) << st.message();
  EXPECT_NE(st.message().find("node"), std::string::npos) << st.message();
}

namespace {

std::vector<Isa> usable_of(std::initializer_list<Isa> candidates) {
  std::vector<Isa> caps;
  for (Isa cap : candidates)
    if (isa_usable(cap, best_isa())) caps.push_back(cap);
  return caps;
}

}  // namespace

std::vector<Isa> usable_caps() { return usable_of({Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}); }

std::vector<Isa> usable_int8_caps() {
  return usable_of({Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni, Isa::kAmx, Isa::kNeon, Isa::kNeonDot});
}

void expect_kernel_for(const std::string& name, const std::string& prefix, Isa cap) {
  const std::string suffix = std::string("__") + isa_name(cap);
  EXPECT_EQ(name.rfind(prefix, 0), 0u) << name;
  EXPECT_TRUE(name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      << name << " for cap " << isa_name(cap);
}

std::vector<uint8_t> run_kernel_bytes(OpKernel& kernel, const std::vector<const void*>& inputs, size_t output_bytes,
                                      int threads) {
  constexpr size_t kGuard = 16;
  constexpr float kGuardValue = 7.f;
  std::vector<float> y((output_bytes + sizeof(float) - 1) / sizeof(float) + kGuard, kGuardValue);
  std::vector<float> scratch(kernel.scratch_bytes() / sizeof(float) + 16);
  auto* aligned = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
  void* outputs[1] = {y.data()};
  ExecContext ctx;
  ctx.inputs = inputs.data();
  ctx.outputs = outputs;
  ctx.scratch = aligned;
  ThreadPool pool(threads);
  ctx.pool = threads > 1 ? &pool : nullptr;
  kernel.run(ctx);
  for (size_t i = y.size() - kGuard; i < y.size(); ++i) EXPECT_EQ(y[i], kGuardValue) << "written past the output";
  std::vector<uint8_t> got(output_bytes);
  std::memcpy(got.data(), y.data(), output_bytes);
  return got;
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<float> iota(size_t n, float start, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
  return v;
}

std::vector<float> relu(std::vector<float> v) {
  for (float& x : v) x = std::max(x, 0.f);
  return v;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want, float rel) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-7f + rel * std::fabs(want[i])) << "at " << i;
}

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, float tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.f, std::fabs(want[i]))) << "element " << i;
}

}  // namespace pare::rt::op_harness
