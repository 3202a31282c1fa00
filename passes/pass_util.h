// Small utilities shared by the pass implementations in passes/.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ir/graph.h"
#include "passes/pass.h"

namespace pare::passes {

// Appends a human-readable note to the report of the pass being run. run_pipeline
// pushes that report before the pass starts; a pass called on its own gets one here.
void add_note(PassContext& ctx, const std::string& pass, std::string note);

// The node names of a comma-separated option such as exclude=a,b (empty names dropped).
std::set<std::string> name_list_option(const PassOptions& options, const std::string& key);

// A per-layer option such as layer_bits=a:4,b:6: source node name -> number (the name is
// what precedes the last ':'). A bad item is an error naming the pass, the option and the item.
std::map<std::string, double> layer_value_option(const PassOptions& options, const std::string& key,
                                                 const std::string& pass);

// The update=obs|none option of prune and cluster: obs (the OBS refit on calibration data) by
// default when there is calibration data, else none. Another value, or obs without calibration
// data, is an error naming the pass and the option. Returns whether obs runs; `reason` says
// which and why, for the report.
bool obs_update_option(const PassOptions& options, bool has_calibration, const std::string& pass,
                       std::string& reason);

// `base` if no tensor has that name yet, else `base` + "_1", "_2", ...
std::string unique_tensor_name(const ir::Graph& graph, const std::string& base);

// unique_tensor_name for a pass that adds many tensors: the graph's names are read once and
// every name handed out is remembered (unique_tensor_name reads them all per call, quadratic
// over thousands of additions). Every tensor the pass adds or renames meanwhile must take
// its name from here.
class TensorNames {
 public:
  explicit TensorNames(const ir::Graph& graph);
  std::string unique(const std::string& base);

 private:
  std::unordered_set<std::string> names_;
  std::unordered_map<std::string, size_t> next_suffix_;  // per base, the first suffix not known taken
};

// A new float32 constant with its own buffer, named unique_tensor_name(name) (or
// names->unique(name)).
ir::TensorId add_float_constant(ir::Graph& graph, const std::string& name,
                                const std::vector<int64_t>& shape, const std::vector<float>& values);
ir::TensorId add_float_constant(ir::Graph& graph, TensorNames& names, const std::string& name,
                                const std::vector<int64_t>& shape, const std::vector<float>& values);

// True when `t` is a float32 constant (with a payload matching its shape).
bool is_float_constant(const ir::Tensor& t);

// The node's name for messages: "Conv 'layer1/conv'" (or "Conv #12" when unnamed).
std::string describe_node(const ir::Graph& graph, ir::NodeId id);

// The only consumer of `t`, or kNoNode when it has none or several, or is a graph output.
// `uses`: the graph, or an ir::UseIndex of it (the same answers; passes that ask per node
// keep an index).
template <class Uses>
ir::NodeId sole_consumer(const Uses& uses, ir::TensorId t) {
  if (uses.is_graph_output(t)) return ir::kNoNode;
  const auto& users = uses.consumers(t);
  return users.size() == 1 ? users[0] : ir::kNoNode;
}

// The value of a float32 constant of one element (any shape), or nullopt.
std::optional<double> scalar_value(const ir::Graph& graph, ir::TensorId t);

// The node that makes `t` when it is an `op` node with one output and no fused activation,
// `t` is plain float32 (not quantized), and `reader` is its only reader (any readers when
// `reader` is kNoNode). Sets *id to that node. The fusion passes walk chains back with it.
// Uses as for sole_consumer.
template <class Uses>
const ir::Node* sole_use_producer(const ir::Graph& graph, const Uses& uses, ir::TensorId t, ir::OpKind op,
                                  ir::NodeId reader, ir::NodeId* id) {
  if (t == ir::kNoTensor) return nullptr;
  const ir::Tensor& out = graph.tensor(t);
  if (out.dtype != ir::DType::kFloat32 || out.quant) return nullptr;
  if (reader != ir::kNoNode && sole_consumer(uses, t) != reader) return nullptr;
  *id = uses.producer(t);
  if (*id == ir::kNoNode) return nullptr;
  const ir::Node& n = graph.node(*id);
  if (n.op != op || n.outputs.size() != 1 || n.activation.kind != ActivationKind::kNone) return nullptr;
  return &n;
}
inline const ir::Node* sole_use_producer(const ir::Graph& graph, ir::TensorId t, ir::OpKind op, ir::NodeId reader,
                                         ir::NodeId* id) {
  return sole_use_producer(graph, graph, t, op, reader, id);
}

}  // namespace pare::passes
