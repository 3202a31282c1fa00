// The `nhwc` pass: runs Conv, MaxPool, AveragePool and GlobalAveragePool on 4-D data in
// channels-last layout (attribute layout = "NHWC": data [N, H, W, C]; Conv weights stay
// [Cout, Cin/group, KH, KW]), keeps layout-free ops between them in NHWC, and converts at
// the edges. Graph inputs and outputs keep their names, shapes and NCHW layout.
//
// The rule, in three steps:
// 1. Anchors: every Conv/MaxPool/AveragePool/GlobalAveragePool whose data is 4-D runs NHWC.
// 2. Regions: layout-free nodes (elementwise ops, Concat, Split, Slice, Softmax, ReduceMean,
//    ReduceSum, Pad, Resize, Expand; conditions in `free_role`) are grouped so that two of
//    them share a region when one reads the other's 4-D output or both read the same 4-D
//    tensor. A tensor the region touches needs a conversion when some reader wants it in
//    the other layout than its writer's: a transpose, or a Reshape when the conversion only
//    moves size-1 dims. A region runs NHWC when that needs no more transposes than NCHW
//    and, with as many, no more reshapes. Every reader of a tensor is in at most one
//    region, so regions choose independently and each choice is the cheaper one for the
//    whole graph.
// 3. Every other node and the graph's inputs and outputs stay NCHW. A Transpose is inserted
//    where a tensor is written in one layout and read in the other, one per tensor and
//    direction, shared by its readers. Then Transpose of Transpose composes (an identity
//    disappears); Transpose -> Reshape/Flatten/Squeeze/Unsqueeze/Transpose... -> Transpose
//    becomes one Reshape when together they move no element, or one Transpose between two
//    Reshapes when that is what they do (a channel shuffle); and a Transpose that only moves size-1
//    dims becomes a Reshape (or is absorbed by the Reshape/Flatten/Squeeze/Unsqueeze nodes
//    that read it).
// Values never change: NHWC nodes compute what their NCHW forms computed, permuted.
#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ir/op_table.h"
#include "ir/shape_inference.h"
#include "passes/canonical.h"
#include "passes/pass_util.h"

namespace pare::passes {

namespace {

using ir::LayoutClass;
using ir::NodeId;
using ir::OpKind;
using ir::TensorId;

enum class Layout { kNchw, kNhwc };

// NHWC dim i holds NCHW dim kToNhwc[i]; NCHW dim i holds NHWC dim kToNchw[i]. The NHWC
// position of NCHW axis a is kToNchw[a].
constexpr std::array<int64_t, 4> kToNhwc = {0, 2, 3, 1};
constexpr std::array<int64_t, 4> kToNchw = {0, 3, 1, 2};

std::vector<int64_t> perm_to(Layout to) {
  return to == Layout::kNhwc ? std::vector<int64_t>(kToNhwc.begin(), kToNhwc.end())
                             : std::vector<int64_t>(kToNchw.begin(), kToNchw.end());
}

bool is_4d(const ir::Tensor& t) { return t.shape.is_static() && t.shape.rank() == 4; }

// A tensor whose layout the pass tracks: 4-D and computed at run time.
bool is_activation(const ir::Graph& g, TensorId t) {
  return t != ir::kNoTensor && !g.tensor(t).is_constant() && is_4d(g.tensor(t));
}

bool single_element(const ir::Tensor& t) { return t.shape.is_static() && t.shape.num_elements() == 1; }

// True when converting the NCHW tensor `nchw` to NHWC (or back) keeps every dim larger than
// 1 in order: the bytes do not move, a Reshape does it.
bool reshape_converts(const std::vector<int64_t>& nchw) { return nchw[1] == 1 || (nchw[2] == 1 && nchw[3] == 1); }

bool moves_only_unit_dims(const std::vector<int64_t>& in, const std::vector<int64_t>& perm) {
  int64_t last = -1;
  for (int64_t p : perm) {
    if (in[static_cast<size_t>(p)] == 1) continue;
    if (p < last) return false;
    last = p;
  }
  return true;
}

// Permutes `values`, laid out row-major in `shape`, as Transpose(perm) would.
void transpose_values(const std::vector<int64_t>& shape, const std::vector<int64_t>& perm,
                      std::vector<int64_t>* values) {
  const size_t rank = shape.size();
  std::vector<int64_t> in_strides(rank, 1);
  for (size_t d = rank; d-- > 1;) in_strides[d - 1] = in_strides[d] * shape[d];
  std::vector<int64_t> out_dims, strides;
  for (int64_t p : perm) {
    out_dims.push_back(shape[static_cast<size_t>(p)]);
    strides.push_back(in_strides[static_cast<size_t>(p)]);
  }
  std::vector<int64_t> out;
  out.reserve(values->size());
  std::vector<int64_t> coord(rank, 0);
  for (size_t k = 0; k < values->size(); ++k) {
    int64_t offset = 0;
    for (size_t d = 0; d < rank; ++d) offset += coord[d] * strides[d];
    out.push_back((*values)[static_cast<size_t>(offset)]);
    for (size_t d = rank; d-- > 0;) {
      if (++coord[d] < out_dims[d]) break;
      coord[d] = 0;
    }
  }
  *values = std::move(out);
}

bool is_identity(const std::vector<int64_t>& perm) {
  for (size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != static_cast<int64_t>(i)) return false;
  return true;
}

LayoutClass layout_class(OpKind op) { return ir::op_info(op).layout; }

// Reshape, Flatten, Squeeze, Unsqueeze: they keep the element order.
bool is_shape_only(OpKind op) { return layout_class(op) == LayoutClass::kReshape; }

bool has_quantization(const ir::Graph& g, const ir::Node& n) {
  for (TensorId t : n.inputs)
    if (t != ir::kNoTensor && g.tensor(t).quant) return true;
  for (TensorId t : n.outputs)
    if (g.tensor(t).quant) return true;
  return false;
}

enum class Role { kFixed, kAnchor, kFree };

struct NodeInfo {
  Role role = Role::kFixed;
  std::vector<size_t> data_inputs;  // inputs that carry the layout (kFree: all of them)
};

NodeInfo anchor_role(const ir::Graph& g, const ir::Node& n) {
  NodeInfo info;
  if (n.outputs.size() != 1 || n.inputs.empty() || !is_activation(g, n.inputs[0]) ||
      !is_4d(g.tensor(n.outputs[0])) || has_quantization(g, n))
    return info;
  info.role = Role::kAnchor;
  info.data_inputs = {0};
  return info;
}

// Constant inputs other than the data that must be known to remap axes or permute values.
bool constants_at(const ir::Graph& g, const ir::Node& n, std::initializer_list<size_t> indices) {
  for (size_t i : indices)
    if (i < n.inputs.size() && n.inputs[i] != ir::kNoTensor && !g.tensor(n.inputs[i]).is_constant()) return false;
  return true;
}

std::vector<int64_t> normalized_axes(const std::vector<int64_t>& raw) {
  std::vector<int64_t> out;
  for (int64_t a : raw) out.push_back(a < 0 ? a + 4 : a);
  return out;
}

// The Reduce ops with keepdims = 0 drop the reduced dims; the output (of lower rank)
// is the same in both layouts when the kept dims come in the same order, i.e. unless C is
// kept together with H or W.
bool reduce_output_layout_free(const ir::Graph& g, const ir::Node& n) {
  std::set<int64_t> reduced = {0, 1, 2, 3};
  if (n.inputs.size() > 1 && n.inputs[1] != ir::kNoTensor) {
    std::vector<int64_t> axes = normalized_axes(g.tensor(n.inputs[1]).int_values());
    if (!axes.empty()) reduced = std::set<int64_t>(axes.begin(), axes.end());
  }
  auto kept = [&](int64_t a) { return reduced.count(a) == 0; };
  return !(kept(1) && (kept(2) || kept(3)));
}

// Whether `n` may run in either layout, and which inputs carry the layout. Outputs must be
// 4-D (but see reduce_output_layout_free); each data input must be a 4-D activation, a
// constant of rank <= 4 (permuted when the node runs NHWC) or a single element.
NodeInfo free_role(const ir::Graph& g, const ir::Node& n) {
  NodeInfo info;
  if (n.outputs.empty() || n.inputs.empty() || has_quantization(g, n)) return info;
  std::vector<size_t> data;
  bool outputs_4d = true;
  switch (layout_class(n.op)) {
    case LayoutClass::kElementwise:
      for (size_t i = 1; i < n.inputs.size(); ++i)
        if (n.inputs[i] != ir::kNoTensor && !single_element(g.tensor(n.inputs[i]))) return info;
      data = {0};
      break;
    case LayoutClass::kEveryInput:
      data.resize(n.inputs.size());
      std::iota(data.begin(), data.end(), size_t{0});
      break;
    case LayoutClass::kAxes:
      // The inputs that must be known to remap axes or per-axis values (see remap_free_node).
      switch (n.op) {
        case OpKind::kSlice:
          if (!constants_at(g, n, {1, 2, 3, 4})) return info;
          break;
        case OpKind::kReduceL2:
        case OpKind::kReduceMax:
        case OpKind::kReduceMean:
        case OpKind::kReduceMin:
        case OpKind::kReduceProd:
        case OpKind::kReduceSum:
          if (!constants_at(g, n, {1})) return info;
          if (n.attrs.get_int("keepdims", 1) == 0) {
            const bool noop = n.attrs.get_int("noop_with_empty_axes", 0) != 0 &&
                              (n.inputs.size() < 2 || n.inputs[1] == ir::kNoTensor ||
                               g.tensor(n.inputs[1]).int_values().empty());
            if (!noop) {
              if (!reduce_output_layout_free(g, n)) return info;
              outputs_4d = false;
            }
          }
          break;
        case OpKind::kPad:
          if (!constants_at(g, n, {1, 3})) return info;
          break;
        case OpKind::kResize:
          if (!constants_at(g, n, {1, 2, 3})) return info;
          break;
        case OpKind::kExpand:
          if (!constants_at(g, n, {1})) return info;
          break;
        default: break;  // Split, Softmax: an axis attribute
      }
      data = {0};
      break;
    case LayoutClass::kNchwOnly:
    case LayoutClass::kNhwcCapable:
    case LayoutClass::kReshape: return info;
  }
  for (TensorId t : n.outputs)
    if (t == ir::kNoTensor || (outputs_4d && !is_4d(g.tensor(t)))) return info;
  bool reads_activation = false;
  for (size_t i : data) {
    TensorId t = n.inputs[i];
    if (t == ir::kNoTensor) return info;
    const ir::Tensor& tensor = g.tensor(t);
    if (is_activation(g, t)) {
      reads_activation = true;
      continue;
    }
    if (single_element(tensor)) continue;
    if (!tensor.is_constant() || !tensor.shape.is_static() || tensor.shape.rank() > 4) return info;
  }
  if (!reads_activation) return info;
  info.role = Role::kFree;
  info.data_inputs = std::move(data);
  return info;
}

// The dims of a broadcast operand of rank <= 4 (aligned to N, C, H, W from the right) for
// NHWC data: pad to rank 4, permute, then drop leading 1s down to the original rank.
std::vector<int64_t> broadcast_dims_to_nhwc(const std::vector<int64_t>& dims) {
  std::vector<int64_t> full(4 - dims.size(), 1);
  full.insert(full.end(), dims.begin(), dims.end());
  std::vector<int64_t> out;
  for (int64_t p : kToNhwc) out.push_back(full[static_cast<size_t>(p)]);
  while (out.size() > dims.size() && out.front() == 1) out.erase(out.begin());
  return out;
}

int64_t find_root(std::vector<int64_t>& parent, int64_t i) {
  while (parent[static_cast<size_t>(i)] != i) {
    parent[static_cast<size_t>(i)] = parent[static_cast<size_t>(parent[static_cast<size_t>(i)])];
    i = parent[static_cast<size_t>(i)];
  }
  return i;
}

class LayoutPass {
 public:
  explicit LayoutPass(ir::Graph& g) : g_(g), names_(g) {}

  Status run(PassContext& ctx) {
    for (NodeId id : g_.nodes()) {
      if (g_.node(id).attrs.has("layout")) {
        add_note(ctx, "nhwc", "the graph already has layout attributes: nothing to do");
        return Status::ok();
      }
    }
    classify();
    choose_region_layouts();
    rewrite();
    for (NodeId id : g_.topological_order()) ir::infer_node(g_, id);
    compose_transposes();
    collapse_transpose_chains();
    unit_transposes_to_reshapes();

    size_t left = 0;
    for (NodeId id : g_.nodes())
      if (g_.node(id).op == OpKind::kTranspose) ++left;
    add_note(ctx, "nhwc",
             "NHWC nodes: " + std::to_string(anchors_) + " Conv/pool, " + std::to_string(free_nhwc_) +
                 " layout-free (" + std::to_string(regions_nhwc_) + " of " + std::to_string(regions_) +
                 " regions); transposes inserted: " + std::to_string(inserted_) + ", composed away: " +
                 std::to_string(composed_) + ", collapsed with reshapes: " + std::to_string(collapsed_) +
                 ", made reshapes: " + std::to_string(reshaped_) +
                 "; Transpose nodes in the graph: " + std::to_string(left));
    return Status::ok();
  }

 private:
  // ---- analysis -------------------------------------------------------------------

  void classify() {
    info_.assign(g_.node_capacity(), NodeInfo{});
    for (NodeId id : g_.nodes()) {
      const ir::Node& n = g_.node(id);
      info_[static_cast<size_t>(id)] = layout_class(n.op) == LayoutClass::kNhwcCapable ? anchor_role(g_, n) : free_role(g_, n);
    }
  }

  const NodeInfo& info(NodeId id) const { return info_[static_cast<size_t>(id)]; }

  bool reads_as_data(NodeId id, size_t input) const {
    const std::vector<size_t>& d = info(id).data_inputs;
    return std::find(d.begin(), d.end(), input) != d.end();
  }

  // The layout node `id` wants at input `input` (an activation), given the region layouts.
  Layout wanted(NodeId id, size_t input) const {
    if (!reads_as_data(id, input)) return Layout::kNchw;
    return layout_of_node(id);
  }

  Layout layout_of_node(NodeId id) const {
    switch (info(id).role) {
      case Role::kAnchor: return Layout::kNhwc;
      case Role::kFree: return region_layout_[static_cast<size_t>(region_[static_cast<size_t>(id)])];
      case Role::kFixed: break;
    }
    return Layout::kNchw;
  }

  void choose_region_layouts() {
    // Regions: union of free nodes that write or read the same activation as data.
    std::vector<int64_t> parent(g_.node_capacity());
    std::iota(parent.begin(), parent.end(), int64_t{0});
    std::map<TensorId, std::vector<NodeId>> free_users;  // ordered: deterministic
    for (NodeId id : g_.nodes()) {
      if (info(id).role != Role::kFree) continue;
      const ir::Node& n = g_.node(id);
      for (size_t i : info(id).data_inputs)
        if (is_activation(g_, n.inputs[i])) free_users[n.inputs[i]].push_back(id);
      for (TensorId t : n.outputs)
        if (is_activation(g_, t)) free_users[t].push_back(id);
    }
    for (const auto& [t, users] : free_users)
      for (size_t k = 1; k < users.size(); ++k)
        parent[static_cast<size_t>(find_root(parent, users[k]))] = find_root(parent, users[0]);

    region_.assign(g_.node_capacity(), -1);
    std::map<int64_t, int64_t> region_of_root;
    for (NodeId id : g_.nodes()) {
      if (info(id).role != Role::kFree) continue;
      int64_t root = find_root(parent, id);
      auto it = region_of_root.emplace(root, static_cast<int64_t>(region_of_root.size())).first;
      region_[static_cast<size_t>(id)] = it->second;
    }
    regions_ = region_of_root.size();
    region_layout_.assign(regions_, Layout::kNchw);

    // The tensors each region touches.
    const ir::UseIndex uses(g_);
    std::vector<std::set<TensorId>> touched(regions_);
    for (const auto& [t, users] : free_users)
      touched[static_cast<size_t>(region_[static_cast<size_t>(users[0])])].insert(t);
    for (size_t r = 0; r < regions_; ++r) {
      std::pair<size_t, size_t> cost[2];  // (transposes, reshapes) per layout
      for (Layout candidate : {Layout::kNchw, Layout::kNhwc}) {
        region_layout_[r] = candidate;
        std::pair<size_t, size_t>& c = cost[static_cast<int>(candidate)];
        c = {0, 0};
        for (TensorId t : touched[r]) {
          if (!needs_conversion(t, uses) || conversion_merges_with_transposes(t, uses)) continue;
          if (reshape_converts(g_.tensor(t).shape.sizes()))
            ++c.second;
          else
            ++c.first;
        }
      }
      region_layout_[r] = cost[1] <= cost[0] ? Layout::kNhwc : Layout::kNchw;
      if (region_layout_[r] == Layout::kNhwc) ++regions_nhwc_;
    }
  }

  Layout written_layout(TensorId t, const ir::UseIndex& uses) const {
    NodeId p = uses.producer(t);
    return p == ir::kNoNode ? Layout::kNchw : layout_of_node(p);
  }

  // Whether some reader of activation t wants the other layout than its writer's.
  bool needs_conversion(TensorId t, const ir::UseIndex& uses) const {
    const Layout written = written_layout(t, uses);
    if (uses.is_graph_output(t) && written != Layout::kNchw) return true;
    for (NodeId c : uses.consumers(t)) {
      const ir::Node& n = g_.node(c);
      for (size_t i = 0; i < n.inputs.size(); ++i)
        if (n.inputs[i] == t && wanted(c, i) != written) return true;
    }
    return false;
  }

  // Whether converting activation t costs no transpose of its own, because
  // compose_transposes merges it with the graph's Transposes next to it: t is written by a
  // Transpose and every reader wants the other layout (ConvNeXt's permute back to NCHW before
  // its residual Add), or every reader that wants the other layout is a Transpose (the
  // permute to NHWC before its next LayerNorm). Counting such a conversion made regions
  // between two permutes keep the layout that needs a transpose per block.
  bool conversion_merges_with_transposes(TensorId t, const ir::UseIndex& uses) const {
    if (uses.is_graph_output(t)) return false;
    const Layout written = written_layout(t, uses);
    const NodeId producer = uses.producer(t);
    bool all_want_other = true, other_readers_transpose = true;
    for (NodeId c : uses.consumers(t)) {
      const ir::Node& n = g_.node(c);
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        if (n.inputs[i] != t) continue;
        if (wanted(c, i) == written) all_want_other = false;
        else if (n.op != OpKind::kTranspose) other_readers_transpose = false;
      }
    }
    return (producer != ir::kNoNode && g_.node(producer).op == OpKind::kTranspose && all_want_other) ||
           other_readers_transpose;
  }

  // ---- rewriting ------------------------------------------------------------------

  void rewrite() {
    const std::vector<NodeId> original = g_.nodes();
    for (NodeId id : original)
      if (info(id).role != Role::kFixed && layout_of_node(id) == Layout::kNhwc)
        for (TensorId t : g_.node(id).outputs)
          if (is_activation(g_, t)) layout_[t] = Layout::kNhwc;
    // Each output's rewiring touches only that output's producer and readers, so one index
    // serves the whole loop.
    const ir::UseIndex uses(g_);
    for (TensorId t : std::vector<TensorId>(g_.outputs))
      if (layout_.count(t) && layout_[t] == Layout::kNhwc) keep_output_nchw(t, uses);

    for (NodeId id : original) {
      if (info(id).role == Role::kFixed || layout_of_node(id) != Layout::kNhwc) continue;
      if (info(id).role == Role::kAnchor) {
        g_.node(id).attrs.set("layout", std::string("NHWC"));
        ++anchors_;
      } else {
        remap_free_node(id);
        ++free_nhwc_;
      }
    }
    for (NodeId id : original) {
      for (size_t i = 0; i < g_.node(id).inputs.size(); ++i) {
        TensorId t = g_.node(id).inputs[i];
        if (!is_activation(g_, t)) continue;
        auto it = layout_.find(t);
        const Layout has = it == layout_.end() ? Layout::kNchw : it->second;
        const Layout want = wanted(id, i);
        if (has != want) g_.node(id).inputs[i] = converted(t, want);
      }
    }
  }

  // Graph output t is written in NHWC: its producer writes a new tensor instead, and a
  // Transpose gives back t (name, shape and layout unchanged).
  void keep_output_nchw(TensorId t, const ir::UseIndex& uses) {
    ir::Tensor copy = g_.tensor(t);
    copy.name = names_.unique(copy.name + "_nhwc");
    const TensorId inner = g_.add_tensor(std::move(copy));
    const NodeId producer = uses.producer(t);
    for (TensorId& o : g_.node(producer).outputs)
      if (o == t) o = inner;
    for (NodeId c : uses.consumers(t))
      for (TensorId& in : g_.node(c).inputs)
        if (in == t) in = inner;
    layout_[inner] = Layout::kNhwc;
    layout_.erase(t);
    add_transpose(inner, t, Layout::kNchw);
    conversions_[{inner, Layout::kNchw}] = t;
  }

  TensorId converted(TensorId t, Layout to) {
    auto it = conversions_.find({t, to});
    if (it != conversions_.end()) return it->second;
    ir::Tensor out;
    out.name = names_.unique(g_.tensor(t).name + (to == Layout::kNhwc ? "_nhwc" : "_nchw"));
    out.dtype = g_.tensor(t).dtype;
    const TensorId id = g_.add_tensor(std::move(out));
    add_transpose(t, id, to);
    layout_[id] = to;
    conversions_[{t, to}] = id;
    return id;
  }

  void add_transpose(TensorId from, TensorId to_tensor, Layout to) {
    ir::Node n;
    n.op = OpKind::kTranspose;
    n.name = g_.tensor(from).name + (to == Layout::kNhwc ? "/to_nhwc" : "/to_nchw");
    n.attrs.set("perm", perm_to(to));
    n.inputs = {from};
    n.outputs = {to_tensor};
    g_.add_node(std::move(n));
    ++inserted_;
  }

  TensorId int_constant(const std::string& base, const std::vector<int64_t>& values) {
    return ir::add_constant<int64_t>(g_, names_.unique(base), ir::DType::kInt64,
                                     {static_cast<int64_t>(values.size())}, values);
  }

  // A 1-D constant whose element j is element index[j] of constant t (any dtype).
  TensorId gathered(TensorId t, const std::vector<int64_t>& index) {
    const ir::Tensor& src = g_.tensor(t);
    const size_t size = ir::dtype_size(src.dtype);
    auto buffer = std::make_shared<ir::Buffer>();
    buffer->bytes.resize(index.size() * size);
    for (size_t j = 0; j < index.size(); ++j)
      std::memcpy(buffer->bytes.data() + j * size, src.data->bytes.data() + static_cast<size_t>(index[j]) * size,
                  size);
    ir::Tensor out;
    out.name = names_.unique(src.name + "_nhwc");
    out.dtype = src.dtype;
    out.shape = ir::Shape({static_cast<int64_t>(index.size())});
    out.data = std::move(buffer);
    return g_.add_tensor(std::move(out));
  }

  // Per-axis values of a 4-D tensor ([4], or begins then ends [8]) in NHWC order.
  TensorId per_axis_to_nhwc(TensorId t) {
    const int64_t n = g_.tensor(t).shape.num_elements();
    std::vector<int64_t> index;
    for (int64_t group = 0; group < n / 4; ++group)
      for (int64_t p : kToNhwc) index.push_back(group * 4 + p);
    return gathered(t, index);
  }

  // A constant operand of an NHWC node, permuted as its broadcast against NHWC data needs.
  TensorId constant_to_nhwc(TensorId t) {
    auto it = permuted_.find(t);
    if (it != permuted_.end()) return it->second;
    const ir::Tensor& src = g_.tensor(t);
    const std::vector<int64_t> dims = src.shape.sizes();
    std::vector<int64_t> full(4 - dims.size(), 1);
    full.insert(full.end(), dims.begin(), dims.end());
    const int64_t N = full[0], C = full[1], H = full[2], W = full[3];
    const size_t size = ir::dtype_size(src.dtype);
    auto buffer = std::make_shared<ir::Buffer>();
    buffer->bytes.resize(src.data->bytes.size());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t w = 0; w < W; ++w)
            std::memcpy(buffer->bytes.data() + static_cast<size_t>(((n * H + h) * W + w) * C + c) * size,
                        src.data->bytes.data() + static_cast<size_t>(((n * C + c) * H + h) * W + w) * size,
                        size);
    ir::Tensor out;
    out.name = names_.unique(src.name + "_nhwc");
    out.dtype = src.dtype;
    out.shape = ir::Shape(broadcast_dims_to_nhwc(dims));
    out.data = std::move(buffer);
    const TensorId id = g_.add_tensor(std::move(out));
    permuted_[t] = id;
    return id;
  }

  void set_axis_attr(ir::Node& n, const char* name, int64_t dflt) {
    int64_t a = n.attrs.get_int(name, dflt);
    n.attrs.set(name, kToNchw[static_cast<size_t>(a < 0 ? a + 4 : a)]);
  }

  std::vector<int64_t> axes_to_nhwc(const std::vector<int64_t>& axes) {
    std::vector<int64_t> out;
    for (int64_t a : normalized_axes(axes)) out.push_back(kToNchw[static_cast<size_t>(a)]);
    return out;
  }

  // Rewrites the axes, per-axis constants and constant data operands of a free node that
  // runs NHWC.
  void remap_free_node(NodeId id) {
    ir::Node& n = g_.node(id);
    const std::string base = n.name.empty() ? std::string(ir::op_name(n.op)) : n.name;
    switch (n.op) {
      case OpKind::kConcat: set_axis_attr(n, "axis", 0); break;
      case OpKind::kSplit: set_axis_attr(n, "axis", 0); break;
      case OpKind::kSoftmax: set_axis_attr(n, "axis", -1); break;
      case OpKind::kSlice: {
        std::vector<int64_t> axes;
        if (n.inputs.size() > 3 && n.inputs[3] != ir::kNoTensor) {
          axes = g_.tensor(n.inputs[3]).int_values();
        } else {
          axes.resize(static_cast<size_t>(g_.tensor(n.inputs[1]).shape.num_elements()));
          std::iota(axes.begin(), axes.end(), int64_t{0});
        }
        if (n.inputs.size() < 4) n.inputs.resize(4, ir::kNoTensor);
        n.inputs[3] = int_constant(base + "/axes_nhwc", axes_to_nhwc(axes));
        break;
      }
      case OpKind::kReduceL2:
      case OpKind::kReduceMax:
      case OpKind::kReduceMean:
      case OpKind::kReduceMin:
      case OpKind::kReduceProd:
      case OpKind::kReduceSum:
        if (n.inputs.size() > 1 && n.inputs[1] != ir::kNoTensor) {
          std::vector<int64_t> axes = g_.tensor(n.inputs[1]).int_values();
          if (!axes.empty()) n.inputs[1] = int_constant(base + "/axes_nhwc", axes_to_nhwc(axes));
        }
        break;
      case OpKind::kPad:
        if (n.inputs.size() > 3 && n.inputs[3] != ir::kNoTensor)
          n.inputs[3] = int_constant(base + "/axes_nhwc", axes_to_nhwc(g_.tensor(n.inputs[3]).int_values()));
        else
          n.inputs[1] = per_axis_to_nhwc(n.inputs[1]);
        break;
      case OpKind::kResize:
        if (n.attrs.has("axes")) {
          n.attrs.set("axes", axes_to_nhwc(n.attrs.get_ints("axes")));
        } else {
          // roi [8], scales [4], sizes [4]; empty constants stand for omitted inputs.
          for (size_t i = 1; i < n.inputs.size() && i <= 3; ++i)
            if (n.inputs[i] != ir::kNoTensor && g_.tensor(n.inputs[i]).shape.num_elements() > 0)
              n.inputs[i] = per_axis_to_nhwc(n.inputs[i]);
        }
        break;
      case OpKind::kExpand:
        n.inputs[1] = int_constant(base + "/shape_nhwc", broadcast_dims_to_nhwc(g_.tensor(n.inputs[1]).int_values()));
        break;
      default: break;
    }
    for (size_t i : info(id).data_inputs) {
      TensorId t = g_.node(id).inputs[i];
      const ir::Tensor& tensor = g_.tensor(t);
      if (tensor.is_constant() && !single_element(tensor)) g_.node(id).inputs[i] = constant_to_nhwc(t);
    }
  }

  // ---- clean-up -------------------------------------------------------------------

  bool unused(TensorId t) const { return !g_.is_graph_output(t) && g_.consumers(t).empty(); }

  std::vector<int64_t> perm_of(NodeId id) const {
    std::vector<int64_t> perm = g_.node(id).attrs.get_ints("perm");
    if (perm.empty())
      for (size_t d = g_.tensor(g_.node(id).inputs[0]).shape.rank(); d-- > 0;) perm.push_back(static_cast<int64_t>(d));
    return perm;
  }

  void compose_transposes() {
    // Writers looked up once (a scan per Transpose was quadratic), kept current as steps
    // remove or move them.
    ir::UseIndex uses(g_);
    for (NodeId id : g_.topological_order()) {
      if (!g_.node_alive(id) || g_.node(id).op != OpKind::kTranspose) continue;
      const NodeId first = uses.producer(g_.node(id).inputs[0]);
      if (first == ir::kNoNode || g_.node(first).op != OpKind::kTranspose) continue;
      const std::vector<int64_t> inner = perm_of(first), outer = perm_of(id);
      std::vector<int64_t> perm;
      for (int64_t p : outer) perm.push_back(inner[static_cast<size_t>(p)]);
      const TensorId mid = g_.node(id).inputs[0];
      const TensorId x = g_.node(first).inputs[0];
      g_.node(id).inputs[0] = x;
      g_.node(id).attrs.set("perm", perm);
      if (unused(mid)) {
        g_.remove_node(first);
        uses.set_producer(mid, ir::kNoNode);
      }
      ++composed_;
      if (is_identity(perm)) bypass(id, uses);
    }
  }

  // Removes the identity Transpose `id` (x -> y) when y's readers can read x instead.
  void bypass(NodeId id, ir::UseIndex& uses) {
    const TensorId x = g_.node(id).inputs[0], y = g_.node(id).outputs[0];
    if (!g_.is_graph_output(y)) {
      g_.remove_node(id);
      uses.set_producer(y, ir::kNoNode);
      g_.replace_all_uses(y, x);
      return;
    }
    // y names a graph output: x's producer writes y instead, unless x must keep its name.
    const NodeId producer = uses.producer(x);
    if (producer == ir::kNoNode || g_.is_graph_output(x)) return;
    g_.remove_node(id);
    for (TensorId& o : g_.node(producer).outputs)
      if (o == x) o = y;
    uses.set_producer(y, producer);
    uses.set_producer(x, ir::kNoNode);
    g_.replace_all_uses(x, y);
  }

  // Turns node `id` into Reshape(x) to its (static) output shape.
  void make_reshape(NodeId id, TensorId x) {
    ir::Node& n = g_.node(id);
    const std::vector<int64_t> shape = g_.tensor(n.outputs[0]).shape.sizes();
    n.op = OpKind::kReshape;
    n.attrs = ir::Attributes{};
    // A literal 0 in the target means "copy the input dim" unless allowzero.
    if (std::find(shape.begin(), shape.end(), 0) != shape.end()) n.attrs.set("allowzero", int64_t{1});
    const std::string base = n.name.empty() ? g_.tensor(n.outputs[0]).name : n.name;
    n.inputs = {x, int_constant(base + "/shape", shape)};
  }

  // Where the chain of Transposes and shape-only nodes `chain` (first and last a Transpose)
  // sends every element: out[i] is the row-major index in the chain's input of the element at
  // row-major index i of its output. Followed on the element indices of small tensors only
  // (empty for larger ones).
  std::vector<int64_t> chain_element_map(const std::vector<NodeId>& chain) const {
    constexpr int64_t kMaxElements = int64_t{1} << 20;
    const ir::Shape& x = g_.tensor(g_.node(chain.front()).inputs[0]).shape;
    if (!x.is_static() || x.num_elements() > kMaxElements) return {};
    std::vector<int64_t> values(static_cast<size_t>(x.num_elements()));
    std::iota(values.begin(), values.end(), int64_t{0});
    for (NodeId n : chain)
      if (g_.node(n).op == OpKind::kTranspose)
        transpose_values(g_.tensor(g_.node(n).inputs[0]).shape.sizes(), perm_of(n), &values);
    return values;
  }

  // Whether the element map `out` is one Transpose of the input viewed with some shape:
  // then `view` is that shape and `perm` the Transpose's. The output's dims are found from
  // the innermost out: each is the longest run of a constant step through the input; they
  // must tile the input (each step the product of the smaller steps' sizes) and spell
  // every element.
  static bool as_one_transpose(const std::vector<int64_t>& out, std::vector<int64_t>* view,
                               std::vector<int64_t>* perm) {
    const auto n = static_cast<int64_t>(out.size());
    if (n < 2 || out[0] != 0) return false;
    std::vector<std::pair<int64_t, int64_t>> dims;  // (size, input step), innermost output dim first
    for (int64_t span = 1; span < n;) {
      const int64_t step = out[static_cast<size_t>(span)];
      int64_t size = 2;
      while (span * (size + 1) <= n && out[static_cast<size_t>(span * size)] == step * size) ++size;
      if (step <= 0 || n % (span * size) != 0) return false;
      dims.emplace_back(size, step);
      span *= size;
    }
    // Input view: the dims by decreasing step, each step the product of the smaller ones' sizes.
    std::vector<size_t> by_step(dims.size());
    std::iota(by_step.begin(), by_step.end(), size_t{0});
    std::sort(by_step.begin(), by_step.end(), [&](size_t a, size_t b) { return dims[a].second < dims[b].second; });
    int64_t expected = 1;
    for (size_t i : by_step) {
      if (dims[i].second != expected) return false;
      expected *= dims[i].first;
    }
    // Every element where the dims say.
    std::vector<int64_t> coord(dims.size(), 0);
    int64_t offset = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (out[static_cast<size_t>(i)] != offset) return false;
      for (size_t d = 0; d < dims.size(); ++d) {
        offset += dims[d].second;
        if (++coord[d] < dims[d].first) break;
        offset -= dims[d].second * dims[d].first;
        coord[d] = 0;
      }
    }
    view->clear();
    perm->clear();
    std::vector<int64_t> axis_of(dims.size());
    for (size_t a = 0; a < by_step.size(); ++a) {  // view axis a: the a-th largest step
      const size_t d = by_step[by_step.size() - 1 - a];
      view->push_back(dims[d].first);
      axis_of[d] = static_cast<int64_t>(a);
    }
    for (size_t d = dims.size(); d-- > 0;) perm->push_back(axis_of[d]);  // outermost output dim first
    return true;
  }

  // Transpose -> (Reshape/Flatten/Squeeze/Unsqueeze/Transpose)... -> Transpose, each read
  // only by the next:
  // - becomes one Reshape when together they move no element (NHWC data flattened to
  //   [N, H*W, C], as vision transformers do);
  // - becomes Reshape -> Transpose -> Reshape when together they are one transpose of a
  //   reshaped view and hold more than one transpose. A channel shuffle between NHWC convs
  //   (ShuffleNet: to NCHW, split C into groups, swap, merge, back to NHWC) is five nodes
  //   with three transposes; it becomes [N*H*W, g, C/g] -> [N*H*W, C/g, g].
  void collapse_transpose_chains() {
    for (NodeId first : g_.topological_order()) {
      if (!g_.node_alive(first) || g_.node(first).op != OpKind::kTranspose) continue;
      std::vector<NodeId> chain = {first};
      size_t last = 0;  // chain[last]: the last Transpose
      TensorId t = g_.node(first).outputs[0];
      for (NodeId next = sole_consumer(g_, t);
           next != ir::kNoNode && (is_shape_only(g_.node(next).op) || g_.node(next).op == OpKind::kTranspose) &&
           g_.node(next).inputs[0] == t &&
           std::count(g_.node(next).inputs.begin(), g_.node(next).inputs.end(), t) == 1;
           next = sole_consumer(g_, t)) {
        chain.push_back(next);
        if (g_.node(next).op == OpKind::kTranspose) last = chain.size() - 1;
        t = g_.node(next).outputs[0];
      }
      if (last == 0) continue;
      chain.resize(last + 1);
      const std::vector<int64_t> map = chain_element_map(chain);
      if (map.empty()) continue;
      const TensorId x = g_.node(first).inputs[0];
      const NodeId end = chain.back();
      bool identity = true;
      for (size_t i = 0; i < map.size() && identity; ++i) identity = map[i] == static_cast<int64_t>(i);
      if (identity) {
        make_reshape(end, x);
      } else {
        const size_t transposes = static_cast<size_t>(
            std::count_if(chain.begin(), chain.end(), [&](NodeId n) { return g_.node(n).op == OpKind::kTranspose; }));
        std::vector<int64_t> view, perm;
        if (transposes < 2 || !as_one_transpose(map, &view, &perm)) continue;
        one_transpose(x, view, perm, end);
      }
      for (NodeId n : chain)
        if (n != end) g_.remove_node(n);
      ++collapsed_;
    }
  }

  // Node `end` becomes Reshape(Transpose(Reshape(x, view), perm)) to its output shape; the
  // reshapes are left out where they change nothing.
  void one_transpose(TensorId x, const std::vector<int64_t>& view, const std::vector<int64_t>& perm, NodeId end) {
    const TensorId y = g_.node(end).outputs[0];
    const std::string base = g_.node(end).name.empty() ? g_.tensor(y).name : g_.node(end).name;
    auto add_tensor = [&](const std::string& suffix, const std::vector<int64_t>& shape) {
      ir::Tensor out = g_.tensor(y);
      out.name = names_.unique(g_.tensor(y).name + suffix);
      out.shape = ir::Shape(shape);
      return g_.add_tensor(std::move(out));
    };
    TensorId viewed = x;
    if (g_.tensor(x).shape.sizes() != view) {
      viewed = add_tensor("/view", view);
      ir::Node r;
      r.op = OpKind::kReshape;
      r.name = base + "/view";
      r.inputs = {x, int_constant(base + "/view_shape", view)};
      r.outputs = {viewed};
      g_.add_node(std::move(r));
    }
    std::vector<int64_t> permuted;
    for (int64_t p : perm) permuted.push_back(view[static_cast<size_t>(p)]);
    if (permuted == g_.tensor(y).shape.sizes()) {
      ir::Node& n = g_.node(end);
      n.op = OpKind::kTranspose;
      n.attrs = ir::Attributes{};
      n.attrs.set("perm", perm);
      n.inputs = {viewed};
      return;
    }
    const TensorId moved = add_tensor("/transposed", permuted);
    ir::Node tr;
    tr.op = OpKind::kTranspose;
    tr.name = base + "/transpose";
    tr.attrs.set("perm", perm);
    tr.inputs = {viewed};
    tr.outputs = {moved};
    g_.add_node(std::move(tr));
    make_reshape(end, moved);
  }

  void unit_transposes_to_reshapes() {
    // One index for the loop: a step rewires only the readers of its own output y and of its
    // input x, whose producer came earlier in the order; later steps ask about their own
    // outputs, downstream of both.
    const ir::UseIndex uses(g_);
    for (NodeId id : g_.topological_order()) {
      if (!g_.node_alive(id) || g_.node(id).op != OpKind::kTranspose) continue;
      const TensorId x = g_.node(id).inputs[0], y = g_.node(id).outputs[0];
      if (!moves_only_unit_dims(g_.tensor(x).shape.sizes(), perm_of(id))) continue;
      ++reshaped_;
      const std::vector<NodeId>& readers = uses.consumers(y);
      bool absorbed = !readers.empty() && !uses.is_graph_output(y);
      for (NodeId r : readers)
        absorbed = absorbed && is_shape_only(g_.node(r).op) && g_.node(r).inputs[0] == y &&
                   std::count(g_.node(r).inputs.begin(), g_.node(r).inputs.end(), y) == 1;
      if (!absorbed) {
        make_reshape(id, x);
        continue;
      }
      for (NodeId r : readers) make_reshape(r, x);
      g_.remove_node(id);
    }
  }

  ir::Graph& g_;
  std::vector<NodeInfo> info_;
  std::vector<int64_t> region_;       // per node: its region, -1 when not free
  std::vector<Layout> region_layout_;
  std::map<TensorId, Layout> layout_;  // activations written in NHWC (others NCHW)
  std::map<std::pair<TensorId, Layout>, TensorId> conversions_;
  std::map<TensorId, TensorId> permuted_;  // constant -> its NHWC copy
  TensorNames names_;  // every tensor this pass adds is named here
  size_t regions_ = 0, regions_nhwc_ = 0, anchors_ = 0, free_nhwc_ = 0;
  size_t inserted_ = 0, composed_ = 0, collapsed_ = 0, reshaped_ = 0;
};

}  // namespace

Status run_nhwc(ir::Graph& graph, const PassOptions&, PassContext& ctx) { return LayoutPass(graph).run(ctx); }

}  // namespace pare::passes
