// prune_channels(update=lsq): after channels are removed, the Conv/Gemm layers that read them
// are refitted by least squares on calibration data so that their outputs match the dense
// model's (docs/compression.md, "prune_channels", "update=lsq").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
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
  double seconds = 0;
};

// Refits `layers` in topological order. For each: X = its inputs in `pruned` as refitted so
// far (im2col rows for a Conv) with a column of ones, Y = the dense layer's output on the
// dense model's inputs (before any activation), W' = (Y^T X + W D) (X^T X + D)^-1 with W the
// current weights and bias and D the damping. A refit that fits worse than W on these rows is
// dropped. Notes go to ctx under `pass`.
RefitResult refit_layers(ir::Graph& pruned, const ir::Graph& dense, const std::vector<RefitLayer>& layers,
                         const CalibrationData& data, PassContext& ctx, const std::string& pass);

}  // namespace pare::passes
