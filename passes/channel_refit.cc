#include "passes/channel_refit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>

#include "passes/graph_runner.h"
#include "passes/pass_util.h"
#include "passes/prune_layers.h"
#include "passes/prune_reconstruct.h"

namespace pare::passes {
namespace {

// A Conv's or Gemm's effective weights (alpha folded in) as [rows, cols + 1], the last column
// its bias (beta folded in, zero when it has none).
struct AffineLayer {
  int64_t rows = 0, cols = 0;
  std::vector<double> w;
};

bool gemm_trans_b(const ir::Node& n) { return n.attrs.get_int("transB", 0) != 0; }

AffineLayer read_affine(const ir::Graph& g, const ir::Node& n) {
  const ir::Tensor& weight = g.tensor(n.inputs[1]);
  const std::vector<int64_t> dims = weight.shape.sizes();
  const bool gemm = n.op == ir::OpKind::kGemm;
  const bool transposed = gemm && !gemm_trans_b(n);  // [K, N]
  AffineLayer a;
  a.rows = transposed ? dims[1] : dims[0];
  a.cols = weight.shape.num_elements() / a.rows;
  const int64_t n1 = a.cols + 1;
  a.w.assign(static_cast<size_t>(a.rows * n1), 0.0);
  const double alpha = gemm ? n.attrs.get_float("alpha", 1.f) : 1.0;
  const double beta = gemm ? n.attrs.get_float("beta", 1.f) : 1.0;
  const float* v = weight.values<float>();
  for (int64_t r = 0; r < a.rows; ++r)
    for (int64_t c = 0; c < a.cols; ++c)
      a.w[static_cast<size_t>(r * n1 + c)] = alpha * v[transposed ? c * a.rows + r : r * a.cols + c];
  if (n.inputs.size() > 2 && n.inputs[2] != ir::kNoTensor) {
    const ir::Tensor& bias = g.tensor(n.inputs[2]);
    const float* b = bias.values<float>();
    const bool scalar = bias.shape.num_elements() == 1;
    for (int64_t r = 0; r < a.rows; ++r) a.w[static_cast<size_t>(r * n1 + a.cols)] = beta * b[scalar ? 0 : r];
  }
  return a;
}

// Replaces the node's weight and bias by `a` (new constants named from `names`; alpha and
// beta become 1).
void write_affine(ir::Graph& g, TensorNames& names, ir::NodeId id, const AffineLayer& a) {
  const ir::Node& n = g.node(id);
  const ir::Tensor& weight = g.tensor(n.inputs[1]);
  const bool gemm = n.op == ir::OpKind::kGemm;
  const bool transposed = gemm && !gemm_trans_b(n);
  const int64_t n1 = a.cols + 1;
  std::vector<float> w(static_cast<size_t>(a.rows * a.cols)), bias(static_cast<size_t>(a.rows));
  for (int64_t r = 0; r < a.rows; ++r) {
    for (int64_t c = 0; c < a.cols; ++c)
      w[static_cast<size_t>(transposed ? c * a.rows + r : r * a.cols + c)] = static_cast<float>(a.w[static_cast<size_t>(r * n1 + c)]);
    bias[static_cast<size_t>(r)] = static_cast<float>(a.w[static_cast<size_t>(r * n1 + a.cols)]);
  }
  const std::vector<int64_t> dims = weight.shape.sizes();
  const std::string name = weight.name;
  const ir::TensorId new_w = add_float_constant(g, names, name + ".refit", dims, w);
  const ir::TensorId new_b = add_float_constant(g, names, name + ".refit_bias", {a.rows}, bias);
  ir::Node& node = g.node(id);
  node.inputs[1] = new_w;
  if (node.inputs.size() < 3) node.inputs.resize(3, ir::kNoTensor);
  node.inputs[2] = new_b;
  if (gemm) {
    node.attrs.set("alpha", 1.0f);
    node.attrs.set("beta", 1.0f);
  }
}

// The normal equations of one layer over the rows seen: H = X^T X and C = Y^T X with X the
// pruned model's input rows (and a 1 for the bias), Y the dense layer's outputs; and sum Y^2.
struct NormalEquations {
  std::vector<double> h, c;
  double target_energy = 0;
  int64_t rows = 0;
};

// sum over rows of |a x - y|^2 = a H a^T - 2 a C_r + |y|^2, per output row r of a.
double squared_error(const AffineLayer& a, const NormalEquations& eq) {
  const int64_t n = a.cols + 1;
  double total = eq.target_energy;
  std::vector<double> ha(static_cast<size_t>(n));
  for (int64_t r = 0; r < a.rows; ++r) {
    const double* ar = &a.w[static_cast<size_t>(r * n)];
    const double* cr = &eq.c[static_cast<size_t>(r * n)];
    std::fill(ha.begin(), ha.end(), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      if (ar[i] == 0) continue;
      const double* hi = &eq.h[static_cast<size_t>(i * n)];
      for (int64_t j = 0; j < n; ++j) ha[static_cast<size_t>(j)] += ar[i] * hi[j];
    }
    for (int64_t j = 0; j < n; ++j) total += ar[j] * (ha[static_cast<size_t>(j)] - 2 * cr[j]);
  }
  return std::max(0.0, total);
}

// W' (H + D) = C + W D, row by row; false when H + D cannot be factored.
bool solve_refit(const NormalEquations& eq, AffineLayer& a) {
  const int64_t n = a.cols + 1;
  std::vector<double> h = eq.h;
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) mean_diag += h[static_cast<size_t>(i * n + i)];
  mean_diag /= static_cast<double>(n);
  if (!(mean_diag > 0)) return false;
  std::vector<double> added(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double& d = h[static_cast<size_t>(i * n + i)];
    const double before = d;
    if (d == 0) d = mean_diag;  // an input that is always zero: its weights stay as they are
    d += kRefitDamping * mean_diag;
    added[static_cast<size_t>(i)] = d - before;
  }
  if (!cholesky(h, n)) return false;
  std::vector<double> b(static_cast<size_t>(n));
  for (int64_t r = 0; r < a.rows; ++r) {
    double* ar = &a.w[static_cast<size_t>(r * n)];
    const double* cr = &eq.c[static_cast<size_t>(r * n)];
    for (int64_t j = 0; j < n; ++j) b[static_cast<size_t>(j)] = cr[j] + added[static_cast<size_t>(j)] * ar[j];
    cholesky_solve(h, n, b);
    std::copy(b.begin(), b.end(), ar);
  }
  return true;
}

// One layer of a batch: its weights now and in the dense graph, what measuring it found.
struct LayerRefit {
  AffineLayer now, target;
  NormalEquations eq;
  std::string why;  // why it is not refitted, when not empty
};

// What a batch holds at once for a layer: H and C, both layers' weights (doubles) and its
// input tensor in each graph.
size_t refit_bytes(const ir::Graph& pruned, const ir::Graph& dense, const RefitLayer& l) {
  const ir::Node& node = pruned.node(l.node);
  const ir::Tensor& x = pruned.tensor(node.inputs[0]);
  const ir::Tensor& w = pruned.tensor(node.inputs[1]);
  const ir::Tensor& dw = dense.tensor(dense.node(l.node).inputs[1]);
  const double outputs = static_cast<double>(l.kept_outputs.size());
  const double n = outputs > 0 ? static_cast<double>(w.shape.num_elements()) / outputs + 1 : 1;
  double bytes = 8 * (n * n + outputs * n + static_cast<double>(w.shape.num_elements()) +
                      static_cast<double>(dw.shape.num_elements()));
  if (x.shape.is_static()) bytes += 8 * static_cast<double>(x.shape.num_elements());
  return bytes >= 1e18 ? size_t{1} << 60 : static_cast<size_t>(bytes);
}

// The normal equations of layers [first, end) of `layers` (none depending on another of
// them) on `samples` calibration samples, from one run of each graph per sample: batch[k -
// first].eq, or its why.
void measure_batch(const ir::Graph& pruned, const ir::Graph& dense, const std::vector<RefitLayer>& layers,
                   size_t first, size_t end, const CalibrationData& data, size_t samples,
                   std::vector<LayerRefit>& batch) {
  struct Pending {
    LayerRefit* refit = nullptr;
    const RefitLayer* layer = nullptr;
    InputLayout in, dense_in;
    size_t watch = 0, samples = 0;
    int64_t per_sample = 0;
    std::unique_ptr<GramSum> gram;
  };
  std::vector<Pending> pending;
  std::vector<ir::TensorId> watched;
  std::map<ir::TensorId, size_t> watch_index;
  size_t most = 0;
  for (size_t k = first; k < end; ++k) {
    const RefitLayer& l = layers[k];
    LayerRefit& r = batch[k - first];
    if (static_cast<int64_t>(l.kept_outputs.size()) != r.now.rows) {
      r.why = "output channels do not match";
      continue;
    }
    const ir::Node& node = pruned.node(l.node);
    Pending p;
    p.refit = &r;
    p.layer = &l;
    r.why = describe_input(pruned, l.node, node.inputs[1], r.now.cols, p.in);
    if (r.why.empty()) r.why = describe_input(dense, l.node, dense.node(l.node).inputs[1], r.target.cols, p.dense_in);
    if (!r.why.empty()) continue;
    if (p.in.groups != 1 || p.dense_in.groups != 1) {
      r.why = "grouped conv";
      continue;
    }
    if (p.in.rows_per_sample() != p.dense_in.rows_per_sample()) {
      r.why = "input rows differ from the dense model's";
      continue;
    }
    const ir::TensorId x = node.inputs[0];
    if (std::find(pruned.inputs.begin(), pruned.inputs.end(), x) != pruned.inputs.end()) {
      r.why = "reads a graph input";
      continue;
    }
    auto [it, added] = watch_index.emplace(x, watched.size());
    if (added) watched.push_back(x);
    p.watch = it->second;
    p.samples = layer_samples(samples, p.in.rows_per_sample());
    p.per_sample = std::max<int64_t>(1, kObsMaxRows / static_cast<int64_t>(p.samples));
    p.gram = std::make_unique<GramSum>(r.now.cols + 1, false);
    r.eq.c.assign(static_cast<size_t>(r.now.rows * (r.now.cols + 1)), 0.0);
    r.eq.target_energy = 0;
    most = std::max(most, p.samples);
    pending.push_back(std::move(p));
  }
  if (pending.empty()) return;
  std::unique_ptr<GraphRunner> runner = runner_upto(pruned, watched), dense_runner = runner_upto(dense, watched);
  std::vector<float> row, dense_row;
  std::vector<double> y;
  for (size_t s = 0; s < most; ++s) {
    for (GraphRunner* r : {runner.get(), dense_runner.get()}) {
      r->feed(data, s);
      r->run();
    }
    for (Pending& p : pending) {
      if (s >= p.samples) continue;
      const AffineLayer &now = p.refit->now, &target = p.refit->target;
      NormalEquations& eq = p.refit->eq;
      const int64_t n = now.cols + 1, outputs = now.rows, dense_n = target.cols + 1;
      row.assign(static_cast<size_t>(n), 0.f);
      dense_row.assign(static_cast<size_t>(dense_n), 0.f);
      y.assign(static_cast<size_t>(outputs), 0.0);
      const float* values = static_cast<const float*>(runner->watched(p.watch));
      const float* dense_values = static_cast<const float*>(dense_runner->watched(p.watch));
      for (int64_t r : spread_rows(p.in.rows_per_sample(), p.per_sample, s)) {
        input_row(p.in, values, now.cols, r, 0, row.data());
        row[static_cast<size_t>(now.cols)] = 1.f;
        input_row(p.dense_in, dense_values, target.cols, r, 0, dense_row.data());
        dense_row[static_cast<size_t>(target.cols)] = 1.f;
        p.gram->add(row.data(), row.data());  // no cross term: the second row is unused
        for (int64_t o = 0; o < outputs; ++o) {
          const double* wo = &target.w[static_cast<size_t>(p.layer->kept_outputs[static_cast<size_t>(o)] * dense_n)];
          double v = 0;
          for (int64_t j = 0; j < dense_n; ++j) v += wo[j] * dense_row[static_cast<size_t>(j)];
          y[static_cast<size_t>(o)] = v;
          eq.target_energy += v * v;
        }
        for (int64_t o = 0; o < outputs; ++o) {
          const double yo = y[static_cast<size_t>(o)];
          double* co = &eq.c[static_cast<size_t>(o * n)];
          for (int64_t j = 0; j < n; ++j) co[j] += yo * row[static_cast<size_t>(j)];
        }
      }
    }
  }
  for (Pending& p : pending) {
    p.refit->eq.rows = p.gram->rows();
    p.refit->eq.h = p.gram->take();
  }
}

}  // namespace

// Batches (plan_layer_batches): one pass over a graph of thousands of parallel layers per
// batch instead of one per layer (4,096 branches: minutes and tens of GB before).
RefitResult refit_layers(ir::Graph& pruned, const ir::Graph& dense, const std::vector<RefitLayer>& layers,
                         const CalibrationData& data, PassContext& ctx, const std::string& pass,
                         size_t max_batch_layers) {
  RefitResult result;
  const auto start = std::chrono::steady_clock::now();
  result.samples = reconstruction_samples(pruned, data.size());
  TensorNames names(pruned);
  std::vector<ir::NodeId> nodes;
  for (const RefitLayer& l : layers) nodes.push_back(l.node);
  std::vector<size_t> batch_end = plan_layer_batches(
      pruned, nodes, [&](size_t k) { return refit_bytes(pruned, dense, layers[k]); },
      std::max<size_t>(1, max_batch_layers), LayerInputMeter::kMaxBatchBytes);
  if (batch_end.size() != layers.size()) {  // not in topological order: one at a time
    batch_end.resize(layers.size());
    for (size_t k = 0; k < layers.size(); ++k) batch_end[k] = k + 1;
  }
  for (size_t first = 0; first < layers.size(); first = batch_end[first]) {
    const size_t end = batch_end[first];
    std::vector<LayerRefit> batch(end - first);
    for (size_t k = first; k < end; ++k) {
      batch[k - first].now = read_affine(pruned, pruned.node(layers[k].node));
      batch[k - first].target = read_affine(dense, dense.node(layers[k].node));
    }
    measure_batch(pruned, dense, layers, first, end, data, result.samples, batch);
    ++result.batches;
    for (size_t k = first; k < end; ++k) {
      const RefitLayer& l = layers[k];
      LayerRefit& r = batch[k - first];
      const std::string name = pruned.node(l.node).name;
      std::string why = r.why;
      if (why.empty()) {
        const double before = squared_error(r.now, r.eq);
        AffineLayer refit = r.now;
        if (!solve_refit(r.eq, refit)) {
          why = "the Gram matrix could not be factored";
        } else {
          const double after = squared_error(refit, r.eq);
          const double energy = std::max(r.eq.target_energy, 1e-30);
          add_note(ctx, pass, "refit " + name + " on " + std::to_string(r.eq.rows) + " input rows: output error " +
                                  format_number("%.2e", before / energy) + " -> " + format_number("%.2e", after / energy));
          if (after < before) {
            write_affine(pruned, names, l.node, refit);
            ++result.refitted;
          } else {
            why = "the refit fits no better";
          }
        }
      }
      if (!why.empty()) {
        ++result.skipped;
        add_note(ctx, pass, "not refit: " + name + " (" + why + ")");
      }
      if (ctx.progress) ctx.progress("prune_channels refit", static_cast<double>(k + 1) / static_cast<double>(layers.size()));
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

namespace {

// (H + damping)^-1 of a [n, n] Gram matrix, damped as the refit is; empty when not invertible.
std::vector<double> damped_inverse(const std::vector<double>& gram, int64_t n) {
  std::vector<double> h = gram;
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) mean_diag += h[static_cast<size_t>(i * n + i)];
  mean_diag /= static_cast<double>(n);
  if (!(mean_diag > 0)) return {};
  for (int64_t i = 0; i < n; ++i) {
    double& d = h[static_cast<size_t>(i * n + i)];
    if (d == 0) d = mean_diag;
    d += kRefitDamping * mean_diag;
  }
  if (!cholesky(h, n)) return {};
  return cholesky_inverse(h, n);
}

// One consumer during the elimination: its current weights (refitted after each removal), the
// inverse of its damped Gram matrix (with the removed inputs eliminated) and, per class, its
// input columns.
struct Eliminating {
  int64_t n = 0, outputs = 0;
  double energy = 0;
  std::vector<double> hinv, w;
  std::vector<std::vector<int64_t>> columns;  // per class
};

// M^-1 with M = hinv restricted to `b`; false when M is not positive definite.
bool block_inverse(const Eliminating& e, const std::vector<int64_t>& b, std::vector<double>& m_inv) {
  const int64_t k = static_cast<int64_t>(b.size());
  std::vector<double> m(static_cast<size_t>(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) m[static_cast<size_t>(i * k + j)] = e.hinv[static_cast<size_t>(b[i] * e.n + b[j])];
  if (!cholesky(m, k)) return false;
  m_inv = cholesky_inverse(m, k);
  return true;
}

// Output error added by removing inputs `b` and refitting the rest: sum_o w_ob M^-1 w_ob^T.
double removal_cost(const Eliminating& e, const std::vector<int64_t>& b) {
  std::vector<double> m_inv, v(b.size());
  if (!block_inverse(e, b, m_inv)) return 0;  // the inputs carry nothing the others do not
  const int64_t k = static_cast<int64_t>(b.size());
  double cost = 0;
  for (int64_t o = 0; o < e.outputs; ++o) {
    for (int64_t i = 0; i < k; ++i) v[static_cast<size_t>(i)] = e.w[static_cast<size_t>(o * e.n + b[i])];
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) cost += v[static_cast<size_t>(i)] * m_inv[static_cast<size_t>(i * k + j)] * v[static_cast<size_t>(j)];
  }
  return cost;
}

// Removes inputs `b`: W -= W_b M^-1 Hinv[b, :], Hinv -= Hinv[:, b] M^-1 Hinv[b, :].
void remove_inputs(Eliminating& e, const std::vector<int64_t>& b) {
  std::vector<double> m_inv;
  const int64_t k = static_cast<int64_t>(b.size()), n = e.n;
  if (block_inverse(e, b, m_inv)) {
    std::vector<double> z(static_cast<size_t>(k * n), 0.0);  // M^-1 Hinv[b, :]
    for (int64_t i = 0; i < k; ++i)
      for (int64_t l = 0; l < k; ++l) {
        const double f = m_inv[static_cast<size_t>(i * k + l)];
        const double* hl = &e.hinv[static_cast<size_t>(b[l] * n)];
        double* zi = &z[static_cast<size_t>(i * n)];
        for (int64_t j = 0; j < n; ++j) zi[j] += f * hl[j];
      }
    // Each row r of `a` loses sum_i a[r, b_i] z_i (the factors read before the row changes).
    std::vector<double> f(static_cast<size_t>(k));
    auto downdate = [&](std::vector<double>& a, int64_t rows) {
      for (int64_t r = 0; r < rows; ++r) {
        double* ar = &a[static_cast<size_t>(r * n)];
        for (int64_t i = 0; i < k; ++i) f[static_cast<size_t>(i)] = ar[b[i]];
        for (int64_t i = 0; i < k; ++i) {
          if (f[static_cast<size_t>(i)] == 0) continue;
          const double* zi = &z[static_cast<size_t>(i * n)];
          for (int64_t j = 0; j < n; ++j) ar[j] -= f[static_cast<size_t>(i)] * zi[j];
        }
      }
    };
    downdate(e.w, e.outputs);
    downdate(e.hinv, n);  // symmetric: row r's factors are Hinv[r, b] = Hinv[b, r]
  }
  for (int64_t i : b) {
    for (int64_t o = 0; o < e.outputs; ++o) e.w[static_cast<size_t>(o * n + i)] = 0;
    for (int64_t j = 0; j < n; ++j) e.hinv[static_cast<size_t>(i * n + j)] = e.hinv[static_cast<size_t>(j * n + i)] = 0;
  }
}

}  // namespace

std::map<ir::NodeId, ConsumerFit> measure_consumers(const ir::Graph& g, const std::vector<ir::NodeId>& consumers,
                                                    const CalibrationData& data) {
  struct Watch {
    ir::NodeId node;
    size_t tensor = 0;  // index among the watched tensors
    InputLayout in;
    size_t samples = 0;
    int64_t per_sample = 0;
    ConsumerFit fit;
    std::unique_ptr<GramSum> sum;
  };
  std::vector<Watch> watches;
  std::vector<ir::TensorId> tensors;
  const size_t samples = reconstruction_samples(g, data.size());
  for (ir::NodeId id : consumers) {
    const ir::Node& n = g.node(id);
    AffineLayer a = read_affine(g, n);
    Watch w;
    w.node = id;
    if (!describe_input(g, id, n.inputs[1], a.cols, w.in).empty() || w.in.groups != 1) continue;
    w.samples = layer_samples(samples, w.in.rows_per_sample());
    w.per_sample = std::max<int64_t>(1, kObsMaxRows / static_cast<int64_t>(w.samples));
    w.fit.cols = a.cols;
    w.fit.outputs = a.rows;
    w.fit.taps = w.in.conv ? w.in.kh * w.in.kw : 1;
    w.fit.w = std::move(a.w);
    w.sum = std::make_unique<GramSum>(a.cols + 1, false);
    w.tensor = std::find(tensors.begin(), tensors.end(), n.inputs[0]) - tensors.begin();
    if (w.tensor == tensors.size()) tensors.push_back(n.inputs[0]);
    watches.push_back(std::move(w));
  }
  std::map<ir::NodeId, ConsumerFit> fits;
  if (watches.empty()) return fits;
  std::unique_ptr<GraphRunner> run = runner_upto(g, tensors);
  GraphRunner& runner = *run;
  size_t most = 0;
  for (const Watch& w : watches) most = std::max(most, w.samples);
  std::vector<float> row;
  for (size_t s = 0; s < most; ++s) {
    runner.feed(data, s);
    runner.run();
    for (size_t k = 0; k < watches.size(); ++k) {
      Watch& w = watches[k];
      if (s >= w.samples) continue;
      const float* values = static_cast<const float*>(runner.watched(w.tensor));
      row.assign(static_cast<size_t>(w.fit.cols + 1), 1.f);
      for (int64_t r : spread_rows(w.in.rows_per_sample(), w.per_sample, s)) {
        input_row(w.in, values, w.fit.cols, r, 0, row.data());
        w.sum->add(row.data(), row.data());
      }
    }
  }
  for (Watch& w : watches) {
    w.fit.h = w.sum->take();
    fits[w.node] = std::move(w.fit);
  }
  return fits;
}

std::vector<double> elimination_scores(const ChannelGroup& group, const std::map<ir::NodeId, ConsumerFit>& fits,
                                       int64_t remove) {
  const size_t classes = static_cast<size_t>(group.num_classes);
  std::vector<Eliminating> consumers;
  for (const GroupMember& m : group.members) {
    auto it = fits.find(m.node);
    if (m.role != MemberRole::kConsumer || it == fits.end()) continue;
    const ConsumerFit& f = it->second;
    Eliminating e;
    e.n = f.cols + 1;
    e.outputs = f.outputs;
    e.w = f.w;
    e.hinv = damped_inverse(f.h, e.n);
    if (e.hinv.empty()) continue;
    // sum (W x)^2 over the rows: the squared error against a zero target.
    e.energy = squared_error(AffineLayer{f.outputs, f.cols, f.w}, NormalEquations{f.h, std::vector<double>(f.w.size(), 0.0), 0, 0});
    if (!(e.energy > 0)) continue;
    const GroupTensor& t = *group.find(m.tensor);
    e.columns.resize(classes);
    for (int64_t u = 0; u < t.units; ++u)
      for (int64_t feature = u * t.spread; feature < (u + 1) * t.spread; ++feature)
        for (int64_t tap = 0; tap < f.taps; ++tap)
          e.columns[static_cast<size_t>(t.class_of[static_cast<size_t>(u)])].push_back(feature * f.taps + tap);
    consumers.push_back(std::move(e));
  }
  if (consumers.empty()) return {};
  std::vector<double> score(classes, static_cast<double>(classes));
  std::vector<bool> alive(classes, true);
  for (int64_t step = 0; step < remove; ++step) {
    size_t best = classes;
    double best_cost = 0;
    for (size_t c = 0; c < classes; ++c) {
      if (!alive[c]) continue;
      double cost = 0;
      for (const Eliminating& e : consumers)
        if (!e.columns[c].empty()) cost += removal_cost(e, e.columns[c]) / e.energy;
      if (best == classes || cost < best_cost) best = c, best_cost = cost;
    }
    if (best == classes) break;
    alive[best] = false;
    score[best] = static_cast<double>(step);
    for (Eliminating& e : consumers)
      if (!e.columns[best].empty()) remove_inputs(e, e.columns[best]);
  }
  return score;
}

}  // namespace pare::passes
