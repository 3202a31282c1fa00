// The state of one TorchScript-to-IR lowering, shared by the importer (graph walk, values,
// control flow) and the aten op lowerings (lower_aten.cc). Included only by this folder's
// sources: it brings LibTorch's headers.
#pragma once

#include <torch/csrc/jit/ir/ir.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "formats/torchscript/importer.h"
#include "ir/graph.h"

namespace pare::torchscript_import {

// What a TorchScript value is while lowering: a tensor of the IR graph, a value known now
// (a constant, a size, a scalar computed from sizes: c10::IValue), or a list or tuple of
// entries (tensor lists for cat, tuples of outputs).
struct Entry {
  enum Kind { kTensor, kStatic, kList };
  Kind kind = kStatic;
  ir::TensorId tensor = ir::kNoTensor;
  c10::IValue value;
  std::vector<Entry> items;

  static Entry of_tensor(ir::TensorId t) { Entry e; e.kind = kTensor; e.tensor = t; return e; }
  static Entry of_static(c10::IValue v) { Entry e; e.kind = kStatic; e.value = std::move(v); return e; }
  static Entry of_list(std::vector<Entry> items) { Entry e; e.kind = kList; e.items = std::move(items); return e; }
};

class Lowering {
 public:
  Lowering(ir::Graph& graph, std::string path) : graph_(graph), path_(std::move(path)) {}

  // The node being lowered; set by the walk before each lowering runs.
  void begin(const torch::jit::Node* node);
  const torch::jit::Node* node() const { return node_; }
  std::string kind() const { return node_->kind().toQualString(); }

  // Errors name the file, the op, its schema and the source line TorchScript recorded.
  [[noreturn]] void unsupported(const std::string& why) const;
  [[noreturn]] void invalid(const std::string& why) const;
  std::string where() const;

  // Values.
  void bind(const torch::jit::Value* v, Entry e) { values_[v] = std::move(e); }
  bool bound(const torch::jit::Value* v) const { return values_.count(v) != 0; }
  const Entry& entry(const torch::jit::Value* v) const;
  const Entry& in(size_t i) const { return entry(node_->inputs().at(i)); }
  size_t num_inputs() const { return node_->inputs().size(); }
  void out(size_t i, Entry e) { bind(node_->outputs().at(i), std::move(e)); }
  void out_tensor(size_t i, ir::TensorId t) { out(i, Entry::of_tensor(t)); }
  void out_static(size_t i, c10::IValue v) { out(i, Entry::of_static(std::move(v))); }

  // Inputs read as what an op needs; each fails with a message naming the argument.
  bool is_none(size_t i) const;
  bool is_static(size_t i) const { return in(i).kind == Entry::kStatic; }
  ir::TensorId tensor(size_t i);            // materializes a static scalar as a 0-d constant
  ir::TensorId tensor_like(size_t i, ir::DType dtype);  // a scalar gets `dtype`
  int64_t int_arg(size_t i) const;
  double float_arg(size_t i) const;
  bool bool_arg(size_t i) const;
  std::vector<int64_t> ints_arg(size_t i) const;  // an int list (or one int)
  std::string string_arg(size_t i) const;
  std::vector<ir::TensorId> tensors_arg(size_t i);  // a list of tensors

  // The IR graph.
  ir::Graph& graph() { return graph_; }
  const ir::Tensor& info(ir::TensorId t) const { return graph_.tensor(t); }
  std::vector<int64_t> sizes(ir::TensorId t) const;  // static
  ir::DType dtype(ir::TensorId t) const { return graph_.tensor(t).dtype; }
  int64_t rank(ir::TensorId t) const { return static_cast<int64_t>(graph_.tensor(t).shape.rank()); }
  // Normalizes a possibly negative dim against `rank` (fails when out of range).
  int64_t axis(int64_t dim, int64_t rank) const;
  // The size of x along an axis from axis(); a 0-d tensor has none (an error).
  int64_t dim_size(ir::TensorId x, int64_t axis) const;
  // Size arithmetic on numbers from the file: an overflow is a bad file, never UB.
  int64_t checked_mul(int64_t a, int64_t b) const;
  int64_t checked_add(int64_t a, int64_t b) const;
  int64_t checked_sub(int64_t a, int64_t b) const;

  // Adds an IR node (named after the module path of the TorchScript node), infers its
  // outputs' shapes, and returns them.
  std::vector<ir::TensorId> emit(ir::OpKind op, std::vector<ir::TensorId> inputs, ir::Attributes attrs = {},
                                 size_t num_outputs = 1);
  ir::TensorId emit1(ir::OpKind op, std::vector<ir::TensorId> inputs, ir::Attributes attrs = {}) {
    return emit(op, std::move(inputs), std::move(attrs), 1)[0];
  }
  ir::TensorId const_i64(const std::vector<int64_t>& values, std::vector<int64_t> shape = {-1});
  ir::TensorId const_f32(const std::vector<float>& values, std::vector<int64_t> shape = {-1});
  ir::TensorId const_scalar(double value, ir::DType dtype);  // 0-d
  ir::TensorId const_from(const at::Tensor& t);
  ir::TensorId cast(ir::TensorId t, ir::DType to);
  ir::TensorId reshape(ir::TensorId t, const std::vector<int64_t>& shape);

 private:
  ir::Graph& graph_;
  std::string path_;
  const torch::jit::Node* node_ = nullptr;
  std::string node_name_;
  std::unordered_map<const torch::jit::Value*, Entry> values_;
  std::map<std::string, int> name_counts_;
  // IR constants made from LibTorch tensors, by tensor and version (a write makes a new
  // version), so a weight read by several ops is stored once.
  std::map<std::pair<const void*, int64_t>, std::pair<at::Tensor, ir::TensorId>> constants_made_;
  int constants_ = 0;
};

// Lowers one aten (or prim) node; returns false when the op has no lowering.
bool lower_aten(Lowering& l);

// The static evaluation of scalar ops on values known now (sizes, ints, floats, bools);
// returns false when an input is not static or the op is not a scalar op.
bool eval_static(Lowering& l);

// Ops that are the identity at inference: dropout, contiguous, detach, clone...
bool is_identity_op(const std::string& kind);

// The largest tensor the import builds itself (filled tensors, masks and index tables
// computed from sizes): 2^26 elements.
constexpr int64_t kMaxImportedElements = int64_t{1} << 26;

// The most pieces chunk, split and unbind make of one tensor: each is a graph tensor, and a
// dim from the file (repeat by 2^31, say) would otherwise ask for billions.
constexpr int64_t kMaxListPieces = int64_t{1} << 16;

// A double from the file as a float: beyond float's range it is +-inf (as in torch), never
// a UB conversion.
float to_f32(double v);

// The two steps after LibTorch's loader, which import_model runs on a file's frozen forward
// graph (the torchscript_graph fuzz target runs them on parsed IR):
// inlining, mutation removal, tuple lowering, constant propagation (LibTorch's kernels run
// on constant inputs; optional for that reason) and dead code removal;
void simplify_for_lowering(std::shared_ptr<torch::jit::Graph>& graph, bool propagate_constants = true);
// and the lowering to pare's IR. arg_names are forward's argument names, the module first;
// path names the source in errors.
ir::Graph lower_graph(const torch::jit::Graph& graph, const std::vector<std::string>& arg_names,
                      const std::string& path, const ImportOptions& options);

}  // namespace pare::torchscript_import
