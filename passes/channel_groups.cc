#include "passes/channel_groups.h"

#include <algorithm>
#include <map>
#include <queue>
#include <set>

#include "passes/pass_util.h"

namespace pare::passes {

namespace {

using ir::NodeId;
using ir::OpKind;
using ir::TensorId;

bool is_float_data(const ir::Graph& graph, TensorId t) {
  return t != ir::kNoTensor && !graph.tensor(t).is_constant() && graph.tensor(t).dtype == ir::DType::kFloat32 &&
         !graph.tensor(t).quant && graph.tensor(t).shape.is_static();
}

bool optional_float_constant(const ir::Graph& graph, const ir::Node& node, size_t i) {
  return node.inputs.size() <= i || node.inputs[i] == ir::kNoTensor ||
         (is_float_constant(graph.tensor(node.inputs[i])) && !graph.tensor(node.inputs[i]).quant);
}

bool has_float_weights(const ir::Graph& graph, const ir::Node& node) {
  return node.inputs.size() >= 2 && node.inputs[1] != ir::kNoTensor && node.outputs.size() == 1 &&
         optional_float_constant(graph, node, 1) && optional_float_constant(graph, node, 2) &&
         is_float_data(graph, node.inputs[0]) && is_float_data(graph, node.outputs[0]);
}

// Ops that map channel c of input 0 to channel c of their output, elementwise or per channel.
bool is_channelwise(OpKind op) {
  switch (op) {
    case OpKind::kRelu: case OpKind::kClip: case OpKind::kSigmoid: case OpKind::kHardSigmoid:
    case OpKind::kHardSwish: case OpKind::kLeakyRelu: case OpKind::kTanh: case OpKind::kIdentity:
    case OpKind::kMaxPool: case OpKind::kAveragePool: case OpKind::kGlobalAveragePool:
      return true;
    default:
      return false;
  }
}

bool is_binary_elementwise(OpKind op) {
  return op == OpKind::kAdd || op == OpKind::kSub || op == OpKind::kMul || op == OpKind::kDiv;
}

class UnionFind {
 public:
  int add(int n) {
    const int first = static_cast<int>(parent_.size());
    for (int i = 0; i < n; ++i) parent_.push_back(first + i);
    return first;
  }
  int find(int x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  void unite(int a, int b) {
    a = find(a), b = find(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }

 private:
  std::vector<int> parent_;
};

// Grows one group from a layer's output, breadth first over producers and consumers.
class GroupBuilder {
 public:
  GroupBuilder(const ir::Graph& graph, const ir::UseIndex& uses, std::vector<char>& claimed)
      : g_(graph), uses_(uses), claimed_(claimed) {}

  ChannelGroup build(NodeId seed) {
    add_member(seed, MemberRole::kProducer, g_.node(seed).outputs[0]);
    add_tensor(g_.node(seed).outputs[0], 1);
    while (!queue_.empty()) {
      const TensorId t = queue_.front();
      queue_.pop();
      visit(t);
    }
    finish();
    return std::move(group_);
  }

 private:
  void unsafe(const std::string& reason) {
    if (group_.unsafe.empty()) group_.unsafe = reason;
  }

  std::string tensor_name(TensorId t) const { return "'" + g_.tensor(t).name + "'"; }

  // Adds `t` with `spread` features per channel; returns its index, or -1 (group unsafe).
  int add_tensor(TensorId t, int64_t spread) {
    auto it = index_.find(t);
    if (it != index_.end()) {
      if (group_.tensors[it->second].spread != spread) unsafe("tensor " + tensor_name(t) + " is reshaped two ways");
      return it->second;
    }
    const ir::Tensor& tensor = g_.tensor(t);
    if (!is_float_data(g_, t) || tensor.shape.rank() < 2) {
      unsafe("tensor " + tensor_name(t) + " is not float data of a known shape with a channel axis");
      return -1;
    }
    const int64_t features = tensor.shape.sizes()[1];
    if (features % spread != 0) {
      unsafe("tensor " + tensor_name(t) + " does not split into channels");
      return -1;
    }
    GroupTensor gt;
    gt.id = t;
    gt.spread = spread;
    gt.units = features / spread;
    first_unit_.push_back(units_.add(static_cast<int>(gt.units)));
    index_[t] = static_cast<int>(group_.tensors.size());
    group_.tensors.push_back(std::move(gt));
    claimed_[static_cast<size_t>(t)] = 1;
    queue_.push(t);
    return index_[t];
  }

  // Ties channel c of `a` to channel c + offset of `b`, for c < channels of `a`; a tensor new
  // to the group comes in with the given spread.
  void tie(TensorId a, int64_t spread_a, TensorId b, int64_t offset, int64_t spread_b) {
    const int ia = add_tensor(a, spread_a);
    const int ib = add_tensor(b, spread_b);
    if (ia < 0 || ib < 0) return;
    const GroupTensor& ta = group_.tensors[ia];
    const GroupTensor& tb = group_.tensors[ib];
    if (offset + ta.units > tb.units) return unsafe("channels of " + tensor_name(a) + " and " + tensor_name(b) + " disagree");
    for (int64_t c = 0; c < ta.units; ++c)
      units_.unite(first_unit_[ia] + static_cast<int>(c), first_unit_[ib] + static_cast<int>(offset + c));
  }

  int64_t spread_of(TensorId t) const {
    auto it = index_.find(t);
    return it == index_.end() ? 1 : group_.tensors[it->second].spread;
  }

  void add_member(NodeId node, MemberRole role, TensorId tensor, size_t input = 0) {
    for (const GroupMember& m : group_.members)
      if (m.node == node && m.role == role && m.tensor == tensor && m.input == input) return;
    group_.members.push_back({node, role, tensor, input});
  }

  void visit(TensorId t) {
    if (uses_.is_graph_output(t)) return unsafe("tensor " + tensor_name(t) + " is a graph output");
    const NodeId producer = uses_.producer(t);
    if (producer == ir::kNoNode) return unsafe("tensor " + tensor_name(t) + " is a graph input");
    if (is_prunable_layer(g_, g_.node(producer)) && g_.node(producer).outputs[0] == t)
      add_member(producer, MemberRole::kProducer, t);
    else
      follow(producer, t);
    for (NodeId c : uses_.consumers(t)) {
      const ir::Node& n = g_.node(c);
      if (is_prunable_layer(g_, n) && n.inputs[0] == t &&
          std::count(n.inputs.begin(), n.inputs.end(), t) == 1) {
        if (n.op == OpKind::kConv && spread_of(t) != 1)
          unsafe("Conv " + describe_node(g_, c) + " reads a flattened tensor");
        add_member(c, MemberRole::kConsumer, t);
      } else {
        follow(c, t);
      }
    }
  }

  // A node that carries channels through: ties its group tensors, or makes the group unsafe.
  void follow(NodeId id, TensorId from) {
    if (!followed_.insert(id).second) return;
    const ir::Node& n = g_.node(id);
    const std::string what = describe_node(g_, id);
    if (n.outputs.size() != 1 || n.inputs.empty()) return unsafe(what + " on channels of " + tensor_name(from));
    const TensorId out = n.outputs[0];
    const TensorId in = n.inputs[0];
    if (is_channelwise(n.op)) {
      for (size_t i = 1; i < n.inputs.size(); ++i)
        if (n.inputs[i] != ir::kNoTensor &&
            !(g_.tensor(n.inputs[i]).is_constant() && g_.tensor(n.inputs[i]).shape.is_static() &&
              g_.tensor(n.inputs[i]).shape.num_elements() == 1))
          return unsafe(what + " has a parameter that is not a scalar constant");
      if (!is_float_data(g_, in) || !is_float_data(g_, out) ||
          g_.tensor(in).shape.rank() != g_.tensor(out).shape.rank() ||
          g_.tensor(in).shape.sizes()[1] != g_.tensor(out).shape.sizes()[1])
        return unsafe(what + " changes the channels");
      return tie(in, spread_of(in), out, 0, spread_of(in));
    }
    if (is_depthwise_conv(g_, n)) {
      add_member(id, MemberRole::kDepthwise, out);
      return tie(in, 1, out, 0, 1);
    }
    if (is_binary_elementwise(n.op)) return follow_elementwise(id);
    if (n.op == OpKind::kConcat) return follow_concat(id);
    if (n.op == OpKind::kFlatten || n.op == OpKind::kReshape) return follow_flatten(id);
    if (n.op == OpKind::kReduceMean || n.op == OpKind::kReduceSum) return follow_reduce(id);
    if (n.op == OpKind::kMatMul) return unsafe(what + " multiplies along the channel axis");
    unsafe(what + " reads or writes channels of " + tensor_name(from) + " in a way pruning cannot follow");
  }

  void follow_elementwise(NodeId id) {
    const ir::Node& n = g_.node(id);
    const TensorId out = n.outputs[0];
    if (!is_float_data(g_, out)) return unsafe(describe_node(g_, id) + " writes no float data");
    const std::vector<int64_t> out_dims = g_.tensor(out).shape.sizes();
    const int64_t rank = static_cast<int64_t>(out_dims.size());
    int64_t spread = 0;  // of the output: that of its data inputs
    for (TensorId in : n.inputs) {
      if (in == ir::kNoTensor || g_.tensor(in).is_constant()) continue;
      auto it = index_.find(in);
      if (it != index_.end()) spread = group_.tensors[it->second].spread;
    }
    if (spread == 0) spread = 1;
    const int io = add_tensor(out, spread);
    if (io < 0) return;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const TensorId in = n.inputs[k];
      const ir::Tensor& t = g_.tensor(in);
      if (!t.shape.is_static()) return unsafe(describe_node(g_, id) + " has an input of unknown shape");
      const std::vector<int64_t> dims = t.shape.sizes();
      const int64_t axis = 1 - (rank - static_cast<int64_t>(dims.size()));  // channel axis in `in`
      const bool broadcast = axis < 0 || dims[static_cast<size_t>(axis)] == 1;
      if (t.is_constant()) {
        if (!broadcast && dims[static_cast<size_t>(axis)] == out_dims[1] && is_float_constant(t))
          add_member(id, MemberRole::kConstant, out, k);
        else if (!broadcast)
          return unsafe(describe_node(g_, id) + " has a constant that does not align with the channels");
      } else if (!broadcast) {
        if (static_cast<int64_t>(dims.size()) != rank || dims[1] != out_dims[1])
          return unsafe(describe_node(g_, id) + " broadcasts channels");
        tie(in, spread, out, 0, spread);
      }
    }
  }

  void follow_concat(NodeId id) {
    const ir::Node& n = g_.node(id);
    const TensorId out = n.outputs[0];
    if (!is_float_data(g_, out)) return unsafe(describe_node(g_, id) + " writes no float data");
    const int64_t rank = static_cast<int64_t>(g_.tensor(out).shape.rank());
    int64_t axis = n.attrs.get_int("axis", 0);
    if (axis < 0) axis += rank;
    if (axis != 1) return unsafe(describe_node(g_, id) + " concatenates along another axis than channels");
    int64_t offset = 0;
    for (TensorId in : n.inputs) {
      if (in == ir::kNoTensor || g_.tensor(in).is_constant())
        return unsafe(describe_node(g_, id) + " concatenates a constant");
      tie(in, 1, out, offset, 1);
      if (!group_.unsafe.empty()) return;
      offset += g_.tensor(in).shape.sizes()[1];
    }
  }

  // A mean or sum over spatial axes keeps the channels.
  void follow_reduce(NodeId id) {
    const ir::Node& n = g_.node(id);
    const TensorId in = n.inputs[0], out = n.outputs[0];
    const std::string what = describe_node(g_, id);
    if (n.inputs.size() < 2 || n.inputs[1] == ir::kNoTensor || !g_.tensor(n.inputs[1]).is_constant() ||
        !is_float_data(g_, in) || spread_of(in) != 1)
      return unsafe(what + " reduces over the channels");
    const int64_t rank = static_cast<int64_t>(g_.tensor(in).shape.rank());
    const std::vector<int64_t> axes = g_.tensor(n.inputs[1]).int_values();
    for (int64_t a : axes)
      if (a < 0 ? a + rank < 2 : a < 2) return unsafe(what + " reduces over the batch or the channels");
    if (axes.empty()) return unsafe(what + " reduces over the channels");
    tie(in, 1, out, 0, 1);
  }

  // Flatten(axis 1), or a Reshape to [N, -1] of a constant shape: features c*spread ... of
  // the output come from channel c.
  void follow_flatten(NodeId id) {
    const ir::Node& n = g_.node(id);
    const std::string what = describe_node(g_, id);
    const TensorId in = n.inputs[0], out = n.outputs[0];
    if (!is_float_data(g_, in) || !is_float_data(g_, out)) return unsafe(what + " on data of unknown shape");
    const std::vector<int64_t> in_dims = g_.tensor(in).shape.sizes();
    const std::vector<int64_t> out_dims = g_.tensor(out).shape.sizes();
    const bool to_matrix = in_dims.size() >= 2 && out_dims.size() == 2 && out_dims[0] == in_dims[0];
    if (n.op == OpKind::kFlatten && (n.attrs.get_int("axis", 1) != 1 || !to_matrix))
      return unsafe(what + " flattens other axes than channels and space");
    if (n.op == OpKind::kReshape) {
      if (!to_matrix || n.inputs.size() < 2 || !g_.tensor(n.inputs[1]).is_constant())
        return unsafe(what + " reshapes channels other than a flatten");
      add_member(id, MemberRole::kReshape, out);
    }
    auto it = index_.find(in);
    if (it == index_.end() || group_.tensors[it->second].spread != 1)
      return unsafe(what + " reshapes channels other than a flatten");
    tie(in, 1, out, 0, out_dims[1] / in_dims[1]);
  }

  // Classes: the union-find roots, numbered in order of first appearance.
  void finish() {
    std::map<int, int> number;
    for (size_t i = 0; i < group_.tensors.size(); ++i) {
      GroupTensor& t = group_.tensors[i];
      t.class_of.resize(static_cast<size_t>(t.units));
      for (int64_t c = 0; c < t.units; ++c) {
        const int root = units_.find(first_unit_[i] + static_cast<int>(c));
        auto it = number.emplace(root, static_cast<int>(number.size())).first;
        t.class_of[static_cast<size_t>(c)] = it->second;
      }
    }
    group_.num_classes = static_cast<int>(number.size());
    std::sort(group_.members.begin(), group_.members.end(), [](const GroupMember& a, const GroupMember& b) {
      return std::tie(a.node, a.role, a.input) < std::tie(b.node, b.role, b.input);
    });
  }

  const ir::Graph& g_;
  const ir::UseIndex& uses_;
  std::vector<char>& claimed_;
  ChannelGroup group_;
  UnionFind units_;
  std::vector<int> first_unit_;
  std::map<TensorId, int> index_;
  std::queue<TensorId> queue_;
  std::set<NodeId> followed_;
};

}  // namespace

const GroupTensor* ChannelGroup::find(ir::TensorId t) const {
  for (const GroupTensor& gt : tensors)
    if (gt.id == t) return &gt;
  return nullptr;
}

std::vector<std::string> ChannelGroup::layers(const ir::Graph& graph) const {
  std::vector<std::string> names;
  for (const GroupMember& m : members)
    if (m.role == MemberRole::kProducer) names.push_back(graph.node(m.node).name);
  return names;
}

bool is_prunable_layer(const ir::Graph& graph, const ir::Node& node) {
  if (node.op == OpKind::kConv) {
    if (node.attrs.get_int("group", 1) != 1 || !has_float_weights(graph, node)) return false;
    return graph.tensor(node.inputs[1]).shape.rank() >= 3 && graph.tensor(node.inputs[0]).shape.rank() >= 3;
  }
  if (node.op == OpKind::kGemm) {
    if (node.attrs.get_int("transA", 0) != 0 || !has_float_weights(graph, node)) return false;
    if (graph.tensor(node.inputs[1]).shape.rank() != 2 || graph.tensor(node.inputs[0]).shape.rank() != 2) return false;
    // Only a bias shared by all rows: a scalar, [N] or [1, N].
    if (node.inputs.size() > 2 && node.inputs[2] != ir::kNoTensor) {
      const std::vector<int64_t> c = graph.tensor(node.inputs[2]).shape.sizes();
      const int64_t n = graph.tensor(node.outputs[0]).shape.sizes()[1];
      const bool ok = graph.tensor(node.inputs[2]).shape.num_elements() == 1 || (c.size() == 1 && c[0] == n) ||
                      (c.size() == 2 && c[0] == 1 && c[1] == n);
      if (!ok) return false;
    }
    return true;
  }
  return false;
}

bool is_depthwise_conv(const ir::Graph& graph, const ir::Node& node) {
  if (node.op != OpKind::kConv || !has_float_weights(graph, node)) return false;
  const std::vector<int64_t> w = graph.tensor(node.inputs[1]).shape.sizes();
  const std::vector<int64_t> x = graph.tensor(node.inputs[0]).shape.sizes();
  const int64_t group = node.attrs.get_int("group", 1);
  return group > 1 && w.size() >= 3 && x.size() == w.size() && w[0] == group && w[1] == 1 && x[1] == group;
}

std::vector<ChannelGroup> find_channel_groups(const ir::Graph& graph) {
  std::vector<ChannelGroup> groups;
  std::vector<char> claimed(graph.tensor_capacity(), 0);
  // Producers and readers from one index: the graph's own queries scan every node, quadratic
  // over thousands of groups.
  const ir::UseIndex uses(graph);
  for (NodeId id : graph.topological_order()) {
    const ir::Node& n = graph.node(id);
    if (!is_prunable_layer(graph, n) || claimed[static_cast<size_t>(n.outputs[0])]) continue;
    groups.push_back(GroupBuilder(graph, uses, claimed).build(id));
  }
  return groups;
}

}  // namespace pare::passes
