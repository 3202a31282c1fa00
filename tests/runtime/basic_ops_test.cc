// Elementwise, activation, reduction, shape and data-movement ops, called through their
// factories with hand-made tensor descriptions: results against hand-computed values (or a
// plain N-d reference for broadcasting and transposes), and the errors prepare must report.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "runtime/op.h"
#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"

namespace pare::rt {
namespace {

using Shape = std::vector<int64_t>;

template <typename T>
DType dtype_of();
template <>
DType dtype_of<float>() {
  return DType::kFloat32;
}
template <>
DType dtype_of<double>() {
  return DType::kFloat64;
}
template <>
DType dtype_of<int64_t>() {
  return DType::kInt64;
}
template <>
DType dtype_of<int32_t>() {
  return DType::kInt32;
}
template <>
DType dtype_of<int8_t>() {
  return DType::kInt8;
}
template <>
DType dtype_of<uint8_t>() {
  return DType::kUInt8;
}

// A tensor with its bytes. `constant` makes prepare see its values.
struct Tensor {
  TensorDesc desc;
  std::vector<uint8_t> bytes;
  bool constant = false;
};

template <typename T>
Tensor make(Shape shape, const std::vector<T>& values, DType dtype = dtype_of<T>()) {
  Tensor t;
  t.desc.name = "t";
  t.desc.dtype = dtype;
  t.desc.shape = std::move(shape);
  EXPECT_EQ(static_cast<size_t>(t.desc.num_elements()), values.size());
  t.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

template <typename T>
Tensor constant(Shape shape, const std::vector<T>& values, DType dtype = dtype_of<T>()) {
  Tensor t = make<T>(std::move(shape), values, dtype);
  t.constant = true;
  return t;
}

Tensor bools(Shape shape, const std::vector<uint8_t>& values) {
  return make<uint8_t>(std::move(shape), values, DType::kBool);
}

TensorDesc out(DType dtype, Shape shape) {
  TensorDesc d;
  d.name = "y";
  d.dtype = dtype;
  d.shape = std::move(shape);
  return d;
}

Attribute attr_int(const std::string& name, int64_t v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::kInt;
  a.i = v;
  return a;
}
Attribute attr_float(const std::string& name, float v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::kFloat;
  a.f = v;
  return a;
}
Attribute attr_string(const std::string& name, const std::string& v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::kString;
  a.s = v;
  return a;
}
Attribute attr_ints(const std::string& name, const std::vector<int64_t>& v) {
  Attribute a;
  a.name = name;
  a.type = Attribute::kInts;
  a.ints = v;
  return a;
}

using Factory = Result<std::unique_ptr<OpKernel>> (*)(const PrepareContext&);

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

// Prepares and runs one node; nullptr inputs are omitted optional inputs. Output buffers
// get a guard byte after the planned size to catch overruns.
Outcome run(Factory factory, const std::vector<Attribute>& attributes,
            const std::vector<const Tensor*>& inputs, const std::vector<TensorDesc>& outputs,
            FusedActivation activation = {}) {
  Attrs attrs;
  for (const Attribute& a : attributes) attrs.add(a);
  std::vector<TensorDesc> in_descs(inputs.size());
  PrepareContext ctx;
  ctx.op = "Op";
  ctx.node_name = "node";
  ctx.attrs = &attrs;
  ctx.activation = activation;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] == nullptr) {
      ctx.inputs.push_back(nullptr);
      continue;
    }
    in_descs[i] = inputs[i]->desc;
    if (inputs[i]->constant) in_descs[i].constant = inputs[i]->bytes.data();
    ctx.inputs.push_back(&in_descs[i]);
  }
  for (const TensorDesc& d : outputs) ctx.outputs.push_back(&d);

  Outcome result;
  Result<std::unique_ptr<OpKernel>> prepared = factory(ctx);
  if (!prepared.is_ok()) {
    result.status = prepared.status();
    return result;
  }
  OpKernel& kernel = *prepared.value();
  result.kernel = kernel.kernel_name();
  constexpr uint8_t kGuard = 0xA5;
  std::vector<const void*> in_ptrs;
  for (const Tensor* t : inputs) in_ptrs.push_back(t ? t->bytes.data() : nullptr);
  std::vector<void*> out_ptrs;
  for (const TensorDesc& d : outputs) {
    result.outputs.emplace_back(d.byte_size() + 1, kGuard);
    out_ptrs.push_back(result.outputs.back().data());
  }
  std::vector<uint8_t> scratch(kernel.scratch_bytes() + 64);
  ExecContext exec;
  exec.inputs = in_ptrs.data();
  exec.outputs = out_ptrs.data();
  exec.scratch = scratch.data();
  kernel.run(exec);
  for (auto& o : result.outputs) {
    EXPECT_EQ(o.back(), kGuard) << "output overrun";
    o.pop_back();
  }
  return result;
}

#define EXPECT_OK(r) ASSERT_TRUE((r).status.is_ok()) << (r).status.message()

void expect_near(const std::vector<float>& got, const std::vector<float>& want, float rel = 1e-6f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-7f + rel * std::fabs(want[i])) << "at " << i;
}

// Row-major index of out_shape position `pos` in a tensor of `shape` broadcast to it.
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

std::vector<float> iota(size_t n, float start, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
  return v;
}

// ---- binary ops ----------------------------------------------------------------------

TEST(Elementwise, AddSameShapeAndKernelName) {
  Tensor a = make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = make<float>({2, 3}, {10, 20, 30, 40, 50, 60});
  Outcome r = run(ops::prepare_Add, {}, {&a, &b}, {out(DType::kFloat32, {2, 3})});
  EXPECT_OK(r);
  EXPECT_EQ(r.kernel, "f32_add_ref__scalar");
  EXPECT_EQ(r.values<float>(), (std::vector<float>{11, 22, 33, 44, 55, 66}));
}

TEST(Elementwise, ScalarOnEitherSide) {
  Tensor v = make<float>({4}, {1, 2, 3, 4});
  Tensor s = make<float>({}, {8});
  Outcome left = run(ops::prepare_Sub, {}, {&s, &v}, {out(DType::kFloat32, {4})});
  EXPECT_OK(left);
  EXPECT_EQ(left.values<float>(), (std::vector<float>{7, 6, 5, 4}));
  Outcome right = run(ops::prepare_Div, {}, {&v, &s}, {out(DType::kFloat32, {4})});
  EXPECT_OK(right);
  EXPECT_EQ(right.values<float>(), (std::vector<float>{0.125f, 0.25f, 0.375f, 0.5f}));
  Outcome both = run(ops::prepare_Mul, {}, {&s, &s}, {out(DType::kFloat32, {})});
  EXPECT_OK(both);
  EXPECT_EQ(both.values<float>(), (std::vector<float>{64}));
}

TEST(Elementwise, BroadcastRowAndColumn) {
  Tensor col = make<float>({2, 1}, {1, 2});
  Tensor row = make<float>({1, 3}, {10, 20, 30});
  Outcome r = run(ops::prepare_Mul, {}, {&col, &row}, {out(DType::kFloat32, {2, 3})});
  EXPECT_OK(r);
  EXPECT_EQ(r.values<float>(), (std::vector<float>{10, 20, 30, 20, 40, 60}));
  Tensor m = make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor last = make<float>({3}, {1, 0, -1});
  Outcome r2 = run(ops::prepare_Sub, {}, {&m, &last}, {out(DType::kFloat32, {2, 3})});
  EXPECT_OK(r2);
  EXPECT_EQ(r2.values<float>(), (std::vector<float>{0, 2, 4, 3, 5, 7}));
}

// Every arithmetic op over shape pairs that need the general N-d walk, against a plain
// per-element reference.
TEST(Elementwise, BroadcastShapesAgainstReference) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 1, 3}, {4, 1}},          {{3, 1, 2, 1}, {1, 4, 1, 5}}, {{5}, {2, 3, 1}},
      {{1, 3, 1, 2}, {2, 1, 4, 2}}, {{2, 3, 4}, {2, 1, 4}},       {{1}, {3, 1, 2}},
  };
  struct Op {
    Factory factory;
    std::function<float(float, float)> fn;
  };
  const std::vector<Op> op_list = {
      {ops::prepare_Add, [](float x, float y) { return x + y; }},
      {ops::prepare_Sub, [](float x, float y) { return x - y; }},
      {ops::prepare_Mul, [](float x, float y) { return x * y; }},
      {ops::prepare_Div, [](float x, float y) { return x / y; }},
  };
  for (const auto& [sa, sb] : cases) {
    Shape so;
    ASSERT_TRUE(ops::broadcast_shapes(sa, sb, &so));
    const auto na = static_cast<size_t>(ops::num_elements(sa));
    const auto nb = static_cast<size_t>(ops::num_elements(sb));
    Tensor a = make<float>(sa, iota(na, 1.f, 1.f));
    Tensor b = make<float>(sb, iota(nb, 0.5f, 0.25f));
    for (const Op& op : op_list) {
      Outcome r = run(op.factory, {}, {&a, &b}, {out(DType::kFloat32, so)});
      EXPECT_OK(r);
      std::vector<float> want;
      for (int64_t i = 0; i < ops::num_elements(so); ++i)
        want.push_back(op.fn(1.f + static_cast<float>(broadcast_index(sa, so, i)),
                             0.5f + 0.25f * static_cast<float>(broadcast_index(sb, so, i))));
      EXPECT_EQ(r.values<float>(), want) << ops::num_elements(so) << " elements";
    }
  }
}

TEST(Elementwise, IntegerArithmetic) {
  Tensor a64 = make<int64_t>({3}, {7, -7, 1LL << 40});
  Tensor b64 = make<int64_t>({3}, {2, 2, 3});
  Outcome add = run(ops::prepare_Add, {}, {&a64, &b64}, {out(DType::kInt64, {3})});
  EXPECT_OK(add);
  EXPECT_EQ(add.kernel, "i64_add_ref__scalar");
  EXPECT_EQ(add.values<int64_t>(), (std::vector<int64_t>{9, -5, (1LL << 40) + 3}));
  Outcome div = run(ops::prepare_Div, {}, {&a64, &b64}, {out(DType::kInt64, {3})});
  EXPECT_OK(div);  // truncates toward zero
  EXPECT_EQ(div.values<int64_t>(), (std::vector<int64_t>{3, -3, (1LL << 40) / 3}));

  Tensor a32 = make<int32_t>({2}, {6, -4});
  Tensor b32 = make<int32_t>({}, {-3});
  Outcome mul = run(ops::prepare_Mul, {}, {&a32, &b32}, {out(DType::kInt32, {2})});
  EXPECT_OK(mul);
  EXPECT_EQ(mul.values<int32_t>(), (std::vector<int32_t>{-18, 12}));

  Tensor zero = make<int32_t>({}, {0});
  Outcome by_zero = run(ops::prepare_Div, {}, {&a32, &zero}, {out(DType::kInt32, {2})});
  EXPECT_OK(by_zero);
  EXPECT_EQ(by_zero.values<int32_t>(), (std::vector<int32_t>{0, 0}));

  // uint8 and int8 wrap around like numpy.
  Tensor u = make<uint8_t>({2}, {250, 3});
  Tensor v = make<uint8_t>({2}, {10, 5});
  Outcome uadd = run(ops::prepare_Add, {}, {&u, &v}, {out(DType::kUInt8, {2})});
  EXPECT_OK(uadd);
  EXPECT_EQ(uadd.values<uint8_t>(), (std::vector<uint8_t>{4, 8}));
  Outcome usub = run(ops::prepare_Sub, {}, {&u, &v}, {out(DType::kUInt8, {2})});
  EXPECT_OK(usub);
  EXPECT_EQ(usub.values<uint8_t>(), (std::vector<uint8_t>{240, 254}));
  Tensor s = make<int8_t>({2}, {-128, 100});
  Tensor t = make<int8_t>({2}, {1, 100});
  Outcome ssub = run(ops::prepare_Sub, {}, {&s, &t}, {out(DType::kInt8, {2})});
  EXPECT_OK(ssub);
  EXPECT_EQ(ssub.values<int8_t>(), (std::vector<int8_t>{127, 0}));
}

TEST(Elementwise, Pow) {
  Tensor x = make<float>({3}, {2, 3, 4});
  Tensor e = make<float>({3}, {0.5f, -1.5f, 0});
  Outcome r = run(ops::prepare_Pow, {}, {&x, &e}, {out(DType::kFloat32, {3})});
  EXPECT_OK(r);
  expect_near(r.values<float>(), {1.41421356f, 0.19245009f, 1.f});
  Tensor e64 = make<int64_t>({}, {3});
  Outcome ri = run(ops::prepare_Pow, {}, {&x, &e64}, {out(DType::kFloat32, {3})});
  EXPECT_OK(ri);
  EXPECT_EQ(ri.kernel, "f32_pow_i64_ref__scalar");
  EXPECT_EQ(ri.values<float>(), (std::vector<float>{8, 27, 64}));
  Tensor e32 = make<int32_t>({1, 3}, {1, 2, 3});
  Outcome rb = run(ops::prepare_Pow, {}, {&x, &e32}, {out(DType::kFloat32, {1, 3})});
  EXPECT_OK(rb);
  EXPECT_EQ(rb.values<float>(), (std::vector<float>{2, 9, 64}));
  Tensor f64 = make<double>({3}, {1, 2, 3});
  EXPECT_EQ(run(ops::prepare_Pow, {}, {&f64, &e64}, {out(DType::kFloat64, {3})}).status.code(),
            Status::kUnsupported);
}

TEST(Elementwise, Equal) {
  Tensor a = make<float>({2, 2}, {1, 2, 3, 4});
  Tensor b = make<float>({2}, {1, 4});
  Outcome r = run(ops::prepare_Equal, {}, {&a, &b}, {out(DType::kBool, {2, 2})});
  EXPECT_OK(r);
  EXPECT_EQ(r.values<uint8_t>(), (std::vector<uint8_t>{1, 0, 0, 1}));
  Tensor i = make<int64_t>({3}, {5, 6, 7});
  Tensor j = make<int64_t>({}, {6});
  Outcome ri = run(ops::prepare_Equal, {}, {&i, &j}, {out(DType::kBool, {3})});
  EXPECT_OK(ri);
  EXPECT_EQ(ri.values<uint8_t>(), (std::vector<uint8_t>{0, 1, 0}));
  Tensor i32a = make<int32_t>({2}, {-1, 2});
  Tensor i32b = make<int32_t>({2}, {-1, 3});
  Outcome r32 = run(ops::prepare_Equal, {}, {&i32a, &i32b}, {out(DType::kBool, {2})});
  EXPECT_OK(r32);
  EXPECT_EQ(r32.values<uint8_t>(), (std::vector<uint8_t>{1, 0}));
  Tensor p = bools({3}, {1, 0, 1});
  Tensor q = bools({3}, {1, 1, 0});
  Outcome rb = run(ops::prepare_Equal, {}, {&p, &q}, {out(DType::kBool, {3})});
  EXPECT_OK(rb);
  EXPECT_EQ(rb.values<uint8_t>(), (std::vector<uint8_t>{1, 0, 0}));
  // Output must be bool.
  EXPECT_EQ(run(ops::prepare_Equal, {}, {&i, &j}, {out(DType::kInt64, {3})}).status.code(),
            Status::kBadModel);
}

TEST(Elementwise, WhereBroadcasts) {
  Tensor cond = bools({2, 1}, {1, 0});
  Tensor x = make<float>({2, 2}, {1, 2, 3, 4});
  Tensor y = make<float>({}, {-1});
  Outcome r = run(ops::prepare_Where, {}, {&cond, &x, &y}, {out(DType::kFloat32, {2, 2})});
  EXPECT_OK(r);
  EXPECT_EQ(r.kernel, "x32_where_ref__scalar");
  EXPECT_EQ(r.values<float>(), (std::vector<float>{1, 2, -1, -1}));
  Tensor c2 = bools({3}, {0, 1, 0});
  Tensor a = make<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = make<int64_t>({3}, {-1, -2, -3});
  Outcome ri = run(ops::prepare_Where, {}, {&c2, &a, &b}, {out(DType::kInt64, {2, 3})});
  EXPECT_OK(ri);
  EXPECT_EQ(ri.values<int64_t>(), (std::vector<int64_t>{-1, 2, -3, -1, 5, -3}));
  Tensor not_bool = make<float>({3}, {0, 1, 0});
  EXPECT_EQ(
      run(ops::prepare_Where, {}, {&not_bool, &a, &b}, {out(DType::kInt64, {2, 3})}).status.code(),
      Status::kUnsupported);
}

TEST(Elementwise, PRelu) {
  Tensor x = make<float>({2, 3}, {-1, 2, -3, 4, -5, 0});
  Tensor slope = make<float>({3}, {0.5f, 0.25f, 2});
  Outcome r = run(ops::prepare_PRelu, {}, {&x, &slope}, {out(DType::kFloat32, {2, 3})});
  EXPECT_OK(r);
  EXPECT_EQ(r.values<float>(), (std::vector<float>{-0.5f, 2, -6, 4, -1.25f, 0}));
  // The slope broadcasts to x, never the other way.
  Tensor wide = make<float>({2, 2, 3}, std::vector<float>(12, 1.f));
  EXPECT_EQ(
      run(ops::prepare_PRelu, {}, {&x, &wide}, {out(DType::kFloat32, {2, 2, 3})}).status.code(),
      Status::kBadModel);
}

TEST(Elementwise, PrepareErrors) {
  Tensor a = make<float>({2, 3}, std::vector<float>(6, 1.f));
  Tensor b = make<float>({4}, std::vector<float>(4, 1.f));
  Outcome bad = run(ops::prepare_Add, {}, {&a, &b}, {out(DType::kFloat32, {2, 4})});
  EXPECT_EQ(bad.status.code(), Status::kBadModel);
  EXPECT_NE(bad.status.message().find("cannot broadcast"), std::string::npos)
      << bad.status.message();
  EXPECT_NE(bad.status.message().find("Op 'node'"), std::string::npos);

  Tensor i = make<int64_t>({2, 3}, std::vector<int64_t>(6, 1));
  EXPECT_EQ(run(ops::prepare_Add, {}, {&a, &i}, {out(DType::kFloat32, {2, 3})}).status.code(),
            Status::kBadModel);
  Outcome planned = run(ops::prepare_Add, {}, {&a, &a}, {out(DType::kFloat32, {3, 2})});
  EXPECT_EQ(planned.status.code(), Status::kBadModel);
  EXPECT_NE(planned.status.message().find("[3,2]"), std::string::npos);
  EXPECT_EQ(run(ops::prepare_Add, {}, {&a}, {out(DType::kFloat32, {2, 3})}).status.code(),
            Status::kBadModel);
  Tensor d = make<double>({2}, {1, 2});
  Outcome dbl = run(ops::prepare_Mul, {}, {&d, &d}, {out(DType::kFloat64, {2})});
  EXPECT_EQ(dbl.status.code(), Status::kUnsupported);
  EXPECT_NE(dbl.status.message().find("float64"), std::string::npos);
  FusedActivation relu;
  relu.kind = ActivationKind::kRelu;
  EXPECT_EQ(run(ops::prepare_Add, {}, {&a, &a}, {out(DType::kFloat32, {2, 3})}, relu).status.code(),
            Status::kBadModel);
}

TEST(Elementwise, EmptyTensors) {
  Tensor a = make<float>({0, 3}, {});
  Tensor b = make<float>({3}, {1, 2, 3});
  Outcome r = run(ops::prepare_Add, {}, {&a, &b}, {out(DType::kFloat32, {0, 3})});
  EXPECT_OK(r);
  EXPECT_TRUE(r.values<float>().empty());
}

// ---- activations ---------------------------------------------------------------------

TEST(Activation, ReluAndLeakyRelu) {
  Tensor x = make<float>({5}, {-2, -0.5f, 0, 0.5f, 3});
  Outcome relu = run(ops::prepare_Relu, {}, {&x}, {out(DType::kFloat32, {5})});
  EXPECT_OK(relu);
  EXPECT_EQ(relu.kernel, "f32_relu_ref__scalar");
  EXPECT_EQ(relu.values<float>(), (std::vector<float>{0, 0, 0, 0.5f, 3}));
  Outcome leaky = run(ops::prepare_LeakyRelu, {}, {&x}, {out(DType::kFloat32, {5})});
  EXPECT_OK(leaky);  // alpha defaults to 0.01
  expect_near(leaky.values<float>(), {-0.02f, -0.005f, 0, 0.5f, 3});
  Outcome leaky2 =
      run(ops::prepare_LeakyRelu, {attr_float("alpha", 0.5f)}, {&x}, {out(DType::kFloat32, {5})});
  EXPECT_OK(leaky2);
  EXPECT_EQ(leaky2.values<float>(), (std::vector<float>{-1, -0.25f, 0, 0.5f, 3}));
  EXPECT_EQ(run(ops::prepare_LeakyRelu, {attr_int("alpha", 1)}, {&x}, {out(DType::kFloat32, {5})})
                .status.code(),
            Status::kBadModel);
}

TEST(Activation, Clip) {
  Tensor x = make<float>({5}, {-3, -1, 0, 1, 3});
  Tensor lo = constant<float>({}, {-1.5f});
  Tensor hi = constant<float>({}, {2});
  Outcome both = run(ops::prepare_Clip, {}, {&x, &lo, &hi}, {out(DType::kFloat32, {5})});
  EXPECT_OK(both);
  EXPECT_EQ(both.values<float>(), (std::vector<float>{-1.5f, -1, 0, 1, 2}));
  Outcome max_only = run(ops::prepare_Clip, {}, {&x, nullptr, &hi}, {out(DType::kFloat32, {5})});
  EXPECT_OK(max_only);
  EXPECT_EQ(max_only.values<float>(), (std::vector<float>{-3, -1, 0, 1, 2}));
  Outcome none = run(ops::prepare_Clip, {}, {&x}, {out(DType::kFloat32, {5})});
  EXPECT_OK(none);
  EXPECT_EQ(none.values<float>(), (std::vector<float>{-3, -1, 0, 1, 3}));

  Tensor xi = make<int8_t>({4}, {-128, -5, 5, 127});
  Tensor loi = constant<int8_t>({}, {-10});
  Tensor hii = constant<int8_t>({}, {0});
  Outcome ri = run(ops::prepare_Clip, {}, {&xi, &loi, &hii}, {out(DType::kInt8, {4})});
  EXPECT_OK(ri);
  EXPECT_EQ(ri.kernel, "i8_clip_ref__scalar");
  EXPECT_EQ(ri.values<int8_t>(), (std::vector<int8_t>{-10, -5, 0, 0}));
  Tensor x64 = make<int64_t>({3}, {-7, 0, 7});
  Tensor lo64 = constant<int64_t>({}, {-2});
  Outcome r64 = run(ops::prepare_Clip, {}, {&x64, &lo64}, {out(DType::kInt64, {3})});
  EXPECT_OK(r64);
  EXPECT_EQ(r64.values<int64_t>(), (std::vector<int64_t>{-2, 0, 7}));

  Tensor runtime_lo = make<float>({}, {-1});
  Outcome not_const = run(ops::prepare_Clip, {}, {&x, &runtime_lo}, {out(DType::kFloat32, {5})});
  EXPECT_EQ(not_const.status.code(), Status::kUnsupported);
  EXPECT_NE(not_const.status.message().find("min"), std::string::npos);
  EXPECT_EQ(run(ops::prepare_Clip, {}, {&x, &lo64}, {out(DType::kFloat32, {5})}).status.code(),
            Status::kBadModel);
}

TEST(Activation, SmoothFunctions) {
  Tensor x = make<float>({4}, {0, 1, -2, 0.5f});
  Outcome sig = run(ops::prepare_Sigmoid, {}, {&x}, {out(DType::kFloat32, {4})});
  EXPECT_OK(sig);
  expect_near(sig.values<float>(), {0.5f, 0.731058579f, 0.119202922f, 0.622459331f});
  Outcome tanh = run(ops::prepare_Tanh, {}, {&x}, {out(DType::kFloat32, {4})});
  EXPECT_OK(tanh);
  expect_near(tanh.values<float>(), {0, 0.761594156f, -0.964027580f, 0.462117157f});
  Outcome erf = run(ops::prepare_Erf, {}, {&x}, {out(DType::kFloat32, {4})});
  EXPECT_OK(erf);
  expect_near(erf.values<float>(), {0, 0.842700793f, -0.995322265f, 0.520499878f});
  Tensor g = make<float>({3}, {1, -1, 0.5f});
  Outcome gelu = run(ops::prepare_Gelu, {}, {&g}, {out(DType::kFloat32, {3})});
  EXPECT_OK(gelu);
  expect_near(gelu.values<float>(), {0.841344746f, -0.158655254f, 0.345731231f});
  Outcome gelu_tanh = run(ops::prepare_Gelu, {attr_string("approximate", "tanh")}, {&g},
                          {out(DType::kFloat32, {3})});
  EXPECT_OK(gelu_tanh);
  EXPECT_EQ(gelu_tanh.kernel, "f32_gelu_tanh_ref__scalar");
  expect_near(gelu_tanh.values<float>(), {0.841191991f, -0.158808009f, 0.345714010f});
  EXPECT_EQ(run(ops::prepare_Gelu, {attr_string("approximate", "fast")}, {&g},
                {out(DType::kFloat32, {3})})
                .status.code(),
            Status::kBadModel);
  Tensor s = make<float>({3}, {4, 2, 0});
  Outcome sqrt = run(ops::prepare_Sqrt, {}, {&s}, {out(DType::kFloat32, {3})});
  EXPECT_OK(sqrt);
  expect_near(sqrt.values<float>(), {2, 1.41421356f, 0});
}

TEST(Activation, HardSigmoidAndHardSwish) {
  Tensor x = make<float>({5}, {-4, -1, 0, 1, 4});
  Outcome hs = run(ops::prepare_HardSigmoid, {}, {&x}, {out(DType::kFloat32, {5})});
  EXPECT_OK(hs);  // alpha 0.2, beta 0.5
  expect_near(hs.values<float>(), {0, 0.3f, 0.5f, 0.7f, 1});
  Outcome hs2 =
      run(ops::prepare_HardSigmoid, {attr_float("alpha", 0.5f), attr_float("beta", 0.25f)}, {&x},
          {out(DType::kFloat32, {5})});
  EXPECT_OK(hs2);
  expect_near(hs2.values<float>(), {0, 0, 0.25f, 0.75f, 1});
  Outcome sw = run(ops::prepare_HardSwish, {}, {&x}, {out(DType::kFloat32, {5})});
  EXPECT_OK(sw);  // x * clamp(x / 6 + 0.5, 0, 1)
  expect_near(sw.values<float>(), {0, -1.f / 3.f, 0, 2.f / 3.f, 4});
}

TEST(Activation, PrepareErrors) {
  Tensor i = make<int32_t>({2}, {1, 2});
  Outcome r = run(ops::prepare_Relu, {}, {&i}, {out(DType::kInt32, {2})});
  EXPECT_EQ(r.status.code(), Status::kUnsupported);
  EXPECT_NE(r.status.message().find("int32"), std::string::npos);
  Tensor x = make<float>({2}, {1, 2});
  EXPECT_EQ(run(ops::prepare_Sigmoid, {}, {&x}, {out(DType::kFloat32, {1, 2})}).status.code(),
            Status::kBadModel);
  EXPECT_EQ(run(ops::prepare_Tanh, {}, {&x, &x}, {out(DType::kFloat32, {2})}).status.code(),
            Status::kBadModel);
}

// ---- reductions ----------------------------------------------------------------------

TEST(Reduce, SumOverAxes) {
  Tensor x = make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor last = constant<int64_t>({1}, {1});
  Outcome keep = run(ops::prepare_ReduceSum, {}, {&x, &last}, {out(DType::kFloat32, {2, 1})});
  EXPECT_OK(keep);
  EXPECT_EQ(keep.kernel, "f32_reduce_sum_ref__scalar");
  EXPECT_EQ(keep.values<float>(), (std::vector<float>{6, 15}));
  Tensor first = constant<int64_t>({1}, {-2});
  Outcome drop = run(ops::prepare_ReduceSum, {attr_int("keepdims", 0)}, {&x, &first},
                     {out(DType::kFloat32, {3})});
  EXPECT_OK(drop);
  EXPECT_EQ(drop.values<float>(), (std::vector<float>{5, 7, 9}));
  Outcome all = run(ops::prepare_ReduceSum, {}, {&x}, {out(DType::kFloat32, {1, 1})});
  EXPECT_OK(all);
  EXPECT_EQ(all.values<float>(), (std::vector<float>{21}));
  Tensor empty_axes = constant<int64_t>({0}, {});
  Outcome all2 = run(ops::prepare_ReduceSum, {attr_int("keepdims", 0)}, {&x, &empty_axes},
                     {out(DType::kFloat32, {})});
  EXPECT_OK(all2);
  EXPECT_EQ(all2.values<float>(), (std::vector<float>{21}));
  Outcome noop = run(ops::prepare_ReduceSum, {attr_int("noop_with_empty_axes", 1)},
                     {&x, &empty_axes}, {out(DType::kFloat32, {2, 3})});
  EXPECT_OK(noop);
  EXPECT_EQ(noop.values<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Reduce, MeanOverSplitAxes) {
  // x[i][j][k] = 4i + 2j + k; mean over i and k for each j.
  Tensor x = make<float>({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  Tensor axes = constant<int64_t>({2}, {0, 2});
  Outcome r = run(ops::prepare_ReduceMean, {attr_int("keepdims", 0)}, {&x, &axes},
                  {out(DType::kFloat32, {2})});
  EXPECT_OK(r);
  EXPECT_EQ(r.kernel, "f32_reduce_mean_ref__scalar");
  EXPECT_EQ(r.values<float>(), (std::vector<float>{2.5f, 4.5f}));
  Tensor mid = constant<int32_t>({1}, {1});
  Outcome r2 = run(ops::prepare_ReduceMean, {}, {&x, &mid}, {out(DType::kFloat32, {2, 1, 2})});
  EXPECT_OK(r2);
  EXPECT_EQ(r2.values<float>(), (std::vector<float>{1, 2, 5, 6}));
}

TEST(Reduce, Int64) {
  Tensor x = make<int64_t>({2, 3}, {1, 2, 4, -1, -2, -4});
  Tensor axes = constant<int64_t>({1}, {1});
  Outcome sum = run(ops::prepare_ReduceSum, {attr_int("keepdims", 0)}, {&x, &axes},
                    {out(DType::kInt64, {2})});
  EXPECT_OK(sum);
  EXPECT_EQ(sum.values<int64_t>(), (std::vector<int64_t>{7, -7}));
  Outcome mean = run(ops::prepare_ReduceMean, {attr_int("keepdims", 0)}, {&x, &axes},
                     {out(DType::kInt64, {2})});
  EXPECT_OK(mean);  // 7 / 3 truncates toward zero
  EXPECT_EQ(mean.values<int64_t>(), (std::vector<int64_t>{2, -2}));
}

TEST(Reduce, PrepareErrors) {
  Tensor x = make<float>({2, 3}, std::vector<float>(6, 1.f));
  Tensor runtime_axes = make<int64_t>({1}, {1});
  Outcome not_const =
      run(ops::prepare_ReduceSum, {}, {&x, &runtime_axes}, {out(DType::kFloat32, {2, 1})});
  EXPECT_EQ(not_const.status.code(), Status::kUnsupported);
  EXPECT_NE(not_const.status.message().find("axes"), std::string::npos);
  Tensor bad_axis = constant<int64_t>({1}, {2});
  Outcome out_of_range =
      run(ops::prepare_ReduceSum, {}, {&x, &bad_axis}, {out(DType::kFloat32, {2, 1})});
  EXPECT_EQ(out_of_range.status.code(), Status::kBadModel);
  EXPECT_NE(out_of_range.status.message().find("axis 2"), std::string::npos);
  Tensor twice = constant<int64_t>({2}, {1, -1});
  EXPECT_EQ(
      run(ops::prepare_ReduceMean, {}, {&x, &twice}, {out(DType::kFloat32, {2, 1})}).status.code(),
      Status::kBadModel);
  Tensor axes = constant<int64_t>({1}, {1});
  EXPECT_EQ(
      run(ops::prepare_ReduceMean, {}, {&x, &axes}, {out(DType::kFloat32, {2})}).status.code(),
      Status::kBadModel);
}

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
  Tensor b = bools({3}, {1, 0, 1});
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

  Tensor b = bools({3}, {1, 0, 1});
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

  // Out of range: an error when constant, zeros when known only at run time.
  Tensor bad_const = constant<int64_t>({1}, {3});
  EXPECT_EQ(
      run(ops::prepare_Gather, {}, {&x, &bad_const}, {out(DType::kFloat32, {1, 2})}).status.code(),
      Status::kBadModel);
  Tensor bad_runtime = make<int64_t>({2}, {3, -4});
  Outcome rz = run(ops::prepare_Gather, {}, {&x, &bad_runtime}, {out(DType::kFloat32, {2, 2})});
  EXPECT_OK(rz);
  EXPECT_EQ(rz.values<float>(), (std::vector<float>{0, 0, 0, 0}));
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
