// `pare check`: the metrics on hand-computed values, and the command on fmnist_cnn against
// a clustered int8 NHWC student (budgets, JSON, per-layer alignment, bad input) and against
// its plain conversion (which must match the teacher).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "calibration/npy.h"
#include "check/align.h"
#include "check/backoff.h"
#include "check/metrics.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

using test::CommandResult;
using test::run_pare;

TEST(CheckMetrics, HandComputedValues) {
  EXPECT_DOUBLE_EQ(check::snr_db(100, 1), 20);
  EXPECT_DOUBLE_EQ(check::snr_db(5, 0), check::kSnrCapDb);
  const float a[] = {1, 2}, b[] = {2, 4}, c[] = {-2, 1}, zero[] = {0, 0};
  EXPECT_NEAR(check::cosine(a, b, 2), 1, 1e-12);
  EXPECT_NEAR(check::cosine(a, c, 2), 0, 1e-12);
  EXPECT_EQ(check::cosine(zero, zero, 2), 1);
  EXPECT_EQ(check::cosine(a, zero, 2), 0);
  const float v[] = {0.5f, 3, -1, 3};
  EXPECT_EQ(check::argmax(v, 4), 1u);

  // p = softmax(0, 0) = (1/2, 1/2), q = softmax(0, ln 3) = (1/4, 3/4):
  // KL = 1/2 ln 2 + 1/2 ln(2/3) = 1/2 ln(4/3).
  const float t[] = {0, 0}, s[] = {0, std::log(3.f)}, s2[] = {0, 2 * std::log(3.f)};
  EXPECT_NEAR(check::softmax_kl(t, s, 2, 1), 0.5 * std::log(4.0 / 3.0), 1e-6);
  EXPECT_NEAR(check::softmax_kl(t, s2, 2, 2), 0.5 * std::log(4.0 / 3.0), 1e-6);  // temperature 2
  EXPECT_EQ(check::softmax_kl(s, s, 2, 1), 0);

  // Teacher (3, 4), student (3, 3): signal 25, noise 1; cosine 21 / (5 sqrt 18).
  check::ErrorSums sums;
  const float teacher[] = {3, 4}, student[] = {3, 3};
  sums.add(teacher, student, 2);
  EXPECT_NEAR(sums.snr_db(), 10 * std::log10(25.0), 1e-9);
  EXPECT_NEAR(sums.cosine(), 21 / (5 * std::sqrt(18.0)), 1e-9);
  sums.add(teacher, teacher, 2);  // signal 50, noise 1; mean of the two cosines
  EXPECT_NEAR(sums.snr_db(), 10 * std::log10(50.0), 1e-9);
  EXPECT_NEAR(sums.cosine(), (1 + 21 / (5 * std::sqrt(18.0))) / 2, 1e-9);
}

TEST(CheckMetrics, StandardErrorsOfTheEstimates) {
  // 4 samples, 2 classes: both right, only the teacher right, only the student right, both wrong.
  const float right[2] = {1, 0}, wrong[2] = {0, 1};
  check::OutputStats stats;
  stats.add(right, right, 2, 1, 0);
  stats.add(right, wrong, 2, 1, 0);
  stats.add(wrong, right, 2, 1, 0);
  stats.add(wrong, wrong, 2, 1, 0);
  check::CheckResult r;
  r.has_labels = true;
  stats.finish(r);
  EXPECT_DOUBLE_EQ(r.top1_drop, 0);
  // d = {0, 1, -1, 0}: mean 0, mean square 0.5, SE = sqrt(0.5 / 4).
  EXPECT_NEAR(r.top1_drop_se, 100 * std::sqrt(0.5 / 4), 1e-9);
  EXPECT_DOUBLE_EQ(r.agreement, 50);
  EXPECT_NEAR(r.agreement_se, 100 * std::sqrt(0.25 / 4), 1e-9);
  // The budget's bound is the value moved `margin` standard errors towards the limit.
  r.margin = 2;
  r.budgets = {{"max-top1-drop", 20, 0, 0, 0, true}, {"min-agreement", 0.3, 0, 0, 0, true}};
  check::evaluate_budgets(r);
  EXPECT_NEAR(r.budgets[0].bound, 2 * r.top1_drop_se, 1e-9);
  EXPECT_FALSE(r.budgets[0].met);  // 0 + 2 * 35.4 > 20
  EXPECT_NEAR(r.budgets[1].bound, 0.5 - 2 * 0.25, 1e-9);
  EXPECT_FALSE(r.budgets[1].met);
  // Two halves merged are the whole.
  check::OutputStats a, b;
  a.add(right, right, 2, 1, 0);
  a.add(right, wrong, 2, 1, 0);
  b.add(wrong, right, 2, 1, 0);
  b.add(wrong, wrong, 2, 1, 0);
  a.merge(b);
  check::CheckResult m;
  m.has_labels = true;
  a.finish(m);
  EXPECT_DOUBLE_EQ(m.top1_drop_se, r.top1_drop_se);
  EXPECT_DOUBLE_EQ(m.kl, r.kl);
}

TEST(Backoff, PlansAreWrittenAsPassOptions) {
  const std::vector<passes::PipelineItem> pipeline = passes::parse_pipeline(
      "lowrank,cluster(bits=3,exclude=x),cluster(bits=2,min_params=20000),prune(sparsity=0.5),quantize,dce");
  check::RelaxationPlan plan;
  plan["a"].bits = 3;
  plan["b"].bits = 4;
  plan["c"].unclustered = true;
  plan["d"].sparsity_cap = 0.25;
  plan["e"].unfactorized = true;
  plan["f"].float32 = true;
  EXPECT_EQ(passes::print_pipeline(check::apply_plan(pipeline, plan)),
            "lowrank(exclude=e),cluster(bits=3,exclude=x,c,layer_bits=b:4),"
            "cluster(bits=2,min_params=20000,layer_bits=a:3,b:4,exclude=c),prune(sparsity=0.5,layer_sparsity=d:0.25),"
            "quantize(exclude=f),dce");
  EXPECT_EQ(check::describe_relaxation(plan["b"]), "palette >= 4 bits");
  check::LayerRelaxation all;
  all.unclustered = all.unfactorized = all.float32 = true;
  all.sparsity_cap = 0;
  EXPECT_EQ(check::describe_relaxation(all), "not clustered, not pruned, not factorized, float32");
  EXPECT_EQ(check::describe_relaxation({}), "");
}

TEST(CheckMetrics, LayoutPermutations) {
  const std::vector<int64_t> nchw = {2, 3, 4, 5}, nhwc = {2, 4, 5, 3};
  std::vector<float> x(120), y(120), back(120);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  check::nchw_to_nhwc(x.data(), nchw, y.data());
  // Element (n=1, c=2, h=3, w=4) of NCHW sits at [1][3][4][2] in NHWC.
  EXPECT_EQ(y[((1 * 4 + 3) * 5 + 4) * 3 + 2], x[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
  check::nhwc_to_nchw(y.data(), nhwc, back.data());
  EXPECT_EQ(back, x);
}

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

npy::Array first_rows(const npy::Array& a, int64_t rows) {
  npy::Array out = a;
  out.shape[0] = rows;
  out.data.resize(static_cast<size_t>(out.size()) * a.elem_size());
  return out;
}

// fmnist_cnn, its student (clustered to 3 bits, NHWC, int8) and the first 200 test images.
class CheckCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    const std::string data = test::testdata_dir() + "/data/";
    npy::write_npy(file("x.npy"), first_rows(npy::read_npy(data + "fmnist_test_2000.npy"), 200));
    npy::write_npy(file("y.npy"), first_rows(npy::read_npy(data + "fmnist_test_2000_labels.npy"), 200));
    const CommandResult r = run_pare(
        {"compress", teacher(), "-o", file("student.pare"), "--calib", data + "fmnist_calib_500.npy", "--passes",
         "fold,fold_batchnorm,fuse_activation,remove_identity,cluster(bits=3),nhwc,dce,quantize,dce"});
    ASSERT_EQ(r.exit_code, 0) << describe(r);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string file(const std::string& name) { return dir_->file(name); }
  static std::string teacher() { return test::testdata_dir() + "/models/fmnist_cnn.onnx"; }
  static CommandResult check(std::vector<std::string> extra) {
    std::vector<std::string> args = {"check", file("student.pare"), "--teacher", teacher(), "--data", file("x.npy")};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_pare(args);
  }
  static test::TempDir* dir_;
};
test::TempDir* CheckCli::dir_ = nullptr;

TEST_F(CheckCli, LooseBudgetPasses) {
  const CommandResult r =
      check({"--labels", file("y.npy"), "--max-top1-drop", "20", "--min-agreement", "0.8", "--max-kl", "1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "PASS")) << r.out;
  EXPECT_TRUE(contains(r.out, "top-1")) << r.out;
}

TEST_F(CheckCli, ImpossibleBudgetFailsNamingItAndTheWorstLayers) {
  const CommandResult r = check({"--labels", file("y.npy"), "--max-kl", "0", "--min-agreement", "1"});
  ASSERT_EQ(r.exit_code, 3) << describe(r);
  EXPECT_TRUE(contains(r.out, "FAIL, budget not met: max-kl")) << r.out;
  EXPECT_TRUE(contains(r.out, "lowest SNR layers")) << r.out;
}

// --html writes the page of the check, failed budgets included (exit 3): the verdict, each
// budget and the charts.
TEST_F(CheckCli, HtmlPageOfAFailedCheck) {
  const std::string page = file("report.html");
  const CommandResult r = check({"--labels", file("y.npy"), "--max-kl", "0", "--html", page});
  ASSERT_EQ(r.exit_code, 3) << describe(r);
  const std::string html = test::read_file(page);
  EXPECT_TRUE(contains(html, "FAIL")) << html.substr(0, 2000);
  EXPECT_TRUE(contains(html, "max-kl"));
  EXPECT_TRUE(contains(html, "<svg"));
  EXPECT_TRUE(contains(html, "/f/f.1/f.1.0/Conv"));
}

TEST_F(CheckCli, JsonHasTheDocumentedFieldsAndAlignsInt8NhwcLayers) {
  const CommandResult r = check({"--labels", file("y.npy"), "--min-agreement", "0.5", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["samples"], 200);
  EXPECT_EQ(j["temperature"], 1.0);
  EXPECT_GT(j["student_bytes"].get<int64_t>(), 0);
  for (const char* key : {"teacher_top1", "student_top1", "top1_drop", "agreement", "kl", "cosine", "snr_db"})
    EXPECT_TRUE(j["metrics"].contains(key)) << key;
  EXPECT_GT(j["metrics"]["teacher_top1"].get<double>(), 80);
  EXPECT_GT(j["metrics"]["agreement"].get<double>(), 90);
  ASSERT_EQ(j["budgets"].size(), 1u);
  EXPECT_EQ(j["budgets"][0]["name"], "min-agreement");
  EXPECT_TRUE(j["budgets_met"].get<bool>());
  int weighted = 0, quantized = 0;
  for (const auto& l : j["layers"]) {
    const std::string op = l["op"];
    if (!l["aligned"].get<bool>()) {
      EXPECT_FALSE(l["why_not_aligned"].get<std::string>().empty()) << l.dump();
      // Every compute layer of the student (int8, NHWC) maps to the teacher.
      EXPECT_TRUE(op != "Conv" && op != "Gemm" && op != "MaxPool") << l.dump();
      continue;
    }
    const double snr = l["snr_db"];
    // Float layers ahead of the first int8 one are exact (the cap); the rest carry error.
    EXPECT_TRUE(std::isfinite(snr) && snr > 5 && snr <= check::kSnrCapDb) << l.dump();
    if (op == "Conv" || op == "Gemm") {
      EXPECT_LT(snr, 60) << l.dump();
    }
    EXPECT_GT(l["cosine"].get<double>(), 0.9) << l.dump();
    if (l.contains("encoding")) {
      ++weighted;
      EXPECT_GT(l["bytes_dense"].get<int64_t>(), l["bytes_stored"].get<int64_t>()) << l.dump();
    }
    quantized += op == "QuantizeLinear" || op == "DequantizeLinear";
  }
  EXPECT_GE(weighted, 3);
  EXPECT_GE(quantized, 1);
}

TEST_F(CheckCli, BadInputExits2NamingTheFile) {
  npy::Array labels = npy::read_npy(file("y.npy"));
  npy::write_npy(file("y199.npy"), first_rows(labels, 199));
  npy::Array x = npy::read_npy(file("x.npy"));
  npy::Array nan = first_rows(x, 10);
  nan.as<float>()[5 * 784 + 17] = std::numeric_limits<float>::quiet_NaN();
  npy::write_npy(file("nan.npy"), nan);
  npy::Array small = first_rows(x, 16);
  small.shape = {16, 1, 14, 56};
  npy::write_npy(file("small.npy"), small);

  struct Case {
    std::vector<std::string> args;
    std::string names;
  } cases[] = {
      {{"check", file("student.pare"), "--teacher", teacher(), "--data", file("x.npy"), "--labels", file("y199.npy")},
       "y199.npy"},
      {{"check", file("student.pare"), "--teacher", teacher(), "--data", file("nan.npy")}, "nan.npy"},
      {{"check", file("student.pare"), "--teacher", teacher(), "--data", file("small.npy")}, "small.npy"},
      {{"check", file("missing.pare"), "--teacher", teacher(), "--data", file("x.npy")}, "missing.pare"},
      {{"check", file("student.pare"), "--teacher", file("missing.onnx"), "--data", file("x.npy")}, "missing.onnx"},
      {{"check", file("student.pare"), "--teacher", teacher(), "--data", file("x.npy"), "--max-top1-drop", "1"},
       "--max-top1-drop needs --labels"},
      {{"check", file("student.pare"), "--teacher", teacher(), "--data", file("x.npy"), "--min-agreement", "99"},
       "fraction"},
      {{"check", file("y.npy"), "--teacher", teacher(), "--data", file("x.npy")}, "y.npy"},
  };
  for (const Case& c : cases) {
    const CommandResult r = run_pare(c.args);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_TRUE(contains(r.err, c.names)) << describe(r);
    EXPECT_TRUE(r.out.empty()) << describe(r);
  }
}

TEST_F(CheckCli, PlainConversionMatchesTheTeacher) {
  const CommandResult conv = run_pare({"convert", teacher(), "-o", file("plain.pare")});
  ASSERT_EQ(conv.exit_code, 0) << describe(conv);
  const CommandResult r = run_pare({"check", file("plain.pare"), "--teacher", teacher(), "--data", file("x.npy"),
                                    "--min-agreement", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["metrics"]["agreement"].get<double>(), 100);
  int aligned = 0;
  for (const auto& l : j["layers"]) {
    if (!l["aligned"].get<bool>()) continue;
    ++aligned;
    EXPECT_GT(l["snr_db"].get<double>(), 60) << l.dump();
  }
  EXPECT_GE(aligned, 5);
}

}  // namespace
}  // namespace pare
