// The inputs of the layers that a compression pass changes one after the other (prune
// update=obs, cluster, lowrank), measured on calibration data: layer k on the graph with
// layers 0..k-1 already changed, so that each layer makes up for the errors before it.
//
// Layers whose inputs depend on none of the layers measured with them are measured together,
// from one run of the graph per calibration sample: their inputs are the same values as with
// a run per layer, and a graph of many parallel layers costs one pass over it per batch
// instead of one per layer (a graph split into thousands of branches was cubic before).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/prune_layers.h"
#include "passes/prune_reconstruct.h"

namespace pare::passes {

class CalibrationData;

// Per first layer of a batch, one past its last layer: consecutive layers (`nodes`, in g's
// topological order) whose inputs depend on no layer of their batch, at most `max_layers` per
// batch and `max_bytes` of bytes_of(k) summed (a layer over it goes alone; bytes_of is asked
// only once every node is known to be g's). Empty when a node is not one of g's, repeats, or
// the nodes are out of topological order. The passes that change layers one after the other
// measure each batch with one run of the graph per sample.
std::vector<size_t> plan_layer_batches(const ir::Graph& g, const std::vector<ir::NodeId>& nodes,
                                       const std::function<size_t(size_t k)>& bytes_of, size_t max_layers,
                                       size_t max_bytes);

// What was measured of one layer's inputs; a non-empty reason says why a part was not.
struct LayerInputs {
  std::string gram_why;
  LayerGram gram;  // H = X^T X per conv group (and against the dense graph, LayerGram::cross)
  std::string mean_squares_why;
  std::vector<std::vector<double>> mean_squares;  // diag H / rows per conv group ([groups][cols])
};

class LayerInputMeter {
 public:
  struct Wanted {
    bool gram = false;          // H, over layer_samples(samples, rows) samples; none over kObsMaxCols inputs
    bool mean_squares = false;  // its diagonal over rows, over all `samples` samples
    // With gram: also X_d^T X_p and X_d^T X_d against this graph (the one before the pass,
    // same tensor ids); it must outlive the meter.
    const ir::Graph* dense = nullptr;
  };
  // Caps of one batch: layers, and bytes of the sums and watched tensors held at once (a layer
  // over the byte cap is measured alone).
  static constexpr size_t kMaxBatchLayers = 256;
  static constexpr size_t kMaxBatchBytes = size_t{256} << 20;

  // `layers` (node, weight, cols set; they must outlive the meter) in the order the pass
  // changes them, each after the one before in `g`'s topological order; `samples` as
  // reconstruction_samples gives. `max_batch_layers` 1 measures every layer alone.
  LayerInputMeter(const ir::Graph& g, std::vector<const PruneLayer*> layers, const CalibrationData& data,
                  size_t samples, Wanted wanted, size_t max_batch_layers = kMaxBatchLayers);

  // Layer k's inputs on `g` as it is now. Call for k = 0, 1, ... in order, each after the
  // layers before it changed g; g keeps the tensor ids it had.
  LayerInputs take(size_t k, const ir::Graph& g);

  // Batches measured so far.
  size_t batches() const { return batches_; }

 private:
  void measure_batch(size_t first, const ir::Graph& g);

  std::vector<const PruneLayer*> layers_;
  const CalibrationData& data_;
  size_t samples_;
  Wanted wanted_;
  std::vector<size_t> batch_end_;  // per first layer of a batch: one past its last layer
  std::vector<LayerInputs> results_;
  size_t measured_end_ = 0;  // layers [0, measured_end_) are measured
  size_t batches_ = 0;
};

}  // namespace pare::passes
