#include "check/align.h"

#include <map>

#include "ir/op.h"

namespace pare::check {

namespace {

const std::vector<int64_t> kToNhwc = {0, 2, 3, 1};
const std::vector<int64_t> kToNchw = {0, 3, 1, 2};

bool is_4d(const ir::Graph& g, ir::TensorId t) {
  return t != ir::kNoTensor && g.tensor(t).shape.rank_known && g.tensor(t).shape.rank() == 4;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<int64_t> permuted(const std::vector<int64_t>& dims, const std::vector<int64_t>& perm) {
  std::vector<int64_t> out;
  for (int64_t p : perm) out.push_back(dims[static_cast<size_t>(p)]);
  return out;
}

struct TeacherMatch {
  ir::NodeId node = ir::kNoNode;      // the teacher node whose output is compared
  ir::TensorId tensor = ir::kNoTensor;  // or a teacher graph input
  bool same_name = false;             // the student node is the teacher node itself
  std::string why_not;
};

TeacherMatch match_teacher(const ir::Graph& teacher, const std::map<std::string, ir::NodeId>& by_name,
                           const std::string& name) {
  TeacherMatch m;
  auto exact = by_name.find(name);
  if (exact != by_name.end()) {
    m.node = exact->second;
    m.same_name = true;
    return m;
  }
  if (ends_with(name, "/lowrank_a")) {
    m.why_not = "first factor of a low-rank pair: the teacher has no such tensor";
    return m;
  }
  for (const char* suffix : {"/lowrank_b", "/lowrank_c", "/activation", "/dequantize", "/quantize"}) {
    if (!ends_with(name, suffix)) continue;
    const std::string base = name.substr(0, name.size() - std::string(suffix).size());
    auto it = by_name.find(base);
    if (it != by_name.end()) {
      m.node = it->second;
      return m;
    }
    const ir::TensorId t = teacher.find_tensor(base);
    if (t != ir::kNoTensor && teacher.tensor(t).is_constant()) {
      m.why_not = "converts the constant '" + base + "', not an activation";
      return m;
    }
    if (t != ir::kNoTensor) {
      m.tensor = t;
      return m;
    }
  }
  m.why_not = "no teacher node named '" + name + "'";
  return m;
}

}  // namespace

std::vector<bool> nhwc_tensors(const ir::Graph& graph) {
  std::vector<bool> nhwc(graph.tensor_capacity(), false);
  for (ir::NodeId id : graph.topological_order()) {
    const ir::Node& n = graph.node(id);
    bool out_nhwc = false;
    if (n.attrs.has("layout")) {
      out_nhwc = n.attrs.get_string("layout", "") == "NHWC";
    } else if (n.op == ir::OpKind::kTranspose) {
      const std::vector<int64_t> perm = n.attrs.get_ints("perm");
      const bool in_nhwc = !n.inputs.empty() && n.inputs[0] != ir::kNoTensor && nhwc[n.inputs[0]];
      // Back to channels-first (or some other order, taken as logical) from NHWC.
      out_nhwc = !in_nhwc && perm == kToNhwc;
    } else {
      for (ir::TensorId in : n.inputs)
        if (in != ir::kNoTensor && nhwc[in] && is_4d(graph, in)) out_nhwc = true;
    }
    for (ir::TensorId out : n.outputs)
      if (out != ir::kNoTensor) nhwc[out] = out_nhwc && is_4d(graph, out);
  }
  return nhwc;
}

std::vector<LayerAlignment> align_layers(const ir::Graph& teacher, const ir::Graph& student) {
  std::map<std::string, ir::NodeId> by_name;
  for (ir::NodeId id : teacher.nodes())
    if (!teacher.node(id).name.empty()) by_name.emplace(teacher.node(id).name, id);
  const std::vector<bool> teacher_nhwc = nhwc_tensors(teacher), student_nhwc = nhwc_tensors(student);

  std::vector<LayerAlignment> layers;
  for (ir::NodeId id : student.topological_order()) {
    const ir::Node& n = student.node(id);
    if (n.outputs.empty() || n.outputs[0] == ir::kNoTensor) continue;
    LayerAlignment a;
    a.student_node = id;
    a.student_tensor = n.outputs[0];
    const ir::Tensor& st = student.tensor(a.student_tensor);
    const auto not_aligned = [&](std::string why) {
      a.why_not_aligned = std::move(why);
      layers.push_back(a);
    };
    if (st.dtype != ir::DType::kFloat32 && st.dtype != ir::DType::kInt8 && st.dtype != ir::DType::kUInt8) {
      not_aligned(std::string("a ") + ir::dtype_name(st.dtype) + " tensor, not float or 8-bit data");
      continue;
    }
    const TeacherMatch m = match_teacher(teacher, by_name, n.name);
    if (m.node == ir::kNoNode && m.tensor == ir::kNoTensor) {
      not_aligned(m.why_not);
      continue;
    }
    const ir::TensorId tt = m.tensor != ir::kNoTensor ? m.tensor : teacher.node(m.node).outputs.at(0);
    if (m.same_name && m.node != ir::kNoNode && teacher.node(m.node).activation.kind != n.activation.kind) {
      not_aligned(std::string("the student applies activation ") + ir::activation_name(n.activation.kind) +
                  " here, the teacher " + ir::activation_name(teacher.node(m.node).activation.kind));
      continue;
    }
    const ir::Tensor& tensor_t = teacher.tensor(tt);
    if (tensor_t.dtype != ir::DType::kFloat32 && tensor_t.dtype != ir::DType::kInt8 &&
        tensor_t.dtype != ir::DType::kUInt8) {
      not_aligned(std::string("the teacher tensor is ") + ir::dtype_name(tensor_t.dtype));
      continue;
    }
    if (tensor_t.is_constant()) {
      not_aligned("the teacher tensor '" + tensor_t.name + "' is a constant");
      continue;
    }
    if (!st.shape.is_static() || !tensor_t.shape.is_static()) {
      not_aligned("a shape is not static");
      continue;
    }
    const std::vector<int64_t> s_dims = st.shape.sizes(), t_dims = tensor_t.shape.sizes();
    const bool s_nhwc = student_nhwc[a.student_tensor], t_nhwc = teacher_nhwc[tt];
    if (s_dims.size() == 4 && s_nhwc != t_nhwc) {
      // Permute the student into the teacher's layout when the shapes agree that way.
      const std::vector<int64_t> moved = permuted(s_dims, s_nhwc ? kToNchw : kToNhwc);
      if (moved == t_dims) {
        a.to_nchw = s_nhwc;
        a.to_nhwc = !s_nhwc;
      }
    }
    if (!a.to_nchw && !a.to_nhwc && s_dims != t_dims) {
      not_aligned("shape " + st.shape.str() + " against the teacher's " + tensor_t.shape.str());
      continue;
    }
    a.teacher_tensor = tt;
    layers.push_back(a);
  }
  return layers;
}

void nhwc_to_nchw(const float* in, const std::vector<int64_t>& d, float* out) {
  const int64_t N = d[0], H = d[1], W = d[2], C = d[3];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w)
        for (int64_t c = 0; c < C; ++c) out[((n * C + c) * H + h) * W + w] = in[((n * H + h) * W + w) * C + c];
}

void nchw_to_nhwc(const float* in, const std::vector<int64_t>& d, float* out) {
  const int64_t N = d[0], C = d[1], H = d[2], W = d[3];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) out[((n * H + h) * W + w) * C + c] = in[((n * C + c) * H + h) * W + w];
}

}  // namespace pare::check
