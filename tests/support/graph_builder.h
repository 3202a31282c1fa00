// Building small IR graphs by hand in tests (pass tests, layout tests).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"

namespace pare::test {

inline ir::Attributes make_attrs(std::initializer_list<std::pair<std::string, ir::AttrValue>> list) {
  ir::Attributes attrs;
  for (const auto& [name, value] : list) attrs.set(name, value);
  return attrs;
}

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

inline int64_t count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

struct GraphBuilder {
  ir::Graph g;
  uint32_t next_seed = 1;  // for random() without an explicit seed

  ir::TensorId input(const std::string& name, const std::vector<int64_t>& shape) {
    ir::Tensor t;
    t.name = name;
    t.dtype = DType::kFloat32;
    t.shape = ir::Shape(shape);
    ir::TensorId id = g.add_tensor(std::move(t));
    g.inputs.push_back(id);
    return id;
  }
  ir::TensorId floats(const std::string& name, const std::vector<int64_t>& shape,
                      const std::vector<float>& values) {
    return ir::add_constant<float>(g, name, DType::kFloat32, shape, values);
  }
  ir::TensorId random(const std::string& name, const std::vector<int64_t>& shape, uint32_t seed,
                      float lo = -1.f, float hi = 1.f) {
    return floats(name, shape, random_floats(static_cast<size_t>(count(shape)), seed, lo, hi));
  }
  ir::TensorId random(const std::string& name, const std::vector<int64_t>& shape) {
    return random(name, shape, next_seed++);
  }
  ir::TensorId ints(const std::string& name, const std::vector<int64_t>& shape,
                    const std::vector<int64_t>& values) {
    return ir::add_constant<int64_t>(g, name, DType::kInt64, shape, values);
  }
  // A 1-D int64 constant.
  ir::TensorId ints(const std::string& name, const std::vector<int64_t>& values) {
    return ints(name, {static_cast<int64_t>(values.size())}, values);
  }
  ir::TensorId value(const std::string& name) {
    ir::Tensor t;
    t.name = name;
    return g.add_tensor(std::move(t));
  }
  ir::NodeId node(ir::OpKind op, const std::string& name, std::vector<ir::TensorId> inputs,
                  std::vector<ir::TensorId> outputs, ir::Attributes attrs = {}) {
    ir::Node n;
    n.op = op;
    n.name = name;
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    n.attrs = std::move(attrs);
    return g.add_node(std::move(n));
  }
  // One-output node writing a new tensor named after the node.
  ir::TensorId apply(ir::OpKind op, const std::string& name, std::vector<ir::TensorId> inputs,
                     ir::Attributes attrs = {}) {
    ir::TensorId out = value(name + "_out");
    node(op, name, std::move(inputs), {out}, std::move(attrs));
    return out;
  }
  // Conv with random weights [cout, cin / group, k, k] and bias; pads k / 2 ("same").
  ir::TensorId conv(const std::string& name, ir::TensorId x, int64_t cin, int64_t cout, int64_t k,
                    int64_t group = 1, int64_t stride = 1) {
    const int64_t p = k / 2;
    return apply(ir::OpKind::kConv, name,
                 {x, random(name + "_w", {cout, cin / group, k, k}), random(name + "_b", {cout})},
                 make_attrs({{"pads", std::vector<int64_t>{p, p, p, p}},
                             {"group", group},
                             {"strides", std::vector<int64_t>{stride, stride}}}));
  }
  void output(ir::TensorId t) { g.outputs.push_back(t); }
};

}  // namespace pare::test
