// `pare compress` with quality budgets (check/backoff.h): an aggressive pipeline that breaks
// the budget is backed off until it holds, deterministically, and the pipeline it reports
// rebuilds the same file; an impossible budget exits 3 and writes no model (with
// --on-fail error, and with back-off once every layer is relaxed); bad budget input exits 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "calibration/npy.h"
#include "tests/support/graph_builder.h"
#include "tests/support/onnx_builder.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

using test::CommandResult;
using test::run_pare;

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const std::string kCanonical = "fold,fold_batchnorm,fuse_activation,remove_identity";
// 2-bit palettes by k-means alone: fmnist_cnn loses ~7 points of top-1 on the test images.
const std::string kAggressive = kCanonical + ",cluster(bits=2,update=none),nhwc,dce,quantize,dce";

std::string data(const std::string& name) { return test::testdata_dir() + "/data/" + name; }
std::string cnn() { return test::testdata_dir() + "/models/fmnist_cnn.onnx"; }

std::vector<std::string> compress(const std::string& out, const std::string& pipeline,
                                  std::vector<std::string> extra) {
  std::vector<std::string> args = {"compress", cnn(), "-o", out, "--calib", data("fmnist_calib_500.npy")};
  if (!pipeline.empty()) args.insert(args.end(), {"--passes", pipeline});
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::vector<std::string> check_data() {
  return {"--check-data", data("fmnist_test_2000.npy"), "--labels", data("fmnist_test_2000_labels.npy")};
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(BudgetCli, BackoffMeetsABudgetTheAggressivePipelineBreaks) {
  test::TempDir dir;
  const std::string out = dir.file("cnn.pare"), report = dir.file("report.json"), html = dir.file("report.html");
  const CommandResult r = run_pare(compress(
      out, kAggressive, with(check_data(), {"--max-top1-drop", "1", "--report", report, "--html", html})));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_TRUE(test::file_exists(out));
  EXPECT_TRUE(contains(r.out, "check: PASS")) << r.out;
  EXPECT_TRUE(contains(r.out, "back-off: the budgets hold after")) << r.out;

  const nlohmann::json j = nlohmann::json::parse(test::read_file(report));
  EXPECT_TRUE(j["written"].get<bool>());
  const nlohmann::json& c = j["check"];
  const nlohmann::json& b = c["backoff"];
  // The pipeline as given broke the budget on the point estimate, not only on the margin.
  ASSERT_EQ(b["budgets_given"].size(), 1u);
  EXPECT_FALSE(b["budgets_given"][0]["met"].get<bool>());
  EXPECT_GT(b["budgets_given"][0]["value"].get<double>(), 3.0) << b.dump();
  // The student holds it with a margin of one standard error.
  EXPECT_TRUE(c["budgets_met"].get<bool>());
  const nlohmann::json& budget = c["budgets"][0];
  EXPECT_EQ(budget["name"], "max-top1-drop");
  EXPECT_GT(budget["se"].get<double>(), 0.0);
  EXPECT_NEAR(budget["bound"].get<double>(), budget["value"].get<double>() + budget["se"].get<double>(), 1e-9);
  EXPECT_LE(budget["bound"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(c["margin"].get<double>(), 1.0);
  // Relaxed, and still far smaller than the ONNX file; each relaxation says what and what it cost.
  ASSERT_FALSE(b["relaxations"].empty());
  for (const auto& x : b["relaxations"]) {
    EXPECT_FALSE(x["layer"].get<std::string>().empty());
    EXPECT_FALSE(x["from"].get<std::string>().empty());
    EXPECT_FALSE(x["to"].get<std::string>().empty());
    EXPECT_LT(x["proxy_kl_after"].get<double>(), x["proxy_kl_before"].get<double>()) << x.dump();
  }
  EXPECT_GT(j["pare_bytes"].get<int64_t>(), b["bytes_given"].get<int64_t>());
  EXPECT_LT(j["size_ratio"].get<double>(), 1.0 / 8);
  bool relaxed_row = false;
  for (const auto& l : c["layers"]) relaxed_row = relaxed_row || l.contains("relaxed");
  EXPECT_TRUE(relaxed_row);
  EXPECT_EQ(j["pipeline"], b["pipeline_run"]);
  const std::string page = test::read_file(html);
  EXPECT_TRUE(contains(page, "<h2>Back-off</h2>"));
  EXPECT_TRUE(contains(page, "PASS"));

  // The written model passes pare check on the same data (the margin only makes compress stricter).
  const CommandResult checked = run_pare({"check", out, "--teacher", cnn(), "--data", data("fmnist_test_2000.npy"),
                                          "--labels", data("fmnist_test_2000_labels.npy"), "--max-top1-drop", "1"});
  EXPECT_EQ(checked.exit_code, 0) << describe(checked);

  // Deterministic, and the pipeline it reports rebuilds the same bytes without a search.
  const std::string again = dir.file("again.pare"), rebuilt = dir.file("rebuilt.pare");
  const CommandResult r2 = run_pare(compress(again, kAggressive, with(check_data(), {"--max-top1-drop", "1"})));
  ASSERT_EQ(r2.exit_code, 0) << describe(r2);
  EXPECT_EQ(test::read_file(out), test::read_file(again));
  const CommandResult r3 = run_pare(compress(rebuilt, b["pipeline_run"].get<std::string>(), {}));
  ASSERT_EQ(r3.exit_code, 0) << describe(r3);
  EXPECT_EQ(test::read_file(out), test::read_file(rebuilt));
}

// 1,100 parallel MatMul layers: a round's proxies would build the student once per layer,
// 1,100 x 1,101 node builds, over the search's 2^20 budget. The steps keep the layers' order
// unmeasured and full builds alone find the prefix: no proxy build, a few full builds.
TEST(BudgetCli, ManyParallelLayersAreSearchedWithoutProxies) {
  test::TempDir dir;
  constexpr int kLayers = 1100;
  test::OnnxBuilder b(13);
  b.input("x", {1, 16});
  std::vector<std::string> parts;
  for (int i = 0; i < kLayers; ++i) {
    const std::string n = std::to_string(i);
    b.initializer(test::tensor("w" + n, {16, 4}, test::random_floats(64, 300 + i)));
    b.node("MatMul", {"x", "w" + n}, {"y" + n}, {}, "fc" + n);
    parts.push_back("y" + n);
  }
  b.node("Concat", parts, {"y"}, {test::attr_i("axis", 1)});
  b.output("y");
  b.save(dir.file("wide.onnx"));
  auto samples = [&](const std::string& name, int rows, uint32_t seed) {
    npy::Array a;
    a.shape = {rows, 16};
    a.data.resize(static_cast<size_t>(rows) * 16 * sizeof(float));
    const std::vector<float> v = test::random_floats(static_cast<size_t>(rows) * 16, seed);
    std::memcpy(a.data.data(), v.data(), a.data.size());
    npy::write_npy(dir.file(name), a);
    return dir.file(name);
  };
  const std::string report = dir.file("report.json");
  const CommandResult r = run_pare({"compress", dir.file("wide.onnx"), "-o", dir.file("wide.pare"), "--calib",
                                    samples("calib.npy", 8, 10), "--check-data", samples("check.npy", 32, 20),
                                    "--passes", "quantize", "--min-agreement", "1", "--report", report});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const nlohmann::json j = nlohmann::json::parse(test::read_file(report));
  const nlohmann::json& backoff = j["check"]["backoff"];
  EXPECT_FALSE(backoff["budgets_given"][0]["met"].get<bool>()) << backoff.dump();  // int8 alone fails
  EXPECT_TRUE(j["check"]["budgets_met"].get<bool>());
  EXPECT_FALSE(backoff["relaxations"].empty());
  EXPECT_EQ(backoff["proxies"].get<int>(), 0) << backoff.dump();
  EXPECT_LE(backoff["builds"].get<int>(), 12) << backoff.dump();
}

TEST(BudgetCli, ImpossibleBudgetWithOnFailErrorExits3AndWritesNoModel) {
  test::TempDir dir;
  const std::string out = dir.file("cnn.pare"), report = dir.file("report.json");
  const CommandResult r = run_pare(compress(
      out, kAggressive, with(check_data(), {"--max-top1-drop", "1", "--on-fail", "error", "--report", report})));
  ASSERT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_FALSE(test::file_exists(out));
  EXPECT_TRUE(contains(r.out, "not written")) << r.out;
  EXPECT_TRUE(contains(r.out, "max-top1-drop")) << r.out;
  const nlohmann::json j = nlohmann::json::parse(test::read_file(report));
  EXPECT_FALSE(j["written"].get<bool>());
  EXPECT_FALSE(j["check"]["budgets_met"].get<bool>());
  EXPECT_TRUE(j["check"]["backoff"]["relaxations"].empty());
  EXPECT_TRUE(contains(j["check"]["backoff"]["outcome"].get<std::string>(), "--on-fail error"));

  // An impossible budget without --report: nothing at all is written.
  test::TempDir empty;
  const CommandResult impossible = run_pare(compress(
      empty.file("cnn.pare"), kAggressive, with(check_data(), {"--max-top1-drop", "-50", "--on-fail", "error"})));
  ASSERT_EQ(impossible.exit_code, 3) << describe(impossible);
  EXPECT_TRUE(test::list_dir(empty.path()).empty());
}

TEST(BudgetCli, BackoffThatCannotMeetTheBudgetExits3WithTheReport) {
  test::TempDir dir;
  const std::string out = dir.file("cnn.pare"), report = dir.file("report.json");
  // The student would have to beat the teacher by 50 points.
  const CommandResult r =
      run_pare(compress(out, kAggressive, with(check_data(), {"--max-top1-drop", "-50", "--report", report})));
  ASSERT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_FALSE(test::file_exists(out));
  const nlohmann::json j = nlohmann::json::parse(test::read_file(report));
  EXPECT_FALSE(j["written"].get<bool>());
  EXPECT_TRUE(contains(j["check"]["backoff"]["outcome"].get<std::string>(), "every layer relaxed")) << j["check"]["backoff"].dump();
}

TEST(BudgetCli, WithoutPassesABudgetStartsFromTheSmallestPreset) {
  test::TempDir dir;
  const std::string out = dir.file("cnn.pare"), report = dir.file("report.json");
  const CommandResult r =
      run_pare(compress(out, "", with(check_data(), {"--min-agreement", "0.9", "--quiet", "--report", report})));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const nlohmann::json j = nlohmann::json::parse(test::read_file(report));
  EXPECT_TRUE(contains(j["check"]["backoff"]["pipeline_given"].get<std::string>(), "cluster(bits=2,min_params=20000)"));
  EXPECT_GE(j["check"]["metrics"]["agreement"].get<double>(), 90.0);
}

TEST(BudgetCli, BadBudgetInputExits2) {
  test::TempDir dir;
  const std::string out = dir.file("cnn.pare");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--max-top1-drop", "1"}, "--check-data"},
      {{"--check-data", data("fmnist_test_2000.npy"), "--max-top1-drop", "1"}, "--labels"},
      {{"--check-data", data("fmnist_test_2000.npy"), "--min-agreement", "95"}, "fraction"},
      {with(check_data(), {"--max-kl", "0.1", "--on-fail", "retry"}), "--on-fail"},
      {with(check_data(), {"--on-fail", "error"}), "needs a budget"},
      {{"--check-data", data("fmnist_calib_500.npy"), "--labels", data("fmnist_test_2000_labels.npy"), "--max-kl", "1"},
       "fmnist_test_2000_labels.npy"},
      {{"--check-data", data("fmnist_test_2000_labels.npy"), "--max-kl", "1"}, "fmnist_test_2000_labels.npy"},
      {{"--html", dir.file("r.html")}, "--check-data"},
  };
  for (const Case& c : cases) {
    const CommandResult r = run_pare(compress(out, kAggressive, c.args));
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_TRUE(contains(r.err, c.message)) << c.message << "\n" << describe(r);
    EXPECT_FALSE(test::file_exists(out));
  }
}

}  // namespace
}  // namespace pare
