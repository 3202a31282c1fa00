// prune_channels(update=lsq): after channels are removed, the Conv/Gemm layers that read them
// are refitted by least squares on calibration data so that their outputs match the dense
// model's; prune_channels(select=lsq): the channels to keep chosen by how well they
// reconstruct those outputs (docs/compression.md, "prune_channels").
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/channel_groups.h"
#include "passes/layer_inputs.h"
#include "passes/pass.h"

namespace pare::passes {

// Damping added to the Gram matrix's diagonal, as a fraction of its mean diagonal; it pulls
// the refit towards the weights after the bias move.
constexpr double kRefitDamping = 0.01;

// A layer to refit: a Conv (group 1) or Gemm of the pruned graph that has the same node id in
// the dense graph. `kept_outputs`: the dense output channels it still writes, in order.
struct RefitLayer {
  ir::NodeId node = ir::kNoNode;
  std::vector<int64_t> kept_outputs;
};

struct RefitResult {
  size_t refitted = 0, skipped = 0;
  size_t samples = 0;
  size_t batches = 0;  // runs of the graphs per sample (plan_layer_batches)
  double seconds = 0;
};

// Refits `layers` in topological order. For each: X = its inputs in `pruned` as refitted so
// far (im2col rows for a Conv) with a column of ones, Y = the dense layer's output on the
// dense model's inputs (before any activation), W' = (Y^T X + W D) (X^T X + D)^-1 with W the
// current weights and bias and D the damping. A refit that fits worse than W on these rows is
// dropped. Notes go to ctx under `pass`. Consecutive layers whose inputs depend on none of
// the others are measured together, within LayerInputMeter's caps and at most
// `max_batch_layers` (1: each alone): the same sums.
RefitResult refit_layers(ir::Graph& pruned, const ir::Graph& dense, const std::vector<RefitLayer>& layers,
                         const CalibrationData& data, PassContext& ctx, const std::string& pass,
                         size_t max_batch_layers = LayerInputMeter::kMaxBatchLayers);

// ---- choosing the channels by how well the rest reconstruct the consumers' outputs ----------

// A consumer's inputs on the dense model: H = X^T X (with a column of ones last) and its
// weights and bias as [outputs, cols + 1].
struct ConsumerFit {
  int64_t cols = 0, taps = 1, outputs = 0;  // taps: kernel positions per input channel
  std::vector<double> h, w;
};

// The ConsumerFit of each of `consumers` (Conv group 1 / Gemm nodes of `g`), on calibration data.
std::map<ir::NodeId, ConsumerFit> measure_consumers(const ir::Graph& g, const std::vector<ir::NodeId>& consumers,
                                                    const CalibrationData& data);

// Backward elimination: removes `remove` of the group's classes one at a time, each time the
// one whose loss (after refitting the others, as the OBS update for a block of inputs) raises
// the consumers' summed relative output error least. Returns per class its rank: the step at
// which it went, or the number of classes for those kept (larger is more important).
std::vector<double> elimination_scores(const ChannelGroup& group, const std::map<ir::NodeId, ConsumerFit>& fits,
                                       int64_t remove);

}  // namespace pare::passes
