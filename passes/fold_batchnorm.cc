// Folds an inference BatchNormalization into the Conv, ConvTranspose or Gemm that feeds
// it: BN(y) = y * s + t per channel, with s = scale / sqrt(var + eps) and
// t = bias - mean * s, so scaling the weights of each output channel by s and setting the
// bias to b * s + t gives the same values without the BN node. A BN that no producer takes
// (DenseNet's and pre-activation ResNets' BN after a Concat or an Add) becomes Mul(x, s) and
// Add(., t) with [C, 1, ...] constants: broadcasting ops, which the nhwc pass runs
// channels-last, where a BN would be transposed to NCHW and back around it.
#include <cmath>
#include <functional>
#include <optional>

#include "passes/canonical.h"
#include "passes/pass_util.h"

namespace pare::passes {

namespace {

struct ChannelAffine {
  std::vector<double> scale, shift;
};

// The per-channel map of a BatchNormalization whose parameters are float32 constants.
std::optional<ChannelAffine> bn_affine(const ir::Graph& graph, const ir::Node& bn) {
  if (bn.inputs.size() != 5 || bn.outputs.size() != 1) return std::nullopt;
  for (size_t i = 1; i < 5; ++i)
    if (bn.inputs[i] == ir::kNoTensor || !is_float_constant(graph.tensor(bn.inputs[i])))
      return std::nullopt;
  const ir::Tensor& scale = graph.tensor(bn.inputs[1]);
  const ir::Tensor& bias = graph.tensor(bn.inputs[2]);
  const ir::Tensor& mean = graph.tensor(bn.inputs[3]);
  const ir::Tensor& var = graph.tensor(bn.inputs[4]);
  const int64_t channels = scale.shape.num_elements();
  for (const ir::Tensor* t : {&bias, &mean, &var})
    if (t->shape.num_elements() != channels) return std::nullopt;
  const double eps = bn.attrs.get_float("epsilon", 1e-5f);
  ChannelAffine a;
  for (int64_t c = 0; c < channels; ++c) {
    double s = scale.values<float>()[c] / std::sqrt(static_cast<double>(var.values<float>()[c]) + eps);
    a.scale.push_back(s);
    a.shift.push_back(bias.values<float>()[c] - mean.values<float>()[c] * s);
  }
  return a;
}

// How a producer's weight elements and bias map to its output channels.
struct WeightLayout {
  std::function<int64_t(int64_t)> channel_of;  // weight element index -> output channel
  std::function<double(int64_t)> old_bias;     // the bias the node adds to a channel now
};

std::optional<WeightLayout> conv_layout(const ir::Graph& graph, const ir::Node& node,
                                        int64_t channels) {
  const std::vector<int64_t> w = graph.tensor(node.inputs[1]).shape.sizes();
  if (w.size() < 2) return std::nullopt;
  const int64_t numel = graph.tensor(node.inputs[1]).shape.num_elements();
  WeightLayout layout;
  if (node.op == ir::OpKind::kConv) {
    // [M, C/group, k...]: output channel is the leading index.
    if (w[0] != channels) return std::nullopt;
    const int64_t inner = numel / channels;
    layout.channel_of = [inner](int64_t i) { return i / inner; };
  } else {
    // [C, M/group, k...]: group g reads input channels [g*C/G, (g+1)*C/G) and writes
    // output channels [g*M/G, (g+1)*M/G).
    const int64_t group = node.attrs.get_int("group", 1);
    if (group < 1 || w[0] % group != 0 || w[1] * group != channels) return std::nullopt;
    const int64_t inner = numel / (w[0] * w[1]);
    const int64_t in_per_group = w[0] / group, out_per_group = w[1];
    layout.channel_of = [=](int64_t i) {
      const int64_t c = i / (out_per_group * inner), j = (i / inner) % out_per_group;
      return (c / in_per_group) * out_per_group + j;
    };
  }
  if (node.inputs.size() > 2 && node.inputs[2] != ir::kNoTensor) {
    const ir::Tensor& b = graph.tensor(node.inputs[2]);
    if (!is_float_constant(b) || b.shape.num_elements() != channels) return std::nullopt;
    const float* bias = b.values<float>();
    layout.old_bias = [bias](int64_t c) { return static_cast<double>(bias[c]); };
  } else {
    layout.old_bias = [](int64_t) { return 0.0; };
  }
  return layout;
}

std::optional<WeightLayout> gemm_layout(const ir::Graph& graph, const ir::Node& node,
                                        int64_t channels) {
  const std::vector<int64_t> b = graph.tensor(node.inputs[1]).shape.sizes();
  if (b.size() != 2) return std::nullopt;
  WeightLayout layout;
  if (node.attrs.get_int("transB", 0) != 0) {
    if (b[0] != channels) return std::nullopt;  // [N, K]
    const int64_t k = b[1];
    layout.channel_of = [k](int64_t i) { return i / k; };
  } else {
    if (b[1] != channels) return std::nullopt;  // [K, N]
    layout.channel_of = [channels](int64_t i) { return i % channels; };
  }
  const double beta = node.attrs.get_float("beta", 1.f);
  if (node.inputs.size() > 2 && node.inputs[2] != ir::kNoTensor) {
    // Only a bias that is the same for every row: a scalar, [N] or [1, N].
    const ir::Tensor& c = graph.tensor(node.inputs[2]);
    if (!is_float_constant(c)) return std::nullopt;
    const std::vector<int64_t> s = c.shape.sizes();
    const int64_t n = c.shape.num_elements();
    const bool per_channel = (s.size() == 1 && s[0] == channels) ||
                             (s.size() == 2 && s[0] == 1 && s[1] == channels);
    if (n != 1 && !per_channel) return std::nullopt;
    const float* bias = c.values<float>();
    layout.old_bias = [=](int64_t ch) { return beta * bias[n == 1 ? 0 : ch]; };
  } else {
    layout.old_bias = [](int64_t) { return 0.0; };
  }
  return layout;
}

// Folds BatchNormalization node `bn_id` into its producer; false when the pattern does not apply.
bool fold_one(ir::Graph& graph, ir::UseIndex& uses, TensorNames& names, ir::NodeId bn_id, PassContext& ctx) {
  const ir::Node& bn = graph.node(bn_id);
  if (bn.inputs.empty() || bn.inputs[0] == ir::kNoTensor) return false;
  const ir::TensorId x = bn.inputs[0];
  const ir::NodeId producer_id = uses.producer(x);
  if (producer_id == ir::kNoNode || sole_consumer(uses, x) != bn_id) return false;
  const ir::Node& producer = graph.node(producer_id);
  const bool is_conv = producer.op == ir::OpKind::kConv || producer.op == ir::OpKind::kConvTranspose;
  if (!is_conv && producer.op != ir::OpKind::kGemm) return false;
  // A fused activation sits between the producer's weights and the BN.
  if (producer.activation.kind != ActivationKind::kNone) return false;
  if (producer.outputs.size() != 1 || producer.inputs.size() < 2 || producer.inputs[1] == ir::kNoTensor)
    return false;
  const ir::Tensor& weight = graph.tensor(producer.inputs[1]);
  if (!is_float_constant(weight) || weight.quant) return false;

  std::optional<ChannelAffine> affine = bn_affine(graph, bn);
  if (!affine) return false;
  const int64_t channels = static_cast<int64_t>(affine->scale.size());
  std::optional<WeightLayout> layout =
      is_conv ? conv_layout(graph, producer, channels) : gemm_layout(graph, producer, channels);
  if (!layout) return false;

  const int64_t numel = weight.shape.num_elements();
  std::vector<float> new_weight(static_cast<size_t>(numel));
  for (int64_t i = 0; i < numel; ++i)
    new_weight[i] = static_cast<float>(weight.values<float>()[i] * affine->scale[layout->channel_of(i)]);
  std::vector<float> new_bias(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c)
    new_bias[c] = static_cast<float>(layout->old_bias(c) * affine->scale[c] + affine->shift[c]);

  const bool had_bias = producer.inputs.size() > 2 && producer.inputs[2] != ir::kNoTensor;
  const std::string bias_base =
      had_bias ? graph.tensor(producer.inputs[2]).name : weight.name + ".bias";
  const std::vector<int64_t> weight_shape = weight.shape.sizes();
  const std::string note = "BatchNormalization '" + bn.name + "' folded into " +
                           describe_node(graph, producer_id);
  // New tensors (never the shared buffers): other nodes may read the same weights.
  const ir::TensorId w_id = add_float_constant(graph, names, weight.name + ".bn_folded", weight_shape, new_weight);
  const ir::TensorId b_id = add_float_constant(graph, names, bias_base + ".bn_folded", {channels}, new_bias);

  uses.forget(graph, bn_id);
  uses.forget(graph, producer_id);
  ir::Node& p = graph.node(producer_id);
  const ir::TensorId y = graph.node(bn_id).outputs[0];
  p.inputs[1] = w_id;
  if (p.inputs.size() < 3) p.inputs.resize(3, ir::kNoTensor);
  p.inputs[2] = b_id;
  if (p.op == ir::OpKind::kGemm) p.attrs.set("beta", 1.0f);
  // The producer now writes the BN's output, keeping its name (it may be a graph output).
  p.outputs[0] = y;
  graph.remove_node(bn_id);
  uses.record(graph, producer_id);
  add_note(ctx, "fold_batchnorm", note);
  return true;
}

// The per-channel Mul and Add for a BN with constant parameters over float32 data of static
// rank >= 2 whose dim 1 is the channel count.
bool to_mul_add(ir::Graph& graph, ir::UseIndex& uses, TensorNames& names, ir::NodeId bn_id, PassContext& ctx) {
  const ir::Node& bn = graph.node(bn_id);
  if (bn.attrs.get_int("training_mode", 0) != 0 || bn.inputs.empty() || bn.inputs[0] == ir::kNoTensor) return false;
  std::optional<ChannelAffine> affine = bn_affine(graph, bn);
  if (!affine) return false;
  const ir::Tensor& x = graph.tensor(bn.inputs[0]);
  const int64_t channels = static_cast<int64_t>(affine->scale.size());
  if (x.dtype != ir::DType::kFloat32 || x.quant || !x.shape.rank_known || x.shape.rank() < 2 ||
      !x.shape.dims[1].is_known() || x.shape.dims[1].value != channels)
    return false;
  std::vector<int64_t> shape(x.shape.rank() - 1, 1);
  shape[0] = channels;
  const std::vector<float> scale(affine->scale.begin(), affine->scale.end());
  const std::vector<float> shift(affine->shift.begin(), affine->shift.end());
  const std::string name = bn.name.empty() ? std::string("batchnorm") : bn.name;
  const ir::TensorId s_id = add_float_constant(graph, names, name + ".scale", shape, scale);
  const ir::TensorId t_id = add_float_constant(graph, names, name + ".shift", shape, shift);
  ir::Tensor scaled;
  scaled.name = names.unique(name + ".scaled");
  scaled.dtype = ir::DType::kFloat32;
  scaled.shape = graph.tensor(graph.node(bn_id).inputs[0]).shape;
  const ir::TensorId scaled_id = graph.add_tensor(std::move(scaled));
  ir::Node mul;
  mul.op = ir::OpKind::kMul;
  mul.name = name + "/scale";
  mul.inputs = {graph.node(bn_id).inputs[0], s_id};
  mul.outputs = {scaled_id};
  // The BN node becomes the Add: it keeps its name and its output.
  uses.forget(graph, bn_id);
  ir::Node& add = graph.node(bn_id);
  add.op = ir::OpKind::kAdd;
  add.inputs = {scaled_id, t_id};
  add.attrs = ir::Attributes();
  uses.record(graph, bn_id);
  uses.record(graph, graph.add_node(std::move(mul)));
  add_note(ctx, "fold_batchnorm", "BatchNormalization '" + name + "' became a per-channel Mul and Add");
  return true;
}

}  // namespace

Status run_fold_batchnorm(ir::Graph& graph, const PassOptions&, PassContext& ctx) {
  size_t folded = 0, rewritten = 0;
  // Names, producers and readers read once and kept current: asking the graph per BN was
  // quadratic (and naming cubic) in the number of BNs.
  TensorNames names(graph);
  ir::UseIndex uses(graph);
  for (ir::NodeId id : graph.nodes()) {
    if (graph.node(id).op != ir::OpKind::kBatchNormalization) continue;
    if (fold_one(graph, uses, names, id, ctx))
      ++folded;
    else if (to_mul_add(graph, uses, names, id, ctx))
      ++rewritten;
  }
  add_note(ctx, "fold_batchnorm", "BatchNormalization nodes folded: " + std::to_string(folded));
  add_note(ctx, "fold_batchnorm", "BatchNormalization nodes as Mul and Add: " + std::to_string(rewritten));
  return Status::ok();
}

}  // namespace pare::passes
