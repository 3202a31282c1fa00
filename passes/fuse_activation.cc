// Fuses an elementwise activation into the Conv, ConvTranspose, Gemm or MatMul that
// feeds it: the producer applies it to its output in place (Node::activation), and the
// activation node goes away.
#include <limits>
#include <optional>

#include "ir/op_table.h"
#include "passes/canonical.h"
#include "passes/pass_util.h"

namespace pare::passes {

namespace {

// Clip's bound at input `index`: absent means unbounded; a non-scalar or non-constant
// bound cannot be fused.
std::optional<float> clip_bound(const ir::Graph& graph, const ir::Node& clip, size_t index,
                                float unbounded) {
  if (clip.inputs.size() <= index || clip.inputs[index] == ir::kNoTensor) return unbounded;
  const ir::Tensor& t = graph.tensor(clip.inputs[index]);
  if (!t.is_constant() || !t.shape.is_static() || t.shape.num_elements() != 1) return std::nullopt;
  std::vector<double> v = t.float_values();
  if (v.size() != 1) return std::nullopt;
  return static_cast<float>(v[0]);
}

std::optional<FusedActivation> as_activation(const ir::Graph& graph, const ir::Node& node) {
  switch (node.op) {
    case ir::OpKind::kRelu: return FusedActivation{ActivationKind::kRelu};
    case ir::OpKind::kSigmoid: return FusedActivation{ActivationKind::kSigmoid};
    case ir::OpKind::kHardSwish: return FusedActivation{ActivationKind::kHardSwish};
    case ir::OpKind::kHardSigmoid:
      return FusedActivation{ActivationKind::kHardSigmoid, node.attrs.get_float("alpha", 0.2f),
                             node.attrs.get_float("beta", 0.5f)};
    case ir::OpKind::kLeakyRelu:
      return FusedActivation{ActivationKind::kLeakyRelu, node.attrs.get_float("alpha", 0.01f)};
    case ir::OpKind::kClip: {
      const float inf = std::numeric_limits<float>::infinity();
      std::optional<float> lo = clip_bound(graph, node, 1, -inf);
      std::optional<float> hi = clip_bound(graph, node, 2, inf);
      if (!lo || !hi) return std::nullopt;
      return FusedActivation{ActivationKind::kClip, *lo, *hi};
    }
    default: return std::nullopt;
  }
}

bool can_carry_activation(ir::OpKind op) { return ir::op_info(op).has(ir::kFusesActivation); }

bool fuse_one(ir::Graph& graph, ir::NodeId act_id, PassContext& ctx) {
  const ir::Node& act = graph.node(act_id);
  if (act.inputs.empty() || act.inputs[0] == ir::kNoTensor || act.outputs.size() != 1) return false;
  std::optional<FusedActivation> fusable = as_activation(graph, act);
  if (!fusable) return false;
  const ir::TensorId x = act.inputs[0];
  const ir::NodeId producer_id = graph.producer(x);
  if (producer_id == ir::kNoNode || sole_consumer(graph, x) != act_id) return false;
  const ir::Node& producer = graph.node(producer_id);
  if (!can_carry_activation(producer.op) || producer.activation.kind != ActivationKind::kNone ||
      producer.outputs.size() != 1)
    return false;
  // Fused activations run on float outputs; a quantized output has its own rules.
  const ir::Tensor& out = graph.tensor(x);
  if (out.dtype != ir::DType::kFloat32 || out.quant) return false;

  std::string note = std::string(ir::op_name(act.op)) + " '" + act.name + "' fused into " +
                     describe_node(graph, producer_id);
  ir::Node& p = graph.node(producer_id);
  p.activation = *fusable;
  // The producer writes the activation's output, so its name (maybe a graph output) stays.
  p.outputs[0] = graph.node(act_id).outputs[0];
  graph.remove_node(act_id);
  add_note(ctx, "fuse_activation", std::move(note));
  return true;
}

// SiLU as exporters write it, Mul(x, Sigmoid(x)) (either operand order), with x read by
// nothing else: the producer of x takes it as a Silu activation and both nodes go away.
// EfficientNet's and YOLO's activations: two full passes over the tensor each.
bool fuse_silu(ir::Graph& graph, ir::NodeId mul_id, PassContext& ctx) {
  const ir::Node& mul = graph.node(mul_id);
  if (mul.op != ir::OpKind::kMul || mul.inputs.size() != 2 || mul.outputs.size() != 1 ||
      mul.activation.kind != ActivationKind::kNone)
    return false;
  for (size_t s = 0; s < 2; ++s) {
    const ir::TensorId sigmoid_out = mul.inputs[s], x = mul.inputs[1 - s];
    if (sigmoid_out == ir::kNoTensor || x == ir::kNoTensor || sigmoid_out == x) continue;
    const ir::NodeId sigmoid_id = graph.producer(sigmoid_out);
    if (sigmoid_id == ir::kNoNode || sole_consumer(graph, sigmoid_out) != mul_id) continue;
    const ir::Node& sigmoid = graph.node(sigmoid_id);
    if (sigmoid.op != ir::OpKind::kSigmoid || sigmoid.inputs.size() != 1 || sigmoid.inputs[0] != x ||
        sigmoid.outputs.size() != 1)
      continue;
    const ir::NodeId producer_id = graph.producer(x);
    if (producer_id == ir::kNoNode || graph.is_graph_output(x) || graph.consumers(x).size() != 2) continue;
    const ir::Node& producer = graph.node(producer_id);
    if (!can_carry_activation(producer.op) || producer.activation.kind != ActivationKind::kNone ||
        producer.outputs.size() != 1)
      continue;
    const ir::Tensor& out = graph.tensor(x);
    if (out.dtype != ir::DType::kFloat32 || out.quant) continue;

    std::string note = "Sigmoid '" + sigmoid.name + "' and Mul '" + mul.name + "' fused into " +
                       describe_node(graph, producer_id) + " as Silu";
    ir::Node& p = graph.node(producer_id);
    p.activation = FusedActivation{ActivationKind::kSilu};
    p.outputs[0] = mul.outputs[0];
    graph.remove_node(sigmoid_id);
    graph.remove_node(mul_id);
    add_note(ctx, "fuse_activation", std::move(note));
    return true;
  }
  return false;
}

}  // namespace

Status run_fuse_activation(ir::Graph& graph, const PassOptions&, PassContext& ctx) {
  size_t fused = 0;
  for (ir::NodeId id : graph.nodes())
    if (fuse_one(graph, id, ctx) || fuse_silu(graph, id, ctx)) ++fused;
  add_note(ctx, "fuse_activation", "activations fused: " + std::to_string(fused));
  return Status::ok();
}

}  // namespace pare::passes
