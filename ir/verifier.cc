#include "ir/verifier.h"

#include <string>
#include <vector>

#include "ir/op_table.h"
#include "ir/shape_inference.h"

namespace pare::ir {
namespace {

class Verifier {
 public:
  explicit Verifier(const Graph& g)
      : g_(g),
        producer_(g.tensor_capacity(), kNoNode),
        live_(g.tensor_capacity(), false),
        is_input_(g.tensor_capacity(), false) {}

  Status run() {
    if (Status s = check_graph_inputs(); !s) return s;
    // Ids are checked before sorting, which indexes by them.
    for (NodeId n : g_.nodes())
      if (Status s = check_node(n); !s) return s;
    std::vector<NodeId> order;
    try {
      order = g_.topological_order();
    } catch (const Error& e) {
      return e.status();
    }
    for (NodeId n : order)
      if (Status s = check_defined(n); !s) return s;
    if (Status s = check_graph_outputs(); !s) return s;
    for (size_t t = 0; t < live_.size(); ++t)
      if (live_[t])
        if (Status s = check_tensor(static_cast<TensorId>(t)); !s) return s;
    return check_inference(order);
  }

 private:
  static Status fail(const std::string& message) { return Status(Status::kInvalidInput, message); }
  std::string node_label(NodeId n) const {
    return "node '" + g_.node(n).name + "' (" + op_name(g_.node(n).op) + ")";
  }
  std::string tensor_label(TensorId t) const { return "tensor '" + g_.tensor(t).name + "'"; }
  bool valid_id(TensorId t) const { return t >= 0 && static_cast<size_t>(t) < g_.tensor_capacity(); }

  Status check_graph_inputs() {
    for (TensorId t : g_.inputs) {
      if (!valid_id(t)) return fail("graph input id " + std::to_string(t) + " does not exist");
      if (g_.tensor(t).is_constant()) return fail("graph input '" + g_.tensor(t).name + "' is a constant");
      if (is_input_[static_cast<size_t>(t)])
        return fail("graph input '" + g_.tensor(t).name + "' is listed twice");
      is_input_[static_cast<size_t>(t)] = true;
      live_[static_cast<size_t>(t)] = true;
    }
    return Status::ok();
  }

  // Arity, ids, activation and single production of one node's outputs.
  Status check_node(NodeId n) {
    const Node& node = g_.node(n);
    if (static_cast<int>(node.op) < 0 || node.op >= OpKind::kCount) return fail(node_label(n) + ": invalid op");
    const OpInfo& a = op_info(node.op);
    if (node.inputs.size() < a.min_inputs || node.inputs.size() > a.max_inputs)
      return fail(node_label(n) + ": has " + std::to_string(node.inputs.size()) + " inputs, expected " +
                  count_range(a.min_inputs, a.max_inputs));
    if (node.outputs.size() < a.min_outputs || node.outputs.size() > a.max_outputs)
      return fail(node_label(n) + ": has " + std::to_string(node.outputs.size()) + " outputs, expected " +
                  count_range(a.min_outputs, a.max_outputs));
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      TensorId t = node.inputs[i];
      if (t == kNoTensor && i < a.min_inputs)
        return fail(node_label(n) + ": required input " + std::to_string(i) + " is missing");
      if (t != kNoTensor && !valid_id(t))
        return fail(node_label(n) + ": input " + std::to_string(i) + " refers to tensor id " +
                    std::to_string(t) + ", which does not exist");
      if (t != kNoTensor) live_[static_cast<size_t>(t)] = true;
    }
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      TensorId t = node.outputs[i];
      if (!valid_id(t))
        return fail(node_label(n) + ": output " + std::to_string(i) + " refers to tensor id " +
                    std::to_string(t) + ", which does not exist");
      NodeId& p = producer_[static_cast<size_t>(t)];
      if (p != kNoNode)
        return fail(tensor_label(t) + " is produced by both " + node_label(p) + " and " + node_label(n));
      if (g_.tensor(t).is_constant())
        return fail(tensor_label(t) + " is a constant but also the output of " + node_label(n));
      if (is_input_[static_cast<size_t>(t)])
        return fail(tensor_label(t) + " is a graph input but also the output of " + node_label(n));
      p = n;
      live_[static_cast<size_t>(t)] = true;
    }
    if (node.activation.kind != ActivationKind::kNone && !a.has(kFusesActivation))
      return fail(node_label(n) + ": ops of this kind cannot carry a fused activation");
    return Status::ok();
  }

  Status check_defined(NodeId n) const {
    const Node& node = g_.node(n);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      TensorId t = node.inputs[i];
      if (t == kNoTensor) continue;
      if (producer_[static_cast<size_t>(t)] == kNoNode && !g_.tensor(t).is_constant() &&
          !is_input_[static_cast<size_t>(t)])
        return fail(node_label(n) + ": input " + std::to_string(i) + " '" + g_.tensor(t).name +
                    "' is not defined (not a graph input, a constant or a node output)");
    }
    return Status::ok();
  }

  Status check_graph_outputs() {
    for (TensorId t : g_.outputs) {
      if (!valid_id(t)) return fail("graph output id " + std::to_string(t) + " does not exist");
      if (producer_[static_cast<size_t>(t)] == kNoNode && !g_.tensor(t).is_constant() &&
          !is_input_[static_cast<size_t>(t)])
        return fail("graph output '" + g_.tensor(t).name +
                    "' is not produced by any node and is not a constant");
      live_[static_cast<size_t>(t)] = true;
    }
    return Status::ok();
  }

  Status check_tensor(TensorId id) const {
    const Tensor& t = g_.tensor(id);
    if (t.dtype == DType::kUndefined || dtype_size(t.dtype) == 0)
      return fail(tensor_label(id) + " has no dtype");
    if (!t.shape.is_static()) return fail(tensor_label(id) + " has no static shape (" + t.shape.str() + ")");
    const std::optional<int64_t> count = checked_element_count(t.shape.sizes());
    if (!count) return fail(tensor_label(id) + " has too many elements " + t.shape.str());
    const int64_t elements = *count;
    if (t.is_constant()) {
      size_t expected = static_cast<size_t>(elements) * dtype_size(t.dtype);
      if (t.data->bytes.size() != expected)
        return fail("constant '" + t.name + "' holds " + std::to_string(t.data->bytes.size()) + " bytes; " +
                    dtype_name(t.dtype) + " " + t.shape.str() + " needs " + std::to_string(expected));
    }
    if (t.quant) {
      const QuantParams& q = *t.quant;
      size_t channels = 1;
      if (q.axis >= 0) {
        if (static_cast<size_t>(q.axis) >= t.shape.rank())
          return fail(tensor_label(id) + ": quantization axis " + std::to_string(q.axis) +
                      " is out of range for " + t.shape.str());
        channels = static_cast<size_t>(t.shape.dims[static_cast<size_t>(q.axis)].value);
      }
      if (q.scales.size() != channels)
        return fail(tensor_label(id) + ": quantization has " + std::to_string(q.scales.size()) +
                    " scales, expected " + std::to_string(channels));
      if (!q.zero_points.empty() && q.zero_points.size() != q.scales.size())
        return fail(tensor_label(id) + ": quantization has " + std::to_string(q.zero_points.size()) +
                    " zero points for " + std::to_string(q.scales.size()) + " scales");
    }
    return Status::ok();
  }

  // Re-runs shape inference on a copy and compares with the recorded dtypes and shapes.
  Status check_inference(const std::vector<NodeId>& order) const {
    Graph copy = g_;
    for (NodeId n : order) {
      try {
        infer_node(copy, n);
      } catch (const Error& e) {
        return Status(e.code(), std::string("shape inference fails: ") + e.what());
      }
      const Node& node = g_.node(n);
      for (size_t i = 0; i < node.outputs.size(); ++i) {
        const Tensor& recorded = g_.tensor(node.outputs[i]);
        const Tensor& inferred = copy.tensor(node.outputs[i]);
        if (recorded.dtype != inferred.dtype || recorded.shape != inferred.shape)
          return fail(node_label(n) + ": output '" + recorded.name + "' is " + dtype_name(recorded.dtype) +
                      " " + recorded.shape.str() + " but shape inference gives " +
                      dtype_name(inferred.dtype) + " " + inferred.shape.str());
      }
    }
    return Status::ok();
  }

  const Graph& g_;
  std::vector<NodeId> producer_;
  std::vector<bool> live_;
  std::vector<bool> is_input_;
};

}  // namespace

Status verify(const Graph& graph) {
  try {
    return Verifier(graph).run();
  } catch (const Error& e) {
    return e.status();
  }
}

}  // namespace pare::ir
