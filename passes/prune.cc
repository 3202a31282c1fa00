// prune: magnitude pruning of the constant weights of Conv, Gemm and MatMul
// (docs/compression.md). Pruned weights stay dense tensors with exact zeros; the .pare writer
// stores them sparse where that is smaller.
//
// Each weight is seen as the matrix [rows = output channels, cols = the inputs of one output
// channel] (Conv [Cout, Cin/group * kh * kw]; Gemm and MatMul whatever their transposition).
// 1. Choose the layers: the first Convs (no weighted layer before them), depthwise Convs, layers
//    under min_params weights and excluded nodes stay dense.
// 2. Choose each layer's sparsity: scope=layer gives every layer the target; scope=global
//    ranks all weights at once by |w| / (the layer's RMS), so a layer of small weights is not
//    wiped out; schedule=sensitivity measures each layer's effect on the model output over a
//    grid of sparsities on calibration data and allocates greedily (prune_sensitivity.cc).
// 3. Zero the smallest units: single weights, or with pattern=block4 the 4x1 pieces of
//    blocks of 4 output channels (ranked by their norm); pattern=2:4 keeps the 2 largest of
//    every 4 consecutive inputs of an output channel.
//    With update=obs (the default when there is calibration data) the mask is chosen and
//    the kept weights refitted so that each layer's output on calibration data changes
//    least (prune_reconstruct.cc), layer after layer on the already pruned model.
// 4. Report per layer: weights, zeros before and after, bytes dense and as stored, the
//    decision.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/canonical.h"
#include "passes/pass_util.h"
#include "passes/prune_layers.h"
#include "passes/prune_reconstruct.h"

namespace pare::passes {
namespace {

using ir::NodeId;
using ir::OpKind;
using ir::TensorId;

enum class Pattern { kUnstructured, kBlock4, kTwoOfFour };

struct Options {
  double sparsity = 0.5;
  bool global = true;
  Pattern pattern = Pattern::kUnstructured;
  bool sensitivity = false;
  std::set<std::string> exclude;
  std::map<std::string, double> layer_sparsity;  // per-layer caps on the chosen sparsity
  int64_t min_params = 1024;
  bool update = false;         // OBS update of the kept weights on calibration data
  std::string update_reason;   // why it runs or not, for the report
};

[[noreturn]] void bad_option(const std::string& name, const std::string& value, const std::string& expected) {
  throw_invalid("prune: option " + name + "=" + value + " is invalid: " + expected);
}

Options read_options(const PassOptions& options, bool has_calibration) {
  Options o;
  o.sparsity = options.get_double("sparsity", o.sparsity);
  if (!(o.sparsity >= 0 && o.sparsity < 1))
    bad_option("sparsity", options.get("sparsity", ""), "expected a fraction in [0, 1)");
  const std::string scope = options.get("scope", "global");
  if (scope != "global" && scope != "layer") bad_option("scope", scope, "expected global or layer");
  o.global = scope == "global";
  const std::string pattern = options.get("pattern", "unstructured");
  if (pattern == "unstructured") o.pattern = Pattern::kUnstructured;
  else if (pattern == "block4") o.pattern = Pattern::kBlock4;
  else if (pattern == "2:4") o.pattern = Pattern::kTwoOfFour;
  else bad_option("pattern", pattern, "expected unstructured, block4 or 2:4");
  const std::string schedule = options.get("schedule", "uniform");
  if (schedule != "uniform" && schedule != "sensitivity")
    bad_option("schedule", schedule, "expected uniform or sensitivity");
  o.sensitivity = schedule == "sensitivity";
  o.min_params = options.get_int("min_params", o.min_params);
  if (o.min_params < 0) bad_option("min_params", options.get("min_params", ""), "expected a count >= 0");
  o.update = obs_update_option(options, has_calibration, "prune", o.update_reason);
  o.exclude = name_list_option(options, "exclude");
  o.layer_sparsity = layer_value_option(options, "layer_sparsity", "prune");
  for (const auto& [name, cap] : o.layer_sparsity)
    if (!(cap >= 0 && cap < 1))
      bad_option("layer_sparsity", options.get("layer_sparsity", ""), "the cap of '" + name + "' must be in [0, 1)");
    else if (cap == 0)
      o.exclude.insert(name);
  return o;
}

// Why the layer stays dense under the options, or "" when it is pruned.
std::string dense_reason(const ir::Graph& g, const ir::UseIndex& uses, const PruneLayer& l, const Options& o,
                         const std::set<NodeId>& stems) {
  const std::string common = default_dense_reason(g, uses, l, o.exclude, o.min_params, stems);
  if (!common.empty()) return common;
  if (o.pattern == Pattern::kTwoOfFour && l.cols % 4 != 0)
    return "2:4 needs a multiple of 4 inputs per output channel, has " + std::to_string(l.cols);
  return "";
}

// ---- choosing the sparsities --------------------------------------------------------

// Global scope: one ranking of every unit of every pruned layer by its scale-free score,
// the lowest zeroed until the target fraction of all their weights is reached. Sets each
// layer's sparsity to what the ranking gives it.
void rank_globally(std::vector<PruneLayer*>& layers, double sparsity) {
  struct Unit {
    float score;
    uint32_t layer;
    int64_t index;
  };
  std::vector<Unit> units;
  int64_t total = 0;
  for (size_t k = 0; k < layers.size(); ++k) {
    const std::vector<float> scores = unit_scores(*layers[k]);
    for (size_t u = 0; u < scores.size(); ++u)
      units.push_back({scores[u], static_cast<uint32_t>(k), static_cast<int64_t>(u)});
    total += layers[k]->rows * layers[k]->cols;
  }
  std::sort(units.begin(), units.end(), [](const Unit& a, const Unit& b) {
    if (a.score != b.score) return a.score < b.score;
    return a.layer != b.layer ? a.layer < b.layer : a.index < b.index;
  });
  const auto goal = static_cast<int64_t>(std::llround(sparsity * static_cast<double>(total)));
  std::vector<int64_t> zeroed(layers.size(), 0);
  int64_t done = 0;
  for (size_t i = 0; i < units.size() && done < goal; ++i) {
    const int b = layers[units[i].layer]->unit_rows;
    zeroed[units[i].layer] += b;
    done += b;
  }
  for (size_t k = 0; k < layers.size(); ++k) {
    PruneLayer& l = *layers[k];
    l.target = static_cast<double>(zeroed[k]) / static_cast<double>(l.rows * l.cols);
    l.decision = "global ranking of |w| / layer RMS";
  }
}

void choose_sparsities(std::vector<PruneLayer*>& layers, const Options& o, ir::Graph& g, PassContext& ctx) {
  if (o.pattern == Pattern::kTwoOfFour) {
    for (PruneLayer* l : layers) {
      l->target = o.sparsity > 0 ? 0.5 : 0.0;
      l->decision = o.sparsity > 0 ? "2:4 (sparsity 0.5 whatever the target)" : "sparsity=0";
    }
    return;
  }
  if (o.sensitivity) {
    const std::string over = sensitivity_over_budget(layers.size(), g);
    if (over.empty()) {
      allocate_by_sensitivity(layers, o.sparsity, g, ctx);
      return;
    }
    add_note(ctx, "prune", over + (o.global ? "; the global ranking instead" : "; the same sparsity in every layer instead"));
  }
  if (o.global) {
    rank_globally(layers, o.sparsity);
    return;
  }
  for (PruneLayer* l : layers) {
    l->target = o.sparsity;
    l->decision = "layer scope: the target in every layer";
  }
}

}  // namespace

Status run_prune(ir::Graph& graph, const PassOptions& options, PassContext& ctx) {
  const bool has_calibration = ctx.calibration && ctx.calibration->size() > 0;
  const Options o = read_options(options, has_calibration);
  if (o.sensitivity && o.pattern != Pattern::kTwoOfFour && !has_calibration)
    throw_invalid("prune: option schedule=sensitivity needs calibration data (pare compress --calib FILE)");

  const std::set<NodeId> stems = stem_convs(graph);
  const ir::UseIndex uses(graph);
  std::vector<PruneLayer> all;
  for (NodeId id : graph.topological_order()) {
    PruneLayer l;
    if (!describe_layer(graph, id, l)) continue;
    l.dense_reason = dense_reason(graph, uses, l, o, stems);
    if (l.dense_reason.empty()) {
      l.matrix = weight_matrix(graph.tensor(l.weight), l);
      l.unit_rows = o.pattern == Pattern::kBlock4 && l.rows % 4 == 0 ? 4 : 1;
      l.two_of_four = o.pattern == Pattern::kTwoOfFour;
    }
    all.push_back(std::move(l));
  }
  std::vector<PruneLayer*> pruned;
  for (PruneLayer& l : all)
    if (l.dense_reason.empty()) pruned.push_back(&l);

  for (PruneLayer& l : all) l.zeros_before = count_zeros(graph.tensor(l.weight));
  choose_sparsities(pruned, o, graph, ctx);
  for (PruneLayer* l : pruned) {
    auto cap = o.layer_sparsity.find(l->name);
    if (cap == o.layer_sparsity.end() || l->target <= cap->second) continue;
    // 2:4 has no sparsity between 0 and 0.5.
    l->target = l->two_of_four && cap->second < 0.5 ? 0.0 : cap->second;
    l->decision += "; capped at " + format_number("%.3f", cap->second) + " (layer_sparsity=)";
  }
  int64_t total = 0, zeros = 0;
  add_note(ctx, "prune", o.update_reason);
  // Clustered weights are pruned by magnitude: a refit would leave their palettes; the zero
  // joins each palette (one more entry at most).
  std::vector<PruneLayer*> refitted, by_magnitude;
  for (PruneLayer* l : pruned) {
    const bool clustered = weight_encoding(graph.tensor(l->weight)) == "clustered";
    if (clustered) l->decision += "; clustered weights: magnitude, no refit (their palettes stay)";
    (o.update && !clustered ? refitted : by_magnitude).push_back(l);
  }
  if (!refitted.empty()) prune_layers_with_update(refitted, graph, ctx);
  for (PruneLayer* l : by_magnitude) {
    prune_matrix(*l, l->target);
    graph.tensor(l->weight).data = weight_buffer(*l, l->matrix);
  }
  for (PruneLayer* l : pruned) {
    if (o.pattern == Pattern::kBlock4 && l->unit_rows == 1)
      l->decision += "; block4 needs output channels % 4 == 0: unstructured";
    total += l->params;
  }
  std::vector<PruneLayerReport> reports;
  for (PruneLayer& l : all) {
    PruneLayerReport r = layer_report(graph, l);
    if (!l.dense_reason.empty()) r.decision = "dense: " + l.dense_reason;
    if (l.dense_reason.empty()) zeros += r.zeros_after;
    reports.push_back(std::move(r));
  }
  const double reached = total ? static_cast<double>(zeros) / static_cast<double>(total) : 0.0;
  add_note(ctx, "prune",
           "target sparsity " + format_number("%.3f", o.sparsity) + ": pruned " + std::to_string(pruned.size()) +
               " of " + std::to_string(all.size()) + " layers to sparsity " + format_number("%.3f", reached) +
               " of their " + std::to_string(total) + " weights");
  ctx.reports.back().prune_layers = std::move(reports);
  return Status::ok();
}

}  // namespace pare::passes
