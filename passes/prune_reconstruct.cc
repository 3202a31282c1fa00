#include "passes/prune_reconstruct.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <cmath>
#include <functional>
#include <numeric>
#include <string>

#include <Eigen/Dense>

#include "ir/status.h"
#include "passes/canonical.h"
#include "passes/graph_runner.h"
#include "passes/layer_inputs.h"
#include "passes/pass_util.h"
#include "runtime/cpu.h"
#include "runtime/kernels/gemm/gemm.h"

namespace pare::passes {

// ---- linear algebra on small dense symmetric matrices (row-major, double) ----------------

// Eigen's blocked factorization and triangular solves (the scalar loops they replace spent
// minutes of select=lsq on a 4,609-input layer of ResNet-18).
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// In place: the lower Cholesky factor L of a (a = L L^T), upper triangle zeroed. False when a
// is not positive definite.
bool cholesky(std::vector<double>& a, int64_t n) {
  Eigen::Map<RowMatrix> m(a.data(), n, n);
  Eigen::LLT<Eigen::Ref<RowMatrix>> llt(m);  // factors m in place
  if (llt.info() != Eigen::Success) return false;
  m.triangularView<Eigen::StrictlyUpper>().setZero();
  // LLT stops at a diagonal <= 0 but not at a NaN one.
  return m.diagonal().allFinite();
}

// z = H^-1 b from H's lower Cholesky factor `l`.
void cholesky_solve(const std::vector<double>& l, int64_t n, std::vector<double>& b) {
  Eigen::Map<const RowMatrix> lm(l.data(), n, n);
  Eigen::Map<Eigen::VectorXd> v(b.data(), n);
  lm.triangularView<Eigen::Lower>().solveInPlace(v);
  lm.transpose().triangularView<Eigen::Upper>().solveInPlace(v);
}

std::vector<double> cholesky_inverse(const std::vector<double>& l, int64_t n) {
  // H^-1 = L^-T L^-1: L^-1 by a triangular solve, then its Gram matrix as a symmetric rank
  // update (half the products of a full one).
  Eigen::Map<const RowMatrix> lm(l.data(), n, n);
  RowMatrix linv = RowMatrix::Identity(n, n);
  lm.triangularView<Eigen::Lower>().solveInPlace(linv);
  std::vector<double> out(static_cast<size_t>(n * n), 0.0);
  Eigen::Map<RowMatrix> hinv(out.data(), n, n);
  hinv.selfadjointView<Eigen::Lower>().rankUpdate(linv.transpose());
  hinv.triangularView<Eigen::StrictlyUpper>() = hinv.transpose();
  return out;
}

namespace {

// The upper factor U of H^-1 = U^T U, from H's lower Cholesky factor `h`.
bool inverse_upper_factor(const std::vector<double>& h, int64_t n, std::vector<double>& u) {
  std::vector<double> hinv = cholesky_inverse(h, n);
  if (!cholesky(hinv, n)) return false;
  u.assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) u[static_cast<size_t>(j * n + i)] = hinv[static_cast<size_t>(i * n + j)];
  return true;
}

}  // namespace

// ---- the OBS sweep (shared by prune and cluster) -----------------------------------------

bool factor_gram(const std::vector<double>& gram, int64_t n, double damping, ObsFactor& f) {
  f.n = n;
  f.chol = gram;
  std::vector<double>& h = f.chol;
  double mean_diag = 0;
  for (int64_t i = 0; i < n; ++i) mean_diag += h[static_cast<size_t>(i * n + i)];
  mean_diag /= static_cast<double>(n);
  if (!(mean_diag > 0)) return false;
  f.added.assign(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double& d = h[static_cast<size_t>(i * n + i)];
    const double before = d;
    if (d == 0) d = mean_diag;  // an input that is always zero: its weights do not matter
    d += damping * mean_diag;
    f.added[static_cast<size_t>(i)] = d - before;
  }
  return cholesky(h, n) && inverse_upper_factor(h, n, f.u);
}

void refit_to_dense_output(const ObsFactor& f, const std::vector<double>& cross, std::vector<double>& w, int64_t rows) {
  const int64_t n = f.n;
  std::vector<double> b(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    double* wr = &w[static_cast<size_t>(r * n)];
    // The damping pulls towards W, not towards zero: W' (H + D) = W X_d^T X_p + W D, so
    // that W' = W where X_p = X_d.
    for (int64_t j = 0; j < n; ++j) b[static_cast<size_t>(j)] = f.added[static_cast<size_t>(j)] * wr[j];
    for (int64_t j = 0; j < n; ++j) {
      const double* cj = &cross[static_cast<size_t>(j * n)];
      for (int64_t k = 0; k < n; ++k) b[static_cast<size_t>(k)] += wr[j] * cj[k];
    }
    cholesky_solve(f.chol, n, b);
    std::copy(b.begin(), b.end(), wr);
  }
}

void obs_sweep(const ObsFactor& f, std::vector<double>& w, int64_t rows,
               const std::function<void(int64_t, int64_t)>& block_start,
               const std::function<double(int64_t, int64_t, double)>& round) {
  const int64_t n = f.n;
  const std::vector<double>& u = f.u;
  std::vector<double> err(static_cast<size_t>(rows * kObsBlock));
  for (int64_t i1 = 0; i1 < n; i1 += kObsBlock) {
    const int64_t i2 = std::min(n, i1 + kObsBlock), nb = i2 - i1;
    if (block_start) block_start(i1, i2);
    for (int64_t j = i1; j < i2; ++j) {
      const double* uj = &u[static_cast<size_t>(j * n)];
      for (int64_t r = 0; r < rows; ++r) {
        double* wr = &w[static_cast<size_t>(r * n)];
        const double q = round(r, j, wr[j]);
        const double e = (wr[j] - q) / uj[j];
        err[static_cast<size_t>(r * kObsBlock + (j - i1))] = e;
        wr[j] = q;
        if (e == 0) continue;
        for (int64_t c = j + 1; c < i2; ++c) wr[c] -= e * uj[c];
      }
    }
    // The block's errors into the later columns.
    for (int64_t r = 0; r < rows && i2 < n; ++r) {
      double* wr = &w[static_cast<size_t>(r * n)];
      for (int64_t t = 0; t < nb; ++t) {
        const double e = err[static_cast<size_t>(r * kObsBlock + t)];
        if (e == 0) continue;
        const double* ut = &u[static_cast<size_t>((i1 + t) * n)];
        for (int64_t c = i2; c < n; ++c) wr[c] -= e * ut[c];
      }
    }
  }
}

namespace {

// ---- the OBS update of one group of rows --------------------------------------------------

// Units to zero among [start, end) of the layer's units in processing order, so that the
// total is llround(target * units) exactly, as magnitude pruning zeroes.
int64_t quota(double target, int64_t start, int64_t end) {
  return std::llround(target * static_cast<double>(end)) - std::llround(target * static_cast<double>(start));
}

// Rows [row0, row0 + rows) of l.matrix share one H. `unit0`: the units of the rows before.
// `cross` (X_d^T X_p, or empty): first refit the rows to the dense model's output on the
// dense model's inputs X_d, the least-squares fit from the pruned model's inputs X_p
// (W X_d^T X_p H^-1, damped towards W), so that the errors of the layers before are
// corrected too.
bool update_group(PruneLayer& l, int64_t row0, int64_t rows, const std::vector<double>& gram,
                  const std::vector<double>& cross, int64_t unit0) {
  const int64_t n = l.cols, ur = l.unit_rows;
  ObsFactor f;
  if (!factor_gram(gram, n, kObsDamping, f)) return false;
  std::vector<double> w(static_cast<size_t>(rows * n));
  for (int64_t i = 0; i < rows * n; ++i) w[static_cast<size_t>(i)] = l.matrix[static_cast<size_t>(row0 * n + i)];
  if (!cross.empty()) refit_to_dense_output(f, cross, w, rows);
  std::vector<char> zeroed(w.size(), 0);
  auto score = [&](int64_t r, int64_t c) {
    const double d = f.u[static_cast<size_t>(c * n + c)];
    const double v = w[static_cast<size_t>(r * n + c)];
    return v * v / (d * d);
  };
  auto choose_block = [&](int64_t i1, int64_t i2) {
    if (l.two_of_four) return;
    // The block's lowest-scoring units (ur rows x 1 column), ties: the first.
    const int64_t blocks = rows / ur, nb = i2 - i1;
    const int64_t k = quota(l.target, unit0 + blocks * i1, unit0 + blocks * i2);
    std::vector<std::pair<double, int64_t>> units;
    units.reserve(static_cast<size_t>(blocks * nb));
    for (int64_t b = 0; b < blocks; ++b)
      for (int64_t c = i1; c < i2; ++c) {
        double s = 0;
        for (int64_t r = b * ur; r < (b + 1) * ur; ++r) s += score(r, c);
        units.push_back({s, b * n + c});
      }
    const auto kk = static_cast<size_t>(std::clamp<int64_t>(k, 0, static_cast<int64_t>(units.size())));
    if (kk < units.size()) std::nth_element(units.begin(), units.begin() + static_cast<std::ptrdiff_t>(kk), units.end());
    for (size_t i = 0; i < kk; ++i) {
      const int64_t b = units[i].second / n, c = units[i].second % n;
      for (int64_t r = b * ur; r < (b + 1) * ur; ++r) zeroed[static_cast<size_t>(r * n + c)] = 1;
    }
  };
  auto round = [&](int64_t r, int64_t j, double value) {
    if (l.two_of_four && j % 4 == 0) {
      int order[4] = {0, 1, 2, 3};
      std::stable_sort(order, order + 4, [&](int a, int b) { return score(r, j + a) < score(r, j + b); });
      zeroed[static_cast<size_t>(r * n + j + order[0])] = 1;
      zeroed[static_cast<size_t>(r * n + j + order[1])] = 1;
    }
    return zeroed[static_cast<size_t>(r * n + j)] ? 0.0 : value;
  };
  obs_sweep(f, w, rows, choose_block, round);
  for (int64_t i = 0; i < rows * n; ++i)
    l.matrix[static_cast<size_t>(row0 * n + i)] = zeroed[static_cast<size_t>(i)] ? 0.f : static_cast<float>(w[static_cast<size_t>(i)]);
  return true;
}

}  // namespace

bool prune_with_update(PruneLayer& l, const LayerGram& gram) {
  if (gram.cols != l.cols || gram.groups < 1 || l.rows % gram.groups != 0 ||
      static_cast<int64_t>(gram.h.size()) != gram.groups)
    return false;
  const int64_t rows = l.rows / gram.groups;
  if (rows % l.unit_rows != 0 || (l.two_of_four && l.cols % 4 != 0)) return false;
  if (l.target <= 0) return true;
  const std::vector<float> original = l.matrix;
  for (int64_t k = 0; k < gram.groups; ++k)
    if (!update_group(l, k * rows, rows, gram.h[static_cast<size_t>(k)],
                      gram.cross.empty() ? std::vector<double>{} : gram.cross[static_cast<size_t>(k)],
                      k * rows / l.unit_rows * l.cols)) {
      l.matrix = original;
      return false;
    }
  return true;
}

double relative_output_error(const std::vector<float>& a, const std::vector<float>& b, const LayerGram& gram) {
  const int64_t n = gram.cols, rows = static_cast<int64_t>(b.size()) / n / gram.groups;
  const bool cross = !gram.cross.empty();
  // Without cross: sum (a - b) H (a - b)^T / b H b^T. With it, against b on the dense inputs:
  // a H a^T - 2 b (X_d^T X_p) a^T + b H_d b^T over b H_d b^T.
  double noise = 0, energy = 0;
  std::vector<double> d(static_cast<size_t>(n)), x(static_cast<size_t>(n)), hd(static_cast<size_t>(n)),
      hx(static_cast<size_t>(n)), ca(static_cast<size_t>(n));
  // y += v_i * m[i, :] over i: m v for a symmetric m, or m^T v; sums of rows vectorize.
  auto rows_times = [n](const std::vector<double>& m, const std::vector<double>& v, std::vector<double>& y) {
    std::fill(y.begin(), y.end(), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const double vi = v[static_cast<size_t>(i)];
      if (vi == 0) continue;
      const double* mi = &m[static_cast<size_t>(i * n)];
      for (int64_t j = 0; j < n; ++j) y[static_cast<size_t>(j)] += vi * mi[j];
    }
  };
  auto dot = [](const std::vector<double>& u, const std::vector<double>& v) {
    double s = 0;
    for (size_t i = 0; i < u.size(); ++i) s += u[i] * v[i];
    return s;
  };
  for (int64_t r = 0; r < rows * gram.groups; ++r) {
    const size_t group = static_cast<size_t>(r / rows);
    for (int64_t c = 0; c < n; ++c) {
      const double av = a[static_cast<size_t>(r * n + c)], bv = b[static_cast<size_t>(r * n + c)];
      d[static_cast<size_t>(c)] = cross ? av : av - bv;
      x[static_cast<size_t>(c)] = bv;
    }
    rows_times(gram.h[group], d, hd);
    noise += dot(d, hd);
    rows_times(cross ? gram.dense_h[group] : gram.h[group], x, hx);
    const double e = dot(x, hx);
    energy += e;
    if (cross) {
      rows_times(gram.cross[group], x, ca);  // (X_d^T X_p)^T b = X_p^T X_d b
      noise += e - 2 * dot(d, ca);
    }
  }
  return energy > 0 ? std::max(0.0, noise) / energy : noise;
}

// ---- measuring H on the graph -------------------------------------------------------------

// `count` of `total` row indices, evenly spaced from a phase that moves with the sample, so
// that the samples together cover all positions.
std::vector<int64_t> spread_rows(int64_t total, int64_t count, size_t sample) {
  std::vector<int64_t> picked;
  if (count >= total) {
    picked.resize(static_cast<size_t>(total));
    std::iota(picked.begin(), picked.end(), 0);
    return picked;
  }
  const double phase = std::fmod(static_cast<double>(sample) * 0.6180339887, 1.0);
  for (int64_t i = 0; i < count; ++i)
    picked.push_back(std::min(total - 1, static_cast<int64_t>((static_cast<double>(i) + phase) * static_cast<double>(total) / static_cast<double>(count))));
  return picked;
}

// Why the layer's inputs cannot be read as rows, or "".
std::string describe_input(const ir::Graph& g, ir::NodeId layer, ir::TensorId weight, int64_t cols, InputLayout& in) {
  const ir::Node& node = g.node(layer);
  const ir::Tensor& x = g.tensor(node.inputs[0]);
  if (!x.shape.is_static() || x.dtype != ir::DType::kFloat32) return "input is not a static float32 tensor";
  const std::vector<int64_t> dims = x.shape.sizes();
  if (node.op != ir::OpKind::kConv) {
    in.trans_a = node.op == ir::OpKind::kGemm && node.attrs.get_int("transA", 0) != 0;
    if (dims.empty() || (in.trans_a ? dims.front() : dims.back()) != cols) return "input's last axis is not the weight's";
    in.m = x.shape.num_elements() / cols;
    return "";
  }
  if (node.attrs.has("layout")) return "conv not in NCHW layout";
  const std::vector<int64_t> wd = g.tensor(weight).shape.sizes();
  const size_t spatial = dims.size() - 2;
  if (dims.size() < 3 || dims.size() > 4 || wd.size() != dims.size()) return "conv is not 1-D or 2-D";
  in.conv = true;
  in.batch = dims[0];
  in.channels = dims[1];
  in.groups = node.attrs.get_int("group", 1);
  if (in.groups < 1 || in.channels != wd[1] * in.groups) return "conv input channels do not match the weight";
  const std::vector<int64_t> strides = node.attrs.get_ints("strides", std::vector<int64_t>(spatial, 1));
  const std::vector<int64_t> dilations = node.attrs.get_ints("dilations", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> pads = node.attrs.get_ints("pads", std::vector<int64_t>(2 * spatial, 0));
  if (strides.size() != spatial || dilations.size() != spatial || pads.size() != 2 * spatial)
    return "conv attributes do not match its rank";
  const std::string auto_pad = node.attrs.get_string("auto_pad", "NOTSET");
  std::vector<int64_t> out(spatial);
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t size = dims[2 + i], kernel = wd[2 + i], extent = (kernel - 1) * dilations[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      out[i] = (size + strides[i] - 1) / strides[i];
      const int64_t total = std::max<int64_t>(0, (out[i] - 1) * strides[i] + extent - size);
      pads[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    } else {
      if (auto_pad == "VALID") pads[i] = pads[i + spatial] = 0;
      out[i] = (size + pads[i] + pads[i + spatial] - extent) / strides[i] + 1;
    }
    if (out[i] < 1) return "conv output is empty";
  }
  const bool two_d = spatial == 2;
  in.height = two_d ? dims[2] : 1;
  in.width = dims.back();
  in.kh = two_d ? wd[2] : 1;
  in.kw = wd.back();
  in.out_h = two_d ? out[0] : 1;
  in.out_w = out.back();
  in.stride_h = two_d ? strides[0] : 1;
  in.stride_w = strides.back();
  in.dil_h = two_d ? dilations[0] : 1;
  in.dil_w = dilations.back();
  in.pad_h = two_d ? pads[0] : 0;
  in.pad_w = pads[spatial - 1];
  return "";
}

// One row of the layer's inputs: gemm row r, or the im2col row of output pixel r, group grp.
void input_row(const InputLayout& in, const float* x, int64_t cols, int64_t r, int64_t grp, float* out) {
  if (!in.conv) {
    for (int64_t c = 0; c < cols; ++c) out[c] = in.trans_a ? x[c * in.m + r] : x[r * cols + c];
    return;
  }
  const int64_t per_group = in.channels / in.groups;
  const int64_t b = r / (in.out_h * in.out_w), oy = r / in.out_w % in.out_h, ox = r % in.out_w;
  for (int64_t ci = 0; ci < per_group; ++ci) {
    const float* plane = x + (b * in.channels + grp * per_group + ci) * in.height * in.width;
    for (int64_t ky = 0; ky < in.kh; ++ky) {
      const int64_t iy = oy * in.stride_h - in.pad_h + ky * in.dil_h;
      for (int64_t kx = 0; kx < in.kw; ++kx) {
        const int64_t ix = ox * in.stride_w - in.pad_w + kx * in.dil_w;
        *out++ = iy >= 0 && iy < in.height && ix >= 0 && ix < in.width ? plane[iy * in.width + ix] : 0.f;
      }
    }
  }
}

size_t reconstruction_samples(const ir::Graph& g, size_t available) {
  size_t input_values = 0;
  for (ir::TensorId t : g.inputs)
    if (g.tensor(t).shape.is_static()) input_values += static_cast<size_t>(g.tensor(t).shape.num_elements());
  return std::max<size_t>(1, std::min({available, kObsMaxSamples, kObsMaxInputValues / std::max<size_t>(1, input_values)}));
}

size_t layer_samples(size_t samples, int64_t rows_per_sample) {
  const int64_t enough = std::max<int64_t>(static_cast<int64_t>(kObsMinSamples),
                                           (kObsMaxRows + rows_per_sample - 1) / std::max<int64_t>(1, rows_per_sample));
  return std::min<size_t>(samples, static_cast<size_t>(enough));
}

// Runs the graph up to tensor x only, channels-last (the fast conv kernels); x itself stays
// NCHW as the graph output.
std::unique_ptr<GraphRunner> runner_upto(const ir::Graph& g, const std::vector<ir::TensorId>& tensors) {
  ir::Graph upto = g;
  upto.outputs = tensors;
  upto.remove_dead_nodes();
  PassContext scratch;
  Status nhwc = run_nhwc(upto, PassOptions{}, scratch);
  if (!nhwc.is_ok()) throw_internal("channels-last copy: " + nhwc.message());
  return std::make_unique<GraphRunner>(upto, upto.outputs);
}

std::unique_ptr<GraphRunner> runner_upto(const ir::Graph& g, ir::TensorId x) {
  return runner_upto(g, std::vector<ir::TensorId>{x});
}

void GramProduct::run(const float* y, const float* x, int64_t rows, int64_t n, float* partial) {
  namespace k = rt::kernels;
  const k::F32GemmVariant& v = k::select_f32_gemm(rt::best_isa());
  const auto depth = static_cast<size_t>(rows), cols = static_cast<size_t>(n);
  // A = Y^T (row i: column i of Y), B = X packed as [rows, n].
  yt_.resize(cols * depth);
  for (size_t s = 0; s < depth; ++s)
    for (size_t i = 0; i < cols; ++i) yt_[i * depth + s] = y[s * cols + i];
  packed_.resize(k::f32_gemm_packed_b_bytes(v.nr, cols, depth) / sizeof(float) + 16);
  const auto address = reinterpret_cast<uintptr_t>(packed_.data());
  float* packed = packed_.data() + ((64 - address % 64) % 64) / sizeof(float);  // panels need 64-byte alignment
  k::f32_gemm_pack_b_kn(v.nr, cols, depth, x, cols, nullptr, packed);
  k::F32GemmArgs args;
  args.m = cols;
  args.n = cols;
  args.k = depth;
  args.a = yt_.data();
  args.a_stride = depth;
  args.packed_b = packed;
  args.c = partial;
  args.c_stride = cols;
  k::f32_gemm_tiles(v, args, 0, k::f32_gemm_m_tiles(v, cols) * k::f32_gemm_n_panels(v, cols));
}

void prune_layers_with_update(std::vector<PruneLayer*>& layers, ir::Graph& g, PassContext& ctx) {
  const CalibrationData& data = *ctx.calibration;
  const size_t samples = reconstruction_samples(g, data.size());
  const auto start = std::chrono::steady_clock::now();
  const ir::Graph dense_graph = g;  // the weights are replaced, never written in place
  LayerInputMeter::Wanted wanted;
  wanted.gram = true;
  wanted.dense = &dense_graph;
  LayerInputMeter meter(g, std::vector<const PruneLayer*>(layers.begin(), layers.end()), data, samples, wanted);
  size_t updated = 0;
  for (size_t k = 0; k < layers.size(); ++k) {
    PruneLayer& l = *layers[k];
    LayerInputs inputs = meter.take(k, g);
    const LayerGram& gram = inputs.gram;
    std::string why = inputs.gram_why;
    const std::vector<float> dense = l.matrix;
    if (why.empty()) {
      const std::vector<float> magnitude = pruned_copy(l, l.target);
      if (prune_with_update(l, gram)) {
        ++updated;
        l.decision += "; obs update on " + std::to_string(gram.samples) + " input rows: output error " +
                      format_number("%.2e", relative_output_error(l.matrix, dense, gram)) + " (magnitude " +
                      format_number("%.2e", relative_output_error(magnitude, dense, gram)) + ")";
      } else {
        why = "H could not be factored or the pattern does not fit the conv groups";
      }
    }
    if (!why.empty()) {
      prune_matrix(l, l.target);
      l.decision += "; magnitude (no obs update: " + why + ")";
    }
    g.tensor(l.weight).data = weight_buffer(l, l.matrix);
    if (ctx.progress) ctx.progress("prune update", static_cast<double>(k + 1) / static_cast<double>(layers.size()));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  add_note(ctx, "prune",
           "update=obs: " + std::to_string(updated) + " of " + std::to_string(layers.size()) +
               " layers reconstructed on " + std::to_string(samples) + " calibration samples in " +
               format_number("%.2f", seconds) + " s");
}

}  // namespace pare::passes
