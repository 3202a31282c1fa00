// Calling one runtime op through its factory, as the interpreter does, on tensors made by
// hand: tensor and attribute builders, a Node that prepares and runs (with or without a
// thread pool, under one ISA cap), the ISA caps usable here, and small data and comparison
// helpers shared by the op tests in tests/runtime.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/op.h"
#include "runtime/thread_pool.h"

namespace pare::rt::op_harness {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& shape);
// Row-major offset of coord in shape.
int64_t offset_of(const Shape& shape, const Shape& coord);
// Advances a row-major coordinate; false after the last one.
bool next_coord(const Shape& shape, Shape* coord);
// Row-major index into `shape` broadcast (numpy-style) to `out_shape` of output position pos.
int64_t broadcast_index(const Shape& shape, const Shape& out_shape, int64_t pos);

template <typename T>
DType dtype_of();
template <> inline DType dtype_of<float>() { return DType::kFloat32; }
template <> inline DType dtype_of<double>() { return DType::kFloat64; }
template <> inline DType dtype_of<int64_t>() { return DType::kInt64; }
template <> inline DType dtype_of<int32_t>() { return DType::kInt32; }
template <> inline DType dtype_of<int8_t>() { return DType::kInt8; }
template <> inline DType dtype_of<uint8_t>() { return DType::kUInt8; }

// A tensor fed to an op: its description and bytes. `constant` lets prepare see the values;
// `absent` stands for an omitted optional input.
struct Tensor {
  TensorDesc desc;
  std::vector<uint8_t> bytes;
  bool constant = false;
  bool absent = false;
};

template <typename T>
Tensor make(const Shape& shape, const std::vector<T>& values, DType dtype = dtype_of<T>(), bool is_constant = false) {
  Tensor t;
  t.constant = is_constant;
  t.desc.dtype = dtype;
  t.desc.shape = shape;
  EXPECT_EQ(static_cast<int64_t>(values.size()), numel(shape)) << "test tensor size";
  t.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

template <typename T>
Tensor constant(const Shape& shape, const std::vector<T>& values, DType dtype = dtype_of<T>()) {
  return make<T>(shape, values, dtype, true);
}

Tensor absent();

// A planned output.
TensorDesc out(DType dtype, const Shape& shape);

// Marks d quantized: per tensor (axis -1, one scale) or per axis.
void quantize(TensorDesc* d, std::vector<float> scales, std::vector<int64_t> zero_points, int32_t axis = -1);

Attribute attr_int(const std::string& name, int64_t v);
Attribute attr_float(const std::string& name, float v);
Attribute attr_string(const std::string& name, const std::string& v);
Attribute attr_ints(const std::string& name, const std::vector<int64_t>& v);

// What preparing and running a node gave: the status of prepare and, when it succeeded,
// the kernel's name and the bytes of every output.
struct Outcome {
  Status status;
  std::string kernel;
  std::vector<std::vector<uint8_t>> outputs;

  template <typename T>
  std::vector<T> values(size_t i = 0) const {
    std::vector<T> v(outputs[i].size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), outputs[i].data(), outputs[i].size());
    return v;
  }
};

#define EXPECT_OK(r) ASSERT_TRUE((r).status.is_ok()) << (r).status.message()

// One node (named "node"): inputs, attributes, planned outputs, a fused activation and an ISA
// cap; prepares through the op's factory and runs with or without a thread pool. Unnamed
// inputs and outputs are named "in<i>" and "out<i>".
class Node {
 public:
  explicit Node(OpFactory factory, const char* op = "Op") : factory_(factory), op_(op) {}

  Node& in(Tensor t);
  Node& out(TensorDesc d);
  Node& out(const Shape& shape, DType dtype = DType::kFloat32) { return out(op_harness::out(dtype, shape)); }
  Node& attr(const Attribute& a);
  Node& i(const char* name, int64_t v) { return attr(attr_int(name, v)); }
  Node& f(const char* name, float v) { return attr(attr_float(name, v)); }
  Node& s(const char* name, const char* v) { return attr(attr_string(name, v)); }
  Node& ints(const char* name, const Shape& v) { return attr(attr_ints(name, v)); }
  Node& act(ActivationKind kind, float p0 = 0.f, float p1 = 0.f);
  Node& isa(Isa cap);

  Result<std::unique_ptr<OpKernel>> prepare();
  Status prepare_status() { return prepare().status(); }

  // Prepares and runs `runs` times (when timing, the first run warms up and *ms_per_run gets
  // the mean of the others). Output buffers get a guard byte after the planned size to
  // catch overruns; scratch is 64-byte aligned, as the interpreter gives it.
  Outcome run_all(ThreadPool* pool = nullptr, int runs = 1, double* ms_per_run = nullptr);
  // Prepares (must succeed) and runs; returns output 0's bytes.
  std::vector<uint8_t> run_bytes(ThreadPool* pool = nullptr, std::string* kernel_name = nullptr, int runs = 1,
                                 double* ms_per_run = nullptr);
  std::vector<float> run(ThreadPool* pool = nullptr) { return run_as<float>(pool); }
  template <typename T>
  std::vector<T> run_as(ThreadPool* pool = nullptr) {
    const std::vector<uint8_t> bytes = run_bytes(pool);
    std::vector<T> v(bytes.size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
  }
  std::string kernel_name();

 private:
  OpFactory factory_;
  std::string op_;
  Attrs attrs_;
  FusedActivation activation_;
  Isa isa_ = Isa::kScalar;
  std::vector<Tensor> inputs_;
  std::vector<TensorDesc> outputs_;
};

// The same in one call; nullptr inputs are omitted optional inputs.
Outcome run(OpFactory factory, const std::vector<Attribute>& attributes, const std::vector<const Tensor*>& inputs,
            const std::vector<TensorDesc>& outputs, FusedActivation activation = {}, Isa isa = Isa::kScalar);

// Prepare must fail with `code`, naming the node.
void expect_error(Node& node, Status::Code code);

// The ISA caps usable here (and under PARE_ISA), each selecting its own kernel variants. The
// dot-product caps (AVX512-VNNI, NEON dot) select other kernels only for int8 ops.
std::vector<Isa> usable_caps();
std::vector<Isa> usable_int8_caps();
// The kernel name starts with `prefix` and ends with the cap's ISA.
void expect_kernel_for(const std::string& name, const std::string& prefix, Isa cap);

// Runs a kernel made by hand (a fused one) once on `inputs`, on the calling thread or a pool
// of `threads`, into an output of `output_bytes` followed by guard values, with 64-byte
// aligned scratch; fails the test if the guard is written and returns the output's bytes.
std::vector<uint8_t> run_kernel_bytes(OpKernel& kernel, const std::vector<const void*>& inputs, size_t output_bytes,
                                      int threads);

// Uniform in [-1, 1), reproducible from the seed.
std::vector<float> random_floats(size_t n, uint32_t seed);
// start, start + step, ...
std::vector<float> iota(size_t n, float start = 0.f, float step = 1.f);

// max(v, 0) element for element.
std::vector<float> relu(std::vector<float> v);

// [N, C, H, W] data -> [N, H, W, C] and back; `nchw` is the NCHW shape.
template <typename T>
std::vector<T> to_nhwc(const Shape& nchw, const std::vector<T>& x) {
  const int64_t n = nchw[0], c = nchw[1], hw = nchw[2] * nchw[3];
  std::vector<T> y(x.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j)
      for (int64_t k = 0; k < hw; ++k) y[static_cast<size_t>((i * hw + k) * c + j)] = x[static_cast<size_t>((i * c + j) * hw + k)];
  return y;
}
template <typename T>
std::vector<T> to_nchw(const Shape& nchw, const std::vector<T>& y) {
  const int64_t n = nchw[0], c = nchw[1], hw = nchw[2] * nchw[3];
  std::vector<T> x(y.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j)
      for (int64_t k = 0; k < hw; ++k) x[static_cast<size_t>((i * c + j) * hw + k)] = y[static_cast<size_t>((i * hw + k) * c + j)];
  return x;
}
inline Shape nhwc_shape(const Shape& nchw) { return {nchw[0], nchw[2], nchw[3], nchw[1]}; }

// |got - want| <= 1e-7 + rel * |want| element for element.
void expect_near(const std::vector<float>& got, const std::vector<float>& want, float rel = 1e-6f);
// |got - want| <= tol * max(1, |want|) element for element.
void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-4f);

}  // namespace pare::rt::op_harness
