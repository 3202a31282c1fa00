// Graph API, shape inference and verifier.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/shape_inference.h"
#include "ir/status.h"
#include "ir/verifier.h"

namespace pare::ir {

void PrintTo(const Shape& shape, std::ostream* os) { *os << shape.str(); }

namespace {

using Sizes = std::vector<int64_t>;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TensorId value(Graph& g, const std::string& name, const Sizes& shape, DType dtype = DType::kFloat32) {
  Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = Shape(shape);
  return g.add_tensor(std::move(t));
}

TensorId ints(Graph& g, const std::string& name, const Sizes& values) {
  return add_constant<int64_t>(g, name, DType::kInt64, {static_cast<int64_t>(values.size())}, values);
}

TensorId floats(Graph& g, const std::string& name, const std::vector<float>& values) {
  return add_constant<float>(g, name, DType::kFloat32, {static_cast<int64_t>(values.size())}, values);
}

TensorId weights(Graph& g, const std::string& name, const Sizes& shape) {
  return add_constant<float>(g, name, DType::kFloat32, shape,
                             std::vector<float>(static_cast<size_t>(Shape(shape).num_elements()), 0.5f));
}

// A node with fresh (shape-less) outputs.
NodeId add(Graph& g, OpKind op, const std::string& name, const std::vector<TensorId>& inputs,
           size_t num_outputs = 1, const Attributes& attrs = {}) {
  Node n;
  n.op = op;
  n.name = name;
  n.inputs = inputs;
  n.attrs = attrs;
  for (size_t i = 0; i < num_outputs; ++i) {
    Tensor t;
    t.name = name + "_out" + std::to_string(i);
    n.outputs.push_back(g.add_tensor(std::move(t)));
  }
  return g.add_node(std::move(n));
}

Attributes attrs(std::initializer_list<std::pair<const std::string, AttrValue>> list) {
  Attributes a;
  for (const auto& [k, v] : list) a.set(k, v);
  return a;
}

// Runs inference on one node built from `inputs` and returns output `k`'s sizes.
Sizes infer(Graph& g, OpKind op, const std::vector<TensorId>& inputs, const Attributes& a = {}, size_t k = 0,
            size_t num_outputs = 1) {
  NodeId n = add(g, op, "n", inputs, num_outputs, a);
  infer_node(g, n);
  const Tensor& out = g.tensor(g.node(n).outputs[k]);
  EXPECT_TRUE(out.shape.is_static());
  return out.shape.sizes();
}

DType infer_dtype(Graph& g, OpKind op, const std::vector<TensorId>& inputs, const Attributes& a = {}) {
  NodeId n = add(g, op, "n", inputs, 1, a);
  infer_node(g, n);
  return g.tensor(g.node(n).outputs[0]).dtype;
}

// The error a node's inference throws.
Error infer_error(Graph& g, OpKind op, const std::vector<TensorId>& inputs, const Attributes& a = {},
                  size_t num_outputs = 1) {
  NodeId n = add(g, op, "bad_node", inputs, num_outputs, a);
  try {
    infer_node(g, n);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "inference did not fail";
  return Error(Status::kOk, "");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---------------------------------------------------------------- Graph API

// UseIndex answers what the Graph queries answer, for every tensor: removed nodes neither
// produce nor read, a node that reads a tensor twice is one reader, and constants, inputs and
// outputs are told apart.
TEST(Graph, UseIndexAgreesWithTheQueries) {
  Graph g;
  TensorId x = value(g, "x", {1, 4});
  g.inputs.push_back(x);
  NodeId a = add(g, OpKind::kRelu, "a", {x});
  TensorId a_out = g.node(a).outputs[0];
  NodeId b = add(g, OpKind::kMul, "b", {a_out, a_out});
  NodeId c = add(g, OpKind::kAdd, "c", {a_out, x});
  NodeId d = add(g, OpKind::kSigmoid, "d", {g.node(c).outputs[0]});
  g.outputs = {g.node(b).outputs[0], g.node(c).outputs[0], x};
  g.remove_node(d);

  UseIndex uses(g);
  const auto agrees = [&](const std::string& when) {
    for (size_t i = 0; i < g.tensor_capacity(); ++i) {
      const auto t = static_cast<TensorId>(i);
      SCOPED_TRACE(g.tensor(t).name + when);
      EXPECT_EQ(uses.producer(t), g.producer(t));
      EXPECT_EQ(uses.consumers(t), g.consumers(t));
      EXPECT_EQ(uses.is_graph_output(t), g.is_graph_output(t));
      EXPECT_EQ(uses.is_graph_input(t), t == x);
    }
  };
  agrees("");
  EXPECT_EQ(uses.consumers(a_out), (std::vector<NodeId>{b, c}));
  EXPECT_TRUE(uses.consumers(g.node(c).outputs[0]).empty());
  EXPECT_EQ(uses.producer(g.node(d).outputs[0]), kNoNode);

  // Kept current through edits, as a fusion makes them: a takes over b's output and c reads
  // x alone, b goes.
  const TensorId b_out = g.node(b).outputs[0];
  for (NodeId n : {a, b, c}) uses.forget(g, n);
  g.node(a).outputs[0] = b_out;
  g.node(c).inputs = {x, x};
  g.remove_node(b);
  for (NodeId n : {a, c}) uses.record(g, n);
  agrees(" after the edits");
  EXPECT_EQ(uses.producer(b_out), a);
  EXPECT_EQ(uses.consumers(x), (std::vector<NodeId>{a, c}));
}

TEST(Graph, AddProducerConsumersAndRemove) {
  Graph g;
  TensorId x = value(g, "x", {1, 4});
  g.inputs.push_back(x);
  NodeId a = add(g, OpKind::kRelu, "a", {x});
  TensorId a_out = g.node(a).outputs[0];
  NodeId b = add(g, OpKind::kSigmoid, "b", {a_out});
  NodeId c = add(g, OpKind::kAdd, "c", {a_out, x});
  g.outputs = {g.node(b).outputs[0], g.node(c).outputs[0]};

  EXPECT_EQ(g.num_nodes(), 3u);
  EXPECT_EQ(g.producer(a_out), a);
  EXPECT_EQ(g.producer(x), kNoNode);
  EXPECT_EQ(g.consumers(a_out), (std::vector<NodeId>{b, c}));
  EXPECT_EQ(g.consumers(x), (std::vector<NodeId>{a, c}));
  EXPECT_EQ(g.find_tensor("a_out0"), a_out);
  EXPECT_EQ(g.find_tensor("nothing"), kNoTensor);
  EXPECT_TRUE(g.is_graph_output(g.node(b).outputs[0]));
  EXPECT_FALSE(g.is_graph_output(a_out));

  g.remove_node(b);
  EXPECT_FALSE(g.node_alive(b));
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_EQ(g.nodes(), (std::vector<NodeId>{a, c}));
  EXPECT_EQ(g.consumers(a_out), (std::vector<NodeId>{c}));
  EXPECT_EQ(g.producer(g.node(b).outputs[0]), kNoNode);
}

TEST(Graph, ReplaceAllUsesRewiresInputsAndOutputs) {
  Graph g;
  TensorId x = value(g, "x", {2});
  TensorId y = value(g, "y", {2});
  NodeId a = add(g, OpKind::kAdd, "a", {x, x});
  NodeId b = add(g, OpKind::kRelu, "b", {x});
  g.outputs = {x, g.node(a).outputs[0]};
  g.remove_node(b);
  g.replace_all_uses(x, y);
  EXPECT_EQ(g.node(a).inputs, (std::vector<TensorId>{y, y}));
  EXPECT_EQ(g.outputs[0], y);
  EXPECT_EQ(g.node(b).inputs[0], x);  // removed nodes are left alone
}

TEST(Graph, TopologicalOrderOfDiamondInsertedBackwards) {
  // a -> (b, c) -> d, inserted as d, c, b, a.
  Graph g;
  TensorId x = value(g, "x", {1});
  TensorId ta = value(g, "ta", {1}), tb = value(g, "tb", {1}), tc = value(g, "tc", {1}),
           td = value(g, "td", {1});
  auto node = [&](const std::string& name, std::vector<TensorId> in, TensorId out) {
    Node n;
    n.op = OpKind::kAdd;
    n.name = name;
    n.inputs = std::move(in);
    n.outputs = {out};
    return g.add_node(std::move(n));
  };
  NodeId d = node("d", {tb, tc}, td);
  NodeId c = node("c", {ta, ta}, tc);
  NodeId b = node("b", {ta, x}, tb);
  NodeId a = node("a", {x, x}, ta);
  std::vector<NodeId> order = g.topological_order();
  ASSERT_EQ(order.size(), 4u);
  auto pos = [&](NodeId n) { return std::find(order.begin(), order.end(), n) - order.begin(); };
  EXPECT_EQ(pos(a), 0);
  EXPECT_LT(pos(b), pos(d));
  EXPECT_LT(pos(c), pos(d));
  EXPECT_EQ(pos(d), 3);
  EXPECT_EQ(g.topological_order(), order);  // deterministic
}

TEST(Graph, TopologicalOrderRejectsCycle) {
  Graph g;
  TensorId t1 = value(g, "t1", {1}), t2 = value(g, "t2", {1});
  Node a;
  a.op = OpKind::kRelu;
  a.name = "a";
  a.inputs = {t2};
  a.outputs = {t1};
  g.add_node(a);
  Node b = a;
  b.name = "b";
  b.inputs = {t1};
  b.outputs = {t2};
  g.add_node(b);
  g.name = "loop";
  try {
    g.topological_order();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Status::kInvalidInput);
    EXPECT_TRUE(contains(e.what(), "cycle")) << e.what();
  }
}

TEST(Graph, RemoveDeadNodesKeepsWhatReachesOutputs) {
  Graph g;
  TensorId x = value(g, "x", {1});
  g.inputs = {x};
  NodeId a = add(g, OpKind::kRelu, "a", {x});
  NodeId dead1 = add(g, OpKind::kSigmoid, "dead1", {g.node(a).outputs[0]});
  NodeId dead2 = add(g, OpKind::kTanh, "dead2", {g.node(dead1).outputs[0]});
  NodeId b = add(g, OpKind::kSqrt, "b", {g.node(a).outputs[0]});
  g.outputs = {g.node(b).outputs[0]};
  EXPECT_EQ(g.remove_dead_nodes(), 2u);
  EXPECT_FALSE(g.node_alive(dead1));
  EXPECT_FALSE(g.node_alive(dead2));
  EXPECT_TRUE(g.node_alive(a));
  EXPECT_TRUE(g.node_alive(b));
  EXPECT_EQ(g.remove_dead_nodes(), 0u);
}

TEST(Graph, CompactRenumbersDenselyInTopologicalOrder) {
  Graph g;
  TensorId unused = value(g, "unused", {3});
  TensorId x = value(g, "x", {1});
  g.inputs = {x};
  TensorId w = weights(g, "w", {1});
  // Inserted out of order: b (consumer) first, then a.
  TensorId ta = value(g, "ta", {1}), tb = value(g, "tb", {1});
  Node b;
  b.op = OpKind::kMul;
  b.name = "b";
  b.inputs = {ta, w};
  b.outputs = {tb};
  g.add_node(b);
  NodeId dead = add(g, OpKind::kRelu, "dead", {x});
  Node a;
  a.op = OpKind::kRelu;
  a.name = "a";
  a.inputs = {x};
  a.outputs = {ta};
  g.add_node(a);
  g.outputs = {tb};
  g.remove_node(dead);
  (void)unused;

  g.compact();
  ASSERT_EQ(g.node_capacity(), 2u);
  EXPECT_EQ(g.node(0).name, "a");
  EXPECT_EQ(g.node(1).name, "b");
  // Tensors: graph inputs first, then in node order; "unused" and the dead node's output dropped.
  ASSERT_EQ(g.tensor_capacity(), 4u);
  EXPECT_EQ(g.tensor(g.inputs[0]).name, "x");
  EXPECT_EQ(g.inputs[0], 0);
  EXPECT_EQ(g.tensor(g.node(0).outputs[0]).name, "ta");
  EXPECT_EQ(g.node(1).inputs, (std::vector<TensorId>{g.node(0).outputs[0], g.find_tensor("w")}));
  EXPECT_TRUE(g.tensor(g.find_tensor("w")).is_constant());
  EXPECT_EQ(g.tensor(g.outputs[0]).name, "tb");
  EXPECT_EQ(g.find_tensor("unused"), kNoTensor);
}

TEST(Graph, ReferencesSurviveAdditions) {
  Graph g;
  const TensorId x = value(g, "x", {1, 4});
  const NodeId relu = add(g, OpKind::kRelu, "relu", {x});
  Tensor& held_tensor = g.tensor(x);
  Node& held_node = g.node(relu);
  // Far past any initial capacity: a std::vector would have moved its elements by now.
  for (int i = 0; i < 5000; ++i) add(g, OpKind::kIdentity, "id" + std::to_string(i), {x});
  EXPECT_EQ(&held_tensor, &g.tensor(x));
  EXPECT_EQ(&held_node, &g.node(relu));
  EXPECT_EQ(held_tensor.name, "x");
  EXPECT_EQ(held_node.name, "relu");
  held_tensor.name = "renamed";
  held_node.inputs.push_back(x);
  EXPECT_EQ(g.tensor(x).name, "renamed");
  EXPECT_EQ(g.node(relu).inputs, (std::vector<TensorId>{x, x}));
  EXPECT_EQ(g.tensor_capacity(), 5002u);
  EXPECT_EQ(g.node_capacity(), 5001u);
}

TEST(Graph, AttributesAreTyped) {
  Attributes a = attrs({{"axis", int64_t{2}},
                        {"alpha", 0.5f},
                        {"mode", std::string("linear")},
                        {"pads", Sizes{1, 2}},
                        {"scales", std::vector<float>{1.5f}}});
  EXPECT_EQ(a.get_int("axis", 0), 2);
  EXPECT_EQ(a.get_int("missing", 7), 7);
  EXPECT_FLOAT_EQ(a.get_float("alpha", 0), 0.5f);
  EXPECT_FLOAT_EQ(a.get_float("axis", 0), 2.0f);  // ints read as floats
  EXPECT_EQ(a.get_string("mode", ""), "linear");
  EXPECT_EQ(a.get_ints("pads"), (Sizes{1, 2}));
  EXPECT_EQ(a.get_floats("scales"), (std::vector<float>{1.5f}));
  EXPECT_THROW(a.get_int("mode", 0), Error);
}

// ---------------------------------------------------------------- shape inference

TEST(ShapeInference, ConvExplicitPads) {
  Graph g;
  TensorId x = value(g, "x", {1, 3, 224, 224});
  TensorId w = weights(g, "w", {64, 3, 7, 7});
  TensorId b = weights(g, "b", {64});
  EXPECT_EQ(
      infer(g, OpKind::kConv, {x, w, b}, attrs({{"strides", Sizes{2, 2}}, {"pads", Sizes{3, 3, 3, 3}}})),
      (Sizes{1, 64, 112, 112}));
  // Asymmetric pads: (10 + 0 + 2 - 3) / 1 + 1 = 10 rows, (10 + 1 + 0 - 3) / 1 + 1 = 9 columns.
  TensorId x2 = value(g, "x2", {2, 3, 10, 10});
  TensorId w2 = weights(g, "w2", {4, 3, 3, 3});
  EXPECT_EQ(infer(g, OpKind::kConv, {x2, w2}, attrs({{"pads", Sizes{0, 1, 2, 0}}})), (Sizes{2, 4, 10, 9}));
}

TEST(ShapeInference, ConvAutoPad) {
  Graph g;
  TensorId x = value(g, "x", {1, 1, 5, 5});
  TensorId w = weights(g, "w", {1, 1, 3, 3});
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER"})  // ceil(5 / 2)
    EXPECT_EQ(
        infer(g, OpKind::kConv, {x, w}, attrs({{"auto_pad", std::string(mode)}, {"strides", Sizes{2, 2}}})),
        (Sizes{1, 1, 3, 3}))
        << mode;
  // VALID ignores pads: (5 - 3) / 2 + 1.
  EXPECT_EQ(
      infer(
          g, OpKind::kConv, {x, w},
          attrs({{"auto_pad", std::string("VALID")}, {"strides", Sizes{2, 2}}, {"pads", Sizes{1, 1, 1, 1}}})),
      (Sizes{1, 1, 2, 2}));
  // SAME with stride 1 keeps the size.
  EXPECT_EQ(infer(g, OpKind::kConv, {x, w}, attrs({{"auto_pad", std::string("SAME_UPPER")}})),
            (Sizes{1, 1, 5, 5}));
}

TEST(ShapeInference, ConvDilationsAndGroups) {
  Graph g;
  TensorId x = value(g, "x", {1, 1, 7, 7});
  // Dilation 2 widens a 3x3 kernel to 5: 7 - 5 + 1.
  EXPECT_EQ(infer(g, OpKind::kConv, {x, weights(g, "w", {2, 1, 3, 3})}, attrs({{"dilations", Sizes{2, 2}}})),
            (Sizes{1, 2, 3, 3}));
  TensorId dw_in = value(g, "dw_in", {1, 8, 10, 10});
  EXPECT_EQ(infer(g, OpKind::kConv, {dw_in, weights(g, "dw", {8, 1, 3, 3})},
                  attrs({{"group", int64_t{8}}, {"pads", Sizes{1, 1, 1, 1}}})),
            (Sizes{1, 8, 10, 10}));
  Error e = infer_error(g, OpKind::kConv, {dw_in, weights(g, "bad_w", {8, 2, 3, 3})});
  EXPECT_EQ(e.code(), Status::kInvalidInput);
  EXPECT_TRUE(contains(e.what(), "Conv 'bad_node'")) << e.what();
  EXPECT_TRUE(contains(e.what(), "channels")) << e.what();
}

TEST(ShapeInference, ConvTranspose) {
  Graph g;
  TensorId x = value(g, "x", {1, 2, 3, 3});
  TensorId w = weights(g, "w", {2, 4, 3, 3});
  // 2 * (3 - 1) + 3 = 7.
  EXPECT_EQ(infer(g, OpKind::kConvTranspose, {x, w}, attrs({{"strides", Sizes{2, 2}}})), (Sizes{1, 4, 7, 7}));
  EXPECT_EQ(infer(g, OpKind::kConvTranspose, {x, w},
                  attrs({{"strides", Sizes{2, 2}}, {"output_padding", Sizes{1, 0}}})),
            (Sizes{1, 4, 8, 7}));
  EXPECT_EQ(infer(g, OpKind::kConvTranspose, {x, w},
                  attrs({{"strides", Sizes{2, 2}}, {"pads", Sizes{1, 1, 1, 1}}})),
            (Sizes{1, 4, 5, 5}));
  EXPECT_EQ(infer(g, OpKind::kConvTranspose, {x, w},
                  attrs({{"strides", Sizes{2, 2}}, {"output_shape", Sizes{10, 9}}})),
            (Sizes{1, 4, 10, 9}));
  EXPECT_EQ(infer(g, OpKind::kConvTranspose, {x, w},
                  attrs({{"strides", Sizes{2, 2}}, {"auto_pad", std::string("SAME_UPPER")}})),
            (Sizes{1, 4, 6, 6}));
  // Two groups of 1 -> 2 channels each.
  EXPECT_EQ(
      infer(g, OpKind::kConvTranspose, {x, weights(g, "wg", {2, 2, 3, 3})}, attrs({{"group", int64_t{2}}})),
      (Sizes{1, 4, 5, 5}));
}

TEST(ShapeInference, PoolsWithCeilMode) {
  Graph g;
  TensorId x4 = value(g, "x4", {1, 1, 4, 4});
  Attributes k3s2 = attrs({{"kernel_shape", Sizes{3, 3}}, {"strides", Sizes{2, 2}}});
  EXPECT_EQ(infer(g, OpKind::kMaxPool, {x4}, k3s2), (Sizes{1, 1, 1, 1}));  // floor(1 / 2) + 1
  Attributes ceil = k3s2;
  ceil.set("ceil_mode", int64_t{1});
  EXPECT_EQ(infer(g, OpKind::kMaxPool, {x4}, ceil), (Sizes{1, 1, 2, 2}));  // ceil(1 / 2) + 1
  // 6 wide, kernel 3, stride 2: floor gives 2, ceil gives 3.
  TensorId x6 = value(g, "x6", {1, 1, 6, 6});
  EXPECT_EQ(infer(g, OpKind::kAveragePool, {x6}, k3s2), (Sizes{1, 1, 2, 2}));
  EXPECT_EQ(infer(g, OpKind::kAveragePool, {x6}, ceil), (Sizes{1, 1, 3, 3}));
  // 5 wide, kernel 2, stride 2, pads 1: ceil(5 / 2) + 1 = 4, but the 4th window would start
  // in the end padding (3 * 2 >= 5 + 1), so 3 (as PyTorch).
  TensorId x5 = value(g, "x5", {1, 1, 5, 5});
  EXPECT_EQ(infer(g, OpKind::kMaxPool, {x5},
                  attrs({{"kernel_shape", Sizes{2, 2}},
                         {"strides", Sizes{2, 2}},
                         {"pads", Sizes{1, 1, 1, 1}},
                         {"ceil_mode", int64_t{1}}})),
            (Sizes{1, 1, 3, 3}));
  EXPECT_EQ(infer(g, OpKind::kAveragePool, {x5},
                  attrs({{"kernel_shape", Sizes{3, 3}},
                         {"strides", Sizes{2, 2}},
                         {"auto_pad", std::string("SAME_LOWER")}})),
            (Sizes{1, 1, 3, 3}));
  EXPECT_EQ(
      infer(g, OpKind::kMaxPool, {x5}, attrs({{"kernel_shape", Sizes{2, 2}}, {"dilations", Sizes{2, 2}}})),
      (Sizes{1, 1, 3, 3}));  // extent 3: 5 - 3 + 1
  EXPECT_EQ(infer(g, OpKind::kGlobalAveragePool, {value(g, "big", {2, 3, 7, 9})}), (Sizes{2, 3, 1, 1}));
  Error e = infer_error(g, OpKind::kMaxPool, {x4});
  EXPECT_TRUE(contains(e.what(), "kernel_shape")) << e.what();
}

TEST(ShapeInference, ResizeScalesAndSizes) {
  Graph g;
  TensorId x = value(g, "x", {1, 3, 4, 5});
  EXPECT_EQ(infer(g, OpKind::kResize, {x, kNoTensor, floats(g, "s", {1, 1, 2, 2})}), (Sizes{1, 3, 8, 10}));
  // floor(5 * 0.6f) = floor(3.0000001) = 3; floor(4 * 0.6f) = 2.
  EXPECT_EQ(infer(g, OpKind::kResize, {x, kNoTensor, floats(g, "s2", {1, 1, 0.6f, 0.6f})}),
            (Sizes{1, 3, 2, 3}));
  EXPECT_EQ(infer(g, OpKind::kResize, {x, kNoTensor, kNoTensor, ints(g, "sz", {1, 3, 7, 9})}),
            (Sizes{1, 3, 7, 9}));
  // An empty scales constant stands for "absent" (opset 11 files).
  EXPECT_EQ(infer(g, OpKind::kResize,
                  {x, floats(g, "roi", {}), floats(g, "empty", {}), ints(g, "sz2", {2, 3, 4, 5})}),
            (Sizes{2, 3, 4, 5}));
  EXPECT_EQ(infer(g, OpKind::kResize, {x, kNoTensor, kNoTensor, ints(g, "sz3", {7, 9})},
                  attrs({{"axes", Sizes{2, -1}}})),
            (Sizes{1, 3, 7, 9}));
  TensorId y = value(g, "y", {1, 1, 4, 8});
  TensorId target = ints(g, "t", {2, 2});
  Attributes not_larger =
      attrs({{"axes", Sizes{2, 3}}, {"keep_aspect_ratio_policy", std::string("not_larger")}});
  EXPECT_EQ(infer(g, OpKind::kResize, {y, kNoTensor, kNoTensor, target}, not_larger),
            (Sizes{1, 1, 1, 2}));  // scale 1/4
  Attributes not_smaller =
      attrs({{"axes", Sizes{2, 3}}, {"keep_aspect_ratio_policy", std::string("not_smaller")}});
  EXPECT_EQ(infer(g, OpKind::kResize, {y, kNoTensor, kNoTensor, target}, not_smaller),
            (Sizes{1, 1, 2, 4}));  // scale 1/2
  Error both = infer_error(g, OpKind::kResize,
                           {x, kNoTensor, floats(g, "s3", {1, 1, 2, 2}), ints(g, "sz4", {1, 3, 8, 10})});
  EXPECT_TRUE(contains(both.what(), "exactly one")) << both.what();
}

TEST(ShapeInference, SliceClampsAndNegativeSteps) {
  Graph g;
  TensorId x = value(g, "x", {10});
  // Whole axis backwards: 9, 8, ..., 0.
  EXPECT_EQ(infer(g, OpKind::kSlice,
                  {x, ints(g, "s", {-1}), ints(g, "e", {kMin}), ints(g, "a", {0}), ints(g, "st", {-1})}),
            (Sizes{10}));
  // 8, 5, 2.
  EXPECT_EQ(
      infer(g, OpKind::kSlice, {x, ints(g, "s2", {8}), ints(g, "e2", {1}), kNoTensor, ints(g, "st2", {-3})}),
      (Sizes{3}));
  // Start past the end is clamped: 9 down to 6 (exclusive).
  EXPECT_EQ(infer(g, OpKind::kSlice,
                  {x, ints(g, "s3", {100}), ints(g, "e3", {6}), kNoTensor, ints(g, "st3", {-1})}),
            (Sizes{3}));
  EXPECT_EQ(infer(g, OpKind::kSlice, {x, ints(g, "s4", {20}), ints(g, "e4", {30})}), (Sizes{0}));
  TensorId m = value(g, "m", {4, 6});
  EXPECT_EQ(infer(g, OpKind::kSlice,
                  {m, ints(g, "s5", {0, 1}), ints(g, "e5", {kMax, -1}), ints(g, "a5", {0, -1}),
                   ints(g, "st5", {2, 1})}),
            (Sizes{2, 4}));
  Error zero = infer_error(g, OpKind::kSlice,
                           {x, ints(g, "s6", {0}), ints(g, "e6", {5}), kNoTensor, ints(g, "st6", {0})});
  EXPECT_TRUE(contains(zero.what(), "step 0")) << zero.what();
}

TEST(ShapeInference, Reshape) {
  Graph g;
  TensorId x = value(g, "x", {2, 3, 4});
  EXPECT_EQ(infer(g, OpKind::kReshape, {x, ints(g, "a", {0, -1})}), (Sizes{2, 12}));
  EXPECT_EQ(infer(g, OpKind::kReshape, {x, ints(g, "b", {-1})}), (Sizes{24}));
  EXPECT_EQ(infer(g, OpKind::kReshape, {x, ints(g, "c", {4, 0, 2})}), (Sizes{4, 3, 2}));
  EXPECT_EQ(infer(g, OpKind::kReshape, {value(g, "empty", {0, 3}), ints(g, "d", {3, 0})},
                  attrs({{"allowzero", int64_t{1}}})),
            (Sizes{3, 0}));
  EXPECT_TRUE(
      contains(infer_error(g, OpKind::kReshape, {x, ints(g, "e", {5, -1})}).what(), "cannot reshape"));
  EXPECT_TRUE(
      contains(infer_error(g, OpKind::kReshape, {x, ints(g, "f", {-1, -1})}).what(), "more than one -1"));
  EXPECT_TRUE(contains(infer_error(g, OpKind::kReshape, {x, ints(g, "h", {5, 5})}).what(), "24 elements"));
  // The shape must be constant: that is an unsupported case, not a bad model.
  TensorId shape = value(g, "runtime_shape", {2}, DType::kInt64);
  Error e = infer_error(g, OpKind::kReshape, {x, shape});
  EXPECT_EQ(e.code(), Status::kUnsupported);
  EXPECT_TRUE(contains(e.what(), "Reshape 'bad_node'")) << e.what();
  EXPECT_TRUE(contains(e.what(), "'runtime_shape'")) << e.what();
}

TEST(ShapeInference, BroadcastingElementwise) {
  Graph g;
  EXPECT_EQ(infer(g, OpKind::kAdd, {value(g, "a", {2, 1, 4}), value(g, "b", {3, 1})}), (Sizes{2, 3, 4}));
  EXPECT_EQ(infer(g, OpKind::kMul, {value(g, "c", {5}), value(g, "d", {})}), (Sizes{5}));
  EXPECT_EQ(infer(g, OpKind::kSub, {value(g, "e", {1, 0}), value(g, "f", {3, 1})}), (Sizes{3, 0}));
  EXPECT_EQ(infer_dtype(g, OpKind::kEqual, {value(g, "g", {2}), value(g, "h", {2})}), DType::kBool);
  EXPECT_EQ(infer_dtype(g, OpKind::kPow, {value(g, "i", {2}), value(g, "j", {1}, DType::kInt64)}),
            DType::kFloat32);
  EXPECT_EQ(infer(g, OpKind::kWhere,
                  {value(g, "cond", {1, 4}, DType::kBool), value(g, "x", {3, 1}), value(g, "y", {})}),
            (Sizes{3, 4}));
  EXPECT_EQ(infer(g, OpKind::kPRelu, {value(g, "p", {1, 3, 2, 2}), value(g, "slope", {3, 1, 1})}),
            (Sizes{1, 3, 2, 2}));
  Error e = infer_error(g, OpKind::kAdd, {value(g, "k", {2, 3}), value(g, "l", {4})});
  EXPECT_EQ(e.code(), Status::kInvalidInput);
  EXPECT_TRUE(contains(e.what(), "[2,3] and [4] do not broadcast")) << e.what();
  Error types = infer_error(g, OpKind::kAdd, {value(g, "m", {2}), value(g, "n", {2}, DType::kInt64)});
  EXPECT_TRUE(contains(types.what(), "dtypes differ")) << types.what();
}

TEST(ShapeInference, MatMulAndGemm) {
  Graph g;
  EXPECT_EQ(infer(g, OpKind::kMatMul, {value(g, "a", {2, 3, 4}), value(g, "b", {4, 5})}), (Sizes{2, 3, 5}));
  EXPECT_EQ(infer(g, OpKind::kMatMul, {value(g, "v", {4}), value(g, "c", {4, 5})}), (Sizes{5}));
  EXPECT_EQ(infer(g, OpKind::kMatMul, {value(g, "d", {2, 3, 4}), value(g, "w", {4})}), (Sizes{2, 3}));
  EXPECT_EQ(infer(g, OpKind::kMatMul, {value(g, "e", {2, 1, 3, 4}), value(g, "f", {5, 4, 6})}),
            (Sizes{2, 5, 3, 6}));
  EXPECT_EQ(infer(g, OpKind::kMatMul, {value(g, "v1", {4}), value(g, "v2", {4})}), (Sizes{}));
  EXPECT_TRUE(contains(infer_error(g, OpKind::kMatMul, {value(g, "h", {2, 3}), value(g, "i", {4, 5})}).what(),
                       "inner dimensions"));
  // A [4,3] transposed is 3x4; B [5,4] transposed is 4x5.
  EXPECT_EQ(infer(g, OpKind::kGemm, {value(g, "ga", {4, 3}), value(g, "gb", {5, 4}), weights(g, "gc", {5})},
                  attrs({{"transA", int64_t{1}}, {"transB", int64_t{1}}})),
            (Sizes{3, 5}));
  EXPECT_EQ(infer(g, OpKind::kGemm, {value(g, "gd", {1, 8}), weights(g, "ge", {8, 10})}), (Sizes{1, 10}));
  EXPECT_TRUE(contains(infer_error(g, OpKind::kGemm,
                                   {value(g, "gf", {1, 8}), weights(g, "gg", {8, 10}), weights(g, "gh", {3})})
                           .what(),
                       "[1,10] and [3] do not broadcast"));
}

TEST(ShapeInference, LayoutOps) {
  Graph g;
  TensorId x = value(g, "x", {2, 3, 4});
  EXPECT_EQ(infer(g, OpKind::kFlatten, {x}), (Sizes{2, 12}));
  EXPECT_EQ(infer(g, OpKind::kFlatten, {x}, attrs({{"axis", int64_t{0}}})), (Sizes{1, 24}));
  EXPECT_EQ(infer(g, OpKind::kFlatten, {x}, attrs({{"axis", int64_t{-1}}})), (Sizes{6, 4}));
  EXPECT_EQ(infer(g, OpKind::kFlatten, {x}, attrs({{"axis", int64_t{3}}})), (Sizes{24, 1}));
  EXPECT_EQ(infer(g, OpKind::kTranspose, {x}), (Sizes{4, 3, 2}));
  EXPECT_EQ(infer(g, OpKind::kTranspose, {x}, attrs({{"perm", Sizes{0, 2, 1}}})), (Sizes{2, 4, 3}));
  EXPECT_TRUE(contains(infer_error(g, OpKind::kTranspose, {x}, attrs({{"perm", Sizes{0, 0, 1}}})).what(),
                       "permutation"));

  TensorId s = value(g, "s", {1, 3, 1, 5});
  EXPECT_EQ(infer(g, OpKind::kSqueeze, {s}), (Sizes{3, 5}));
  EXPECT_EQ(infer(g, OpKind::kSqueeze, {s, ints(g, "ax", {-2})}), (Sizes{1, 3, 5}));
  EXPECT_TRUE(
      contains(infer_error(g, OpKind::kSqueeze, {s, ints(g, "ax2", {1})}).what(), "cannot squeeze axis 1"));
  TensorId u = value(g, "u", {3, 4});
  EXPECT_EQ(infer(g, OpKind::kUnsqueeze, {u, ints(g, "ax3", {0, -1})}), (Sizes{1, 3, 4, 1}));
  EXPECT_EQ(infer(g, OpKind::kUnsqueeze, {u, ints(g, "ax4", {1})}), (Sizes{3, 1, 4}));
  EXPECT_TRUE(contains(infer_error(g, OpKind::kUnsqueeze, {u, ints(g, "ax5", {1, 1})}).what(), "repeated"));

  EXPECT_EQ(infer(g, OpKind::kConcat, {value(g, "c1", {2, 3}), value(g, "c2", {2, 5})},
                  attrs({{"axis", int64_t{-1}}})),
            (Sizes{2, 8}));
  EXPECT_TRUE(contains(infer_error(g, OpKind::kConcat, {value(g, "c3", {2, 3}), value(g, "c4", {3, 3})},
                                   attrs({{"axis", int64_t{1}}}))
                           .what(),
                       "outside axis 1"));

  EXPECT_EQ(infer(g, OpKind::kExpand, {value(g, "e", {3, 1}), ints(g, "es", {2, 1, 6})}), (Sizes{2, 3, 6}));
  EXPECT_EQ(infer(g, OpKind::kPad, {value(g, "p", {1, 3, 4, 4}), ints(g, "pads", {0, 0, 1, 2, 0, 0, 3, 4})}),
            (Sizes{1, 3, 8, 10}));
  EXPECT_EQ(infer(g, OpKind::kPad,
                  {value(g, "p2", {1, 3, 4, 4}), ints(g, "pads2", {1, 1, 1, 1}), kNoTensor,
                   ints(g, "pad_axes", {2, -1})}),
            (Sizes{1, 3, 6, 6}));
  EXPECT_EQ(
      infer(g, OpKind::kPad, {value(g, "p3", {1, 3, 4, 4}), ints(g, "crop", {0, 0, -1, -1, 0, 0, -1, -1})}),
      (Sizes{1, 3, 2, 2}));
}

TEST(ShapeInference, SplitAndGather) {
  Graph g;
  TensorId x = value(g, "x", {6, 4});
  EXPECT_EQ(infer(g, OpKind::kSplit, {x, ints(g, "sizes", {2, 4})}, {}, 1, 2), (Sizes{4, 4}));
  TensorId y = value(g, "y", {2, 7});
  Attributes three = attrs({{"axis", int64_t{1}}, {"num_outputs", int64_t{3}}});
  EXPECT_EQ(infer(g, OpKind::kSplit, {y}, three, 0, 3), (Sizes{2, 3}));
  EXPECT_EQ(infer(g, OpKind::kSplit, {y}, three, 2, 3), (Sizes{2, 1}));  // 7 = 3 + 3 + 1
  EXPECT_TRUE(
      contains(infer_error(g, OpKind::kSplit, {x, ints(g, "bad", {2, 3})}, {}, 2).what(), "does not add up"));

  TensorId data = value(g, "data", {5, 4, 3});
  EXPECT_EQ(infer(g, OpKind::kGather, {data, value(g, "idx", {2, 6}, DType::kInt64)},
                  attrs({{"axis", int64_t{1}}})),
            (Sizes{5, 2, 6, 3}));
  TensorId scalar_index = add_constant<int64_t>(g, "i0", DType::kInt64, {}, {-1});
  EXPECT_EQ(infer(g, OpKind::kGather, {data, scalar_index}), (Sizes{4, 3}));
  TensorId far = add_constant<int64_t>(g, "far", DType::kInt64, {}, {5});
  EXPECT_TRUE(contains(infer_error(g, OpKind::kGather, {data, far}).what(), "out of range"));
}

TEST(ShapeInference, ReductionsAndShapes) {
  Graph g;
  TensorId x = value(g, "x", {2, 3, 4});
  EXPECT_EQ(infer(g, OpKind::kReduceMean, {x, ints(g, "a", {1})}), (Sizes{2, 1, 4}));
  EXPECT_EQ(infer(g, OpKind::kReduceSum, {x, ints(g, "b", {-1, 0})}, attrs({{"keepdims", int64_t{0}}})),
            (Sizes{3}));
  EXPECT_EQ(infer(g, OpKind::kReduceMean, {x}), (Sizes{1, 1, 1}));
  EXPECT_EQ(infer(g, OpKind::kReduceSum, {x}, attrs({{"keepdims", int64_t{0}}})), (Sizes{}));
  EXPECT_EQ(
      infer(g, OpKind::kReduceSum, {x, ints(g, "none", {})}, attrs({{"noop_with_empty_axes", int64_t{1}}})),
      (Sizes{2, 3, 4}));

  EXPECT_EQ(infer(g, OpKind::kShape, {x}), (Sizes{3}));
  EXPECT_EQ(infer_dtype(g, OpKind::kShape, {x}), DType::kInt64);
  EXPECT_EQ(infer(g, OpKind::kShape, {x}, attrs({{"start", int64_t{1}}})), (Sizes{2}));
  EXPECT_EQ(infer(g, OpKind::kShape, {x}, attrs({{"start", int64_t{-1}}})), (Sizes{1}));
  EXPECT_EQ(infer(g, OpKind::kShape, {x}, attrs({{"start", int64_t{-10}}, {"end", int64_t{10}}})),
            (Sizes{3}));

  TensorId dims = ints(g, "dims", {2, 3});
  EXPECT_EQ(infer(g, OpKind::kConstantOfShape, {dims}, attrs({{"dtype", int64_t{7}}})), (Sizes{2, 3}));
  EXPECT_EQ(infer_dtype(g, OpKind::kConstantOfShape, {dims}, attrs({{"dtype", int64_t{7}}})), DType::kInt64);
  EXPECT_EQ(infer_dtype(g, OpKind::kConstantOfShape, {dims}), DType::kFloat32);
}

TEST(ShapeInference, DtypesAndUnaryOps) {
  Graph g;
  TensorId x = value(g, "x", {2, 5});
  EXPECT_EQ(infer_dtype(g, OpKind::kCast, {x}, attrs({{"to", int64_t{7}}})), DType::kInt64);
  Error e = infer_error(g, OpKind::kCast, {x}, attrs({{"to", int64_t{10}}}));
  EXPECT_EQ(e.code(), Status::kUnsupported);
  EXPECT_TRUE(contains(e.what(), "FLOAT16")) << e.what();
  for (OpKind op : {OpKind::kRelu, OpKind::kSigmoid, OpKind::kTanh, OpKind::kSqrt, OpKind::kErf,
                    OpKind::kGelu, OpKind::kHardSigmoid, OpKind::kHardSwish, OpKind::kLeakyRelu,
                    OpKind::kIdentity, OpKind::kClip, OpKind::kSoftmax})
    EXPECT_EQ(infer(g, op, {x}), (Sizes{2, 5})) << op_name(op);
  EXPECT_TRUE(
      contains(infer_error(g, OpKind::kSoftmax, {x}, attrs({{"axis", int64_t{2}}})).what(), "out of range"));
  EXPECT_EQ(infer(g, OpKind::kLayerNormalization, {x, weights(g, "scale", {5}), weights(g, "bias", {5})}),
            (Sizes{2, 5}));
  TensorId img = value(g, "img", {1, 3, 2, 2});
  TensorId c = weights(g, "c", {3});
  EXPECT_EQ(infer(g, OpKind::kBatchNormalization, {img, c, c, c, c}), (Sizes{1, 3, 2, 2}));
  EXPECT_TRUE(contains(
      infer_error(g, OpKind::kBatchNormalization, {img, c, c, c, weights(g, "c4", {4})}).what(), "input 4"));
}

TEST(ShapeInference, HugeSizesFailInsteadOfOverflowing) {
  Graph g;
  TensorId x = value(g, "x", {2, 3});
  EXPECT_TRUE(contains(infer_error(g, OpKind::kReshape, {x, ints(g, "s", {kMax, 2})}).what(), "overflows"));
  EXPECT_TRUE(contains(infer_error(g, OpKind::kPad, {x, ints(g, "p", {0, kMax, 0, 1})}).what(), "overflows"));
  EXPECT_TRUE(
      contains(infer_error(g, OpKind::kConstantOfShape, {ints(g, "d", {1LL << 40, 1LL << 40})}).what(),
               "too many elements"));
  // Empty, but the strides of the other sizes would overflow.
  EXPECT_TRUE(
      contains(infer_error(g, OpKind::kConstantOfShape, {ints(g, "d0", {0, 1LL << 40, 1LL << 40})}).what(),
               "too many elements"));
  EXPECT_TRUE(
      contains(infer_error(g, OpKind::kResize,
                           {value(g, "img", {1, 1, 4, 4}), kNoTensor, floats(g, "sc", {1, 1, 1e30f, 1})})
                   .what(),
               "impossible output size"));
}

TEST(ShapeInference, NonStaticInputNamesNodeAndInput) {
  Graph g;
  Tensor t;
  t.name = "dynamic";
  t.dtype = DType::kFloat32;
  t.shape.rank_known = true;
  t.shape.dims = {Dim::sym("N"), Dim::known(3)};
  TensorId x = g.add_tensor(t);
  Error e = infer_error(g, OpKind::kRelu, {x});
  EXPECT_EQ(e.code(), Status::kInvalidInput);
  EXPECT_TRUE(contains(e.what(), "Relu 'bad_node'")) << e.what();
  EXPECT_TRUE(contains(e.what(), "input 0 ('dynamic')")) << e.what();
  EXPECT_TRUE(contains(e.what(), "[N,3]")) << e.what();
}

// ---------------------------------------------------------------- verifier

// x -> Conv(w, b) -> Relu -> y, shapes inferred.
struct SmallGraph {
  Graph g;
  TensorId x, w, b, conv_out, y;
  NodeId conv, relu;
  SmallGraph() {
    x = value(g, "x", {1, 2, 4, 4});
    g.inputs = {x};
    w = weights(g, "w", {3, 2, 3, 3});
    b = weights(g, "b", {3});
    conv = add(g, OpKind::kConv, "conv1", {x, w, b}, 1, attrs({{"pads", Sizes{1, 1, 1, 1}}}));
    conv_out = g.node(conv).outputs[0];
    relu = add(g, OpKind::kRelu, "relu1", {conv_out});
    y = g.node(relu).outputs[0];
    g.outputs = {y};
    for (NodeId n : g.topological_order()) infer_node(g, n);
  }
};

void expect_invalid(const Graph& g, const std::string& part) {
  Status s = verify(g);
  EXPECT_FALSE(s.is_ok()) << "expected an error containing: " << part;
  EXPECT_TRUE(contains(s.message(), part)) << s.message();
}

TEST(Verifier, AcceptsWellFormedGraph) {
  SmallGraph s;
  Status st = verify(s.g);
  EXPECT_TRUE(st.is_ok()) << st.message();
  EXPECT_EQ(s.g.tensor(s.y).shape.sizes(), (Sizes{1, 3, 4, 4}));
}

TEST(Verifier, CatchesCycle) {
  SmallGraph s;
  s.g.node(s.conv).inputs[0] = s.y;
  expect_invalid(s.g, "cycle");
}

TEST(Verifier, CatchesUndefinedInput) {
  SmallGraph s;
  TensorId orphan = value(s.g, "orphan", {1, 3, 4, 4});
  s.g.node(s.relu).inputs[0] = orphan;
  expect_invalid(s.g, "node 'relu1' (Relu): input 0 'orphan' is not defined");
}

TEST(Verifier, CatchesMissingTensorId) {
  SmallGraph s;
  s.g.node(s.relu).inputs[0] = 999;
  expect_invalid(s.g, "node 'relu1' (Relu): input 0 refers to tensor id 999");
}

TEST(Verifier, CatchesTwoProducers) {
  SmallGraph s;
  add(s.g, OpKind::kRelu, "relu2", {s.conv_out});
  s.g.node(s.g.node_capacity() - 1).outputs[0] = s.y;
  expect_invalid(s.g, "tensor 'relu1_out0' is produced by both node 'relu1' (Relu) and node 'relu2' (Relu)");
}

TEST(Verifier, CatchesMissingDtypeAndShape) {
  SmallGraph s;
  s.g.tensor(s.conv_out).dtype = DType::kUndefined;
  expect_invalid(s.g, "tensor 'conv1_out0' has no dtype");
  SmallGraph s2;
  s2.g.tensor(s2.conv_out).shape.dims[0] = Dim::sym("N");
  expect_invalid(s2.g, "tensor 'conv1_out0' has no static shape ([N,3,4,4])");
}

TEST(Verifier, CatchesSizesWhoseProductOverflows) {
  SmallGraph s;
  s.g.tensor(s.x).shape = Shape({1LL << 40, 1LL << 40});
  expect_invalid(s.g, "has too many elements");
  SmallGraph empty;  // no elements, but the other sizes' strides overflow
  empty.g.tensor(empty.x).shape = Shape({1LL << 40, 0, 1LL << 40});
  expect_invalid(empty.g, "has too many elements");
}

TEST(Verifier, CatchesConstantPayloadSize) {
  SmallGraph s;
  auto buf = std::make_shared<Buffer>();
  buf->bytes.resize(8);
  s.g.tensor(s.b).data = buf;
  expect_invalid(s.g, "constant 'b' holds 8 bytes; float32 [3] needs 12");
}

TEST(Verifier, CatchesBadArity) {
  SmallGraph s;
  s.g.node(s.relu).inputs.push_back(s.x);
  expect_invalid(s.g, "node 'relu1' (Relu): has 2 inputs, expected 1");
  SmallGraph s2;
  s2.g.node(s2.conv).inputs[1] = kNoTensor;
  expect_invalid(s2.g, "node 'conv1' (Conv): required input 1 is missing");
}

TEST(Verifier, CatchesConstantGraphInputAndUnproducedOutput) {
  SmallGraph s;
  s.g.inputs.push_back(s.w);
  expect_invalid(s.g, "graph input 'w' is a constant");
  SmallGraph s2;
  s2.g.outputs.push_back(value(s2.g, "ghost", {1}));
  expect_invalid(s2.g, "graph output 'ghost' is not produced");
}

TEST(Verifier, CatchesShapeDisagreeingWithInference) {
  SmallGraph s;
  s.g.tensor(s.y).shape = Shape(Sizes{1, 3, 4, 5});
  expect_invalid(s.g,
                 "node 'relu1' (Relu): output 'relu1_out0' is float32 [1,3,4,5] but shape inference gives "
                 "float32 [1,3,4,4]");
  SmallGraph s2;
  s2.g.tensor(s2.w).shape = Shape(Sizes{3, 2, 1, 9});  // same byte size, wrong kernel
  Status st = verify(s2.g);
  EXPECT_FALSE(st.is_ok());
  EXPECT_TRUE(contains(st.message(), "Conv 'conv1'")) << st.message();
}

TEST(Verifier, CatchesBadActivationAndQuantization) {
  SmallGraph s;
  s.g.node(s.relu).activation.kind = ActivationKind::kRelu;
  expect_invalid(s.g, "node 'relu1' (Relu): ops of this kind cannot carry a fused activation");
  SmallGraph s2;
  s2.g.node(s2.conv).activation = FusedActivation{ActivationKind::kClip, 0.f, 6.f};
  EXPECT_TRUE(verify(s2.g).is_ok());
  SmallGraph s3;
  s3.g.tensor(s3.w).quant = QuantParams{{0.1f, 0.2f}, {}, 0};
  expect_invalid(s3.g, "tensor 'w': quantization has 2 scales, expected 3");
}

}  // namespace
}  // namespace pare::ir
