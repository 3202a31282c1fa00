// cluster: k-means weight clustering of the constant weights of Conv, Gemm and MatMul
// (docs/compression.md). Each table (a stored row with per=channel, or the whole tensor)
// keeps at most 2^bits distinct float values, so that the .pare writer can store k-bit
// indices into a palette. Weights stay dense float32 tensors.
//
// 1. Choose the layers as prune does (prune_layers.h): the first conv, depthwise convs,
//    layers under min_params weights, excluded nodes and shared weights stay dense.
// 2. Per table, 1-D k-means (kmeans.h) of its values: the weight error, or with
//    weighting=data each value's error weighted by the mean square of the input it
//    multiplies on the calibration data (the diagonal of prune's H = X^T X).
//    Exact zeros (pruned weights) stay exact zeros, one of the 2^bits entries.
// 3. Report per layer: bits, tables, distinct values, the weights' relative error.
//
// Tables are the stored tensor's rows, as the writer's palettes are: the output channels of
// Conv and Gemm(transB=1), but the inputs of Gemm(transB=0) and MatMul ([K, N] weights).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/canonical.h"
#include "passes/kmeans.h"
#include "passes/pass_util.h"
#include "passes/prune_layers.h"
#include "passes/prune_reconstruct.h"

namespace pare::passes {
namespace {

using ir::NodeId;

struct Options {
  int bits = 4;
  bool per_channel = true;
  KmeansInit init = KmeansInit::kPlusPlus;
  uint64_t seed = 0;
  std::set<std::string> exclude;
  int64_t min_params = 1024;
  bool data_weighting = false;
  std::string weighting_reason;  // for the report
};

[[noreturn]] void bad_option(const std::string& name, const std::string& value, const std::string& expected) {
  throw_invalid("cluster: option " + name + "=" + value + " is invalid: " + expected);
}

Options read_options(const PassOptions& options, bool has_calibration) {
  Options o;
  const int64_t bits = options.get_int("bits", o.bits);
  if (bits < 2 || bits > 8) bad_option("bits", options.get("bits", ""), "expected 2 to 8");
  o.bits = static_cast<int>(bits);
  const std::string per = options.get("per", "channel");
  if (per != "channel" && per != "tensor") bad_option("per", per, "expected channel or tensor");
  o.per_channel = per == "channel";
  const std::string init = options.get("init", "kmeans++");
  if (init != "kmeans++" && init != "linear") bad_option("init", init, "expected kmeans++ or linear");
  o.init = init == "linear" ? KmeansInit::kLinear : KmeansInit::kPlusPlus;
  const int64_t seed = options.get_int("seed", 0);
  if (seed < 0) bad_option("seed", options.get("seed", ""), "expected an integer >= 0");
  o.seed = static_cast<uint64_t>(seed);
  o.min_params = options.get_int("min_params", o.min_params);
  if (o.min_params < 0) bad_option("min_params", options.get("min_params", ""), "expected a count >= 0");
  // Default none: on calibration data (scripts/cluster_table.sh, CLUSTER_AB=1) the data weighting
  // did not pay overall: better at 4 bits by a sample or two, clearly worse at 2 and 3 bits.
  const std::string weighting = options.get("weighting", "none");
  if (weighting != "data" && weighting != "none") bad_option("weighting", weighting, "expected data or none");
  if (weighting == "data" && !has_calibration)
    throw_invalid("cluster: option weighting=data needs calibration data (pare compress --calib FILE)");
  o.data_weighting = weighting == "data";
  o.weighting_reason = options.has("weighting") ? "weighting=" + weighting + " asked for"
                                                : "weighting=none by default: plain weight error";
  std::stringstream list(options.get("exclude", ""));
  for (std::string name; std::getline(list, name, ',');)
    if (!name.empty()) o.exclude.insert(name);
  return o;
}

// A seed of its own for every table: the same tables get the same draws whatever the order
// they are clustered in.
uint64_t table_seed(uint64_t seed, size_t layer, int64_t table) {
  uint64_t state = seed ^ (static_cast<uint64_t>(layer) << 32) ^ static_cast<uint64_t>(table);
  next_unit(state);
  return state;
}

// The importance of each stored element: the mean square of the input it multiplies. The
// stored tensor is [output channels, inputs] (rows of conv group g use mean_squares[g]), or
// [inputs, outputs] for transposed weights.
std::vector<float> element_weights(const PruneLayer& l, const std::vector<std::vector<double>>& mean_squares) {
  std::vector<float> w(static_cast<size_t>(l.rows * l.cols));
  if (l.transposed) {
    for (int64_t in = 0; in < l.cols; ++in)
      std::fill_n(w.begin() + in * l.rows, l.rows, static_cast<float>(mean_squares[0][static_cast<size_t>(in)]));
    return w;
  }
  const int64_t per_group = l.rows / static_cast<int64_t>(mean_squares.size());
  for (int64_t r = 0; r < l.rows; ++r) {
    const std::vector<double>& ms = mean_squares[static_cast<size_t>(r / per_group)];
    for (int64_t c = 0; c < l.cols; ++c) w[static_cast<size_t>(r * l.cols + c)] = static_cast<float>(ms[static_cast<size_t>(c)]);
  }
  return w;
}

// Clusters the stored weight `values` ([stored rows, stored cols], flat) in place; returns
// the most distinct values of a table.
int cluster_tensor(std::vector<float>& values, const std::vector<float>& weights, int64_t stored_rows,
                   const Options& o, bool keep_zero, size_t layer) {
  KmeansOptions k;
  k.k = 1 << o.bits;
  k.init = o.init;
  k.keep_zero = keep_zero;
  if (!o.per_channel) {
    k.seed = table_seed(o.seed, layer, 0);
    return kmeans_1d(values, weights, k);
  }
  const size_t cols = values.size() / static_cast<size_t>(stored_rows);
  int most = 0;
  std::vector<float> row, row_weights;
  for (int64_t r = 0; r < stored_rows; ++r) {
    const auto begin = values.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(r) * cols);
    row.assign(begin, begin + static_cast<std::ptrdiff_t>(cols));
    if (!weights.empty())
      row_weights.assign(weights.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(r) * cols),
                         weights.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(r + 1) * cols));
    k.seed = table_seed(o.seed, layer, r);
    most = std::max(most, kmeans_1d(row, row_weights, k));
    std::copy(row.begin(), row.end(), begin);
  }
  return most;
}

double relative_error(const std::vector<float>& after, const float* before) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    const double d = static_cast<double>(after[i]) - before[i];
    err += d * d;
    norm += static_cast<double>(before[i]) * before[i];
  }
  return norm > 0 ? std::sqrt(err / norm) : 0.0;
}

}  // namespace

Status run_cluster(ir::Graph& graph, const PassOptions& options, PassContext& ctx) {
  const bool has_calibration = ctx.calibration && ctx.calibration->size() > 0;
  const Options o = read_options(options, has_calibration);
  size_t samples = 0;
  if (o.data_weighting) {
    size_t input_values = 0;
    for (ir::TensorId t : graph.inputs)
      if (graph.tensor(t).shape.is_static()) input_values += static_cast<size_t>(graph.tensor(t).shape.num_elements());
    samples = std::max<size_t>(1, std::min({ctx.calibration->size(), kObsMaxSamples,
                                            kObsMaxInputValues / std::max<size_t>(1, input_values)}));
  }
  const std::set<NodeId> stems = stem_convs(graph);
  std::vector<PruneLayer> layers;
  for (NodeId id : graph.topological_order()) {
    PruneLayer l;
    if (!describe_layer(graph, id, l)) continue;
    l.dense_reason = default_dense_reason(graph, l, o.exclude, o.min_params, stems);
    layers.push_back(std::move(l));
  }
  add_note(ctx, "cluster", o.weighting_reason);
  double measure_seconds = 0, cluster_seconds = 0;
  size_t clustered = 0;
  std::vector<ClusterLayerReport> reports;
  for (size_t k = 0; k < layers.size(); ++k) {
    const PruneLayer& l = layers[k];
    ClusterLayerReport r;
    r.node = l.name;
    r.op = l.op;
    r.params = l.params;
    if (!l.dense_reason.empty()) {
      r.decision = "dense: " + l.dense_reason;
      reports.push_back(std::move(r));
      continue;
    }
    const ir::Tensor& w = graph.tensor(l.weight);
    const int64_t stored_rows = w.shape.sizes()[0];
    std::vector<float> weights;
    r.decision = "weight error";
    if (o.data_weighting) {
      const auto start = std::chrono::steady_clock::now();
      std::vector<std::vector<double>> mean_squares;
      const std::string why = measure_input_mean_squares(graph, l, *ctx.calibration, samples, mean_squares);
      measure_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (why.empty()) {
        weights = element_weights(l, mean_squares);
        r.decision = "weighted by input mean squares";
      } else {
        r.decision = "weight error (input not measured: " + why + ")";
      }
    }
    const auto start = std::chrono::steady_clock::now();
    const float* before = w.values<float>();
    std::vector<float> values(before, before + w.shape.num_elements());
    const bool keep_zero = std::find(values.begin(), values.end(), 0.f) != values.end();
    r.max_distinct = cluster_tensor(values, weights, stored_rows, o, keep_zero, k);
    r.relative_error = relative_error(values, before);
    cluster_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (keep_zero) r.decision += "; exact zeros kept";
    r.bits = o.bits;
    r.per = o.per_channel ? "channel" : "tensor";
    r.tables = o.per_channel ? stored_rows : 1;
    auto buffer = std::make_shared<ir::Buffer>();
    buffer->bytes.resize(values.size() * sizeof(float));
    std::memcpy(buffer->bytes.data(), values.data(), buffer->bytes.size());
    graph.tensor(l.weight).data = std::move(buffer);
    ++clustered;
    reports.push_back(std::move(r));
    if (ctx.progress) ctx.progress("cluster", static_cast<double>(k + 1) / static_cast<double>(layers.size()));
  }
  add_note(ctx, "cluster",
           "bits=" + std::to_string(o.bits) + " per=" + (o.per_channel ? "channel" : "tensor") + ": clustered " +
               std::to_string(clustered) + " of " + std::to_string(layers.size()) + " layers in " +
               format_number("%.3f", cluster_seconds) + " s" +
               (o.data_weighting ? " (+ " + format_number("%.3f", measure_seconds) + " s measuring inputs on " +
                                       std::to_string(samples) + " calibration samples)"
                                 : ""));
  ctx.reports.back().cluster_layers = std::move(reports);
  return Status::ok();
}

}  // namespace pare::passes
