// cluster: k-means weight clustering of the constant weights of Conv, Gemm and MatMul
// (docs/compression.md). Each table (an output channel with per=channel, or the whole
// tensor) keeps at most 2^bits distinct float values, so that the .pare writer can store k-bit
// indices into a palette. Weights stay dense float32 tensors.
//
// 1. Choose the layers as prune does (prune_layers.h): the first conv, depthwise convs,
//    layers under min_params weights, excluded nodes and shared weights stay dense.
// 2. Per table, 1-D k-means (kmeans.h) of its values: the weight error, or with
//    weighting=data each value's error weighted by the mean square of the input it
//    multiplies on the calibration data (the diagonal of prune's H = X^T X).
//    Exact zeros (pruned weights) stay exact zeros, one of the 2^bits entries.
// 3. With update=obs (the default when there is calibration data), the k-means centroids are
//    the palettes and the weights are rounded to them column by column with prune's OBS
//    sweep (prune_reconstruct.h): each rounding error is spread over the weights of the later
//    inputs so that the layer's output on the calibration inputs changes least (GPTQ), after
//    the layer has been refitted to the original model's output on its current inputs.
// 4. Report per layer: bits, tables, distinct values, the weights' relative error.
//
// Tables (per=channel) are the output channels: the stored rows of Conv and Gemm(transB=1),
// the stored columns of Gemm(transB=0) and MatMul ([K, N] weights); the .pare writer stores
// either as a palette per row or per column.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/canonical.h"
#include "passes/kmeans.h"
#include "passes/layer_inputs.h"
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
  std::map<std::string, double> layer_bits;  // per-layer bits instead of `bits`
  int64_t min_params = 1024;
  bool data_weighting = false;
  std::string weighting_reason;  // for the report
  bool update = false;           // OBS rounding on calibration data
  std::string update_reason;
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
  o.update = obs_update_option(options, has_calibration, "cluster", o.update_reason);
  o.exclude = name_list_option(options, "exclude");
  o.layer_bits = layer_value_option(options, "layer_bits", "cluster");
  for (const auto& [name, b] : o.layer_bits)
    if (b != static_cast<int>(b) || b < 2 || b > 8)
      bad_option("layer_bits", options.get("layer_bits", ""), "the bits of '" + name + "' must be 2 to 8");
  return o;
}

// A seed of its own for every table: the same tables get the same draws whatever the order
// they are clustered in.
uint64_t table_seed(uint64_t seed, size_t layer, int64_t table) {
  uint64_t state = seed ^ (static_cast<uint64_t>(layer) << 32) ^ static_cast<uint64_t>(table);
  next_unit(state);
  return state;
}

// The importance of each element of the layer's matrix [outputs, inputs]: the mean square of
// the input it multiplies (rows of conv group g use mean_squares[g]).
std::vector<float> element_weights(const PruneLayer& l, const std::vector<std::vector<double>>& mean_squares) {
  std::vector<float> w(static_cast<size_t>(l.rows * l.cols));
  const int64_t per_group = l.rows / static_cast<int64_t>(mean_squares.size());
  for (int64_t r = 0; r < l.rows; ++r) {
    const std::vector<double>& ms = mean_squares[static_cast<size_t>(r / per_group)];
    for (int64_t c = 0; c < l.cols; ++c) w[static_cast<size_t>(r * l.cols + c)] = static_cast<float>(ms[static_cast<size_t>(c)]);
  }
  return w;
}

// Clusters the matrix `values` ([rows, cols], flat: one table per row, or one for all) in
// place; returns the most distinct values of a table.
int cluster_tensor(std::vector<float>& values, const std::vector<float>& weights, int64_t rows,
                   const Options& o, bool keep_zero, size_t layer) {
  KmeansOptions k;
  k.k = 1 << o.bits;
  k.init = o.init;
  k.keep_zero = keep_zero;
  if (!o.per_channel) {
    k.seed = table_seed(o.seed, layer, 0);
    return kmeans_1d(values, weights, k);
  }
  const size_t cols = values.size() / static_cast<size_t>(rows);
  int most = 0;
  std::vector<float> row, row_weights;
  for (int64_t r = 0; r < rows; ++r) {
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

// The distinct values of each table of a clustered matrix, sorted (one table per row, or
// one for all).
std::vector<std::vector<float>> palettes_of(const std::vector<float>& clustered, int64_t rows, bool per_row) {
  const size_t cols = clustered.size() / static_cast<size_t>(rows);
  std::vector<std::vector<float>> palettes;
  for (int64_t r = 0; r < (per_row ? rows : 1); ++r) {
    const auto begin = clustered.begin() + static_cast<std::ptrdiff_t>(per_row ? static_cast<size_t>(r) * cols : 0);
    std::vector<float> p(begin, per_row ? begin + static_cast<std::ptrdiff_t>(cols) : clustered.end());
    std::sort(p.begin(), p.end());
    p.erase(std::unique(p.begin(), p.end()), p.end());
    palettes.push_back(std::move(p));
  }
  return palettes;
}

// The entry of a sorted palette nearest to v (ties: the lower).
double nearest(const std::vector<float>& palette, double v) {
  auto it = std::lower_bound(palette.begin(), palette.end(), v, [](float p, double x) { return p < x; });
  if (it == palette.end()) return palette.back();
  if (it == palette.begin()) return *it;
  const double hi = *it, lo = *(it - 1);
  return v - lo <= hi - v ? lo : hi;
}

// The entries of each row's palette refitted to the layer's output: with the assignment of
// the OBS sweep fixed, q = C[a] minimising (t - q) H (t - q)^T for the target row t is the
// k x k system G c = b, G_ab = sum over i in a, j in b of H_ij, b_a = sum over i in a of
// (H t)_i. The zero entry of pruned weights stays 0; an entry no weight uses is left alone.
// Rows whose system is singular keep their entries.
void refit_entries(std::vector<double>& q, const std::vector<double>& target, const std::vector<double>& h,
                   int64_t rows, int64_t n, bool keep_zero) {
  for (int64_t r = 0; r < rows; ++r) {
    double* qr = &q[static_cast<size_t>(r * n)];
    const double* tr = &target[static_cast<size_t>(r * n)];
    std::vector<double> entries(qr, qr + n);
    std::sort(entries.begin(), entries.end());
    entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
    if (keep_zero) entries.erase(std::remove(entries.begin(), entries.end(), 0.0), entries.end());
    const int64_t k = static_cast<int64_t>(entries.size());
    if (k == 0) continue;
    std::vector<int64_t> a(static_cast<size_t>(n), -1);
    for (int64_t i = 0; i < n; ++i)
      if (!(keep_zero && qr[i] == 0.0))
        a[static_cast<size_t>(i)] = std::lower_bound(entries.begin(), entries.end(), qr[i]) - entries.begin();
    std::vector<double> g(static_cast<size_t>(k * k), 0.0), b(static_cast<size_t>(k), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t ai = a[static_cast<size_t>(i)];
      if (ai < 0) continue;
      const double* hi = &h[static_cast<size_t>(i * n)];
      double s = 0;
      for (int64_t j = 0; j < n; ++j) {
        s += hi[j] * tr[j];
        const int64_t aj = a[static_cast<size_t>(j)];
        if (aj >= 0) g[static_cast<size_t>(ai * k + aj)] += hi[j];
      }
      b[static_cast<size_t>(ai)] += s;
    }
    if (!cholesky(g, k)) continue;
    cholesky_solve(g, k, b);
    bool finite = true;
    for (double v : b) finite = finite && std::isfinite(v);
    if (!finite) continue;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t ai = a[static_cast<size_t>(i)];
      if (ai >= 0) qr[i] = static_cast<float>(b[static_cast<size_t>(ai)]);
    }
  }
}

// update=obs on l.matrix ([rows, cols], the conv groups' rows sharing gram.h[g]): each group
// refitted to the original model's output (gram.cross), k-means palettes of the refitted
// weights, then the OBS sweep rounding every weight to its table's nearest entry (the zeros
// of `zero_mask` to 0; keep_zero: it has any). False (l.matrix unchanged) when H cannot be
// factored.
bool cluster_with_update(PruneLayer& l, const LayerGram& gram, const std::vector<float>& weights,
                         const std::vector<char>& zero_mask, bool keep_zero, const Options& o, size_t layer) {
  const int64_t n = l.cols, groups = gram.groups, rows = l.rows / groups;
  if (gram.cols != n || l.rows % groups != 0) return false;
  std::vector<ObsFactor> factors(static_cast<size_t>(groups));
  std::vector<double> w(l.matrix.begin(), l.matrix.end());
  for (int64_t g = 0; g < groups; ++g) {
    ObsFactor& f = factors[static_cast<size_t>(g)];
    if (!factor_gram(gram.h[static_cast<size_t>(g)], n, kObsDamping, f)) return false;
    if (gram.cross.empty()) continue;
    std::vector<double> part(w.begin() + g * rows * n, w.begin() + (g + 1) * rows * n);
    refit_to_dense_output(f, gram.cross[static_cast<size_t>(g)], part, rows);
    std::copy(part.begin(), part.end(), w.begin() + g * rows * n);
  }
  // The palettes: k-means of the refitted weights (pruned zeros exact zeros).
  std::vector<float> refitted(w.size());
  for (size_t i = 0; i < w.size(); ++i) refitted[i] = zero_mask[i] ? 0.f : static_cast<float>(w[i]);
  cluster_tensor(refitted, weights, l.rows, o, keep_zero, layer);
  const std::vector<std::vector<float>> palettes = palettes_of(refitted, l.rows, o.per_channel);
  for (int64_t g = 0; g < groups; ++g) {
    std::vector<double> part(w.begin() + g * rows * n, w.begin() + (g + 1) * rows * n);
    const int64_t row0 = g * rows;
    obs_sweep(factors[static_cast<size_t>(g)], part, rows, nullptr, [&](int64_t r, int64_t j, double v) {
      if (zero_mask[static_cast<size_t>((row0 + r) * n + j)]) return 0.0;
      return nearest(palettes[o.per_channel ? static_cast<size_t>(row0 + r) : 0], v);
    });
    if (o.per_channel) {
      const std::vector<double> target(w.begin() + g * rows * n, w.begin() + (g + 1) * rows * n);
      std::vector<double> h = gram.h[static_cast<size_t>(g)];  // damped as for the sweep
      for (int64_t i = 0; i < n; ++i) h[static_cast<size_t>(i * n + i)] += factors[static_cast<size_t>(g)].added[static_cast<size_t>(i)];
      refit_entries(part, target, h, rows, n, keep_zero);
    }
    for (int64_t i = 0; i < rows * n; ++i) l.matrix[static_cast<size_t>(row0 * n + i)] = static_cast<float>(part[static_cast<size_t>(i)]);
  }
  return true;
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
  if (o.data_weighting || o.update) samples = reconstruction_samples(graph, ctx.calibration->size());
  const std::set<NodeId> stems = stem_convs(graph);
  const ir::UseIndex uses(graph);
  std::vector<PruneLayer> layers;
  for (NodeId id : graph.topological_order()) {
    PruneLayer l;
    if (!describe_layer(graph, id, l)) continue;
    l.dense_reason = default_dense_reason(graph, uses, l, o.exclude, o.min_params, stems);
    layers.push_back(std::move(l));
  }
  add_note(ctx, "cluster", o.weighting_reason);
  add_note(ctx, "cluster", o.update_reason);
  const ir::Graph original = o.update ? graph : ir::Graph{};  // weights are replaced, never written in place
  // The clustered layers' inputs, measured in order on the graph clustered so far.
  std::vector<const PruneLayer*> measured;
  std::vector<size_t> measured_index(layers.size(), 0);
  for (size_t k = 0; k < layers.size(); ++k)
    if (layers[k].dense_reason.empty()) {
      measured_index[k] = measured.size();
      measured.push_back(&layers[k]);
    }
  LayerInputMeter::Wanted wanted;
  wanted.gram = o.update;
  wanted.mean_squares = o.data_weighting;
  wanted.dense = o.update ? &original : nullptr;
  std::unique_ptr<LayerInputMeter> meter;
  if (o.update || o.data_weighting)
    meter = std::make_unique<LayerInputMeter>(graph, measured, *ctx.calibration, samples, wanted);
  double measure_seconds = 0, cluster_seconds = 0;
  size_t clustered = 0, updated = 0;
  std::vector<ClusterLayerReport> reports;
  for (size_t k = 0; k < layers.size(); ++k) {
    PruneLayer& l = layers[k];
    ClusterLayerReport r;
    r.node = l.name;
    r.op = l.op;
    r.params = l.params;
    if (!l.dense_reason.empty()) {
      r.decision = "dense: " + l.dense_reason;
      reports.push_back(std::move(r));
      continue;
    }
    Options lo = o;  // this layer's options: layer_bits= overrides bits=
    if (auto b = o.layer_bits.find(l.name); b != o.layer_bits.end()) lo.bits = static_cast<int>(b->second);
    l.matrix = weight_matrix(graph.tensor(l.weight), l);
    const std::vector<float> before = l.matrix;
    std::vector<float> weights;
    r.decision = "weight error";
    auto start = std::chrono::steady_clock::now();
    LayerInputs inputs;
    if (meter) inputs = meter->take(measured_index[k], graph);
    if (o.data_weighting) {
      if (inputs.mean_squares_why.empty()) {
        weights = element_weights(l, inputs.mean_squares);
        r.decision = "weighted by input mean squares";
      } else {
        r.decision = "weight error (input not measured: " + inputs.mean_squares_why + ")";
      }
    }
    const LayerGram& gram = inputs.gram;
    std::string no_update = inputs.gram_why;
    measure_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    start = std::chrono::steady_clock::now();
    std::vector<char> zero_mask(before.size());
    for (size_t i = 0; i < before.size(); ++i) zero_mask[i] = before[i] == 0.f;
    const bool keep_zero = std::find(zero_mask.begin(), zero_mask.end(), 1) != zero_mask.end();
    bool obs = false;
    if (o.update && no_update.empty()) {
      std::vector<float> kmeans_only = before;
      cluster_tensor(kmeans_only, weights, l.rows, lo, keep_zero, k);
      if (cluster_with_update(l, gram, weights, zero_mask, keep_zero, lo, k)) {
        obs = true;
        ++updated;
        r.decision += "; obs rounding on " + std::to_string(gram.samples) + " input rows: output error " +
                      format_number("%.2e", relative_output_error(l.matrix, before, gram)) + " (k-means alone " +
                      format_number("%.2e", relative_output_error(kmeans_only, before, gram)) + ")";
      } else {
        no_update = "H could not be factored";
      }
    }
    if (!obs) {
      cluster_tensor(l.matrix, weights, l.rows, lo, keep_zero, k);
      if (o.update) r.decision += "; k-means alone (no obs rounding: " + no_update + ")";
    }
    for (const auto& p : palettes_of(l.matrix, l.rows, o.per_channel))
      r.max_distinct = std::max(r.max_distinct, static_cast<int>(p.size()));
    r.relative_error = relative_error(l.matrix, before.data());
    cluster_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (keep_zero) r.decision += "; exact zeros kept";
    r.bits = lo.bits;
    if (lo.bits != o.bits) r.decision += "; " + std::to_string(lo.bits) + " bits (layer_bits=)";
    r.per = o.per_channel ? "channel" : "tensor";
    r.tables = o.per_channel ? l.rows : 1;
    graph.tensor(l.weight).data = weight_buffer(l, l.matrix);
    ++clustered;
    reports.push_back(std::move(r));
    if (ctx.progress) ctx.progress("cluster", static_cast<double>(k + 1) / static_cast<double>(layers.size()));
  }
  add_note(ctx, "cluster",
           "bits=" + std::to_string(o.bits) + " per=" + (o.per_channel ? "channel" : "tensor") + ": clustered " +
               std::to_string(clustered) + " of " + std::to_string(layers.size()) + " layers in " +
               format_number("%.3f", cluster_seconds) + " s" +
               (o.update ? ", " + std::to_string(updated) + " with obs rounding" : "") +
               (o.data_weighting || o.update ? " (+ " + format_number("%.3f", measure_seconds) +
                                                    " s measuring inputs on " + std::to_string(samples) +
                                                    " calibration samples)"
                                              : ""));
  ctx.reports.back().cluster_layers = std::move(reports);
  return Status::ok();
}

}  // namespace pare::passes
