// Turns layer normalization as exporters before ONNX opset 17 decompose it back into one
// LayerNormalization node:
//   mean = ReduceMean(x, trailing axes); d = Sub(x, mean)
//   var = ReduceMean(Pow(d, 2) or Mul(d, d), the same axes)
//   y = Div(d, Sqrt(Add(var, eps))) [Mul(y, gamma)] [Add(y, beta)]
// with gamma and beta constants over the normalized dims and every intermediate read only by
// the next node. The decomposition reads and writes the tensor nine times (ConvNeXt spent a
// quarter of its time in the Pow alone); the fused node reads it twice and writes it once.
#include <algorithm>
#include <cmath>
#include <optional>

#include "passes/canonical.h"
#include "passes/pass_util.h"

namespace pare::passes {

namespace {

bool plain_float(const ir::Graph& graph, ir::TensorId t) {
  if (t == ir::kNoTensor) return false;
  const ir::Tensor& x = graph.tensor(t);
  return x.dtype == ir::DType::kFloat32 && !x.quant && x.shape.rank_known;
}

// The producer of `t` as sole_use_producer finds it, when `t` also has a known rank.
const ir::Node* producer_of(const ir::Graph& graph, const ir::UseIndex& uses, ir::TensorId t, ir::OpKind op,
                            ir::NodeId reader, ir::NodeId* id) {
  return plain_float(graph, t) ? sole_use_producer(graph, uses, t, op, reader, id) : nullptr;
}

// The first normalized axis of a ReduceMean with keepdims over the trailing axes of its
// rank-`rank` input, or nullopt.
std::optional<int64_t> trailing_reduction(const ir::Graph& graph, const ir::Node& reduce, size_t rank) {
  if (reduce.inputs.empty() || reduce.attrs.get_int("keepdims", 1) == 0) return std::nullopt;
  std::vector<int64_t> axes;
  if (reduce.inputs.size() > 1 && reduce.inputs[1] != ir::kNoTensor) {
    const ir::Tensor& a = graph.tensor(reduce.inputs[1]);
    if (!a.is_constant()) return std::nullopt;
    axes = a.int_values();
  }
  const int64_t r = static_cast<int64_t>(rank);
  if (axes.empty()) {
    if (reduce.attrs.get_int("noop_with_empty_axes", 0) != 0 || r == 0) return std::nullopt;
    return 0;  // all axes
  }
  for (int64_t& a : axes) {
    if (a < -r || a >= r) return std::nullopt;
    if (a < 0) a += r;
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end() || axes.back() != r - 1 ||
      axes.front() != r - static_cast<int64_t>(axes.size()))
    return std::nullopt;
  return axes.front();
}

// `c` (a float constant) broadcast to `normalized` when it varies only along those dims (its
// shape right-aligned to the input's rank), or nullopt.
std::optional<std::vector<float>> over_normalized_dims(const ir::Tensor& c, const std::vector<int64_t>& normalized,
                                                       size_t rank) {
  if (!is_float_constant(c) || !c.shape.is_static() || c.shape.rank() > rank) return std::nullopt;
  const std::vector<int64_t> cs = c.shape.sizes();
  const size_t lead = rank - normalized.size();
  std::vector<int64_t> aligned(rank - cs.size(), 1);
  aligned.insert(aligned.end(), cs.begin(), cs.end());
  for (size_t i = 0; i < rank; ++i) {
    if (i < lead ? aligned[i] != 1 : aligned[i] != 1 && aligned[i] != normalized[i - lead]) return std::nullopt;
  }
  int64_t count = 1;
  for (int64_t d : normalized) count *= d;
  const std::vector<double> v = c.float_values();
  std::vector<float> out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    // Index into c: each normalized coordinate, or 0 where c has 1.
    int64_t rest = i, src = 0, stride = 1;
    for (size_t k = normalized.size(); k-- > 0;) {
      const int64_t coord = rest % normalized[k];
      rest /= normalized[k];
      const int64_t size = aligned[lead + k];
      src += (size == 1 ? 0 : coord) * stride;
      stride *= size;
    }
    out[static_cast<size_t>(i)] = static_cast<float>(v[static_cast<size_t>(src)]);
  }
  return out;
}

// The other operand of a binary node whose operand `known` is one of its inputs.
ir::TensorId other_operand(const ir::Node& n, ir::TensorId known) {
  if (n.inputs.size() != 2) return ir::kNoTensor;
  if (n.inputs[0] == known) return n.inputs[1];
  if (n.inputs[1] == known) return n.inputs[0];
  return ir::kNoTensor;
}

// Matches the decomposition whose Div is `div_id` and rewrites it, keeping `uses` current.
// Returns whether it did.
bool fuse_at(ir::Graph& graph, ir::UseIndex& uses, TensorNames& names, ir::NodeId div_id, PassContext& ctx) {
  const ir::Node& div = graph.node(div_id);
  if (div.op != ir::OpKind::kDiv || div.inputs.size() != 2 || div.outputs.size() != 1 ||
      div.activation.kind != ActivationKind::kNone || !plain_float(graph, div.outputs[0]))
    return false;
  const ir::TensorId d = div.inputs[0];
  ir::NodeId sqrt_id, add_id, var_id, square_id, sub_id, mean_id;
  const ir::Node* sqrt = producer_of(graph, uses, div.inputs[1], ir::OpKind::kSqrt, div_id, &sqrt_id);
  if (!sqrt || sqrt->inputs.size() != 1) return false;
  const ir::Node* add = producer_of(graph, uses, sqrt->inputs[0], ir::OpKind::kAdd, sqrt_id, &add_id);
  if (!add || add->inputs.size() != 2) return false;
  // Add(var, eps) in either order.
  size_t var_slot = 0;
  std::optional<double> eps = scalar_value(graph, add->inputs[1]);
  if (!eps) {
    eps = scalar_value(graph, add->inputs[0]);
    var_slot = 1;
  }
  if (!eps || !(*eps >= 0) || !std::isfinite(*eps)) return false;
  const ir::Node* var = producer_of(graph, uses, add->inputs[var_slot], ir::OpKind::kReduceMean, add_id, &var_id);
  if (!var) return false;
  const ir::TensorId squared = var->inputs[0];
  const ir::Node* square = producer_of(graph, uses, squared, ir::OpKind::kPow, var_id, &square_id);
  if (square) {
    const std::optional<double> two = square->inputs.size() == 2 ? scalar_value(graph, square->inputs[1]) : std::nullopt;
    if (square->inputs[0] != d || !two || *two != 2.0) return false;
  } else {
    square = producer_of(graph, uses, squared, ir::OpKind::kMul, var_id, &square_id);
    if (!square || square->inputs.size() != 2 || square->inputs[0] != d || square->inputs[1] != d) return false;
  }
  // d is read by the square and the Div only.
  const std::vector<ir::NodeId>& d_readers = uses.consumers(d);
  if (uses.is_graph_output(d) || d_readers.size() != 2 ||
      !(std::count(d_readers.begin(), d_readers.end(), div_id) == 1 &&
        std::count(d_readers.begin(), d_readers.end(), square_id) == 1))
    return false;
  const ir::Node* sub = producer_of(graph, uses, d, ir::OpKind::kSub, ir::kNoNode, &sub_id);
  if (!sub || sub->inputs.size() != 2) return false;
  const ir::TensorId x = sub->inputs[0];
  const ir::Node* mean = producer_of(graph, uses, sub->inputs[1], ir::OpKind::kReduceMean, sub_id, &mean_id);
  if (!mean || mean->inputs[0] != x || !plain_float(graph, x)) return false;

  // Shapes: x's normalized dims must be known; the reductions agree on the axes.
  const ir::Shape& xs = graph.tensor(x).shape;
  const size_t rank = xs.rank();
  const std::optional<int64_t> axis = trailing_reduction(graph, *mean, rank);
  if (!axis || trailing_reduction(graph, *var, rank) != axis) return false;
  // Scale and B are materialized over the normalized dims: at most 2^24 values.
  std::vector<int64_t> normalized;
  int64_t count = 1;
  for (size_t i = static_cast<size_t>(*axis); i < rank; ++i) {
    if (!xs.dims[i].is_known() || xs.dims[i].value == 0 || xs.dims[i].value > (int64_t{1} << 24) / count)
      return false;
    normalized.push_back(xs.dims[i].value);
    count *= xs.dims[i].value;
  }
  if (graph.tensor(div.outputs[0]).shape != xs) return false;

  // The optional affine tail: Mul by gamma, then Add of beta, each over the normalized dims.
  std::vector<ir::NodeId> chain = {mean_id, sub_id, square_id, var_id, add_id, sqrt_id, div_id};
  ir::NodeId last_id = div_id;
  std::vector<float> gamma, beta;
  ir::TensorId gamma_src = ir::kNoTensor, beta_src = ir::kNoTensor;
  auto affine = [&](ir::OpKind op, std::vector<float>& values, ir::TensorId& src) {
    const ir::TensorId y = graph.node(last_id).outputs[0];
    const ir::NodeId reader = sole_consumer(uses, y);
    if (reader == ir::kNoNode) return;
    const ir::Node& n = graph.node(reader);
    if (n.op != op || n.outputs.size() != 1 || n.activation.kind != ActivationKind::kNone ||
        !plain_float(graph, n.outputs[0]) || graph.tensor(n.outputs[0]).shape != xs)
      return;
    const ir::TensorId c = other_operand(n, y);
    if (c == ir::kNoTensor || c == y) return;
    std::optional<std::vector<float>> v = over_normalized_dims(graph.tensor(c), normalized, rank);
    if (!v) return;
    values = std::move(*v);
    src = c;
    chain.push_back(reader);
    last_id = reader;
  };
  affine(ir::OpKind::kMul, gamma, gamma_src);
  affine(ir::OpKind::kAdd, beta, beta_src);

  // Scale and B as the kernel takes them: shaped as the normalized dims.
  auto operand = [&](ir::TensorId src, const std::vector<float>& values, const char* suffix) {
    if (src != ir::kNoTensor && graph.tensor(src).shape.sizes() == normalized) return src;
    const std::string base = graph.node(last_id).name.empty() ? std::string("layernorm") : graph.node(last_id).name;
    return add_float_constant(graph, names, base + suffix, normalized, values);
  };
  if (gamma_src == ir::kNoTensor) gamma.assign(static_cast<size_t>(count), 1.f);
  const ir::TensorId scale = operand(gamma_src, gamma, "/scale");
  const ir::TensorId bias = beta_src == ir::kNoTensor ? ir::kNoTensor : operand(beta_src, beta, "/bias");

  std::string note = "the " + std::to_string(chain.size()) + " nodes of a layer normalization ending in " +
                     describe_node(graph, last_id) + " fused into one LayerNormalization";
  // The last node becomes the LayerNormalization: it keeps its place, name and output.
  for (ir::NodeId id : chain) uses.forget(graph, id);
  ir::Node& ln = graph.node(last_id);
  ln.op = ir::OpKind::kLayerNormalization;
  ln.inputs = {x, scale};
  if (bias != ir::kNoTensor) ln.inputs.push_back(bias);
  ln.attrs = ir::Attributes();
  ln.attrs.set("axis", *axis);
  ln.attrs.set("epsilon", static_cast<float>(*eps));
  for (ir::NodeId id : chain)
    if (id != last_id) graph.remove_node(id);
  uses.record(graph, last_id);
  add_note(ctx, "fuse_layernorm", std::move(note));
  return true;
}

}  // namespace

Status run_fuse_layernorm(ir::Graph& graph, const PassOptions&, PassContext& ctx) {
  size_t fused = 0;
  // Producers, readers and names from indexes that each fusion keeps current: the graph's
  // own queries scan every node, quadratic over thousands of normalizations.
  ir::UseIndex uses(graph);
  TensorNames names(graph);
  for (ir::NodeId id : graph.nodes())
    if (graph.node_alive(id) && fuse_at(graph, uses, names, id, ctx)) ++fused;
  add_note(ctx, "fuse_layernorm", "layer normalizations fused: " + std::to_string(fused));
  return Status::ok();
}

}  // namespace pare::passes
