// Tests of the canonicalizing passes fold_batchnorm, fuse_activation, fuse_layernorm,
// remove_identity and dce: each pass's structural effect on a small hand-built graph, and the values the graph
// computes before and after it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "passes/pass_util.h"
#include "tests/passes/pass_test_util.h"

namespace pare::passes {
namespace {

// ---- fold_batchnorm ----------------------------------------------------------------

// New tensor names: unique_tensor_name reads the suffixes in use (only exact decimal ones
// count), and TensorNames hands out the same names as unique_tensor_name would, one after
// another as each is added.
TEST(PassUtil, UniqueTensorNames) {
  ir::Graph g;
  for (const char* name : {"w", "w_1", "w_3", "w_01", "w_x", "w_99999999999999999999999", "v_2", "w.1"})
    ir::add_constant<float>(g, name, ir::DType::kFloat32, {1}, {0.0f});
  EXPECT_EQ(unique_tensor_name(g, "w"), "w_2");
  EXPECT_EQ(unique_tensor_name(g, "v"), "v");
  EXPECT_EQ(unique_tensor_name(g, "w_1"), "w_1_1");

  TensorNames names(g);
  for (const char* base : {"w", "w", "w", "v", "v", "w_1", "x"}) {
    const std::string expected = unique_tensor_name(g, base);
    EXPECT_EQ(names.unique(base), expected) << base;
    ir::add_constant<float>(g, expected, ir::DType::kFloat32, {1}, {0.0f});
  }
  EXPECT_EQ(g.find_tensor("w_5"), static_cast<ir::TensorId>(g.tensor_capacity() - 5));
}

TEST(FoldBatchNorm, ConvWithBias) {
  Builder b;
  TensorId x = b.input("x", {1, 3, 6, 6});
  TensorId w = b.random("conv.w", {4, 3, 3, 3}, 10);
  TensorId bias = b.random("conv.b", {4}, 11);
  TensorId conv = b.apply(OpKind::kConv, "conv", {x, w, bias},
                          make_attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  TensorId y = add_batchnorm(b, conv, 4, 20, "bn");
  b.output(y);
  const std::vector<uint8_t> w_bytes = b.g.tensor(w).data->bytes;
  const ir::BufferPtr w_buffer = b.g.tensor(w).data;

  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "fold_batchnorm", 1e-5f, &ctx);
  EXPECT_EQ(count_op(after, OpKind::kBatchNormalization), 0u);
  ASSERT_EQ(after.num_nodes(), 1u);
  const ir::Node& node = after.node(only_node_of(after, OpKind::kConv));
  EXPECT_EQ(node.outputs[0], y);  // writes the BN's output, name kept
  EXPECT_EQ(after.tensor(node.outputs[0]).name, "bn_out");
  EXPECT_EQ(after.outputs, std::vector<TensorId>{y});
  EXPECT_NE(node.inputs[1], w);
  EXPECT_NE(node.inputs[2], bias);
  EXPECT_EQ(b.g.tensor(w).data->bytes, w_bytes);  // the original buffer is untouched
  EXPECT_EQ(w_buffer->bytes, w_bytes);
  EXPECT_TRUE(has_note(ctx, "BatchNormalization 'bn' folded into Conv 'conv'"));
  EXPECT_TRUE(has_note(ctx, "BatchNormalization nodes folded: 1"));
}

TEST(FoldBatchNorm, HandComputedWeightsAndCreatedBias) {
  // 1x1 conv w = [2, -1], no bias; BN: s = scale / sqrt(var + eps) = [3/2, 1/1],
  // t = bias - mean * s = [0.5 - 1 * 1.5, -2 - 4 * 1].
  Builder b;
  TensorId x = b.input("x", {1, 1, 2, 2});
  TensorId conv = b.apply(OpKind::kConv, "conv", {x, b.floats("w", {2, 1, 1, 1}, {2.f, -1.f})});
  TensorId y = b.apply(OpKind::kBatchNormalization, "bn",
                       {conv, b.floats("s", {2}, {3.f, 1.f}), b.floats("b", {2}, {0.5f, -2.f}),
                        b.floats("m", {2}, {1.f, 4.f}), b.floats("v", {2}, {3.f, 0.f})},
                       make_attrs({{"epsilon", 1.f}}));
  b.output(y);
  ir::Graph after = run_and_compare(b.g, "fold_batchnorm", 1e-6f);
  const ir::Node& node = after.node(only_node_of(after, OpKind::kConv));
  ASSERT_EQ(node.inputs.size(), 3u);
  EXPECT_EQ(after.tensor(node.inputs[1]).float_values(), (std::vector<double>{3.0, -1.0}));
  EXPECT_EQ(after.tensor(node.inputs[2]).float_values(), (std::vector<double>{-1.0, -6.0}));
  EXPECT_EQ(after.tensor(node.inputs[2]).shape, ir::Shape({2}));
}

TEST(FoldBatchNorm, SharedWeightsStayIntact) {
  // Two convs read the same weights; folding the BN after the first must not change the second.
  Builder b;
  TensorId x = b.input("x", {1, 2, 5, 5});
  TensorId w = b.random("w", {3, 2, 3, 3}, 30);
  TensorId c1 = b.apply(OpKind::kConv, "conv1", {x, w});
  TensorId c2 = b.apply(OpKind::kConv, "conv2", {x, w});
  b.output(add_batchnorm(b, c1, 3, 40, "bn"));
  b.output(c2);
  ir::Graph after = run_and_compare(b.g, "fold_batchnorm", 1e-5f);
  EXPECT_EQ(count_op(after, OpKind::kBatchNormalization), 0u);
  EXPECT_EQ(after.node(after.producer(c2)).inputs[1], w);
  EXPECT_NE(after.node(after.producer(after.outputs[0])).inputs[1], w);
}

TEST(FoldBatchNorm, GroupedConvTranspose) {
  Builder b;
  TensorId x = b.input("x", {1, 4, 3, 3});
  TensorId w = b.random("w", {4, 3, 2, 2}, 50);  // 2 groups: 6 output channels
  TensorId ct = b.apply(OpKind::kConvTranspose, "deconv", {x, w, b.random("bias", {6}, 51)},
                        make_attrs({{"group", int64_t{2}}, {"strides", std::vector<int64_t>{2, 2}}}));
  b.output(add_batchnorm(b, ct, 6, 60, "bn"));
  ir::Graph after = run_and_compare(b.g, "fold_batchnorm", 1e-5f);
  EXPECT_EQ(count_op(after, OpKind::kBatchNormalization), 0u);
  EXPECT_EQ(after.num_nodes(), 1u);
}

TEST(FoldBatchNorm, GemmBothLayouts) {
  for (int64_t trans_b : {0, 1}) {
    Builder b;
    TensorId x = b.input("x", {3, 5});
    std::vector<int64_t> w_shape = trans_b ? std::vector<int64_t>{4, 5} : std::vector<int64_t>{5, 4};
    TensorId gemm = b.apply(OpKind::kGemm, "fc", {x, b.random("w", w_shape, 70), b.random("c", {4}, 71)},
                            make_attrs({{"transB", trans_b}, {"alpha", 0.5f}, {"beta", 2.f}}));
    b.output(add_batchnorm(b, gemm, 4, 80, "bn"));
    ir::Graph after = run_and_compare(b.g, "fold_batchnorm", 1e-5f);
    EXPECT_EQ(count_op(after, OpKind::kBatchNormalization), 0u) << "transB=" << trans_b;
    const ir::Node& fc = after.node(only_node_of(after, OpKind::kGemm));
    EXPECT_EQ(fc.attrs.get_float("beta", 0.f), 1.f);
  }
}

TEST(FoldBatchNorm, LeavesUnsafePatterns) {
  Builder b;
  TensorId x = b.input("x", {1, 2, 4, 4});
  // The conv output has a second consumer.
  TensorId c1 = b.apply(OpKind::kConv, "shared_out", {x, b.random("w1", {2, 2, 1, 1}, 1)});
  b.output(add_batchnorm(b, c1, 2, 2, "bn1"));
  b.output(b.apply(OpKind::kRelu, "relu", {c1}));
  // The conv already applies an activation.
  TensorId c2 = b.apply(OpKind::kConv, "fused", {x, b.random("w2", {2, 2, 1, 1}, 3)});
  b.g.node(b.g.producer(c2)).activation.kind = ActivationKind::kRelu;
  b.output(add_batchnorm(b, c2, 2, 4, "bn2"));
  // The weights are computed, not constant.
  TensorId c3 = b.apply(OpKind::kConv, "dynamic", {x, b.input("w3", {2, 2, 1, 1})});
  b.output(add_batchnorm(b, c3, 2, 5, "bn3"));
  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "fold_batchnorm", 1e-5f, &ctx);
  // Not folded into the convs (their weights stay), each a per-channel Mul and Add instead.
  EXPECT_EQ(count_op(after, OpKind::kBatchNormalization), 0u);
  EXPECT_EQ(count_op(after, OpKind::kMul), 3u);
  EXPECT_EQ(count_op(after, OpKind::kAdd), 3u);
  EXPECT_EQ(after.node(after.producer(c1)).inputs[1], b.g.find_tensor("w1"));
  EXPECT_EQ(after.node(after.producer(c2)).inputs[1], b.g.find_tensor("w2"));
  EXPECT_TRUE(has_note(ctx, "BatchNormalization nodes folded: 0"));
  EXPECT_TRUE(has_note(ctx, "BatchNormalization nodes as Mul and Add: 3"));
}

TEST(FoldBatchNorm, UnfoldableBecomesChannelMulAdd) {
  // After a Concat (DenseNet), and on graph inputs of rank 2 and 3; a BN whose statistics
  // are computed stays.
  Builder b;
  TensorId x = b.input("x", {1, 2, 4, 4}), z = b.input("z", {1, 3, 4, 4});
  TensorId cat = b.apply(OpKind::kConcat, "cat", {x, z}, make_attrs({{"axis", int64_t{1}}}));
  TensorId y = add_batchnorm(b, cat, 5, 7, "bn_cat");
  b.output(y);
  b.output(add_batchnorm(b, b.input("v", {3, 6}), 6, 8, "bn_rank2"));
  b.output(add_batchnorm(b, b.input("w", {2, 4, 5}), 4, 9, "bn_rank3"));
  TensorId dyn = b.apply(OpKind::kBatchNormalization, "bn_dynamic",
                         {x, b.random("s", {2}, 1), b.random("bb", {2}, 2), b.input("m", {2}), b.floats("var", {2}, {1.f, 2.f})});
  b.output(dyn);
  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "fold_batchnorm", 1e-5f, &ctx);
  EXPECT_EQ(count_op(after, OpKind::kBatchNormalization), 1u);
  EXPECT_EQ(count_op(after, OpKind::kMul), 3u);
  const ir::Node& add = after.node(after.producer(y));
  EXPECT_EQ(add.op, OpKind::kAdd);
  EXPECT_EQ(add.name, "bn_cat");
  EXPECT_EQ(after.tensor(add.inputs[1]).shape, ir::Shape({5, 1, 1}));
  const ir::Node& mul = after.node(after.producer(add.inputs[0]));
  EXPECT_EQ(mul.op, OpKind::kMul);
  EXPECT_EQ(mul.inputs[0], cat);
  EXPECT_EQ(after.tensor(mul.inputs[1]).shape, ir::Shape({5, 1, 1}));
  EXPECT_EQ(after.tensor(after.node(after.producer(after.outputs[1])).inputs[1]).shape, ir::Shape({6}));
  EXPECT_EQ(after.tensor(after.node(after.producer(after.outputs[2])).inputs[1]).shape, ir::Shape({4, 1}));
  EXPECT_TRUE(has_note(ctx, "BatchNormalization 'bn_cat' became a per-channel Mul and Add"));
  EXPECT_TRUE(has_note(ctx, "BatchNormalization nodes as Mul and Add: 3"));
}

// ---- fuse_activation ---------------------------------------------------------------

struct ActivationCase {
  OpKind producer;
  OpKind activation;
  FusedActivation expected;
};

TEST(FuseActivation, EachActivationOnEachProducer) {
  const std::vector<ActivationCase> cases = {
      {OpKind::kConv, OpKind::kRelu, {ActivationKind::kRelu}},
      {OpKind::kConv, OpKind::kClip, {ActivationKind::kClip, 0.f, 6.f}},
      {OpKind::kConvTranspose, OpKind::kHardSwish, {ActivationKind::kHardSwish}},
      {OpKind::kGemm, OpKind::kLeakyRelu, {ActivationKind::kLeakyRelu, 0.2f}},
      {OpKind::kGemm, OpKind::kSigmoid, {ActivationKind::kSigmoid}},
      {OpKind::kMatMul, OpKind::kHardSigmoid, {ActivationKind::kHardSigmoid, 0.25f, 0.4f}},
  };
  for (const ActivationCase& c : cases) {
    SCOPED_TRACE(std::string(ir::op_name(c.producer)) + " + " + ir::op_name(c.activation));
    Builder b;
    TensorId p;
    if (c.producer == OpKind::kConv || c.producer == OpKind::kConvTranspose) {
      TensorId x = b.input("x", {1, 2, 4, 4});
      p = b.apply(c.producer, "layer", {x, b.random("w", {2, 2, 3, 3}, 5), b.random("b", {2}, 6)});
    } else {
      TensorId x = b.input("x", {3, 4});
      p = b.apply(c.producer, "layer", {x, b.random("w", {4, 5}, 5, -3.f, 3.f)});
    }
    TensorId y;
    if (c.activation == OpKind::kClip) {
      y = b.apply(OpKind::kClip, "act", {p, b.floats("lo", {}, {0.f}), b.floats("hi", {}, {6.f})});
    } else if (c.activation == OpKind::kLeakyRelu) {
      y = b.apply(c.activation, "act", {p}, make_attrs({{"alpha", 0.2f}}));
    } else if (c.activation == OpKind::kHardSigmoid) {
      y = b.apply(c.activation, "act", {p}, make_attrs({{"alpha", 0.25f}, {"beta", 0.4f}}));
    } else {
      y = b.apply(c.activation, "act", {p});
    }
    b.output(y);
    PassContext ctx;
    ir::Graph after = run_and_compare(b.g, "fuse_activation", 1e-6f, &ctx);
    ASSERT_EQ(after.num_nodes(), 1u);
    const ir::Node& node = after.node(only_node_of(after, c.producer));
    EXPECT_EQ(node.activation.kind, c.expected.kind);
    EXPECT_EQ(node.activation.p0, c.expected.p0);
    EXPECT_EQ(node.activation.p1, c.expected.p1);
    EXPECT_EQ(node.outputs[0], y);
    EXPECT_EQ(after.tensor(after.outputs[0]).name, "act_out");
    EXPECT_TRUE(has_note(ctx, std::string(ir::op_name(c.activation)) + " 'act' fused into " +
                                  ir::op_name(c.producer) + " 'layer'"));
  }
}

TEST(FuseActivation, ClipWithoutMaxIsUnboundedAbove) {
  Builder b;
  TensorId x = b.input("x", {2, 3});
  TensorId mm = b.apply(OpKind::kMatMul, "mm", {x, b.random("w", {3, 3}, 8, -4.f, 4.f)});
  b.output(b.apply(OpKind::kClip, "clip", {mm, b.floats("lo", {}, {-1.f})}));
  ir::Graph after = run_and_compare(b.g, "fuse_activation", 1e-6f);
  const ir::Node& node = after.node(only_node_of(after, OpKind::kMatMul));
  EXPECT_EQ(node.activation.kind, ActivationKind::kClip);
  EXPECT_EQ(node.activation.p0, -1.f);
  EXPECT_TRUE(std::isinf(node.activation.p1));
}

TEST(FuseActivation, LeavesUnsafePatterns) {
  Builder b;
  TensorId x = b.input("x", {2, 3});
  TensorId w = b.random("w", {3, 3}, 9);
  // Producer output is also a graph output.
  TensorId m1 = b.apply(OpKind::kMatMul, "visible", {x, w});
  b.output(m1);
  b.output(b.apply(OpKind::kRelu, "relu1", {m1}));
  // Producer output feeds two nodes.
  TensorId m2 = b.apply(OpKind::kMatMul, "shared", {x, w});
  b.output(b.apply(OpKind::kRelu, "relu2", {m2}));
  b.output(b.apply(OpKind::kSigmoid, "sig2", {m2}));
  // Clip bound computed at run time.
  TensorId m3 = b.apply(OpKind::kMatMul, "dyn_clip", {x, w});
  TensorId lo = b.input("lo", {});
  b.output(b.apply(OpKind::kClip, "clip3", {m3, lo}));
  // Producer cannot carry an activation.
  TensorId s4 = b.apply(OpKind::kAdd, "add", {x, x});
  b.output(b.apply(OpKind::kRelu, "relu4", {s4}));
  // Producer already has one.
  TensorId m5 = b.apply(OpKind::kMatMul, "has_act", {x, w});
  b.g.node(b.g.producer(m5)).activation.kind = ActivationKind::kSigmoid;
  b.output(b.apply(OpKind::kRelu, "relu5", {m5}));
  const size_t nodes = b.g.num_nodes();
  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "fuse_activation", 0.f, &ctx);
  EXPECT_EQ(after.num_nodes(), nodes);
  EXPECT_TRUE(has_note(ctx, "activations fused: 0"));
}

TEST(FuseActivation, SiluInEitherOperandOrder) {
  for (bool sigmoid_first : {false, true}) {
    SCOPED_TRACE(sigmoid_first ? "Mul(Sigmoid(x), x)" : "Mul(x, Sigmoid(x))");
    Builder b;
    TensorId x = b.input("x", {1, 3, 5, 5});
    TensorId c = b.apply(OpKind::kConv, "conv", {x, b.random("w", {4, 3, 3, 3}, 7), b.random("b", {4}, 8)},
                         make_attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
    TensorId s = b.apply(OpKind::kSigmoid, "sig", {c});
    TensorId y = b.apply(OpKind::kMul, "mul", sigmoid_first ? std::vector<TensorId>{s, c} : std::vector<TensorId>{c, s});
    b.output(y);
    PassContext ctx;
    ir::Graph after = run_and_compare(b.g, "fuse_activation", 1e-6f, &ctx);
    ASSERT_EQ(after.num_nodes(), 1u);
    const ir::Node& node = after.node(only_node_of(after, OpKind::kConv));
    EXPECT_EQ(node.activation.kind, ActivationKind::kSilu);
    EXPECT_EQ(node.outputs[0], y);
    EXPECT_TRUE(has_note(ctx, "Sigmoid 'sig' and Mul 'mul' fused into Conv 'conv' as Silu"));
    EXPECT_TRUE(has_note(ctx, "activations fused: 1"));
  }
}

TEST(FuseActivation, SiluLeavesOtherProducts) {
  Builder b;
  TensorId x = b.input("x", {2, 3});
  TensorId w = b.random("w", {3, 3}, 9);
  // x * Sigmoid(x) where x is read by a third node.
  TensorId m1 = b.apply(OpKind::kMatMul, "shared", {x, w});
  b.output(b.apply(OpKind::kMul, "mul1", {m1, b.apply(OpKind::kSigmoid, "sig1", {m1})}));
  b.output(b.apply(OpKind::kRelu, "relu1", {m1}));
  // x * Sigmoid(z): a gate, not SiLU.
  TensorId m2 = b.apply(OpKind::kMatMul, "gate_a", {x, w});
  TensorId m3 = b.input("z", {2, 3});
  b.output(b.apply(OpKind::kMul, "mul2", {m2, b.apply(OpKind::kSigmoid, "sig2", {m3})}));
  // The Sigmoid's output is also a graph output.
  TensorId m4 = b.apply(OpKind::kMatMul, "visible_sigmoid", {x, w});
  TensorId s4 = b.apply(OpKind::kSigmoid, "sig4", {m4});
  b.output(s4);
  b.output(b.apply(OpKind::kMul, "mul4", {m4, s4}));
  // The producer cannot carry an activation.
  TensorId a5 = b.apply(OpKind::kAdd, "add", {x, x});
  b.output(b.apply(OpKind::kMul, "mul5", {a5, b.apply(OpKind::kSigmoid, "sig5", {a5})}));
  const size_t nodes = b.g.num_nodes();
  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "fuse_activation", 0.f, &ctx);
  EXPECT_EQ(after.num_nodes(), nodes);
  EXPECT_TRUE(has_note(ctx, "activations fused: 0"));
}

// x * HardSigmoid(x) with alpha 1/6 and beta 0.5, as exporters before opset 14 write
// HardSwish: the Conv takes it as its activation; after an Add, one HardSwish node is left.
TEST(FuseActivation, DecomposedHardSwishBecomesOne) {
  const ir::Attributes hard_swish_gate = make_attrs({{"alpha", 1.f / 6.f}, {"beta", 0.5f}});
  for (bool gate_first : {false, true}) {
    SCOPED_TRACE(gate_first ? "Mul(HardSigmoid(x), x)" : "Mul(x, HardSigmoid(x))");
    Builder b;
    TensorId x = b.input("x", {1, 3, 5, 5});
    TensorId c = b.apply(OpKind::kConv, "conv", {x, b.random("w", {4, 3, 3, 3}, 7, -3.f, 3.f), b.random("b", {4}, 8)},
                         make_attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
    TensorId g = b.apply(OpKind::kHardSigmoid, "gate", {c}, hard_swish_gate);
    TensorId y = b.apply(OpKind::kMul, "mul", gate_first ? std::vector<TensorId>{g, c} : std::vector<TensorId>{c, g});
    b.output(y);
    TensorId a = b.apply(OpKind::kAdd, "add", {x, x});
    TensorId g2 = b.apply(OpKind::kHardSigmoid, "gate2", {a}, hard_swish_gate);
    b.output(b.apply(OpKind::kMul, "mul2", gate_first ? std::vector<TensorId>{g2, a} : std::vector<TensorId>{a, g2}));
    PassContext ctx;
    // The scalar references divide by 6 where HardSigmoid multiplies by alpha: a rounding apart.
    ir::Graph after = run_and_compare(b.g, "fuse_activation", 1e-6f, &ctx);
    ASSERT_EQ(after.num_nodes(), 3u);
    const ir::Node& conv = after.node(only_node_of(after, OpKind::kConv));
    EXPECT_EQ(conv.activation.kind, ActivationKind::kHardSwish);
    EXPECT_EQ(conv.outputs[0], y);
    const ir::Node& swish = after.node(only_node_of(after, OpKind::kHardSwish));
    EXPECT_EQ(swish.inputs, std::vector<TensorId>{a});
    EXPECT_TRUE(has_note(ctx, "HardSigmoid 'gate' and Mul 'mul' fused into one HardSwish"));
    EXPECT_TRUE(has_note(ctx, "HardSwish 'mul' fused into Conv 'conv'"));
    EXPECT_TRUE(has_note(ctx, "activations fused: 2"));
  }
}

TEST(FuseActivation, HardSwishLeavesOtherGates) {
  Builder b;
  TensorId x = b.input("x", {2, 3});
  TensorId w = b.random("w", {3, 3}, 9);
  // Keras's hard sigmoid (alpha 0.2): not HardSwish.
  TensorId m1 = b.apply(OpKind::kMatMul, "keras", {x, w});
  b.output(b.apply(OpKind::kMul, "mul1", {m1, b.apply(OpKind::kHardSigmoid, "hs1", {m1}, make_attrs({{"alpha", 0.2f}}))}));
  // A gate of another tensor (a squeeze-and-excitation scale).
  TensorId m2 = b.apply(OpKind::kMatMul, "scaled", {x, w});
  TensorId z = b.input("z", {2, 3});
  b.output(b.apply(OpKind::kMul, "mul2", {m2, b.apply(OpKind::kHardSigmoid, "hs2", {z}, make_attrs({{"alpha", 1.f / 6.f}}))}));
  // The gate is also a graph output.
  TensorId m3 = b.apply(OpKind::kMatMul, "visible_gate", {x, w});
  TensorId g3 = b.apply(OpKind::kHardSigmoid, "hs3", {m3}, make_attrs({{"alpha", 1.f / 6.f}}));
  b.output(g3);
  b.output(b.apply(OpKind::kMul, "mul3", {m3, g3}));
  const size_t nodes = b.g.num_nodes();
  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "fuse_activation", 0.f, &ctx);
  EXPECT_EQ(after.num_nodes(), nodes);
  EXPECT_TRUE(has_note(ctx, "activations fused: 0"));
}

// 0.5 x (1 + Erf(x / sqrt 2)) as exporters write it; `form` picks the variant: 0 is
// torch.onnx's Mul(Mul(x, a), 0.5) with Div, 1 multiplies by 1/sqrt 2 and swaps every
// commutative pair, 2 is Mul(Mul(0.5, x), a). The constants and the x of the outer
// product can be changed to make chains that are not Gelu.
struct GeluChain {
  int form = 0;
  float scale = 0, one = 1.f, half = 0.5f;  // scale 0: sqrt 2 (form 1: 1/sqrt 2)
  TensorId outer_x = ir::kNoTensor;         // kNoTensor: x
};

TensorId decomposed_gelu(Builder& b, TensorId x, const GeluChain& c, const std::string& tag = "") {
  const float scale = c.scale != 0 ? c.scale : c.form == 1 ? 0.70710677f : 1.4142135f;
  const TensorId ox = c.outer_x == ir::kNoTensor ? x : c.outer_x;
  TensorId k = b.floats("c" + tag, {}, {scale});
  TensorId scaled = c.form == 1 ? b.apply(OpKind::kMul, "scale" + tag, {k, x}) : b.apply(OpKind::kDiv, "scale" + tag, {x, k});
  TensorId e = b.apply(OpKind::kErf, "erf" + tag, {scaled});
  TensorId one = b.floats("one" + tag, {}, {c.one}), half = b.floats("half" + tag, {}, {c.half});
  TensorId a = b.apply(OpKind::kAdd, "add" + tag, c.form == 1 ? std::vector<TensorId>{one, e} : std::vector<TensorId>{e, one});
  if (c.form == 2) return b.apply(OpKind::kMul, "mul" + tag, {a, b.apply(OpKind::kMul, "half_x" + tag, {half, ox})});
  TensorId xa = b.apply(OpKind::kMul, "xa" + tag, c.form == 1 ? std::vector<TensorId>{a, ox} : std::vector<TensorId>{ox, a});
  return b.apply(OpKind::kMul, "mul" + tag, c.form == 1 ? std::vector<TensorId>{half, xa} : std::vector<TensorId>{xa, half});
}

TEST(FuseActivation, DecomposedGeluBecomesOneNode) {
  for (int form : {0, 1, 2}) {
    SCOPED_TRACE("form " + std::to_string(form));
    Builder b;
    TensorId x = b.input("x", {3, 40});
    TensorId m = b.apply(OpKind::kMatMul, "fc", {x, b.random("w", {40, 24}, 3, -2.f, 2.f)});
    GeluChain chain;
    chain.form = form;
    TensorId y = decomposed_gelu(b, m, chain);
    b.output(y);
    PassContext ctx;
    // The chain's 1 + erf cancels below x = -1 as the kernel's does: a few 1e-7 apart.
    ir::Graph after = run_and_compare(b.g, "fuse_activation", 2e-6f, &ctx);
    ASSERT_EQ(after.num_nodes(), 2u);
    const ir::Node& gelu = after.node(only_node_of(after, OpKind::kGelu));
    EXPECT_EQ(gelu.inputs, std::vector<TensorId>{m});
    EXPECT_EQ(gelu.outputs[0], y);
    EXPECT_EQ(gelu.attrs.get_string("approximate", ""), "none");
    EXPECT_TRUE(has_note(ctx, "the five nodes of an exact Gelu ending in Mul 'mul' fused into one Gelu"));
    EXPECT_TRUE(has_note(ctx, "activations fused: 1"));
  }
}

TEST(FuseActivation, GeluLeavesOtherChains) {
  Builder b;
  TensorId x = b.input("x", {2, 8}), z = b.input("z", {2, 8});
  // An intermediate (the Erf) read by another node too.
  TensorId y = decomposed_gelu(b, x, {}, "0");
  b.output(y);
  b.output(b.apply(OpKind::kRelu, "reads_erf", {b.g.find_tensor("erf0_out")}));
  // Other constants, and a product with another tensor.
  const std::vector<GeluChain> others = {{0, 2.f}, {1, 0.5f}, {0, 0, 2.f}, {2, 0, 1.f, 0.3f}, {0, 0, 1.f, 0.5f, z}};
  for (size_t i = 0; i < others.size(); ++i) b.output(decomposed_gelu(b, x, others[i], std::to_string(i + 1)));
  const size_t nodes = b.g.num_nodes();
  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "fuse_activation", 0.f, &ctx);
  EXPECT_EQ(after.num_nodes(), nodes);
  EXPECT_EQ(count_op(after, OpKind::kGelu), 0u);
  EXPECT_TRUE(has_note(ctx, "activations fused: 0"));
}

// ---- fuse_layernorm ----------------------------------------------------------------

// Layer normalization over the trailing `axes` as exporters before opset 17 write it. The
// fields change it: the square as Mul(d, d), eps as the Add's first operand, the scale and
// bias tensors (kNoTensor: none), the second reduction's axes, the exponent.
struct LayerNormChain {
  std::vector<int64_t> axes = {-1};
  bool mul_square = false, eps_first = false;
  TensorId gamma = ir::kNoTensor, beta = ir::kNoTensor;
  std::vector<int64_t> var_axes;  // empty: axes
  float exponent = 2.f, eps = 1e-5f;
};

TensorId decomposed_layernorm(Builder& b, TensorId x, const LayerNormChain& c, const std::string& tag = "") {
  TensorId mean = b.apply(OpKind::kReduceMean, "mean" + tag, {x, b.ints("axes" + tag, c.axes)});
  TensorId d = b.apply(OpKind::kSub, "sub" + tag, {x, mean});
  TensorId sq = c.mul_square ? b.apply(OpKind::kMul, "square" + tag, {d, d})
                             : b.apply(OpKind::kPow, "square" + tag, {d, b.floats("two" + tag, {}, {c.exponent})});
  TensorId var = b.apply(OpKind::kReduceMean, "var" + tag,
                         {sq, b.ints("var_axes" + tag, c.var_axes.empty() ? c.axes : c.var_axes)});
  TensorId eps = b.floats("eps" + tag, {}, {c.eps});
  TensorId ve = b.apply(OpKind::kAdd, "add_eps" + tag, c.eps_first ? std::vector<TensorId>{eps, var} : std::vector<TensorId>{var, eps});
  TensorId y = b.apply(OpKind::kDiv, "div" + tag, {d, b.apply(OpKind::kSqrt, "sqrt" + tag, {ve})});
  if (c.gamma != ir::kNoTensor) y = b.apply(OpKind::kMul, "scale" + tag, {y, c.gamma});
  if (c.beta != ir::kNoTensor) y = b.apply(OpKind::kAdd, "shift" + tag, {c.beta, y});
  return y;
}

TEST(FuseLayerNorm, DecompositionsBecomeOneNode) {
  for (int form = 0; form < 4; ++form) {
    SCOPED_TRACE("form " + std::to_string(form));
    Builder b;
    TensorId x = b.input("x", {2, 3, 4, 6});
    TensorId m = b.apply(OpKind::kRelu, "relu", {x});
    LayerNormChain c;
    std::vector<int64_t> normalized = {6};
    if (form == 0) {  // torch.onnx at opset 13: one axis, scale and bias
      c.gamma = b.random("gamma", {6}, 5, 0.5f, 2.f);
      c.beta = b.random("beta", {6}, 6);
    } else if (form == 1) {  // two axes, Mul(d, d), eps first, a scale constant along one of them only
      c.axes = {2, -1};
      c.mul_square = true;
      c.eps_first = true;
      c.gamma = b.random("gamma", {1, 6}, 7, 0.5f, 2.f);
      normalized = {4, 6};
    } else if (form == 2) {  // no affine tail, all axes
      c.axes = {0, 1, 2, 3};
      c.eps = 1e-3f;
      normalized = {2, 3, 4, 6};
    } else {  // bias only, a scalar bias
      c.beta = b.floats("beta", {1}, {0.25f});
    }
    TensorId y = decomposed_layernorm(b, m, c);
    b.output(y);
    PassContext ctx;
    ir::Graph after = run_and_compare(b.g, "fuse_layernorm", 2e-6f, &ctx);
    ASSERT_EQ(after.num_nodes(), 2u);
    const ir::Node& ln = after.node(only_node_of(after, OpKind::kLayerNormalization));
    EXPECT_EQ(ln.outputs[0], y);
    EXPECT_EQ(ln.inputs[0], m);
    EXPECT_EQ(ln.attrs.get_int("axis", 0), 4 - static_cast<int64_t>(normalized.size()));
    EXPECT_FLOAT_EQ(ln.attrs.get_float("epsilon", 0.f), c.eps);
    ASSERT_EQ(ln.inputs.size(), c.beta != ir::kNoTensor ? 3u : 2u);
    for (size_t i = 1; i < ln.inputs.size(); ++i) EXPECT_EQ(after.tensor(ln.inputs[i]).shape, ir::Shape(normalized));
    if (form == 0) {
      EXPECT_EQ(ln.inputs[1], c.gamma);  // already shaped as the kernel takes it
    }
    const size_t nodes = 7 + (c.gamma != ir::kNoTensor) + (c.beta != ir::kNoTensor);
    EXPECT_TRUE(has_note(ctx, "the " + std::to_string(nodes) + " nodes of a layer normalization ending in"));
    EXPECT_TRUE(has_note(ctx, "layer normalizations fused: 1"));
  }
}

TEST(FuseLayerNorm, LeavesOtherChains) {
  Builder b;
  TensorId x = b.input("x", {2, 5, 8});
  // A difference read by another node; a leading axis; axes that differ between the two
  // reductions; a cube; a negative epsilon.
  b.output(decomposed_layernorm(b, x, {}, "0"));
  b.output(b.apply(OpKind::kRelu, "reads_sub", {b.g.find_tensor("sub0_out")}));
  LayerNormChain leading;
  leading.axes = {1};
  LayerNormChain mixed;
  mixed.axes = {-1};
  mixed.var_axes = {1, 2};
  LayerNormChain cube;
  cube.exponent = 3.f;
  LayerNormChain negative;
  negative.eps = -1e-5f;
  int tag = 1;
  for (const LayerNormChain& c : {leading, mixed, cube, negative}) b.output(decomposed_layernorm(b, x, c, std::to_string(tag++)));
  const size_t nodes = b.g.num_nodes();
  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "fuse_layernorm", 0.f, &ctx);
  EXPECT_EQ(after.num_nodes(), nodes);
  EXPECT_EQ(count_op(after, OpKind::kLayerNormalization), 0u);
  EXPECT_TRUE(has_note(ctx, "layer normalizations fused: 0"));
}

// Normalizations in a chain (each reading the one before, which a fusion has just rewritten)
// and side by side, sharing their scale and bias: every one fuses, through the pass's index
// of producers and readers.
TEST(FuseLayerNorm, ChainsAndBranchesAllFuse) {
  Builder b;
  TensorId x = b.input("x", {2, 5, 8});
  LayerNormChain c;
  c.gamma = b.random("gamma", {8}, 3, 0.5f, 2.f);
  c.beta = b.random("beta", {8}, 4);
  TensorId chain = x;
  int tag = 0;
  for (int i = 0; i < 10; ++i) chain = decomposed_layernorm(b, chain, c, std::to_string(tag++));
  b.output(chain);
  TensorId r = b.apply(OpKind::kRelu, "relu", {x});
  for (int i = 0; i < 30; ++i) b.output(decomposed_layernorm(b, r, c, std::to_string(tag++)));
  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "fuse_layernorm", 2e-5f, &ctx);
  EXPECT_EQ(count_op(after, OpKind::kLayerNormalization), 40u);
  EXPECT_EQ(after.num_nodes(), 41u);
  EXPECT_TRUE(has_note(ctx, "layer normalizations fused: 40"));
}

TEST(FuseLayerNorm, ScaleOverLeadingDimsStaysApart) {
  // A scale that varies along a leading dim is not LayerNormalization's Scale: the core
  // fuses and the Mul and Add stay after it.
  Builder b;
  TensorId x = b.input("x", {2, 5, 8});
  LayerNormChain c;
  c.gamma = b.random("gamma", {2, 1, 8}, 3);
  c.beta = b.random("beta", {8}, 4);
  b.output(decomposed_layernorm(b, x, c));
  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "fuse_layernorm", 2e-6f, &ctx);
  EXPECT_EQ(count_op(after, OpKind::kLayerNormalization), 1u);
  EXPECT_EQ(count_op(after, OpKind::kMul), 1u);
  EXPECT_EQ(count_op(after, OpKind::kAdd), 1u);
  EXPECT_TRUE(has_note(ctx, "the 7 nodes of a layer normalization ending in Div 'div' fused"));
}

// ---- remove_identity ----------------------------------------------------------------

TEST(RemoveIdentity, InternalIdentityIsBypassed) {
  Builder b;
  TensorId x = b.input("x", {2, 3});
  TensorId m = b.apply(OpKind::kMatMul, "mm", {x, b.random("w", {3, 3}, 1)});
  TensorId id = b.apply(OpKind::kIdentity, "id", {m});
  TensorId y = b.apply(OpKind::kRelu, "relu", {id});
  b.output(y);
  ir::Graph after = run_and_compare(b.g, "remove_identity", 0.f);
  EXPECT_EQ(count_op(after, OpKind::kIdentity), 0u);
  EXPECT_EQ(after.node(after.producer(y)).inputs[0], m);
}

TEST(RemoveIdentity, IdentityAsGraphOutputRenamesTheProducersOutput) {
  Builder b;
  TensorId x = b.input("x", {2, 3});
  TensorId m = b.apply(OpKind::kMatMul, "mm", {x, b.random("w", {3, 3}, 1)});
  TensorId y = b.apply(OpKind::kIdentity, "id", {m});
  TensorId z = b.apply(OpKind::kSigmoid, "sig", {m});  // another reader of m
  b.output(y);
  b.output(z);
  ir::Graph after = run_and_compare(b.g, "remove_identity", 0.f);
  EXPECT_EQ(count_op(after, OpKind::kIdentity), 0u);
  const ir::Node& mm = after.node(only_node_of(after, OpKind::kMatMul));
  EXPECT_EQ(mm.outputs[0], y);
  EXPECT_EQ(after.tensor(after.outputs[0]).name, "id_out");
  EXPECT_EQ(after.node(after.producer(z)).inputs[0], y);
}

// A chain of pass-throughs into a graph output, with readers along it: each removal leaves
// the pass's use index current for the next (mm's output becomes the last name).
TEST(RemoveIdentity, ChainIntoAGraphOutputKeepsEveryReader) {
  Builder b;
  TensorId x = b.input("x", {2, 3});
  TensorId m = b.apply(OpKind::kMatMul, "mm", {x, b.random("w", {3, 3}, 1)});
  TensorId i1 = b.apply(OpKind::kIdentity, "id1", {m});
  TensorId s1 = b.apply(OpKind::kSigmoid, "sig1", {i1});
  TensorId i2 = b.apply(OpKind::kIdentity, "id2", {i1});
  TensorId s2 = b.apply(OpKind::kRelu, "relu2", {i1});
  TensorId i3 = b.apply(OpKind::kIdentity, "id3", {i2});
  b.output(i3);
  b.output(s1);
  b.output(s2);
  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "remove_identity", 0.f, &ctx);
  EXPECT_EQ(count_op(after, OpKind::kIdentity), 0u);
  EXPECT_TRUE(has_note(ctx, "pass-through nodes removed: 3"));
  EXPECT_EQ(after.node(only_node_of(after, OpKind::kMatMul)).outputs[0], i3);
  EXPECT_EQ(after.node(only_node_of(after, OpKind::kSigmoid)).inputs[0], i3);
  EXPECT_EQ(after.node(only_node_of(after, OpKind::kRelu)).inputs[0], i3);
}

TEST(RemoveIdentity, KeepsIdentityBetweenSignatureNames) {
  Builder b;
  TensorId x = b.input("x", {2});
  b.output(b.apply(OpKind::kIdentity, "from_input", {x}));
  b.output(b.apply(OpKind::kIdentity, "from_constant", {b.floats("c", {2}, {1.f, 2.f})}));
  TensorId r = b.apply(OpKind::kRelu, "relu", {x});
  b.output(r);
  b.output(b.apply(OpKind::kIdentity, "from_output", {r}));
  ir::Graph g = b.g;
  for (ir::NodeId id : g.topological_order()) ir::infer_node(g, id);  // no folding
  PassContext ctx;
  ASSERT_TRUE(run_pass(g, *find_pass("remove_identity"), {}, ctx, "remove_identity").is_ok());
  EXPECT_EQ(count_op(g, OpKind::kIdentity), 3u);
  EXPECT_TRUE(has_note(ctx, "pass-through nodes removed: 0"));
}

TEST(RemoveIdentity, SameTypeCastAndShapeKeepingReshapes) {
  Builder b;
  TensorId x = b.input("x", {2, 3});
  TensorId a = b.apply(OpKind::kCast, "cast_same", {x}, make_attrs({{"to", int64_t{1}}}));
  TensorId r = b.apply(OpKind::kReshape, "reshape_same", {a, b.ints("s", {2}, {2, -1})});
  TensorId u = b.apply(OpKind::kUnsqueeze, "unsq", {r, b.ints("axes", {1}, {0})});
  TensorId s = b.apply(OpKind::kSqueeze, "sq", {u, b.ints("axes0", {1}, {0})});
  TensorId f = b.apply(OpKind::kFlatten, "flat_same", {s}, make_attrs({{"axis", int64_t{1}}}));
  TensorId c = b.apply(OpKind::kCast, "cast_int", {f}, make_attrs({{"to", int64_t{6}}}));
  TensorId back = b.apply(OpKind::kCast, "cast_back", {c}, make_attrs({{"to", int64_t{1}}}));
  b.output(back);
  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "remove_identity", 0.f, &ctx);
  // Left: Unsqueeze and Squeeze (they change the shape) and the two real casts.
  EXPECT_EQ(after.num_nodes(), 4u);
  EXPECT_EQ(count_op(after, OpKind::kReshape), 0u);
  EXPECT_EQ(count_op(after, OpKind::kFlatten), 0u);
  EXPECT_EQ(count_op(after, OpKind::kCast), 2u);
  EXPECT_EQ(count_op(after, OpKind::kUnsqueeze), 1u);
  EXPECT_EQ(after.node(only_node_of(after, OpKind::kUnsqueeze)).inputs[0], x);
  EXPECT_TRUE(has_note(ctx, "pass-through nodes removed: 3"));
}

// A Pad by zero on every side (torch's AvgPool2d export) copies its input; a Pad that adds
// or crops anything, even with the same output shape, stays.
TEST(RemoveIdentity, PadByZeroGoesAndRealPadsStay) {
  Builder b;
  TensorId x = b.input("x", {1, 2, 4, 4});
  TensorId z = b.apply(OpKind::kPad, "pad_zero", {x, b.ints("zeros", {8}, {0, 0, 0, 0, 0, 0, 0, 0})});
  TensorId p = b.apply(OpKind::kPad, "pad_one", {z, b.ints("ones", {8}, {0, 0, 1, 1, 0, 0, 1, 1})});
  TensorId s = b.apply(OpKind::kPad, "pad_shift", {p, b.ints("shift", {8}, {0, 0, 1, 0, 0, 0, -1, 0})});
  b.output(b.apply(OpKind::kRelu, "relu", {s}));
  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "remove_identity", 0.f, &ctx);
  EXPECT_EQ(count_op(after, OpKind::kPad), 2u);
  EXPECT_EQ(after.node(after.producer(p)).inputs[0], x);
  EXPECT_TRUE(has_note(ctx, "pass-through nodes removed: 1"));
}

// ---- dce ------------------------------------------------------------------------------

TEST(Dce, RemovesDeadNodesAndCompacts) {
  Builder b;
  TensorId x = b.input("x", {4});
  TensorId live = b.apply(OpKind::kRelu, "live", {x});
  TensorId dead1 = b.apply(OpKind::kSigmoid, "dead1", {x});
  b.apply(OpKind::kMul, "dead2", {dead1, b.floats("k", {1}, {2.f})});
  b.output(live);
  const size_t tensors_before = b.g.tensor_capacity();
  PassContext ctx;
  ir::Graph after = run_and_compare(b.g, "dce", 0.f, &ctx);
  EXPECT_EQ(after.num_nodes(), 1u);
  EXPECT_EQ(after.tensor_capacity(), 2u);
  EXPECT_LT(after.tensor_capacity(), tensors_before);
  EXPECT_EQ(after.tensor(after.inputs[0]).name, "x");
  EXPECT_EQ(after.tensor(after.outputs[0]).name, "live_out");
  EXPECT_TRUE(has_note(ctx, "dead nodes removed: 2, unused tensors dropped: 3"));
}

}  // namespace
}  // namespace pare::passes
