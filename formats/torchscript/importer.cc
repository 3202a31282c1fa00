#include "formats/torchscript/importer.h"

#include <ATen/ops/scalar_tensor.h>
#include <c10/util/Logging.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/passes/lower_tuples.h>
#include <torch/csrc/jit/passes/remove_mutation.h>
#include <torch/csrc/jit/serialization/import.h>

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>

#include "formats/torchscript/lowering.h"
#include "ir/shape_inference.h"
#include "ir/status.h"

namespace pare::torchscript_import {

namespace {

std::string first_line(const std::string& text) {
  std::string s = text.substr(0, text.find('\n'));
  return s.size() > 300 ? s.substr(0, 300) + "..." : s;
}

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "x" : "") + std::to_string(v[i]);
  return s;
}

// The module path of a node from its inlining call stack ("features.3.conv"), empty when
// TorchScript recorded none.
std::string module_path(const torch::jit::Node* n) {
  auto cs = n->callstack();
  if (!cs) return {};
  std::string path;
  for (const auto& entry : (*cs)->vec()) {
    const auto& info = std::get<2>(entry);
    if (!info) continue;
    std::string name = info->instance_name();
    if (name.empty() || name == "self") continue;
    path += (path.empty() ? "" : ".") + name;
  }
  return path;
}

std::string short_kind(const torch::jit::Node* n) {
  std::string k = n->kind().toUnqualString();
  while (!k.empty() && k.back() == '_') k.pop_back();  // relu_ -> relu
  size_t lead = k.find_first_not_of('_');               // _convolution -> convolution
  return lead == std::string::npos ? k : k.substr(lead);
}

ir::DType dtype_of(at::ScalarType t, bool* ok) {
  *ok = true;
  switch (t) {
    case at::kFloat: case at::kDouble: case at::kHalf: case at::kBFloat16: return ir::DType::kFloat32;
    case at::kLong: return ir::DType::kInt64;
    case at::kInt: return ir::DType::kInt32;
    case at::kBool: return ir::DType::kBool;
    case at::kByte: return ir::DType::kUInt8;
    case at::kChar: return ir::DType::kInt8;
    default: *ok = false; return ir::DType::kUndefined;
  }
}

}  // namespace

// ---- Lowering: values, errors, IR emission ----

void Lowering::begin(const torch::jit::Node* node) {
  node_ = node;
  std::string base = module_path(node);
  base += (base.empty() ? "" : "/") + short_kind(node);
  int k = name_counts_[base]++;
  node_name_ = k == 0 ? base : base + "_" + std::to_string(k);
}

std::string Lowering::where() const {
  if (!node_) return "'" + path_ + "'";
  std::string s = "'" + path_ + "': " + kind();
  if (const c10::FunctionSchema* schema = node_->maybeSchema()) {
    std::ostringstream os;
    os << *schema;
    s += " (schema " + os.str() + ")";
  }
  torch::jit::SourceRange range = node_->sourceRange();
  if (auto original = range.findSourceRangeThatGenerated()) range = *original;
  if (auto flc = range.file_line_col()) {
    s += " at " + std::get<0>(*flc) + ":" + std::to_string(std::get<1>(*flc));
  }
  if (range.source()) {
    std::string text = range.text().str();
    if (!text.empty()) s += " (`" + first_line(text) + "`)";
  }
  return s;
}

void Lowering::unsupported(const std::string& why) const { throw_unsupported(where() + ": " + why); }
void Lowering::invalid(const std::string& why) const { throw_invalid(where() + ": " + why); }

const Entry& Lowering::entry(const torch::jit::Value* v) const {
  auto it = values_.find(v);
  if (it == values_.end()) invalid("value %" + v->debugName() + " has no definition pare lowered");
  return it->second;
}

bool Lowering::is_none(size_t i) const {
  const Entry& e = in(i);
  return e.kind == Entry::kStatic && e.value.isNone();
}

ir::TensorId Lowering::tensor(size_t i) {
  const Entry& e = in(i);
  if (e.kind == Entry::kTensor) return e.tensor;
  if (e.kind == Entry::kStatic) {
    const c10::IValue& v = e.value;
    if (v.isInt()) return const_scalar(static_cast<double>(v.toInt()), ir::DType::kInt64);
    if (v.isDouble()) return const_scalar(v.toDouble(), ir::DType::kFloat32);
    if (v.isBool()) return const_scalar(v.toBool() ? 1 : 0, ir::DType::kBool);
    if (v.isTensor()) return const_from(v.toTensor());
  }
  invalid("argument " + std::to_string(i) + " is not a tensor");
}

ir::TensorId Lowering::tensor_like(size_t i, ir::DType dtype) {
  const Entry& e = in(i);
  if (e.kind == Entry::kStatic && (e.value.isInt() || e.value.isDouble() || e.value.isBool())) {
    double v = e.value.isInt() ? static_cast<double>(e.value.toInt())
                               : e.value.isDouble() ? e.value.toDouble() : (e.value.toBool() ? 1 : 0);
    return const_scalar(v, dtype);
  }
  return tensor(i);
}

int64_t Lowering::int_arg(size_t i) const {
  const Entry& e = in(i);
  if (e.kind == Entry::kStatic) {
    if (e.value.isInt()) return e.value.toInt();
    if (e.value.isBool()) return e.value.toBool();
    if (e.value.isTensor() && e.value.toTensor().dim() == 0 && !e.value.toTensor().is_floating_point())
      return e.value.toTensor().item<int64_t>();
  }
  if (e.kind == Entry::kTensor)
    unsupported("argument " + std::to_string(i) + " is computed from tensor data; pare needs it known at conversion");
  invalid("argument " + std::to_string(i) + " is not an int");
}

double Lowering::float_arg(size_t i) const {
  const Entry& e = in(i);
  if (e.kind == Entry::kStatic) {
    if (e.value.isDouble()) return e.value.toDouble();
    if (e.value.isInt()) return static_cast<double>(e.value.toInt());
    if (e.value.isBool()) return e.value.toBool();
    if (e.value.isTensor() && e.value.toTensor().dim() == 0) return e.value.toTensor().item<double>();
  }
  if (e.kind == Entry::kTensor)
    unsupported("argument " + std::to_string(i) + " is computed from tensor data; pare needs it known at conversion");
  invalid("argument " + std::to_string(i) + " is not a number");
}

bool Lowering::bool_arg(size_t i) const { return int_arg(i) != 0; }

std::vector<int64_t> Lowering::ints_arg(size_t i) const {
  const Entry& e = in(i);
  if (e.kind == Entry::kStatic && e.value.isIntList()) return e.value.toIntVector();
  if (e.kind == Entry::kStatic && e.value.isInt()) return {e.value.toInt()};
  if (e.kind == Entry::kList) {
    std::vector<int64_t> out;
    for (const Entry& item : e.items) {
      if (item.kind != Entry::kStatic || !item.value.isInt())
        unsupported("argument " + std::to_string(i) + " holds values computed from tensor data");
      out.push_back(item.value.toInt());
    }
    return out;
  }
  invalid("argument " + std::to_string(i) + " is not an int list");
}

std::string Lowering::string_arg(size_t i) const {
  const Entry& e = in(i);
  if (e.kind == Entry::kStatic && e.value.isString()) return e.value.toStringRef();
  invalid("argument " + std::to_string(i) + " is not a string");
}

std::vector<ir::TensorId> Lowering::tensors_arg(size_t i) {
  const Entry& e = in(i);
  if (e.kind == Entry::kStatic && e.value.isTensorList()) {
    std::vector<ir::TensorId> out;
    for (const at::Tensor& t : e.value.toTensorVector()) out.push_back(const_from(t));
    return out;
  }
  if (e.kind != Entry::kList) invalid("argument " + std::to_string(i) + " is not a list of tensors");
  std::vector<ir::TensorId> out;
  for (const Entry& item : e.items) {
    if (item.kind == Entry::kTensor) {
      out.push_back(item.tensor);
    } else if (item.kind == Entry::kStatic && item.value.isTensor()) {
      out.push_back(const_from(item.value.toTensor()));
    } else {
      invalid("argument " + std::to_string(i) + " holds an item that is not a tensor");
    }
  }
  return out;
}

std::vector<int64_t> Lowering::sizes(ir::TensorId t) const {
  const ir::Tensor& info = graph_.tensor(t);
  if (!info.shape.is_static()) invalid("tensor '" + info.name + "' has no static shape");
  return info.shape.sizes();
}

int64_t Lowering::axis(int64_t dim, int64_t rank) const {
  int64_t r = std::max<int64_t>(rank, 1);
  if (dim < -r || dim >= r)
    invalid("dim " + std::to_string(dim) + " is out of range for rank " + std::to_string(rank));
  return dim < 0 ? dim + r : dim;
}

int64_t Lowering::dim_size(ir::TensorId x, int64_t axis) const {
  const std::vector<int64_t> s = sizes(x);
  if (axis < 0 || axis >= static_cast<int64_t>(s.size()))
    invalid("dim " + std::to_string(axis) + " is out of range for rank " + std::to_string(s.size()));
  return s[static_cast<size_t>(axis)];
}

int64_t Lowering::checked_mul(int64_t a, int64_t b) const {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    invalid("size arithmetic overflows (" + std::to_string(a) + " * " + std::to_string(b) + ")");
  return r;
}

int64_t Lowering::checked_add(int64_t a, int64_t b) const {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    invalid("size arithmetic overflows (" + std::to_string(a) + " + " + std::to_string(b) + ")");
  return r;
}

int64_t Lowering::checked_sub(int64_t a, int64_t b) const {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r))
    invalid("size arithmetic overflows (" + std::to_string(a) + " - " + std::to_string(b) + ")");
  return r;
}

std::vector<ir::TensorId> Lowering::emit(ir::OpKind op, std::vector<ir::TensorId> inputs, ir::Attributes attrs,
                                         size_t num_outputs) {
  ir::Node n;
  n.op = op;
  int k = name_counts_[node_name_ + "#"]++;
  n.name = k == 0 ? node_name_ : node_name_ + "_" + std::to_string(k);
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  for (size_t i = 0; i < num_outputs; ++i) {
    ir::Tensor t;
    t.name = n.name + (num_outputs > 1 || k > 0 ? ":" + std::to_string(i) : "");
    n.outputs.push_back(graph_.add_tensor(std::move(t)));
  }
  std::vector<ir::TensorId> outs = n.outputs;
  ir::NodeId id = graph_.add_node(std::move(n));
  try {
    ir::infer_node(graph_, id);
  } catch (const Error& e) {
    throw Error(e.code(), where() + ": " + e.what());
  }
  return outs;
}

namespace {

template <typename T>
ir::TensorId add_constant(ir::Graph& g, const std::string& name, ir::DType dtype, std::vector<int64_t> shape,
                          const T* values, size_t count) {
  ir::Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = ir::Shape(shape);
  auto buffer = std::make_shared<ir::Buffer>();
  buffer->bytes.resize(count * sizeof(T));
  if (count) std::memcpy(buffer->bytes.data(), values, buffer->bytes.size());
  t.data = std::move(buffer);
  return g.add_tensor(std::move(t));
}

}  // namespace

ir::TensorId Lowering::const_i64(const std::vector<int64_t>& values, std::vector<int64_t> shape) {
  if (shape.size() == 1 && shape[0] == -1) shape = {static_cast<int64_t>(values.size())};
  return add_constant(graph_, "const." + std::to_string(constants_++), ir::DType::kInt64, shape, values.data(),
                      values.size());
}

ir::TensorId Lowering::const_f32(const std::vector<float>& values, std::vector<int64_t> shape) {
  if (shape.size() == 1 && shape[0] == -1) shape = {static_cast<int64_t>(values.size())};
  return add_constant(graph_, "const." + std::to_string(constants_++), ir::DType::kFloat32, shape, values.data(),
                      values.size());
}

namespace {

// A scalar from the file in a tensor's dtype: values beyond the type's range saturate (a
// clamp bound of -1 on a uint8 tensor is 0), NaN is 0 for integers; never a UB conversion.
template <typename T>
T saturate(double v) {
  if (std::isnan(v)) return T(0);
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

}  // namespace

float to_f32(double v) {
  if (std::isnan(v) || std::fabs(v) <= std::numeric_limits<float>::max()) return static_cast<float>(v);
  return v > 0 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
}

ir::TensorId Lowering::const_scalar(double value, ir::DType dtype) {
  const std::string name = "const." + std::to_string(constants_++);
  switch (dtype) {
    case ir::DType::kFloat32: { float v = to_f32(value); return add_constant(graph_, name, dtype, {}, &v, 1); }
    case ir::DType::kInt64: { int64_t v = saturate<int64_t>(value); return add_constant(graph_, name, dtype, {}, &v, 1); }
    case ir::DType::kInt32: { int32_t v = saturate<int32_t>(value); return add_constant(graph_, name, dtype, {}, &v, 1); }
    case ir::DType::kBool: { uint8_t v = value != 0; return add_constant(graph_, name, dtype, {}, &v, 1); }
    case ir::DType::kUInt8: { uint8_t v = saturate<uint8_t>(value); return add_constant(graph_, name, dtype, {}, &v, 1); }
    case ir::DType::kInt8: { int8_t v = saturate<int8_t>(value); return add_constant(graph_, name, dtype, {}, &v, 1); }
    default: break;
  }
  unsupported(std::string("a scalar of type ") + ir::dtype_name(dtype) + " is not supported");
}

ir::TensorId Lowering::const_from(const at::Tensor& tensor) {
  const std::pair<const void*, int64_t> key{tensor.unsafeGetTensorImpl(), static_cast<int64_t>(tensor._version())};
  auto cached = constants_made_.find(key);
  if (cached != constants_made_.end()) return cached->second.second;
  bool ok = false;
  ir::DType dtype = dtype_of(tensor.scalar_type(), &ok);
  if (!ok) unsupported(std::string("a constant of type ") + c10::toString(tensor.scalar_type()) + " is not supported");
  at::Tensor t = tensor.detach().cpu();
  if (t.is_quantized()) unsupported("quantized constants are not supported; give pare the float model");
  if (dtype == ir::DType::kFloat32) t = t.to(at::kFloat);
  t = t.contiguous();
  std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
  const std::string name = "const." + std::to_string(constants_++);
  const ir::TensorId id = add_constant(graph_, name, dtype, shape, static_cast<const uint8_t*>(t.data_ptr()),
                                       static_cast<size_t>(t.numel()) * t.element_size());
  constants_made_[key] = {tensor, id};
  return id;
}

ir::TensorId Lowering::cast(ir::TensorId t, ir::DType to) {
  if (dtype(t) == to) return t;
  ir::Attributes a;
  a.set("to", static_cast<int64_t>(to));
  return emit1(ir::OpKind::kCast, {t}, a);
}

ir::TensorId Lowering::reshape(ir::TensorId t, const std::vector<int64_t>& shape) {
  if (sizes(t) == shape) return t;
  return emit1(ir::OpKind::kReshape, {t, const_i64(shape)});
}

// ---- The walk ----

namespace {

// LibTorch's kernels take dtypes, layouts and memory formats as ints and trust them (a
// dtype of 2^40 crashes log_softmax): before an op runs on the file's values, those must
// be ones pare supports.
bool enum_argument_valid(const c10::Argument& arg, const c10::IValue& value) {
  c10::TypePtr type = arg.real_type();
  if (auto optional = type->cast<c10::OptionalType>()) type = optional->getElementType();
  if (!value.isInt()) return type->kind() != c10::TypeKind::ScalarTypeType || value.isNone();
  const int64_t v = value.toInt();
  switch (type->kind()) {
    case c10::TypeKind::ScalarTypeType: {
      if (v < 0 || v >= static_cast<int64_t>(c10::ScalarType::NumOptions)) return false;
      bool ok = false;
      dtype_of(static_cast<at::ScalarType>(v), &ok);
      return ok;
    }
    case c10::TypeKind::LayoutType: return v == static_cast<int64_t>(c10::kStrided);
    case c10::TypeKind::MemoryFormatType: return v >= 0 && v <= static_cast<int64_t>(c10::MemoryFormat::ChannelsLast3d);
    default: return true;
  }
}

bool is_tensor_type(const c10::TypePtr& type) { return type->kind() == c10::TypeKind::TensorType; }

class Walker {
 public:
  Walker(ir::Graph& graph, const std::string& path) : lowering_(graph, path), path_(path) {}
  Lowering& lowering() { return lowering_; }

  void lower_block(const torch::jit::Block* block) {
    for (const torch::jit::Node* n : block->nodes()) lower_node(n);
  }

 private:
  void lower_node(const torch::jit::Node* n) {
    Lowering& l = lowering_;
    l.begin(n);
    const std::string kind = l.kind();
    if (kind == "prim::Constant") {
      auto v = torch::jit::toIValue(n->output());
      if (!v) l.invalid("a constant without a value");
      l.out_static(0, *v);
      return;
    }
    if (kind == "prim::If") return lower_if(n);
    if (kind == "prim::Loop") return lower_loop(n);
    if (kind == "prim::RaiseException")
      l.invalid("the module raises an exception for these input shapes");
    if (is_identity_op(kind)) {
      l.out(0, l.in(0));
      return;
    }
    if (eval_static(l)) return;
    if (fold_with_torch(n)) return;
    if (!lower_aten(l)) {
      if (kind.rfind("aten::", 0) == 0 || kind.rfind("prim::", 0) == 0)
        l.unsupported("pare has no lowering for this op");
      l.unsupported("custom ops are not supported");
    }
    for (size_t i = 0; i < n->outputs().size(); ++i)
      if (!l.bound(n->outputs()[i]) && n->outputs()[i]->hasUses())
        l.invalid("output " + std::to_string(i) + " was not produced (pare lowering gap)");
    // An in-place op (relu_, add_) that RemoveMutation left: later reads of its first
    // argument see the result, as they would in TorchScript.
    const bool in_place = kind.size() > 1 && kind.back() == '_' && kind[kind.size() - 2] != '_';
    if (in_place && !n->inputs().empty() && n->outputs().size() == 1 && l.bound(n->output()))
      l.bind(n->input(0), l.entry(n->output()));
  }

  // An aten op whose inputs are all known now (constants, masks built from sizes, in-place
  // writes into them) runs in LibTorch itself, with torch's semantics, views included.
  // Only the ops such masks and index tables are built with (foldable_ops), and only when
  // what they create is bounded (fold_elements_bound): LibTorch's kernels trust their
  // arguments (a chunk into 2^31 pieces allocates 2^31 tensors). Any other op is lowered
  // into the graph, where pare's own shape checks apply.
  bool fold_with_torch(const torch::jit::Node* n) {
    Lowering& l = lowering_;
    const c10::FunctionSchema* schema = n->maybeSchema();
    if (!schema || !n->blocks().empty() || n->kind().ns() != c10::namespaces::aten || n->isNondeterministic())
      return false;
    if (!foldable_ops().count(n->kind().toUnqualString())) return false;
    const auto& args = schema->arguments();
    if (args.size() != n->inputs().size() || schema->is_vararg()) return false;
    torch::jit::Stack stack;
    for (size_t i = 0; i < n->inputs().size(); ++i) {
      const Entry& e = l.in(i);
      if (e.kind != Entry::kStatic) return false;
      if (!enum_argument_valid(args[i], e.value))
        l.invalid("argument '" + args[i].name() + "' is " + e.value.tagKind() + " " +
                  (e.value.isInt() ? std::to_string(e.value.toInt()) : std::string()) + ", not a " +
                  args[i].real_type()->str() + " pare supports");
      c10::IValue v = e.value;
      if (args[i].type()->kind() == c10::TypeKind::TensorType && (v.isInt() || v.isDouble() || v.isBool()))
        v = v.isDouble() ? at::scalar_tensor(v.toDouble(), at::kDouble)
                         : at::scalar_tensor(v.isInt() ? v.toInt() : v.toBool(), v.isInt() ? at::kLong : at::kBool);
      stack.push_back(std::move(v));
    }
    if (fold_elements_bound(n, args, stack) > kMaxImportedElements) return false;
    n->getOperation()(stack);
    if (stack.size() != n->outputs().size()) l.invalid("LibTorch returned an unexpected number of values");
    for (size_t i = 0; i < stack.size(); ++i) l.out_static(i, stack[i]);
    return true;
  }

  static const std::set<std::string>& foldable_ops() {
    static const std::set<std::string> ops = {
        // created from sizes
        "arange", "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "scalar_tensor", "tensor",
        // element-wise
        "add", "sub", "rsub", "mul", "div", "floor_divide", "remainder", "neg", "abs", "eq", "ne", "lt", "le",
        "gt", "ge", "logical_and", "logical_or", "logical_not", "logical_xor", "bitwise_and", "bitwise_or",
        "bitwise_not", "__and__", "__or__", "__xor__", "__not__", "where", "masked_fill", "masked_fill_",
        "fill_", "clamp", "clamp_min", "clamp_max", "minimum", "maximum", "pow", "exp", "log", "sqrt",
        "reciprocal", "floor", "ceil", "round", "sign",
        // layout and views
        "view", "reshape", "unsqueeze", "squeeze", "expand", "expand_as", "permute", "transpose", "t",
        "flatten", "slice", "select", "index", "index_select", "narrow", "cat", "stack", "contiguous",
        "clone", "detach", "to", "type_as", "copy_", "tril", "triu", "flip", "roll", "repeat_interleave",
        "embedding",
        // reductions
        "sum", "cumsum", "any", "all", "amax", "amin", "mean", "prod", "argmax", "argmin"};
    return ops;
  }

  // An upper bound of the elements the op creates: the broadcast of its tensor inputs (a
  // view from expand counts what it shows), their sum (cat), the product of a `size`
  // argument, arange's count, a list repeated by mul, repeat_interleave's repeats and
  // embedding's rows times width. Past int64, the maximum.
  int64_t fold_elements_bound(const torch::jit::Node* n, const std::vector<c10::Argument>& args,
                              const torch::jit::Stack& stack) const {
    constexpr int64_t kHuge = std::numeric_limits<int64_t>::max();
    auto mul = [](int64_t a, int64_t b) {
      int64_t r = 0;
      return __builtin_mul_overflow(a, b, &r) ? kHuge : r;
    };
    int64_t bound = 1, sum = 0;
    std::vector<int64_t> broadcast;
    for (size_t i = 0; i < stack.size(); ++i) {
      const c10::IValue& v = stack[i];
      std::vector<at::Tensor> tensors;
      if (v.isTensor()) tensors.push_back(v.toTensor());
      if (v.isTensorList()) tensors = v.toTensorVector();
      for (const at::Tensor& t : tensors) {
        const int64_t count = std::accumulate(t.sizes().begin(), t.sizes().end(), int64_t{1}, mul);
        sum = count > kHuge - sum ? kHuge : sum + count;
        const auto sizes = t.sizes();
        if (sizes.size() > broadcast.size()) broadcast.insert(broadcast.begin(), sizes.size() - broadcast.size(), 1);
        for (size_t d = 0; d < sizes.size(); ++d) {
          int64_t& b = broadcast[broadcast.size() - sizes.size() + d];
          b = std::max(b, sizes[d]);
        }
      }
      if (args[i].name() == "size" && v.isIntList())
        for (int64_t d : v.toIntVector())
          if (d >= 0) bound = std::max(bound, mul(bound, d));  // expand's -1 keeps a dim
    }
    bound = std::max({bound, sum, std::accumulate(broadcast.begin(), broadcast.end(), int64_t{1}, mul)});
    const std::string name = n->kind().toUnqualString();
    if (name == "arange") {  // by the schema's names: arange(end), arange(start, end[, step])
      double start = 0.0, end = 0.0, step = 1.0;
      for (size_t i = 0; i < stack.size(); ++i) {
        const c10::IValue& v = stack[i];
        if (!v.isInt() && !v.isDouble()) continue;
        const double x = v.isInt() ? static_cast<double>(v.toInt()) : v.toDouble();
        if (args[i].name() == "start") start = x;
        if (args[i].name() == "end") end = x;
        if (args[i].name() == "step") step = x;
      }
      const double count = std::ceil((end - start) / step);
      if (!(count < 9.0e18)) return kHuge;  // NaN, infinite or past int64
      bound = std::max(bound, static_cast<int64_t>(std::max(count, 0.0)));
    }
    if (name == "mul") {  // a list times an int repeats it (aten::mul.left_t / right_), n times even when empty
      int64_t list_size = -1, times = 1;
      for (const c10::IValue& v : stack) {
        if (v.isList()) list_size = static_cast<int64_t>(v.toList().size());
        if (v.isInt()) times = v.toInt();
      }
      if (list_size >= 0) bound = std::max(bound, mul(std::max<int64_t>(list_size, 1), std::max<int64_t>(times, 0)));
    }
    if (name == "repeat_interleave")  // each element `repeats` times
      for (size_t i = 0; i < stack.size(); ++i)
        if (args[i].name() == "repeats" && stack[i].isInt())
          bound = std::max(bound, mul(std::max<int64_t>(sum, 1), std::max<int64_t>(stack[i].toInt(), 0)));
    if (name == "embedding" && stack.size() >= 2 && stack[0].isTensor() && stack[1].isTensor() &&
        stack[0].toTensor().dim() == 2)
      bound = std::max(bound, mul(stack[1].toTensor().numel(), stack[0].toTensor().size(1)));
    return bound;
  }

  // An if whose condition is known now (sizes, flags, constants): lowered as the branch
  // taken. A condition computed from tensor data cannot be represented.
  void lower_if(const torch::jit::Node* n) {
    Lowering& l = lowering_;
    const Entry& cond = l.in(0);
    if (cond.kind != Entry::kStatic)
      l.unsupported("the condition depends on tensor data; pare lowers only control flow known from shapes");
    const bool taken = l.bool_arg(0);
    const torch::jit::Block* block = n->blocks().at(taken ? 0 : 1);
    lower_block(block);
    for (size_t i = 0; i < n->outputs().size(); ++i) {
      const Entry e = lowering_.entry(block->outputs()[i]);
      lowering_.bind(n->outputs()[i], e);
    }
  }

  // A loop with a trip count known now is unrolled.
  void lower_loop(const torch::jit::Node* n) {
    Lowering& l = lowering_;
    const int64_t trips = l.int_arg(0);
    if (trips > 4096) l.unsupported("a loop of " + std::to_string(trips) + " iterations is too long to unroll");
    const torch::jit::Block* body = n->blocks().at(0);
    std::vector<Entry> carried;
    for (size_t i = 2; i < n->inputs().size(); ++i) carried.push_back(l.in(i));
    for (int64_t it = 0; it < trips; ++it) {
      lowering_.bind(body->inputs()[0], Entry::of_static(c10::IValue(it)));
      for (size_t i = 0; i < carried.size(); ++i) lowering_.bind(body->inputs()[i + 1], carried[i]);
      lower_block(body);
      lowering_.begin(n);
      const Entry& go_on = lowering_.entry(body->outputs()[0]);
      if (go_on.kind != Entry::kStatic) l.unsupported("the loop condition depends on tensor data");
      for (size_t i = 0; i < carried.size(); ++i) carried[i] = lowering_.entry(body->outputs()[i + 1]);
      if (!go_on.value.toBool()) break;
    }
    for (size_t i = 0; i < n->outputs().size(); ++i) lowering_.bind(n->outputs()[i], carried.at(i));
  }

  Lowering lowering_;
  std::string path_;
};

std::string c10_message(const std::exception& e) {
  if (auto* ce = dynamic_cast<const c10::Error*>(&e)) return first_line(ce->what_without_backtrace());
  return first_line(e.what());
}

// LibTorch's loader and freezing, up to the forward graph pare lowers. Bad input comes out
// as pare's bad-input errors.
std::shared_ptr<torch::jit::Graph> load_frozen_graph(const std::string& path, std::vector<std::string>* arg_names) {
  torch::jit::Module module;
  try {
    module = torch::jit::load(path);
  } catch (const std::exception& e) {
    throw_invalid("'" + path + "' is not a TorchScript module LibTorch can load: " + c10_message(e));
  }
  if (!module.find_method("forward")) throw_invalid("'" + path + "': the module has no forward method");

  std::shared_ptr<torch::jit::Graph> graph;
  try {
    module.eval();
    torch::jit::Module frozen = torch::jit::freeze(module);
    torch::jit::Method forward = frozen.get_method("forward");
    for (const c10::Argument& a : forward.function().getSchema().arguments()) arg_names->push_back(a.name());
    graph = forward.graph()->copy();
    simplify_for_lowering(graph);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw_invalid("'" + path + "': LibTorch could not freeze the module: " + c10_message(e));
  }
  return graph;
}

// LibTorch 1.13 can crash on a damaged file (a segfault in its unpickler, found by fuzzing),
// and so can its kernels when the lowering folds ops on constants from the file (a
// convolution with 2^40 groups divides by zero). A crash is no answer for a CI job, so a
// child process runs the whole import first: if it dies there, the file is reported as bad
// input; if it succeeds or throws, the same deterministic import runs here and gives the
// graph or the error with its message.
void import_in_child_first(const std::string& path, const ImportOptions& options) {
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) return;  // no child to spare: import in-process, as without this guard
  if (child == 0) {
    int code = 0;
    try {
      std::vector<std::string> names;
      std::shared_ptr<torch::jit::Graph> graph = load_frozen_graph(path, &names);
      lower_graph(*graph, names, path, options);
    } catch (...) {
      code = 3;
    }
    _exit(code);  // no exit handlers of the parent's process run twice
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) return;
  const bool exited_cleanly = WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3);
  if (exited_cleanly) return;
  const std::string how = WIFSIGNALED(status) ? std::string("crashed (") + strsignal(WTERMSIG(status)) + ")"
                                              : "failed (exit " + std::to_string(WEXITSTATUS(status)) + ")";
  throw_invalid("'" + path + "' is not a TorchScript module LibTorch can load: LibTorch " + how +
                " reading it; the file is damaged or was not written by torch.jit.save");
}

}  // namespace

void simplify_for_lowering(std::shared_ptr<torch::jit::Graph>& graph, bool propagate_constants) {
  torch::jit::Inline(*graph);
  torch::jit::RemoveListMutation(graph);
  torch::jit::RemoveTensorMutation(graph);
  torch::jit::LowerSimpleTuples(graph);
  if (propagate_constants) torch::jit::ConstantPropagation(graph);
  torch::jit::EliminateDeadCode(graph);
}

ir::Graph import_model(const std::string& path, const ImportOptions& options) {
  // Every c10::Error LibTorch throws symbolizes its whole call stack (a dladdr per frame, a
  // few milliseconds), and a damaged file makes its loader throw many. pare reports only
  // the first line of LibTorch's message, so the stack is never fetched.
  static const bool no_stack_traces = [] {
    c10::SetStackTraceFetcher([] { return std::string(); });
    return true;
  }();
  (void)no_stack_traces;
  {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw_invalid("cannot open '" + path + "'");
  }
  import_in_child_first(path, options);
  std::vector<std::string> arg_names;
  std::shared_ptr<torch::jit::Graph> graph = load_frozen_graph(path, &arg_names);
  return lower_graph(*graph, arg_names, path, options);
}

ir::Graph lower_graph(const torch::jit::Graph& graph, const std::vector<std::string>& arg_names,
                      const std::string& path, const ImportOptions& options) {

  ir::Graph out;
  out.name = path.substr(path.find_last_of('/') + 1);
  out.metadata["producer"] = "torchscript";
  Walker walker(out, path);
  Lowering& l = walker.lowering();

  // The first graph input is the module itself; the others are forward's arguments.
  const auto& graph_inputs = graph.inputs();
  std::vector<std::string> names;
  for (size_t i = 1; i < graph_inputs.size(); ++i)
    names.push_back(i < arg_names.size() ? arg_names[i] : graph_inputs[i]->debugName());
  for (const auto& [name, type] : options.input_types)
    if (std::find(names.begin(), names.end(), name) == names.end())
      throw_invalid("'" + path + "': --input-type names '" + name + "', which is not a forward argument");
  for (const auto& [name, dims] : options.input_shapes)
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string list;
      for (const std::string& k : names) list += (list.empty() ? "" : ", ") + k;
      throw_invalid("'" + path + "': --input-shape names '" + name + "', but forward takes " +
                    (list.empty() ? "no tensors" : list) + " (" + name + ":" + join(dims) + ")");
    }
  for (size_t i = 1; i < graph_inputs.size(); ++i) {
    const torch::jit::Value* v = graph_inputs[i];
    const std::string& name = names[i - 1];
    if (!is_tensor_type(v->type()))
      throw_unsupported("'" + path + "': forward argument '" + name + "' is a " + v->type()->str() +
                        "; pare models take tensors only");
    auto it = options.input_shapes.find(name);
    if (it == options.input_shapes.end())
      throw_invalid("'" + path + "': input '" + name +
                    "' has no shape (a TorchScript file records none); give it with --input-shape " + name +
                    ":1x3x224x224 (your model's dims)");
    ir::Tensor t;
    t.name = name;
    t.dtype = ir::DType::kFloat32;
    // Token ids: an input read as indices (embedding) is int64.
    for (const torch::jit::Use& use : v->uses()) {
      const std::string k = use.user->kind().toQualString();
      if ((k == "aten::embedding" && use.offset == 1) || (k == "aten::index_select" && use.offset == 2))
        t.dtype = ir::DType::kInt64;
    }
    if (auto given = options.input_types.find(name); given != options.input_types.end()) t.dtype = given->second;
    t.shape = ir::Shape(it->second);
    ir::TensorId id = out.add_tensor(std::move(t));
    out.inputs.push_back(id);
    l.bind(v, Entry::of_tensor(id));
  }

  try {
    walker.lower_block(graph.block());
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw_invalid(l.where() + ": " + c10_message(e));
  }

  // Outputs: a tensor, or a tuple/list of tensors.
  std::vector<ir::TensorId> outputs;
  std::function<void(const Entry&)> collect = [&](const Entry& e) {
    if (e.kind == Entry::kTensor) {
      outputs.push_back(e.tensor);
    } else if (e.kind == Entry::kList) {
      for (const Entry& item : e.items) collect(item);
    } else if (e.value.isTensor()) {
      outputs.push_back(l.const_from(e.value.toTensor()));
    } else {
      throw_unsupported("'" + path + "': forward returns a " + e.value.tagKind() + "; pare models return tensors");
    }
  };
  for (const torch::jit::Value* v : graph.outputs()) collect(l.entry(v));
  // An output that is also an input or another output gets its own tensor.
  std::vector<bool> taken(out.tensor_capacity(), false);
  for (ir::TensorId in : out.inputs) taken[static_cast<size_t>(in)] = true;
  for (size_t i = 0; i < outputs.size(); ++i) {
    ir::TensorId t = outputs[i];
    const bool repeated = out.tensor(t).is_constant() || taken[static_cast<size_t>(t)];
    taken[static_cast<size_t>(t)] = true;
    if (repeated) t = l.emit1(ir::OpKind::kIdentity, {t});
    out.tensor(t).name = outputs.size() == 1 ? "output" : "output" + std::to_string(i);
    out.outputs.push_back(t);
  }
  return out;
}

}  // namespace pare::torchscript_import
