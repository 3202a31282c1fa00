// prune(update=obs): pruning that keeps each layer's output on calibration data. For every
// pruned layer, the Gram matrix H = X^T X of its inputs X on the model pruned so far (one row
// per sample, or per output pixel of a Conv, im2col); the weights refitted by least squares
// to the dense model's output on its own inputs; then the OBS update: columns processed in
// order with the upper Cholesky factor of H^-1, the error of the weights zeroed in a column
// propagated into the later columns so that the layer's output changes least (as SparseGPT,
// one shot, no training).
#pragma once

#include <cstdint>
#include <vector>

#include "ir/graph.h"
#include "passes/pass.h"
#include "passes/prune_layers.h"

namespace pare::passes {

// Damping added to H's diagonal, as a fraction of its mean diagonal.
constexpr double kObsDamping = 0.01;
// Columns per block of the mask selection and of the lazy update.
constexpr int64_t kObsBlock = 128;

// The Gram matrices of a layer's inputs: one [cols, cols] matrix (row-major, double) per
// conv group; the rows of group k are [k * rows / groups, (k + 1) * rows / groups).
struct LayerGram {
  int64_t groups = 1;
  int64_t cols = 0;
  int64_t samples = 0;  // input rows accumulated
  std::vector<std::vector<double>> h;
  // Optional, per group: X_d^T X_p, X_d the same rows on the model before pruning. The update
  // then fits the pruned layer to the dense model's output (the errors of the layers before
  // included) instead of to the dense weights on the pruned model's inputs.
  std::vector<std::vector<double>> cross;
  std::vector<std::vector<double>> dense_h;  // X_d^T X_d, with cross
};

// Zeros l.matrix to l.target with l's pattern (unstructured, block4 units, 2:4), choosing the
// mask by w^2 / [H^-1]_jj^2 per column block and updating the kept weights. The number of
// zeroed units equals magnitude pruning's exactly; zeroed weights are +0.0f. Returns false
// (l.matrix unchanged) when H cannot be factored or the pattern does not fit the groups.
bool prune_with_update(PruneLayer& l, const LayerGram& gram);

// The relative squared error of the layer's output with weights `a` against the output with
// the reference weights `b` ([rows, cols]) over the rows H was built from: sum (a - b) H
// (a - b)^T / sum b H b^T; with gram.cross, against b on the dense model's inputs.
double relative_output_error(const std::vector<float>& a, const std::vector<float>& b, const LayerGram& gram);

// Caps of the calibration data used for H (docs/compression.md, "update=obs").
constexpr size_t kObsMaxSamples = 512;
constexpr size_t kObsMinSamples = 64;  // per layer, when fewer would give kObsMaxRows rows
constexpr size_t kObsMaxInputValues = size_t{32} * 3 * 224 * 224;  // over all samples
constexpr int64_t kObsMaxRows = 16384;                               // input rows per layer

// How many calibration samples the input measurements use: the caps above, by the size of
// the graph's inputs.
size_t calibration_samples(const ir::Graph& g, const CalibrationData& data);

// H = X^T X of layer l's inputs (l.node, l.weight, l.rows, l.cols set) on graph g as it is,
// over `samples` calibration samples capped as above (im2col rows for a Conv, channels-last
// run of the graph cut at the layer's input); or why the inputs cannot be measured.
std::string measure_input_gram(const ir::Graph& g, const PruneLayer& l, const CalibrationData& data,
                               size_t samples, LayerGram& gram);

// Prunes `layers` (in topological order) one after the other: each layer's H is measured on
// the graph with the layers before it already pruned and updated (X_d^T X_p against the graph
// as it was), and its new weight is written to the graph. Layers whose input cannot be measured are pruned by magnitude; each
// layer's decision says which ran and the output error against magnitude pruning's.
void prune_layers_with_update(std::vector<PruneLayer*>& layers, ir::Graph& g, PassContext& ctx);

}  // namespace pare::passes
