// aten ops lowered to IR ops, one function per op family; the table at the end maps
// TorchScript op kinds to them. Shapes are static here, so sizes and axes are resolved now
// and the IR gets constant shape inputs.
#include <ATen/ops/arange.h>
#include <ATen/ops/full.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "formats/torchscript/lowering.h"
#include "ir/status.h"

namespace pare::torchscript_import {

namespace {

using ir::DType;
using ir::OpKind;
using ir::TensorId;

ir::Attributes attrs(std::initializer_list<std::pair<const char*, ir::AttrValue>> list) {
  ir::Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

bool is_float(DType t) { return t == DType::kFloat32 || t == DType::kFloat64; }

int dtype_rank(DType t) {
  switch (t) {
    case DType::kBool: return 0;
    case DType::kUInt8: case DType::kInt8: return 1;
    case DType::kInt32: return 2;
    case DType::kInt64: return 3;
    default: return 4;
  }
}

// Inputs a and b of a binary op as tensors of one dtype, promoting as torch does: a scalar
// takes the tensor's dtype unless it is a float next to an integer tensor.
std::pair<TensorId, TensorId> binary_operands(Lowering& l, size_t ia, size_t ib) {
  const bool a_scalar = l.in(ia).kind == Entry::kStatic && !l.in(ia).value.isTensor();
  const bool b_scalar = l.in(ib).kind == Entry::kStatic && !l.in(ib).value.isTensor();
  if (a_scalar && b_scalar) l.invalid("both operands are scalars");
  auto scalar_is_float = [&](size_t i) { return l.in(i).value.isDouble(); };
  if (b_scalar) {
    TensorId a = l.tensor(ia);
    DType t = is_float(l.dtype(a)) || !scalar_is_float(ib) ? l.dtype(a) : DType::kFloat32;
    return {l.cast(a, t), l.tensor_like(ib, t)};
  }
  if (a_scalar) {
    TensorId b = l.tensor(ib);
    DType t = is_float(l.dtype(b)) || !scalar_is_float(ia) ? l.dtype(b) : DType::kFloat32;
    return {l.tensor_like(ia, t), l.cast(b, t)};
  }
  TensorId a = l.tensor(ia), b = l.tensor(ib);
  DType t = dtype_rank(l.dtype(a)) >= dtype_rank(l.dtype(b)) ? l.dtype(a) : l.dtype(b);
  return {l.cast(a, t), l.cast(b, t)};
}

TensorId transpose(Lowering& l, TensorId x, std::vector<int64_t> perm) {
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i) identity &= perm[i] == static_cast<int64_t>(i);
  if (identity) return x;
  return l.emit1(OpKind::kTranspose, {x}, attrs({{"perm", perm}}));
}

TensorId scale(Lowering& l, TensorId x, double factor) {
  if (factor == 1.0) return x;
  return l.emit1(OpKind::kMul, {x, l.const_scalar(factor, l.dtype(x))});
}

// add/sub(self, other, alpha): self +- alpha * other.
void lower_add_sub(Lowering& l, OpKind op) {
  auto [a, b] = binary_operands(l, 0, 1);
  if (l.num_inputs() > 2 && !l.is_none(2)) b = scale(l, b, l.float_arg(2));
  l.out_tensor(0, l.emit1(op, {a, b}));
}

// rsub(self, other, alpha) = other - alpha * self.
void lower_rsub(Lowering& l) {
  auto [a, b] = binary_operands(l, 0, 1);
  if (l.num_inputs() > 2 && !l.is_none(2)) a = scale(l, a, l.float_arg(2));
  l.out_tensor(0, l.emit1(OpKind::kSub, {b, a}));
}

void lower_binary(Lowering& l, OpKind op) {
  auto [a, b] = binary_operands(l, 0, 1);
  l.out_tensor(0, l.emit1(op, {a, b}));
}

// div(self, other, rounding_mode=None|"trunc"|"floor"); true division is float.
void lower_div(Lowering& l) {
  auto [a, b] = binary_operands(l, 0, 1);
  std::string mode = l.num_inputs() > 2 && !l.is_none(2) ? l.string_arg(2) : "";
  if (mode.empty() && !is_float(l.dtype(a))) {
    a = l.cast(a, DType::kFloat32);
    b = l.cast(b, DType::kFloat32);
  }
  if (!mode.empty() && is_float(l.dtype(a))) l.unsupported("rounding_mode '" + mode + "' on float tensors");
  if (mode == "floor") {
    // IR Div truncates; a - (a mod b), with the divisor's sign, divides exactly to the floor.
    TensorId r = l.emit1(OpKind::kMod, {a, b});
    a = l.emit1(OpKind::kSub, {a, r});
  }
  l.out_tensor(0, l.emit1(OpKind::kDiv, {a, b}));
}

void lower_floor_divide(Lowering& l) {
  auto [a, b] = binary_operands(l, 0, 1);
  if (is_float(l.dtype(a))) l.unsupported("floor division of float tensors");
  TensorId r = l.emit1(OpKind::kMod, {a, b});
  l.out_tensor(0, l.emit1(OpKind::kDiv, {l.emit1(OpKind::kSub, {a, r}), b}));
}

// remainder (the divisor's sign) and fmod (the dividend's).
void lower_mod(Lowering& l, bool fmod) {
  auto [a, b] = binary_operands(l, 0, 1);
  l.out_tensor(0, l.emit1(OpKind::kMod, {a, b}, attrs({{"fmod", static_cast<int64_t>(fmod)}})));
}

void lower_compare(Lowering& l, OpKind op, bool negate) {
  auto [a, b] = binary_operands(l, 0, 1);
  TensorId r = l.emit1(op, {a, b});
  if (negate) r = l.emit1(OpKind::kNot, {r});
  l.out_tensor(0, r);
}

// Bitwise ops on bool tensors (masks: ~keep, a & b) are the logical ops.
void lower_bool_op(Lowering& l, OpKind op) {
  std::vector<TensorId> in;
  for (size_t i = 0; i < (op == OpKind::kNot ? 1u : 2u); ++i) {
    TensorId t = l.tensor(i);
    if (l.dtype(t) != DType::kBool) l.unsupported("bitwise ops on integer tensors (bool masks only)");
    in.push_back(t);
  }
  l.out_tensor(0, l.emit1(op, in));
}

void lower_unary(Lowering& l, OpKind op, ir::Attributes a = {}) {
  TensorId x = l.tensor(0);
  if (!is_float(l.dtype(x))) x = l.cast(x, DType::kFloat32);
  l.out_tensor(0, l.emit1(op, {x}, std::move(a)));
}

// Clip with constant bounds; None leaves that side open.
void lower_clamp(Lowering& l, size_t min_i, size_t max_i) {
  TensorId x = l.tensor(0);
  const DType t = l.dtype(x);
  TensorId lo = ir::kNoTensor, hi = ir::kNoTensor;
  if (min_i < l.num_inputs() && !l.is_none(min_i)) lo = l.tensor_like(min_i, t);
  if (max_i < l.num_inputs() && !l.is_none(max_i)) hi = l.tensor_like(max_i, t);
  std::vector<TensorId> in = {x, lo};
  if (hi != ir::kNoTensor) in.push_back(hi);
  if (lo == ir::kNoTensor && hi == ir::kNoTensor) in.resize(1);
  l.out_tensor(0, l.emit1(OpKind::kClip, in));
}

void lower_clip_const(Lowering& l, double lo, double hi) {
  TensorId x = l.tensor(0);
  l.out_tensor(0, l.emit1(OpKind::kClip, {x, l.const_scalar(lo, l.dtype(x)), l.const_scalar(hi, l.dtype(x))}));
}

void lower_gelu(Lowering& l) {
  std::string approximate = l.num_inputs() > 1 ? l.string_arg(1) : "none";
  if (approximate != "none" && approximate != "tanh") l.invalid("gelu approximate='" + approximate + "'");
  lower_unary(l, OpKind::kGelu, attrs({{"approximate", approximate}}));
}

void lower_silu(Lowering& l) {
  TensorId x = l.tensor(0);
  l.out_tensor(0, l.emit1(OpKind::kMul, {x, l.emit1(OpKind::kSigmoid, {x})}));
}

void lower_mish(Lowering& l) {  // x * tanh(softplus(x)) = x * tanh(log(1 + exp(x)))
  TensorId x = l.tensor(0);
  TensorId sp = l.emit1(OpKind::kLog, {l.emit1(OpKind::kAdd, {l.emit1(OpKind::kExp, {x}), l.const_scalar(1, DType::kFloat32)})});
  l.out_tensor(0, l.emit1(OpKind::kMul, {x, l.emit1(OpKind::kTanh, {sp})}));
}

void lower_rsqrt(Lowering& l) {
  TensorId x = l.tensor(0);
  TensorId s = l.emit1(OpKind::kSqrt, {x});
  l.out_tensor(0, l.emit1(OpKind::kDiv, {l.const_scalar(1, l.dtype(s)), s}));
}

void lower_pow(Lowering& l) {
  auto [a, b] = binary_operands(l, 0, 1);
  l.out_tensor(0, l.emit1(OpKind::kPow, {a, b}));
}

// A convolution's weight is [out, in / groups, kernel...]: rank 3 to 5 (1-3 spatial dims).
void check_conv_weight(const Lowering& l, TensorId w) {
  if (l.rank(w) < 3 || l.rank(w) > 5)
    l.invalid("the weight has rank " + std::to_string(l.rank(w)) +
              "; a convolution's weight is [out, in / groups, kernel...], rank 3 to 5");
}

// _convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
// groups, ...) and conv1d/2d(input, weight, bias, stride, padding, dilation, groups).
void lower_conv(Lowering& l, bool full_form) {
  TensorId x = l.tensor(0), w = l.tensor(1);
  check_conv_weight(l, w);
  const bool transposed = full_form && l.bool_arg(6);
  const int64_t groups = l.int_arg(full_form ? 8 : 6);
  const int64_t spatial = l.rank(w) - 2;
  auto expand = [&](std::vector<int64_t> v) {
    if (v.size() == 1) v.assign(static_cast<size_t>(spatial), v[0]);
    return v;
  };
  std::vector<int64_t> stride = expand(l.ints_arg(3)), dilation = expand(l.ints_arg(5));
  std::vector<int64_t> pads;
  const c10::IValue& pv = l.in(4).value;
  if (l.in(4).kind == Entry::kStatic && pv.isString()) {  // conv2d(padding="same"|"valid")
    if (pv.toStringRef() == "valid") {
      pads.assign(static_cast<size_t>(2 * spatial), 0);
    } else {
      l.unsupported("padding='" + pv.toStringRef() + "'");
    }
  } else {
    std::vector<int64_t> p = expand(l.ints_arg(4));
    pads = p;
    pads.insert(pads.end(), p.begin(), p.end());
  }
  std::vector<int64_t> wsizes = l.sizes(w);
  std::vector<int64_t> kernel(wsizes.begin() + 2, wsizes.end());
  ir::Attributes a = attrs({{"strides", stride}, {"dilations", dilation}, {"pads", pads}, {"group", groups},
                            {"kernel_shape", kernel}});
  std::vector<TensorId> in = {x, w};
  if (!l.is_none(2)) in.push_back(l.tensor(2));
  if (transposed) {
    std::vector<int64_t> output_padding = expand(l.ints_arg(7));
    if (std::any_of(output_padding.begin(), output_padding.end(), [](int64_t v) { return v != 0; }))
      a.set("output_padding", output_padding);
    l.out_tensor(0, l.emit1(OpKind::kConvTranspose, in, a));
  } else {
    l.out_tensor(0, l.emit1(OpKind::kConv, in, a));
  }
}

// conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation)
void lower_conv_transpose(Lowering& l) {
  TensorId x = l.tensor(0), w = l.tensor(1);
  check_conv_weight(l, w);
  const int64_t spatial = l.rank(w) - 2;
  auto expand = [&](std::vector<int64_t> v) {
    if (v.size() == 1) v.assign(static_cast<size_t>(spatial), v[0]);
    return v;
  };
  std::vector<int64_t> p = expand(l.ints_arg(4)), pads = p;
  pads.insert(pads.end(), p.begin(), p.end());
  std::vector<int64_t> wsizes = l.sizes(w);
  ir::Attributes a = attrs({{"strides", expand(l.ints_arg(3))}, {"pads", pads}, {"group", l.int_arg(6)},
                            {"dilations", expand(l.ints_arg(7))},
                            {"kernel_shape", std::vector<int64_t>(wsizes.begin() + 2, wsizes.end())}});
  std::vector<int64_t> op = expand(l.ints_arg(5));
  if (std::any_of(op.begin(), op.end(), [](int64_t v) { return v != 0; })) a.set("output_padding", op);
  std::vector<TensorId> in = {x, w};
  if (!l.is_none(2)) in.push_back(l.tensor(2));
  l.out_tensor(0, l.emit1(OpKind::kConvTranspose, in, a));
}

// linear(x, W, b): Gemm for 2-D inputs, MatMul with the transposed weight plus Add otherwise
// (the forms torch.onnx.export writes, which the weight passes know).
void lower_linear(Lowering& l) {
  TensorId x = l.tensor(0), w = l.tensor(1);
  const bool bias = l.num_inputs() > 2 && !l.is_none(2);
  if (l.rank(x) == 2) {
    std::vector<TensorId> in = {x, w};
    if (bias) in.push_back(l.tensor(2));
    l.out_tensor(0, l.emit1(OpKind::kGemm, in, attrs({{"transB", int64_t{1}}})));
    return;
  }
  TensorId wt = l.emit1(OpKind::kTranspose, {w}, attrs({{"perm", std::vector<int64_t>{1, 0}}}));
  TensorId y = l.emit1(OpKind::kMatMul, {x, wt});
  if (bias) y = l.emit1(OpKind::kAdd, {y, l.tensor(2)});
  l.out_tensor(0, y);
}

// addmm(self, mat1, mat2, beta, alpha) = beta * self + alpha * mat1 @ mat2.
void lower_addmm(Lowering& l) {
  TensorId c = l.tensor(0), a = l.tensor(1), b = l.tensor(2);
  double beta = l.num_inputs() > 3 ? l.float_arg(3) : 1, alpha = l.num_inputs() > 4 ? l.float_arg(4) : 1;
  l.out_tensor(0, l.emit1(OpKind::kGemm, {a, b, c},
                          attrs({{"alpha", to_f32(alpha)}, {"beta", to_f32(beta)}})));
}

void lower_matmul(Lowering& l) {
  TensorId a = l.tensor(0), b = l.tensor(1);
  if (l.rank(a) == 1 || l.rank(b) == 1) l.unsupported("matmul with a 1-D operand");
  l.out_tensor(0, l.emit1(OpKind::kMatMul, {a, b}));
}

// n copies of v for a parameter the call leaves out: at most kMaxImportedElements.
std::vector<float> default_parameter(const Lowering& l, int64_t n, float v) {
  if (n < 0 || n > kMaxImportedElements)
    l.invalid("needs a default parameter of " + std::to_string(n) + " elements; the import builds at most " +
              std::to_string(kMaxImportedElements));
  return std::vector<float>(static_cast<size_t>(n), v);
}

// batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn)
void lower_batch_norm(Lowering& l) {
  TensorId x = l.tensor(0);
  if (l.is_none(3) || l.is_none(4)) l.unsupported("batch_norm without running statistics (training mode)");
  const int64_t c = l.sizes(x).at(1);
  TensorId scale = l.is_none(1) ? l.const_f32(default_parameter(l, c, 1.f)) : l.tensor(1);
  TensorId bias = l.is_none(2) ? l.const_f32(default_parameter(l, c, 0.f)) : l.tensor(2);
  l.out_tensor(0, l.emit1(OpKind::kBatchNormalization, {x, scale, bias, l.tensor(3), l.tensor(4)},
                          attrs({{"epsilon", to_f32(l.float_arg(7))}})));
}

// layer_norm(input, normalized_shape, weight, bias, eps, cudnn_enable)
void lower_layer_norm(Lowering& l) {
  TensorId x = l.tensor(0);
  std::vector<int64_t> shape = l.ints_arg(1);
  const std::vector<int64_t> sizes = l.sizes(x);
  const int64_t rank = static_cast<int64_t>(sizes.size());
  const int64_t axis = rank - static_cast<int64_t>(shape.size());
  if (axis < 0 || !std::equal(shape.begin(), shape.end(), sizes.begin() + axis))
    l.invalid("normalized_shape does not match the input's last dims");
  int64_t n = 1;
  for (int64_t d : shape) n = l.checked_mul(n, d);
  TensorId w = l.is_none(2) ? l.const_f32(default_parameter(l, n, 1.f), shape) : l.tensor(2);
  std::vector<TensorId> in = {x, w};
  if (!l.is_none(3)) in.push_back(l.tensor(3));
  l.out_tensor(0, l.emit1(OpKind::kLayerNormalization, in,
                          attrs({{"axis", axis}, {"epsilon", to_f32(l.float_arg(4))}})));
}

void lower_softmax(Lowering& l, bool log) {
  TensorId x = l.tensor(0);
  if (!is_float(l.dtype(x))) x = l.cast(x, DType::kFloat32);
  TensorId y = l.emit1(OpKind::kSoftmax, {x}, attrs({{"axis", l.axis(l.int_arg(1), l.rank(x))}}));
  if (log) y = l.emit1(OpKind::kLog, {y});
  l.out_tensor(0, y);
}

// Pools: (input, kernel, stride, padding, dilation, ceil_mode) for max,
// (input, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override) for avg.
void lower_pool(Lowering& l, bool max) {
  TensorId x = l.tensor(0);
  const int64_t spatial = l.rank(x) - 2;
  auto expand = [&](std::vector<int64_t> v) {
    if (v.size() == 1) v.assign(static_cast<size_t>(spatial), v[0]);
    return v;
  };
  std::vector<int64_t> kernel = expand(l.ints_arg(1));
  std::vector<int64_t> stride = l.ints_arg(2);
  stride = stride.empty() ? kernel : expand(stride);
  std::vector<int64_t> p = expand(l.ints_arg(3)), pads = p;
  pads.insert(pads.end(), p.begin(), p.end());
  ir::Attributes a = attrs({{"kernel_shape", kernel}, {"strides", stride}, {"pads", pads}});
  if (max) {
    std::vector<int64_t> dilation = expand(l.ints_arg(4));
    if (std::any_of(dilation.begin(), dilation.end(), [](int64_t d) { return d != 1; })) a.set("dilations", dilation);
    a.set("ceil_mode", static_cast<int64_t>(l.bool_arg(5)));
    l.out_tensor(0, l.emit1(OpKind::kMaxPool, {x}, a));
    return;
  }
  a.set("ceil_mode", static_cast<int64_t>(l.bool_arg(4)));
  a.set("count_include_pad", static_cast<int64_t>(l.bool_arg(5)));
  if (l.num_inputs() > 6 && !l.is_none(6)) l.unsupported("avg_pool divisor_override");
  l.out_tensor(0, l.emit1(OpKind::kAveragePool, {x}, a));
}

// adaptive_avg_pool / adaptive_max_pool(input, output_size): a global pool, or a fixed
// window when the input divides evenly; other sizes have uneven windows no IR pool has.
void lower_adaptive_pool(Lowering& l, bool max) {
  TensorId x = l.tensor(0);
  std::vector<int64_t> in = l.sizes(x);
  if (in.size() < 3) l.invalid("adaptive pooling needs a rank >= 3 input (N, C, spatial...)");
  const size_t spatial = in.size() - 2;
  std::vector<int64_t> out = l.ints_arg(1);
  if (out.size() == 1) out.assign(spatial, out[0]);
  if (out.size() != spatial) l.invalid("output_size has " + std::to_string(out.size()) + " dims");
  bool global = true, even = true, identity = true;
  std::vector<int64_t> kernel;
  for (size_t i = 0; i < spatial; ++i) {
    int64_t o = out[i] < 0 ? in[i + 2] : out[i];  // None keeps the size
    global &= o == 1;
    identity &= o == in[i + 2];
    even &= o > 0 && in[i + 2] % o == 0;
    kernel.push_back(o > 0 ? in[i + 2] / o : 0);
  }
  if (identity) return l.out_tensor(0, x);
  if (global && !max) return l.out_tensor(0, l.emit1(OpKind::kGlobalAveragePool, {x}));
  if (!even) {
    if (max) {
      std::string s;
      for (size_t i = 0; i < spatial; ++i) s += (i ? "x" : "") + std::to_string(in[i + 2]);
      l.unsupported("adaptive max pooling from " + s + " to sizes that do not divide it (uneven windows)");
    }
    // Uneven windows (torch's start = floor(i * n / o), end = ceil((i + 1) * n / o)) are a
    // linear map per spatial dim: a MatMul with a constant averaging matrix on the last dim,
    // then on the one before (transposed in and out).
    const int64_t rank = static_cast<int64_t>(in.size());
    for (size_t k = 0; k < spatial; ++k) {
      const size_t dim = in.size() - 1 - k;  // last spatial dim first
      const int64_t n = in[dim], o = out[dim - 2] < 0 ? n : out[dim - 2];
      if (o > (int64_t{1} << 24) || l.checked_mul(n, o) > (int64_t{1} << 24))
        l.unsupported("adaptive pooling from " + std::to_string(n) + " to " + std::to_string(o) +
                      " needs an averaging matrix of over 2^24 weights");
      std::vector<float> a(static_cast<size_t>(n * o), 0.f);  // [n, o]
      for (int64_t j = 0; j < o; ++j) {
        const int64_t start = (j * n) / o, end = ((j + 1) * n + o - 1) / o;
        for (int64_t i = start; i < end; ++i) a[static_cast<size_t>(i * o + j)] = 1.f / static_cast<float>(end - start);
      }
      std::vector<int64_t> perm(static_cast<size_t>(rank));
      std::iota(perm.begin(), perm.end(), 0);
      std::swap(perm[dim], perm.back());
      x = transpose(l, x, perm);
      x = l.emit1(OpKind::kMatMul, {x, l.const_f32(a, {n, o})});
      x = transpose(l, x, perm);
    }
    return l.out_tensor(0, x);
  }
  ir::Attributes a = attrs({{"kernel_shape", kernel}, {"strides", kernel}});
  l.out_tensor(0, l.emit1(max ? OpKind::kMaxPool : OpKind::kAveragePool, {x}, a));
}

// Reductions over dims: mean/sum(input, dim, keepdim, dtype), amax/amin(input, dim, keepdim).
void lower_reduce(Lowering& l, OpKind op) {
  TensorId x = l.tensor(0);
  const int64_t rank = l.rank(x);
  std::vector<int64_t> dims;
  bool keep = false;
  if (l.num_inputs() >= 3 && !l.is_none(1)) {
    dims = l.ints_arg(1);
    keep = l.bool_arg(2);
  }
  if (dims.empty()) {  // every dim
    dims.resize(static_cast<size_t>(rank));
    std::iota(dims.begin(), dims.end(), 0);
  }
  for (int64_t& d : dims) d = l.axis(d, rank);
  if (!is_float(l.dtype(x)) && op == OpKind::kReduceMean) x = l.cast(x, DType::kFloat32);
  l.out_tensor(0, l.emit1(op, {x, l.const_i64(dims)}, attrs({{"keepdims", static_cast<int64_t>(keep)}})));
}

// Shapes after resolving -1 against the input's element count.
std::vector<int64_t> resolve_shape(Lowering& l, TensorId x, std::vector<int64_t> shape) {
  std::vector<int64_t> in = l.sizes(x);
  int64_t total = 1, known = 1, infer = -1;
  for (int64_t d : in) total = l.checked_mul(total, d);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) l.invalid("more than one -1 in the shape");
      infer = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      l.invalid("shape dim " + std::to_string(shape[i]) + " is negative");
    } else {
      known = l.checked_mul(known, shape[i]);
    }
  }
  if (infer >= 0) {
    if (known == 0 || total % known != 0) l.invalid("shape does not fit the input's elements");
    shape[static_cast<size_t>(infer)] = total / known;
  }
  return shape;
}

void lower_view(Lowering& l) {
  TensorId x = l.tensor(0);
  l.out_tensor(0, l.reshape(x, resolve_shape(l, x, l.ints_arg(1))));
}

void lower_flatten(Lowering& l) {
  TensorId x = l.tensor(0);
  std::vector<int64_t> s = l.sizes(x);
  const int64_t rank = static_cast<int64_t>(s.size());
  if (rank == 0) return l.out_tensor(0, l.reshape(x, {1}));
  int64_t start = l.axis(l.num_inputs() > 1 ? l.int_arg(1) : 0, rank);
  int64_t end = l.axis(l.num_inputs() > 2 ? l.int_arg(2) : -1, rank);
  std::vector<int64_t> out(s.begin(), s.begin() + start);
  int64_t n = 1;
  for (int64_t i = start; i <= end; ++i) n *= s[static_cast<size_t>(i)];
  out.push_back(n);
  out.insert(out.end(), s.begin() + end + 1, s.end());
  l.out_tensor(0, l.reshape(x, out));
}

void lower_permute(Lowering& l) {
  TensorId x = l.tensor(0);
  std::vector<int64_t> perm = l.ints_arg(1);
  for (int64_t& p : perm) p = l.axis(p, l.rank(x));
  l.out_tensor(0, transpose(l, x, perm));
}

void lower_transpose(Lowering& l) {
  TensorId x = l.tensor(0);
  const int64_t rank = l.rank(x);
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  std::iota(perm.begin(), perm.end(), 0);
  if (rank >= 2) {
    int64_t a = l.num_inputs() > 1 ? l.axis(l.int_arg(1), rank) : 0;
    int64_t b = l.num_inputs() > 2 ? l.axis(l.int_arg(2), rank) : 1;
    std::swap(perm[static_cast<size_t>(a)], perm[static_cast<size_t>(b)]);
  }
  l.out_tensor(0, transpose(l, x, perm));
}

void lower_unsqueeze(Lowering& l) {
  TensorId x = l.tensor(0);
  int64_t d = l.axis(l.int_arg(1), l.rank(x) + 1);
  std::vector<int64_t> s = l.sizes(x);
  s.insert(s.begin() + d, 1);
  l.out_tensor(0, l.reshape(x, s));
}

void lower_squeeze(Lowering& l) {
  TensorId x = l.tensor(0);
  std::vector<int64_t> s = l.sizes(x), out;
  std::vector<int64_t> dims;
  if (l.num_inputs() > 1) {
    for (int64_t d : l.ints_arg(1)) dims.push_back(l.axis(d, l.rank(x)));
  }
  for (size_t i = 0; i < s.size(); ++i) {
    bool listed = dims.empty() || std::find(dims.begin(), dims.end(), static_cast<int64_t>(i)) != dims.end();
    if (!(listed && s[i] == 1)) out.push_back(s[i]);
  }
  l.out_tensor(0, l.reshape(x, out));
}

// expand(self, size, implicit): -1 keeps a dim.
void lower_expand(Lowering& l) {
  TensorId x = l.tensor(0);
  std::vector<int64_t> size = l.ints_arg(1), in = l.sizes(x);
  const size_t lead = size.size() - std::min(size.size(), in.size());
  for (size_t i = 0; i < size.size(); ++i)
    if (size[i] == -1) {
      if (i < lead) l.invalid("-1 for a new leading dim");
      size[i] = in[i - lead];
    }
  if (size == in) return l.out_tensor(0, x);
  l.out_tensor(0, l.emit1(OpKind::kExpand, {x, l.const_i64(size)}));
}

void lower_expand_as(Lowering& l) {
  TensorId x = l.tensor(0);
  std::vector<int64_t> size = l.sizes(l.tensor(1));
  if (size == l.sizes(x)) return l.out_tensor(0, x);
  l.out_tensor(0, l.emit1(OpKind::kExpand, {x, l.const_i64(size)}));
}

void lower_cat(Lowering& l) {
  std::vector<TensorId> xs = l.tensors_arg(0);
  if (xs.empty()) l.invalid("cat of no tensors");
  DType t = l.dtype(xs[0]);
  for (TensorId x : xs) if (dtype_rank(l.dtype(x)) > dtype_rank(t)) t = l.dtype(x);
  for (TensorId& x : xs) x = l.cast(x, t);
  const int64_t axis = l.axis(l.num_inputs() > 1 ? l.int_arg(1) : 0, l.rank(xs[0]));
  if (xs.size() == 1) return l.out_tensor(0, xs[0]);
  l.out_tensor(0, l.emit1(OpKind::kConcat, xs, attrs({{"axis", axis}})));
}

void lower_stack(Lowering& l) {
  std::vector<TensorId> xs = l.tensors_arg(0);
  if (xs.empty()) l.invalid("stack of no tensors");
  const int64_t axis = l.axis(l.num_inputs() > 1 ? l.int_arg(1) : 0, l.rank(xs[0]) + 1);
  const std::vector<int64_t> first = l.sizes(xs[0]);
  for (TensorId& x : xs) {
    std::vector<int64_t> s = l.sizes(x);
    if (s != first) l.invalid("stack of tensors of different shapes");
    s.insert(s.begin() + axis, 1);
    x = l.reshape(x, s);
  }
  if (xs.size() == 1) return l.out_tensor(0, xs[0]);
  l.out_tensor(0, l.emit1(OpKind::kConcat, xs, attrs({{"axis", axis}})));
}

// Split into pieces of the given sizes along axis; one tensor per piece.
std::vector<TensorId> split(Lowering& l, TensorId x, int64_t axis, const std::vector<int64_t>& sizes) {
  if (sizes.size() == 1) return {x};
  return l.emit(OpKind::kSplit, {x, l.const_i64(sizes)}, attrs({{"axis", axis}}), sizes.size());
}

void out_list(Lowering& l, const std::vector<TensorId>& ts) {
  std::vector<Entry> items;
  for (TensorId t : ts) items.push_back(Entry::of_tensor(t));
  l.out(0, Entry::of_list(std::move(items)));
}

// Pieces of `piece` elements over n, the last one smaller; at most kMaxListPieces.
std::vector<int64_t> even_pieces(const Lowering& l, int64_t n, int64_t piece) {
  const int64_t count = n == 0 ? 0 : (n - 1) / piece + 1;  // ceil without n + piece overflowing
  if (count > kMaxListPieces)
    l.invalid("makes " + std::to_string(count) + " pieces of a dim of " + std::to_string(n) +
              "; the import takes at most " + std::to_string(kMaxListPieces));
  std::vector<int64_t> sizes;
  sizes.reserve(static_cast<size_t>(count));
  for (int64_t at = 0; at < n; at += piece) sizes.push_back(std::min(piece, n - at));
  return sizes;
}

// chunk(self, chunks, dim): pieces of ceil(n / chunks), the last one smaller.
void lower_chunk(Lowering& l) {
  TensorId x = l.tensor(0);
  const int64_t axis = l.axis(l.int_arg(2), l.rank(x));
  const int64_t n = l.dim_size(x, axis), chunks = l.int_arg(1);
  if (chunks <= 0) l.invalid("chunks must be > 0");
  const int64_t piece = n == 0 ? 0 : (n - 1) / chunks + 1;  // ceil without n + chunks overflowing
  out_list(l, split(l, x, axis, even_pieces(l, n, piece)));
}

// split(self, split_size or sizes, dim), split_with_sizes.
void lower_split(Lowering& l) {
  TensorId x = l.tensor(0);
  const int64_t axis = l.axis(l.num_inputs() > 2 ? l.int_arg(2) : 0, l.rank(x));
  const int64_t n = l.dim_size(x, axis);
  std::vector<int64_t> sizes;
  if (l.in(1).value.isInt()) {
    const int64_t piece = l.int_arg(1);
    if (piece <= 0) l.invalid("split size must be > 0");
    sizes = even_pieces(l, n, piece);
  } else {
    sizes = l.ints_arg(1);
  }
  out_list(l, split(l, x, axis, sizes));
}

// unbind(self, dim): split into size-1 pieces without that dim.
void lower_unbind(Lowering& l) {
  TensorId x = l.tensor(0);
  const int64_t axis = l.axis(l.num_inputs() > 1 ? l.int_arg(1) : 0, l.rank(x));
  std::vector<int64_t> s = l.sizes(x);
  std::vector<TensorId> pieces = split(l, x, axis, even_pieces(l, l.dim_size(x, axis), 1));
  s.erase(s.begin() + axis);
  for (TensorId& p : pieces) p = l.reshape(p, s);
  out_list(l, pieces);
}

// select(self, dim, index): Gather with a scalar index drops the dim.
void lower_select(Lowering& l) {
  TensorId x = l.tensor(0);
  const int64_t axis = l.axis(l.int_arg(1), l.rank(x));
  int64_t index = l.int_arg(2);
  const int64_t n = l.dim_size(x, axis);
  if (index < -n || index >= n) l.invalid("index " + std::to_string(index) + " is out of range");
  if (index < 0) index += n;
  l.out_tensor(0, l.emit1(OpKind::kGather, {x, l.const_i64({index}, {})}, attrs({{"axis", axis}})));
}

// slice(self, dim, start, end, step); None ends mean the whole dim.
void lower_slice(Lowering& l) {
  TensorId x = l.tensor(0);
  const int64_t axis = l.axis(l.int_arg(1), l.rank(x));
  const int64_t n = l.dim_size(x, axis);
  int64_t start = l.is_none(2) ? 0 : l.int_arg(2);
  int64_t end = l.is_none(3) ? n : l.int_arg(3);
  const int64_t step = l.num_inputs() > 4 ? l.int_arg(4) : 1;
  if (step <= 0) l.invalid("slice step must be > 0");
  auto clamp = [&](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + n : v, 0, n); };
  start = clamp(start);
  end = std::max(clamp(end), start);
  if (start == 0 && end == n && step == 1) return l.out_tensor(0, x);
  l.out_tensor(0, l.emit1(OpKind::kSlice, {x, l.const_i64({start}), l.const_i64({end}), l.const_i64({axis}),
                                           l.const_i64({step})}));
}

// index(self, indices): one tensor index (the others None) is a Gather on its dim.
void lower_index(Lowering& l) {
  TensorId x = l.tensor(0);
  const Entry& list = l.in(1);
  if (list.kind != Entry::kList) l.invalid("indices are not a list");
  int64_t dim = -1;
  TensorId index = ir::kNoTensor;
  for (size_t i = 0; i < list.items.size(); ++i) {
    const Entry& e = list.items[i];
    if (e.kind == Entry::kStatic && e.value.isNone()) continue;
    if (dim >= 0) l.unsupported("indexing with more than one index tensor");
    dim = static_cast<int64_t>(i);
    index = e.kind == Entry::kTensor ? e.tensor : l.const_from(e.value.toTensor());
  }
  if (dim < 0) return l.out_tensor(0, x);
  if (l.dtype(index) == DType::kBool) l.unsupported("indexing with a boolean mask (data-dependent shape)");
  l.out_tensor(0, l.emit1(OpKind::kGather, {x, l.cast(index, DType::kInt64)}, attrs({{"axis", dim}})));
}

void lower_index_select(Lowering& l) {
  TensorId x = l.tensor(0);
  const int64_t axis = l.axis(l.int_arg(1), l.rank(x));
  l.out_tensor(0, l.emit1(OpKind::kGather, {x, l.cast(l.tensor(2), DType::kInt64)}, attrs({{"axis", axis}})));
}

// embedding(weight, indices, padding_idx, scale_grad_by_freq, sparse)
void lower_embedding(Lowering& l) {
  TensorId w = l.tensor(0), ids = l.tensor(1);
  l.out_tensor(0, l.emit1(OpKind::kGather, {w, l.cast(ids, DType::kInt64)}, attrs({{"axis", int64_t{0}}})));
}

// upsample_*2d(input, output_size, align_corners?, scales...) and their .vec forms
// (input, output_size?, [align_corners,] scale_factors?).
void lower_upsample(Lowering& l, const std::string& mode) {
  TensorId x = l.tensor(0);
  std::vector<int64_t> in = l.sizes(x);
  if (in.size() < 3) l.invalid("the input has rank " + std::to_string(in.size()) + "; upsampling needs [N, C, spatial...]");
  const size_t spatial = in.size() - 2;
  const bool linear = mode != "nearest";
  const bool align = linear && l.num_inputs() > 2 && !l.is_none(2) && l.bool_arg(2);
  std::vector<int64_t> out_size;
  if (!l.is_none(1)) {
    out_size = l.ints_arg(1);
  } else {
    const size_t scales_i = l.num_inputs() - 1;
    if (l.is_none(scales_i)) l.invalid("neither output_size nor scale_factors is given");
    const c10::IValue& v = l.in(scales_i).value;
    std::vector<double> scales = v.isDoubleList() ? v.toDoubleVector() : std::vector<double>{};
    if (scales.size() != spatial) l.invalid("scale_factors must have one value per spatial dim");
    for (size_t i = 0; i < spatial; ++i) {
      const double size = std::floor(static_cast<double>(in[i + 2]) * scales[i]);
      if (!(size >= 0 && size < 9.0e18)) l.invalid("scale factor " + std::to_string(scales[i]) + " gives no valid size");
      out_size.push_back(static_cast<int64_t>(size));
    }
  }
  if (out_size.size() != spatial) l.invalid("output_size must have one value per spatial dim");
  std::vector<int64_t> sizes = {in[0], in[1]};
  sizes.insert(sizes.end(), out_size.begin(), out_size.end());
  ir::Attributes a = attrs({{"mode", linear ? std::string("linear") : std::string("nearest")}});
  if (linear) {
    a.set("coordinate_transformation_mode", std::string(align ? "align_corners" : "pytorch_half_pixel"));
  } else {
    a.set("coordinate_transformation_mode", std::string("asymmetric"));
    a.set("nearest_mode", std::string("floor"));
  }
  l.out_tensor(0, l.emit1(OpKind::kResize, {x, ir::kNoTensor, ir::kNoTensor, l.const_i64(sizes)}, a));
}

// pad / constant_pad_nd(input, pad, [mode,] value): pairs from the last dim backwards.
void lower_pad(Lowering& l, bool generic) {
  TensorId x = l.tensor(0);
  std::vector<int64_t> p = l.ints_arg(1);
  const int64_t rank = l.rank(x);
  if (p.size() % 2 != 0 || static_cast<int64_t>(p.size()) > 2 * rank) l.invalid("pad has a bad length");
  std::string mode = generic && l.num_inputs() > 2 ? l.string_arg(2) : "constant";
  const size_t value_i = generic ? 3 : 2;
  double value = l.num_inputs() > value_i && !l.is_none(value_i) ? l.float_arg(value_i) : 0.0;
  std::vector<int64_t> pads(static_cast<size_t>(2 * rank), 0);
  for (size_t i = 0; i < p.size() / 2; ++i) {
    const size_t dim = static_cast<size_t>(rank) - 1 - i;
    pads[dim] = p[2 * i];
    pads[dim + static_cast<size_t>(rank)] = p[2 * i + 1];
  }
  if (mode == "replicate") mode = "edge";
  if (mode != "constant" && mode != "reflect" && mode != "edge") l.unsupported("pad mode '" + mode + "'");
  l.out_tensor(0, l.emit1(OpKind::kPad, {x, l.const_i64(pads), l.const_scalar(value, l.dtype(x))},
                          attrs({{"mode", mode}})));
}

// Constant tensors: zeros/ones/full(size, [fill,] dtype, ...), arange(...). They stay
// LibTorch tensors (static entries), so ops on them, in-place writes included, fold in
// LibTorch; an IR constant is made when an IR op reads one.
DType requested_dtype(Lowering& l, size_t i, DType dflt) {
  if (i >= l.num_inputs() || l.is_none(i)) return dflt;
  switch (static_cast<at::ScalarType>(l.int_arg(i))) {
    case at::kFloat: case at::kDouble: case at::kHalf: return DType::kFloat32;
    case at::kLong: return DType::kInt64;
    case at::kInt: return DType::kInt32;
    case at::kBool: return DType::kBool;
    case at::kByte: return DType::kUInt8;
    case at::kChar: return DType::kInt8;
    default: l.unsupported("this dtype");
  }
}

void out_filled(Lowering& l, const std::vector<int64_t>& size, double value, DType t) {
  int64_t count = 1;
  for (int64_t d : size) {
    if (d < 0) l.invalid("size " + std::to_string(d) + " is negative");
    count = l.checked_mul(count, d);
  }
  if (count > kMaxImportedElements)
    l.invalid("a filled tensor of " + std::to_string(count) + " elements is too large to build while importing");
  at::ScalarType st = t == DType::kFloat32 ? at::kFloat : t == DType::kInt64 ? at::kLong : t == DType::kInt32 ? at::kInt
                      : t == DType::kBool ? at::kBool : t == DType::kUInt8 ? at::kByte : at::kChar;
  l.out_static(0, at::full(size, value, at::TensorOptions().dtype(st)));
}

void lower_zeros_ones(Lowering& l, double value) { out_filled(l, l.ints_arg(0), value, requested_dtype(l, 1, DType::kFloat32)); }

void lower_full(Lowering& l) {
  const c10::IValue& fill = l.in(1).value;
  DType dflt = fill.isDouble() ? DType::kFloat32 : fill.isBool() ? DType::kBool : DType::kInt64;
  out_filled(l, l.ints_arg(0), l.float_arg(1), requested_dtype(l, 2, dflt));
}

// new_zeros/new_ones(self, size, dtype, ...), zeros_like/ones_like(self, dtype, ...)
void lower_new_filled(Lowering& l, double value) {
  TensorId x = l.tensor(0);
  out_filled(l, l.ints_arg(1), value, requested_dtype(l, 2, l.dtype(x)));
}

void lower_filled_like(Lowering& l, double value) {
  TensorId x = l.tensor(0);
  out_filled(l, l.sizes(x), value, requested_dtype(l, 1, l.dtype(x)));
}

// arange(end, dtype...), arange(start, end, dtype...), arange(start, end, step, dtype...)
void lower_arange(Lowering& l) {
  std::vector<double> nums;
  bool any_float = false;
  size_t i = 0;
  for (; i < l.num_inputs() && i < 3; ++i) {
    const Entry& e = l.in(i);
    if (e.kind != Entry::kStatic || !(e.value.isInt() || e.value.isDouble())) break;
    any_float |= e.value.isDouble();
    nums.push_back(l.float_arg(i));
  }
  double start = 0, end = 0, step = 1;
  if (nums.size() == 1) end = nums[0];
  else if (nums.size() == 2) { start = nums[0]; end = nums[1]; }
  else if (nums.size() == 3) { start = nums[0]; end = nums[1]; step = nums[2]; }
  else l.invalid("arange needs its bounds known at conversion");
  DType t = requested_dtype(l, i, any_float ? DType::kFloat32 : DType::kInt64);
  if (step == 0) l.invalid("arange step is 0");
  const double count = std::ceil((end - start) / step);
  if (count > 1e8) l.invalid("arange is too long");
  at::Tensor r = at::arange(start, end, step, at::TensorOptions().dtype(any_float ? at::kFloat : at::kLong));
  if (t == DType::kFloat32) r = r.to(at::kFloat);
  else if (t == DType::kInt32) r = r.to(at::kInt);
  else if (t == DType::kInt64) r = r.to(at::kLong);
  l.out_static(0, r);
}

// to(self, dtype | device | other, ...), type_as: a Cast when the dtype changes.
void lower_to(Lowering& l) {
  TensorId x = l.tensor(0);
  DType t = l.dtype(x);
  for (size_t i = 1; i < l.num_inputs(); ++i) {
    const Entry& e = l.in(i);
    if (e.kind == Entry::kStatic && e.value.isInt() && i <= 2) {
      t = requested_dtype(l, i, t);
      break;
    }
    if (e.kind == Entry::kTensor) {
      t = l.dtype(e.tensor);
      break;
    }
  }
  l.out_tensor(0, l.cast(x, t));
}

void lower_masked_fill(Lowering& l) {
  TensorId x = l.tensor(0), mask = l.cast(l.tensor(1), DType::kBool);
  TensorId value = l.tensor_like(2, l.dtype(x));
  l.out_tensor(0, l.emit1(OpKind::kWhere, {mask, value, x}));
}

void lower_where(Lowering& l) {
  TensorId cond = l.cast(l.tensor(0), DType::kBool);
  auto [a, b] = binary_operands(l, 1, 2);
  l.out_tensor(0, l.emit1(OpKind::kWhere, {cond, a, b}));
}

// roll(self, shifts, dims): a Slice of each end and a Concat per dim.
void lower_roll(Lowering& l) {
  TensorId x = l.tensor(0);
  std::vector<int64_t> shifts = l.ints_arg(1), dims = l.ints_arg(2);
  if (dims.empty() || shifts.size() != dims.size()) l.unsupported("roll without one dim per shift");
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t axis = l.axis(dims[i], l.rank(x));
    const int64_t n = l.dim_size(x, axis);
    if (n == 0) continue;
    const int64_t s = ((shifts[i] % n) + n) % n;
    if (s == 0) continue;
    TensorId tail = l.emit1(OpKind::kSlice, {x, l.const_i64({n - s}), l.const_i64({n}), l.const_i64({axis})});
    TensorId head = l.emit1(OpKind::kSlice, {x, l.const_i64({0}), l.const_i64({n - s}), l.const_i64({axis})});
    x = l.emit1(OpKind::kConcat, {tail, head}, attrs({{"axis", axis}}));
  }
  l.out_tensor(0, x);
}

void lower_hardtanh(Lowering& l) {
  lower_clip_const(l, l.num_inputs() > 1 ? l.float_arg(1) : -1.0, l.num_inputs() > 2 ? l.float_arg(2) : 1.0);
}

// einsum(equation, tensors, path)
void lower_einsum(Lowering& l) {
  std::vector<TensorId> xs = l.tensors_arg(1);
  l.out_tensor(0, l.emit1(OpKind::kEinsum, xs, attrs({{"equation", l.string_arg(0)}})));
}

// cumsum(self, dim, dtype)
void lower_cumsum(Lowering& l) {
  TensorId x = l.tensor(0);
  const int64_t axis = l.axis(l.int_arg(1), l.rank(x));
  if (l.num_inputs() > 2 && !l.is_none(2)) x = l.cast(x, requested_dtype(l, 2, l.dtype(x)));
  l.out_tensor(0, l.emit1(OpKind::kCumSum, {x, l.const_i64({axis}, {})}));
}

// argmax/argmin(self, dim=None, keepdim): over the flattened tensor when dim is None.
void lower_argmax(Lowering& l) {
  TensorId x = l.tensor(0);
  bool keep = l.num_inputs() > 2 && l.bool_arg(2);
  int64_t axis = 0;
  if (l.num_inputs() < 2 || l.is_none(1)) {
    int64_t n = 1;
    for (int64_t d : l.sizes(x)) n *= d;
    x = l.reshape(x, {n});
    keep = false;
  } else {
    axis = l.axis(l.int_arg(1), l.rank(x));
  }
  l.out_tensor(0, l.emit1(OpKind::kArgMax, {x}, attrs({{"axis", axis}, {"keepdims", static_cast<int64_t>(keep)}})));
}

// topk(self, k, dim=-1, largest=True, sorted=True) -> (values, indices)
void lower_topk(Lowering& l) {
  TensorId x = l.tensor(0);
  const int64_t axis = l.axis(l.num_inputs() > 2 ? l.int_arg(2) : -1, l.rank(x));
  const bool largest = l.num_inputs() > 3 ? l.bool_arg(3) : true;
  auto outs = l.emit(OpKind::kTopK, {x, l.const_i64({l.int_arg(1)})},
                     attrs({{"axis", axis}, {"largest", static_cast<int64_t>(largest)}, {"sorted", int64_t{1}}}), 2);
  l.out_tensor(0, outs[0]);
  l.out_tensor(1, outs[1]);
}

// gather(self, dim, index, sparse_grad)
void lower_gather(Lowering& l) {
  TensorId x = l.tensor(0);
  const int64_t axis = l.axis(l.int_arg(1), l.rank(x));
  l.out_tensor(0, l.emit1(OpKind::kGatherElements, {x, l.cast(l.tensor(2), DType::kInt64)}, attrs({{"axis", axis}})));
}

// repeat(self, repeats): more repeats than dims add leading dims of size 1 first.
void lower_repeat(Lowering& l) {
  TensorId x = l.tensor(0);
  std::vector<int64_t> reps = l.ints_arg(1), s = l.sizes(x);
  if (reps.size() < s.size()) l.invalid("repeat needs at least one count per dim");
  s.insert(s.begin(), reps.size() - s.size(), 1);
  x = l.reshape(x, s);
  l.out_tensor(0, l.emit1(OpKind::kTile, {x, l.const_i64(reps)}));
}

// max/min: (self) over everything, (self, dim, keepdim) -> (values, indices), (self, other).
void lower_max_min(Lowering& l, bool max) {
  if (l.num_inputs() == 2) {  // max.other / maximum: elementwise
    auto [a, b] = binary_operands(l, 0, 1);
    return l.out_tensor(0, l.emit1(max ? OpKind::kMax : OpKind::kMin, {a, b}));
  }
  TensorId x = l.tensor(0);
  if (l.num_inputs() == 1) {
    std::vector<int64_t> all(static_cast<size_t>(l.rank(x)));
    std::iota(all.begin(), all.end(), 0);
    return l.out_tensor(0, l.emit1(max ? OpKind::kReduceMax : OpKind::kReduceMin, {x, l.const_i64(all)},
                                   attrs({{"keepdims", int64_t{0}}})));
  }
  const int64_t axis = l.axis(l.int_arg(1), l.rank(x));
  const int64_t keep = l.num_inputs() > 2 && l.bool_arg(2);
  l.out_tensor(0, l.emit1(max ? OpKind::kReduceMax : OpKind::kReduceMin, {x, l.const_i64({axis})},
                          attrs({{"keepdims", keep}})));
  if (l.node()->outputs().size() > 1) {
    if (!max) l.unsupported("min with indices");
    l.out_tensor(1, l.emit1(OpKind::kArgMax, {x}, attrs({{"axis", axis}, {"keepdims", keep}})));
  }
}

// prod(self, dim, keepdim, dtype) or prod(self, dtype) over everything.
void lower_prod(Lowering& l) {
  TensorId x = l.tensor(0);
  std::vector<int64_t> dims;
  bool keep = false;
  if (l.num_inputs() >= 3 && l.in(1).value.isInt()) {
    dims = {l.axis(l.int_arg(1), l.rank(x))};
    keep = l.bool_arg(2);
  } else {
    dims.resize(static_cast<size_t>(l.rank(x)));
    std::iota(dims.begin(), dims.end(), 0);
  }
  l.out_tensor(0, l.emit1(OpKind::kReduceProd, {x, l.const_i64(dims)}, attrs({{"keepdims", static_cast<int64_t>(keep)}})));
}

// linalg_vector_norm(self, ord, dim, keepdim, dtype) and norm(self, p, dim, keepdim): the
// 2-norm over dims (ReduceL2); other orders are refused.
void lower_norm(Lowering& l) {
  TensorId x = l.tensor(0);
  const double p = l.is_none(1) ? 2.0 : l.float_arg(1);
  if (p != 2.0) l.unsupported("norms other than the 2-norm");
  std::vector<int64_t> dims;
  if (l.num_inputs() > 2 && !l.is_none(2)) dims = l.ints_arg(2);
  if (dims.empty()) {
    dims.resize(static_cast<size_t>(l.rank(x)));
    std::iota(dims.begin(), dims.end(), 0);
  }
  for (int64_t& d : dims) d = l.axis(d, l.rank(x));
  const bool keep = l.num_inputs() > 3 && l.bool_arg(3);
  l.out_tensor(0, l.emit1(OpKind::kReduceL2, {x, l.const_i64(dims)}, attrs({{"keepdims", static_cast<int64_t>(keep)}})));
}

using LowerFn = void (*)(Lowering&);

const std::unordered_map<std::string, LowerFn>& table() {
  static const std::unordered_map<std::string, LowerFn> t = {
      {"aten::_convolution", [](Lowering& l) { lower_conv(l, true); }},
      {"aten::conv1d", [](Lowering& l) { lower_conv(l, false); }},
      {"aten::conv2d", [](Lowering& l) { lower_conv(l, false); }},
      {"aten::conv_transpose2d", lower_conv_transpose},
      {"aten::linear", lower_linear},
      {"aten::addmm", lower_addmm},
      {"aten::matmul", lower_matmul},
      {"aten::mm", lower_matmul},
      {"aten::bmm", lower_matmul},
      {"aten::batch_norm", lower_batch_norm},
      {"aten::layer_norm", lower_layer_norm},
      {"aten::softmax", [](Lowering& l) { lower_softmax(l, false); }},
      {"aten::log_softmax", [](Lowering& l) { lower_softmax(l, true); }},
      {"aten::relu", [](Lowering& l) { lower_unary(l, OpKind::kRelu); }},
      {"aten::relu6", [](Lowering& l) { lower_clip_const(l, 0, 6); }},
      {"aten::hardtanh", lower_hardtanh},
      {"aten::hardswish", [](Lowering& l) { lower_unary(l, OpKind::kHardSwish); }},
      {"aten::hardsigmoid",
       [](Lowering& l) { lower_unary(l, OpKind::kHardSigmoid, attrs({{"alpha", 1.f / 6}, {"beta", 0.5f}})); }},
      {"aten::sigmoid", [](Lowering& l) { lower_unary(l, OpKind::kSigmoid); }},
      {"aten::tanh", [](Lowering& l) { lower_unary(l, OpKind::kTanh); }},
      {"aten::gelu", lower_gelu},
      {"aten::silu", lower_silu},
      {"aten::mish", lower_mish},
      {"aten::leaky_relu",
       [](Lowering& l) {
         lower_unary(l, OpKind::kLeakyRelu,
                     attrs({{"alpha", to_f32(l.num_inputs() > 1 ? l.float_arg(1) : 0.01)}}));
       }},
      {"aten::exp", [](Lowering& l) { lower_unary(l, OpKind::kExp); }},
      {"aten::log", [](Lowering& l) { lower_unary(l, OpKind::kLog); }},
      {"aten::sqrt", [](Lowering& l) { lower_unary(l, OpKind::kSqrt); }},
      {"aten::rsqrt", lower_rsqrt},
      {"aten::sin", [](Lowering& l) { lower_unary(l, OpKind::kSin); }},
      {"aten::cos", [](Lowering& l) { lower_unary(l, OpKind::kCos); }},
      {"aten::erf", [](Lowering& l) { lower_unary(l, OpKind::kErf); }},
      {"aten::abs", [](Lowering& l) { l.out_tensor(0, l.emit1(OpKind::kAbs, {l.tensor(0)})); }},
      {"aten::neg", [](Lowering& l) { l.out_tensor(0, l.emit1(OpKind::kNeg, {l.tensor(0)})); }},
      {"aten::clamp", [](Lowering& l) { lower_clamp(l, 1, 2); }},
      {"aten::clip", [](Lowering& l) { lower_clamp(l, 1, 2); }},
      {"aten::clamp_min", [](Lowering& l) { lower_clamp(l, 1, 99); }},
      {"aten::clamp_max", [](Lowering& l) { lower_clamp(l, 99, 1); }},
      {"aten::add", [](Lowering& l) { lower_add_sub(l, OpKind::kAdd); }},
      {"aten::sub", [](Lowering& l) { lower_add_sub(l, OpKind::kSub); }},
      {"aten::rsub", lower_rsub},
      {"aten::mul", [](Lowering& l) { lower_binary(l, OpKind::kMul); }},
      {"aten::div", lower_div},
      {"aten::pow", lower_pow},
      {"aten::floor_divide", lower_floor_divide},
      {"aten::remainder", [](Lowering& l) { lower_mod(l, false); }},
      {"aten::fmod", [](Lowering& l) { lower_mod(l, true); }},
      {"aten::eq", [](Lowering& l) { lower_compare(l, OpKind::kEqual, false); }},
      {"aten::ne", [](Lowering& l) { lower_compare(l, OpKind::kEqual, true); }},
      {"aten::lt", [](Lowering& l) { lower_compare(l, OpKind::kLess, false); }},
      {"aten::le", [](Lowering& l) { lower_compare(l, OpKind::kLessOrEqual, false); }},
      {"aten::gt", [](Lowering& l) { lower_compare(l, OpKind::kGreater, false); }},
      {"aten::ge", [](Lowering& l) { lower_compare(l, OpKind::kGreaterOrEqual, false); }},
      {"aten::bitwise_not", [](Lowering& l) { lower_bool_op(l, OpKind::kNot); }},
      {"aten::bitwise_and", [](Lowering& l) { lower_bool_op(l, OpKind::kAnd); }},
      {"aten::bitwise_or", [](Lowering& l) { lower_bool_op(l, OpKind::kOr); }},
      {"aten::__and__", [](Lowering& l) { lower_bool_op(l, OpKind::kAnd); }},
      {"aten::__or__", [](Lowering& l) { lower_bool_op(l, OpKind::kOr); }},
      {"aten::logical_and", [](Lowering& l) { lower_binary(l, OpKind::kAnd); }},
      {"aten::logical_or", [](Lowering& l) { lower_binary(l, OpKind::kOr); }},
      {"aten::logical_not", [](Lowering& l) { l.out_tensor(0, l.emit1(OpKind::kNot, {l.cast(l.tensor(0), DType::kBool)})); }},
      {"aten::max_pool1d", [](Lowering& l) { lower_pool(l, true); }},
      {"aten::max_pool2d", [](Lowering& l) { lower_pool(l, true); }},
      {"aten::avg_pool1d", [](Lowering& l) { lower_pool(l, false); }},
      {"aten::avg_pool2d", [](Lowering& l) { lower_pool(l, false); }},
      {"aten::adaptive_avg_pool1d", [](Lowering& l) { lower_adaptive_pool(l, false); }},
      {"aten::adaptive_avg_pool2d", [](Lowering& l) { lower_adaptive_pool(l, false); }},
      {"aten::adaptive_max_pool2d", [](Lowering& l) { lower_adaptive_pool(l, true); }},
      {"aten::mean", [](Lowering& l) { lower_reduce(l, OpKind::kReduceMean); }},
      {"aten::sum", [](Lowering& l) { lower_reduce(l, OpKind::kReduceSum); }},
      {"aten::view", lower_view},
      {"aten::reshape", lower_view},
      {"aten::flatten", lower_flatten},
      {"aten::permute", lower_permute},
      {"aten::transpose", lower_transpose},
      {"aten::swapaxes", lower_transpose},
      {"aten::t", lower_transpose},
      {"aten::unsqueeze", lower_unsqueeze},
      {"aten::squeeze", lower_squeeze},
      {"aten::expand", lower_expand},
      {"aten::expand_as", lower_expand_as},
      {"aten::cat", lower_cat},
      {"aten::concat", lower_cat},
      {"aten::stack", lower_stack},
      {"aten::chunk", lower_chunk},
      {"aten::split", lower_split},
      {"aten::split_with_sizes", lower_split},
      {"aten::unbind", lower_unbind},
      {"aten::select", lower_select},
      {"aten::slice", lower_slice},
      {"aten::index", lower_index},
      {"aten::index_select", lower_index_select},
      {"aten::embedding", lower_embedding},
      {"aten::upsample_bilinear2d", [](Lowering& l) { lower_upsample(l, "linear"); }},
      {"aten::upsample_nearest2d", [](Lowering& l) { lower_upsample(l, "nearest"); }},
      {"aten::pad", [](Lowering& l) { lower_pad(l, true); }},
      {"aten::constant_pad_nd", [](Lowering& l) { lower_pad(l, false); }},
      {"aten::zeros", [](Lowering& l) { lower_zeros_ones(l, 0); }},
      {"aten::ones", [](Lowering& l) { lower_zeros_ones(l, 1); }},
      {"aten::full", lower_full},
      {"aten::new_zeros", [](Lowering& l) { lower_new_filled(l, 0); }},
      {"aten::new_ones", [](Lowering& l) { lower_new_filled(l, 1); }},
      {"aten::zeros_like", [](Lowering& l) { lower_filled_like(l, 0); }},
      {"aten::ones_like", [](Lowering& l) { lower_filled_like(l, 1); }},
      {"aten::arange", lower_arange},
      {"aten::to", lower_to},
      {"aten::type_as", lower_to},
      {"aten::masked_fill", lower_masked_fill},
      {"aten::where", lower_where},
      {"aten::roll", lower_roll},
      {"aten::einsum", lower_einsum},
      {"aten::cumsum", lower_cumsum},
      {"aten::argmax", lower_argmax},
      {"aten::topk", lower_topk},
      {"aten::gather", lower_gather},
      {"aten::repeat", lower_repeat},
      {"aten::max", [](Lowering& l) { lower_max_min(l, true); }},
      {"aten::min", [](Lowering& l) { lower_max_min(l, false); }},
      {"aten::maximum", [](Lowering& l) { lower_max_min(l, true); }},
      {"aten::minimum", [](Lowering& l) { lower_max_min(l, false); }},
      {"aten::amax", [](Lowering& l) { lower_reduce(l, OpKind::kReduceMax); }},
      {"aten::amin", [](Lowering& l) { lower_reduce(l, OpKind::kReduceMin); }},
      {"aten::prod", lower_prod},
      {"aten::norm", lower_norm},
      {"aten::linalg_vector_norm", lower_norm},
      {"aten::frobenius_norm", [](Lowering& l) { lower_reduce(l, OpKind::kReduceL2); }},
  };
  return t;
}

}  // namespace

bool is_identity_op(const std::string& kind) {
  static const std::unordered_set<std::string> ops = {
      "aten::dropout", "aten::feature_dropout", "aten::alpha_dropout", "aten::contiguous", "aten::detach",
      "aten::clone",   "aten::identity",        "aten::cpu",           "aten::lift_fresh", "aten::alias"};
  return ops.count(kind) != 0;
}

bool lower_aten(Lowering& l) {
  std::string kind = l.kind();
  // In-place forms (relu_, add_) lower as their out-of-place op; RemoveMutation already
  // rewrote the ones whose aliasing it could prove, and results are read through outputs.
  if (kind.size() > 1 && kind.back() == '_' && kind[kind.size() - 2] != '_') kind.pop_back();
  const auto& t = table();
  auto it = t.find(kind);
  if (it != t.end()) {
    it->second(l);
    return true;
  }
  // Structural ops.
  if (kind == "prim::ListConstruct" || kind == "prim::TupleConstruct") {
    // A list of values all known now is a static list of their type (int and float lists
    // for sizes and scales, tensor lists for ops LibTorch folds); otherwise a list of entries.
    std::vector<Entry> items;
    bool ints = kind == "prim::ListConstruct", floats = ints, tensors = ints;
    for (size_t i = 0; i < l.num_inputs(); ++i) {
      const Entry& e = l.in(i);
      items.push_back(e);
      const bool known = e.kind == Entry::kStatic;
      ints &= known && e.value.isInt();
      floats &= known && (e.value.isDouble() || e.value.isInt());
      tensors &= known && e.value.isTensor();
    }
    if (!items.empty() && ints) {
      std::vector<int64_t> v;
      for (const Entry& e : items) v.push_back(e.value.toInt());
      l.out_static(0, c10::IValue(v));
    } else if (!items.empty() && floats) {
      std::vector<double> v;
      for (const Entry& e : items) v.push_back(e.value.isInt() ? static_cast<double>(e.value.toInt()) : e.value.toDouble());
      l.out_static(0, c10::IValue(v));
    } else if (!items.empty() && tensors) {
      c10::List<at::Tensor> v;
      for (const Entry& e : items) v.push_back(e.value.toTensor());
      l.out_static(0, c10::IValue(v));
    } else if (items.empty() && kind == "prim::ListConstruct" &&
               l.node()->output()->type()->cast<c10::ListType>() &&
               l.node()->output()->type()->cast<c10::ListType>()->getElementType()->kind() == c10::TypeKind::IntType) {
      l.out_static(0, c10::IValue(std::vector<int64_t>{}));
    } else {
      l.out(0, Entry::of_list(std::move(items)));
    }
    return true;
  }
  if (kind == "prim::ListUnpack" || kind == "prim::TupleUnpack") {
    const Entry& e = l.in(0);
    std::vector<Entry> items = e.items;
    if (e.kind == Entry::kStatic && e.value.isList())
      for (const c10::IValue& v : e.value.toListRef()) items.push_back(Entry::of_static(v));
    if (e.kind == Entry::kStatic && e.value.isTuple())
      for (const c10::IValue& v : e.value.toTupleRef().elements()) items.push_back(Entry::of_static(v));
    if (items.size() != l.node()->outputs().size()) l.invalid("unpacks " + std::to_string(items.size()) + " items");
    for (size_t i = 0; i < items.size(); ++i) l.out(i, items[i]);
    return true;
  }
  if (kind == "prim::TupleIndex" || kind == "aten::__getitem__") {
    const Entry& e = l.in(0);
    int64_t i = l.int_arg(1);
    if (e.kind == Entry::kList) {
      const int64_t n = static_cast<int64_t>(e.items.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) l.invalid("index out of range");
      l.out(0, e.items[static_cast<size_t>(i)]);
      return true;
    }
    return false;
  }
  return false;
}

}  // namespace pare::torchscript_import
