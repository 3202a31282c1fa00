// quantize: int8 post-training quantization with calibration (docs/quantization.md).
//
// 1. Choose the int8 nodes: Conv, Gemm and MatMul with constant weights (a MatMul and its
//    bias Add first become one Gemm), then, grown from them, the pools, data movement,
//    elementwise tables (Relu, Clip, Sigmoid, HardSigmoid, HardSwish, and Gelu when only
//    int8 layers read it) and Add/Mul whose data inputs all come from int8 nodes. Softmax,
//    LayerNorm and everything excluded stay float32.
// 2. Unfuse activations the requantization clamp cannot express (HardSwish, Sigmoid, ...)
//    from int8 Conv/Gemm/MatMul into their own node, which runs as a table.
// 3. Calibrate: run the float graph on the runtime over the calibration samples, one
//    streaming observer per tensor that becomes 8-bit.
// 4. Rewrite: weights int8 symmetric per output channel, bias int32, activations 8-bit per
//    tensor; QuantizeLinear / DequantizeLinear where int8 meets float.
// 5. Report: per int8 layer its output's scale, zero point and SQNR against the float graph
//    on the calibration samples.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "calibration/observer.h"
#include "ir/op_table.h"
#include "ir/shape_inference.h"
#include "ir/status.h"
#include "passes/canonical.h"
#include "passes/graph_runner.h"
#include "passes/pass_util.h"
#include "runtime/kernels/quant/requant.h"

namespace pare::passes {
namespace {

using ir::DType;
using ir::Int8Class;
using ir::NodeId;
using ir::OpKind;
using ir::TensorId;

struct Options {
  std::string calib;
  bool signed_activations = false;
  bool per_channel = true;
  std::set<std::string> exclude;
  bool int8_constants = true;
  bool bias_correction = false;
};

Options read_options(const PassOptions& options) {
  Options o;
  o.calib = options.get("calib", "mse");
  const std::string act = options.get("activations", "u8");
  if (act != "u8" && act != "s8") throw_invalid("quantize: activations must be u8 or s8, not '" + act + "'");
  o.signed_activations = act == "s8";
  const std::string w = options.get("weights", "per_channel");
  if (w != "per_channel" && w != "per_tensor")
    throw_invalid("quantize: weights must be per_channel or per_tensor, not '" + w + "'");
  o.per_channel = w == "per_channel";
  const std::string bc = options.get("bias_correction", "off");
  if (bc != "on" && bc != "off") throw_invalid("quantize: bias_correction must be on or off, not '" + bc + "'");
  o.bias_correction = bc == "on";
  const std::string c = options.get("constants", "int8");
  if (c != "int8" && c != "float") throw_invalid("quantize: constants must be int8 or float, not '" + c + "'");
  o.int8_constants = c == "int8";
  o.exclude = name_list_option(options, "exclude");
  return o;
}

bool is_float_activation(const ir::Graph& g, TensorId t) {
  return t != ir::kNoTensor && !g.tensor(t).is_constant() && g.tensor(t).dtype == DType::kFloat32;
}

// Conv/Gemm/MatMul the int8 kernels take: float data, constant float weights (and bias).
bool is_weighted_candidate(const ir::Graph& g, const ir::Node& n) {
  if (ir::op_info(n.op).int8 != Int8Class::kWeighted) return false;
  if (n.inputs.size() < 2 || n.inputs[1] == ir::kNoTensor || !is_float_activation(g, n.inputs[0]) || !is_float_constant(g.tensor(n.inputs[1])))
    return false;
  const bool has_bias = n.inputs.size() > 2 && n.inputs[2] != ir::kNoTensor;
  if (has_bias && !is_float_constant(g.tensor(n.inputs[2]))) return false;
  switch (n.op) {
    case OpKind::kConv:
      return g.tensor(n.inputs[1]).shape.rank() == 4;
    case OpKind::kGemm: {
      if (n.attrs.get_int("transA", 0) != 0 || n.attrs.get_float("alpha", 1.f) != 1.f ||
          n.attrs.get_float("beta", 1.f) != 1.f)
        return false;
      if (!has_bias) return true;
      const std::vector<int64_t> c = g.tensor(n.inputs[2]).shape.sizes();
      const std::vector<int64_t> b = g.tensor(n.inputs[1]).shape.sizes();
      const int64_t cols = n.attrs.get_int("transB", 0) ? b[0] : b[1];
      return (c.size() == 1 && c[0] == cols) || (c.size() == 2 && c[0] == 1 && c[1] == cols);
    }
    case OpKind::kMatMul:
      return g.tensor(n.inputs[1]).shape.rank() == 2 && g.tensor(n.inputs[0]).shape.rank() >= 2;
    default:
      return false;
  }
}

// Ops that run in int8 when their data inputs come from int8 nodes.
bool is_follower(OpKind op) {
  const Int8Class c = ir::op_info(op).int8;
  return c == Int8Class::kCopy || c == Int8Class::kRequantize || c == Int8Class::kRequantizeAll;
}

// Outputs that must keep their input's quantization (the kernels copy bytes).
bool keeps_input_quantization(OpKind op) { return ir::op_info(op).int8 == Int8Class::kCopy; }

// Inputs of a follower that carry data (the others must be constants: shapes, Clip bounds).
std::vector<size_t> data_inputs(OpKind op, size_t count) {
  if (ir::op_info(op).int8 != Int8Class::kRequantizeAll) return {0};
  std::vector<size_t> all(count);
  for (size_t i = 0; i < count; ++i) all[i] = i;
  return all;
}

// True when the int8 output clamp applies the activation itself (none, Relu, Clip).
bool int8_clamp_expresses(ActivationKind a) {
  return a == ActivationKind::kNone || a == ActivationKind::kRelu || a == ActivationKind::kClip;
}

// Moves a fused activation the int8 clamp cannot express into its own node after `id`.
void unfuse_activation(ir::Graph& g, NodeId id) {
  ir::Node& n = g.node(id);
  ir::Tensor pre = g.tensor(n.outputs[0]);
  pre.name = unique_tensor_name(g, pre.name + "/preact");
  const TensorId pre_id = g.add_tensor(pre);
  ir::Node act;
  act.name = n.name + "/activation";
  act.inputs = {pre_id};
  act.outputs = {n.outputs[0]};
  switch (n.activation.kind) {
    case ActivationKind::kSigmoid: act.op = OpKind::kSigmoid; break;
    case ActivationKind::kHardSwish: act.op = OpKind::kHardSwish; break;
    case ActivationKind::kHardSigmoid:
      act.op = OpKind::kHardSigmoid;
      act.attrs.set("alpha", n.activation.p0);
      act.attrs.set("beta", n.activation.p1);
      break;
    case ActivationKind::kLeakyRelu:
      act.op = OpKind::kLeakyRelu;
      act.attrs.set("alpha", n.activation.p0);
      break;
    case ActivationKind::kSilu: {
      // x * Sigmoid(x), as the source graph had it.
      ir::Tensor s = pre;
      s.name = unique_tensor_name(g, g.tensor(n.outputs[0]).name + "/sigmoid");
      const TensorId s_id = g.add_tensor(s);
      act.op = OpKind::kSigmoid;
      act.name = n.name + "/activation/Sigmoid";
      act.outputs = {s_id};
      ir::Node mul;
      mul.op = OpKind::kMul;
      mul.name = n.name + "/activation/Mul";
      mul.inputs = {pre_id, s_id};
      mul.outputs = {n.outputs[0]};
      n.outputs[0] = pre_id;
      n.activation = FusedActivation{};
      g.add_node(std::move(act));
      g.add_node(std::move(mul));
      return;
    }
    default: throw_internal("quantize: cannot unfuse this activation");
  }
  n.outputs[0] = pre_id;
  n.activation = FusedActivation{};
  g.add_node(std::move(act));
}

// Whether every reader of `t` is a layer `weighted` accepts, directly or through ops that
// move bytes (and are not excluded).
template <typename Weighted>
bool read_by_layers_only(const ir::Graph& g, TensorId t, const std::set<std::string>& exclude, const Weighted& weighted) {
  const std::vector<NodeId> readers = g.consumers(t);
  if (readers.empty() || g.is_graph_output(t)) return false;
  for (NodeId r : readers) {
    const ir::Node& n = g.node(r);
    if (weighted(r)) continue;
    if (!keeps_input_quantization(n.op) || n.outputs.size() != 1 || exclude.count(n.name) ||
        !read_by_layers_only(g, n.outputs[0], exclude, weighted))
      return false;
  }
  return true;
}

// MatMul(x, W) + b with constant W [K, N] and b of N values (a Linear layer as exporters
// write it) becomes Reshape(x -> [M, K]), Gemm(., W, b), Reshape(-> x's leading dims, N),
// the last writing the Add's output. The int8 MatMul has no bias input: its output was
// quantized before the bias, dequantized, and the bias added in float. As an int8 Gemm the
// bias is int32 in the accumulator and the output stays 8-bit for the next int8 node (a
// transformer MLP's Gelu, as a table, then its second layer). Only MatMuls the int8 kernels
// take, with a static x; the reshapes are views. Returns how many were rewritten.
size_t matmul_bias_to_gemm(ir::Graph& g, const std::set<std::string>& exclude) {
  size_t rewritten = 0;
  for (NodeId id : g.nodes()) {
    const ir::Node& mm = g.node(id);
    if (mm.op != OpKind::kMatMul || exclude.count(mm.name) || mm.activation.kind != ActivationKind::kNone ||
        !is_weighted_candidate(g, mm))
      continue;
    const TensorId x = mm.inputs[0], w = mm.inputs[1], product = mm.outputs[0];
    const ir::Shape& xs = g.tensor(x).shape;
    const std::vector<int64_t> ws = g.tensor(w).shape.sizes();
    if (!xs.is_static() || xs.rank() < 2 || !g.tensor(product).shape.is_static()) continue;
    const NodeId add_id = sole_consumer(g, product);
    if (add_id == ir::kNoNode || exclude.count(g.node(add_id).name)) continue;
    const ir::Node& add = g.node(add_id);
    if (add.op != OpKind::kAdd || add.inputs.size() != 2 || add.activation.kind != ActivationKind::kNone) continue;
    const TensorId b = add.inputs[0] == product ? add.inputs[1] : add.inputs[0];
    if (b == product || !is_float_constant(g.tensor(b)) || !(g.tensor(add.outputs[0]).shape == g.tensor(product).shape))
      continue;
    const std::vector<int64_t> bs = g.tensor(b).shape.sizes();
    if (bs.empty() || bs.back() != ws[1] || g.tensor(b).shape.num_elements() != ws[1]) continue;
    // Only where the output can stay 8-bit: read by another int8 layer, or by a Gelu that
    // only int8 layers read. Elsewhere (a residual Add, attention in float) it would be
    // dequantized anyway, and the int32 bias and the reshapes cost more file than the float
    // Add costs time.
    auto candidate = [&](NodeId r) { return !exclude.count(g.node(r).name) && is_weighted_candidate(g, g.node(r)); };
    const NodeId reader = sole_consumer(g, add.outputs[0]);
    if (reader == ir::kNoNode) continue;
    const ir::Node& next = g.node(reader);
    const bool gelu_table = next.op == OpKind::kGelu && !exclude.count(next.name) &&
                            read_by_layers_only(g, next.outputs[0], exclude, candidate);
    if (!gelu_table && !candidate(reader)) continue;

    // Copies first: adding tensors and nodes moves the graph's storage.
    const std::vector<int64_t> out_dims = g.tensor(product).shape.sizes();
    const int64_t k = ws[0], n = ws[1], m = xs.num_elements() / k;
    const size_t x_rank = xs.rank();
    const std::string name = mm.name, x_name = g.tensor(x).name, product_name = g.tensor(product).name;
    const TensorId add_out = add.outputs[0];
    const std::vector<double> bias_values = g.tensor(b).float_values();
    auto float_tensor = [&](const std::string& base, const std::vector<int64_t>& dims) {
      ir::Tensor t;
      t.name = unique_tensor_name(g, base);
      t.dtype = DType::kFloat32;
      t.shape = ir::Shape(dims);
      return g.add_tensor(std::move(t));
    };
    auto reshape = [&](const std::string& node_name, TensorId in, TensorId out, const std::vector<int64_t>& dims) {
      ir::Node r;
      r.op = OpKind::kReshape;
      r.name = node_name;
      r.inputs = {in, ir::add_constant<int64_t>(g, unique_tensor_name(g, node_name + "/shape"), DType::kInt64,
                                                {static_cast<int64_t>(dims.size())}, dims)};
      r.outputs = {out};
      g.add_node(std::move(r));
    };
    g.remove_node(id);
    g.remove_node(add_id);
    const TensorId rows = x_rank == 2 ? x : float_tensor(x_name + "/rows", {m, k});
    const TensorId gemm_out = out_dims.size() == 2 ? add_out : float_tensor(product_name + "/rows", {m, n});
    if (rows != x) reshape(name + "/rows", x, rows, {m, k});
    ir::Node gemm;
    gemm.op = OpKind::kGemm;
    gemm.name = name;
    gemm.inputs = {rows, w, add_float_constant(g, product_name + "/bias", {n},
                                                std::vector<float>(bias_values.begin(), bias_values.end()))};
    gemm.outputs = {gemm_out};
    g.add_node(std::move(gemm));
    if (gemm_out != add_out) reshape(name + "/unrows", gemm_out, add_out, out_dims);
    ++rewritten;
  }
  return rewritten;
}

struct QParams {
  float scale = 1.f;
  int64_t zero_point = 0;
};

std::string dtype_label(bool is_signed) { return is_signed ? "int8" : "uint8"; }

// Symmetric int8 weights with one scale per slice along `axis` (or one for all).
struct QuantizedWeight {
  std::vector<int8_t> values;
  std::vector<float> scales;
};

QuantizedWeight quantize_weight(const ir::Tensor& w, int axis, bool per_channel) {
  const std::vector<int64_t> dims = w.shape.sizes();
  const float* v = w.values<float>();
  const int64_t total = w.shape.num_elements();
  int64_t channels = 1, inner = 1;
  for (int i = axis; i < static_cast<int>(dims.size()); ++i) {
    if (i == axis) channels = dims[i];
    else inner *= dims[i];
  }
  auto channel_of = [&](int64_t i) { return per_channel ? (i / inner) % channels : 0; };
  QuantizedWeight q;
  std::vector<float> max_abs(per_channel ? channels : 1, 0.f);
  for (int64_t i = 0; i < total; ++i) {
    if (!std::isfinite(v[i])) throw_invalid("weight '" + w.name + "' holds a non-finite value");
    float& m = max_abs[channel_of(i)];
    m = std::max(m, std::fabs(v[i]));
  }
  for (float m : max_abs) q.scales.push_back(m > 0 ? m / 127.f : 1.f);
  q.values.resize(total);
  for (int64_t i = 0; i < total; ++i) {
    const float r = std::nearbyint(v[i] / q.scales[channel_of(i)]);
    q.values[i] = static_cast<int8_t>(std::max(-127.f, std::min(127.f, r)));
  }
  return q;
}

class Quantizer {
 public:
  Quantizer(ir::Graph& g, const Options& o, PassContext& ctx) : g_(g), o_(o), ctx_(ctx) {}

  // Chooses the int8 nodes and unfuses the activations they cannot clamp (the graph stays
  // float and computes the same values).
  void prepare() {
    if (!ctx_.calibration || ctx_.calibration->size() == 0)
      throw_invalid("quantize needs calibration data (pare compress --calib FILE)");
    if (const size_t linear = matmul_bias_to_gemm(g_, o_.exclude))
      add_note(ctx_, "quantize", "MatMul + bias Add as one Gemm: " + std::to_string(linear));
    choose_nodes();
    for (NodeId id : weighted_)
      if (!int8_clamp_expresses(g_.node(id).activation.kind)) unfuse_activation(g_, id);
    choose_followers();  // takes in the new activation nodes
  }

  // Calibrates on the float graph, then rewrites it to int8.
  void quantize() {
    if (int8_.empty()) return;
    names_.emplace(g_);
    for (NodeId id : g_.nodes())
      for (TensorId t : g_.node(id).outputs) producer_[t] = id;
    calibrate();
    rewrite();
    quantize_float_constants();
  }

 private:
  void choose_nodes() {
    for (NodeId id : g_.topological_order()) {
      const ir::Node& n = g_.node(id);
      if (o_.exclude.count(n.name)) continue;
      if (is_weighted_candidate(g_, n)) {
        weighted_.insert(id);
        int8_.insert(id);
      }
    }
    choose_followers();
  }

  void choose_followers() {
    const ir::UseIndex uses(g_);
    for (NodeId id : g_.topological_order()) {
      const ir::Node& n = g_.node(id);
      if (int8_.count(id) || o_.exclude.count(n.name) || !is_follower(n.op)) continue;
      if (n.outputs.size() != 1 || g_.tensor(n.outputs[0]).dtype != DType::kFloat32) continue;
      bool ok = true;
      const std::vector<size_t> data = data_inputs(n.op, n.inputs.size());
      for (size_t i = 0; i < n.inputs.size() && ok; ++i) {
        const TensorId t = n.inputs[i];
        if (t == ir::kNoTensor) continue;
        const bool is_data = std::find(data.begin(), data.end(), i) != data.end();
        if (is_data) {
          const NodeId p = uses.producer(t);
          ok = is_float_activation(g_, t) && p != ir::kNoNode && int8_.count(p);
        } else {
          ok = g_.tensor(t).is_constant();
        }
      }
      // Add/Mul with a broadcast operand are fine; a fused activation on them is a clamp only.
      if (ok && (n.op == OpKind::kAdd || n.op == OpKind::kMul)) ok = int8_clamp_expresses(n.activation.kind);
      // Gelu as a table quantizes its output: only where an int8 layer reads it anyway (a
      // transformer MLP), never in front of float ops that had its float output.
      if (ok && n.op == OpKind::kGelu) ok = feeds_weighted_only(n.outputs[0]);
      // Resize moves bytes only in nearest mode.
      if (ok && n.op == OpKind::kResize) ok = n.attrs.get_string("mode", "nearest") == "nearest" &&
                                                n.attrs.get_string("coordinate_transformation_mode", "") !=
                                                    "tf_crop_and_resize";
      // Concat copies bytes, so its inputs take its output's quantization: each must be an
      // output of its own (read by this Concat only, made by a node whose output is free to
      // take any quantization).
      if (ok && n.op == OpKind::kConcat)
        for (TensorId t : n.inputs) {
          const NodeId p = uses.producer(t);
          ok = ok && uses.consumers(t).size() == 1 && !uses.is_graph_output(t) && !keeps_input_quantization(g_.node(p).op) &&
               g_.node(p).op != OpKind::kConcat;
        }
      if (ok) int8_.insert(id);
    }
  }

  // Whether every reader of `t` is an int8 Conv/Gemm/MatMul, directly or through ops that
  // move bytes.
  bool feeds_weighted_only(TensorId t) const {
    return read_by_layers_only(g_, t, o_.exclude, [&](NodeId r) { return weighted_.count(r) != 0; });
  }

  // Every float tensor that becomes 8-bit: inputs and outputs of int8 nodes.
  std::vector<TensorId> quantized_tensors() const {
    std::set<TensorId> set;
    for (NodeId id : int8_) {
      const ir::Node& n = g_.node(id);
      const std::vector<size_t> data =
          weighted_.count(id) ? std::vector<size_t>{0} : data_inputs(n.op, n.inputs.size());
      for (size_t i : data)
        if (i < n.inputs.size() && is_float_activation(g_, n.inputs[i])) set.insert(n.inputs[i]);
      set.insert(n.outputs[0]);
    }
    return {set.begin(), set.end()};
  }

  // The quantization of every tensor from ctx.activation_quant; false when one is missing.
  bool take_cached() {
    if (!ctx_.activation_quant || o_.bias_correction) return false;
    for (TensorId t : tensors_)
      if (!ctx_.activation_quant->count(g_.tensor(t).name)) return false;
    for (TensorId t : tensors_) {
      const ActivationQuant& a = ctx_.activation_quant->at(g_.tensor(t).name);
      params_[t] = QParams{a.scale, a.zero_point};
    }
    return true;
  }

  void calibrate() {
    tensors_ = quantized_tensors();
    if (!take_cached()) observe();
    // Concat's inputs take its output's quantization (its kernel copies bytes).
    for (NodeId id : int8_)
      if (g_.node(id).op == OpKind::kConcat)
        for (TensorId t : g_.node(id).inputs) params_[t] = params_.at(g_.node(id).outputs[0]);
    // Byte-copying ops keep their input's quantization, in graph order so chains agree.
    for (NodeId id : g_.topological_order())
      if (int8_.count(id) && keeps_input_quantization(g_.node(id).op))
        params_[g_.node(id).outputs[0]] = params_.at(g_.node(id).inputs[0]);
  }

  // Runs the float graph over the calibration samples, one observer per tensor.
  void observe() {
    std::vector<std::unique_ptr<calib::Observer>> observers;
    for (TensorId t : tensors_) observers.push_back(calib::make_observer(o_.calib, g_.tensor(t).name));
    // Bias correction needs the mean of each input channel of the weighted nodes.
    std::vector<int> channel_axis(tensors_.size(), -1);
    if (o_.bias_correction)
      for (NodeId id : weighted_) {
        const ir::Node& n = g_.node(id);
        const auto it = std::find(tensors_.begin(), tensors_.end(), n.inputs[0]);
        if (it == tensors_.end()) continue;
        const int rank = static_cast<int>(g_.tensor(n.inputs[0]).shape.rank());
        const bool nchw = n.op == OpKind::kConv && n.attrs.get_string("layout", "") != "NHWC";
        channel_axis[static_cast<size_t>(it - tensors_.begin())] = nchw ? 1 : rank - 1;
      }
    GraphRunner runner(g_, tensors_);
    const size_t samples = ctx_.calibration->size();
    for (size_t s = 0; s < samples; ++s) {
      feed(runner, s);
      runner.run();
      for (size_t k = 0; k < tensors_.size(); ++k) {
        const auto* v = static_cast<const float*>(runner.watched(k));
        const auto count = static_cast<size_t>(g_.tensor(tensors_[k]).shape.num_elements());
        observers[k]->observe(v, count);
        if (channel_axis[k] >= 0) accumulate_channel_sums(tensors_[k], channel_axis[k], v, count);
      }
      if (ctx_.progress) ctx_.progress("calibrating", static_cast<double>(s + 1) / samples);
    }
    for (size_t k = 0; k < tensors_.size(); ++k) {
      const calib::Range r = observers[k]->range(/*symmetric=*/false, 256);
      const calib::QuantParams p = calib::choose_quant_params(r, o_.signed_activations, false);
      params_[tensors_[k]] = QParams{p.scale, p.zero_point};
      if (ctx_.activation_quant) (*ctx_.activation_quant)[g_.tensor(tensors_[k]).name] = {p.scale, p.zero_point};
    }
  }

  void accumulate_channel_sums(TensorId t, int axis, const float* v, size_t count) {
    const std::vector<int64_t> dims = g_.tensor(t).shape.sizes();
    const auto channels = static_cast<size_t>(dims[static_cast<size_t>(axis)]);
    size_t inner = 1;
    for (size_t d = static_cast<size_t>(axis) + 1; d < dims.size(); ++d) inner *= static_cast<size_t>(dims[d]);
    ChannelSums& cs = channel_sums_[t];
    cs.sum.resize(channels, 0.0);
    for (size_t i = 0; i < count; ++i) cs.sum[(i / inner) % channels] += v[i];
    cs.count += count / channels;
  }

  void feed(GraphRunner& runner, size_t sample) { runner.feed(*ctx_.calibration, sample); }

  DType act_dtype() const { return o_.signed_activations ? DType::kInt8 : DType::kUInt8; }

  // The 8-bit twin of float tensor t (created on first use).
  TensorId q8(TensorId t) {
    auto it = twin_.find(t);
    if (it != twin_.end()) return it->second;
    ir::Tensor q = g_.tensor(t);
    q.name = names_->unique(q.name + "/q8");
    q.dtype = act_dtype();
    q.data = nullptr;
    const QParams& p = params_.at(t);
    q.quant = QuantParams{{p.scale}, {p.zero_point}, -1};
    const TensorId id = g_.add_tensor(std::move(q));
    twin_[t] = id;
    float_of_[id] = t;
    return id;
  }

  bool made_by_int8(TensorId t) const {
    auto it = producer_.find(t);
    return it != producer_.end() && int8_.count(it->second) != 0;
  }

  void rewrite() {
    const std::vector<NodeId> order = g_.topological_order();
    // Outputs of int8 nodes move to their 8-bit twins; data inputs read twins, made by a
    // QuantizeLinear where the producer is float (or the tensor is a graph input).
    for (NodeId id : order) {
      if (!int8_.count(id)) continue;
      const std::vector<size_t> data =
          weighted_.count(id) ? std::vector<size_t>{0} : data_inputs(g_.node(id).op, g_.node(id).inputs.size());
      for (size_t i : data) {
        if (i >= g_.node(id).inputs.size()) continue;
        const TensorId in = g_.node(id).inputs[i];
        if (!is_float_activation(g_, in)) continue;
        const TensorId qi = q8(in);
        if (!made_by_int8(in) && !quantized_.count(in)) add_quantize(in, qi);
        g_.node(id).inputs[i] = qi;
      }
      if (weighted_.count(id)) quantize_weights(id);
      const TensorId out = g_.node(id).outputs[0];
      g_.node(id).outputs[0] = q8(out);
    }
    // The float tensor of an int8 output stays for float consumers and graph outputs, fed
    // by a DequantizeLinear. The Dequantize nodes added meanwhile read only 8-bit twins, so
    // one index answers for every f.
    const ir::UseIndex uses(g_);
    for (NodeId id : order) {
      if (!int8_.count(id)) continue;
      const TensorId q = g_.node(id).outputs[0];
      const TensorId f = float_of(q);
      if (f == ir::kNoTensor || (!uses.is_graph_output(f) && uses.consumers(f).empty())) continue;
      ir::Node dq;
      dq.op = OpKind::kDequantizeLinear;
      dq.name = g_.node(id).name + "/dequantize";
      dq.inputs = {q};  // short form: q's quantization holds scale and zero point
      dq.outputs = {f};
      g_.add_node(std::move(dq));
    }
  }

  // Float constants of 128 elements or more that float ops read (a transformer's position
  // embedding, the biases of MatMul + Add, LayerNorm's scale) are stored as int8, one
  // symmetric scale per tensor, and dequantized by a DequantizeLinear as the model runs.
  void quantize_float_constants() {
    if (!o_.int8_constants) return;
    std::map<TensorId, TensorId> done;
    for (NodeId id : g_.topological_order()) {
      ir::Node& n = g_.node(id);
      if (int8_.count(id)) continue;
      if (!ir::op_info(n.op).has(ir::kInt8Constants)) continue;
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        const TensorId t = n.inputs[i];
        if (t == ir::kNoTensor || !is_float_constant(g_.tensor(t)) || g_.tensor(t).shape.num_elements() < 128)
          continue;
        auto it = done.find(t);
        if (it == done.end()) {
          const ir::Tensor& f = g_.tensor(t);
          QuantizedWeight qw = quantize_weight(f, 0, /*per_channel=*/false);
          ir::Tensor q;
          q.name = names_->unique(f.name + "/int8");
          q.dtype = DType::kInt8;
          q.shape = f.shape;
          auto buf = std::make_shared<ir::Buffer>();
          buf->bytes.assign(reinterpret_cast<const uint8_t*>(qw.values.data()),
                            reinterpret_cast<const uint8_t*>(qw.values.data()) + qw.values.size());
          q.data = buf;
          q.quant = QuantParams{qw.scales, {0}, -1};
          const TensorId q_id = g_.add_tensor(std::move(q));
          ir::Tensor out;
          out.name = names_->unique(f.name + "/dequantized");
          out.dtype = DType::kFloat32;
          out.shape = f.shape;
          const TensorId out_id = g_.add_tensor(std::move(out));
          ir::Node dq;
          dq.op = OpKind::kDequantizeLinear;
          dq.name = f.name + "/dequantize";
          dq.inputs = {q_id};
          dq.outputs = {out_id};
          g_.add_node(std::move(dq));
          it = done.emplace(t, out_id).first;
        }
        n.inputs[i] = it->second;
      }
    }
  }

  void add_quantize(TensorId f, TensorId q) {
    quantized_.insert(f);
    ir::Node qn;
    qn.op = OpKind::kQuantizeLinear;
    auto p = producer_.find(f);
    qn.name = (p == producer_.end() ? g_.tensor(f).name : g_.node(p->second).name) + "/quantize";
    qn.inputs = {f};  // short form: q's quantization holds scale and zero point
    qn.outputs = {q};
    g_.add_node(std::move(qn));
  }

  // Weight axis of the output channel: Conv [Cout, ...] 0; Gemm transB [N, K] 0, else [K, N] 1;
  // MatMul [K, N] 1.
  int weight_axis(const ir::Node& n) const {
    if (n.op == OpKind::kConv) return 0;
    if (n.op == OpKind::kGemm) return n.attrs.get_int("transB", 0) ? 0 : 1;
    return 1;
  }

  void quantize_weights(NodeId id) {
    ir::Node& n = g_.node(id);
    const ir::Tensor& w = g_.tensor(n.inputs[1]);
    const int axis = weight_axis(n);
    QuantizedWeight qw = quantize_weight(w, axis, o_.per_channel);
    const size_t channels = static_cast<size_t>(w.shape.sizes()[static_cast<size_t>(axis)]);
    const std::vector<double> correction = bias_correction(n, w, qw, axis, channels);
    const float sx = g_.tensor(n.inputs[0]).quant->scales.at(0);  // the input's 8-bit twin
    check_requantizable(n, w.name, sx, qw.scales, params_.at(n.outputs[0]).scale);
    ir::Tensor wt;
    wt.name = names_->unique(w.name + "/int8");
    wt.dtype = DType::kInt8;
    wt.shape = w.shape;
    auto buf = std::make_shared<ir::Buffer>();
    buf->bytes.assign(reinterpret_cast<const uint8_t*>(qw.values.data()),
                      reinterpret_cast<const uint8_t*>(qw.values.data()) + qw.values.size());
    wt.data = buf;
    wt.quant = QuantParams{qw.scales, std::vector<int64_t>(qw.scales.size(), 0), o_.per_channel ? axis : -1};
    const TensorId w_id = g_.add_tensor(std::move(wt));
    std::vector<float> bias_scales(channels);
    for (size_t c = 0; c < channels; ++c) bias_scales[c] = sx * qw.scales[o_.per_channel ? c : 0];
    TensorId b_id = ir::kNoTensor;
    const bool has_bias = (n.inputs.size() > 2 && n.inputs[2] != ir::kNoTensor) || !correction.empty();
    if (has_bias) {
      const bool given = n.inputs.size() > 2 && n.inputs[2] != ir::kNoTensor;
      const float* bv = given ? g_.tensor(n.inputs[2]).values<float>() : nullptr;
      const std::string name = given ? g_.tensor(n.inputs[2]).name : n.name + "/bias";
      std::vector<int32_t> q(channels);
      for (size_t c = 0; c < channels; ++c) {
        const double real = (bv ? static_cast<double>(bv[c]) : 0.0) + (correction.empty() ? 0.0 : correction[c]);
        const double r = std::nearbyint(real / bias_scales[c]);
        q[c] = static_cast<int32_t>(std::max(-2147483647.0, std::min(2147483647.0, r)));
      }
      // Its scale is implied (s_x * s_w[c]) and not stored: per-channel scales would cost as
      // much again as the bias itself.
      b_id = ir::add_constant<int32_t>(g_, names_->unique(name + "/int32"), DType::kInt32,
                                       {static_cast<int64_t>(channels)}, q);
    }
    n.inputs[1] = w_id;
    if (has_bias) {
      if (n.inputs.size() < 3) n.inputs.resize(3, ir::kNoTensor);
      n.inputs[2] = b_id;
    }
  }

  // The runtime requantizes each output channel by (s_x * s_w) / s_y in float, as a 31-bit
  // multiplier and a shift: that needs a finite scale below 2^30. Weights far larger than
  // what the calibrated output spans (1e12 times) or near the float limit give more; such a
  // layer cannot run in int8, and the user can keep it float.
  static void check_requantizable(const ir::Node& n, const std::string& weight, float sx, const std::vector<float>& sw,
                                  float sy) {
    for (size_t c = 0; c < sw.size(); ++c) {
      const float real = rt::kernels::weight_requant_scale(sx, sw[c], sy);
      rt::kernels::Requant unused;
      if (!rt::kernels::requant_from_scale(static_cast<double>(real), &unused))
        throw_invalid("layer '" + n.name + "' (" + std::string(ir::op_name(n.op)) + ") cannot run in int8: weight '" +
                      weight + "'" + (sw.size() > 1 ? " channel " + std::to_string(c) : std::string()) +
                      " needs a requantization scale of " + std::to_string(static_cast<double>(real)) +
                      " (input scale x weight scale / output scale; at most 2^30). Keep it float: quantize(exclude=" +
                      n.name + ")");
    }
  }

  // Empirical bias correction: the expected shift of each output channel that rounding the
  // weights causes, sum_k (w - w_q) * E[x_k] with E[x_k] the calibration mean of input
  // channel k, moved into the bias. Empty when off or when the input's means are unknown.
  std::vector<double> bias_correction(const ir::Node& n, const ir::Tensor& w, const QuantizedWeight& qw, int axis,
                                      size_t channels) const {
    if (!o_.bias_correction || n.op == OpKind::kMatMul) return {};  // MatMul has no bias input
    const auto it = channel_sums_.find(float_of(n.inputs[0]));
    if (it == channel_sums_.end() || it->second.count == 0) return {};
    std::vector<double> mean(it->second.sum.size());
    for (size_t k = 0; k < mean.size(); ++k) mean[k] = it->second.sum[k] / static_cast<double>(it->second.count);
    const std::vector<int64_t> dims = w.shape.sizes();
    const float* wv = w.values<float>();
    const auto total = static_cast<size_t>(w.shape.num_elements());
    std::vector<double> delta(channels, 0.0);
    for (size_t i = 0; i < total; ++i) {
      size_t out = 0, in = 0;
      if (n.op == OpKind::kConv) {  // [Cout, Cin/group, kh, kw]
        const size_t per_out = total / channels, cin_g = static_cast<size_t>(dims[1]);
        const size_t group_size = channels / static_cast<size_t>(n.attrs.get_int("group", 1));
        out = i / per_out;
        in = out / group_size * cin_g + i % per_out / (per_out / cin_g);
      } else if (axis == 0) {  // Gemm transB: [N, K]
        out = i / static_cast<size_t>(dims[1]);
        in = i % static_cast<size_t>(dims[1]);
      } else {  // [K, N]
        out = i % static_cast<size_t>(dims[1]);
        in = i / static_cast<size_t>(dims[1]);
      }
      if (in >= mean.size()) return {};
      const double wq = static_cast<double>(qw.values[i]) * qw.scales[o_.per_channel ? out : 0];
      delta[out] += (static_cast<double>(wv[i]) - wq) * mean[in];
    }
    return delta;
  }

 public:
  const std::set<NodeId>& int8_nodes() const { return int8_; }
  // The float tensor whose 8-bit twin is q (kNoTensor for none).
  TensorId float_of(TensorId q) const {
    const auto it = float_of_.find(q);
    return it == float_of_.end() ? ir::kNoTensor : it->second;
  }

 private:
  ir::Graph& g_;
  std::optional<TensorNames> names_;  // from quantize() on, every tensor added is named here
  const Options& o_;
  PassContext& ctx_;
  std::set<NodeId> weighted_, int8_;
  std::vector<TensorId> tensors_;
  std::map<TensorId, QParams> params_;
  std::map<TensorId, TensorId> twin_;  // float tensor -> its 8-bit twin
  std::map<TensorId, TensorId> float_of_;  // and back (a search of twin_ per node was quadratic)
  std::set<TensorId> quantized_;       // float tensors a QuantizeLinear reads
  std::map<TensorId, NodeId> producer_;  // before the rewrite
  struct ChannelSums {
    std::vector<double> sum;
    size_t count = 0;  // values per channel
  };
  std::map<TensorId, ChannelSums> channel_sums_;  // inputs of weighted nodes (bias correction)
};

double sqnr_db(double signal, double noise) {
  if (noise == 0) return std::numeric_limits<double>::infinity();
  if (signal == 0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

// Fills the pass report: one entry per int8 layer output with a float twin, its quantization,
// and with `float_graph` (the graph before quantize) the SQNR of the int8 graph's output
// against the float graph's on the calibration samples, both run side by side; NaN without.
void report_layers(const ir::Graph* float_graph, const ir::Graph& int8_graph, const Quantizer& q,
                   PassContext& ctx) {
  std::vector<TensorId> float_ids, int8_ids;
  std::vector<NodeId> nodes;
  std::unordered_map<std::string, TensorId> float_by_name;  // the first of each name, as find_tensor
  if (float_graph)
    for (size_t t = 0; t < float_graph->tensor_capacity(); ++t)
      float_by_name.emplace(float_graph->tensor(static_cast<TensorId>(t)).name, static_cast<TensorId>(t));
  for (NodeId id : int8_graph.topological_order()) {
    if (!q.int8_nodes().count(id)) continue;
    const TensorId out8 = int8_graph.node(id).outputs[0];
    const TensorId f = q.float_of(out8);
    if (f == ir::kNoTensor) continue;
    TensorId in_float = f;
    if (float_graph) {
      const auto named = float_by_name.find(int8_graph.tensor(f).name);
      if (named == float_by_name.end()) continue;
      in_float = named->second;
    }
    float_ids.push_back(in_float);
    int8_ids.push_back(out8);
    nodes.push_back(id);
  }
  std::vector<double> signal(nodes.size()), noise(nodes.size());
  if (float_graph) {
    GraphRunner fr(*float_graph, float_ids), qr(int8_graph, int8_ids);
    const size_t samples = ctx.calibration->size();
    for (size_t s = 0; s < samples; ++s) {
      for (GraphRunner* r : {&fr, &qr}) r->feed(*ctx.calibration, s);
      fr.run();
      qr.run();
      for (size_t k = 0; k < nodes.size(); ++k) {
        const ir::Tensor& t8 = int8_graph.tensor(int8_ids[k]);
        const float scale = t8.quant->scales[0];
        const int64_t zp = t8.quant->zero_points[0];
        const bool is_signed = t8.dtype == DType::kInt8;
        const auto* ref = static_cast<const float*>(fr.watched(k));
        const auto* raw = static_cast<const uint8_t*>(qr.watched(k));
        const int64_t n = t8.shape.num_elements();
        for (int64_t i = 0; i < n; ++i) {
          const int64_t v = is_signed ? static_cast<int8_t>(raw[i]) : raw[i];
          const double d = static_cast<double>(scale) * static_cast<double>(v - zp);
          signal[k] += static_cast<double>(ref[i]) * ref[i];
          noise[k] += (ref[i] - d) * (ref[i] - d);
        }
      }
      if (ctx.progress) ctx.progress("measuring int8 error", static_cast<double>(s + 1) / samples);
    }
  }
  PassReport& report = ctx.reports.back();
  for (size_t k = 0; k < nodes.size(); ++k) {
    const ir::Node& n = int8_graph.node(nodes[k]);
    const ir::Tensor& t8 = int8_graph.tensor(int8_ids[k]);
    QuantLayerReport layer;
    layer.node = n.name;
    layer.op = ir::op_name(n.op);
    layer.tensor = (float_graph ? *float_graph : int8_graph).tensor(float_ids[k]).name;
    layer.dtype = dtype_label(t8.dtype == DType::kInt8);
    layer.scale = t8.quant->scales[0];
    layer.zero_point = t8.quant->zero_points[0];
    layer.sqnr_db = float_graph ? sqnr_db(signal[k], noise[k]) : std::numeric_limits<double>::quiet_NaN();
    report.quant_layers.push_back(std::move(layer));
  }
}

}  // namespace

Status run_quantize(ir::Graph& graph, const PassOptions& options, PassContext& ctx) {
  const Options o = read_options(options);
  if (ctx.reports.empty()) {
    PassReport report;
    report.pass = "quantize";
    ctx.reports.push_back(report);
  }
  Quantizer q(graph, o, ctx);
  q.prepare();
  if (q.int8_nodes().empty()) {
    add_note(ctx, "quantize", "no node to quantize");
    return Status::ok();
  }
  // Unfused: every int8 output has a float twin here; kept only to measure against.
  const std::optional<ir::Graph> float_graph = ctx.measure ? std::optional<ir::Graph>(graph) : std::nullopt;
  q.quantize();
  for (NodeId id : graph.topological_order()) ir::infer_node(graph, id);
  report_layers(float_graph ? &*float_graph : nullptr, graph, q, ctx);
  return Status::ok();
}

}  // namespace pare::passes
