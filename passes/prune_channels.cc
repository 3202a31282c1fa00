// prune_channels: structured pruning that shrinks the graph (docs/compression.md).
//
// 1. Group: find_channel_groups ties the channels that must go together (passes/channel_groups.h);
//    a group holding anything it cannot follow is left alone and reported with the reason.
// 2. Rank: a channel's importance is its BN-folded filter norm (L2 of the producer's weights
//    for that channel, divided by the layer's mean norm, summed over the group's producers),
//    times its activation magnitude on the calibration data at the consumers' inputs (divided
//    by the tensor's mean) when calibration data is present. The magnitude is measured around
//    the channel's mean (its standard deviation): step 4 moves the mean into the next bias,
//    so only the deviation from it is lost when the channel goes.
// 3. Remove the `ratio` least important channels of each group, keeping a multiple of
//    `multiple` channels (never none): producers lose weight rows and bias, depthwise convs
//    and per-channel constants their channels, consumers their weight inputs.
// 4. Compensate: a removed channel's calibration mean (after the producer's fused
//    activation) times the consumer's weights for it goes into the consumer's bias.
// 5. Refit (update=lsq, the default with calibration data): every Conv/Gemm that lost input
//    channels is refitted by least squares, in topological order, so that its output on the
//    calibration data matches the dense model's (passes/channel_refit.h). A depthwise conv
//    cannot mix channels, so the layer after it that reads the group does the refit.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "passes/canonical.h"
#include "passes/channel_groups.h"
#include "passes/channel_refit.h"
#include "passes/graph_runner.h"
#include "passes/pass_util.h"
#include "passes/prune_layers.h"

namespace pare::passes {

namespace {

using ir::NodeId;
using ir::TensorId;

constexpr size_t kMaxCalibrationSamples = 64;
constexpr const char* kPass = "prune_channels";

struct Options {
  double ratio = 0.3;
  int64_t multiple = 8;
  std::set<std::string> exclude;
  bool refit = false;          // update=lsq
  bool select_lsq = false;     // select=lsq
  std::string update_reason;   // which update runs and why, for the notes
};

Options read_options(const PassOptions& options, bool has_calibration) {
  Options o;
  o.ratio = options.get_double("ratio", o.ratio);
  if (!(o.ratio >= 0 && o.ratio < 1))
    throw_invalid("prune_channels: option 'ratio' must be in [0, 1), not '" + options.get("ratio", "") + "'");
  o.multiple = options.get_int("multiple", o.multiple);
  if (o.multiple < 1)
    throw_invalid("prune_channels: option 'multiple' must be at least 1, not '" + options.get("multiple", "") + "'");
  o.exclude = name_list_option(options, "exclude");
  const std::string update = options.get("update", has_calibration ? "lsq" : "none");
  if (update != "lsq" && update != "none")
    throw_invalid("prune_channels: option 'update' must be lsq or none, not '" + update + "'");
  if (update == "lsq" && !has_calibration)
    throw_invalid("prune_channels: option update=lsq needs calibration data (pare compress --calib FILE)");
  o.refit = update == "lsq";
  const std::string select = options.get("select", "norm");
  if (select != "lsq" && select != "norm")
    throw_invalid("prune_channels: option 'select' must be lsq or norm, not '" + select + "'");
  if (select == "lsq" && !has_calibration)
    throw_invalid("prune_channels: option select=lsq needs calibration data (pare compress --calib FILE)");
  o.select_lsq = select == "lsq";
  o.update_reason = options.has("update") ? "update=" + update + " asked for"
                    : has_calibration     ? "update=lsq by default: calibration data given"
                                          : "update=none by default: no calibration data (--calib)";
  return o;
}

int64_t product(const std::vector<int64_t>& dims, size_t from, size_t to) {
  int64_t n = 1;
  for (size_t i = from; i < to; ++i) n *= dims[i];
  return n;
}

// Multiply-accumulates of one run of the graph's Conv, ConvTranspose, Gemm and MatMul nodes.
int64_t graph_macs(const ir::Graph& graph) {
  int64_t total = 0;
  for (NodeId id : graph.nodes()) {
    const ir::Node& n = graph.node(id);
    const bool weighted = n.op == ir::OpKind::kConv || n.op == ir::OpKind::kConvTranspose ||
                          n.op == ir::OpKind::kGemm || n.op == ir::OpKind::kMatMul;
    if (!weighted || n.inputs.size() < 2 || n.inputs[1] == ir::kNoTensor || n.outputs.empty()) continue;
    const ir::Shape& a = graph.tensor(n.inputs[0]).shape;
    const ir::Shape& b = graph.tensor(n.inputs[1]).shape;
    const ir::Shape& y = graph.tensor(n.outputs[0]).shape;
    if (!a.is_static() || !b.is_static() || !y.is_static() || a.rank() == 0 || b.rank() == 0) continue;
    const int64_t per_filter = b.num_elements() / std::max<int64_t>(b.sizes()[0], 1);
    switch (n.op) {
      case ir::OpKind::kConv: total += y.num_elements() * per_filter; break;
      case ir::OpKind::kConvTranspose: total += a.num_elements() * per_filter; break;
      case ir::OpKind::kGemm:
        total += y.num_elements() * a.sizes()[n.attrs.get_int("transA", 0) ? 0 : a.rank() - 1];
        break;
      case ir::OpKind::kMatMul: total += y.num_elements() * a.sizes().back(); break;
      default: break;
    }
  }
  return total;
}

// The indices along axis 1 that stay: features u*spread ... of each kept channel u.
std::vector<int64_t> kept_features(const GroupTensor& t, const std::vector<bool>& keep_class, bool kept) {
  std::vector<int64_t> out;
  for (int64_t u = 0; u < t.units; ++u)
    if (keep_class[static_cast<size_t>(t.class_of[static_cast<size_t>(u)])] == kept)
      for (int64_t s = 0; s < t.spread; ++s) out.push_back(u * t.spread + s);
  return out;
}

// A new constant: `t` restricted to `indices` along `axis`.
TensorId take(ir::Graph& graph, TensorNames& names, TensorId id, size_t axis, const std::vector<int64_t>& indices) {
  const ir::Tensor& t = graph.tensor(id);
  std::vector<int64_t> dims = t.shape.sizes();
  const int64_t outer = product(dims, 0, axis), inner = product(dims, axis + 1, dims.size());
  const float* v = t.values<float>();
  std::vector<float> out;
  out.reserve(static_cast<size_t>(outer * inner) * indices.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : indices) out.insert(out.end(), v + (o * dims[axis] + i) * inner, v + (o * dims[axis] + i + 1) * inner);
  dims[axis] = static_cast<int64_t>(indices.size());
  return add_float_constant(graph, names, t.name + ".pruned", dims, out);
}

void take_input(ir::Graph& graph, TensorNames& names, NodeId id, size_t input, size_t axis,
                const std::vector<int64_t>& indices) {
  const TensorId t = graph.node(id).inputs[input];
  const TensorId sliced = take(graph, names, t, axis, indices);
  graph.node(id).inputs[input] = sliced;
}

bool gemm_trans_b(const ir::Node& n) { return n.attrs.get_int("transB", 0) != 0; }

bool has_bias(const ir::Node& n) { return n.inputs.size() > 2 && n.inputs[2] != ir::kNoTensor; }

// Per feature along axis 1 of each watched tensor: the mean and the mean square.
struct FeatureStats {
  std::vector<double> mean, mean_sq;
};

std::map<TensorId, FeatureStats> calibration_stats(const ir::Graph& graph, const std::vector<TensorId>& tensors,
                                                   const CalibrationData& data) {
  std::map<TensorId, FeatureStats> stats;
  if (tensors.empty()) return stats;
  GraphRunner runner(graph, tensors);
  const size_t samples = std::min(data.size(), kMaxCalibrationSamples);
  for (TensorId t : tensors) {
    const int64_t features = graph.tensor(t).shape.sizes()[1];
    stats[t].mean.assign(static_cast<size_t>(features), 0.0);
    stats[t].mean_sq.assign(static_cast<size_t>(features), 0.0);
  }
  for (size_t s = 0; s < samples; ++s) {
    runner.feed(data, s);
    runner.run();
    for (size_t k = 0; k < tensors.size(); ++k) {
      const std::vector<int64_t> dims = graph.tensor(tensors[k]).shape.sizes();
      const int64_t features = dims[1], inner = product(dims, 2, dims.size()), outer = dims[0];
      const float* v = static_cast<const float*>(runner.watched(k));
      FeatureStats& st = stats[tensors[k]];
      const double weight = 1.0 / static_cast<double>(samples * outer * inner);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t f = 0; f < features; ++f)
          for (int64_t i = 0; i < inner; ++i) {
            const double x = v[(o * features + f) * inner + i];
            st.mean[static_cast<size_t>(f)] += x * weight;
            st.mean_sq[static_cast<size_t>(f)] += x * x * weight;
          }
    }
  }
  return stats;
}

// L2 norm of each output channel's weights of a producer.
std::vector<double> filter_norms(const ir::Graph& graph, const ir::Node& n) {
  const ir::Tensor& w = graph.tensor(n.inputs[1]);
  const std::vector<int64_t> dims = w.shape.sizes();
  const bool by_column = n.op == ir::OpKind::kGemm && !gemm_trans_b(n);  // [K, N]
  const int64_t channels = by_column ? dims[1] : dims[0];
  std::vector<double> norms(static_cast<size_t>(channels), 0.0);
  const float* v = w.values<float>();
  for (int64_t i = 0; i < w.shape.num_elements(); ++i) {
    const int64_t c = by_column ? i % channels : i / (w.shape.num_elements() / channels);
    norms[static_cast<size_t>(c)] += static_cast<double>(v[i]) * v[i];
  }
  for (double& x : norms) x = std::sqrt(x);
  return norms;
}

// Adds `values` divided by their mean to `score[class of each channel]`.
void add_normalised(const GroupTensor& t, const std::vector<double>& values, std::vector<double>& score,
                    std::vector<int>* count) {
  const double mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  if (!(mean > 0)) return;
  for (size_t u = 0; u < values.size(); ++u) {
    score[static_cast<size_t>(t.class_of[u])] += values[u] / mean;
    if (count) ++(*count)[static_cast<size_t>(t.class_of[u])];
  }
}

std::vector<double> importance(const ir::Graph& graph, const ChannelGroup& group,
                               const std::map<TensorId, FeatureStats>& stats) {
  const size_t classes = static_cast<size_t>(group.num_classes);
  std::vector<double> filters(classes, 0.0), activity(classes, 0.0);
  std::vector<int> seen(classes, 0);
  std::set<TensorId> read;
  for (const GroupMember& m : group.members) {
    const GroupTensor& t = *group.find(m.tensor);
    if (m.role == MemberRole::kProducer) add_normalised(t, filter_norms(graph, graph.node(m.node)), filters, nullptr);
    if (m.role != MemberRole::kConsumer || !read.insert(m.tensor).second || !stats.count(m.tensor)) continue;
    const FeatureStats& fs = stats.at(m.tensor);
    std::vector<double> per_channel(static_cast<size_t>(t.units), 0.0);
    for (size_t f = 0; f < fs.mean.size(); ++f)
      per_channel[f / static_cast<size_t>(t.spread)] += std::sqrt(std::max(0.0, fs.mean_sq[f] - fs.mean[f] * fs.mean[f]));
    add_normalised(t, per_channel, activity, &seen);
  }
  for (size_t k = 0; k < classes; ++k)
    if (seen[k]) filters[k] *= activity[k] / seen[k];
  return filters;
}

// How many classes stay: a multiple of `multiple` (at least one multiple, at most all).
int64_t kept_count(const ChannelGroup& group, const Options& o) {
  const int64_t classes = group.num_classes;
  if (classes <= o.multiple) return classes;
  const double target = (1.0 - o.ratio) * static_cast<double>(classes) / static_cast<double>(o.multiple);
  return std::clamp<int64_t>(static_cast<int64_t>(std::floor(target + 0.5)) * o.multiple, o.multiple, classes);
}

// Which classes stay: the kept_count most important, and at least one channel of every tensor.
std::vector<bool> choose_kept(const ChannelGroup& group, const std::vector<double>& score, const Options& o) {
  const int64_t classes = group.num_classes, keep = kept_count(group, o);
  std::vector<int> order(static_cast<size_t>(classes));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return score[a] > score[b]; });
  std::vector<bool> kept(static_cast<size_t>(classes), false);
  for (int64_t i = 0; i < keep; ++i) kept[static_cast<size_t>(order[static_cast<size_t>(i)])] = true;
  for (const GroupTensor& t : group.tensors) {
    if (std::any_of(t.class_of.begin(), t.class_of.end(), [&](int k) { return kept[static_cast<size_t>(k)]; })) continue;
    int best = t.class_of[0];
    for (int k : t.class_of)
      if (score[k] > score[best]) best = k;
    kept[static_cast<size_t>(best)] = true;
  }
  return kept;
}

// The bias of Conv/Gemm `id` plus `extra` per output channel (a new bias when it has none).
void add_to_bias(ir::Graph& graph, TensorNames& names, NodeId id, const std::vector<double>& extra) {
  const ir::Node& n = graph.node(id);
  const bool gemm = n.op == ir::OpKind::kGemm;
  const double beta = gemm ? n.attrs.get_float("beta", 1.f) : 1.0;
  std::vector<float> bias(extra.size());
  const ir::Tensor* old = has_bias(n) ? &graph.tensor(n.inputs[2]) : nullptr;
  for (size_t o = 0; o < extra.size(); ++o) {
    const double before = old ? beta * old->values<float>()[old->shape.num_elements() == 1 ? 0 : o] : 0.0;
    bias[o] = static_cast<float>(before + extra[o]);
  }
  const std::string name = old ? old->name : graph.tensor(n.inputs[1]).name + ".bias";
  const TensorId b = add_float_constant(graph, names, name + ".compensated", {static_cast<int64_t>(bias.size())}, bias);
  ir::Node& node = graph.node(id);
  if (node.inputs.size() < 3) node.inputs.resize(3, ir::kNoTensor);
  node.inputs[2] = b;
  if (gemm) node.attrs.set("beta", 1.0f);
}

// Consumer `id` loses the input features `removed` of its input 0; with their calibration
// means, their contribution moves into the bias.
void prune_consumer_inputs(ir::Graph& graph, TensorNames& names, NodeId id, const std::vector<int64_t>& kept,
                           const std::vector<int64_t>& removed, const FeatureStats* stats) {
  const ir::Node& n = graph.node(id);
  const bool gemm = n.op == ir::OpKind::kGemm;
  const size_t in_axis = gemm && !gemm_trans_b(n) ? 0 : 1;
  if (stats) {
    const ir::Tensor& w = graph.tensor(n.inputs[1]);
    const std::vector<int64_t> dims = w.shape.sizes();
    const size_t out_axis = 1 - in_axis;
    const int64_t outputs = dims[out_axis], inputs = dims[in_axis], taps = product(dims, 2, dims.size());
    const double alpha = gemm ? n.attrs.get_float("alpha", 1.f) : 1.0;
    std::vector<double> extra(static_cast<size_t>(outputs), 0.0);
    const float* v = w.values<float>();
    for (int64_t o = 0; o < outputs; ++o)
      for (int64_t r : removed) {
        const double mean = stats->mean[static_cast<size_t>(r)];
        const int64_t at = in_axis == 1 ? (o * inputs + r) * taps : r * outputs + o;
        for (int64_t k = 0; k < taps; ++k) extra[static_cast<size_t>(o)] += alpha * v[at + k] * mean;
      }
    add_to_bias(graph, names, id, extra);
  }
  take_input(graph, names, id, 1, in_axis, kept);
}

void prune_producer_outputs(ir::Graph& graph, TensorNames& names, NodeId id, const std::vector<int64_t>& kept) {
  const ir::Node& n = graph.node(id);
  const bool gemm = n.op == ir::OpKind::kGemm;
  take_input(graph, names, id, 1, gemm && !gemm_trans_b(n) ? 1 : 0, kept);
  if (!has_bias(graph.node(id))) return;
  const ir::Tensor& bias = graph.tensor(graph.node(id).inputs[2]);
  if (bias.shape.num_elements() > 1) take_input(graph, names, id, 2, bias.shape.rank() - 1, kept);
}

// Prunes the group's channels; `kept_outputs` receives each producer's remaining output
// channels. New constants take their names from `names`.
void prune_group(ir::Graph& graph, TensorNames& names, const ChannelGroup& group, const std::vector<bool>& keep_class,
                 const std::map<TensorId, FeatureStats>& stats, std::map<NodeId, std::vector<int64_t>>& kept_outputs) {
  // Consumers first: their bias compensation reads the weights as they are.
  for (const GroupMember& m : group.members) {
    if (m.role != MemberRole::kConsumer) continue;
    const GroupTensor& t = *group.find(m.tensor);
    auto it = stats.find(m.tensor);
    prune_consumer_inputs(graph, names, m.node, kept_features(t, keep_class, true), kept_features(t, keep_class, false),
                          it == stats.end() ? nullptr : &it->second);
  }
  for (const GroupMember& m : group.members) {
    const GroupTensor& t = *group.find(m.tensor);
    const std::vector<int64_t> kept = kept_features(t, keep_class, true);
    switch (m.role) {
      case MemberRole::kConsumer: break;
      case MemberRole::kProducer:
        prune_producer_outputs(graph, names, m.node, kept);
        kept_outputs[m.node] = kept;
        break;
      case MemberRole::kDepthwise:
        take_input(graph, names, m.node, 1, 0, kept);
        if (has_bias(graph.node(m.node))) take_input(graph, names, m.node, 2, 0, kept);
        graph.node(m.node).attrs.set("group", static_cast<int64_t>(kept.size()));
        break;
      case MemberRole::kConstant: {
        const size_t out_rank = graph.tensor(m.tensor).shape.rank();
        const size_t rank = graph.tensor(graph.node(m.node).inputs[m.input]).shape.rank();
        take_input(graph, names, m.node, m.input, 1 + rank - out_rank, kept);
        break;
      }
      case MemberRole::kReshape: {
        const ir::Tensor& shape = graph.tensor(graph.node(m.node).inputs[1]);
        const TensorId flat = ir::add_constant<int64_t>(graph, names.unique(shape.name + ".pruned"),
                                                        ir::DType::kInt64, {2}, {shape.int_values()[0], -1});
        graph.node(m.node).inputs[1] = flat;
        break;
      }
    }
  }
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

Status run_prune_channels(ir::Graph& graph, const PassOptions& options, PassContext& ctx) {
  const bool has_calibration = ctx.calibration && ctx.calibration->size() > 0;
  const Options o = read_options(options, has_calibration);
  ChannelPruneReport report;
  report.macs_before = graph_macs(graph);
  std::vector<ChannelGroup> groups = find_channel_groups(graph);
  for (ChannelGroup& g : groups)
    for (const GroupMember& m : g.members)
      if (g.unsafe.empty() && m.role == MemberRole::kProducer && o.exclude.count(graph.node(m.node).name))
        g.unsafe = "excluded";

  std::vector<TensorId> watch;
  for (const ChannelGroup& g : groups)
    for (const GroupMember& m : g.members)
      if (g.unsafe.empty() && m.role == MemberRole::kConsumer &&
          std::find(watch.begin(), watch.end(), m.tensor) == watch.end())
        watch.push_back(m.tensor);
  const bool calibrated = has_calibration && o.ratio > 0;
  const std::map<TensorId, FeatureStats> stats =
      calibrated ? calibration_stats(graph, watch, *ctx.calibration) : std::map<TensorId, FeatureStats>{};
  report.bias_compensated = calibrated;
  if (!calibrated && o.ratio > 0)
    add_note(ctx, kPass, "no calibration data: importance from filter norms alone, no bias compensation");

  const ir::Graph dense = o.refit ? graph : ir::Graph{};
  std::map<NodeId, std::vector<int64_t>> kept_outputs;
  std::set<NodeId> refit;
  std::map<NodeId, ConsumerFit> fits;
  if (o.select_lsq && o.ratio > 0) {
    std::vector<NodeId> consumers;
    for (const ChannelGroup& g : groups)
      for (const GroupMember& m : g.members)
        if (g.unsafe.empty() && m.role == MemberRole::kConsumer) consumers.push_back(m.node);
    fits = measure_consumers(graph, consumers, *ctx.calibration);
    add_note(ctx, kPass, "select=lsq: channels chosen by backward elimination on the outputs of " +
                             std::to_string(fits.size()) + " consumers");
  }
  TensorNames names(graph);
  for (const ChannelGroup& g : groups) {
    ChannelGroupReport entry;
    entry.layers = g.layers(graph);
    entry.channels_before = entry.channels_after = g.num_classes;
    entry.left_alone = g.unsafe;
    if (g.unsafe.empty()) {
      std::vector<double> score;
      if (o.select_lsq) score = elimination_scores(g, fits, g.num_classes - kept_count(g, o));
      if (score.empty()) score = importance(graph, g, stats);
      const std::vector<bool> kept = choose_kept(g, score, o);
      entry.channels_after = std::count(kept.begin(), kept.end(), true);
      if (entry.channels_after < entry.channels_before) {
        prune_group(graph, names, g, kept, stats, kept_outputs);
        for (const GroupMember& m : g.members)
          if (m.role == MemberRole::kConsumer) refit.insert(m.node);
      }
      add_note(ctx, kPass, "channels of " + join(entry.layers) + ": " + std::to_string(entry.channels_before) +
                               " -> " + std::to_string(entry.channels_after));
    } else {
      add_note(ctx, kPass, "left alone: " + join(entry.layers) + " (" + g.unsafe + ")");
    }
    report.groups.push_back(std::move(entry));
  }
  Status inferred = infer_and_fold(graph);
  if (!inferred) return inferred;
  add_note(ctx, kPass, o.update_reason);
  report.update = o.refit ? "lsq" : "none";
  if (o.refit && !refit.empty()) {
    std::vector<RefitLayer> layers;
    for (NodeId id : graph.topological_order()) {
      if (!refit.count(id)) continue;
      RefitLayer l{id, kept_outputs[id]};
      if (l.kept_outputs.empty()) {
        const ir::Node& n = dense.node(id);
        const ir::Shape& w = dense.tensor(n.inputs[1]).shape;
        l.kept_outputs.resize(static_cast<size_t>(n.op == ir::OpKind::kGemm && !gemm_trans_b(n) ? w.sizes()[1] : w.sizes()[0]));
        std::iota(l.kept_outputs.begin(), l.kept_outputs.end(), 0);
      }
      layers.push_back(std::move(l));
    }
    const RefitResult r = refit_layers(graph, dense, layers, *ctx.calibration, ctx, kPass);
    report.update_seconds = r.seconds;
    add_note(ctx, kPass, "update=lsq: " + std::to_string(r.refitted) + " of " + std::to_string(layers.size()) +
                             " layers refitted on " + std::to_string(r.samples) + " calibration samples in " +
                             format_number("%.2f", r.seconds) + " s");
  }
  report.macs_after = graph_macs(graph);
  add_note(ctx, kPass, "MACs " + std::to_string(report.macs_before) + " -> " + std::to_string(report.macs_after));
  ctx.reports.back().channel_prune = std::move(report);
  return Status::ok();
}

}  // namespace pare::passes
