// Removes nodes that pass their first input through unchanged: Identity, Cast to the
// type it already has, Reshape/Flatten/Squeeze/Unsqueeze whose output shape is the input
// shape, and Pad by zero on every side (torch exports AvgPool2d with one: a full copy of the
// tensor before each of DenseNet's transition pools).
#include <vector>

#include "passes/canonical.h"
#include "passes/pass_util.h"

namespace pare::passes {

namespace {

// Equal shapes, where an unknown dim only equals a dim of the same (named) symbol.
bool same_shape(const ir::Shape& a, const ir::Shape& b) {
  if (!a.rank_known || !b.rank_known || a.rank() != b.rank()) return false;
  for (size_t i = 0; i < a.rank(); ++i) {
    const ir::Dim& da = a.dims[i];
    if (!(da == b.dims[i]) || (!da.is_known() && da.symbol.empty())) return false;
  }
  return true;
}

// A Pad whose pads (input 1, or the attribute of older opsets) are all zero.
bool pads_nothing(const ir::Graph& graph, const ir::Node& node) {
  std::vector<int64_t> pads;
  if (node.inputs.size() > 1 && node.inputs[1] != ir::kNoTensor) {
    const ir::Tensor& t = graph.tensor(node.inputs[1]);
    if (!t.is_constant()) return false;
    pads = t.int_values();
  } else if (node.attrs.has("pads")) {
    pads = node.attrs.get_ints("pads");
  }
  for (int64_t p : pads)
    if (p != 0) return false;
  return true;
}

bool is_pass_through(const ir::Graph& graph, const ir::Node& node) {
  if (node.inputs.empty() || node.inputs[0] == ir::kNoTensor || node.outputs.size() != 1) return false;
  const ir::Tensor& in = graph.tensor(node.inputs[0]);
  const ir::Tensor& out = graph.tensor(node.outputs[0]);
  // A change of quantization is a requantization, not a pass-through.
  if (in.quant || out.quant || in.dtype != out.dtype) return false;
  switch (node.op) {
    case ir::OpKind::kIdentity: return true;
    case ir::OpKind::kCast: return node.attrs.get_int("to", 0) == static_cast<int64_t>(in.dtype);
    case ir::OpKind::kReshape:
    case ir::OpKind::kFlatten:
    case ir::OpKind::kSqueeze:
    case ir::OpKind::kUnsqueeze: return same_shape(in.shape, out.shape);
    case ir::OpKind::kPad: return pads_nothing(graph, node) && same_shape(in.shape, out.shape);
    default: return false;
  }
}

// Rewrites node n's reads of `from` to `to`, keeping the index current.
void rewire_reader(ir::Graph& graph, ir::UseIndex& uses, ir::NodeId n, ir::TensorId from, ir::TensorId to) {
  uses.forget(graph, n);
  for (ir::TensorId& in : graph.node(n).inputs)
    if (in == from) in = to;
  uses.record(graph, n);
}

bool remove_one(ir::Graph& graph, ir::UseIndex& uses, ir::NodeId id) {
  const ir::Node& node = graph.node(id);
  if (!is_pass_through(graph, node)) return false;
  const ir::TensorId x = node.inputs[0], y = node.outputs[0];
  if (!uses.is_graph_output(y)) {
    const std::vector<ir::NodeId> readers = uses.consumers(y);
    uses.forget(graph, id);
    graph.remove_node(id);
    for (ir::NodeId r : readers) rewire_reader(graph, uses, r, y, x);
    return true;
  }
  // y names a graph output: x's producer must write y instead. A graph input or a
  // constant has no producer, and a graph output x must keep its own name: the node stays.
  const ir::NodeId producer_id = uses.producer(x);
  if (producer_id == ir::kNoNode || uses.is_graph_output(x)) return false;
  uses.forget(graph, id);
  graph.remove_node(id);
  const std::vector<ir::NodeId> readers = uses.consumers(x);
  uses.forget(graph, producer_id);
  for (ir::TensorId& o : graph.node(producer_id).outputs)
    if (o == x) o = y;
  uses.record(graph, producer_id);
  for (ir::NodeId r : readers) rewire_reader(graph, uses, r, x, y);
  return true;
}

}  // namespace

Status run_remove_identity(ir::Graph& graph, const PassOptions&, PassContext& ctx) {
  size_t removed = 0;
  ir::UseIndex uses(graph);  // kept current through each removal: a scan per node was quadratic
  for (ir::NodeId id : graph.nodes())
    if (remove_one(graph, uses, id)) ++removed;
  add_note(ctx, "remove_identity", "pass-through nodes removed: " + std::to_string(removed));
  return Status::ok();
}

}  // namespace pare::passes
