// Fuses an elementwise activation into the Conv, ConvTranspose, Gemm or MatMul that
// feeds it: the producer applies it to its output in place (Node::activation), and the
// activation node goes away. Also turns the five-node decomposition of Gelu and the
// two-node one of HardSwish back into one node.
#include <cmath>
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

bool fuse_one(ir::Graph& graph, ir::UseIndex& uses, ir::NodeId act_id, PassContext& ctx) {
  const ir::Node& act = graph.node(act_id);
  if (act.inputs.empty() || act.inputs[0] == ir::kNoTensor || act.outputs.size() != 1) return false;
  std::optional<FusedActivation> fusable = as_activation(graph, act);
  if (!fusable) return false;
  const ir::TensorId x = act.inputs[0];
  const ir::NodeId producer_id = uses.producer(x);
  if (producer_id == ir::kNoNode || sole_consumer(uses, x) != act_id) return false;
  const ir::Node& producer = graph.node(producer_id);
  if (!can_carry_activation(producer.op) || producer.activation.kind != ActivationKind::kNone ||
      producer.outputs.size() != 1)
    return false;
  // Fused activations run on float outputs; a quantized output has its own rules.
  const ir::Tensor& out = graph.tensor(x);
  if (out.dtype != ir::DType::kFloat32 || out.quant) return false;

  std::string note = std::string(ir::op_name(act.op)) + " '" + act.name + "' fused into " +
                     describe_node(graph, producer_id);
  uses.forget(graph, act_id);
  uses.forget(graph, producer_id);
  ir::Node& p = graph.node(producer_id);
  p.activation = *fusable;
  // The producer writes the activation's output, so its name (maybe a graph output) stays.
  p.outputs[0] = graph.node(act_id).outputs[0];
  graph.remove_node(act_id);
  uses.record(graph, producer_id);
  add_note(ctx, "fuse_activation", std::move(note));
  return true;
}

// The gate of Mul(x, G(x)) at `mul_id` (either operand order): a `gate_op` node whose one
// input is the Mul's other operand x, plain float32, and whose output only the Mul reads,
// for which accept(x) holds. Sets *gate_id and *x; null when there is none.
template <class Accept>
const ir::Node* gate_of_own_input(const ir::Graph& graph, const ir::UseIndex& uses, ir::NodeId mul_id,
                                  ir::OpKind gate_op, ir::NodeId* gate_id, ir::TensorId* x, Accept accept) {
  const ir::Node& mul = graph.node(mul_id);
  if (mul.op != ir::OpKind::kMul || mul.inputs.size() != 2 || mul.outputs.size() != 1 ||
      mul.activation.kind != ActivationKind::kNone)
    return nullptr;
  for (size_t s = 0; s < 2; ++s) {
    const ir::TensorId gate = mul.inputs[s], in = mul.inputs[1 - s];
    if (gate == ir::kNoTensor || in == ir::kNoTensor || gate == in) continue;
    const ir::Node* g = sole_use_producer(graph, uses, gate, gate_op, mul_id, gate_id);
    if (!g || g->inputs.size() != 1 || g->inputs[0] != in) continue;
    const ir::Tensor& t = graph.tensor(in);
    if (t.dtype != ir::DType::kFloat32 || t.quant || !accept(*g, in)) continue;
    *x = in;
    return g;
  }
  return nullptr;
}

// SiLU as exporters write it, Mul(x, Sigmoid(x)) (either operand order), with x read by
// nothing else: the producer of x takes it as a Silu activation and both nodes go away.
// EfficientNet's and YOLO's activations: two full passes over the tensor each.
bool fuse_silu(ir::Graph& graph, ir::UseIndex& uses, ir::NodeId mul_id, PassContext& ctx) {
  ir::NodeId sigmoid_id, producer_id = ir::kNoNode;
  ir::TensorId x;
  const ir::Node* sigmoid = gate_of_own_input(
      graph, uses, mul_id, ir::OpKind::kSigmoid, &sigmoid_id, &x, [&](const ir::Node&, ir::TensorId in) {
        producer_id = uses.producer(in);
        if (producer_id == ir::kNoNode || uses.is_graph_output(in) || uses.consumers(in).size() != 2) return false;
        const ir::Node& producer = graph.node(producer_id);
        return can_carry_activation(producer.op) && producer.activation.kind == ActivationKind::kNone &&
               producer.outputs.size() == 1;
      });
  if (!sigmoid) return false;
  const ir::Node& mul = graph.node(mul_id);
  std::string note = "Sigmoid '" + sigmoid->name + "' and Mul '" + mul.name + "' fused into " +
                     describe_node(graph, producer_id) + " as Silu";
  for (ir::NodeId id : {sigmoid_id, mul_id, producer_id}) uses.forget(graph, id);
  ir::Node& p = graph.node(producer_id);
  p.activation = FusedActivation{ActivationKind::kSilu};
  p.outputs[0] = mul.outputs[0];
  graph.remove_node(sigmoid_id);
  graph.remove_node(mul_id);
  uses.record(graph, producer_id);
  add_note(ctx, "fuse_activation", std::move(note));
  return true;
}

// HardSwish as exporters before opset 14 write it (PyTorch's nn.Hardswish, MobileNetV3's
// activation): Mul(x, HardSigmoid(x)) (either operand order) with alpha 1/6 and beta 0.5,
// which is HardSwish's definition, the HardSigmoid read by nothing else. The Mul becomes one
// HardSwish node, which fuse_one then gives to x's producer when it can carry it: one pass
// over the tensor instead of two, or none. The vector kernels take the same float steps
// either way, so the values stay the same.
bool fuse_hard_swish(ir::Graph& graph, ir::UseIndex& uses, ir::NodeId mul_id, PassContext& ctx) {
  ir::NodeId gate_id;
  ir::TensorId x;
  const ir::Node* hs = gate_of_own_input(
      graph, uses, mul_id, ir::OpKind::kHardSigmoid, &gate_id, &x, [](const ir::Node& g, ir::TensorId) {
        return g.attrs.get_float("alpha", 0.2f) == 1.f / 6.f && g.attrs.get_float("beta", 0.5f) == 0.5f;
      });
  if (!hs) return false;
  std::string note = "HardSigmoid '" + hs->name + "' and Mul '" + graph.node(mul_id).name +
                     "' fused into one HardSwish";
  uses.forget(graph, gate_id);
  uses.forget(graph, mul_id);
  ir::Node& swish = graph.node(mul_id);
  swish.op = ir::OpKind::kHardSwish;
  swish.inputs = {x};
  swish.attrs = ir::Attributes();
  graph.remove_node(gate_id);
  uses.record(graph, mul_id);
  add_note(ctx, "fuse_activation", std::move(note));
  fuse_one(graph, uses, mul_id, ctx);
  return true;
}

bool near(double v, double want) { return std::fabs(v - want) <= 1e-6 * std::fabs(want); }

// For a binary node with a scalar constant `want` as one operand (`commutes`: either one):
// the other operand.
ir::TensorId operand_beside(const ir::Graph& graph, const ir::Node& n, double want, bool commutes) {
  if (n.inputs.size() != 2) return ir::kNoTensor;
  for (size_t c = commutes ? 0 : 1; c < 2; ++c) {
    const std::optional<double> v = scalar_value(graph, n.inputs[c]);
    if (v && near(*v, want) && !scalar_value(graph, n.inputs[1 - c])) return n.inputs[1 - c];
  }
  return ir::kNoTensor;
}

// The exact Gelu as exporters decompose it, 0.5 x (1 + Erf(x / sqrt 2)) in five nodes:
//   Mul(Mul(x, a), 0.5) or Mul(Mul(x, 0.5), a), with a = Add(Erf(Div(x, sqrt 2)), 1)
// (Mul(x, 1/sqrt 2) for the Div; any operand order), each intermediate read only by the
// next. The last Mul becomes one Gelu node: four full passes over the tensor fewer (a
// ViT's MLP spent 10% of the model in them).
bool fuse_gelu(ir::Graph& graph, ir::UseIndex& uses, ir::NodeId out_id, PassContext& ctx) {
  const ir::Node& out = graph.node(out_id);
  if (out.op != ir::OpKind::kMul || out.inputs.size() != 2 || out.outputs.size() != 1 ||
      out.activation.kind != ActivationKind::kNone)
    return false;
  // a = Add(Erf(x / sqrt 2), 1) read only by `reader`: the nodes that make it, or empty.
  auto one_plus_erf = [&](ir::TensorId a, ir::TensorId x, ir::NodeId reader) -> std::vector<ir::NodeId> {
    ir::NodeId add_id, erf_id, scale_id;
    const ir::Node* add = sole_use_producer(graph, uses, a, ir::OpKind::kAdd, reader, &add_id);
    if (!add) return {};
    const ir::Node* erf =
        sole_use_producer(graph, uses, operand_beside(graph, *add, 1.0, true), ir::OpKind::kErf, add_id, &erf_id);
    if (!erf || erf->inputs.size() != 1) return {};
    const ir::TensorId scaled = erf->inputs[0];
    if (const ir::Node* div = sole_use_producer(graph, uses, scaled, ir::OpKind::kDiv, erf_id, &scale_id)) {
      if (operand_beside(graph, *div, std::sqrt(2.0), false) == x) return {scale_id, erf_id, add_id};
    } else if (const ir::Node* mul = sole_use_producer(graph, uses, scaled, ir::OpKind::kMul, erf_id, &scale_id)) {
      if (operand_beside(graph, *mul, std::sqrt(0.5), true) == x) return {scale_id, erf_id, add_id};
    }
    return {};
  };
  for (size_t s = 0; s < 2; ++s) {
    ir::NodeId inner_id;
    const ir::Node* inner = sole_use_producer(graph, uses, out.inputs[s], ir::OpKind::kMul, out_id, &inner_id);
    if (!inner || inner->inputs.size() != 2) continue;
    ir::TensorId x = ir::kNoTensor;
    std::vector<ir::NodeId> chain;
    const std::optional<double> half = scalar_value(graph, out.inputs[1 - s]);
    if (half && near(*half, 0.5)) {
      // Mul(Mul(x, a), 0.5)
      for (size_t k = 0; k < 2 && chain.empty(); ++k) {
        x = inner->inputs[1 - k];
        chain = one_plus_erf(inner->inputs[k], x, inner_id);
      }
    } else {
      // Mul(Mul(x, 0.5), a)
      x = operand_beside(graph, *inner, 0.5, true);
      if (x != ir::kNoTensor) chain = one_plus_erf(out.inputs[1 - s], x, out_id);
    }
    if (chain.empty() || x == ir::kNoTensor || graph.tensor(x).dtype != ir::DType::kFloat32 || graph.tensor(x).quant)
      continue;
    std::string note = "the five nodes of an exact Gelu ending in Mul '" + out.name + "' fused into one Gelu";
    chain.push_back(inner_id);
    for (ir::NodeId id : chain) uses.forget(graph, id);
    uses.forget(graph, out_id);
    ir::Node& gelu = graph.node(out_id);
    gelu.op = ir::OpKind::kGelu;
    gelu.inputs = {x};
    gelu.attrs = ir::Attributes();
    gelu.attrs.set("approximate", std::string("none"));
    for (ir::NodeId id : chain) graph.remove_node(id);
    uses.record(graph, out_id);
    add_note(ctx, "fuse_activation", std::move(note));
    return true;
  }
  return false;
}

}  // namespace

Status run_fuse_activation(ir::Graph& graph, const PassOptions&, PassContext& ctx) {
  size_t fused = 0;
  // Producers and readers from an index that each fusion keeps current: scanning the graph
  // per candidate was quadratic (16,384 Conv + Relu pairs: 2.5 s of a 4 s conversion).
  ir::UseIndex uses(graph);
  for (ir::NodeId id : graph.nodes())
    if (graph.node_alive(id) && (fuse_gelu(graph, uses, id, ctx) || fuse_one(graph, uses, id, ctx) ||
                                 fuse_silu(graph, uses, id, ctx) || fuse_hard_swish(graph, uses, id, ctx)))
      ++fused;
  add_note(ctx, "fuse_activation", "activations fused: " + std::to_string(fused));
  return Status::ok();
}

}  // namespace pare::passes
