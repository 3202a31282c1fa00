#include "passes/prune_layers.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>

#include "formats/pare/sparse_encoding.h"
#include "passes/pass_util.h"

namespace pare::passes {

bool describe_layer(const ir::Graph& g, ir::NodeId id, PruneLayer& l) {
  const ir::Node& n = g.node(id);
  if (n.op != ir::OpKind::kConv && n.op != ir::OpKind::kGemm && n.op != ir::OpKind::kMatMul) return false;
  if (n.inputs.size() < 2 || n.inputs[1] == ir::kNoTensor || !g.tensor(n.inputs[1]).is_constant()) return false;
  const ir::Tensor& w = g.tensor(n.inputs[1]);
  l.node = id;
  l.name = n.name;
  l.op = ir::op_name(n.op);
  l.weight = n.inputs[1];
  l.params = w.shape.is_static() ? w.shape.num_elements() : 0;
  if (!is_float_constant(w)) {
    l.dense_reason = "weight is not float32";
    return true;
  }
  const std::vector<int64_t> dims = w.shape.sizes();
  if (n.op == ir::OpKind::kConv) {
    if (dims.size() < 3) return false;
    l.rows = dims[0];
    l.cols = l.params / std::max<int64_t>(1, dims[0]);
  } else {
    if (dims.size() != 2) {
      l.dense_reason = "weight is not a matrix";
      return true;
    }
    l.transposed = !(n.op == ir::OpKind::kGemm && n.attrs.get_int("transB", 0) != 0);
    l.rows = l.transposed ? dims[1] : dims[0];
    l.cols = l.transposed ? dims[0] : dims[1];
  }
  return true;
}

std::set<ir::NodeId> stem_convs(const ir::Graph& g) {
  std::set<ir::TensorId> after_weighted;
  std::set<ir::NodeId> stems;
  for (ir::NodeId id : g.topological_order()) {
    const ir::Node& n = g.node(id);
    const bool weighted = n.op == ir::OpKind::kConv || n.op == ir::OpKind::kGemm || n.op == ir::OpKind::kMatMul;
    const bool after = std::any_of(n.inputs.begin(), n.inputs.end(), [&](ir::TensorId t) { return after_weighted.count(t) != 0; });
    if (n.op == ir::OpKind::kConv && !after) stems.insert(id);
    if (weighted || after) after_weighted.insert(n.outputs.begin(), n.outputs.end());
  }
  return stems;
}

bool weight_shared(const ir::Graph& g, const ir::UseIndex& uses, const PruneLayer& l) {
  const ir::Node& n = g.node(l.node);
  return uses.consumers(l.weight).size() != 1 || uses.is_graph_output(l.weight) ||
         std::count(n.inputs.begin(), n.inputs.end(), l.weight) != 1;
}

std::string default_dense_reason(const ir::Graph& g, const ir::UseIndex& uses, const PruneLayer& l,
                                 const std::set<std::string>& exclude, int64_t min_params,
                                 const std::set<ir::NodeId>& stems) {
  const ir::Node& n = g.node(l.node);
  if (!l.dense_reason.empty()) return l.dense_reason;
  if (exclude.count(l.name)) return "excluded (exclude=)";
  if (weight_shared(g, uses, l)) return "weight shared with other nodes";
  if (n.op == ir::OpKind::kConv) {
    if (stems.count(l.node)) return "first conv (no weighted layer before it)";
    if (n.attrs.get_int("group", 1) > 1 && g.tensor(l.weight).shape.sizes()[1] == 1) return "depthwise conv";
  }
  if (l.params < min_params) return "under min_params=" + std::to_string(min_params) + " weights";
  return "";
}

std::vector<float> weight_matrix(const ir::Tensor& weight, const PruneLayer& l) {
  const float* w = weight.values<float>();
  if (!l.transposed) return std::vector<float>(w, w + l.rows * l.cols);
  std::vector<float> m(static_cast<size_t>(l.rows * l.cols));
  for (int64_t c = 0; c < l.cols; ++c)
    for (int64_t r = 0; r < l.rows; ++r) m[static_cast<size_t>(r * l.cols + c)] = w[c * l.rows + r];
  return m;
}

ir::BufferPtr weight_buffer(const PruneLayer& l, const std::vector<float>& matrix) {
  auto buffer = std::make_shared<ir::Buffer>();
  buffer->bytes.resize(matrix.size() * sizeof(float));
  auto* w = reinterpret_cast<float*>(buffer->bytes.data());
  if (!l.transposed) {
    std::memcpy(w, matrix.data(), buffer->bytes.size());
  } else {
    for (int64_t c = 0; c < l.cols; ++c)
      for (int64_t r = 0; r < l.rows; ++r) w[c * l.rows + r] = matrix[static_cast<size_t>(r * l.cols + c)];
  }
  return buffer;
}

int64_t count_zeros(const ir::Tensor& weight) {
  if (!weight.is_constant() || !weight.shape.is_static()) return 0;
  if (weight.dtype == ir::DType::kFloat32) {
    const float* w = weight.values<float>();
    return std::count(w, w + weight.shape.num_elements(), 0.f);
  }
  const size_t size = dtype_size(weight.dtype);
  const size_t n = static_cast<size_t>(weight.shape.num_elements());
  if (size == 0 || weight.data->bytes.size() != n * size) return 0;
  int64_t zeros = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* v = weight.data->bytes.data() + i * size;
    zeros += std::all_of(v, v + size, [](uint8_t b) { return b == 0; });
  }
  return zeros;
}

std::vector<float> unit_scores(const PruneLayer& l) {
  double sum = 0;
  for (float v : l.matrix) sum += static_cast<double>(v) * v;
  const double rms = sum > 0 ? std::sqrt(sum / static_cast<double>(l.matrix.size())) : 1.0;
  const int b = l.unit_rows;
  std::vector<float> scores(static_cast<size_t>(l.rows / b * l.cols));
  for (int64_t block = 0; block < l.rows / b; ++block)
    for (int64_t c = 0; c < l.cols; ++c) {
      double s = 0;
      for (int r = 0; r < b; ++r) {
        const double v = l.matrix[static_cast<size_t>((block * b + r) * l.cols + c)];
        s += v * v;
      }
      scores[static_cast<size_t>(block * l.cols + c)] = static_cast<float>(std::sqrt(s / b) / rms);
    }
  return scores;
}

namespace {

// In every group of 4 consecutive columns, zeros all but the 2 largest magnitudes (ties:
// the first kept).
void keep_two_of_four(std::vector<float>& m) {
  for (size_t g = 0; g + 4 <= m.size(); g += 4) {
    int order[4] = {0, 1, 2, 3};
    std::stable_sort(order, order + 4, [&](int a, int b) { return std::fabs(m[g + a]) > std::fabs(m[g + b]); });
    m[g + static_cast<size_t>(order[2])] = 0.f;
    m[g + static_cast<size_t>(order[3])] = 0.f;
  }
}

void prune_lowest_units(const PruneLayer& l, std::vector<float>& m, double sparsity) {
  const std::vector<float> scores = unit_scores(l);
  const auto k = static_cast<size_t>(std::llround(sparsity * static_cast<double>(scores.size())));
  if (k == 0) return;
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  auto lower = [&](int64_t a, int64_t b) {
    const float sa = scores[static_cast<size_t>(a)], sb = scores[static_cast<size_t>(b)];
    return sa != sb ? sa < sb : a < b;
  };
  if (k < order.size()) std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(), lower);
  for (size_t i = 0; i < std::min(k, order.size()); ++i) {
    const int64_t block = order[i] / l.cols, c = order[i] % l.cols;
    for (int r = 0; r < l.unit_rows; ++r) m[static_cast<size_t>((block * l.unit_rows + r) * l.cols + c)] = 0.f;
  }
}

}  // namespace

std::vector<float> pruned_copy(const PruneLayer& l, double sparsity) {
  std::vector<float> m = l.matrix;
  if (l.two_of_four) {
    if (sparsity > 0) keep_two_of_four(m);
  } else {
    prune_lowest_units(l, m, sparsity);
  }
  return m;
}

void prune_matrix(PruneLayer& l, double sparsity) { l.matrix = pruned_copy(l, sparsity); }

size_t stored_float_bytes(const ir::Tensor& weight) {
  return static_cast<size_t>(format::stored_bytes(weight));
}

std::string weight_encoding(const ir::Tensor& weight) {
  if (!is_float_constant(weight) || weight.shape.rank() < 2) return "";
  switch (format::stored_size(weight).encoding) {
    case Encoding::kPalette: return "clustered";
    case Encoding::kSparse: return "pruned";
    default: return "";
  }
}

PruneLayerReport layer_report(const ir::Graph& g, const PruneLayer& l) {
  const ir::Tensor& w = g.tensor(l.weight);
  PruneLayerReport r;
  r.node = l.name;
  r.op = l.op;
  r.params = l.params;
  r.zeros_before = l.zeros_before;
  r.zeros_after = count_zeros(w);
  r.sparsity = l.params ? static_cast<double>(r.zeros_after) / static_cast<double>(l.params) : 0.0;
  r.target_sparsity = l.target;
  r.bytes_before = static_cast<size_t>(l.params) * sizeof(float);
  r.bytes_after = is_float_constant(w) ? stored_float_bytes(w) : w.data->bytes.size();
  r.decision = l.decision;
  return r;
}

std::string format_number(const char* format, double v) {
  char text[32];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

}  // namespace pare::passes
