// `pare bench` end to end on the converted Fashion-MNIST CNN: the JSON contract that scripts
// read (field names, sane statistics), the per-node profile (every node by its source name),
// the text report, and bad arguments (exit 2 with a message).
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/support/test_util.h"

namespace pare {
namespace {

using test::CommandResult;
using test::run_pare;

// Few runs keep the test quick; the statistics are checked for consistency, not speed.
constexpr int kIterations = 5;
constexpr int kWarmup = 2;

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

struct Workspace {
  test::TempDir dir;
  std::string model = dir.file("cnn.pare");
  CommandResult convert, inspect;
  std::vector<std::string> node_names;  // from `pare inspect --json`, execution order

  Workspace() {
    convert = run_pare({"convert", test::testdata_dir() + "/models/fmnist_cnn.onnx", "-o", model});
    if (convert.exit_code != 0) return;
    inspect = run_pare({"inspect", model, "--json"});
    if (inspect.exit_code != 0) return;
    const nlohmann::json model_json = nlohmann::json::parse(inspect.out);
    for (const nlohmann::json& node : model_json["nodes"])
      node_names.push_back(node["name"].get<std::string>());
  }
};

const Workspace& workspace() {
  static Workspace w;
  return w;
}

class BenchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(ws().convert.exit_code, 0) << describe(ws().convert);
    ASSERT_EQ(ws().inspect.exit_code, 0) << describe(ws().inspect);
    ASSERT_FALSE(ws().node_names.empty()) << describe(ws().inspect);
  }
  const Workspace& ws() const { return workspace(); }

  // Runs bench with --json and the given extra arguments; parses stdout.
  nlohmann::json bench_json(std::vector<std::string> extra) {
    std::vector<std::string> args = {"bench", ws().model, "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = run_pare(args);
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "stdout is not one JSON object\n" << describe(r);
    return j;
  }
};

TEST_F(BenchCli, JsonHasTheContractFieldsWithSaneValues) {
  nlohmann::json j = bench_json({"--iterations", std::to_string(kIterations), "--warmup",
                                 std::to_string(kWarmup), "--threads", "2"});
  ASSERT_TRUE(j.is_object()) << j.dump();
  for (const char* key : {"median_ms", "p90_ms", "min_ms", "mean_ms", "threads", "iterations",
                          "warmup", "load_ms", "peak_rss_kb", "isa", "model"})
    ASSERT_TRUE(j.contains(key)) << key << " missing in " << j.dump();

  const double median = j["median_ms"], p90 = j["p90_ms"], min = j["min_ms"],
               mean = j["mean_ms"];
  EXPECT_GT(min, 0.0);
  EXPECT_GE(median, min);
  EXPECT_GE(p90, median);
  EXPECT_GE(mean, min);
  EXPECT_EQ(j["iterations"].get<int>(), kIterations);
  EXPECT_EQ(j["warmup"].get<int>(), kWarmup);
  EXPECT_EQ(j["threads"].get<int>(), 2);
  EXPECT_GT(j["load_ms"].get<double>(), 0.0);
  EXPECT_GT(j["peak_rss_kb"].get<long>(), 0);
  EXPECT_FALSE(j["isa"].get<std::string>().empty());
  EXPECT_EQ(j["model"].get<std::string>(), ws().model);
  EXPECT_EQ(j["model_bytes"].get<size_t>(), test::read_file(ws().model).size());
  EXPECT_FALSE(j.contains("profile")) << "profile is listed only with --profile";
}

TEST_F(BenchCli, DefaultsAreOneThreadFiftyRunsFiveWarmups) {
  nlohmann::json j = bench_json({});
  EXPECT_EQ(j["threads"].get<int>(), 1);
  EXPECT_EQ(j["iterations"].get<int>(), 50);
  EXPECT_EQ(j["warmup"].get<int>(), 5);
}

TEST_F(BenchCli, JsonProfileListsEveryNodeSlowestFirst) {
  nlohmann::json j =
      bench_json({"--iterations", std::to_string(kIterations), "--warmup", "0", "--profile"});
  ASSERT_TRUE(j.contains("profile")) << j.dump();
  const nlohmann::json& rows = j["profile"];
  ASSERT_EQ(rows.size(), ws().node_names.size()) << rows.dump();

  std::multiset<std::string> profiled, expected(ws().node_names.begin(), ws().node_names.end());
  double share_sum = 0, previous_total = 1e300;
  for (const nlohmann::json& row : rows) {
    profiled.insert(row["name"].get<std::string>());
    EXPECT_FALSE(row["op"].get<std::string>().empty()) << row.dump();
    EXPECT_FALSE(row["kernel"].get<std::string>().empty()) << row.dump();
    EXPECT_EQ(row["runs"].get<int>(), kIterations) << row.dump();
    const double total = row["total_ms"], mean = row["mean_ms"], share = row["share"];
    EXPECT_GE(total, 0.0) << row.dump();
    EXPECT_NEAR(mean * kIterations, total, 1e-9 + 1e-9 * total) << row.dump();
    EXPECT_LE(total, previous_total) << "rows must be sorted by total time";
    previous_total = total;
    EXPECT_GE(share, 0.0);
    EXPECT_LE(share, 1.0);
    share_sum += share;
  }
  EXPECT_EQ(profiled, expected);
  EXPECT_NEAR(share_sum, 1.0, 1e-6);
}

TEST_F(BenchCli, TextReportShowsLatencyMemoryAndProfile) {
  CommandResult r = run_pare({"bench", ws().model, "--iterations", std::to_string(kIterations),
                              "--warmup", "1", "--profile"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  for (const char* label : {"median", "p90", "min", "mean", "load", "peak RSS", "isa", "share"})
    EXPECT_TRUE(contains(r.out, label)) << label << "\n" << describe(r);
  // The CNN has fewer nodes than the text table's top 20, so every one is listed.
  ASSERT_LE(ws().node_names.size(), 20u);
  for (const std::string& name : ws().node_names)
    EXPECT_TRUE(contains(r.out, name)) << name << "\n" << describe(r);

  CommandResult plain = run_pare({"bench", ws().model, "--iterations", "2", "--warmup", "0"});
  ASSERT_EQ(plain.exit_code, 0) << describe(plain);
  EXPECT_FALSE(contains(plain.out, ws().node_names.front())) << "no per-node table without --profile";
}

TEST_F(BenchCli, BadArgumentsExit2WithAMessage) {
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--iterations", "0"},
        {"--iterations", "-3"},
        {"--threads", "0"},
        {"--warmup", "-1"},
        {"--iterations", "many"},
        {"--no-such-flag"}}) {
    std::vector<std::string> args = {"bench", ws().model};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = run_pare(args);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_FALSE(r.err.empty()) << describe(r);
    EXPECT_TRUE(r.out.empty()) << describe(r);
  }
  CommandResult no_model = run_pare({"bench"});
  EXPECT_EQ(no_model.exit_code, 2) << describe(no_model);
}

TEST_F(BenchCli, MissingOrDamagedModelsExit2NamingTheFile) {
  test::TempDir dir;
  std::string good = test::read_file(ws().model);
  std::string truncated = dir.file("truncated.pare");
  test::write_file(truncated, good.substr(0, good.size() / 2));
  std::string text = dir.file("notes.pare");
  test::write_file(text, "this is not a model\n");
  std::string missing = dir.file("missing.pare");

  for (const std::string& path : {missing, truncated, text}) {
    CommandResult r = run_pare({"bench", path, "--json"});
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_TRUE(contains(r.err, "pare: error:")) << describe(r);
    EXPECT_TRUE(contains(r.err, path)) << "message should name " << path << "\n" << describe(r);
    EXPECT_TRUE(r.out.empty()) << "no report for a model that did not load\n" << describe(r);
  }
}

TEST(BenchCliUsage, HelpListsBenchAndItsOptions) {
  CommandResult top = run_pare({"--help"});
  EXPECT_EQ(top.exit_code, 0) << describe(top);
  EXPECT_TRUE(contains(top.out, "bench")) << describe(top);
  CommandResult help = run_pare({"bench", "--help"});
  EXPECT_EQ(help.exit_code, 0) << describe(help);
  for (const char* option : {"--threads", "--iterations", "--warmup", "--profile", "--json"})
    EXPECT_TRUE(contains(help.out, option)) << option << "\n" << describe(help);
}

}  // namespace
}  // namespace pare
