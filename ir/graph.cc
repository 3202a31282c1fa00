#include "ir/graph.h"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/topological_sort.hpp>

#include <algorithm>
#include <iterator>

#include "ir/status.h"

namespace pare::ir {

Shape::Shape(const std::vector<int64_t>& sizes) : rank_known(true) {
  dims.reserve(sizes.size());
  for (int64_t s : sizes) dims.push_back(Dim::known(s));
}

bool Shape::is_static() const {
  if (!rank_known) return false;
  for (const Dim& d : dims)
    if (!d.is_known()) return false;
  return true;
}

int64_t Shape::num_elements() const {
  int64_t n = 1;
  for (const Dim& d : dims) n *= d.value;
  return n;
}

std::optional<int64_t> checked_element_count(const std::vector<int64_t>& sizes) {
  int64_t extent = 1;
  bool empty = false;
  for (int64_t d : sizes) {
    if (d < 0) return std::nullopt;
    if (d == 0)
      empty = true;
    else if (__builtin_mul_overflow(extent, d, &extent))
      return std::nullopt;
  }
  return empty ? 0 : extent;
}

std::vector<int64_t> Shape::sizes() const {
  std::vector<int64_t> s;
  s.reserve(dims.size());
  for (const Dim& d : dims) s.push_back(d.value);
  return s;
}

std::string Shape::str() const {
  if (!rank_known) return "[?]";
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    s += dims[i].is_known() ? std::to_string(dims[i].value)
                            : (dims[i].symbol.empty() ? "?" : dims[i].symbol);
  }
  return s + "]";
}

std::vector<int64_t> Tensor::int_values() const {
  std::vector<int64_t> out;
  if (!data) return out;
  size_t n = data->bytes.size() / std::max<size_t>(1, dtype_size(dtype));
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::kInt64: out[i] = values<int64_t>()[i]; break;
      case DType::kInt32: out[i] = values<int32_t>()[i]; break;
      case DType::kInt8: out[i] = values<int8_t>()[i]; break;
      case DType::kUInt8:
      case DType::kBool: out[i] = values<uint8_t>()[i]; break;
      case DType::kFloat32: out[i] = static_cast<int64_t>(values<float>()[i]); break;
      case DType::kFloat64: out[i] = static_cast<int64_t>(values<double>()[i]); break;
      case DType::kUndefined: break;
    }
  }
  return out;
}

std::vector<double> Tensor::float_values() const {
  std::vector<double> out;
  if (!data) return out;
  if (dtype == DType::kFloat32) {
    size_t n = data->bytes.size() / 4;
    out.assign(values<float>(), values<float>() + n);
  } else if (dtype == DType::kFloat64) {
    size_t n = data->bytes.size() / 8;
    out.assign(values<double>(), values<double>() + n);
  } else {
    for (int64_t v : int_values()) out.push_back(static_cast<double>(v));
  }
  return out;
}

namespace {
template <typename T>
const T& get_typed(const std::map<std::string, AttrValue>& m, const std::string& name, const T& dflt,
                   const char* type) {
  auto it = m.find(name);
  if (it == m.end()) return dflt;
  if (const T* v = std::get_if<T>(&it->second)) return *v;
  throw_invalid("attribute '" + name + "' is not of type " + type);
}
}  // namespace

int64_t Attributes::get_int(const std::string& name, int64_t dflt) const {
  return get_typed<int64_t>(values_, name, dflt, "int");
}
float Attributes::get_float(const std::string& name, float dflt) const {
  auto it = values_.find(name);
  if (it != values_.end())
    if (const int64_t* i = std::get_if<int64_t>(&it->second)) return static_cast<float>(*i);
  return get_typed<float>(values_, name, dflt, "float");
}
std::string Attributes::get_string(const std::string& name, const std::string& dflt) const {
  return get_typed<std::string>(values_, name, dflt, "string");
}
std::vector<int64_t> Attributes::get_ints(const std::string& name,
                                          const std::vector<int64_t>& dflt) const {
  return get_typed<std::vector<int64_t>>(values_, name, dflt, "ints");
}
std::vector<float> Attributes::get_floats(const std::string& name,
                                          const std::vector<float>& dflt) const {
  return get_typed<std::vector<float>>(values_, name, dflt, "floats");
}

TensorId Graph::add_tensor(Tensor t) {
  tensors_.push_back(std::move(t));
  return static_cast<TensorId>(tensors_.size() - 1);
}

NodeId Graph::add_node(Node n) {
  nodes_.push_back(std::move(n));
  alive_.push_back(true);
  return static_cast<NodeId>(nodes_.size() - 1);
}

std::vector<NodeId> Graph::nodes() const {
  std::vector<NodeId> ids;
  ids.reserve(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (alive_[i]) ids.push_back(static_cast<NodeId>(i));
  return ids;
}

size_t Graph::num_nodes() const { return static_cast<size_t>(std::count(alive_.begin(), alive_.end(), true)); }

void Graph::remove_node(NodeId id) { alive_.at(static_cast<size_t>(id)) = false; }

NodeId Graph::producer(TensorId t) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!alive_[i]) continue;
    for (TensorId o : nodes_[i].outputs)
      if (o == t) return static_cast<NodeId>(i);
  }
  return kNoNode;
}

std::vector<NodeId> Graph::consumers(TensorId t) const {
  std::vector<NodeId> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!alive_[i]) continue;
    for (TensorId in : nodes_[i].inputs) {
      if (in == t) {
        out.push_back(static_cast<NodeId>(i));
        break;
      }
    }
  }
  return out;
}

bool Graph::is_graph_output(TensorId t) const {
  return std::find(outputs.begin(), outputs.end(), t) != outputs.end();
}

UseIndex::UseIndex(const Graph& g)
    : producer_(g.tensor_capacity(), kNoNode),
      consumers_(g.tensor_capacity()),
      output_(g.tensor_capacity(), false),
      input_(g.tensor_capacity(), false) {
  for (NodeId id : g.nodes()) {
    const Node& n = g.node(id);
    // The first producer, as Graph::producer finds it.
    for (TensorId o : n.outputs)
      if (in_range(o) && producer_[static_cast<size_t>(o)] == kNoNode) producer_[static_cast<size_t>(o)] = id;
    for (TensorId in : n.inputs) {
      if (!in_range(in)) continue;
      std::vector<NodeId>& readers = consumers_[static_cast<size_t>(in)];
      if (readers.empty() || readers.back() != id) readers.push_back(id);
    }
  }
  for (TensorId t : g.outputs)
    if (in_range(t)) output_[static_cast<size_t>(t)] = true;
  for (TensorId t : g.inputs)
    if (in_range(t)) input_[static_cast<size_t>(t)] = true;
}

void UseIndex::forget(const Graph& g, NodeId n) {
  const Node& node = g.node(n);
  for (TensorId o : node.outputs)
    if (in_range(o) && producer_[static_cast<size_t>(o)] == n)
      producer_[static_cast<size_t>(o)] = kNoNode;
  for (TensorId in : node.inputs) {
    if (!in_range(in)) continue;
    // Readers are sorted, each once: a search, where a scan made a constant shared by N
    // fused chains cost O(N) per fusion (8% of converting 16,384 layer normalizations).
    std::vector<NodeId>& readers = consumers_[static_cast<size_t>(in)];
    auto at = std::lower_bound(readers.begin(), readers.end(), n);
    if (at != readers.end() && *at == n) readers.erase(at);
  }
}

void UseIndex::record(const Graph& g, NodeId n) {
  const Node& node = g.node(n);
  for (TensorId o : node.outputs)
    if (in_range(o) && producer_[static_cast<size_t>(o)] == kNoNode) producer_[static_cast<size_t>(o)] = n;
  for (TensorId in : node.inputs) {
    if (!in_range(in)) continue;
    // Readers stay in node order, each once.
    std::vector<NodeId>& readers = consumers_[static_cast<size_t>(in)];
    auto at = std::lower_bound(readers.begin(), readers.end(), n);
    if (at == readers.end() || *at != n) readers.insert(at, n);
  }
}

void Graph::replace_all_uses(TensorId from, TensorId to) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!alive_[i]) continue;
    for (TensorId& in : nodes_[i].inputs)
      if (in == from) in = to;
  }
  for (TensorId& o : outputs)
    if (o == from) o = to;
}

TensorId Graph::find_tensor(const std::string& tname) const {
  for (size_t i = 0; i < tensors_.size(); ++i)
    if (tensors_[i].name == tname) return static_cast<TensorId>(i);
  return kNoTensor;
}

std::vector<NodeId> Graph::topological_order() const {
  using BGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
  std::vector<NodeId> live = nodes();
  std::vector<int> index(nodes_.size(), -1);
  for (size_t i = 0; i < live.size(); ++i) index[static_cast<size_t>(live[i])] = static_cast<int>(i);
  auto check_id = [&](TensorId t, const Node& n) {
    if (t >= static_cast<TensorId>(tensors_.size()))
      throw_invalid("node '" + n.name + "' refers to tensor id " + std::to_string(t) + ", out of range");
  };
  std::vector<int> producer_of(tensors_.size(), -1);
  for (size_t i = 0; i < live.size(); ++i) {
    const Node& n = nodes_[static_cast<size_t>(live[i])];
    for (TensorId o : n.outputs) {
      check_id(o, n);
      if (o >= 0) producer_of[static_cast<size_t>(o)] = static_cast<int>(i);
    }
    for (TensorId in : n.inputs) check_id(in, n);
  }

  BGraph bg(live.size());
  for (size_t i = 0; i < live.size(); ++i) {
    for (TensorId in : nodes_[static_cast<size_t>(live[i])].inputs) {
      if (in < 0) continue;
      int p = producer_of[static_cast<size_t>(in)];
      if (p >= 0) boost::add_edge(static_cast<size_t>(p), i, bg);
    }
  }
  // Tie-break by insertion order so that the order (and the output file) is deterministic:
  // boost's DFS-based sort visits vertices in index order; reverse its result.
  std::vector<size_t> reversed;
  try {
    boost::topological_sort(bg, std::back_inserter(reversed));
  } catch (const boost::not_a_dag&) {
    throw_invalid("graph '" + name + "' has a cycle");
  }
  std::vector<NodeId> order;
  order.reserve(reversed.size());
  for (auto it = reversed.rbegin(); it != reversed.rend(); ++it) order.push_back(live[*it]);
  return order;
}

size_t Graph::remove_dead_nodes() {
  std::vector<bool> needed_tensor(tensors_.size(), false);
  for (TensorId o : outputs)
    if (o >= 0) needed_tensor[static_cast<size_t>(o)] = true;
  std::vector<NodeId> order = topological_order();
  size_t removed = 0;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const Node& n = nodes_[static_cast<size_t>(*it)];
    bool needed = false;
    for (TensorId o : n.outputs)
      if (o >= 0 && needed_tensor[static_cast<size_t>(o)]) needed = true;
    if (!needed) {
      remove_node(*it);
      ++removed;
      continue;
    }
    for (TensorId in : n.inputs)
      if (in >= 0) needed_tensor[static_cast<size_t>(in)] = true;
  }
  return removed;
}

void Graph::compact() {
  std::vector<NodeId> order = topological_order();
  std::vector<TensorId> remap(tensors_.size(), kNoTensor);
  std::deque<Tensor> new_tensors;
  auto keep = [&](TensorId t) {
    if (t < 0) return;
    if (remap[static_cast<size_t>(t)] != kNoTensor) return;
    remap[static_cast<size_t>(t)] = static_cast<TensorId>(new_tensors.size());
    new_tensors.push_back(tensors_[static_cast<size_t>(t)]);
  };
  for (TensorId t : inputs) keep(t);
  for (NodeId n : order) {
    for (TensorId t : nodes_[static_cast<size_t>(n)].inputs) keep(t);
    for (TensorId t : nodes_[static_cast<size_t>(n)].outputs) keep(t);
  }
  for (TensorId t : outputs) keep(t);
  auto map_ids = [&](std::vector<TensorId>& ids) {
    for (TensorId& t : ids)
      if (t >= 0) t = remap[static_cast<size_t>(t)];
  };
  std::deque<Node> new_nodes;
  for (NodeId n : order) {
    Node node = nodes_[static_cast<size_t>(n)];
    map_ids(node.inputs);
    map_ids(node.outputs);
    new_nodes.push_back(std::move(node));
  }
  map_ids(inputs);
  map_ids(outputs);
  tensors_ = std::move(new_tensors);
  nodes_ = std::move(new_nodes);
  alive_.assign(nodes_.size(), true);
}

}  // namespace pare::ir
