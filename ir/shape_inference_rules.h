// Shape inference internals shared by the rule files: the node context every rule reads
// and writes through, and the rules themselves, grouped by file (elementwise, nn, tensor).
// ir/shape_inference.cc dispatches on the op.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/status.h"

namespace pare::ir::shape_rules {

using Sizes = std::vector<int64_t>;

inline std::string str(const Sizes& s) { return Shape(s).str(); }

// Input sizes are checked to have a representable element count (NodeContext::sizes), so
// products over them do not overflow.
inline int64_t product(const Sizes& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

inline int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b > 0 ? 1 : 0); }

// Reads the inputs of one node and writes its outputs; every message names the node.
class NodeContext {
 public:
  NodeContext(Graph& graph, NodeId id) : graph_(graph), node_(graph.node(id)) {}

  std::string where() const { return std::string(op_name(node_.op)) + " '" + node_.name + "'"; }
  [[noreturn]] void fail(const std::string& message) const { throw_invalid(where() + ": " + message); }

  // Size arithmetic on values from attributes and constants, which a bad file can make huge.
  int64_t add(int64_t a, int64_t b) const {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) fail("size arithmetic overflows");
    return r;
  }
  int64_t mul(int64_t a, int64_t b) const {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) fail("size arithmetic overflows");
    return r;
  }
  // The element count (checked_element_count: the non-zero sizes' product must fit too).
  int64_t elements(const Sizes& s, const std::string& what) const {
    for (int64_t d : s)
      if (d < 0) fail(what + " has a negative size " + str(s));
    const std::optional<int64_t> n = checked_element_count(s);
    if (!n) fail(what + " has too many elements " + str(s));
    return *n;
  }

  const Attributes& attrs() const { return node_.attrs; }
  size_t num_inputs() const { return node_.inputs.size(); }
  size_t num_outputs() const { return node_.outputs.size(); }
  bool has_input(size_t i) const { return i < node_.inputs.size() && node_.inputs[i] != kNoTensor; }

  const Tensor& input(size_t i) const {
    if (!has_input(i)) fail("input " + std::to_string(i) + " is missing");
    return graph_.tensor(node_.inputs[i]);
  }
  std::string label(size_t i) const { return "input " + std::to_string(i) + " ('" + input(i).name + "')"; }

  // The static sizes of input i (shapes of all inputs must be known before inference).
  Sizes sizes(size_t i) const {
    const Tensor& t = input(i);
    if (!t.shape.is_static()) fail(label(i) + " has no static shape (" + t.shape.str() + ")");
    Sizes s = t.shape.sizes();
    elements(s, label(i));
    return s;
  }
  DType dtype(size_t i) const {
    const Tensor& t = input(i);
    if (t.dtype == DType::kUndefined) fail(label(i) + " has no known dtype");
    return t.dtype;
  }

  // Values of a constant input the output shape depends on.
  std::vector<int64_t> const_ints(size_t i) const {
    const Tensor& t = require_constant(i);
    if (t.dtype == DType::kFloat32 || t.dtype == DType::kFloat64)
      fail(label(i) + " must hold integers, not " + dtype_name(t.dtype));
    return t.int_values();
  }
  std::vector<double> const_floats(size_t i) const { return require_constant(i).float_values(); }
  bool is_empty_constant(size_t i) const {
    const Tensor& t = input(i);
    return t.is_constant() && t.data->bytes.empty();
  }

  // Normalises a possibly negative axis into [0, rank).
  int64_t axis(int64_t a, size_t rank, const char* what = "axis") const {
    int64_t r = static_cast<int64_t>(rank);
    if (a < -r || a >= r)
      fail(std::string(what) + " " + std::to_string(a) + " is out of range for rank " + std::to_string(r));
    return a < 0 ? a + r : a;
  }
  // Normalises a list of axes, rejecting duplicates.
  std::vector<int64_t> axes(const std::vector<int64_t>& raw, size_t rank) const {
    std::vector<int64_t> out;
    for (int64_t a : raw) {
      int64_t n = axis(a, rank);
      if (std::find(out.begin(), out.end(), n) != out.end())
        fail("axis " + std::to_string(a) + " is repeated");
      out.push_back(n);
    }
    return out;
  }

  void set_output(size_t k, DType dtype, const Sizes& sizes) {
    if (k >= node_.outputs.size() || node_.outputs[k] == kNoTensor)
      fail("output " + std::to_string(k) + " is missing");
    for (int64_t d : sizes)
      if (d < 0) fail("computed a negative output size " + str(sizes));
    elements(sizes, "output " + std::to_string(k));
    Tensor& t = graph_.tensor(node_.outputs[k]);
    t.dtype = dtype;
    t.shape = Shape(sizes);
  }
  void require_outputs(size_t n) const {
    if (node_.outputs.size() != n)
      fail("has " + std::to_string(node_.outputs.size()) + " outputs, expected " + std::to_string(n));
  }
  DType output_dtype(size_t k) const {
    if (k >= node_.outputs.size() || node_.outputs[k] == kNoTensor) fail("output " + std::to_string(k) + " is missing");
    return graph_.tensor(node_.outputs[k]).dtype;
  }
  bool output_is_constant(size_t k) const {
    return k < node_.outputs.size() && node_.outputs[k] != kNoTensor &&
           graph_.tensor(node_.outputs[k]).is_constant();
  }

 private:
  const Tensor& require_constant(size_t i) const {
    const Tensor& t = input(i);
    if (!t.is_constant())
      throw_unsupported(where() + ": " + label(i) + " must be a constant (it determines the output shape)");
    return t;
  }

  Graph& graph_;
  Node& node_;
};

// Numpy (multidirectional) broadcasting.
Sizes broadcast(const NodeContext& c, const Sizes& a, const Sizes& b);
void same_as_input(NodeContext& c);

// shape_inference_elementwise.cc
void infer_binary(NodeContext& c, bool same_dtype, DType out_dtype);
void infer_variadic(NodeContext& c);    // Max, Min: one dtype, broadcast over every input
void infer_logical(NodeContext& c);     // And, Or: bool inputs, broadcast, bool output
void infer_not(NodeContext& c);         // bool input, same shape
void infer_float_test(NodeContext& c);  // IsNaN, IsInf: float input, bool output of its shape
void infer_prelu(NodeContext& c);
void infer_where(NodeContext& c);
void infer_cast(NodeContext& c);
void infer_gelu(NodeContext& c);

// shape_inference_nn.cc
void infer_conv(NodeContext& c);
void infer_conv_transpose(NodeContext& c);
void infer_pool(NodeContext& c);
void infer_global_pool(NodeContext& c);
void infer_batchnorm(NodeContext& c);
void infer_layernorm(NodeContext& c);
void infer_softmax(NodeContext& c);
void infer_quantize_linear(NodeContext& c, bool quantize);
void infer_gemm(NodeContext& c);
void infer_matmul(NodeContext& c);
void infer_einsum(NodeContext& c);

// shape_inference_tensor.cc
void infer_flatten(NodeContext& c);
void infer_reshape(NodeContext& c);
void infer_squeeze(NodeContext& c);
void infer_unsqueeze(NodeContext& c);
void infer_transpose(NodeContext& c);
void infer_concat(NodeContext& c);
void infer_split(NodeContext& c);
void infer_slice(NodeContext& c);
void infer_gather(NodeContext& c);
void infer_shape(NodeContext& c);
void infer_expand(NodeContext& c);
void infer_constant_of_shape(NodeContext& c);
void infer_pad(NodeContext& c);
void infer_reduce(NodeContext& c);
void infer_resize(NodeContext& c);
void infer_arg_reduce(NodeContext& c);  // ArgMax
void infer_cumsum(NodeContext& c);
void infer_gather_elements(NodeContext& c);
void infer_range(NodeContext& c);
void infer_tile(NodeContext& c);
void infer_topk(NodeContext& c);

}  // namespace pare::ir::shape_rules
