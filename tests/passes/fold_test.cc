// Tests of node evaluation on the runtime's kernels, of infer_and_fold and of the fold pass.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/passes/pass_test_util.h"

namespace pare::passes {
namespace {

// ---- node evaluation --------------------------------------------------------------

TEST(NodeEval, RuntimeAttributesKeepTypes) {
  ir::Attributes attrs = make_attrs({{"i", int64_t{3}},
                                     {"f", 0.5f},
                                     {"s", std::string("tanh")},
                                     {"ints", std::vector<int64_t>{1, -2}},
                                     {"floats", std::vector<float>{0.25f, 4.f}}});
  rt::Attrs out = to_runtime_attrs(attrs);
  ASSERT_EQ(out.all().size(), 5u);
  EXPECT_EQ(out.find("i")->type, rt::Attribute::kInt);
  EXPECT_EQ(out.find("i")->i, 3);
  EXPECT_EQ(out.find("f")->type, rt::Attribute::kFloat);
  EXPECT_EQ(out.find("f")->f, 0.5f);
  EXPECT_EQ(out.find("s")->type, rt::Attribute::kString);
  EXPECT_EQ(out.find("s")->s, "tanh");
  EXPECT_EQ(out.find("ints")->type, rt::Attribute::kInts);
  EXPECT_EQ(out.find("ints")->ints, (std::vector<int64_t>{1, -2}));
  EXPECT_EQ(out.find("floats")->type, rt::Attribute::kFloats);
  EXPECT_EQ(out.find("floats")->floats, (std::vector<float>{0.25f, 4.f}));
}

TEST(NodeEval, EvaluatesAgainstHandValues) {
  Builder b;
  TensorId a = b.floats("a", {2, 2}, {1.f, -2.f, 3.f, -4.f});
  TensorId w = b.floats("w", {2, 1}, {0.5f, 2.f});
  TensorId y = b.apply(OpKind::kMatMul, "mm", {a, w});
  ir::NodeId mm = b.g.producer(y);
  b.g.node(mm).activation.kind = ActivationKind::kRelu;
  ir::infer_node(b.g, mm);
  std::vector<ir::BufferPtr> out = evaluate_node(b.g, mm);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0]->bytes.size(), 2 * sizeof(float));
  const float* v = reinterpret_cast<const float*>(out[0]->bytes.data());
  EXPECT_EQ(v[0], 0.f);  // relu(0.5 - 4)
  EXPECT_EQ(v[1], 0.f);  // relu(1.5 - 8)
  b.g.node(mm).activation = FusedActivation{ActivationKind::kLeakyRelu, 0.5f};
  out = evaluate_node(b.g, mm);
  v = reinterpret_cast<const float*>(out[0]->bytes.data());
  EXPECT_FLOAT_EQ(v[0], -1.75f);
  EXPECT_FLOAT_EQ(v[1], -3.25f);
}

TEST(NodeEval, NonConstantInputIsAnError) {
  Builder b;
  TensorId x = b.input("x", {2});
  TensorId y = b.apply(OpKind::kRelu, "act", {x});
  ir::infer_node(b.g, b.g.producer(y));
  try {
    evaluate_node(b.g, b.g.producer(y));
    ADD_FAILURE() << "evaluated a node with a non-constant input";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Status::kInvalidInput);
    EXPECT_STREQ(e.what(), "Relu 'act': input 'x' is not a constant");
  }
}

// ---- infer_and_fold and fold -------------------------------------------------------

TEST(InferAndFold, ExporterShapeChainBecomesConstant) {
  Builder b = exporter_shape_chain();
  size_t folded = 0;
  Status st = infer_and_fold(b.g, kDefaultMaxFoldBytes, &folded);
  ASSERT_TRUE(st.is_ok()) << st.message();
  EXPECT_EQ(folded, 4u);
  ASSERT_EQ(b.g.num_nodes(), 1u);
  const ir::Node& reshape = b.g.node(only_node_of(b.g, OpKind::kReshape));
  const ir::Tensor& target = b.g.tensor(reshape.inputs[1]);
  ASSERT_TRUE(target.is_constant());
  EXPECT_EQ(target.dtype, DType::kInt64);
  EXPECT_EQ(target.int_values(), (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(b.g.tensor(reshape.outputs[0]).shape, ir::Shape({2, 12}));

  std::vector<float> x = random_floats(24, 1);
  auto out = run_graph(b.g, {x});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], x);  // a reshape keeps the values in order
}

TEST(InferAndFold, ShapeOfKnownDimsFoldsEvenWithASymbolicDim) {
  Builder b;
  ir::Tensor t;
  t.name = "x";
  t.dtype = DType::kFloat32;
  t.shape = ir::Shape({0, 3, 4});
  t.shape.dims[0] = ir::Dim::sym("N");
  TensorId x = b.g.add_tensor(t);
  b.g.inputs.push_back(x);
  TensorId tail = b.apply(OpKind::kShape, "tail", {x}, make_attrs({{"start", int64_t{1}}}));
  TensorId last = b.apply(OpKind::kShape, "last", {x},
                          make_attrs({{"start", int64_t{-1}}, {"end", int64_t{10}}}));
  TensorId all = b.apply(OpKind::kShape, "all", {x});
  b.output(tail);
  b.output(last);
  b.output(all);
  ASSERT_TRUE(infer_and_fold(b.g).is_ok());
  EXPECT_EQ(b.g.tensor(tail).int_values(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(b.g.tensor(last).int_values(), (std::vector<int64_t>{4}));
  EXPECT_FALSE(b.g.tensor(all).is_constant());  // dim 0 is unknown
  EXPECT_EQ(b.g.tensor(all).shape, ir::Shape({3}));
  EXPECT_EQ(b.g.num_nodes(), 1u);
}

TEST(InferAndFold, FoldsConstantArithmetic) {
  Builder b;
  TensorId x = b.input("x", {3});
  TensorId c = b.apply(OpKind::kAdd, "add", {b.floats("a", {3}, {1.f, 2.f, 3.f}), b.floats("b", {1}, {0.5f})});
  TensorId y = b.apply(OpKind::kMul, "mul", {x, c});
  b.output(y);
  ASSERT_TRUE(infer_and_fold(b.g).is_ok());
  EXPECT_EQ(b.g.num_nodes(), 1u);
  ASSERT_TRUE(b.g.tensor(c).is_constant());
  EXPECT_EQ(b.g.tensor(c).float_values(), (std::vector<double>{1.5, 2.5, 3.5}));
  EXPECT_EQ(b.g.tensor(y).shape, ir::Shape({3}));
  auto out = run_graph(b.g, {{2.f, -1.f, 0.f}});
  EXPECT_EQ(out[0], (std::vector<float>{3.f, -2.5f, 0.f}));
}

TEST(InferAndFold, KeepsLargeOutputsOfSmallInputsAsNodes) {
  // 8 MiB of zeros from a 16-byte shape: kept as a node by default, folded when allowed.
  Builder b;
  TensorId zeros = b.apply(OpKind::kConstantOfShape, "zeros", {b.ints("shape", {2}, {2048, 1024})});
  TensorId x = b.input("x", {2048, 1024});
  b.output(b.apply(OpKind::kAdd, "add", {x, zeros}));
  ir::Graph g = b.g;
  size_t folded = 0;
  ASSERT_TRUE(infer_and_fold(g, kDefaultMaxFoldBytes, &folded).is_ok());
  EXPECT_EQ(folded, 0u);
  EXPECT_EQ(g.num_nodes(), 2u);
  EXPECT_EQ(g.tensor(zeros).shape, ir::Shape({2048, 1024}));

  PassContext ctx;
  PassOptions options = parse_pipeline("fold(max_output_mib=16)")[0].options;
  ASSERT_TRUE(run_pass(b.g, *find_pass("fold"), options, ctx, "fold(max_output_mib=16)").is_ok());
  EXPECT_EQ(b.g.num_nodes(), 1u);
  ASSERT_TRUE(b.g.tensor(zeros).is_constant());
  EXPECT_EQ(b.g.tensor(zeros).data->bytes.size(), size_t{8} << 20);
  EXPECT_TRUE(has_note(ctx, "nodes folded into constants: 1"));
}

TEST(InferAndFold, TransposeOfALargeWeightIsFolded) {
  // Output no larger than the input: folding costs no extra bytes.
  Builder b;
  TensorId w = b.random("w", {1024, 1280}, 3);  // 5 MiB
  TensorId wt = b.apply(OpKind::kTranspose, "wt", {w});
  TensorId x = b.input("x", {1, 1280});
  b.output(b.apply(OpKind::kMatMul, "mm", {x, wt}, {}));
  b.g.node(b.g.producer(wt)).attrs.set("perm", std::vector<int64_t>{1, 0});
  ASSERT_TRUE(infer_and_fold(b.g).is_ok());
  ASSERT_TRUE(b.g.tensor(wt).is_constant());
  EXPECT_EQ(b.g.tensor(wt).shape, ir::Shape({1280, 1024}));
  const float* src = b.g.tensor(w).values<float>();
  const float* dst = b.g.tensor(wt).values<float>();
  EXPECT_EQ(dst[5 * 1024 + 7], src[7 * 1280 + 5]);
  EXPECT_EQ(dst[1279 * 1024 + 1023], src[1023 * 1280 + 1279]);
}

TEST(InferAndFold, ErrorsComeBackAsStatus) {
  Builder b;
  TensorId x = b.input("x", {2, 3});
  b.output(b.apply(OpKind::kMatMul, "bad_mm", {x, b.random("w", {4, 5}, 1)}));
  Status st = infer_and_fold(b.g);
  EXPECT_EQ(st.code(), Status::kInvalidInput);
  EXPECT_NE(st.message().find("MatMul 'bad_mm'"), std::string::npos) << st.message();
}

TEST(FoldPass, RemovesWhatFoldingLeftDead) {
  Builder b = exporter_shape_chain();
  ir::Graph g = b.g;
  PassContext ctx;
  ASSERT_TRUE(run_pipeline(g, "fold", ctx).is_ok());
  EXPECT_EQ(g.num_nodes(), 1u);
  ASSERT_EQ(ctx.reports.size(), 1u);
  EXPECT_EQ(ctx.reports[0].pass, "fold");
}

}  // namespace
}  // namespace pare::passes
