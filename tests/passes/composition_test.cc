// Passes composed in any order keep what the earlier ones did (docs/compression.md,
// "Combining passes"): lowrank, prune, cluster and quantize one after the other, in the
// usual order and in others, and the example pipeline on a trained model end to end.
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/passes/pass_test_util.h"
#include "tests/support/test_util.h"

namespace pare::passes {
namespace {

// x[1, 8, 8, 8] -> stem (3x3, 8->32) -> mid (3x3, 32->64) -> pw (1x1, 64->128) -> global pool
// -> fc (Gemm transB, [128, 128]) -> head (Gemm transB, [10, 128]).
Builder net() {
  Builder b;
  TensorId h = b.input("x", {1, 8, 8, 8});
  h = b.conv("stem", h, 8, 32, 3);
  h = b.apply(OpKind::kRelu, "relu1", {h});
  h = b.conv("mid", h, 32, 64, 3);
  h = b.apply(OpKind::kRelu, "relu2", {h});
  h = b.conv("pw", h, 64, 128, 1);
  h = b.apply(OpKind::kGlobalAveragePool, "pool", {h});
  h = b.apply(OpKind::kFlatten, "flat", {h});
  h = b.apply(OpKind::kGemm, "fc", {h, b.random("fc_w", {128, 128}, 41), b.random("fc_b", {128}, 42)},
              make_attrs({{"transB", int64_t{1}}}));
  h = b.apply(OpKind::kRelu, "relu3", {h});
  b.output(b.apply(OpKind::kGemm, "head", {h, b.random("head_w", {10, 128}, 43), b.random("head_b", {10}, 44)},
                   make_attrs({{"transB", int64_t{1}}})));
  return b;
}

ir::Graph run(const ir::Graph& graph, const std::string& pipeline, const CalibrationData& data,
              PassContext* ctx_out = nullptr) {
  ir::Graph g = graph;
  PassContext ctx;
  ctx.verify_each = true;
  ctx.calibration = &data;
  const Status st = run_pipeline(g, pipeline, ctx);
  EXPECT_TRUE(st.is_ok()) << pipeline << ": " << st.message();
  if (ctx_out) *ctx_out = ctx;
  return g;
}

const ir::Node* node_named(const ir::Graph& g, const std::string& name) {
  for (ir::NodeId id : g.nodes())
    if (g.node(id).name == name) return &g.node(id);
  return nullptr;
}

// The weight of `node` as [shape[0], rest] float values.
std::vector<float> weight_values(const ir::Graph& g, const std::string& name) {
  const ir::Node* n = node_named(g, name);
  EXPECT_NE(n, nullptr) << name;
  if (!n) return {};
  const ir::Tensor& w = g.tensor(n->inputs[1]);
  return std::vector<float>(w.values<float>(), w.values<float>() + w.shape.num_elements());
}

double zero_fraction(const std::vector<float>& v) {
  return static_cast<double>(std::count(v.begin(), v.end(), 0.f)) / static_cast<double>(v.size());
}

// The distinct values of each row of [rows, v.size() / rows].
std::vector<std::set<float>> row_values(const std::vector<float>& v, int64_t rows) {
  std::vector<std::set<float>> sets(static_cast<size_t>(rows));
  const size_t cols = v.size() / static_cast<size_t>(rows);
  for (size_t i = 0; i < v.size(); ++i) sets[i / cols].insert(v[i]);
  return sets;
}

const LowrankLayerReport* lowrank_report(const PassContext& ctx, const std::string& node) {
  for (const PassReport& r : ctx.reports)
    for (const LowrankLayerReport& l : r.lowrank_layers)
      if (l.node == node) return &l;
  return nullptr;
}

TEST(Composition, LowrankThenPruneThenClusterThenQuantizeKeepsEach) {
  const Builder b = net();
  RandomCalibration data(16, 5100, 0.f, 1.f);
  PassContext ctx;
  const ir::Graph g = run(b.g, "lowrank(rank_ratio=0.25),prune(sparsity=0.6,min_params=0,scope=layer),cluster(bits=4,min_params=0)",
                          data, &ctx);
  // lowrank factored fc and pw; prune and cluster worked on the factors.
  ASSERT_NE(node_named(g, "fc/lowrank_a"), nullptr);
  for (const char* name : {"fc/lowrank_a", "fc/lowrank_b", "pw/lowrank_a", "pw/lowrank_b"}) {
    const std::vector<float> w = weight_values(g, name);
    EXPECT_GE(zero_fraction(w), 0.55) << name;
    for (const std::set<float>& row : row_values(w, static_cast<int64_t>(g.tensor(node_named(g, name)->inputs[1]).shape.sizes()[0])))
      EXPECT_LE(row.size(), 16u) << name;
  }
  // quantize keeps the zeros and at most 16 int8 values per output channel.
  const ir::Graph q = run(g, "quantize,dce", data);
  for (const char* name : {"fc/lowrank_a", "fc/lowrank_b", "pw/lowrank_a", "pw/lowrank_b"}) {
    const std::vector<float> f = weight_values(g, name);
    const ir::Tensor& w = q.tensor(node_named(q, name)->inputs[1]);
    ASSERT_EQ(w.dtype, DType::kInt8) << name;
    const int8_t* v = w.values<int8_t>();
    const int64_t rows = w.shape.sizes()[0], cols = w.shape.num_elements() / rows;
    for (int64_t r = 0; r < rows; ++r) {
      std::set<int8_t> seen(v + r * cols, v + (r + 1) * cols);
      EXPECT_LE(seen.size(), 16u) << name << " row " << r;
    }
    for (size_t i = 0; i < f.size(); ++i)
      if (f[i] == 0.f) {
        ASSERT_EQ(v[i], 0) << name;
      }
  }
  // And it runs.
  const std::vector<float> out = run_graph(g, random_inputs(b.g, 5200))[0];
  for (float v : out) EXPECT_TRUE(std::isfinite(v));
}

TEST(Composition, PruneAfterClusterKeepsThePalettes) {
  const Builder b = net();
  RandomCalibration data(16, 5300, 0.f, 1.f);
  const ir::Graph clustered = run(b.g, "cluster(bits=3,min_params=0)", data);
  PassContext ctx;
  const ir::Graph g = run(clustered, "prune(sparsity=0.5,min_params=0,scope=layer)", data, &ctx);
  for (const char* name : {"mid", "pw", "fc"}) {
    const std::vector<float> before = weight_values(clustered, name), after = weight_values(g, name);
    EXPECT_GE(zero_fraction(after), 0.49) << name;
    const int64_t rows = g.tensor(node_named(g, name)->inputs[1]).shape.sizes()[0];
    const auto palettes = row_values(before, rows), now = row_values(after, rows);
    for (size_t r = 0; r < now.size(); ++r)
      for (float v : now[r]) EXPECT_TRUE(v == 0.f || palettes[r].count(v)) << name << " row " << r << " value " << v;
  }
}

TEST(Composition, LowrankLeavesPrunedAndClusteredLayersAlone) {
  const Builder b = net();
  RandomCalibration data(16, 5400, 0.f, 1.f);
  for (const char* first : {"prune(sparsity=0.6,min_params=0,scope=layer)", "cluster(bits=4,min_params=0)"}) {
    const ir::Graph before = run(b.g, first, data);
    PassContext ctx;
    const ir::Graph g = run(before, "lowrank(rank_ratio=0.25,min_saving=0)", data, &ctx);
    EXPECT_EQ(node_named(g, "fc/lowrank_a"), nullptr) << first;
    EXPECT_EQ(weight_values(g, "fc"), weight_values(before, "fc")) << first;
    const LowrankLayerReport* r = lowrank_report(ctx, "fc");
    ASSERT_NE(r, nullptr);
    EXPECT_NE(r->skipped.find("by an earlier pass"), std::string::npos) << r->skipped;
  }
}

// The example pipeline of docs/compression.md on a trained model, end to end through the CLI:
// the file loads, runs, and the report shows each pass's work.
TEST(Composition, ExamplePipelineOnTheCnn) {
  test::TempDir dir;
  const std::string file = dir.file("cnn.pare"), report = dir.file("r.json");
  const test::CommandResult c = test::run_pare(
      {"compress", test::testdata_dir() + "/models/fmnist_cnn.onnx", "-o", file, "--calib",
       test::testdata_dir() + "/data/fmnist_calib_500.npy", "--report", report, "--passes",
       "fold,fold_batchnorm,fuse_activation,remove_identity,lowrank(energy=0.9),prune(sparsity=0.6),cluster(bits=4),"
       "nhwc,dce,quantize,dce"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const nlohmann::json j = nlohmann::json::parse(test::read_file(report));
  int factored = 0, clustered = 0;
  for (const auto& l : j["lowrank"]["layers"]) factored += l.contains("form");
  for (const auto& l : j["cluster"]["layers"]) clustered += l["bits"].get<int>() == 4;
  EXPECT_GT(factored, 0);
  EXPECT_GT(clustered, 0);
  const test::CommandResult e =
      test::run_pare({"eval", file, "--data", test::testdata_dir() + "/data/fmnist_test_2000.npy", "--labels",
                      test::testdata_dir() + "/data/fmnist_test_2000_labels.npy", "--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_GT(nlohmann::json::parse(e.out)["top1"].get<double>(), 0.5);  // far above chance (0.1)
  const test::CommandResult i = test::run_pare({"inspect", file});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.out.find("palette4"), std::string::npos) << i.out;
}

}  // namespace
}  // namespace pare::passes
