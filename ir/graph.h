// The graph IR: tensors and nodes owned by a Graph under stable integer ids.
// Passes edit through the Graph API; ids, and references from tensor()/node(), stay valid
// across add_tensor/add_node until Graph::compact().
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ir/dtype.h"
#include "ir/op.h"

namespace pare::ir {

using TensorId = int32_t;
using NodeId = int32_t;
constexpr TensorId kNoTensor = -1;  // an omitted optional input
constexpr NodeId kNoNode = -1;

// One dimension: a known size, or a symbol (e.g. "N") to be fixed by the user.
struct Dim {
  int64_t value = -1;   // >= 0 when known
  std::string symbol;   // non-empty when symbolic
  static Dim known(int64_t v) { return Dim{v, {}}; }
  static Dim sym(std::string s) { return Dim{-1, std::move(s)}; }
  bool is_known() const { return value >= 0; }
  bool operator==(const Dim& o) const { return value == o.value && symbol == o.symbol; }
};

struct Shape {
  std::vector<Dim> dims;
  bool rank_known = false;  // false: nothing known yet (before shape inference)

  Shape() = default;
  explicit Shape(const std::vector<int64_t>& sizes);
  size_t rank() const { return dims.size(); }
  bool is_static() const;                    // rank known and all dims known
  int64_t num_elements() const;              // requires is_static()
  std::vector<int64_t> sizes() const;        // requires is_static()
  std::string str() const;                   // "[1,3,N,224]" or "[?]"
  bool operator==(const Shape& o) const { return rank_known == o.rank_known && dims == o.dims; }
  bool operator!=(const Shape& o) const { return !(*this == o); }
};

// The element count of `sizes`, or nullopt when a size is negative or the product of the
// non-zero sizes overflows int64: an empty tensor's strides still come from its other sizes.
std::optional<int64_t> checked_element_count(const std::vector<int64_t>& sizes);

// Immutable bytes shared between tensors and graph copies.
struct Buffer {
  std::vector<uint8_t> bytes;
};
using BufferPtr = std::shared_ptr<const Buffer>;

// Scales and zero points, per tensor or per axis: the one pare::QuantParams the runtime uses.
using ::pare::QuantParams;

struct Tensor {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;
  BufferPtr data;  // set for constants (weights, folded values)
  std::optional<QuantParams> quant;

  bool is_constant() const { return data != nullptr; }
  template <typename T>
  const T* values() const { return reinterpret_cast<const T*>(data->bytes.data()); }
  // Constant values converted to int64 (integer and bool dtypes) or double (floats).
  std::vector<int64_t> int_values() const;
  std::vector<double> float_values() const;
};

using AttrValue =
    std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>>;

class Attributes {
 public:
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  void set(const std::string& name, AttrValue v) { values_[name] = std::move(v); }
  void erase(const std::string& name) { values_.erase(name); }
  // Typed getters; throw pare::Error(kInvalidInput) when present with another type.
  int64_t get_int(const std::string& name, int64_t dflt) const;
  float get_float(const std::string& name, float dflt) const;
  std::string get_string(const std::string& name, const std::string& dflt) const;
  std::vector<int64_t> get_ints(const std::string& name, const std::vector<int64_t>& dflt = {}) const;
  std::vector<float> get_floats(const std::string& name, const std::vector<float>& dflt = {}) const;
  const std::map<std::string, AttrValue>& all() const { return values_; }

 private:
  std::map<std::string, AttrValue> values_;  // ordered: deterministic output
};

struct Node {
  OpKind op = OpKind::kIdentity;
  std::string name;  // the source node's name, kept into the file for reports and profiles
  Attributes attrs;
  std::vector<TensorId> inputs;   // kNoTensor for an omitted optional input
  std::vector<TensorId> outputs;
  FusedActivation activation;  // Conv, ConvTranspose, Gemm, MatMul: kind and its parameters
};

class Graph {
 public:
  TensorId add_tensor(Tensor t);
  NodeId add_node(Node n);

  Tensor& tensor(TensorId id) { return tensors_.at(static_cast<size_t>(id)); }
  const Tensor& tensor(TensorId id) const { return tensors_.at(static_cast<size_t>(id)); }
  Node& node(NodeId id) { return nodes_.at(static_cast<size_t>(id)); }
  const Node& node(NodeId id) const { return nodes_.at(static_cast<size_t>(id)); }
  bool node_alive(NodeId id) const { return alive_.at(static_cast<size_t>(id)); }
  size_t tensor_capacity() const { return tensors_.size(); }  // ids are < this
  size_t node_capacity() const { return nodes_.size(); }

  // Live nodes in insertion order.
  std::vector<NodeId> nodes() const;
  size_t num_nodes() const;
  void remove_node(NodeId id);

  std::vector<TensorId> inputs;   // graph inputs (non-constant)
  std::vector<TensorId> outputs;  // graph outputs

  // Use queries scan the live nodes; cheap at the sizes of mobile models. Loops over all
  // tensors take a UseIndex (below) instead.
  NodeId producer(TensorId t) const;             // kNoNode for graph inputs and constants
  std::vector<NodeId> consumers(TensorId t) const;
  bool is_graph_output(TensorId t) const;
  // Rewires every use of `from` (node inputs and graph outputs) to `to`.
  void replace_all_uses(TensorId from, TensorId to);
  TensorId find_tensor(const std::string& name) const;  // kNoTensor if absent

  // Topological order of the live nodes (Boost.Graph). Throws pare::Error on a cycle.
  std::vector<NodeId> topological_order() const;
  // Removes nodes whose outputs reach no graph output. Returns how many were removed.
  size_t remove_dead_nodes();
  // Renumbers tensors and nodes densely in topological order, dropping unused tensors;
  // ids and references taken before it are stale afterwards.
  void compact();

  std::string name;
  std::map<std::string, std::string> metadata;  // producer, source hash, ...

 private:
  // Deques: push_back leaves references to the elements already there valid, so a pass
  // may hold a tensor or node while it adds others.
  std::deque<Tensor> tensors_;
  std::deque<Node> nodes_;
  std::vector<bool> alive_;
};

// Every tensor's producer, readers and graph-output flag, from one pass over the graph. The
// Graph queries scan every node, so a loop over all tensors that asks them is quadratic: a
// hostile file with 65,536 outputs took minutes. Valid until the graph changes.
class UseIndex {
 public:
  explicit UseIndex(const Graph& g);
  NodeId producer(TensorId t) const { return producer_[static_cast<size_t>(t)]; }
  // Each reader once, in node order (as Graph::consumers).
  const std::vector<NodeId>& consumers(TensorId t) const { return consumers_[static_cast<size_t>(t)]; }
  bool is_graph_output(TensorId t) const { return output_[static_cast<size_t>(t)]; }
  bool is_graph_input(TensorId t) const { return input_[static_cast<size_t>(t)]; }
  // For a pass that moves or removes a writer as it goes.
  void set_producer(TensorId t, NodeId n) { producer_[static_cast<size_t>(t)] = n; }
  // For a pass that edits nodes as it goes: forget(g, n) before node n's inputs or outputs
  // change or it is removed, record(g, n) once its new ones are in place. Tensors added since
  // the index was built must not be asked about.
  void forget(const Graph& g, NodeId n);
  void record(const Graph& g, NodeId n);

 private:
  bool in_range(TensorId t) const { return t >= 0 && static_cast<size_t>(t) < producer_.size(); }

  std::vector<NodeId> producer_;
  std::vector<std::vector<NodeId>> consumers_;
  std::vector<bool> output_, input_;
};

// Creates a constant tensor holding `values` (host byte order).
template <typename T>
TensorId add_constant(Graph& g, const std::string& name, DType dtype,
                      const std::vector<int64_t>& shape, const std::vector<T>& values) {
  Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = Shape(shape);
  auto buf = std::make_shared<Buffer>();
  buf->bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(buf->bytes.data(), values.data(), buf->bytes.size());
  t.data = std::move(buf);
  return g.add_tensor(std::move(t));
}

}  // namespace pare::ir
