// The prune pass's layers: a weight seen as the matrix [output channels, inputs per output
// channel], magnitude pruning of that matrix, and the sensitivity schedule (passes/prune.cc).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/pass.h"

namespace pare::passes {

struct PruneLayer {
  ir::NodeId node = ir::kNoNode;
  std::string name;  // source node name
  std::string op;
  ir::TensorId weight = ir::kNoTensor;
  int64_t params = 0;
  int64_t zeros_before = 0;
  int64_t rows = 0, cols = 0;  // output channels, inputs per output channel
  bool transposed = false;     // stored [cols, rows] (Gemm without transB, MatMul)
  std::string dense_reason;    // why it stays dense; empty when pruned
  // Pruned layers only.
  std::vector<float> matrix;   // [rows, cols]
  int unit_rows = 1;           // 4: zeroed in 4x1 pieces of blocks of 4 output channels
  bool two_of_four = false;    // 2 of every 4 consecutive inputs of an output channel kept
  double target = 0;           // the chosen sparsity
  std::string decision;        // how it was chosen
};

// ---- choosing the layers (shared by prune and cluster) ------------------------------------

// Fills l's node, name, op, weight, params and [rows, cols] view for a Conv/Gemm/MatMul with
// a constant weight (dense_reason set when it is not a float32 matrix); false for other nodes.
bool describe_layer(const ir::Graph& g, ir::NodeId id, PruneLayer& l);
// The stems: Convs that no Conv, Gemm or MatMul precedes (their input is the graph's input,
// or computed from it by weightless ops such as a normalisation).
std::set<ir::NodeId> stem_convs(const ir::Graph& g);
// Why the described layer is left alone by default, or "": excluded, weight shared, first
// conv, depthwise conv, under min_params weights.
std::string default_dense_reason(const ir::Graph& g, const ir::UseIndex& uses, const PruneLayer& l,
                                 const std::set<std::string>& exclude, int64_t min_params,
                                 const std::set<ir::NodeId>& stems);
// True when a pass may not rewrite the layer's weight in place: another node or a second input
// of its node reads it, or it is a graph output.
bool weight_shared(const ir::Graph& g, const ir::UseIndex& uses, const PruneLayer& l);

std::vector<float> weight_matrix(const ir::Tensor& weight, const PruneLayer& l);
// A [rows, cols] matrix of the layer as a buffer in its weight's layout.
ir::BufferPtr weight_buffer(const PruneLayer& l, const std::vector<float>& matrix);
int64_t count_zeros(const ir::Tensor& weight);

// Each unit's score: the RMS of its weights over the RMS of the layer's, so that scores of
// different layers compare. Unit u covers rows [u / cols * unit_rows, + unit_rows) of
// column u % cols.
std::vector<float> unit_scores(const PruneLayer& l);
// Zeros l.matrix to `sparsity`: the lowest-scoring units (ties: the first), or 2:4.
void prune_matrix(PruneLayer& l, double sparsity);
// l.matrix pruned to `sparsity`, l unchanged.
std::vector<float> pruned_copy(const PruneLayer& l, double sparsity);

// The bytes the .pare writer stores for the weight: dense, or its smallest sparse layout.
size_t stored_float_bytes(const ir::Tensor& weight);
// What an earlier pass made of a float32 weight that rewriting its values would undo:
// "clustered" when the writer stores it as a palette, "pruned" when sparse, "" when dense.
std::string weight_encoding(const ir::Tensor& weight);
PruneLayerReport layer_report(const ir::Graph& g, const PruneLayer& l);

// printf-formatted number for the report's decisions.
std::string format_number(const char* format, double v);

// schedule=sensitivity: sets each layer's target so that all reach `sparsity` together with
// the least summed increase of the model output's relative error on calibration data.
void allocate_by_sensitivity(std::vector<PruneLayer*>& layers, double sparsity, ir::Graph& g, PassContext& ctx);
// Its cost is a run of the whole graph per layer and grid step: over kSensitivityNodeRuns
// node runs (a graph of thousands of parallel layers would take hours) it says why, else "".
constexpr double kSensitivityNodeRuns = 16777216;  // 2^24
std::string sensitivity_over_budget(size_t layers, const ir::Graph& g);

}  // namespace pare::passes
