// Tests of the `nhwc` layout pass: on small hand-built graphs, which nodes run NHWC and
// how many Transposes are left, and the outputs of the graph before and after the pass,
// both written as .pare and run by the runtime's interpreter on random inputs. Then the
// trained models of testdata through the canonical pipeline.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "calibration/npy.h"
#include "formats/onnx/importer.h"
#include "formats/pare/writer.h"
#include "ir/graph.h"
#include "ir/verifier.h"
#include "passes/pass.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "tests/support/graph_builder.h"
#include "tests/support/test_util.h"

namespace pare::passes {
namespace {

using ir::DType;
using ir::OpKind;
using ir::TensorId;
using Ints = std::vector<int64_t>;

using test::count;
using test::make_attrs;
using test::random_floats;
using Builder = test::GraphBuilder;

size_t count_op(const ir::Graph& g, OpKind op) {
  size_t n = 0;
  for (ir::NodeId id : g.nodes())
    if (g.node(id).op == op) ++n;
  return n;
}

ir::NodeId node_named(const ir::Graph& g, const std::string& name) {
  for (ir::NodeId id : g.nodes())
    if (g.node(id).name == name) return id;
  ADD_FAILURE() << "no node '" << name << "'";
  return ir::kNoNode;
}

bool is_nhwc(const ir::Graph& g, const std::string& name) {
  return g.node(node_named(g, name)).attrs.get_string("layout", "NCHW") == "NHWC";
}

// The shape of the (first) output of the node named `name`.
ir::Shape output_shape(const ir::Graph& g, const std::string& name) {
  return g.tensor(g.node(node_named(g, name)).outputs[0]).shape;
}

std::string note_of(const PassContext& ctx) {
  for (const PassReport& r : ctx.reports)
    if (r.pass == "nhwc" && !r.notes.empty()) return r.notes.back();
  return "";
}

// Writes the graph as .pare, loads it and runs it on the interpreter (float32 inputs and outputs).
std::vector<std::vector<float>> run_model(const ir::Graph& g, const std::vector<std::vector<float>>& inputs) {
  std::vector<uint8_t> bytes = format::serialize(g, format::WriteOptions{});
  auto model = rt::Model::load_buffer(bytes.data(), bytes.size(), "layout_test.pare");
  EXPECT_TRUE(model.is_ok()) << model.status().message();
  if (!model.is_ok()) return {};
  auto interp = rt::Interpreter::create(model.value());
  EXPECT_TRUE(interp.is_ok()) << interp.status().message();
  if (!interp.is_ok()) return {};
  rt::Interpreter& it = *interp.value();
  EXPECT_EQ(it.num_inputs(), inputs.size());
  for (size_t i = 0; i < inputs.size() && i < it.num_inputs(); ++i) {
    EXPECT_EQ(it.input(i).byte_size(), inputs[i].size() * sizeof(float));
    std::memcpy(it.input_data(i), inputs[i].data(), inputs[i].size() * sizeof(float));
  }
  rt::Status st = it.invoke();
  EXPECT_TRUE(st.is_ok()) << st.message();
  if (!st.is_ok()) return {};  // the outputs were not written
  std::vector<std::vector<float>> outputs;
  for (size_t o = 0; o < it.num_outputs(); ++o) {
    EXPECT_EQ(it.output(o).dtype, rt::DType::kFloat32);
    const auto* p = static_cast<const float*>(it.output_data(o));
    outputs.emplace_back(p, p + it.output(o).num_elements());
  }
  return outputs;
}

// Runs both graphs on the same random inputs; outputs must agree to float rounding (the
// NHWC convolution sums in another order).
void compare_on_random_inputs(const ir::Graph& before, const ir::Graph& after) {
  for (uint32_t trial = 0; trial < 2; ++trial) {
    std::vector<std::vector<float>> inputs;
    for (TensorId t : before.inputs)
      inputs.push_back(random_floats(static_cast<size_t>(before.tensor(t).shape.num_elements()),
                                     100 + trial * 10 + static_cast<uint32_t>(inputs.size()), -2.f, 2.f));
    auto expected = run_model(before, inputs);
    auto got = run_model(after, inputs);
    ASSERT_EQ(expected.size(), got.size());
    for (size_t o = 0; o < expected.size(); ++o) {
      ASSERT_EQ(expected[o].size(), got[o].size()) << "output " << o;
      EXPECT_FALSE(expected[o].empty());
      for (size_t k = 0; k < expected[o].size(); ++k)
        ASSERT_NEAR(got[o][k], expected[o][k], 1e-4f * std::max(1.f, std::fabs(expected[o][k])))
            << "output " << o << " element " << k;
    }
  }
}

struct Converted {
  ir::Graph before, after;
  PassContext ctx;
};

// Runs `pipeline` (the nhwc pass, verified) on a copy of the graph; checks that the
// signature is kept and that the outputs match the original's on random inputs.
Converted convert_and_compare(const ir::Graph& original, const std::string& pipeline = "nhwc,dce") {
  Converted c;
  c.before = original;
  Status inferred = infer_and_fold(c.before);
  EXPECT_TRUE(inferred.is_ok()) << inferred.message();
  c.after = original;
  c.ctx.verify_each = true;
  Status st = run_pipeline(c.after, pipeline, c.ctx);
  EXPECT_TRUE(st.is_ok()) << st.message();
  if (!st.is_ok()) return c;

  EXPECT_EQ(c.after.inputs.size(), c.before.inputs.size());
  EXPECT_EQ(c.after.outputs.size(), c.before.outputs.size());
  for (size_t i = 0; i < std::min(c.after.inputs.size(), c.before.inputs.size()); ++i) {
    EXPECT_EQ(c.after.tensor(c.after.inputs[i]).name, c.before.tensor(c.before.inputs[i]).name);
    EXPECT_EQ(c.after.tensor(c.after.inputs[i]).shape, c.before.tensor(c.before.inputs[i]).shape);
  }
  for (size_t i = 0; i < std::min(c.after.outputs.size(), c.before.outputs.size()); ++i) {
    EXPECT_EQ(c.after.tensor(c.after.outputs[i]).name, c.before.tensor(c.before.outputs[i]).name);
    EXPECT_EQ(c.after.tensor(c.after.outputs[i]).shape, c.before.tensor(c.before.outputs[i]).shape);
  }

  compare_on_random_inputs(c.before, c.after);
  return c;
}

// ---- hand-built graphs ----------------------------------------------------------------

TEST(LayoutPass, ConvReluConvChain) {
  Builder b;
  TensorId x = b.input("x", {1, 3, 8, 8});
  TensorId c1 = b.conv("conv1", x, 3, 8, 3);
  TensorId r = b.apply(OpKind::kRelu, "relu", {c1});
  TensorId y = b.conv("conv2", r, 8, 4, 1);
  b.output(y);
  Converted c = convert_and_compare(b.g);
  const ir::Graph& g = c.after;
  EXPECT_TRUE(is_nhwc(g, "conv1"));
  EXPECT_TRUE(is_nhwc(g, "conv2"));
  // The Relu keeps the data NHWC between the convolutions: one Transpose in, one out.
  EXPECT_EQ(output_shape(g, "relu"), ir::Shape({1, 8, 8, 8}));
  EXPECT_EQ(count_op(g, OpKind::kTranspose), 2u);
  EXPECT_EQ(g.num_nodes(), 5u);
  EXPECT_NE(note_of(c.ctx).find("transposes inserted: 2"), std::string::npos) << note_of(c.ctx);
}

TEST(LayoutPass, MobileNetResidualBlock) {
  // conv -> expand 1x1 (ReLU6) -> depthwise 3x3 stride 1 (ReLU6) -> project 1x1 -> Add
  // with the block input, and a second Add with the graph input itself.
  Builder b;
  TensorId x = b.input("x", {1, 8, 6, 6});
  TensorId a = b.conv("stem", x, 8, 8, 3);
  TensorId e = b.conv("expand", a, 8, 24, 1);
  TensorId e6 = b.apply(OpKind::kClip, "relu6_1", {e, b.floats("lo", {}, {0.f}), b.floats("hi", {}, {6.f})});
  TensorId d = b.conv("dw", e6, 24, 24, 3, 24);
  TensorId d6 = b.apply(OpKind::kClip, "relu6_2", {d, b.floats("lo2", {}, {0.f}), b.floats("hi2", {}, {6.f})});
  TensorId p = b.conv("project", d6, 24, 8, 1);
  TensorId sum = b.apply(OpKind::kAdd, "add", {p, a});
  TensorId sum2 = b.apply(OpKind::kAdd, "add_input", {sum, x});
  TensorId y = b.conv("head", sum2, 8, 4, 3, 1, 2);
  b.output(y);
  Converted c = convert_and_compare(b.g);
  const ir::Graph& g = c.after;
  for (const char* conv : {"stem", "expand", "dw", "project", "head"}) EXPECT_TRUE(is_nhwc(g, conv)) << conv;
  EXPECT_EQ(output_shape(g, "add"), ir::Shape({1, 6, 6, 8}));
  EXPECT_EQ(output_shape(g, "add_input"), ir::Shape({1, 6, 6, 8}));
  // x is converted once, for the stem and the second Add; the head's output once.
  EXPECT_EQ(count_op(g, OpKind::kTranspose), 2u);
}

TEST(LayoutPass, MobileNetResidualBlockThroughTheCanonicalPipeline) {
  // The same with the activations fused first, as `pare convert` runs it.
  Builder b;
  TensorId x = b.input("x", {1, 4, 7, 7});
  TensorId e = b.conv("expand", x, 4, 16, 1);
  TensorId e6 = b.apply(OpKind::kClip, "relu6", {e, b.floats("lo", {}, {0.f}), b.floats("hi", {}, {6.f})});
  TensorId d = b.conv("dw", e6, 16, 16, 3, 16, 2);
  TensorId d6 = b.apply(OpKind::kHardSwish, "hswish", {d});
  TensorId p = b.conv("project", d6, 16, 4, 1);
  TensorId skip = b.conv("skip", x, 4, 4, 3, 1, 2);
  b.output(b.apply(OpKind::kAdd, "add", {p, skip}));
  Converted c = convert_and_compare(b.g, kCanonicalPipeline);
  EXPECT_EQ(count_op(c.after, OpKind::kClip) + count_op(c.after, OpKind::kHardSwish), 0u);
  EXPECT_EQ(count_op(c.after, OpKind::kTranspose), 2u);
}

TEST(LayoutPass, SqueezeExciteBlock) {
  // f = conv(x); s = HardSigmoid(conv(Relu(conv(GAP(f))))); y = f * s
  Builder b;
  TensorId x = b.input("x", {1, 3, 5, 5});
  TensorId f = b.conv("conv", x, 3, 16, 3);
  TensorId pooled = b.apply(OpKind::kGlobalAveragePool, "gap", {f});
  TensorId s1 = b.conv("fc1", pooled, 16, 4, 1);
  TensorId r = b.apply(OpKind::kRelu, "relu", {s1});
  TensorId s2 = b.conv("fc2", r, 4, 16, 1);
  TensorId gate = b.apply(OpKind::kHardSigmoid, "hsigmoid", {s2}, make_attrs({{"alpha", 1.f / 6}}));
  b.output(b.apply(OpKind::kMul, "mul", {f, gate}));
  Converted c = convert_and_compare(b.g);
  const ir::Graph& g = c.after;
  for (const char* n : {"conv", "gap", "fc1", "fc2"}) EXPECT_TRUE(is_nhwc(g, n)) << n;
  EXPECT_EQ(output_shape(g, "gap"), ir::Shape({1, 1, 1, 16}));
  EXPECT_EQ(output_shape(g, "hsigmoid"), ir::Shape({1, 1, 1, 16}));
  EXPECT_EQ(output_shape(g, "mul"), ir::Shape({1, 5, 5, 16}));
  EXPECT_EQ(count_op(g, OpKind::kTranspose), 2u);
}

TEST(LayoutPass, ConcatOnTheChannelAxis) {
  Builder b;
  TensorId x = b.input("x", {1, 3, 6, 6});
  TensorId a = b.conv("a", x, 3, 4, 3);
  TensorId c2 = b.conv("b", x, 3, 5, 1);
  TensorId bias_map = b.random("extra", {1, 2, 6, 6});  // a constant branch, permuted
  TensorId cat = b.apply(OpKind::kConcat, "concat", {a, c2, bias_map}, make_attrs({{"axis", int64_t{1}}}));
  TensorId cat_h = b.apply(OpKind::kConcat, "concat_h", {cat, cat}, make_attrs({{"axis", int64_t{-2}}}));
  b.output(b.conv("fuse", cat_h, 11, 6, 3));
  Converted c = convert_and_compare(b.g);
  const ir::Graph& g = c.after;
  const ir::Node& cat_node = g.node(node_named(g, "concat"));
  EXPECT_EQ(cat_node.attrs.get_int("axis", -1), 3);
  EXPECT_EQ(g.tensor(cat_node.inputs[2]).shape, ir::Shape({1, 6, 6, 2}));
  EXPECT_EQ(g.node(node_named(g, "concat_h")).attrs.get_int("axis", -1), 1);
  EXPECT_EQ(output_shape(g, "concat_h"), ir::Shape({1, 12, 6, 11}));
  EXPECT_EQ(count_op(g, OpKind::kTranspose), 2u);
}

TEST(LayoutPass, ResizeAndPadBetweenConvs) {
  Builder b;
  TensorId x = b.input("x", {1, 3, 5, 6});
  TensorId a = b.conv("a", x, 3, 4, 3);
  TensorId up = b.apply(OpKind::kResize, "resize",
                        {a, ir::kNoTensor, b.floats("scales", {4}, {1.f, 1.f, 2.f, 3.f})},
                        make_attrs({{"mode", std::string("linear")}}));
  TensorId padded = b.apply(OpKind::kPad, "pad", {up, b.ints("pads", {0, 0, 1, 2, 0, 0, 3, 0}),
                                                  b.floats("pad_value", {}, {0.5f})});
  TensorId reflected = b.apply(OpKind::kPad, "pad_reflect", {padded, b.ints("pads2", {0, 0, 1, 1, 0, 0, 1, 1})},
                               make_attrs({{"mode", std::string("reflect")}}));
  // Pad with an axes input: pads [1, 1] on axis 3 (W) only.
  TensorId reflected2 = b.apply(OpKind::kPad, "pad_axes", {reflected, b.ints("pads3", {1, 1}), ir::kNoTensor,
                                                           b.ints("axes", {-1})});
  TensorId sized = b.apply(OpKind::kResize, "resize_sizes",
                           {reflected2, ir::kNoTensor, ir::kNoTensor, b.ints("sizes", {1, 4, 9, 10})});
  b.output(b.conv("b", sized, 4, 2, 3));
  Converted c = convert_and_compare(b.g);
  const ir::Graph& g = c.after;
  EXPECT_EQ(output_shape(g, "resize"), ir::Shape({1, 10, 18, 4}));
  EXPECT_EQ(output_shape(g, "pad"), ir::Shape({1, 14, 20, 4}));
  EXPECT_EQ(output_shape(g, "pad_axes"), ir::Shape({1, 16, 24, 4}));
  EXPECT_EQ(output_shape(g, "resize_sizes"), ir::Shape({1, 9, 10, 4}));
  EXPECT_EQ(g.tensor(g.node(node_named(g, "pad_axes")).inputs[3]).int_values(), Ints{2});
  EXPECT_EQ(count_op(g, OpKind::kTranspose), 2u);
}

TEST(LayoutPass, ConvFlattenGemm) {
  Builder b;
  TensorId x = b.input("x", {1, 1, 6, 6});
  TensorId a = b.conv("conv", x, 1, 4, 3, 1, 2);
  TensorId flat = b.apply(OpKind::kFlatten, "flatten", {a});
  b.output(b.apply(OpKind::kGemm, "fc", {flat, b.random("fc_w", {5, 36}), b.random("fc_b", {5})},
                   make_attrs({{"transB", int64_t{1}}})));
  Converted c = convert_and_compare(b.g);
  const ir::Graph& g = c.after;
  EXPECT_TRUE(is_nhwc(g, "conv"));
  // One channel in: the input's conversion moves no data (a Reshape). Flatten needs the
  // 4-channel output back in NCHW: one Transpose.
  EXPECT_EQ(count_op(g, OpKind::kTranspose), 1u);
  EXPECT_EQ(count_op(g, OpKind::kReshape), 1u);
}

TEST(LayoutPass, GlobalPoolFlattenGemmNeedsNoTranspose) {
  Builder b;
  TensorId x = b.input("x", {2, 3, 6, 6});
  TensorId a = b.conv("conv", x, 3, 8, 3);
  TensorId pooled = b.apply(OpKind::kGlobalAveragePool, "gap", {a});
  TensorId flat = b.apply(OpKind::kFlatten, "flatten", {pooled});
  b.output(b.apply(OpKind::kGemm, "fc", {flat, b.random("fc_w", {8, 5}), b.random("fc_b", {5})}));
  Converted c = convert_and_compare(b.g);
  const ir::Graph& g = c.after;
  // [N,1,1,C] -> [N,C,1,1] moves only size-1 dims: the Flatten reads the pool's output
  // directly, as a Reshape.
  EXPECT_EQ(count_op(g, OpKind::kTranspose), 1u);  // the input
  EXPECT_EQ(count_op(g, OpKind::kFlatten), 0u);
  const ir::Node& flatten = g.node(node_named(g, "flatten"));
  EXPECT_EQ(flatten.op, OpKind::kReshape);
  EXPECT_EQ(g.producer(flatten.inputs[0]), node_named(g, "gap"));
}

TEST(LayoutPass, AxisOpsAndReductions) {
  Builder b;
  TensorId x = b.input("x", {1, 2, 6, 5});
  TensorId a = b.conv("conv", x, 2, 6, 3);
  TensorId parts[2] = {b.value("part0"), b.value("part1")};
  b.node(OpKind::kSplit, "split", {a, b.ints("split_sizes", {2, 4})}, {parts[0], parts[1]},
         make_attrs({{"axis", int64_t{1}}}));
  TensorId soft = b.apply(OpKind::kSoftmax, "softmax", {parts[0]}, make_attrs({{"axis", int64_t{1}}}));
  TensorId soft_w = b.apply(OpKind::kSoftmax, "softmax_w", {parts[1]});  // axis -1: W
  // [1,4,6,5] -> [1,2,4,3] and [1,2,6,5] -> [1,2,4,3]
  TensorId sliced = b.apply(OpKind::kSlice, "slice", {soft_w, b.ints("starts", {1, 2, 0}), b.ints("ends", {3, 6, 3}),
                                                      b.ints("slice_axes", {1, 2, -1})});
  TensorId sliced_all = b.apply(OpKind::kSlice, "slice_no_axes",
                                {soft, b.ints("starts2", {0, 0, 1, 0}), b.ints("ends2", {1, 2, 5, 3})});
  TensorId cat = b.apply(OpKind::kConcat, "concat", {sliced, sliced_all}, make_attrs({{"axis", int64_t{1}}}));
  TensorId mean = b.apply(OpKind::kReduceMean, "mean_hw", {cat, b.ints("hw", {2, 3})});
  TensorId sum_c = b.apply(OpKind::kReduceSum, "sum_c", {cat, b.ints("c", {1})});
  TensorId scaled = b.apply(OpKind::kMul, "scale", {cat, mean});
  TensorId shifted = b.apply(OpKind::kAdd, "shift", {scaled, sum_c});
  TensorId head = b.conv("head", shifted, 4, 3, 1);
  // keepdims = 0 over H and W: [N, C] is the same in both layouts.
  b.output(b.apply(OpKind::kReduceMean, "pool", {head, b.ints("hw2", {-2, -1})},
                   make_attrs({{"keepdims", int64_t{0}}})));
  Converted c = convert_and_compare(b.g);
  const ir::Graph& g = c.after;
  EXPECT_EQ(g.node(node_named(g, "split")).attrs.get_int("axis", -1), 3);
  EXPECT_EQ(g.node(node_named(g, "softmax")).attrs.get_int("axis", -1), 3);
  EXPECT_EQ(g.node(node_named(g, "softmax_w")).attrs.get_int("axis", -1), 2);
  EXPECT_EQ(output_shape(g, "slice"), ir::Shape({1, 4, 3, 2}));
  EXPECT_EQ(output_shape(g, "slice_no_axes"), ir::Shape({1, 4, 3, 2}));
  EXPECT_EQ(output_shape(g, "mean_hw"), ir::Shape({1, 1, 1, 4}));
  EXPECT_EQ(output_shape(g, "sum_c"), ir::Shape({1, 4, 3, 1}));
  EXPECT_EQ(output_shape(g, "pool"), ir::Shape({1, 3}));
  EXPECT_EQ(count_op(g, OpKind::kTranspose), 1u);  // the input only: [N, C] is layout-free
}

TEST(LayoutPass, BroadcastConstantsArePermuted) {
  Builder b;
  TensorId x = b.input("x", {1, 3, 4, 5});
  TensorId a = b.conv("conv", x, 3, 3, 3);
  TensorId m = b.apply(OpKind::kMul, "mul_c11", {a, b.random("per_channel", {3, 1, 1})});
  TensorId s = b.apply(OpKind::kSub, "sub_1c11", {b.random("bias4", {1, 3, 1, 1}), m});
  TensorId w = b.apply(OpKind::kAdd, "add_w", {s, b.random("per_column", {5})});
  TensorId hw = b.apply(OpKind::kDiv, "div_hw", {w, b.floats("hw", {4, 5}, random_floats(20, 9, 1.f, 2.f))});
  TensorId pr = b.apply(OpKind::kPRelu, "prelu", {hw, b.random("slope", {3, 1, 1})});
  TensorId eq = b.apply(OpKind::kEqual, "equal", {pr, pr});
  TensorId wh = b.apply(OpKind::kWhere, "where", {eq, pr, b.floats("zero", {}, {0.f})});
  TensorId pw = b.apply(OpKind::kPow, "pow", {b.apply(OpKind::kSigmoid, "sigmoid", {wh}), b.floats("two", {1}, {2.f})});
  b.output(b.conv("head", pw, 3, 2, 1));
  Converted c = convert_and_compare(b.g);
  const ir::Graph& g = c.after;
  auto operand_shape = [&](const char* node, size_t i) { return g.tensor(g.node(node_named(g, node)).inputs[i]).shape; };
  EXPECT_EQ(operand_shape("mul_c11", 1), ir::Shape({1, 1, 3}));
  EXPECT_EQ(operand_shape("sub_1c11", 0), ir::Shape({1, 1, 1, 3}));
  EXPECT_EQ(operand_shape("add_w", 1), ir::Shape({5, 1}));
  EXPECT_EQ(operand_shape("div_hw", 1), ir::Shape({4, 5, 1}));
  EXPECT_EQ(operand_shape("prelu", 1), ir::Shape({1, 1, 3}));
  EXPECT_EQ(output_shape(g, "pow"), ir::Shape({1, 4, 5, 3}));
  EXPECT_EQ(count_op(g, OpKind::kTranspose), 2u);
}

TEST(LayoutPass, ExpandedGrayscaleInputNeedsNoTranspose) {
  // The trained MobileNets' preprocessing: normalise, resize, repeat the channel 3 times.
  Builder b;
  TensorId x = b.input("image", {1, 1, 8, 8});
  TensorId n = b.apply(OpKind::kDiv, "div", {b.apply(OpKind::kSub, "sub", {x, b.floats("mean", {}, {0.5f})}),
                                             b.floats("std", {}, {0.25f})});
  TensorId up = b.apply(OpKind::kResize, "resize", {n, ir::kNoTensor, b.floats("scales", {4}, {1.f, 1.f, 2.f, 2.f})});
  TensorId rgb = b.apply(OpKind::kExpand, "expand", {up, b.ints("rgb", {1, 3, 16, 16})});
  TensorId f = b.conv("conv", rgb, 3, 8, 3, 1, 2);
  TensorId pooled = b.apply(OpKind::kGlobalAveragePool, "gap", {f});
  b.output(b.apply(OpKind::kFlatten, "flatten", {pooled}));
  Converted c = convert_and_compare(b.g);
  const ir::Graph& g = c.after;
  EXPECT_EQ(output_shape(g, "expand"), ir::Shape({1, 16, 16, 3}));
  EXPECT_EQ(count_op(g, OpKind::kTranspose), 0u);
  EXPECT_EQ(count_op(g, OpKind::kReshape), 2u);  // image [1,1,8,8] -> [1,8,8,1], and the Flatten
}

TEST(LayoutPass, RegionBetweenNchwOpsStaysNchw) {
  // Layout-free ops fed and read by NCHW-only ops: converting them would add transposes.
  Builder b;
  TensorId x = b.input("x", {1, 2, 3, 4});
  TensorId m = b.apply(OpKind::kMatMul, "matmul", {x, b.random("w", {4, 4})});
  TensorId r = b.apply(OpKind::kRelu, "relu", {m});
  TensorId s = b.apply(OpKind::kSoftmax, "softmax", {r});
  b.output(b.apply(OpKind::kMatMul, "matmul2", {s, b.random("w2", {4, 2})}));
  Converted c = convert_and_compare(b.g);
  EXPECT_EQ(count_op(c.after, OpKind::kTranspose), 0u);
  EXPECT_EQ(output_shape(c.after, "relu"), ir::Shape({1, 2, 3, 4}));
  EXPECT_EQ(c.after.node(node_named(c.after, "softmax")).attrs.get_int("axis", -1), -1);
}

TEST(LayoutPass, AnchorOutputThatIsAlsoAGraphOutput) {
  Builder b;
  TensorId x = b.input("x", {1, 2, 5, 5});
  TensorId f = b.conv("conv", x, 2, 3, 3);
  TensorId r = b.apply(OpKind::kRelu, "relu", {f});
  TensorId y2 = b.apply(OpKind::kMaxPool, "maxpool", {r},
                        make_attrs({{"kernel_shape", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"pads", Ints{0, 0, 1, 1}}}));
  TensorId y3 = b.apply(OpKind::kAveragePool, "avgpool", {r},
                        make_attrs({{"kernel_shape", Ints{3, 3}}, {"pads", Ints{1, 1, 1, 1}},
                                    {"count_include_pad", int64_t{1}}}));
  b.output(f);
  b.output(y2);
  b.output(b.apply(OpKind::kAdd, "add", {y3, f}));
  Converted c = convert_and_compare(b.g);
  const ir::Graph& g = c.after;
  EXPECT_TRUE(is_nhwc(g, "maxpool"));
  EXPECT_TRUE(is_nhwc(g, "avgpool"));
  // The input, and each of the three outputs back to NCHW.
  EXPECT_EQ(count_op(g, OpKind::kTranspose), 4u);
  EXPECT_EQ(g.tensor(g.outputs[0]).name, "conv_out");
}

TEST(LayoutPass, ExporterTransposesAroundAConvCancel) {
  // A model exported from a channels-last framework: NHWC in, NCHW conv, NHWC out.
  Builder b;
  TensorId x = b.input("x", {1, 6, 6, 3});
  TensorId nchw = b.apply(OpKind::kTranspose, "to_nchw", {x}, make_attrs({{"perm", Ints{0, 3, 1, 2}}}));
  TensorId f = b.conv("conv", nchw, 3, 4, 3);
  TensorId r = b.apply(OpKind::kRelu, "relu", {f});
  TensorId y = b.apply(OpKind::kTranspose, "to_nhwc", {r}, make_attrs({{"perm", Ints{0, 2, 3, 1}}}));
  b.output(y);
  Converted c = convert_and_compare(b.g);
  EXPECT_EQ(count_op(c.after, OpKind::kTranspose), 0u);
  EXPECT_EQ(c.after.num_nodes(), 2u);  // conv, relu
  EXPECT_EQ(c.after.tensor(c.after.outputs[0]).name, "to_nhwc_out");
}

TEST(LayoutPass, ConvNextBlocksNeedNoTransposeBetweenPermutes) {
  // ConvNeXt's blocks: a depthwise conv, a permute to channels-last for the per-pixel MLP,
  // a permute back, a per-channel scale and the residual Add; then a downsample that
  // permutes again. Run channels-last, the residual path composes away every permute.
  Builder b;
  TensorId x = b.input("x", {1, 3, 6, 6});
  TensorId h = b.conv("stem", x, 3, 4, 3);
  for (const std::string block : {"block1", "block2"}) {
    TensorId d = b.conv(block + "/dw", h, 4, 4, 3, /*group=*/4);
    TensorId last = b.apply(OpKind::kTranspose, block + "/to_last", {d}, make_attrs({{"perm", Ints{0, 2, 3, 1}}}));
    TensorId mlp = b.apply(OpKind::kMatMul, block + "/mlp", {last, b.random(block + "/w", {4, 4})});
    TensorId first = b.apply(OpKind::kTranspose, block + "/to_first", {mlp}, make_attrs({{"perm", Ints{0, 3, 1, 2}}}));
    TensorId scaled = b.apply(OpKind::kMul, block + "/scale", {first, b.random(block + "/gamma", {4, 1, 1})});
    h = b.apply(OpKind::kAdd, block + "/residual", {scaled, h});
  }
  TensorId last = b.apply(OpKind::kTranspose, "down/to_last", {h}, make_attrs({{"perm", Ints{0, 2, 3, 1}}}));
  TensorId norm = b.apply(OpKind::kMatMul, "down/mix", {last, b.random("down/w", {4, 4})});
  TensorId first = b.apply(OpKind::kTranspose, "down/to_first", {norm}, make_attrs({{"perm", Ints{0, 3, 1, 2}}}));
  b.output(b.conv("down", first, 4, 2, 2, 1, 2));
  Converted c = convert_and_compare(b.g);
  EXPECT_EQ(output_shape(c.after, "block1/residual"), ir::Shape({1, 6, 6, 4}));
  EXPECT_EQ(output_shape(c.after, "block2/scale"), ir::Shape({1, 6, 6, 4}));
  EXPECT_EQ(count_op(c.after, OpKind::kTranspose), 2u);  // the input and the output
}

TEST(LayoutPass, FlattenedPatchesBecomeOneReshape) {
  // A vision transformer's patch embedding: conv, [N,C,H*W], then [N,H*W,C].
  Builder b;
  TensorId x = b.input("x", {1, 3, 8, 8});
  TensorId f = b.conv("patch", x, 3, 6, 1);
  TensorId flat = b.apply(OpKind::kReshape, "reshape", {f, b.ints("shape", {1, 6, -1})});
  b.output(b.apply(OpKind::kTranspose, "tokens", {flat}, make_attrs({{"perm", Ints{0, 2, 1}}})));
  Converted c = convert_and_compare(b.g);
  EXPECT_EQ(count_op(c.after, OpKind::kTranspose), 1u);  // the input
  EXPECT_EQ(c.after.node(node_named(c.after, "tokens")).op, OpKind::kReshape);
}

TEST(LayoutPass, ConvWithWeightsComputedAtRunTime) {
  Builder b;
  TensorId x = b.input("x", {1, 4, 5, 5});
  TensorId w = b.input("w", {6, 2, 3, 3});
  TensorId f = b.apply(OpKind::kConv, "conv", {x, w, b.random("bias", {6})},
                       make_attrs({{"group", int64_t{2}}, {"pads", Ints{1, 0, 1, 2}}, {"strides", Ints{1, 2}}}));
  TensorId p = b.apply(OpKind::kConv, "pointwise", {f, b.input("w1", {3, 6, 1, 1})});
  b.output(p);
  Converted c = convert_and_compare(b.g);
  EXPECT_TRUE(is_nhwc(c.after, "conv"));
  EXPECT_TRUE(is_nhwc(c.after, "pointwise"));
  EXPECT_EQ(count_op(c.after, OpKind::kTranspose), 2u);
}

TEST(LayoutPass, SecondRunChangesNothing) {
  Builder b;
  TensorId x = b.input("x", {1, 3, 6, 6});
  b.output(b.apply(OpKind::kRelu, "relu", {b.conv("conv", x, 3, 4, 3)}));
  Converted c = convert_and_compare(b.g);
  ir::Graph again = c.after;
  PassContext ctx;
  ctx.verify_each = true;
  ASSERT_TRUE(run_pipeline(again, "nhwc", ctx).is_ok());
  EXPECT_EQ(again.num_nodes(), c.after.num_nodes());
  EXPECT_NE(note_of(ctx).find("nothing to do"), std::string::npos) << note_of(ctx);
}

// Runs the .pare bytes with the given interpreter options; returns output 0's bytes and
// the kernel names.
std::vector<uint8_t> run_bytes(const std::vector<uint8_t>& file, const std::vector<float>& input,
                               const rt::InterpreterOptions& options, std::vector<std::string>* kernels) {
  auto model = rt::Model::load_buffer(file.data(), file.size(), "fusion.pare");
  EXPECT_TRUE(model.is_ok()) << model.status().message();
  if (!model.is_ok()) return {};
  auto interp = rt::Interpreter::create(model.value(), options);
  EXPECT_TRUE(interp.is_ok()) << interp.status().message();
  if (!interp.is_ok()) return {};
  rt::Interpreter& it = *interp.value();
  std::memcpy(it.input_data(0), input.data(), input.size() * sizeof(float));
  EXPECT_TRUE(it.invoke().is_ok());
  *kernels = it.kernel_names();
  const auto* p = static_cast<const uint8_t*>(it.output_data(0));
  return std::vector<uint8_t>(p, p + it.output(0).byte_size());
}

// Runs the .pare bytes with and without fusion, at the best ISA and at the scalar cap, on 1
// and 2 threads: every fused run gives the bytes of the nodes run apart, and each chain (nodes
// marked fused_into_next, then the node whose kernel does their work) is named after the
// kernels its nodes run apart. Returns the fused chains' kernel names of every fused run.
std::vector<std::vector<std::string>> fused_chains(const std::vector<uint8_t>& file, const std::vector<float>& input) {
  std::vector<std::vector<std::string>> runs;
  for (bool scalar : {false, true}) {
    SCOPED_TRACE(scalar ? "scalar cap" : "best ISA");
    rt::InterpreterOptions apart;
    apart.fuse_nodes = false;
    apart.cap_isa = scalar;
    std::vector<std::string> kernels_apart, kernels;
    const std::vector<uint8_t> want = run_bytes(file, input, apart, &kernels_apart);
    EXPECT_FALSE(want.empty());
    EXPECT_EQ(std::count(kernels_apart.begin(), kernels_apart.end(), "fused_into_next"), 0);
    for (int threads : {1, 2}) {
      rt::InterpreterOptions fused;
      fused.threads = threads;
      fused.cap_isa = scalar;
      EXPECT_EQ(run_bytes(file, input, fused, &kernels), want) << threads << " threads";
      EXPECT_EQ(kernels.size(), kernels_apart.size());
      if (kernels.size() != kernels_apart.size()) return runs;
      std::vector<std::string> chains;
      for (size_t n = 0; n < kernels.size(); ++n) {
        if (kernels[n] != "fused_into_next") continue;
        size_t last = n;
        while (last < kernels.size() && kernels[last] == "fused_into_next") ++last;
        EXPECT_LT(last, kernels.size());
        if (last >= kernels.size()) return runs;
        std::string joined = kernels_apart[n];
        for (size_t k = n + 1; k <= last; ++k) joined += "+" + kernels_apart[k];
        EXPECT_EQ(kernels[last], joined);
        chains.push_back(kernels[last]);
        n = last;
      }
      runs.push_back(std::move(chains));
    }
  }
  return runs;
}

// The number of kernels joined in a fused chain's name.
size_t chain_length(const std::string& name) { return static_cast<size_t>(std::count(name.begin(), name.end(), '+')) + 1; }

TEST(LayoutPass, ChannelShuffleBecomesOneTranspose) {
  // ShuffleNet's channel shuffle between NHWC convs: split C into 2 groups, swap, merge.
  // Through NCHW it takes three transposes; on the NHWC data it is one, of [N*H*W, 2, C/2].
  Builder b;
  TensorId x = b.input("x", {1, 4, 6, 5});
  TensorId c1 = b.conv("conv1", x, 4, 8, 1);
  TensorId split = b.apply(OpKind::kReshape, "split", {c1, b.ints("split_shape", {1, 2, 4, 6, 5})});
  TensorId swapped = b.apply(OpKind::kTranspose, "shuffle", {split}, make_attrs({{"perm", Ints{0, 2, 1, 3, 4}}}));
  TensorId merged = b.apply(OpKind::kReshape, "merge", {swapped, b.ints("merge_shape", {1, 8, 6, 5})});
  b.output(b.conv("conv2", merged, 8, 8, 3));
  Converted c = convert_and_compare(b.g);
  const ir::Graph& g = c.after;
  EXPECT_TRUE(is_nhwc(g, "conv1"));
  EXPECT_TRUE(is_nhwc(g, "conv2"));
  EXPECT_EQ(count_op(g, OpKind::kTranspose), 3u);  // the input, the shuffle, the output
  bool found = false;
  for (ir::NodeId id : g.nodes()) {
    const ir::Node& n = g.node(id);
    if (n.op != OpKind::kTranspose || n.attrs.get_ints("perm") != Ints{0, 2, 1}) continue;
    found = true;
    EXPECT_EQ(g.tensor(n.inputs[0]).shape, ir::Shape({30, 2, 4}));
  }
  EXPECT_TRUE(found);

  // The Reshapes around it read their inputs in place: the same bytes as copies.
  ir::Graph compiled = b.g;
  PassContext ctx;
  ASSERT_TRUE(run_pipeline(compiled, kCanonicalPipeline, ctx).is_ok());
  const std::vector<uint8_t> file = format::serialize(compiled, format::WriteOptions{});
  const std::vector<float> input = random_floats(4 * 6 * 5, 9, -1.f, 1.f);
  rt::InterpreterOptions apart, in_place;
  apart.fuse_nodes = false;
  std::vector<std::string> kernels_apart, kernels;
  const std::vector<uint8_t> want = run_bytes(file, input, apart, &kernels_apart);
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(run_bytes(file, input, in_place, &kernels), want);
  EXPECT_EQ(std::count(kernels_apart.begin(), kernels_apart.end(), "in_place"), 0);
  EXPECT_EQ(std::count(kernels.begin(), kernels.end(), "in_place"), 2);
}

TEST(LayoutPass, MobileNetBlocksRunFusedWithTheSameBytes) {
  // MobileNetV2's first blocks at a size where the expanded tensors of the first four pass
  // the fusion minimum: the stem with its depthwise and projection; a stride-2 block whose
  // input dies at its expansion (the writer keeps it apart from the projection's output,
  // which the fused kernel writes while it still reads the input); a residual stride-1
  // block, whose Add joins its chain (the Add reads the projection as its first input);
  // another stride-2 block; then a residual block too small for the chain, where only the
  // projection and its Add (reading it second) run as one kernel. Every chain gives the
  // bytes of its nodes run apart, on 1 and 2 threads.
  Builder b;
  TensorId image = b.input("x", {1, 3, 192, 192});
  auto relu6 = [&](const std::string& name, TensorId t) {
    return b.apply(OpKind::kClip, name, {t, b.floats(name + "_lo", {}, {0.f}), b.floats(name + "_hi", {}, {6.f})});
  };
  TensorId s0 = relu6("s0_relu6", b.conv("stem", image, 3, 32, 3, 1, 2));
  TensorId s1 = relu6("s1_relu6", b.conv("stem_dw", s0, 32, 32, 3, 32));
  TensorId x = b.conv("stem_project", s1, 32, 16, 1);
  TensorId e1 = relu6("e1_relu6", b.conv("expand1", x, 16, 96, 1));
  TensorId d1 = relu6("d1_relu6", b.conv("dw1", e1, 96, 96, 3, 96, 2));
  TensorId p1 = b.conv("project1", d1, 96, 24, 1);
  TensorId e2 = relu6("e2_relu6", b.conv("expand2", p1, 24, 144, 1));
  TensorId d2 = relu6("d2_relu6", b.conv("dw2", e2, 144, 144, 3, 144));
  TensorId p2 = b.conv("project2", d2, 144, 24, 1);
  TensorId a2 = b.apply(OpKind::kAdd, "add2", {p2, p1});
  TensorId e3 = relu6("e3_relu6", b.conv("expand3", a2, 24, 144, 1));
  TensorId d3 = relu6("d3_relu6", b.conv("dw3", e3, 144, 144, 3, 144, 2));
  TensorId p3 = b.conv("project3", d3, 144, 32, 1);
  TensorId e4 = relu6("e4_relu6", b.conv("expand4", p3, 32, 192, 1));
  TensorId d4 = relu6("d4_relu6", b.conv("dw4", e4, 192, 192, 3, 192));
  TensorId p4 = b.conv("project4", d4, 192, 32, 1);
  b.output(b.apply(OpKind::kAdd, "add4", {p3, p4}));
  ir::Graph g = b.g;
  PassContext ctx;
  ASSERT_TRUE(run_pipeline(g, kCanonicalPipeline, ctx).is_ok());
  const std::vector<uint8_t> file = format::serialize(g, format::WriteOptions{});
  const std::vector<float> input = random_floats(3 * 192 * 192, 7, 0.f, 1.f);

  // Best ISA at 1 and 2 threads, then the scalar cap: the scalar kernels fuse the same chains,
  // both residual Adds on the scalar GEMM.
  const std::vector<std::vector<std::string>> runs = fused_chains(file, input);
  ASSERT_EQ(runs.size(), 4u);
  for (size_t r = 0; r < runs.size(); ++r) {
    std::vector<size_t> lengths;
    for (const std::string& chain : runs[r]) lengths.push_back(chain_length(chain));
    EXPECT_EQ(lengths, (std::vector<size_t>{3, 3, 4, 3, 2})) << "run " << r;
    if (r >= 2) {
      EXPECT_EQ(std::count_if(runs[r].begin(), runs[r].end(),
                              [](const std::string& k) { return k.find("f32_gemm_4x8__scalar+f32_add") != std::string::npos; }),
                2);
    }
  }
}

TEST(LayoutPass, MatMulBiasAddsRunFusedWithTheSameBytes) {
  // A transformer MLP: MatMul, the Add of its bias (as the exporter writes it, the row
  // first in the second one), an activation, MatMul and bias again, and the residual Add.
  // The writer keeps each MatMul's input live through its bias Add; each pair runs as one
  // kernel with the bytes of the two nodes run apart, on 1 and 2 threads, at the best ISA
  // and the scalar cap.
  Builder b;
  TensorId x = b.input("x", {1, 50, 64});
  TensorId h = b.apply(OpKind::kMatMul, "fc1", {x, b.random("w1", {64, 256})});
  h = b.apply(OpKind::kAdd, "fc1_bias", {h, b.random("b1", {256})});
  h = b.apply(OpKind::kRelu, "act", {h});
  h = b.apply(OpKind::kMatMul, "fc2", {h, b.random("w2", {256, 64})});
  h = b.apply(OpKind::kAdd, "fc2_bias", {b.random("b2", {64}), h});
  b.output(b.apply(OpKind::kAdd, "residual", {x, h}));
  ir::Graph g = b.g;
  PassContext ctx;
  ASSERT_TRUE(run_pipeline(g, kCanonicalPipeline, ctx).is_ok());
  const std::vector<uint8_t> file = format::serialize(g, format::WriteOptions{});
  const std::vector<float> input = random_floats(50 * 64, 9, -1.f, 1.f);
  const std::vector<std::vector<std::string>> runs = fused_chains(file, input);
  ASSERT_EQ(runs.size(), 4u);
  for (size_t r = 0; r < runs.size(); ++r) {
    EXPECT_EQ(runs[r].size(), 2u) << "both MatMuls with their bias Adds, run " << r;
    for (const std::string& chain : runs[r]) {
      EXPECT_EQ(chain_length(chain), 2u) << chain;
      EXPECT_EQ(chain.rfind("f32_gemm_", 0), 0u) << chain;
    }
  }
}

TEST(LayoutPass, OneDimensionalConvStaysNchw) {
  Builder b;
  TensorId x = b.input("x", {1, 2, 9});
  TensorId f = b.apply(OpKind::kConv, "conv", {x, b.random("w", {3, 2, 3})});
  b.output(b.apply(OpKind::kRelu, "relu", {f}));
  Converted c = convert_and_compare(b.g);
  EXPECT_FALSE(is_nhwc(c.after, "conv"));
  EXPECT_EQ(count_op(c.after, OpKind::kTranspose), 0u);
}

// ---- trained models -------------------------------------------------------------------

class TrainedModelLayout : public ::testing::TestWithParam<std::pair<std::string, size_t>> {};

TEST_P(TrainedModelLayout, FewTransposesAndSameLogits) {
  const auto& [name, max_transposes] = GetParam();
  const std::string path = test::testdata_dir() + "/models/" + name + ".onnx";
  ir::Graph nchw = onnx_import::import_model(path);
  ir::Graph nhwc = nchw;
  PassContext ctx_nchw, ctx_nhwc;
  ctx_nhwc.verify_each = true;
  ASSERT_TRUE(run_pipeline(nchw, "fold,fold_batchnorm,fuse_activation,remove_identity,dce", ctx_nchw).is_ok());
  Status st = run_pipeline(nhwc, kCanonicalPipeline, ctx_nhwc);
  ASSERT_TRUE(st.is_ok()) << st.message();
  const size_t transposes = count_op(nhwc, OpKind::kTranspose);
  std::printf("%s: Transpose nodes %zu (NCHW pipeline: %zu), Reshape nodes %zu (%zu); %s\n", name.c_str(),
              transposes, count_op(nchw, OpKind::kTranspose), count_op(nhwc, OpKind::kReshape),
              count_op(nchw, OpKind::kReshape), note_of(ctx_nhwc).c_str());
  EXPECT_LE(transposes, max_transposes);

  npy::Array images = npy::read_npy(test::testdata_dir() + "/data/fmnist_test_2000.npy");
  for (int i = 0; i < 4; ++i) {
    std::vector<float> image(images.as<float>() + i * 784, images.as<float>() + (i + 1) * 784);
    auto want = run_model(nchw, {image});
    auto got = run_model(nhwc, {image});
    ASSERT_EQ(want.size(), 1u);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(got[0].size(), want[0].size());
    for (size_t k = 0; k < want[0].size(); ++k)
      EXPECT_NEAR(got[0][k], want[0][k], 1e-4f * std::max(1.f, std::fabs(want[0][k]))) << "image " << i;
  }
}

// Bounds: none in the convolutional models (their one-channel input converts by a
// Reshape); the transformer keeps its own attention transposes (12 after the patch
// embedding's Transpose becomes a Reshape).
INSTANTIATE_TEST_SUITE_P(Models, TrainedModelLayout,
                         ::testing::Values(std::make_pair("fmnist_cnn", size_t{0}),
                                           std::make_pair("fmnist_mlp", size_t{0}),
                                           std::make_pair("fmnist_vit", size_t{12}),
                                           std::make_pair("fmnist_mobilenet_v2", size_t{0}),
                                           std::make_pair("fmnist_mobilenet_v3_small", size_t{0})),
                         [](const auto& info) { return info.param.first; });

}  // namespace
}  // namespace pare::passes
