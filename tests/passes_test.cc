// Tests of the pass manager (pipeline text, reports, verification) and of the
// canonicalizing passes: each pass's structural effect on a small hand-built graph, and
// the values the graph computes before and after it (evaluated node by node on the
// runtime's kernels).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "formats/pare/writer.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"
#include "ir/status.h"
#include "passes/canonical.h"
#include "passes/node_eval.h"
#include "passes/pass.h"
#include "passes/pass_manager.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace pare::passes {
namespace {

using ir::DType;
using ir::OpKind;
using ir::TensorId;

// ---- building and running graphs ------------------------------------------------------

ir::Attributes make_attrs(std::initializer_list<std::pair<std::string, ir::AttrValue>> list) {
  ir::Attributes attrs;
  for (const auto& [name, value] : list) attrs.set(name, value);
  return attrs;
}

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

int64_t count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

struct Builder {
  ir::Graph g;

  TensorId input(const std::string& name, const std::vector<int64_t>& shape) {
    ir::Tensor t;
    t.name = name;
    t.dtype = DType::kFloat32;
    t.shape = ir::Shape(shape);
    TensorId id = g.add_tensor(std::move(t));
    g.inputs.push_back(id);
    return id;
  }
  TensorId floats(const std::string& name, const std::vector<int64_t>& shape,
                  const std::vector<float>& values) {
    return ir::add_constant<float>(g, name, DType::kFloat32, shape, values);
  }
  TensorId random(const std::string& name, const std::vector<int64_t>& shape, uint32_t seed,
                  float lo = -1.f, float hi = 1.f) {
    return floats(name, shape, random_floats(static_cast<size_t>(count(shape)), seed, lo, hi));
  }
  TensorId ints(const std::string& name, const std::vector<int64_t>& shape,
                const std::vector<int64_t>& values) {
    return ir::add_constant<int64_t>(g, name, DType::kInt64, shape, values);
  }
  TensorId value(const std::string& name) {
    ir::Tensor t;
    t.name = name;
    return g.add_tensor(std::move(t));
  }
  ir::NodeId node(OpKind op, const std::string& name, std::vector<TensorId> inputs,
                  std::vector<TensorId> outputs, ir::Attributes attrs = {}) {
    ir::Node n;
    n.op = op;
    n.name = name;
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    n.attrs = std::move(attrs);
    return g.add_node(std::move(n));
  }
  // One-output node writing a new tensor named after the node.
  TensorId apply(OpKind op, const std::string& name, std::vector<TensorId> inputs,
                 ir::Attributes attrs = {}) {
    TensorId out = value(name + "_out");
    node(op, name, std::move(inputs), {out}, std::move(attrs));
    return out;
  }
  void output(TensorId t) { g.outputs.push_back(t); }
};

ir::BufferPtr float_buffer(const std::vector<float>& values) {
  auto buffer = std::make_shared<ir::Buffer>();
  buffer->bytes.resize(values.size() * sizeof(float));
  std::memcpy(buffer->bytes.data(), values.data(), buffer->bytes.size());
  return buffer;
}

// Runs the graph on the given float inputs: shape inference and evaluate_node on each node
// in topological order (the inputs made constants, so every node is evaluable).
std::vector<std::vector<float>> run_graph(ir::Graph g, const std::vector<std::vector<float>>& inputs) {
  EXPECT_EQ(inputs.size(), g.inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) g.tensor(g.inputs[i]).data = float_buffer(inputs[i]);
  for (ir::NodeId id : g.topological_order()) {
    ir::infer_node(g, id);
    std::vector<ir::BufferPtr> values = evaluate_node(g, id);
    for (size_t k = 0; k < values.size(); ++k) g.tensor(g.node(id).outputs[k]).data = values[k];
  }
  std::vector<std::vector<float>> outputs;
  for (TensorId t : g.outputs) {
    std::vector<double> v = g.tensor(t).float_values();
    outputs.emplace_back(v.begin(), v.end());
  }
  return outputs;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0.f;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

std::vector<std::vector<float>> random_inputs(const ir::Graph& g, uint32_t seed) {
  std::vector<std::vector<float>> inputs;
  for (TensorId t : g.inputs)
    inputs.push_back(random_floats(static_cast<size_t>(g.tensor(t).shape.num_elements()), seed++, -2.f, 2.f));
  return inputs;
}

// Runs `pass` on a copy of the graph (after shape inference) and checks that the outputs
// match the original's on random inputs. Returns the transformed graph.
ir::Graph run_and_compare(const ir::Graph& original, const std::string& pass, float tolerance,
                          PassContext* ctx_out = nullptr) {
  ir::Graph before = original;
  Status inferred = infer_and_fold(before);
  EXPECT_TRUE(inferred.is_ok()) << inferred.message();
  ir::Graph after = before;
  PassContext ctx;
  ctx.verify_each = true;
  Status st = run_pass(after, *find_pass(pass), PassOptions{}, ctx, pass);
  EXPECT_TRUE(st.is_ok()) << st.message();
  auto inputs = random_inputs(before, 7);
  auto expected = run_graph(before, inputs);
  auto got = run_graph(after, inputs);
  EXPECT_EQ(expected.size(), got.size());
  for (size_t i = 0; i < std::min(expected.size(), got.size()); ++i) {
    EXPECT_FALSE(expected[i].empty()) << "output " << i;
    EXPECT_LE(max_abs_diff(expected[i], got[i]), tolerance) << "output " << i;
  }
  if (ctx_out) *ctx_out = ctx;
  return after;
}

size_t count_op(const ir::Graph& g, OpKind op) {
  size_t n = 0;
  for (ir::NodeId id : g.nodes())
    if (g.node(id).op == op) ++n;
  return n;
}

ir::NodeId only_node_of(const ir::Graph& g, OpKind op) {
  for (ir::NodeId id : g.nodes())
    if (g.node(id).op == op) return id;
  ADD_FAILURE() << "no " << ir::op_name(op) << " node";
  return ir::kNoNode;
}

bool has_note(const PassContext& ctx, const std::string& text) {
  for (const PassReport& r : ctx.reports)
    for (const std::string& n : r.notes)
      if (n.find(text) != std::string::npos) return true;
  return false;
}

// ---- registry and pipeline text ---------------------------------------------------

TEST(Registry, SortedUniqueAndDocumented) {
  const std::vector<PassInfo>& passes = registry();
  ASSERT_FALSE(passes.empty());
  for (size_t i = 0; i < passes.size(); ++i) {
    EXPECT_FALSE(passes[i].doc.empty()) << passes[i].name;
    EXPECT_TRUE(passes[i].run) << passes[i].name;
    if (i > 0) {
      EXPECT_LT(passes[i - 1].name, passes[i].name);
    }
    EXPECT_EQ(find_pass(passes[i].name), &passes[i]);
  }
  EXPECT_EQ(find_pass("nope"), nullptr);
  EXPECT_EQ(find_pass(""), nullptr);
}

TEST(Pipeline, CanonicalPipelineParses) {
  std::vector<PipelineItem> items = parse_pipeline(kCanonicalPipeline);
  std::vector<std::string> names;
  for (const PipelineItem& i : items) names.push_back(i.pass);
  EXPECT_EQ(names, (std::vector<std::string>{"fold", "fold_batchnorm", "fuse_activation",
                                             "remove_identity", "nhwc", "dce"}));
  EXPECT_EQ(print_pipeline(items), kCanonicalPipeline);
}

TEST(Pipeline, RoundTrip) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"fold,dce", "fold,dce"},
      {"  fold ( max_output_mib = 8 ) ,\tdce  ", "fold(max_output_mib=8),dce"},
      {"fold(max_output_mib=0.5),fold_batchnorm,fold", "fold(max_output_mib=0.5),fold_batchnorm,fold"},
      {"fold(\nmax_output_mib=+1e-3\n)", "fold(max_output_mib=+1e-3)"},
      {"remove_identity , fuse_activation,dce", "remove_identity,fuse_activation,dce"},
      {"", ""},
      {"   ", ""},
  };
  for (const auto& [text, canonical] : cases) {
    std::vector<PipelineItem> items = parse_pipeline(text);
    std::string printed = print_pipeline(items);
    EXPECT_EQ(printed, canonical) << "from '" << text << "'";
    std::vector<PipelineItem> again = parse_pipeline(printed);
    ASSERT_EQ(again.size(), items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      EXPECT_EQ(again[i].pass, items[i].pass);
      EXPECT_EQ(again[i].options.values, items[i].options.values);
      EXPECT_EQ(again[i].options.order, items[i].options.order);
    }
  }
  std::vector<PipelineItem> items = parse_pipeline("fold(max_output_mib=2)");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].options.get("max_output_mib", ""), "2");
}

TEST(Pipeline, PrintsOptionsInWrittenOrderThenSorted) {
  PipelineItem item;
  item.pass = "prune";
  item.options.values = {{"sparsity", "0.5"}, {"granularity", "channel"}, {"axis", "0"}};
  item.options.order = {"sparsity"};
  PipelineItem plain;
  plain.pass = "dce";
  EXPECT_EQ(print_pipeline({item, plain}), "prune(sparsity=0.5,axis=0,granularity=channel),dce");
}

std::string parse_error(const std::string& text) {
  try {
    parse_pipeline(text);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Status::kInvalidInput) << text;
    return e.what();
  }
  ADD_FAILURE() << "'" << text << "' parsed";
  return "";
}

TEST(Pipeline, ListValuesAndParenthesesInValues) {
  const auto items = parse_pipeline(
      "fold,quantize(calib=percentile(99.9),exclude=/f/conv1,/f/conv2:0,activations=s8),dce");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[1].options.get("calib", ""), "percentile(99.9)");
  EXPECT_EQ(items[1].options.get("exclude", ""), "/f/conv1,/f/conv2:0");
  EXPECT_EQ(items[1].options.get("activations", ""), "s8");
  EXPECT_EQ(print_pipeline(items),
            "fold,quantize(calib=percentile(99.9),exclude=/f/conv1,/f/conv2:0,activations=s8),dce");
  EXPECT_NE(parse_error("quantize(calib=percentile(99.9").find("')' closing the value"), std::string::npos);
}

TEST(Pipeline, UnknownPassListsKnownPasses) {
  std::string known;
  for (const PassInfo& p : registry()) known += (known.empty() ? "" : ", ") + p.name;
  EXPECT_EQ(parse_error("fold,blur"),
            "pipeline 'fold,blur', position 6: unknown pass 'blur'; known passes: " + known);
  EXPECT_NE(known.find("dce, fold, fold_batchnorm, fuse_activation"), std::string::npos);
}

TEST(Pipeline, SyntaxErrorsNamePositionAndExpectation) {
  EXPECT_EQ(parse_error("fold,,dce"),
            "pipeline 'fold,,dce', position 6: expected a pass name, found ','");
  EXPECT_EQ(parse_error("fold,"),
            "pipeline 'fold,', position 6: expected a pass name, found the end of the text");
  EXPECT_EQ(parse_error("fold dce"),
            "pipeline 'fold dce', position 6: expected ',' or the end of the pipeline, found 'd'");
  EXPECT_EQ(parse_error("fold(max_output_mib=4"),
            "pipeline 'fold(max_output_mib=4', position 22: expected ',' or ')' in the options of "
            "pass 'fold', found the end of the text");
  EXPECT_EQ(parse_error("fold(max_output_mib 4)"),
            "pipeline 'fold(max_output_mib 4)', position 21: expected '=' after option "
            "'max_output_mib', found '4'");
  EXPECT_EQ(parse_error("fold(max_output_mib=)"),
            "pipeline 'fold(max_output_mib=)', position 21: expected a value for option "
            "'max_output_mib', found ')'");
  EXPECT_EQ(parse_error("fold(max_output_mib=4*2)"),
            "pipeline 'fold(max_output_mib=4*2)', position 22: expected ',' or ')' in the options "
            "of pass 'fold', found '*'");
  EXPECT_EQ(parse_error("fold()"), "pipeline 'fold()', position 6: expected an option name, found ')'");
  EXPECT_EQ(parse_error("3fold"), "pipeline '3fold', position 1: expected a pass name, found '3'");
}

TEST(Pipeline, UnknownOrRepeatedOptionNamesThePass) {
  EXPECT_EQ(parse_error("dce,fold(bits=4)"),
            "pipeline 'dce,fold(bits=4)', position 10: pass 'fold' has no option 'bits'; its "
            "options: max_output_mib");
  EXPECT_EQ(parse_error("dce(level=1)"),
            "pipeline 'dce(level=1)', position 5: pass 'dce' has no option 'level'; it takes no options");
  EXPECT_EQ(parse_error("fold(max_output_mib=1, max_output_mib=2)"),
            "pipeline 'fold(max_output_mib=1, max_output_mib=2)', position 24: option "
            "'max_output_mib' is given twice");
}

TEST(PassOptions, TypedGetters) {
  PassOptions o;
  o.values = {{"n", "42"}, {"neg", "-7"}, {"x", "0.25"}, {"e", "1e-3"}, {"word", "kl"}, {"bad", "4x"}};
  EXPECT_EQ(o.get_int("n", 0), 42);
  EXPECT_EQ(o.get_int("neg", 0), -7);
  EXPECT_EQ(o.get_int("absent", 5), 5);
  EXPECT_DOUBLE_EQ(o.get_double("x", 0), 0.25);
  EXPECT_DOUBLE_EQ(o.get_double("e", 0), 1e-3);
  EXPECT_DOUBLE_EQ(o.get_double("n", 0), 42.0);
  EXPECT_DOUBLE_EQ(o.get_double("absent", 1.5), 1.5);
  EXPECT_EQ(o.get("word", ""), "kl");
  EXPECT_EQ(o.get("absent", "min_max"), "min_max");
  EXPECT_TRUE(o.has("word"));
  EXPECT_FALSE(o.has("absent"));
  try {
    o.get_int("x", 0);
    ADD_FAILURE() << "no error for a fractional integer";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Status::kInvalidInput);
    EXPECT_STREQ(e.what(), "option 'x' expects an integer, got '0.25'");
  }
  try {
    o.get_double("bad", 0);
    ADD_FAILURE() << "no error for a malformed number";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "option 'bad' expects a number, got '4x'");
  }
}

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

// x -> Shape -> Gather(0) -> Unsqueeze(0) -> Concat(., [-1]) -> Reshape(x, .): what
// exporters write for x.view(x.size(0), -1).
Builder exporter_shape_chain() {
  Builder b;
  TensorId x = b.input("x", {2, 3, 4});
  TensorId shape = b.apply(OpKind::kShape, "shape", {x});
  TensorId dim0 = b.apply(OpKind::kGather, "gather", {shape, b.ints("zero", {}, {0})},
                          make_attrs({{"axis", int64_t{0}}}));
  TensorId dim0_1d = b.apply(OpKind::kUnsqueeze, "unsqueeze", {dim0, b.ints("axes", {1}, {0})});
  TensorId target = b.apply(OpKind::kConcat, "concat", {dim0_1d, b.ints("minus_one", {1}, {-1})},
                            make_attrs({{"axis", int64_t{0}}}));
  TensorId y = b.apply(OpKind::kReshape, "reshape", {x, target});
  b.output(y);
  return b;
}

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

// ---- fold_batchnorm ----------------------------------------------------------------

// BN parameters with positive variances; returns the BN output.
TensorId add_batchnorm(Builder& b, TensorId x, int64_t channels, uint32_t seed, const std::string& name) {
  return b.apply(OpKind::kBatchNormalization, name,
                 {x, b.random(name + ".scale", {channels}, seed, 0.5f, 2.f),
                  b.random(name + ".bias", {channels}, seed + 1),
                  b.random(name + ".mean", {channels}, seed + 2),
                  b.random(name + ".var", {channels}, seed + 3, 0.2f, 1.5f)},
                 make_attrs({{"epsilon", 1e-3f}}));
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
  ir::Graph after = run_and_compare(b.g, "fold_batchnorm", 0.f, &ctx);
  EXPECT_EQ(count_op(after, OpKind::kBatchNormalization), 3u);
  EXPECT_TRUE(has_note(ctx, "BatchNormalization nodes folded: 0"));
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

// ---- pass manager -----------------------------------------------------------------------

// x -> Conv -> BN -> Clip(0, 6) -> view(n, -1) the exporter way -> Identity -> y, and an
// unused Sigmoid: every canonicalizing pass has something to do.
Builder canonicalizable_graph() {
  Builder b;
  TensorId x = b.input("x", {1, 3, 6, 6});
  TensorId conv = b.apply(OpKind::kConv, "conv", {x, b.random("w", {4, 3, 3, 3}, 1), b.random("b", {4}, 2)},
                          make_attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  TensorId bn = add_batchnorm(b, conv, 4, 3, "bn");
  TensorId act = b.apply(OpKind::kClip, "relu6", {bn, b.floats("zero", {}, {0.f}), b.floats("six", {}, {6.f})});
  TensorId shape = b.apply(OpKind::kShape, "shape", {act});  // act.view(act.size(0), -1)
  TensorId n = b.apply(OpKind::kGather, "gather", {shape, b.ints("i0", {}, {0})});
  TensorId n1 = b.apply(OpKind::kUnsqueeze, "unsqueeze", {n, b.ints("axes", {1}, {0})});
  TensorId target = b.apply(OpKind::kConcat, "concat", {n1, b.ints("m1", {1}, {-1})},
                            make_attrs({{"axis", int64_t{0}}}));
  TensorId flat = b.apply(OpKind::kReshape, "reshape", {act, target});
  TensorId y = b.apply(OpKind::kIdentity, "out", {flat});
  b.apply(OpKind::kSigmoid, "unused", {x});
  b.output(y);
  return b;
}

TEST(PassManager, CanonicalPipelineEndToEnd) {
  Builder b = canonicalizable_graph();
  ir::Graph g = b.g;
  PassContext ctx;
  ctx.verify_each = true;
  std::vector<std::pair<std::string, double>> progress;
  ctx.progress = [&](const std::string& what, double f) { progress.emplace_back(what, f); };
  Status st = run_pipeline(g, kCanonicalPipeline, ctx);
  ASSERT_TRUE(st.is_ok()) << st.message();

  // The Conv runs NHWC between the Transposes from and back to the graph's NCHW layout.
  ASSERT_EQ(g.num_nodes(), 4u);
  EXPECT_EQ(count_op(g, OpKind::kTranspose), 2u);
  std::vector<ir::NodeId> order = g.topological_order();
  const ir::Node& c = g.node(order[1]);
  EXPECT_EQ(c.op, OpKind::kConv);
  EXPECT_EQ(c.attrs.get_string("layout", ""), "NHWC");
  EXPECT_EQ(c.activation.kind, ActivationKind::kClip);
  EXPECT_EQ(c.activation.p0, 0.f);
  EXPECT_EQ(c.activation.p1, 6.f);
  EXPECT_EQ(g.node(order[3]).op, OpKind::kReshape);
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.tensor(g.outputs[0]).name, "out_out");
  EXPECT_EQ(g.tensor(g.outputs[0]).shape, ir::Shape({1, 144}));
  EXPECT_EQ(g.tensor(g.inputs[0]).name, "x");

  std::vector<std::string> passes;
  for (const PassReport& r : ctx.reports) passes.push_back(r.pass);
  EXPECT_EQ(passes, (std::vector<std::string>{"fold", "fold_batchnorm", "fuse_activation",
                                              "remove_identity", "nhwc", "dce"}));
  EXPECT_EQ(ctx.reports[0].nodes_before, 6u);  // the shape chain folded before the first pass
  EXPECT_EQ(ctx.reports[0].nodes_after, 5u);   // the unused Sigmoid
  EXPECT_EQ(ctx.reports[1].nodes_after, 4u);
  // BN's four parameter vectors go; the conv's weights and bias are replaced one for one.
  EXPECT_EQ(ctx.reports[1].weight_bytes_before - ctx.reports[1].weight_bytes_after, 4 * 4 * sizeof(float));
  EXPECT_EQ(ctx.reports[4].nodes_after, 4u);
  EXPECT_EQ(ctx.reports[5].nodes_after, 4u);
  for (const PassReport& r : ctx.reports) EXPECT_GE(r.ms, 0.0);
  ASSERT_EQ(progress.size(), 6u);
  EXPECT_EQ(progress.back(), (std::pair<std::string, double>{"dce", 1.0}));

  auto inputs = random_inputs(b.g, 11);
  ir::Graph reference = b.g;
  ASSERT_TRUE(infer_and_fold(reference).is_ok());
  EXPECT_LE(max_abs_diff(run_graph(reference, inputs)[0], run_graph(g, inputs)[0]), 1e-5f);
}

TEST(PassManager, CanonicalGraphRunsOnTheInterpreter) {
  // What `pare convert` ships: the canonical graph written as .pare and run by the runtime,
  // against the original graph evaluated node by node.
  Builder b = canonicalizable_graph();
  ir::Graph g = b.g;
  PassContext ctx;
  ctx.verify_each = true;
  ASSERT_TRUE(run_pipeline(g, kCanonicalPipeline, ctx).is_ok());
  std::vector<uint8_t> file = format::serialize(g, format::WriteOptions{});
  auto model = rt::Model::load_buffer(file.data(), file.size(), "canonical.pare");
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  auto interpreter = rt::Interpreter::create(*model);
  ASSERT_TRUE(interpreter.is_ok()) << interpreter.status().message();
  rt::Interpreter& interp = **interpreter;
  ASSERT_EQ(interp.num_inputs(), 1u);
  ASSERT_EQ(interp.num_outputs(), 1u);
  EXPECT_EQ(interp.output(0).name, "out_out");

  auto inputs = random_inputs(b.g, 21);
  std::memcpy(interp.input_data(0), inputs[0].data(), inputs[0].size() * sizeof(float));
  rt::Status st = interp.invoke();
  ASSERT_TRUE(st.is_ok()) << st.message();
  ASSERT_EQ(interp.output(0).num_elements(), 144);
  const float* out = static_cast<const float*>(interp.output_data(0));
  std::vector<float> got(out, out + 144);

  ir::Graph reference = b.g;
  ASSERT_TRUE(infer_and_fold(reference).is_ok());
  EXPECT_LE(max_abs_diff(run_graph(reference, inputs)[0], got), 1e-5f);
}

TEST(PassManager, BadOptionValueNamesPassAndPipeline) {
  Builder b = exporter_shape_chain();
  PassContext ctx;
  Status st = run_pipeline(b.g, "dce,fold(max_output_mib=lots)", ctx);
  EXPECT_EQ(st.code(), Status::kInvalidInput);
  EXPECT_EQ(st.message(),
            "pass 'fold' failed in pipeline 'dce,fold(max_output_mib=lots)': option "
            "'max_output_mib' expects a number, got 'lots'");
}

TEST(PassManager, ParseErrorsComeBackAsStatus) {
  Builder b = exporter_shape_chain();
  PassContext ctx;
  Status st = run_pipeline(b.g, "fold,nope", ctx);
  EXPECT_EQ(st.code(), Status::kInvalidInput);
  EXPECT_NE(st.message().find("unknown pass 'nope'"), std::string::npos) << st.message();
  EXPECT_TRUE(ctx.reports.empty());
}

TEST(PassManager, FailingPassKeepsItsCode) {
  Builder b = exporter_shape_chain();
  PassInfo refuses{"refuses", "returns an error", {}, [](ir::Graph&, const PassOptions&, PassContext&) {
                     return Status(Status::kUnsupported, "Conv 'c1': int4 weights");
                   }};
  PassInfo throws{"throws", "throws an error", {}, [](ir::Graph&, const PassOptions&, PassContext&) -> Status {
                    throw_invalid("Gemm 'fc': bad");
                  }};
  PassContext ctx;
  Status st = run_pass(b.g, refuses, {}, ctx, "fold,refuses");
  EXPECT_EQ(st.code(), Status::kUnsupported);
  EXPECT_EQ(st.message(), "pass 'refuses' failed in pipeline 'fold,refuses': Conv 'c1': int4 weights");
  st = run_pass(b.g, throws, {}, ctx, "throws");
  EXPECT_EQ(st.code(), Status::kInvalidInput);
  EXPECT_EQ(st.message(), "pass 'throws' failed in pipeline 'throws': Gemm 'fc': bad");
  ASSERT_EQ(ctx.reports.size(), 2u);
  EXPECT_EQ(ctx.reports[1].pass, "throws");
}

TEST(PassManager, VerifyEachCatchesABrokenGraph) {
  // The pass points the Reshape at a tensor nothing defines.
  PassInfo breaks{"breaks", "leaves an undefined input", {}, [](ir::Graph& g, const PassOptions&, PassContext&) {
                    ir::Tensor dangling;
                    dangling.name = "dangling";
                    dangling.dtype = DType::kFloat32;
                    dangling.shape = ir::Shape({2, 3, 4});
                    TensorId t = g.add_tensor(dangling);
                    g.node(g.nodes().back()).inputs[0] = t;
                    return Status::ok();
                  }};
  Builder b = exporter_shape_chain();
  ASSERT_TRUE(infer_and_fold(b.g).is_ok());
  ir::Graph unchecked = b.g;
  PassContext quiet;
  EXPECT_TRUE(run_pass(unchecked, breaks, {}, quiet, "fold,breaks").is_ok());

  PassContext ctx;
  ctx.verify_each = true;
  Status st = run_pass(b.g, breaks, {}, ctx, "fold,breaks");
  EXPECT_EQ(st.code(), Status::kInternal);
  EXPECT_EQ(st.message().rfind("pass 'breaks' failed in pipeline 'fold,breaks': the graph it left is invalid: ", 0), 0u)
      << st.message();
  EXPECT_NE(st.message().find("dangling"), std::string::npos) << st.message();
}

TEST(PassManager, WeightBytesCountsLiveConstantsOnce) {
  Builder b;
  TensorId x = b.input("x", {2});
  TensorId w = b.floats("w", {2}, {1.f, 2.f});
  TensorId a = b.apply(OpKind::kMul, "a", {x, w});
  TensorId c = b.apply(OpKind::kAdd, "c", {a, w});
  b.apply(OpKind::kAdd, "dead", {x, b.floats("unused", {4}, {1.f, 2.f, 3.f, 4.f})});
  b.output(c);
  EXPECT_EQ(weight_bytes(b.g), 2 * sizeof(float) + 4 * sizeof(float));
  b.g.remove_dead_nodes();
  EXPECT_EQ(weight_bytes(b.g), 2 * sizeof(float));
}

}  // namespace
}  // namespace pare::passes
