// The lowrank pass: the factorized layers against the original on random matrices (within
// the truncation error), the data-aware factorization against plain SVD on correlated
// inputs, Tucker-2 of a conv at its full multilinear rank, the options, composition with
// later passes, and a trained model's predictions on calibration images not used to fit.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "calibration/npy.h"
#include "formats/onnx/importer.h"
#include "ir/verifier.h"
#include "tests/passes/pass_test_util.h"
#include "tests/support/test_util.h"

namespace pare::passes {
namespace {

Status run(ir::Graph& g, const std::string& pipeline, PassContext& ctx) {
  ctx.verify_each = true;
  return run_pipeline(g, pipeline, ctx);
}

const LowrankLayerReport* layer(const PassContext& ctx, const std::string& node) {
  for (const PassReport& r : ctx.reports)
    for (const LowrankLayerReport& l : r.lowrank_layers)
      if (l.node == node) return &l;
  return nullptr;
}

ir::NodeId node_named(const ir::Graph& g, const std::string& name) {
  for (ir::NodeId id : g.nodes())
    if (g.node(id).name == name) return id;
  return ir::kNoNode;
}

double sum_squares(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return s;
}

// A [rows, cols] matrix with singular values decaying as 0.8^i (product of random factors
// plus noise, so that the truncation error is neither zero nor everything).
std::vector<float> decaying_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  const int64_t k = std::min(rows, cols);
  const std::vector<float> a = random_floats(static_cast<size_t>(rows * k), seed);
  const std::vector<float> b = random_floats(static_cast<size_t>(k * cols), seed + 1);
  std::vector<float> w(static_cast<size_t>(rows * cols), 0.f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < k; ++i) {
      const float scale = std::pow(0.8f, static_cast<float>(i));
      for (int64_t c = 0; c < cols; ++c)
        w[static_cast<size_t>(r * cols + c)] += scale * a[static_cast<size_t>(r * k + i)] * b[static_cast<size_t>(i * cols + c)];
    }
  return w;
}

TEST(Lowrank, FactorizedLayersStayWithinTheTruncationError) {
  // Gemm (transB), Gemm (no transB), MatMul: y = W x with W [48, 64].
  const std::vector<float> w = decaying_matrix(48, 64, 3);
  std::vector<float> wt(w.size());  // [64, 48]
  for (int64_t r = 0; r < 48; ++r)
    for (int64_t c = 0; c < 64; ++c) wt[static_cast<size_t>(c * 48 + r)] = w[static_cast<size_t>(r * 64 + c)];
  for (OpKind op : {OpKind::kGemm, OpKind::kMatMul})
    for (bool trans_b : {true, false}) {
      if (op == OpKind::kMatMul && trans_b) continue;
      Builder b;
      TensorId x = b.input("x", {4, 64});
      std::vector<TensorId> inputs = {x, b.floats("w", trans_b ? std::vector<int64_t>{48, 64} : std::vector<int64_t>{64, 48},
                                                  trans_b ? w : wt)};
      if (op == OpKind::kGemm) inputs.push_back(b.random("bias", {48}, 5));
      b.output(b.apply(op, "fc", inputs, trans_b ? make_attrs({{"transB", int64_t{1}}}) : ir::Attributes{}));
      ir::Graph before = b.g;
      ASSERT_TRUE(infer_and_fold(before).is_ok());
      ir::Graph after = before;
      PassContext ctx;
      ASSERT_TRUE(run(after, "lowrank(rank_ratio=0.25,data=off,multiple=4)", ctx).is_ok());
      const LowrankLayerReport* l = layer(ctx, "fc");
      ASSERT_NE(l, nullptr);
      ASSERT_TRUE(l->skipped.empty()) << l->skipped;
      EXPECT_EQ(l->rank, 12);
      EXPECT_EQ(l->params_after, 12 * (48 + 64));
      EXPECT_NE(node_named(after, "fc/lowrank_a"), ir::kNoNode);
      EXPECT_NE(node_named(after, "fc/lowrank_b"), ir::kNoNode);
      EXPECT_TRUE(ir::verify(after).is_ok());
      // ||y - y'||^2 <= ||W - W'||_F^2 ||x||^2 per row, with ||W - W'||_F^2 the energy left out.
      const double bound = (1 - l->energy_kept) * sum_squares(w);
      EXPECT_GT(bound, 0);
      const auto in = random_inputs(before, 21);
      const std::vector<float> want = run_graph(before, in)[0], got = run_graph(after, in)[0];
      for (int64_t r = 0; r < 4; ++r) {
        const std::vector<float> xr(in[0].begin() + r * 64, in[0].begin() + (r + 1) * 64);
        double err = 0;
        for (int64_t c = 0; c < 48; ++c) err += std::pow(want[static_cast<size_t>(r * 48 + c)] - got[static_cast<size_t>(r * 48 + c)], 2);
        EXPECT_LE(err, bound * sum_squares(xr) * 1.001 + 1e-6) << ir::op_name(op) << " row " << r;
        EXPECT_GT(err, 0);
      }
    }
}

// x [1, 32] = mix z + noise, z [8]: inputs that span few directions, with little weight
// on the directions the weights care most about.
class CorrelatedInputs final : public CalibrationData {
 public:
  CorrelatedInputs(size_t samples, uint32_t seed_base) : samples_(samples), seed_base_(seed_base) {}
  size_t size() const override { return samples_; }
  void fill(size_t sample, size_t, float* out, size_t count) const override {
    static const std::vector<float> mix = random_floats(32 * 8, 77);
    const std::vector<float> z = random_floats(8, static_cast<uint32_t>(seed_base_ + sample), -2.f, 2.f);
    const std::vector<float> noise = random_floats(count, static_cast<uint32_t>(seed_base_ + sample + 100000), -0.01f, 0.01f);
    for (size_t i = 0; i < count; ++i) {
      float v = noise[i];
      for (size_t k = 0; k < 8; ++k) v += mix[i * 8 + k] * z[k];
      out[i] = v;
    }
  }

 private:
  size_t samples_;
  uint32_t seed_base_;
};

TEST(Lowrank, DataAwareBeatsPlainSvdOnCorrelatedInputs) {
  Builder b;
  TensorId x = b.input("x", {1, 32});
  b.output(b.apply(OpKind::kGemm, "fc", {x, b.random("w", {32, 32}, 9), b.random("bias", {32}, 10)},
                   make_attrs({{"transB", int64_t{1}}})));
  CorrelatedInputs fit(200, 1000), held_out(50, 5000);
  double error[2] = {0, 0};
  for (bool data : {false, true}) {
    ir::Graph before = b.g;
    ASSERT_TRUE(infer_and_fold(before).is_ok());
    ir::Graph after = before;
    PassContext ctx;
    ctx.calibration = &fit;
    const std::string pipeline = std::string("lowrank(rank_ratio=0.25,multiple=1,data=") + (data ? "on" : "off") + ")";
    ASSERT_TRUE(run(after, pipeline, ctx).is_ok());
    ASSERT_NE(layer(ctx, "fc"), nullptr);
    ASSERT_TRUE(layer(ctx, "fc")->skipped.empty());
    double noise = 0, energy = 0;
    for (size_t s = 0; s < held_out.size(); ++s) {
      std::vector<float> in(32);
      held_out.fill(s, 0, in.data(), in.size());
      const std::vector<float> want = run_graph(before, {in})[0], got = run_graph(after, {in})[0];
      for (size_t i = 0; i < want.size(); ++i) noise += std::pow(want[i] - got[i], 2), energy += std::pow(want[i], 2);
    }
    error[data] = noise / energy;
    std::printf("rank 8 of 32, data=%s: relative output error on held-out inputs %.2e (report: %.2e on the fit)\n",
                data ? "on" : "off", error[data], layer(ctx, "fc")->output_error);
  }
  // Rank 8 covers the 8 directions the inputs span: data-aware is near exact (up to the damping
  // of the covariance), plain SVD not. Measured: 6.1e-3 and 0.41.
  EXPECT_LT(error[1], 0.02);
  EXPECT_LT(error[1] * 20, error[0]);
}

// A 3x3 conv weight [cout, cin, 3, 3] of multilinear rank (r, r): last * core * first.
std::vector<float> tucker_weight(int64_t cout, int64_t cin, int64_t r, uint32_t seed) {
  const std::vector<float> last = random_floats(static_cast<size_t>(cout * r), seed);
  const std::vector<float> core = random_floats(static_cast<size_t>(r * r * 9), seed + 1);
  const std::vector<float> first = random_floats(static_cast<size_t>(r * cin), seed + 2);
  std::vector<float> w(static_cast<size_t>(cout * cin * 9), 0.f);
  for (int64_t o = 0; o < cout; ++o)
    for (int64_t i = 0; i < cin; ++i)
      for (int64_t p = 0; p < 9; ++p) {
        float v = 0;
        for (int64_t a = 0; a < r; ++a)
          for (int64_t c = 0; c < r; ++c)
            v += last[static_cast<size_t>(o * r + a)] * core[static_cast<size_t>((a * r + c) * 9 + p)] *
                 first[static_cast<size_t>(c * cin + i)];
        w[static_cast<size_t>((o * cin + i) * 9 + p)] = v;
      }
  return w;
}

TEST(Lowrank, TuckerConvEqualsTheOriginalAtFullRank) {
  // Strided and padded 3x3 conv 32 -> 48 of multilinear rank (8, 8), after a conv so that the
  // whitening sees a real distribution.
  Builder b;
  TensorId x = b.input("x", {1, 4, 10, 10});
  TensorId h = b.conv("stem", x, 4, 32, 3);
  h = b.apply(OpKind::kConv, "mid", {h, b.floats("mid_w", {48, 32, 3, 3}, tucker_weight(48, 32, 8, 31)), b.random("mid_b", {48}, 34)},
              make_attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"strides", std::vector<int64_t>{2, 2}}}));
  b.output(h);
  RandomCalibration data(32, 400, -1.f, 1.f);
  for (const char* options : {"energy=1,data=off", "energy=1,data=on"}) {
    ir::Graph before = b.g;
    ASSERT_TRUE(infer_and_fold(before).is_ok());
    ir::Graph after = before;
    PassContext ctx;
    ctx.calibration = &data;
    ASSERT_TRUE(run(after, std::string("lowrank(") + options + ",exclude=stem)", ctx).is_ok()) << options;
    const LowrankLayerReport* l = layer(ctx, "mid");
    ASSERT_NE(l, nullptr);
    ASSERT_TRUE(l->skipped.empty()) << options << ": " << l->skipped;
    EXPECT_EQ(l->form, "tucker2");
    EXPECT_EQ(l->rank, 8) << options;
    EXPECT_EQ(l->rank_out, 8) << options;
    EXPECT_EQ(layer(ctx, "stem")->skipped, "excluded (exclude=)");
    for (const char* part : {"mid/lowrank_a", "mid/lowrank_b", "mid/lowrank_c"}) EXPECT_NE(node_named(after, part), ir::kNoNode) << part;
    const auto in = random_inputs(before, 5);
    const std::vector<float> want = run_graph(before, in)[0], got = run_graph(after, in)[0];
    float scale = 0;
    for (float v : want) scale = std::max(scale, std::fabs(v));
    EXPECT_LE(max_abs_diff(want, got), 1e-4f * scale) << options;
  }
}

TEST(Lowrank, PointwiseConvKeepsStridesAndPadsAtFullRank) {
  // 1x1 conv 32 -> 48 of rank 8, strided and padded: the padded border is the bias alone.
  const std::vector<float> a = random_floats(48 * 8, 41), c = random_floats(8 * 32, 42);
  std::vector<float> w(48 * 32, 0.f);
  for (int64_t o = 0; o < 48; ++o)
    for (int64_t k = 0; k < 8; ++k)
      for (int64_t i = 0; i < 32; ++i) w[static_cast<size_t>(o * 32 + i)] += a[static_cast<size_t>(o * 8 + k)] * c[static_cast<size_t>(k * 32 + i)];
  Builder b;
  TensorId x = b.input("x", {1, 32, 7, 7});
  b.output(b.apply(OpKind::kConv, "pw", {x, b.floats("pw_w", {48, 32, 1, 1}, w), b.random("pw_b", {48}, 43)},
                   make_attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"strides", std::vector<int64_t>{2, 2}}})));
  RandomCalibration data(16, 700, -1.f, 1.f);
  for (const char* options : {"lowrank(energy=1,data=off)", "lowrank(energy=1)"}) {
    ir::Graph before = b.g;
    ASSERT_TRUE(infer_and_fold(before).is_ok());
    ir::Graph after = before;
    PassContext ctx;
    ctx.calibration = &data;
    ASSERT_TRUE(run(after, options, ctx).is_ok()) << options;
    ASSERT_TRUE(layer(ctx, "pw")->skipped.empty()) << layer(ctx, "pw")->skipped;
    EXPECT_EQ(layer(ctx, "pw")->rank, 8);
    EXPECT_EQ(count_op(after, OpKind::kConv), 2u);
    const auto in = random_inputs(before, 9);
    const std::vector<float> want = run_graph(before, in)[0], got = run_graph(after, in)[0];
    EXPECT_LE(max_abs_diff(want, got), 1e-4f) << options;
  }
}

TEST(Lowrank, LeavesGroupedConvsAndLayersThatSaveTooLittle) {
  Builder b;
  TensorId x = b.input("x", {1, 16, 6, 6});
  TensorId h = b.conv("dw", x, 16, 16, 3, 16);
  h = b.conv("pw", h, 16, 16, 1);
  b.output(h);
  ir::Graph g = b.g;
  PassContext ctx;
  ASSERT_TRUE(run(g, "lowrank(data=off)", ctx).is_ok());
  EXPECT_EQ(layer(ctx, "dw")->skipped, "grouped or depthwise conv");
  // A random 16x16 needs most of its rank; rounded to 8 it saves nothing.
  EXPECT_NE(layer(ctx, "pw")->skipped.find("min_saving=0.2"), std::string::npos) << layer(ctx, "pw")->skipped;
  EXPECT_EQ(count_op(g, OpKind::kConv), 2u);
}

TEST(Lowrank, RejectsBadOptions) {
  const std::pair<const char*, const char*> cases[] = {
      {"lowrank(energy=0)", "energy=0"},         {"lowrank(energy=1.5)", "energy=1.5"},
      {"lowrank(rank_ratio=2)", "rank_ratio=2"}, {"lowrank(rank_ratio=0)", "rank_ratio=0"},
      {"lowrank(energy=0.9,rank_ratio=0.5)", "rank_ratio"}, {"lowrank(data=maybe)", "data=maybe"},
      {"lowrank(multiple=0)", "multiple=0"},     {"lowrank(min_saving=1)", "min_saving=1"},
      {"lowrank", "data=on"},  // no calibration data
  };
  for (const auto& [pipeline, named] : cases) {
    Builder b;
    b.output(b.apply(OpKind::kMatMul, "fc", {b.input("x", {1, 8}), b.random("w", {8, 8}, 1)}));
    PassContext ctx;
    Status st = run(b.g, pipeline, ctx);
    EXPECT_EQ(st.code(), Status::kInvalidInput) << pipeline << ": " << st.message();
    EXPECT_NE(st.message().find(named), std::string::npos) << pipeline << ": " << st.message();
  }
}

// ---- trained models -----------------------------------------------------------------------

const npy::Array& calib_images() {
  static const npy::Array a = npy::read_npy(test::testdata_dir() + "/data/fmnist_calib_500.npy");
  return a;
}

// The model after `pipeline`, serialized and loaded, predicting calibration images [begin, end).
std::vector<int64_t> predictions(const std::string& model, const std::string& pipeline, const CalibrationData& calib,
                                 int64_t begin, int64_t end, PassContext& ctx) {
  ir::Graph g = onnx_import::import_model(test::testdata_dir() + "/models/" + model + ".onnx");
  ctx.calibration = &calib;
  Status st = run(g, pipeline, ctx);
  EXPECT_TRUE(st.is_ok()) << st.message();
  return top1_classes(g, calib_images(), begin, end);
}

int64_t weights_after(const PassContext& ctx, int64_t& before) {
  int64_t after = 0;
  before = 0;
  for (const PassReport& r : ctx.reports)
    for (const LowrankLayerReport& l : r.lowrank_layers) {
      before += l.params_before;
      after += l.skipped.empty() ? l.params_after : l.params_before;
    }
  return after;
}

TEST(LowrankModels, MlpKeepsTheDenseModelsPredictionsOnHeldOutImages) {
  // Fitted on calibration images 0-299; agreement with the dense model on images 300-499.
  ArrayCalibration fit(calib_images(), 0, 300);
  PassContext dense_ctx, on_ctx, off_ctx;
  const std::string canonical = "fold,fold_batchnorm,fuse_activation,remove_identity,";
  const std::vector<int64_t> dense = predictions("fmnist_mlp", canonical + "nhwc,dce", fit, 300, 500, dense_ctx);
  const double on = agreement(dense, predictions("fmnist_mlp", canonical + "lowrank,nhwc,dce", fit, 300, 500, on_ctx));
  const double off =
      agreement(dense, predictions("fmnist_mlp", canonical + "lowrank(data=off),nhwc,dce", fit, 300, 500, off_ctx));
  int64_t before = 0;
  const int64_t on_params = weights_after(on_ctx, before), off_params = weights_after(off_ctx, before);
  std::printf("fmnist_mlp lowrank: weights %.3fx (data=off %.3fx), agreement with dense on held-out images %.1f%% "
              "(data=off %.1f%%)\n",
              static_cast<double>(on_params) / before, static_cast<double>(off_params) / before, on, off);
  // Measured: 0.277x at 97.5% (data=off keeps every layer: the weights' own spectra are flat).
  EXPECT_LE(on_params, before * 35 / 100);
  EXPECT_GE(on, 95.0);
}

TEST(LowrankModels, LaterPassesWorkOnTheResult) {
  ArrayCalibration fit(calib_images(), 0, 64);
  for (const char* model : {"fmnist_mlp", "fmnist_cnn", "fmnist_vit"}) {
    PassContext ctx;
    const std::vector<int64_t> classes =
        predictions(model, "fold,fold_batchnorm,fuse_activation,remove_identity,lowrank(energy=0.9),prune(sparsity=0.6),nhwc,"
                           "dce,quantize,dce",
                    fit, 64, 96, ctx);
    EXPECT_EQ(classes.size(), 32u) << model;
    bool factored = false;
    for (const PassReport& r : ctx.reports)
      for (const LowrankLayerReport& l : r.lowrank_layers) factored |= l.skipped.empty();
    EXPECT_TRUE(factored) << model;
  }
}

TEST(LowrankCli, ReportsEveryCandidateAndRejectsBadOptions) {
  test::TempDir dir;
  const std::string model = test::testdata_dir() + "/models/fmnist_mlp.onnx";
  const std::string calib = test::testdata_dir() + "/data/fmnist_calib_500.npy";
  const std::string report = dir.file("report.json");
  test::CommandResult r = test::run_pare({"compress", model, "-o", dir.file("m.pare"), "--calib", calib, "--report", report,
                                          "--passes", "fold,fold_batchnorm,fuse_activation,lowrank(energy=0.9),nhwc,dce"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("lowrank layers"), std::string::npos) << r.out;
  const nlohmann::json j = nlohmann::json::parse(test::read_file(report));
  ASSERT_TRUE(j.contains("lowrank")) << j.dump(2);
  ASSERT_FALSE(j["lowrank"]["layers"].empty());
  for (const auto& l : j["lowrank"]["layers"]) {
    EXPECT_TRUE(l.contains("output_error")) << l.dump();
    if (!l.contains("skipped")) {
      EXPECT_LT(l["params_after"].get<int64_t>(), l["params_before"].get<int64_t>()) << l.dump();
    }
  }
  for (const char* option : {"energy=0", "energy=1.5", "rank_ratio=2", "rank_ratio=0", "data=maybe"}) {
    test::CommandResult bad = test::run_pare({"compress", model, "-o", dir.file("x.pare"), "--calib", calib, "--passes",
                                              std::string("fold,lowrank(") + option + "),dce"});
    EXPECT_EQ(bad.exit_code, 2) << option << bad.err;
    EXPECT_NE(bad.err.find(option), std::string::npos) << bad.err;
    EXPECT_FALSE(test::file_exists(dir.file("x.pare")));
  }
  test::CommandResult both = test::run_pare({"compress", model, "-o", dir.file("x.pare"), "--calib", calib, "--passes",
                                             "fold,lowrank(energy=0.9,rank_ratio=0.5),dce"});
  EXPECT_EQ(both.exit_code, 2) << both.err;
  EXPECT_NE(both.err.find("rank_ratio"), std::string::npos) << both.err;
}

}  // namespace
}  // namespace pare::passes
