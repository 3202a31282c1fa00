// The cluster pass: at most 2^bits distinct values per table (bit-exact), the layers kept
// dense, pruned zeros kept, composition with quantize, bad options (pass and CLI), seeded
// determinism, the k-means against a plain Lloyd reference, the data weighting against the
// plain weight error, and the report.
#include <cstdint>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "passes/kmeans.h"
#include "tests/passes/pass_test_util.h"
#include "tests/support/test_util.h"

namespace pare::passes {
namespace {

// x[1, 64] -> fc1 (Gemm transB, [128, 64]) -> Relu -> fc2 (Gemm, [128, 32]) -> head (MatMul [32, 40]).
Builder mlp() {
  Builder b;
  TensorId x = b.input("x", {1, 64});
  TensorId h = b.apply(OpKind::kGemm, "fc1", {x, b.random("fc1_w", {128, 64}, 21), b.random("fc1_b", {128}, 22)},
                       make_attrs({{"transB", int64_t{1}}}));
  h = b.apply(OpKind::kRelu, "relu", {h});
  h = b.apply(OpKind::kGemm, "fc2", {h, b.random("fc2_w", {128, 32}, 23), b.random("fc2_b", {32}, 24)});
  b.output(b.apply(OpKind::kMatMul, "head", {h, b.random("head_w", {32, 40}, 25)}));
  return b;
}

// x[1, 4, 8, 8] -> stem (3x3, 4->16) -> dw (depthwise) -> pw (1x1, 16->64) -> mid (3x3, 64->32) -> tail (1x1, 32->10).
Builder cnn() {
  Builder b;
  TensorId h = b.input("x", {1, 4, 8, 8});
  h = b.conv("stem", h, 4, 16, 3);
  h = b.conv("dw", h, 16, 16, 3, 16);
  h = b.conv("pw", h, 16, 64, 1);
  h = b.conv("mid", h, 64, 32, 3);
  b.output(b.conv("tail", h, 32, 10, 1));
  return b;
}

ir::Graph run_ok(const ir::Graph& graph, const std::string& pipeline, PassContext* ctx_out = nullptr,
                 const CalibrationData* data = nullptr) {
  ir::Graph g = graph;
  PassContext ctx;
  ctx.verify_each = true;
  ctx.calibration = data;
  Status st = run_pipeline(g, pipeline, ctx);
  EXPECT_TRUE(st.is_ok()) << pipeline << ": " << st.message();
  if (ctx_out) *ctx_out = ctx;
  return g;
}

const ir::Tensor& weight_of(const ir::Graph& g, const std::string& node) {
  for (ir::NodeId id : g.nodes())
    if (g.node(id).name == node) return g.tensor(g.node(id).inputs[1]);
  ADD_FAILURE() << "no node " << node;
  return g.tensor(0);
}

std::vector<float> weights(const ir::Graph& g, const std::string& node) {
  const ir::Tensor& w = weight_of(g, node);
  return std::vector<float>(w.values<float>(), w.values<float>() + w.shape.num_elements());
}

enum class Tables { kRows, kColumns, kTensor };

// The most distinct bit patterns of an element in a stored row, a stored column (the tensor
// seen as [shape[0], rest]) or the whole tensor.
template <typename T>
size_t most_distinct(const ir::Tensor& w, Tables tables) {
  const auto* v = reinterpret_cast<const T*>(w.data->bytes.data());
  const int64_t n = w.shape.num_elements(), rows = w.shape.sizes()[0], cols = n / rows;
  const int64_t count = tables == Tables::kRows ? rows : tables == Tables::kColumns ? cols : 1;
  size_t most = 0;
  for (int64_t t = 0; t < count; ++t) {
    std::set<std::vector<uint8_t>> seen;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r = i / cols, c = i % cols;
      if ((tables == Tables::kRows && r != t) || (tables == Tables::kColumns && c != t)) continue;
      const auto* p = reinterpret_cast<const uint8_t*>(&v[i]);
      seen.emplace(p, p + sizeof(T));
    }
    most = std::max(most, seen.size());
  }
  return most;
}

// The tables of per=channel: the output channels, stored columns for [K, N] weights.
Tables channel_tables(const char* node) {
  const std::string name = node;
  return name == "fc2" || name == "head" ? Tables::kColumns : Tables::kRows;
}

const ClusterLayerReport* layer(const PassContext& ctx, const std::string& node) {
  for (const PassReport& r : ctx.reports)
    for (const ClusterLayerReport& l : r.cluster_layers)
      if (l.node == node) return &l;
  return nullptr;
}

TEST(Cluster, AtMostTwoToTheBitsValuesPerTableBitExact) {
  RandomCalibration data(16, 2100, -1.f, 1.f);
  for (const char* update : {"none", "obs"})
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (const char* per : {"channel", "tensor"}) {
      const std::string pipeline = "cluster(bits=" + std::to_string(bits) + ",per=" + per + ",min_params=0,update=" +
                                   update + ")";
      PassContext ctx;
      const Builder m = mlp();
      const ir::Graph g = run_ok(m.g, pipeline, &ctx, &data);
      for (const char* node : {"fc1", "fc2", "head"}) {
        const size_t distinct =
            most_distinct<float>(weight_of(g, node), std::string(per) == "channel" ? channel_tables(node) : Tables::kTensor);
        EXPECT_LE(distinct, size_t{1} << bits) << pipeline << " " << node;
        EXPECT_GE(distinct, std::min<size_t>(size_t{1} << bits, 32) / 2) << pipeline << " " << node;  // not collapsed
        ASSERT_NE(layer(ctx, node), nullptr);
        EXPECT_EQ(static_cast<size_t>(layer(ctx, node)->max_distinct), distinct) << pipeline << " " << node;
        if (std::string(per) == "tensor" || (1 << bits) < 32) {
          EXPECT_GT(layer(ctx, node)->relative_error, 0.0);
        }
        // obs trades weight error for output error: the weights move further.
        EXPECT_LT(layer(ctx, node)->relative_error, (bits == 2 ? 0.5 : 0.25) * (std::string(update) == "obs" ? 2 : 1))
            << pipeline << " " << node;
        EXPECT_EQ(layer(ctx, node)->decision.find("obs rounding") != std::string::npos, std::string(update) == "obs")
            << layer(ctx, node)->decision;
      }
    }
}

TEST(Cluster, DefaultsKeepStemDepthwiseSmallAndExcludedDense) {
  const Builder b = cnn();
  PassContext ctx;
  const ir::Graph g = run_ok(b.g, "cluster(exclude=mid)", &ctx);
  const std::pair<const char*, const char*> dense[] = {
      {"stem", "first conv"}, {"dw", "depthwise"}, {"mid", "excluded"}, {"tail", "min_params"}};
  for (const auto& [node, reason] : dense) {
    EXPECT_EQ(weights(g, node), weights(b.g, node)) << node;
    ASSERT_NE(layer(ctx, node), nullptr) << node;
    EXPECT_NE(layer(ctx, node)->decision.find(reason), std::string::npos) << layer(ctx, node)->decision;
    EXPECT_EQ(layer(ctx, node)->bits, 0);
  }
  EXPECT_LE(most_distinct<float>(weight_of(g, "pw"), Tables::kRows), 16u);
  EXPECT_EQ(layer(ctx, "pw")->tables, 64);
}

TEST(Cluster, PrunedZerosStayExactZeros) {
  const Builder b = cnn();
  RandomCalibration data(8, 2200, -1.f, 1.f);
  const ir::Graph pruned = run_ok(b.g, "prune(sparsity=0.6,min_params=0)");
  for (const char* update : {"none", "obs"}) {
  const ir::Graph g = run_ok(pruned, std::string("cluster(bits=4,min_params=0,update=") + update + ")", nullptr, &data);
  for (const char* node : {"pw", "mid", "tail"}) {
    const std::vector<float> before = weights(pruned, node), after = weights(g, node);
    for (size_t i = 0; i < before.size(); ++i) {
      ASSERT_EQ(before[i] == 0.f, after[i] == 0.f) << node << " weight " << i;
      if (after[i] == 0.f) {
        ASSERT_FALSE(std::signbit(after[i])) << node;  // one zero entry: +0.0f
      }
    }
    EXPECT_LE(most_distinct<float>(weight_of(g, node), Tables::kRows), 16u) << node;
  }
  }
}

TEST(Cluster, QuantizeKeepsAtMostTwoToTheBitsInt8ValuesPerOutputChannel) {
  RandomCalibration data(8, 2000, -1.f, 1.f);
  for (int bits : {2, 4}) {
    const std::string pipeline = "prune(sparsity=0.5,min_params=0),cluster(bits=" + std::to_string(bits) + ",min_params=0)";
    const Builder b = cnn();
    ir::Graph g = run_ok(b.g, pipeline, nullptr, &data);
    const ir::Graph float_graph = g;
    g = run_ok(g, "quantize,dce", nullptr, &data);
    for (const char* node : {"pw", "mid", "tail"}) {  // Conv: stored rows are the quantized channels
      const ir::Tensor& q = weight_of(g, node);
      ASSERT_EQ(q.dtype, DType::kInt8) << node;
      EXPECT_LE(most_distinct<int8_t>(q, Tables::kRows), size_t{1} << bits) << node;
      const std::vector<float> f = weights(float_graph, node);
      for (size_t i = 0; i < f.size(); ++i)
        if (f[i] == 0.f) {
          ASSERT_EQ(q.values<int8_t>()[i], 0) << node;
        }
    }
  }
  // [K, N] weights: clustered and quantized per output channel, a stored column.
  RandomCalibration mlp_data(8, 2050, -1.f, 1.f);
  ir::Graph g = run_ok(mlp().g, "cluster(bits=3,min_params=0),quantize,dce", nullptr, &mlp_data);
  for (const char* node : {"fc2", "head"}) {
    const ir::Tensor& q = weight_of(g, node);
    ASSERT_EQ(q.dtype, DType::kInt8) << node;
    EXPECT_LE(most_distinct<int8_t>(q, Tables::kColumns), 8u) << node;
    EXPECT_GT(most_distinct<int8_t>(q, Tables::kRows), 8u) << node;
  }
}

TEST(Cluster, RejectsBadOptions) {
  const std::pair<const char*, const char*> cases[] = {
      {"cluster(bits=1)", "bits=1"}, {"cluster(bits=9)", "bits=9"}, {"cluster(per=row)", "per=row"},
      {"cluster(init=random)", "init=random"}, {"cluster(min_params=-1)", "min_params=-1"},
      {"cluster(weighting=data)", "weighting=data"},  // no calibration data
      {"cluster(update=obs)", "update=obs"},          // no calibration data
      {"cluster(update=gptq)", "update=gptq"},
  };
  for (const auto& [pipeline, named] : cases) {
    ir::Graph g = mlp().g;
    PassContext ctx;
    Status st = run_pipeline(g, pipeline, ctx);
    EXPECT_EQ(st.code(), Status::kInvalidInput) << pipeline << ": " << st.message();
    EXPECT_NE(st.message().find(named), std::string::npos) << pipeline << ": " << st.message();
  }
}

TEST(Cluster, LayerBitsOverrideBitsForTheNamedLayers) {
  PassContext ctx;
  const ir::Graph g = run_ok(mlp().g, "cluster(bits=2,min_params=0,layer_bits=fc2:5,head:3)", &ctx);
  EXPECT_LE(most_distinct<float>(weight_of(g, "fc1"), Tables::kRows), 4u);
  EXPECT_GT(most_distinct<float>(weight_of(g, "fc2"), Tables::kColumns), 4u);
  EXPECT_LE(most_distinct<float>(weight_of(g, "fc2"), Tables::kColumns), 32u);
  EXPECT_LE(most_distinct<float>(weight_of(g, "head"), Tables::kColumns), 8u);
  EXPECT_EQ(layer(ctx, "fc1")->bits, 2);
  EXPECT_EQ(layer(ctx, "fc2")->bits, 5);
  EXPECT_NE(layer(ctx, "fc2")->decision.find("layer_bits"), std::string::npos) << layer(ctx, "fc2")->decision;
  // A layer the pass leaves dense stays dense whatever layer_bits says.
  PassContext ctx2;
  run_ok(cnn().g, "cluster(bits=2,layer_bits=dw:4)", &ctx2);
  EXPECT_EQ(layer(ctx2, "dw")->bits, 0);
  for (const char* bad : {"cluster(layer_bits=fc1)", "cluster(layer_bits=fc1:9)", "cluster(layer_bits=fc1:x)",
                          "cluster(layer_bits=:3)", "cluster(layer_bits=fc1:2.5)"}) {
    ir::Graph m = mlp().g;
    PassContext c;
    const Status st = run_pipeline(m, bad, c);
    EXPECT_EQ(st.code(), Status::kInvalidInput) << bad;
    EXPECT_NE(st.message().find("layer_bits"), std::string::npos) << st.message();
  }
}

TEST(Cluster, CliRejectsBadOptionsWithExit2) {
  test::TempDir dir;
  for (const char* option : {"bits=1", "bits=9", "per=row", "init=random"}) {
    const test::CommandResult r =
        test::run_pare({"compress", test::testdata_dir() + "/models/fmnist_mlp.onnx", "-o", dir.file("x.pare"), "--calib",
                        test::testdata_dir() + "/data/fmnist_calib_500.npy", "--passes",
                        std::string("fold,cluster(") + option + "),dce"});
    EXPECT_EQ(r.exit_code, 2) << option << "\n" << r.err;
    EXPECT_NE(r.err.find(option), std::string::npos) << r.err;
    EXPECT_FALSE(test::file_exists(dir.file("x.pare")));
  }
}

TEST(Cluster, SeedDecidesTheResult) {
  const Builder b = mlp();
  const ir::Graph a = run_ok(b.g, "cluster(bits=3,seed=5)"), again = run_ok(b.g, "cluster(bits=3,seed=5)");
  const ir::Graph other = run_ok(b.g, "cluster(bits=3,seed=6)");
  EXPECT_EQ(weights(a, "fc1"), weights(again, "fc1"));
  EXPECT_NE(weights(a, "fc1"), weights(other, "fc1"));
}

// The generator behind the seeds is fixed: splitmix64's first output for state 0.
TEST(Kmeans, GeneratorIsTheSameEverywhere) {
  uint64_t state = 0;
  EXPECT_EQ(next_unit(state), static_cast<double>(0xE220A8397B1DCDAFull >> 11) * 0x1.0p-53);
  std::vector<float> v = random_floats(500, 3), w = random_floats(500, 4, 0.f, 1.f);
  KmeansOptions o;
  o.k = 8;
  o.seed = 42;
  EXPECT_EQ(kmeans_1d(v, w, o), 8);
  std::vector<float> again = random_floats(500, 3);
  kmeans_1d(again, w, o);
  EXPECT_EQ(v, again);
}

// FNV-1a of the bits of k-means++ results on inputs from the fixed generator: a change means
// that other machines or versions cluster differently.
TEST(Kmeans, PinnedResults) {
  uint64_t state = 12345, hash = 14695981039346656037ull;
  for (int k : {4, 16, 256}) {
    std::vector<float> v(2000), w(2000);
    for (size_t i = 0; i < v.size(); ++i) {
      v[i] = static_cast<float>(next_unit(state) * 2 - 1);
      w[i] = static_cast<float>(next_unit(state));
    }
    KmeansOptions o;
    o.k = k;
    o.seed = 7;
    kmeans_1d(v, w, o);
    for (float x : v) {
      uint32_t bits;
      std::memcpy(&bits, &x, sizeof bits);
      hash = (hash ^ bits) * 1099511628211ull;
    }
  }
  EXPECT_EQ(hash, 175637344530368327ull);
}

// Plain Lloyd: every value assigned to its nearest centroid by a scan, centroids the weighted
// means, from the same linear start.
std::vector<float> reference_lloyd(std::vector<float> v, const std::vector<float>& w, int k) {
  const float lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
  std::vector<double> c(static_cast<size_t>(k));
  for (int j = 0; j < k; ++j) c[static_cast<size_t>(j)] = lo + (static_cast<double>(hi) - lo) * (j + 0.5) / k;
  std::vector<size_t> assign(v.size(), 0), previous;
  for (int it = 0; it < 1000 && assign != previous; ++it) {
    previous = assign;
    for (size_t i = 0; i < v.size(); ++i)
      for (size_t j = 0; j < c.size(); ++j)
        if (std::fabs(v[i] - c[j]) < std::fabs(v[i] - c[assign[i]])) assign[i] = j;
    std::vector<double> sw(c.size(), 0), swx(c.size(), 0);
    for (size_t i = 0; i < v.size(); ++i) {
      sw[assign[i]] += w[i];
      swx[assign[i]] += static_cast<double>(w[i]) * v[i];
    }
    for (size_t j = 0; j < c.size(); ++j)
      if (sw[j] > 0) c[j] = swx[j] / sw[j];
  }
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(c[assign[i]]);
  return v;
}

TEST(Kmeans, MatchesPlainLloydAndLowersTheWeightedError) {
  for (int k : {4, 16}) {
    const std::vector<float> v = random_floats(3000, 7), w = random_floats(3000, 8, 0.1f, 2.f);
    std::vector<float> fast = v;
    KmeansOptions o;
    o.k = k;
    o.init = KmeansInit::kLinear;
    kmeans_1d(fast, w, o);
    const std::vector<float> slow = reference_lloyd(v, w, k);
    EXPECT_LE(max_abs_diff(fast, slow), 1e-5f) << k;
    // k-means++ reaches an error close to the linear start's, far below one bin of a uniform grid.
    std::vector<float> pp = v;
    o.init = KmeansInit::kPlusPlus;
    kmeans_1d(pp, w, o);
    auto err = [&](const std::vector<float>& a) {
      double e = 0;
      for (size_t i = 0; i < v.size(); ++i) e += w[i] * (a[i] - v[i]) * (a[i] - v[i]);
      return e;
    };
    EXPECT_LT(err(pp), 1.2 * err(fast)) << k;
  }
  // Few distinct values are kept as they are.
  std::vector<float> few = {0.5f, -1.f, 0.5f, 2.f};
  KmeansOptions o;
  o.k = 4;
  EXPECT_EQ(kmeans_1d(few, {}, o), 3);
  EXPECT_EQ(few, (std::vector<float>{0.5f, -1.f, 0.5f, 2.f}));
}

// x[1, 64] scaled per input by factors from 0.02 to 4 -> fc (Gemm transB [96, 64]): the inputs
// that matter most for the output are few.
Builder scaled_inputs() {
  Builder b;
  TensorId x = b.input("x", {1, 64});
  std::vector<float> scale(64);
  for (size_t i = 0; i < scale.size(); ++i) scale[i] = i % 8 == 0 ? 4.f : 0.02f;
  x = b.apply(OpKind::kMul, "scale", {x, b.floats("s", {1, 64}, scale)});
  b.output(b.apply(OpKind::kGemm, "fc", {x, b.random("fc_w", {96, 64}, 31), b.random("fc_b", {96}, 32)},
                   make_attrs({{"transB", int64_t{1}}})));
  return b;
}

// The relative squared error of `g`'s output against `reference`'s on 8 random inputs drawn
// from `seed` on (inputs no calibration saw).
double unseen_output_error(const ir::Graph& reference, const ir::Graph& g, uint32_t seed) {
  double e = 0, norm = 0;
  for (uint32_t s = 0; s < 8; ++s) {
    const auto in = random_inputs(reference, seed + s);
    const std::vector<float> ref = run_graph(reference, in)[0], got = run_graph(g, in)[0];
    for (size_t i = 0; i < ref.size(); ++i) {
      e += (ref[i] - got[i]) * (ref[i] - got[i]);
      norm += ref[i] * ref[i];
    }
  }
  return e / norm;
}

TEST(Cluster, DataWeightingLowersTheOutputErrorOnUnseenInputs) {
  const Builder b = scaled_inputs();
  RandomCalibration data(32, 3000, -1.f, 1.f);
  auto output_error = [&](const ir::Graph& g) { return unseen_output_error(b.g, g, 4000); };
  PassContext ctx;
  const double with_data = output_error(run_ok(b.g, "cluster(bits=3,weighting=data,update=none)", &ctx, &data));
  EXPECT_NE(layer(ctx, "fc")->decision.find("weighted"), std::string::npos) << layer(ctx, "fc")->decision;
  const double plain = output_error(run_ok(b.g, "cluster(bits=3,weighting=none,update=none)", nullptr, &data));
  EXPECT_LT(with_data, 0.5 * plain) << with_data << " vs " << plain;
}

// update=obs against k-means alone, on inputs the calibration did not see: the output error
// falls by more than half at 2 and 3 bits (the inputs differ in scale, as after real layers).
TEST(Cluster, ObsRoundingLowersTheOutputErrorOnUnseenInputs) {
  const Builder b = scaled_inputs();
  RandomCalibration data(32, 3100, -1.f, 1.f);
  auto output_error = [&](const ir::Graph& g) { return unseen_output_error(b.g, g, 4100); };
  for (int bits : {2, 3}) {
    const std::string pipeline = "cluster(bits=" + std::to_string(bits) + ",update=";
    PassContext ctx;
    const double obs = output_error(run_ok(b.g, pipeline + "obs)", &ctx, &data));
    EXPECT_NE(layer(ctx, "fc")->decision.find("obs rounding"), std::string::npos) << layer(ctx, "fc")->decision;
    const double plain = output_error(run_ok(b.g, pipeline + "none)", nullptr, &data));
    EXPECT_LT(obs, 0.5 * plain) << bits << " bits: " << obs << " vs " << plain;
  }
}

TEST(Cluster, CompressReportsEachLayer) {
  test::TempDir dir;
  const std::string report = dir.file("r.json");
  const test::CommandResult r = test::run_pare(
      {"compress", test::testdata_dir() + "/models/fmnist_mlp.onnx", "-o", dir.file("m.pare"), "--calib",
       test::testdata_dir() + "/data/fmnist_calib_500.npy", "--report", report, "--passes",
       "fold,fold_batchnorm,fuse_activation,remove_identity,cluster(bits=3),nhwc,dce"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("clustered layers"), std::string::npos) << r.out;
  const nlohmann::json j = nlohmann::json::parse(test::read_file(report));
  ASSERT_TRUE(j.contains("cluster")) << j.dump(2);
  int clustered = 0;
  for (const auto& l : j["cluster"]["layers"]) {
    EXPECT_FALSE(l["decision"].get<std::string>().empty());
    if (l["bits"].get<int>() == 0) continue;
    ++clustered;
    EXPECT_EQ(l["bits"].get<int>(), 3);
    EXPECT_LE(l["max_distinct"].get<int>(), 8);
    EXPECT_LT(l["relative_error"].get<double>(), 0.5);
  }
  EXPECT_GT(clustered, 0);
  EXPECT_FALSE(j["cluster"]["decisions"].empty());
}

// Top-1 (%) of fmnist_cnn compressed with `pipeline`, on the bundled test images (a bound
// checked, nothing tuned on them).
double cnn_top1(const test::TempDir& dir, const std::string& pipeline) {
  const std::string file = dir.file("cnn.pare");
  const test::CommandResult c =
      test::run_pare({"compress", test::testdata_dir() + "/models/fmnist_cnn.onnx", "-o", file, "--calib",
                      test::testdata_dir() + "/data/fmnist_calib_500.npy", "--passes", pipeline});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  const test::CommandResult e =
      test::run_pare({"eval", file, "--data", test::testdata_dir() + "/data/fmnist_test_2000.npy", "--labels",
                      test::testdata_dir() + "/data/fmnist_test_2000_labels.npy", "--json"});
  EXPECT_EQ(e.exit_code, 0) << e.err;
  return 100.0 * nlohmann::json::parse(e.out)["top1"].get<double>();
}

uint64_t file_bytes(const std::string& path) { return test::read_file(path).size(); }
uint64_t cnn_onnx_bytes() { return file_bytes(test::testdata_dir() + "/models/fmnist_cnn.onnx"); }

TEST(ClusterModels, FourBitsAndInt8KeepTheCnnWithinOnePointAtSevenTimesSmaller) {
  test::TempDir dir;
  const std::string canonical = "fold,fold_batchnorm,fuse_activation,remove_identity,";
  const double dense = cnn_top1(dir, canonical + "nhwc,dce");
  const double clustered = cnn_top1(dir, canonical + "cluster(bits=4),nhwc,dce,quantize,dce");
  EXPECT_GT(dense, 90.0);
  EXPECT_GE(clustered, dense - 1.0) << clustered << " vs dense " << dense;  // measured 93.15 vs 93.55
  EXPECT_GE(cnn_onnx_bytes(), 7 * file_bytes(dir.file("cnn.pare")));
}

// The combined pipeline of docs/compression.md ("Combining passes"): 3 bits, 2 for the layers
// of at least 20,000 weights, int8: at least 10x smaller than the ONNX file within 1 point.
TEST(ClusterModels, MixedBitsAndInt8MakeTheCnnTenTimesSmallerWithinOnePoint) {
  test::TempDir dir;
  const std::string canonical = "fold,fold_batchnorm,fuse_activation,remove_identity,";
  const double dense = cnn_top1(dir, canonical + "nhwc,dce");
  const double clustered =
      cnn_top1(dir, canonical + "cluster(bits=3),cluster(bits=2,min_params=20000),nhwc,dce,quantize,dce");
  EXPECT_GE(clustered, dense - 1.0) << clustered << " vs dense " << dense;
  EXPECT_GE(cnn_onnx_bytes(), 10 * file_bytes(dir.file("cnn.pare")));
}

}  // namespace
}  // namespace pare::passes
