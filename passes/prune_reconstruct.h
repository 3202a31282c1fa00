// prune(update=obs): pruning that keeps each layer's output on calibration data. For every
// pruned layer, the Gram matrix H = X^T X of its inputs X on the model pruned so far (one row
// per sample, or per output pixel of a Conv, im2col); the weights refitted by least squares
// to the dense model's output on its own inputs; then the OBS update: columns processed in
// order with the upper Cholesky factor of H^-1, the error of the weights zeroed in a column
// propagated into the later columns so that the layer's output changes least (as SparseGPT,
// one shot, no training).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/graph_runner.h"
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

// ---- the OBS sweep (SparseGPT / GPTQ style; shared by prune and cluster) ----------------

// H damped (`damping` of its mean diagonal added to the diagonal; an always-zero input gets
// the mean) and factored: chol the lower Cholesky factor of the damped H, u the upper factor
// of its inverse, added what the damping added per input.
struct ObsFactor {
  int64_t n = 0;
  std::vector<double> chol, u, added;
};
bool factor_gram(const std::vector<double>& gram, int64_t n, double damping, ObsFactor& f);
// Rows w [rows, n] refitted to the dense model's output on the dense model's inputs from the
// current model's inputs (cross = X_d^T X_p), damped towards w.
void refit_to_dense_output(const ObsFactor& f, const std::vector<double>& cross, std::vector<double>& w, int64_t rows);
// Columns of w [rows, n] in order, in blocks of kObsBlock: block_start(i1, i2) (may be
// empty) before each block; each element takes round(r, j, current value), and the error is
// spread over the later columns of its row through u so that the layer's output on the
// inputs H came from changes least.
void obs_sweep(const ObsFactor& f, std::vector<double>& w, int64_t rows,
               const std::function<void(int64_t, int64_t)>& block_start,
               const std::function<double(int64_t, int64_t, double)>& round);

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
constexpr int64_t kObsMaxCols = 4096;  // inputs per output channel: larger layers are not measured

// ---- measuring a layer's inputs on calibration data (also used by prune_channels' refit) ----

// In place: the lower Cholesky factor L of a (a = L L^T), upper triangle zeroed. False when a
// is not positive definite.
bool cholesky(std::vector<double>& a, int64_t n);
// b = H^-1 b from H's lower Cholesky factor `l`.
void cholesky_solve(const std::vector<double>& l, int64_t n, std::vector<double>& b);
// H^-1 (full, symmetric) from H's lower Cholesky factor `l`.
std::vector<double> cholesky_inverse(const std::vector<double>& l, int64_t n);

// partial[i * n + j] = sum over rows s of y[s * n + i] * x[s * n + j] (Y^T X, float), through
// the runtime's packed GEMM with the widest SIMD this CPU has: these sums are most of what
// OBS pruning and weight clustering spend besides running the model.
class GramProduct {
 public:
  void run(const float* y, const float* x, int64_t rows, int64_t n, float* partial);

 private:
  std::vector<float> yt_, packed_;
};

// X^T X over rows added one at a time: kChunk rows are collected, their product taken in
// float by GramProduct, and its lower triangle folded into doubles.
class GramSum {
 public:
  // with_cross: also X_d^T X_p over rows given in pairs (pruned model's, dense model's).
  GramSum(int64_t n, bool with_cross)
      : n_(n), chunk_(static_cast<size_t>(kChunk * n)), partial_(static_cast<size_t>(n * n)),
        sum_(static_cast<size_t>(n * n), 0.0) {
    if (with_cross) {
      dense_chunk_.resize(chunk_.size());
      cross_.assign(sum_.size(), 0.0);
      dense_sum_.assign(sum_.size(), 0.0);
    }
  }

  void add(const float* x, const float* dense) {
    std::copy(x, x + n_, chunk_.begin() + pending_ * n_);
    if (!cross_.empty()) std::copy(dense, dense + n_, dense_chunk_.begin() + pending_ * n_);
    ++rows_;
    if (++pending_ == kChunk) flush();
  }

  // X_p^T X_p; then X_d^T X_p and X_d^T X_d (empty without cross).
  std::vector<double> take() {
    flush();
    mirror(sum_);
    mirror(dense_sum_);
    return std::move(sum_);
  }
  std::vector<double> take_cross() { return std::move(cross_); }
  std::vector<double> take_dense() { return std::move(dense_sum_); }
  int64_t rows() const { return rows_; }

 private:
  static constexpr int64_t kChunk = 64;
  void mirror(std::vector<double>& m) const {
    if (m.empty()) return;
    for (int64_t i = 0; i < n_; ++i)
      for (int64_t j = 0; j < i; ++j) m[static_cast<size_t>(j * n_ + i)] = m[static_cast<size_t>(i * n_ + j)];
  }
  // The lower triangle of partial_ added to `sum`.
  void add_lower(std::vector<double>& sum) const {
    for (int64_t i = 0; i < n_; ++i)
      for (int64_t j = 0; j <= i; ++j) sum[static_cast<size_t>(i * n_ + j)] += partial_[static_cast<size_t>(i * n_ + j)];
  }
  void flush() {
    if (pending_ == 0) return;
    product_.run(chunk_.data(), chunk_.data(), pending_, n_, partial_.data());
    add_lower(sum_);
    if (!cross_.empty()) {
      product_.run(dense_chunk_.data(), dense_chunk_.data(), pending_, n_, partial_.data());
      add_lower(dense_sum_);
      product_.run(dense_chunk_.data(), chunk_.data(), pending_, n_, partial_.data());
      for (size_t i = 0; i < cross_.size(); ++i) cross_[i] += partial_[i];
    }
    pending_ = 0;
  }
  GramProduct product_;
  int64_t n_;
  std::vector<float> chunk_, dense_chunk_, partial_;
  std::vector<double> sum_, cross_, dense_sum_;
  int64_t rows_ = 0;
  int64_t pending_ = 0;
};

// How one input tensor of the layer turns into rows of its weight matrix's inputs.
struct InputLayout {
  bool conv = false;
  int64_t batch = 1, channels = 0, height = 1, width = 1;  // conv input, NCHW (1-D: height 1)
  int64_t out_h = 1, out_w = 1, kh = 1, kw = 1;
  int64_t stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1, pad_h = 0, pad_w = 0;
  int64_t groups = 1;
  bool trans_a = false;  // Gemm input stored [K, M]
  int64_t m = 0;         // Gemm/MatMul rows per sample

  int64_t rows_per_sample() const { return conv ? batch * out_h * out_w : m; }
};

// Why the inputs of Conv/Gemm/MatMul `layer` (weight `weight`, `cols` inputs per output)
// cannot be read as rows, or "" with `in` filled.
std::string describe_input(const ir::Graph& g, ir::NodeId layer, ir::TensorId weight, int64_t cols, InputLayout& in);
// One row of the layer's inputs: gemm row r, or the im2col row of output pixel r, group grp.
void input_row(const InputLayout& in, const float* x, int64_t cols, int64_t r, int64_t grp, float* out);
// `count` of `total` row indices, spread so that successive samples cover all positions.
std::vector<int64_t> spread_rows(int64_t total, int64_t count, size_t sample);
// Runs the graph up to tensor x only (channels-last inside; x is the NCHW output).
std::unique_ptr<GraphRunner> runner_upto(const ir::Graph& g, ir::TensorId x);
// The same up to several distinct tensors, watched in the order given.
std::unique_ptr<GraphRunner> runner_upto(const ir::Graph& g, const std::vector<ir::TensorId>& tensors);
// Calibration samples for the reconstruction of a graph (the caps above), and of one layer
// whose inputs give `rows_per_sample` rows: enough for kObsMaxRows, at least kObsMinSamples.
size_t reconstruction_samples(const ir::Graph& g, size_t available);
size_t layer_samples(size_t samples, int64_t rows_per_sample);


// Prunes `layers` (in topological order) one after the other: each layer's H is measured on
// the graph with the layers before it already pruned and updated (X_d^T X_p against the graph
// as it was), and its new weight is written to the graph. Layers whose input cannot be measured are pruned by magnitude; each
// layer's decision says which ran and the output error against magnitude pruning's.
void prune_layers_with_update(std::vector<PruneLayer*>& layers, ir::Graph& g, PassContext& ctx);

}  // namespace pare::passes
