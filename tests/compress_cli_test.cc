// `pare compress` and `pare export-onnx` on the command line: the report (stdout and
// --report JSON) and bad calibration data (wrong shape, wrong dtype, NaN, empty, missing):
// each bad input exits 2 with a message naming the file and leaves no output behind.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "calibration/npy.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

using test::CommandResult;
using test::run_pare;

std::string model(const std::string& name) { return test::testdata_dir() + "/models/" + name + ".onnx"; }
std::string calib() { return test::testdata_dir() + "/data/fmnist_calib_500.npy"; }

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

npy::Array float_array(std::vector<int64_t> shape, float value) {
  npy::Array a;
  a.type = npy::ElemType::kFloat32;
  a.shape = std::move(shape);
  a.data.resize(static_cast<size_t>(a.size()) * sizeof(float));
  for (int64_t i = 0; i < a.size(); ++i) a.as<float>()[i] = value;
  return a;
}

TEST(CompressCli, WritesModelAndReport) {
  test::TempDir dir;
  const std::string out = dir.file("mlp.pare"), report = dir.file("report.json");
  CommandResult r = run_pare({"compress", model("fmnist_mlp"), "-o", out, "--calib", calib(), "--report", report});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "int8 layers")) << r.out;
  EXPECT_TRUE(contains(r.out, "SQNR")) << r.out;
  ASSERT_TRUE(test::file_exists(out));
  const nlohmann::json j = nlohmann::json::parse(test::read_file(report));
  EXPECT_EQ(j["calibration_samples"], 500);
  EXPECT_LE(j["size_ratio"].get<double>(), 0.27);
  ASSERT_FALSE(j["layers"].empty());
  for (const auto& l : j["layers"]) {
    EXPECT_FALSE(l["node"].get<std::string>().empty());
    EXPECT_GT(l["scale"].get<double>(), 0.0);
    EXPECT_TRUE(l.contains("zero_point"));
    EXPECT_GT(l["sqnr_db"].get<double>(), 10.0) << l.dump();
  }
  // The compressed model runs and exports to QDQ ONNX.
  const std::string onnx = dir.file("mlp.qdq.onnx");
  CommandResult e = run_pare({"export-onnx", out, "-o", onnx});
  ASSERT_EQ(e.exit_code, 0) << describe(e);
  EXPECT_TRUE(test::file_exists(onnx));
}

TEST(CompressCli, HelpPrintsTheDefaultPipeline) {
  CommandResult r = run_pare({"compress", "--help"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "quantize")) << r.out;
  EXPECT_TRUE(contains(r.out, "--calib")) << r.out;
}

TEST(CompressCli, BadCalibrationDataExits2AndWritesNothing) {
  test::TempDir dir;
  struct Case {
    std::string name;
    npy::Array data;
    std::string expect;  // in the message, besides the file's name
  };
  npy::Array ints;
  ints.type = npy::ElemType::kInt64;
  ints.shape = {4, 1, 28, 28};
  ints.data.assign(static_cast<size_t>(ints.size()) * sizeof(int64_t), 0);
  npy::Array nan = float_array({3, 1, 28, 28}, 0.5f);
  nan.as<float>()[1000] = std::numeric_limits<float>::quiet_NaN();
  std::vector<Case> cases = {
      {"wrong_shape.npy", float_array({4, 3, 32, 32}, 0.5f), "shape"},
      {"wrong_dtype.npy", ints, "int64"},
      {"nan.npy", nan, "NaN"},
      {"empty.npy", float_array({0, 1, 28, 28}, 0.f), "no sample"},
  };
  for (const Case& c : cases) {
    const std::string path = dir.file(c.name);
    npy::write_npy(path, c.data);
    const std::string out = dir.file("out.pare"), report = dir.file("out.json");
    CommandResult r = run_pare({"compress", model("fmnist_cnn"), "-o", out, "--calib", path, "--report", report});
    EXPECT_EQ(r.exit_code, 2) << c.name << "\n" << describe(r);
    EXPECT_TRUE(contains(r.err, c.name)) << c.name << ": " << r.err;
    EXPECT_TRUE(contains(r.err, c.expect)) << c.name << ": " << r.err;
    EXPECT_FALSE(test::file_exists(out)) << c.name;
    EXPECT_FALSE(test::file_exists(report)) << c.name;
  }
  // A missing file and a missing --calib.
  CommandResult missing = run_pare({"compress", model("fmnist_cnn"), "-o", dir.file("x.pare"), "--calib",
                                    dir.file("nope.npy")});
  EXPECT_EQ(missing.exit_code, 2) << describe(missing);
  EXPECT_TRUE(contains(missing.err, "nope.npy")) << missing.err;
  CommandResult no_calib = run_pare({"compress", model("fmnist_cnn"), "-o", dir.file("x.pare")});
  EXPECT_EQ(no_calib.exit_code, 2) << describe(no_calib);
  EXPECT_FALSE(test::file_exists(dir.file("x.pare")));
}

TEST(CompressCli, BadPipelineOptionExits2) {
  test::TempDir dir;
  CommandResult r = run_pare({"compress", model("fmnist_mlp"), "-o", dir.file("x.pare"), "--calib", calib(),
                              "--passes", "fold,dce,quantize(calib=median)"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "median")) << r.err;
  EXPECT_FALSE(test::file_exists(dir.file("x.pare")));
}

TEST(CompressCli, BadPruneOptionExits2NamingIt) {
  test::TempDir dir;
  for (const char* option : {"sparsity=1.5", "pattern=3:7", "update=sgd"}) {
    CommandResult r = run_pare({"compress", model("fmnist_mlp"), "-o", dir.file("x.pare"), "--calib", calib(),
                                "--passes", std::string("fold,fold_batchnorm,prune(") + option + "),dce"});
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_TRUE(contains(r.err, option)) << r.err;
    EXPECT_FALSE(test::file_exists(dir.file("x.pare")));
  }
}

TEST(CompressCli, PruneReportsEachLayer) {
  test::TempDir dir;
  const std::string out = dir.file("mlp.pare"), report = dir.file("report.json");
  CommandResult r = run_pare({"compress", model("fmnist_mlp"), "-o", out, "--calib", calib(), "--report", report,
                              "--passes", "fold,fold_batchnorm,fuse_activation,remove_identity,prune(sparsity=0.8),nhwc,dce"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "pruned layers")) << r.out;
  const nlohmann::json j = nlohmann::json::parse(test::read_file(report));
  ASSERT_TRUE(j.contains("prune")) << j.dump(2);
  ASSERT_FALSE(j["prune"]["layers"].empty());
  ASSERT_FALSE(j["prune"]["decisions"].empty());
  bool said_update = false;  // which update ran and why, with its time
  for (const auto& d : j["prune"]["decisions"]) said_update |= contains(d.get<std::string>(), "update=obs");
  EXPECT_TRUE(said_update) << j["prune"]["decisions"].dump(2);
  int64_t params = 0, zeros = 0;
  for (const auto& l : j["prune"]["layers"]) {
    EXPECT_FALSE(l["node"].get<std::string>().empty());
    EXPECT_FALSE(l["decision"].get<std::string>().empty());
    EXPECT_LE(l["bytes_after"].get<size_t>(), l["bytes_before"].get<size_t>());
    if (l["target_sparsity"].get<double>() > 0) {
      params += l["params"].get<int64_t>();
      zeros += l["zeros_after"].get<int64_t>();
      EXPECT_LT(l["bytes_after"].get<size_t>(), l["bytes_before"].get<size_t>());
    }
  }
  EXPECT_NEAR(static_cast<double>(zeros) / static_cast<double>(params), 0.8, 1e-3);
}

}  // namespace
}  // namespace pare
