// Tests of the pass registry, the pipeline text and its parser, pass options, and the pass
// manager (reports, verification, errors).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/passes/pass_test_util.h"

namespace pare::passes {
namespace {

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
  EXPECT_EQ(names, (std::vector<std::string>{"fold", "fold_batchnorm", "fuse_activation", "fuse_layernorm",
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
  EXPECT_EQ(passes, (std::vector<std::string>{"fold", "fold_batchnorm", "fuse_activation", "fuse_layernorm",
                                              "remove_identity", "nhwc", "dce"}));
  EXPECT_EQ(ctx.reports[0].nodes_before, 6u);  // the shape chain folded before the first pass
  EXPECT_EQ(ctx.reports[0].nodes_after, 5u);   // the unused Sigmoid
  EXPECT_EQ(ctx.reports[1].nodes_after, 4u);
  // BN's four parameter vectors go; the conv's weights and bias are replaced one for one.
  EXPECT_EQ(ctx.reports[1].weight_bytes_before - ctx.reports[1].weight_bytes_after, 4 * 4 * sizeof(float));
  EXPECT_EQ(ctx.reports[3].nodes_after, ctx.reports[3].nodes_before);  // no layer normalization
  EXPECT_EQ(ctx.reports[5].nodes_after, 4u);
  EXPECT_EQ(ctx.reports[6].nodes_after, 4u);
  for (const PassReport& r : ctx.reports) EXPECT_GE(r.ms, 0.0);
  ASSERT_EQ(progress.size(), 7u);
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
