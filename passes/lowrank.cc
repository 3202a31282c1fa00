// lowrank: low-rank factorization of the constant weights of Gemm, MatMul and Conv
// (docs/compression.md, "lowrank").
//
// A weight seen as the matrix W [outputs, inputs] (prune's view: passes/prune_layers.h).
// - Gemm, MatMul, 1x1 Conv: W ~ B A by a truncated SVD, the layer becoming x -> A x (rank r)
//   -> B (.) + bias, two layers of the same op.
// - KxK Conv: Tucker-2 on the output and input channel modes (HOSVD, no HOOI iterations):
//   1x1 (Cin -> r_in) -> KxK (r_in -> r_out) -> 1x1 (r_out -> Cout) + bias.
// With data=on, each layer's inputs X on calibration data (prune_reconstruct.cc measures
// H = X^T X, im2col rows for a Conv) whiten the factorization so that the layer's output,
// not its weights, changes least: C = H / n + damping = L L^T, SVD of W L, truncate, map back
// with L^-1. For Tucker-2 the output mode uses the im2col C, the input mode the channel
// covariance (C's diagonal blocks summed over the kernel positions).
// Groups and depthwise convs are left alone, and so is any layer that would not save at
// least min_saving of both its MACs and its bytes.
#include <Eigen/Dense>
#include <Eigen/SVD>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ir/shape_inference.h"
#include "ir/status.h"
#include "passes/canonical.h"
#include "passes/layer_inputs.h"
#include "passes/pass_util.h"
#include "passes/prune_layers.h"
#include "passes/prune_reconstruct.h"

namespace pare::passes {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using ir::NodeId;
using ir::OpKind;
using ir::TensorId;

// Damping added to the input covariance's diagonal, as a fraction of its mean diagonal: the
// calibration inputs of a wide layer span fewer dimensions than it has inputs, and a whitening
// fitted to them alone overfits. 0.3 gave the lowest logit error on held-out calibration images
// at a fixed rank over the MLP, CNN and ViT among 0.01, 0.1, 0.3, 1, 3 (docs/compression.md).
constexpr double kDamping = 0.3;

struct Options {
  double energy = 0.97;    // used when rank_ratio is 0
  double rank_ratio = 0;   // 0: rank from energy
  bool data = true;
  double min_saving = 0.2;
  int64_t multiple = 8;
  std::set<std::string> exclude;
};

[[noreturn]] void bad_option(const std::string& name, const std::string& value, const std::string& expected) {
  throw_invalid("lowrank: option " + name + "=" + value + " is invalid: " + expected);
}

Options read_options(const PassOptions& options, bool has_calibration) {
  Options o;
  if (options.has("energy") && options.has("rank_ratio"))
    throw_invalid("lowrank: options energy= and rank_ratio= exclude each other: give one");
  o.energy = options.get_double("energy", o.energy);
  if (!(o.energy > 0 && o.energy <= 1)) bad_option("energy", options.get("energy", ""), "expected a fraction in (0, 1]");
  o.rank_ratio = options.get_double("rank_ratio", 0.0);
  if (options.has("rank_ratio") && !(o.rank_ratio > 0 && o.rank_ratio < 1))
    bad_option("rank_ratio", options.get("rank_ratio", ""), "expected a fraction in (0, 1)");
  const std::string data = options.get("data", "on");
  if (data != "on" && data != "off") bad_option("data", data, "expected on or off");
  o.data = data == "on";
  if (o.data && !has_calibration)
    throw_invalid("lowrank: option data=on (the default) needs calibration data (pare compress --calib FILE); "
                  "data=off factors the weights alone");
  o.min_saving = options.get_double("min_saving", o.min_saving);
  if (!(o.min_saving >= 0 && o.min_saving < 1))
    bad_option("min_saving", options.get("min_saving", ""), "expected a fraction in [0, 1)");
  o.multiple = options.get_int("multiple", o.multiple);
  if (o.multiple < 1) bad_option("multiple", options.get("multiple", ""), "expected an integer >= 1");
  o.exclude = name_list_option(options, "exclude");
  return o;
}

// ---- candidates ---------------------------------------------------------------------------

struct Candidate {
  PruneLayer layer;  // node, weight, rows (outputs), cols (inputs), transposed
  bool tucker = false;
  int64_t cin = 0, kernel = 1;         // Conv: input channels, kh * kw
  std::vector<int64_t> kernel_shape;   // Conv: [kh, kw]
  int64_t positions_in = 1, positions_out = 1;  // input / output rows (pixels) of one inference
  LowrankLayerReport report;
};

// Fills `c` for a Conv/Gemm/MatMul with a constant weight; returns false for other nodes.
// c.report.skipped says why a layer is not factorized.
bool describe(const ir::Graph& g, const ir::UseIndex& uses, NodeId id, const Options& o, Candidate& c) {
  const ir::Node& n = g.node(id);
  if (n.op != OpKind::kConv && n.op != OpKind::kGemm && n.op != OpKind::kMatMul) return false;
  if (n.inputs.size() < 2 || n.inputs[1] == ir::kNoTensor || !g.tensor(n.inputs[1]).is_constant()) return false;
  PruneLayer& l = c.layer;
  const ir::Tensor& w = g.tensor(n.inputs[1]);
  l.node = id;
  l.name = n.name;
  l.op = ir::op_name(n.op);
  l.weight = n.inputs[1];
  c.report.node = n.name;
  c.report.op = l.op;
  auto skip = [&c](const std::string& why) {
    c.report.skipped = why;
    return true;
  };
  if (!is_float_constant(w)) return skip("weight is not float32");
  const std::vector<int64_t> dims = w.shape.sizes();
  const ir::Tensor& x = g.tensor(n.inputs[0]);
  const ir::Tensor& y = g.tensor(n.outputs[0]);
  if (!x.shape.is_static() || !y.shape.is_static()) return skip("input or output shape not static");
  if (n.op == OpKind::kConv) {
    if (dims.size() != 4) return skip("not a 2-D conv");
    if (n.attrs.has("layout")) return skip("conv is channels-last (run lowrank before nhwc)");
    if (n.attrs.get_int("group", 1) != 1) return skip("grouped or depthwise conv");
    l.rows = dims[0];
    c.cin = dims[1];
    c.kernel = dims[2] * dims[3];
    c.kernel_shape = {dims[2], dims[3]};
    l.cols = c.cin * c.kernel;
    c.tucker = c.kernel > 1;
    c.positions_in = x.shape.num_elements() / std::max<int64_t>(1, c.cin);
  } else {
    if (dims.size() != 2) return skip("weight is not a matrix");
    l.transposed = !(n.op == OpKind::kGemm && n.attrs.get_int("transB", 0) != 0);
    l.rows = l.transposed ? dims[1] : dims[0];
    l.cols = l.transposed ? dims[0] : dims[1];
  }
  c.positions_out = y.shape.num_elements() / std::max<int64_t>(1, l.rows);
  c.report.params_before = l.rows * l.cols;
  c.report.macs_before = c.positions_out * l.rows * l.cols;
  c.report.full_rank = c.tucker ? c.cin : std::min(l.rows, l.cols);
  if (o.exclude.count(l.name)) return skip("excluded (exclude=)");
  if (weight_shared(g, uses, l)) return skip("weight shared with other nodes");
  if (const std::string e = weight_encoding(w); !e.empty())
    return skip("weights " + e + " by an earlier pass: its factors would be dense floats");
  return true;
}

// ---- factorization --------------------------------------------------------------------------

// The lower Cholesky factor of H / samples with damping (inputs never seen get the mean
// diagonal), or an empty matrix when it cannot be factored.
MatrixXd whitening_factor(MatrixXd c) {
  const int64_t n = c.rows();
  const double mean_diag = c.diagonal().mean();
  if (!(mean_diag > 0) || !std::isfinite(mean_diag)) return MatrixXd();
  for (int64_t i = 0; i < n; ++i) {
    if (c(i, i) == 0) c(i, i) = mean_diag;
    c(i, i) += kDamping * mean_diag;
  }
  Eigen::LLT<MatrixXd> llt(c);
  if (llt.info() != Eigen::Success) return MatrixXd();
  return llt.matrixL();
}

// The rank the options give for singular values `s` (descending), rounded up to a multiple
// and capped at their count; `energy` receives the fraction of sum s^2 it keeps.
int64_t choose_rank(const VectorXd& s, const Options& o, double& energy) {
  const int64_t full = s.size();
  const double total = s.squaredNorm();
  int64_t r = full;
  if (o.rank_ratio > 0) {
    r = static_cast<int64_t>(std::ceil(o.rank_ratio * static_cast<double>(full)));
  } else if (total > 0) {
    double sum = 0;
    for (r = 0; r < full && sum < o.energy * total * (1 - 1e-12);) sum += s(r) * s(r), ++r;
  }
  r = std::min(full, std::max<int64_t>(1, (r + o.multiple - 1) / o.multiple * o.multiple));
  energy = total > 0 ? s.head(r).squaredNorm() / total : 1.0;
  return r;
}

struct Factors {
  MatrixXd first;   // [r, inputs] (svd), [r_in, Cin] (tucker)
  MatrixXd core;    // tucker: [r_out, r_in * kernel]
  MatrixXd last;    // [outputs, r] (svd), [Cout, r_out] (tucker)
  MatrixXd approx;  // the product, [outputs, inputs]
};

MatrixXd as_matrix(const std::vector<float>& v, int64_t rows, int64_t cols) {
  MatrixXd m(rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) m(r, c) = v[static_cast<size_t>(r * cols + c)];
  return m;
}

std::vector<float> as_floats(const MatrixXd& m) {
  std::vector<float> v(static_cast<size_t>(m.size()));
  for (int64_t r = 0; r < m.rows(); ++r)
    for (int64_t c = 0; c < m.cols(); ++c) v[static_cast<size_t>(r * m.cols() + c)] = static_cast<float>(m(r, c));
  return v;
}

// W ~ last * first, whitened by `lower` (empty: plain SVD). The singular values split as
// sqrt between the factors so that the intermediate activations keep the input's scale.
Factors factor_svd(const MatrixXd& w, const MatrixXd& lower, const Options& o, Candidate& c) {
  const bool white = lower.size() != 0;
  Eigen::BDCSVD<MatrixXd> svd(white ? MatrixXd(w * lower) : w, Eigen::ComputeThinU | Eigen::ComputeThinV);
  const VectorXd s = svd.singularValues();
  const int64_t r = choose_rank(s, o, c.report.energy_kept);
  c.report.rank = r;
  const VectorXd root = s.head(r).cwiseSqrt();
  Factors f;
  f.last = svd.matrixU().leftCols(r) * root.asDiagonal();
  MatrixXd right = svd.matrixV().leftCols(r) * root.asDiagonal();  // [inputs, r], whitened
  if (white) right = lower.transpose().triangularView<Eigen::Upper>().solve(right);  // L^-T V
  f.first = right.transpose();
  f.approx = f.last * f.first;
  return f;
}

// Tucker-2 of W [Cout, Cin * kernel]: the output mode from the SVD of W L (L of the im2col
// covariance), the input mode from the SVD of the stacked kernel slices [Cout * kernel, Cin]
// times L_c (of the channel covariance). W_p ~ last * core_p * first for each kernel
// position p.
Factors factor_tucker(const MatrixXd& w, const MatrixXd& lower, const MatrixXd& channel_lower, const Options& o,
                      Candidate& c) {
  const int64_t cout = w.rows(), cin = c.cin, k = c.kernel;
  const bool white = lower.size() != 0;
  Eigen::BDCSVD<MatrixXd> out_svd(white ? MatrixXd(w * lower) : w, Eigen::ComputeThinU);
  double out_energy = 0, in_energy = 0;
  const int64_t r_out = std::min(cout, choose_rank(out_svd.singularValues(), o, out_energy));
  MatrixXd slices(cout * k, cin);  // row o * k + p, column ci: W[o, ci, p]
  for (int64_t oc = 0; oc < cout; ++oc)
    for (int64_t ci = 0; ci < cin; ++ci)
      for (int64_t p = 0; p < k; ++p) slices(oc * k + p, ci) = w(oc, ci * k + p);
  Eigen::BDCSVD<MatrixXd> in_svd(white ? MatrixXd(slices * channel_lower) : slices, Eigen::ComputeThinV);
  const int64_t r_in = choose_rank(in_svd.singularValues(), o, in_energy);
  c.report.rank = r_in;
  c.report.rank_out = r_out;
  c.report.energy_kept = std::min(out_energy, in_energy);
  const MatrixXd z = in_svd.matrixV().leftCols(r_in);  // [Cin, r_in], whitened
  Factors f;
  f.last = out_svd.matrixU().leftCols(r_out);
  f.first = white ? MatrixXd(channel_lower.transpose().triangularView<Eigen::Upper>().solve(z).transpose()) : z.transpose();
  const MatrixXd q = white ? MatrixXd(channel_lower * z) : z;  // [Cin, r_in]: W_p ~ (W_p q) first
  f.core.resize(r_out, r_in * k);
  f.approx.resize(cout, cin * k);
  for (int64_t p = 0; p < k; ++p) {
    MatrixXd wp(cout, cin);
    for (int64_t ci = 0; ci < cin; ++ci) wp.col(ci) = w.col(ci * k + p);
    const MatrixXd core_p = f.last.transpose() * wp * q;  // [r_out, r_in]
    const MatrixXd approx_p = f.last * core_p * f.first;  // [Cout, Cin]
    for (int64_t i = 0; i < r_in; ++i) f.core.col(i * k + p) = core_p.col(i);
    for (int64_t ci = 0; ci < cin; ++ci) f.approx.col(ci * k + p) = approx_p.col(ci);
  }
  return f;
}

// The channel covariance of im2col covariance `h` [cin * k, cin * k]: its diagonal blocks
// over the kernel positions summed.
MatrixXd channel_covariance(const MatrixXd& h, int64_t cin, int64_t k) {
  MatrixXd c = MatrixXd::Zero(cin, cin);
  for (int64_t i = 0; i < cin; ++i)
    for (int64_t j = 0; j < cin; ++j)
      for (int64_t p = 0; p < k; ++p) c(i, j) += h(i * k + p, j * k + p);
  return c;
}

// ---- rewriting the graph --------------------------------------------------------------------

TensorId add_float_tensor(ir::Graph& g, const std::string& name) {
  ir::Tensor t;
  t.name = unique_tensor_name(g, name);
  t.dtype = ir::DType::kFloat32;
  return g.add_tensor(std::move(t));
}

// A new constant holding `m` [rows, cols] in the layout of `layer`'s weight.
TensorId add_weight(ir::Graph& g, const std::string& name, const std::vector<int64_t>& shape, const PruneLayer& layer,
                    const MatrixXd& m) {
  const TensorId t = add_float_constant(g, name, shape, {});
  g.tensor(t).data = weight_buffer(layer, as_floats(m));
  return t;
}

// A 1x1 or KxK Conv node without bias from x to a new tensor.
NodeId add_conv(ir::Graph& g, const std::string& name, TensorId x, const MatrixXd& w, const std::vector<int64_t>& wshape,
                const ir::Attributes& attrs) {
  ir::Node n;
  n.op = OpKind::kConv;
  n.name = name;
  n.attrs = attrs;
  n.attrs.set("kernel_shape", std::vector<int64_t>{wshape[2], wshape[3]});
  n.inputs = {x, add_float_constant(g, name + ".weight", wshape, as_floats(w))};
  n.outputs = {add_float_tensor(g, name)};
  return g.add_node(std::move(n));
}

// The original node's attributes for a 1x1 conv at its output resolution.
void make_pointwise(ir::Node& n) {
  for (const char* a : {"strides", "pads", "dilations", "auto_pad"}) n.attrs.erase(a);
  n.attrs.set("kernel_shape", std::vector<int64_t>{1, 1});
}

// Replaces the layer by its factors: new nodes before it, the original node (its bias,
// activation and output kept) becoming the last factor.
void rewrite(ir::Graph& g, Candidate& c, const Factors& f) {
  PruneLayer& l = c.layer;
  ir::Node& original = g.node(l.node);
  const std::string base = l.name.empty() ? "lowrank_" + std::to_string(l.node) : l.name;
  const TensorId x = original.inputs[0];
  std::vector<NodeId> added;
  if (original.op == OpKind::kConv) {
    ir::Attributes pointwise = original.attrs;
    for (const char* a : {"strides", "pads", "dilations", "auto_pad"}) pointwise.erase(a);
    TensorId into_last;
    if (c.tucker) {
      const NodeId a = add_conv(g, base + "/lowrank_a", x, f.first, {f.first.rows(), c.cin, 1, 1}, pointwise);
      ir::Attributes spatial = g.node(l.node).attrs;
      const NodeId b = add_conv(g, base + "/lowrank_b", g.node(a).outputs[0], f.core,
                                {f.core.rows(), f.first.rows(), c.kernel_shape[0], c.kernel_shape[1]}, spatial);
      added = {a, b};
      into_last = g.node(b).outputs[0];
    } else {
      // Strides and pads stay on the first factor: a 1x1 conv's padded pixels are 0 there and
      // the bias after, as before.
      const NodeId a = add_conv(g, base + "/lowrank_a", x, f.first, {f.first.rows(), l.cols, 1, 1}, g.node(l.node).attrs);
      added = {a};
      into_last = g.node(a).outputs[0];
    }
    ir::Node& last = g.node(l.node);
    make_pointwise(last);
    last.inputs[0] = into_last;
    last.inputs[1] = add_float_constant(g, base + "/lowrank_" + (c.tucker ? "c" : "b") + ".weight",
                                        {f.last.rows(), f.last.cols(), 1, 1}, as_floats(f.last));
    last.name = base + "/lowrank_" + (c.tucker ? "c" : "b");
  } else {
    ir::Node first;
    first.op = original.op;
    first.name = base + "/lowrank_a";
    PruneLayer first_layer = l;  // the first factor in the original's weight layout
    first_layer.rows = f.first.rows();
    PruneLayer last_layer = l;
    last_layer.cols = f.last.cols();
    if (original.op == OpKind::kGemm) {
      first.attrs.set("transA", original.attrs.get_int("transA", 0));
      first.attrs.set("transB", int64_t{1});
      first_layer.transposed = false;
      original.attrs.erase("transA");
    }
    const std::vector<int64_t> first_shape = first_layer.transposed ? std::vector<int64_t>{l.cols, f.first.rows()}
                                                                    : std::vector<int64_t>{f.first.rows(), l.cols};
    const std::vector<int64_t> last_shape = l.transposed ? std::vector<int64_t>{f.last.cols(), l.rows}
                                                         : std::vector<int64_t>{l.rows, f.last.cols()};
    first.inputs = {x, add_weight(g, first.name + ".weight", first_shape, first_layer, f.first)};
    first.outputs = {add_float_tensor(g, first.name)};
    const NodeId a = g.add_node(std::move(first));
    added = {a};
    ir::Node& last = g.node(l.node);
    last.inputs[0] = g.node(a).outputs[0];
    last.inputs[1] = add_weight(g, base + "/lowrank_b.weight", last_shape, last_layer, f.last);
    last.name = base + "/lowrank_b";
  }
  for (NodeId id : added) ir::infer_node(g, id);
  ir::infer_node(g, l.node);
}

std::string percent(double v) { return format_number("%.1f%%", 100 * v); }

// Factors one candidate (sets its report); true when the graph was rewritten.
// `inputs`: the layer's measured inputs, null without calibration data.
bool factor_layer(ir::Graph& g, Candidate& c, const Options& o, const LayerInputs* inputs) {
  PruneLayer& l = c.layer;
  LowrankLayerReport& rep = c.report;
  auto skip = [&rep](const std::string& why) {
    rep.skipped = why;
    rep.form.clear();
    return false;
  };
  l.matrix = weight_matrix(g.tensor(l.weight), l);
  const MatrixXd w = as_matrix(l.matrix, l.rows, l.cols);
  const LayerGram no_gram;
  const LayerGram& gram = inputs ? inputs->gram : no_gram;
  MatrixXd lower, channel_lower;
  std::string data_note;
  if (inputs) {
    if (!inputs->gram_why.empty()) return skip("inputs not measurable: " + inputs->gram_why);
    const MatrixXd h = Eigen::Map<const MatrixXd>(gram.h[0].data(), l.cols, l.cols) / static_cast<double>(std::max<int64_t>(1, gram.samples));
    if (o.data) {
      lower = whitening_factor(h);
      if (c.tucker) channel_lower = whitening_factor(channel_covariance(h, c.cin, c.kernel));
      if (lower.size() == 0 || (c.tucker && channel_lower.size() == 0))
        return skip("input covariance could not be factored");
    }
  }
  const Factors f = c.tucker ? factor_tucker(w, lower, channel_lower, o, c) : factor_svd(w, lower, o, c);
  const int64_t ri = rep.rank, ro = c.tucker ? rep.rank_out : rep.rank;
  if (c.tucker) {
    rep.form = "tucker2";
    rep.params_after = c.cin * ri + ro * ri * c.kernel + l.rows * ro;
    rep.macs_after = c.positions_in * c.cin * ri + c.positions_out * (ro * ri * c.kernel + l.rows * ro);
  } else {
    rep.form = "svd";
    rep.params_after = ri * (l.rows + l.cols);
    rep.macs_after = c.positions_out * rep.params_after;
  }
  if (!gram.h.empty()) rep.output_error = relative_output_error(as_floats(f.approx), l.matrix, gram);
  const double mac_saving = 1 - static_cast<double>(rep.macs_after) / static_cast<double>(std::max<int64_t>(1, rep.macs_before));
  const double byte_saving = 1 - static_cast<double>(rep.params_after) / static_cast<double>(std::max<int64_t>(1, rep.params_before));
  if (std::min(mac_saving, byte_saving) < o.min_saving) {
    return skip("saves " + percent(mac_saving) + " of MACs, " + percent(byte_saving) + " of bytes (min_saving=" +
                format_number("%g", o.min_saving) + ")");
  }
  rewrite(g, c, f);
  return true;
}

}  // namespace

Status run_lowrank(ir::Graph& graph, const PassOptions& options, PassContext& ctx) {
  const bool has_calibration = ctx.calibration && ctx.calibration->size() > 0;
  const Options o = read_options(options, has_calibration);
  std::vector<Candidate> candidates;
  const ir::UseIndex uses(graph);
  for (NodeId id : graph.topological_order()) {
    Candidate c;
    if (describe(graph, uses, id, o, c)) candidates.push_back(std::move(c));
  }
  const size_t samples = has_calibration ? reconstruction_samples(graph, ctx.calibration->size()) : 0;
  // With data=off the output error is still measured when there is calibration data.
  std::vector<const PruneLayer*> measured;
  for (const Candidate& c : candidates)
    if (c.report.skipped.empty()) measured.push_back(&c.layer);
  std::unique_ptr<LayerInputMeter> meter;
  if (has_calibration) {
    LayerInputMeter::Wanted wanted;
    wanted.gram = true;
    meter = std::make_unique<LayerInputMeter>(graph, measured, *ctx.calibration, samples, wanted);
  }
  int64_t params_before = 0, params_after = 0, macs_before = 0, macs_after = 0, factored = 0;
  size_t next_measured = 0;
  for (size_t k = 0; k < candidates.size(); ++k) {
    Candidate& c = candidates[k];
    if (c.report.skipped.empty()) {
      LayerInputs inputs;
      if (meter) inputs = meter->take(next_measured++, graph);
      if (factor_layer(graph, c, o, meter ? &inputs : nullptr)) ++factored;
    }
    const bool done = c.report.skipped.empty();
    params_before += c.report.params_before;
    macs_before += c.report.macs_before;
    params_after += done ? c.report.params_after : c.report.params_before;
    macs_after += done ? c.report.macs_after : c.report.macs_before;
    if (ctx.progress) ctx.progress("lowrank", static_cast<double>(k + 1) / static_cast<double>(candidates.size()));
  }
  add_note(ctx, "lowrank",
           std::string(o.rank_ratio > 0 ? "rank_ratio=" + format_number("%g", o.rank_ratio)
                                        : "energy=" + format_number("%g", o.energy)) +
               (o.data ? ", data=on (whitened by " + std::to_string(samples) + " calibration samples)" : ", data=off") +
               ": factorized " + std::to_string(factored) + " of " + std::to_string(candidates.size()) +
               " layers; their weights " + std::to_string(params_before) + " -> " + std::to_string(params_after) +
               ", MACs " + std::to_string(macs_before) + " -> " + std::to_string(macs_after));
  for (Candidate& c : candidates) ctx.reports.back().lowrank_layers.push_back(std::move(c.report));
  return Status::ok();
}

}  // namespace pare::passes
