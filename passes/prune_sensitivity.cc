// prune(schedule=sensitivity): for each layer, the relative squared error of the model's
// outputs when that layer alone is pruned to each sparsity of a grid, measured by running the
// graph on the runtime over the first calibration samples. Then a greedy allocation: start
// every layer dense and repeatedly move the layer whose next grid step costs the least error
// per weight zeroed, until the target fraction of all the layers' weights is zero; the last
// step is cut to land on the target.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "ir/status.h"
#include "passes/canonical.h"
#include "passes/graph_runner.h"
#include "passes/prune_layers.h"

namespace pare::passes {
namespace {

// More samples change the ranking little and cost a full run each per layer and grid step.
constexpr size_t kSensitivitySamples = 64;
// The sparsities measured per layer (and the target, when above the last).
constexpr std::array<double, 11> kSensitivityGrid = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95};

// The graph's float outputs on the first calibration samples, and their error against the
// original's when one weight is replaced.
class OutputError {
 public:
  OutputError(ir::Graph& g, const CalibrationData& data)
      : g_(g), data_(data), samples_(std::min(kSensitivitySamples, data.size())) {
    for (size_t k = 0; k < g.outputs.size(); ++k) {
      const ir::Tensor& t = g.tensor(g.outputs[k]);
      if (t.dtype != ir::DType::kFloat32 || t.is_constant()) continue;
      outputs_.push_back(g.outputs[k]);
      output_positions_.push_back(k);
    }
    if (outputs_.empty()) throw_invalid("prune: option schedule=sensitivity needs a float32 graph output");
    reference_ = run();
    for (float v : reference_) energy_ += static_cast<double>(v) * v;
  }

  // Relative squared error of the outputs with `weight` holding `values`.
  double error(ir::TensorId weight, ir::BufferPtr values) {
    ir::BufferPtr saved = g_.tensor(weight).data;
    g_.tensor(weight).data = std::move(values);
    std::vector<float> out;
    try {
      out = run();
    } catch (...) {
      g_.tensor(weight).data = saved;
      throw;
    }
    g_.tensor(weight).data = saved;
    double noise = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      const double d = static_cast<double>(out[i]) - reference_[i];
      noise += d * d;
    }
    return energy_ > 0 ? noise / energy_ : noise;
  }

 private:
  std::vector<float> run() {
    // Channels-last, as it will ship: the NCHW convs would run on the reference kernel.
    ir::Graph copy = g_;
    PassContext scratch;
    std::vector<ir::TensorId> watch = outputs_;
    if (run_nhwc(copy, PassOptions{}, scratch).is_ok()) {
      watch.clear();
      for (size_t k : output_positions_) watch.push_back(copy.outputs[k]);
    } else {
      copy = g_;
    }
    GraphRunner runner(copy, watch);
    std::vector<float> out;
    for (size_t s = 0; s < samples_; ++s) {
      runner.feed(data_, s);
      runner.run();
      for (size_t k = 0; k < outputs_.size(); ++k) {
        const auto* v = static_cast<const float*>(runner.watched(k));
        out.insert(out.end(), v, v + g_.tensor(outputs_[k]).shape.num_elements());
      }
    }
    return out;
  }

  ir::Graph& g_;
  const CalibrationData& data_;
  size_t samples_;
  std::vector<ir::TensorId> outputs_;
  std::vector<size_t> output_positions_;  // of outputs_ in g.outputs
  std::vector<float> reference_;
  double energy_ = 0;
};

}  // namespace

std::string sensitivity_over_budget(size_t layers, const ir::Graph& g) {
  const size_t runs = layers * (kSensitivityGrid.size() - 1);
  const double node_runs = static_cast<double>(runs) * static_cast<double>(g.num_nodes());
  if (node_runs <= kSensitivityNodeRuns) return "";
  return "schedule=sensitivity not run: " + std::to_string(runs) + " runs of a graph of " +
         std::to_string(g.num_nodes()) + " nodes (" + std::to_string(layers) +
         " layers x grid steps) exceed its budget of 2^24 node runs";
}

void allocate_by_sensitivity(std::vector<PruneLayer*>& layers, double sparsity, ir::Graph& g, PassContext& ctx) {
  std::vector<double> grid(kSensitivityGrid.begin(), kSensitivityGrid.end());
  if (sparsity > grid.back()) grid.push_back(sparsity);
  OutputError meter(g, *ctx.calibration);
  // errors[k][i]: layer k pruned to grid[i], made non-decreasing along the grid.
  std::vector<std::vector<double>> errors(layers.size(), std::vector<double>(grid.size(), 0.0));
  const double steps = static_cast<double>(layers.size() * (grid.size() - 1));
  for (size_t k = 0; k < layers.size(); ++k)
    for (size_t i = 1; i < grid.size(); ++i) {
      const double e = meter.error(layers[k]->weight, weight_buffer(*layers[k], pruned_copy(*layers[k], grid[i])));
      errors[k][i] = std::max(errors[k][i - 1], e);
      if (ctx.progress) ctx.progress("prune sensitivity", static_cast<double>(k * (grid.size() - 1) + i) / steps);
    }

  double total = 0;
  for (const PruneLayer* l : layers) total += static_cast<double>(l->rows * l->cols);
  const double goal = sparsity * total;
  std::vector<size_t> level(layers.size(), 0);
  double zeroed = 0;
  size_t last = layers.size();
  while (zeroed < goal) {
    size_t best = layers.size();
    double best_cost = 0;
    for (size_t k = 0; k < layers.size(); ++k) {
      const size_t i = level[k];
      if (i + 1 >= grid.size()) continue;
      const double weights = (grid[i + 1] - grid[i]) * static_cast<double>(layers[k]->rows * layers[k]->cols);
      const double cost = (errors[k][i + 1] - errors[k][i]) / weights;
      if (best == layers.size() || cost < best_cost) {
        best = k;
        best_cost = cost;
      }
    }
    if (best == layers.size()) break;
    zeroed += (grid[level[best] + 1] - grid[level[best]]) * static_cast<double>(layers[best]->rows * layers[best]->cols);
    ++level[best];
    last = best;
  }
  for (size_t k = 0; k < layers.size(); ++k) {
    PruneLayer& l = *layers[k];
    l.target = grid[level[k]];
    if (k == last && zeroed > goal) l.target -= (zeroed - goal) / static_cast<double>(l.rows * l.cols);
    l.decision = "sensitivity: model output error " + format_number("%.2e", errors[k][level[k]]) + " alone at " +
                 format_number("%.2f", grid[level[k]]) + ", errors 0.5/0.9: " + format_number("%.1e", errors[k][5]) +
                 "/" + format_number("%.1e", errors[k][9]);
  }
}

}  // namespace pare::passes
