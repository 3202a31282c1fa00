#include "passes/layer_inputs.h"

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <utility>

#include "ir/status.h"
#include "passes/graph_runner.h"
#include "passes/pass.h"

namespace pare::passes {

namespace {

size_t saturating_bytes(double v) {
  return v >= static_cast<double>(std::numeric_limits<size_t>::max() / 2) ? std::numeric_limits<size_t>::max() / 2
                                                                          : static_cast<size_t>(v);
}

// What measuring layer l holds at once: its watched input (twice with a dense graph) and its
// sums (GramSum keeps H, X_d^T X_p, X_d^T X_d in double and a float partial per conv group).
size_t layer_bytes(const ir::Graph& g, const PruneLayer& l, const LayerInputMeter::Wanted& w) {
  const ir::Node& node = g.node(l.node);
  const ir::Tensor& x = g.tensor(node.inputs[0]);
  const double copies = w.dense ? 2 : 1;
  double bytes = x.shape.is_static() ? copies * 4 * static_cast<double>(x.shape.num_elements()) : 0;
  const double groups = node.op == ir::OpKind::kConv ? static_cast<double>(std::max<int64_t>(1, node.attrs.get_int("group", 1))) : 1;
  const double n = static_cast<double>(l.cols);
  if (w.gram && l.cols <= kObsMaxCols) bytes += groups * n * n * (4 + 8 * (w.dense ? 3 : 1));
  if (w.mean_squares) bytes += groups * n * 8;
  return saturating_bytes(bytes);
}

}  // namespace

std::vector<size_t> plan_layer_batches(const ir::Graph& g, const std::vector<ir::NodeId>& nodes,
                                       const std::function<size_t(size_t k)>& bytes_of, size_t max_layers,
                                       size_t max_bytes) {
  std::vector<size_t> batch_end(nodes.size(), 0);
  std::vector<int64_t> layer_of(g.node_capacity(), -1);
  for (size_t k = 0; k < nodes.size(); ++k) {
    const auto node = static_cast<size_t>(nodes[k]);
    if (nodes[k] < 0 || node >= layer_of.size() || !g.node_alive(nodes[k]) || layer_of[node] >= 0) return {};
    layer_of[node] = static_cast<int64_t>(k);
  }
  // dep[t]: the latest batch (named by its first layer) with a layer that t depends on.
  std::vector<int64_t> dep(g.tensor_capacity(), -1);
  size_t next = 0, first = 0, held = 0;
  for (ir::NodeId id : g.topological_order()) {
    const ir::Node& node = g.node(id);
    int64_t depends_on = -1;
    for (ir::TensorId t : node.inputs)
      if (t != ir::kNoTensor) depends_on = std::max(depends_on, dep[static_cast<size_t>(t)]);
    if (const int64_t k = layer_of[static_cast<size_t>(id)]; k >= 0) {
      if (static_cast<size_t>(k) != next) return {};
      const size_t cost = std::min(bytes_of(next), max_bytes);
      if (next > first && (depends_on == static_cast<int64_t>(first) || next - first >= max_layers ||
                           held + cost > max_bytes)) {
        batch_end[first] = next;
        first = next;
        held = 0;
      }
      held += cost;
      depends_on = static_cast<int64_t>(first);
      ++next;
    }
    for (ir::TensorId t : node.outputs) dep[static_cast<size_t>(t)] = depends_on;
  }
  if (next != nodes.size()) return {};
  if (next > first) batch_end[first] = next;
  return batch_end;
}

namespace {

std::vector<size_t> plan_batches(const ir::Graph& g, const std::vector<const PruneLayer*>& layers,
                                 const LayerInputMeter::Wanted& wanted, size_t max_batch_layers) {
  std::vector<ir::NodeId> nodes;
  for (const PruneLayer* l : layers) nodes.push_back(l->node);
  return plan_layer_batches(
      g, nodes, [&](size_t k) { return layer_bytes(g, *layers[k], wanted); }, max_batch_layers,
      LayerInputMeter::kMaxBatchBytes);
}

}  // namespace

LayerInputMeter::LayerInputMeter(const ir::Graph& g, std::vector<const PruneLayer*> layers, const CalibrationData& data,
                                 size_t samples, Wanted wanted, size_t max_batch_layers)
    : layers_(std::move(layers)), data_(data), samples_(samples), wanted_(wanted),
      batch_end_(plan_batches(g, layers_, wanted_, max_batch_layers)), results_(layers_.size()) {
  if (batch_end_.size() == layers_.size()) return;
  batch_end_.resize(layers_.size());  // each layer alone
  for (size_t k = 0; k < layers_.size(); ++k) batch_end_[k] = k + 1;
}

LayerInputs LayerInputMeter::take(size_t k, const ir::Graph& g) {
  if (k >= layers_.size() || k > measured_end_)
    throw_internal("layer inputs taken out of order: layer " + std::to_string(k) + ", next " +
                   std::to_string(measured_end_));
  if (k == measured_end_) {
    measure_batch(k, g);
    measured_end_ = batch_end_[k];
    ++batches_;
  }
  return std::move(results_[k]);
}

void LayerInputMeter::measure_batch(size_t first, const ir::Graph& g) {
  // One layer of the batch being measured.
  struct Pending {
    size_t k = 0;
    InputLayout in;
    int64_t input = -1;  // index among the graph inputs when the layer reads one
    size_t watch = 0;    // else index among the watched tensors
    size_t gram_samples = 0, squares_samples = 0;
    int64_t gram_per_sample = 0, squares_per_sample = 0;
    std::vector<GramSum> sums;
    int64_t squares_rows = 0;
  };
  std::vector<Pending> pending;
  std::vector<ir::TensorId> watched;
  std::map<ir::TensorId, size_t> watch_index;
  bool reads_graph_input = false, any_gram_watch = false;
  size_t sample_count = 0;
  int64_t max_cols = 0;
  for (size_t k = first; k < batch_end_[first]; ++k) {
    const PruneLayer& l = *layers_[k];
    LayerInputs& r = results_[k];
    InputLayout in;
    const std::string why = describe_input(g, l.node, l.weight, l.cols, in);
    bool gram = false, squares = false;
    if (wanted_.gram) {
      if (l.cols > kObsMaxCols)
        r.gram_why = std::to_string(l.cols) + " inputs per output channel, over " + std::to_string(kObsMaxCols) +
                     " (H and its inverse would take " + std::to_string(l.cols * l.cols * 8 * 3 >> 20) +
                     " MiB and O(n^3) time)";
      else
        r.gram_why = why;
      gram = r.gram_why.empty();
    }
    if (wanted_.mean_squares) {
      r.mean_squares_why = why;
      squares = why.empty();
    }
    if (!gram && !squares) continue;
    Pending p;
    p.k = k;
    p.in = in;
    const ir::TensorId x = g.node(l.node).inputs[0];
    const auto graph_input = std::find(g.inputs.begin(), g.inputs.end(), x);
    if (graph_input != g.inputs.end()) {
      p.input = graph_input - g.inputs.begin();
      reads_graph_input = true;
    } else {
      auto [it, added] = watch_index.emplace(x, watched.size());
      if (added) watched.push_back(x);
      p.watch = it->second;
      any_gram_watch = any_gram_watch || gram;
    }
    const int64_t rows_per_sample = in.rows_per_sample();
    if (gram) {
      p.gram_samples = layer_samples(samples_, rows_per_sample);
      p.gram_per_sample = std::max<int64_t>(1, kObsMaxRows / static_cast<int64_t>(p.gram_samples));
      // Against the dense graph only when the input is computed (a graph input is the same in both).
      p.sums.assign(static_cast<size_t>(in.groups), GramSum(l.cols, wanted_.dense && p.input < 0));
    }
    if (squares) {
      p.squares_samples = std::max<size_t>(1, std::min(samples_, data_.size()));
      p.squares_per_sample = std::max<int64_t>(1, kObsMaxRows / static_cast<int64_t>(p.squares_samples));
      r.mean_squares.assign(static_cast<size_t>(in.groups), std::vector<double>(static_cast<size_t>(l.cols), 0.0));
    }
    sample_count = std::max({sample_count, p.gram_samples, p.squares_samples});
    max_cols = std::max(max_cols, l.cols);
    pending.push_back(std::move(p));
  }
  if (pending.empty()) return;

  // The graph cut at the watched inputs (and the dense graph, for the cross terms); a runner of
  // the whole graph, never run, holds the graph inputs' values.
  std::unique_ptr<GraphRunner> runner, dense_runner, input_runner;
  if (!watched.empty()) runner = runner_upto(g, watched);
  if (!watched.empty() && any_gram_watch && wanted_.dense) dense_runner = runner_upto(*wanted_.dense, watched);
  if (reads_graph_input) input_runner = std::make_unique<GraphRunner>(g, std::vector<ir::TensorId>{});

  std::vector<float> row(static_cast<size_t>(max_cols)), dense_row(row.size());
  for (size_t s = 0; s < sample_count; ++s) {
    for (GraphRunner* r : {runner.get(), dense_runner.get(), input_runner.get()})
      if (r) r->feed(data_, s);
    if (runner) runner->run();
    if (dense_runner) dense_runner->run();
    for (Pending& p : pending) {
      const PruneLayer& l = *layers_[p.k];
      const float* values =
          p.input >= 0 ? static_cast<const float*>(input_runner->input_data(static_cast<size_t>(p.input)))
                       : static_cast<const float*>(runner->watched(p.watch));
      const int64_t rows_per_sample = p.in.rows_per_sample();
      if (s < p.gram_samples) {
        const float* dense_values =
            dense_runner && p.input < 0 ? static_cast<const float*>(dense_runner->watched(p.watch)) : nullptr;
        for (int64_t r : spread_rows(rows_per_sample, p.gram_per_sample, s))
          for (int64_t grp = 0; grp < p.in.groups; ++grp) {
            input_row(p.in, values, l.cols, r, grp, row.data());
            if (dense_values) input_row(p.in, dense_values, l.cols, r, grp, dense_row.data());
            p.sums[static_cast<size_t>(grp)].add(row.data(), dense_row.data());
          }
      }
      if (s < p.squares_samples) {
        std::vector<std::vector<double>>& squares = results_[p.k].mean_squares;
        for (int64_t r : spread_rows(rows_per_sample, p.squares_per_sample, s)) {
          ++p.squares_rows;
          for (int64_t grp = 0; grp < p.in.groups; ++grp) {
            input_row(p.in, values, l.cols, r, grp, row.data());
            std::vector<double>& sum = squares[static_cast<size_t>(grp)];
            for (int64_t c = 0; c < l.cols; ++c)
              sum[static_cast<size_t>(c)] += static_cast<double>(row[static_cast<size_t>(c)]) * row[static_cast<size_t>(c)];
          }
        }
      }
    }
  }

  for (Pending& p : pending) {
    LayerInputs& r = results_[p.k];
    if (!p.sums.empty()) {
      LayerGram& gram = r.gram;
      gram.groups = p.in.groups;
      gram.cols = layers_[p.k]->cols;
      gram.samples = p.sums[0].rows();
      const bool with_cross = dense_runner && p.input < 0;
      for (GramSum& sum : p.sums) {
        gram.h.push_back(sum.take());
        if (!with_cross) continue;
        gram.cross.push_back(sum.take_cross());
        gram.dense_h.push_back(sum.take_dense());
      }
    }
    for (std::vector<double>& sum : r.mean_squares)
      for (double& v : sum) v /= static_cast<double>(std::max<int64_t>(1, p.squares_rows));
  }
}

}  // namespace pare::passes
