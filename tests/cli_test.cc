// The `pare` command line end to end: convert the Fashion-MNIST CNN, run and evaluate it on
// the first 100 test images, inspect it, and feed every command bad input (each must exit
// 2 with a message naming the file and leave nothing behind in the output folder).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "calibration/npy.h"
#include "formats/pare/writer.h"
#include "tests/support/onnx_builder.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

using test::CommandResult;
using test::OnnxBuilder;
using test::run_pare;

constexpr int64_t kRows = 100;
// testdata/README.md
constexpr char kCnnSha256[] = "03fc06152914b78f41524b61b85b11d23bdbb8103be0e64b0af14d03228f8daa";

std::string cnn_onnx() { return test::testdata_dir() + "/models/fmnist_cnn.onnx"; }

npy::Array first_rows(const npy::Array& a, int64_t rows) {
  npy::Array out = a;
  out.shape[0] = rows;
  out.data.resize(static_cast<size_t>(out.size()) * out.elem_size());
  return out;
}

std::vector<int64_t> argmax_rows(const npy::Array& scores) {
  int64_t rows = scores.shape[0], cols = scores.size() / rows;
  std::vector<int64_t> out;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = scores.as<float>() + r * cols;
    out.push_back(std::max_element(row, row + cols) - row);
  }
  return out;
}

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Shared by the tests: the CNN converted once, and the first 100 test images and labels.
struct Workspace {
  test::TempDir dir;
  std::string model = dir.file("cnn.pare");
  std::string images = dir.file("x100.npy");
  std::string labels = dir.file("labels100.npy");
  CommandResult convert;

  Workspace() {
    npy::write_npy(
        images,
        first_rows(npy::read_npy(test::testdata_dir() + "/data/fmnist_test_2000.npy"), kRows));
    npy::write_npy(labels, first_rows(npy::read_npy(test::testdata_dir() +
                                                    "/data/fmnist_test_2000_labels.npy"),
                                      kRows));
    convert = run_pare({"convert", cnn_onnx(), "-o", model});
  }
};

const Workspace& workspace() {
  static Workspace w;
  return w;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(workspace().convert.exit_code, 0) << describe(workspace().convert);
  }
  const Workspace& ws() const { return workspace(); }
};

// Expects exit 2, a "pare: error:" naming `named`, and an empty output folder.
void expect_bad_input(const CommandResult& r, const std::string& named, const test::TempDir& out) {
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "pare: error:")) << describe(r);
  EXPECT_TRUE(contains(r.err, named)) << "message should name " << named << "\n" << describe(r);
  EXPECT_TRUE(test::list_dir(out.path()).empty()) << describe(r);
}

TEST(CliUsage, VersionAndHelpSucceed) {
  CommandResult v = run_pare({"--version"});
  EXPECT_EQ(v.exit_code, 0) << describe(v);
  EXPECT_EQ(v.out.rfind("pare ", 0), 0u) << describe(v);
  EXPECT_TRUE(std::any_of(v.out.begin(), v.out.end(), ::isdigit)) << describe(v);

  CommandResult h = run_pare({"--help"});
  EXPECT_EQ(h.exit_code, 0) << describe(h);
  for (const char* cmd : {"convert", "run", "eval", "inspect", "passes"})
    EXPECT_TRUE(contains(h.out, cmd)) << cmd << "\n" << describe(h);

  for (const char* cmd : {"convert", "run", "eval", "inspect", "passes"}) {
    CommandResult c = run_pare({cmd, "--help"});
    EXPECT_EQ(c.exit_code, 0) << describe(c);
    EXPECT_TRUE(contains(c.out, cmd)) << describe(c);
  }
  CommandResult run_help = run_pare({"run", "--help"});
  EXPECT_TRUE(contains(run_help.out, "--input")) << describe(run_help);
  EXPECT_TRUE(contains(run_help.out, "--threads")) << describe(run_help);
}

TEST(CliUsage, BadUsageExits2) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--no-such-flag"},
        {"run", "--no-such-flag"},
        {},
        {"frobnicate"},
        {"convert", "model.onnx"} /* no -o */,
        {"run", "m.pare", "--input", "x.npy"} /* no -o */,
        {"run", "m.pare", "-i", "x.npy", "-o", "y.npy", "--threads", "0"},
        {"eval", "m.pare", "--data", "x.npy"} /* no --labels */}) {
    CommandResult r = run_pare(args);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_FALSE(r.err.empty()) << describe(r);
  }
}

// `pare ops` lists what a selective runtime build needs: the selective runtime test is built
// from this exact list for the int8 CNN.
TEST(CliUsage, OpsListsTheOpTypesAndKernelFamiliesOfModelsSorted) {
  const std::string cnn_int8 = test::testdata_dir() + "/pare/fmnist_cnn_int8.pare";
  CommandResult r = run_pare({"ops", cnn_int8});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, test::read_file(test::source_dir() + "/tests/selective/cnn_int8.ops")) << describe(r);
  // Several models: the union, each op and family once.
  CommandResult both = run_pare({"ops", cnn_int8, test::testdata_dir() + "/pare/tiny_conv_int8.pare"});
  ASSERT_EQ(both.exit_code, 0) << describe(both);
  EXPECT_EQ(both.out,
            "Conv\nDequantizeLinear\nDiv\nGemm\nGlobalAveragePool\nMaxPool\nQuantizeLinear\nReduceMean\nReshape\nSub\n"
            "Transpose\nf32_eltwise\nf32_pool\nq8_dwconv\nq8_eltwise\nq8_gemm\nq8_winograd\nx32_transpose\n")
      << describe(both);
  CommandResult missing = run_pare({"ops", cnn_int8, "/nonexistent/model.pare"});
  EXPECT_EQ(missing.exit_code, 2) << describe(missing);
  EXPECT_TRUE(contains(missing.err, "/nonexistent/model.pare")) << describe(missing);
  EXPECT_TRUE(missing.out.empty()) << "nothing is printed for a partial list: " << describe(missing);
}

TEST(CliUsage, PassesListsTheRegistryAndDefaultPipeline) {
  CommandResult r = run_pare({"passes"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "default pipeline")) << describe(r);
  EXPECT_TRUE(contains(r.out, "fold")) << describe(r);
}

TEST_F(Cli, ConvertPrintsASummaryAndIsDeterministic) {
  EXPECT_TRUE(contains(ws().convert.out, "nodes")) << describe(ws().convert);
  EXPECT_TRUE(contains(ws().convert.out, "arena")) << describe(ws().convert);
  test::TempDir out;
  CommandResult again = run_pare({"convert", cnn_onnx(), "-o", out.file("again.pare")});
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_EQ(test::read_file(out.file("again.pare")), test::read_file(ws().model));
  EXPECT_EQ(test::list_dir(out.path()), std::vector<std::string>{"again.pare"});
}

TEST_F(Cli, RunStacksOutputsOverRowsAndMatchesOnnxRuntime) {
  test::TempDir out;
  CommandResult r =
      run_pare({"run", ws().model, "--input", ws().images, "--output", out.file("y.npy")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  npy::Array y = npy::read_npy(out.file("y.npy"));
  EXPECT_EQ(y.type, npy::ElemType::kFloat32);
  ASSERT_EQ(y.shape, (std::vector<int64_t>{kRows, 10}));

  // Row i of the output is image i's logits: compare with ONNX Runtime's.
  npy::Array ref =
      npy::read_npy(test::testdata_dir() + "/models/fmnist_cnn.ort_logits_first2000.npy");
  float max_diff = 0;
  for (int64_t i = 0; i < y.size(); ++i)
    max_diff = std::max(max_diff, std::fabs(y.as<float>()[i] - ref.as<float>()[i]));
  EXPECT_LT(max_diff, 1e-3f);
  EXPECT_EQ(test::list_dir(out.path()), std::vector<std::string>{"y.npy"});

  // Two threads give the same bytes; so do a named input and float64 data.
  npy::Array x64 = npy::read_npy(ws().images);
  npy::Array as_double;
  as_double.type = npy::ElemType::kFloat64;
  as_double.shape = x64.shape;
  as_double.data.resize(static_cast<size_t>(x64.size()) * 8);
  for (int64_t i = 0; i < x64.size(); ++i) as_double.as<double>()[i] = x64.as<float>()[i];
  npy::write_npy(out.file("x64.npy"), as_double);
  CommandResult r2 = run_pare({"run", ws().model, "--input", "image=" + out.file("x64.npy"),
                               "--output", out.file("y2.npy"), "--threads", "2"});
  ASSERT_EQ(r2.exit_code, 0) << describe(r2);
  EXPECT_EQ(test::read_file(out.file("y2.npy")), test::read_file(out.file("y.npy")));
}

TEST_F(Cli, RunTakesTheModelShapeAndWritesNpz) {
  test::TempDir out;
  npy::Array one = first_rows(npy::read_npy(ws().images), 1);
  ASSERT_EQ(one.shape, (std::vector<int64_t>{1, 1, 28, 28}));
  npy::write_npy(out.file("one.npy"), one);
  CommandResult r =
      run_pare({"run", ws().model, "-i", out.file("one.npy"), "-o", out.file("y.npz")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto members = npy::read_npz(out.file("y.npz"));
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].first, "logits");
  EXPECT_EQ(members[0].second.shape, (std::vector<int64_t>{1, 10}));
}

TEST_F(Cli, EvalCountsArgmaxMatches) {
  // The reference: argmax of `pare run`'s logits against the labels.
  test::TempDir out;
  CommandResult r =
      run_pare({"run", ws().model, "--input", ws().images, "--output", out.file("y.npy")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  std::vector<int64_t> predicted = argmax_rows(npy::read_npy(out.file("y.npy")));
  npy::Array labels = npy::read_npy(ws().labels);
  int64_t correct = 0;
  for (int64_t i = 0; i < kRows; ++i)
    correct += predicted[static_cast<size_t>(i)] == labels.as<int64_t>()[i];

  CommandResult j =
      run_pare({"eval", ws().model, "--data", ws().images, "--labels", ws().labels, "--json"});
  ASSERT_EQ(j.exit_code, 0) << describe(j);
  nlohmann::json report = nlohmann::json::parse(j.out);
  EXPECT_EQ(report.at("count").get<int64_t>(), kRows);
  EXPECT_EQ(report.at("correct").get<int64_t>(), correct);
  double top1 = report.at("top1").get<double>();
  EXPECT_GE(top1, 0.0);
  EXPECT_LE(top1, 1.0);
  EXPECT_DOUBLE_EQ(top1, static_cast<double>(correct) / kRows);
  EXPECT_GT(top1, 0.8);  // a trained model (93.5% on the first 2,000)
  EXPECT_EQ(report.at("model").get<std::string>(), ws().model);

  // int32 labels and the text form.
  npy::Array labels32;
  labels32.type = npy::ElemType::kInt32;
  labels32.shape = labels.shape;
  labels32.data.resize(static_cast<size_t>(labels.size()) * 4);
  for (int64_t i = 0; i < labels.size(); ++i)
    labels32.as<int32_t>()[i] = static_cast<int32_t>(labels.as<int64_t>()[i]);
  npy::write_npy(out.file("l32.npy"), labels32);
  CommandResult t =
      run_pare({"eval", ws().model, "--data", ws().images, "--labels", out.file("l32.npy")});
  ASSERT_EQ(t.exit_code, 0) << describe(t);
  char expected[64];
  std::snprintf(expected, sizeof expected, "top-1: %.4f (%lld/%lld)", top1,
                static_cast<long long>(correct), static_cast<long long>(kRows));
  EXPECT_TRUE(contains(t.out, expected)) << expected << "\n" << describe(t);
}

TEST_F(Cli, InspectJsonDescribesTheModel) {
  CommandResult r = run_pare({"inspect", ws().model, "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  nlohmann::json j = nlohmann::json::parse(r.out);
  for (const char* field : {"inputs", "outputs", "ops", "nodes", "param_bytes", "file_bytes",
                            "arena_bytes", "activation_bytes", "metadata"})
    EXPECT_TRUE(j.contains(field)) << field;
  ASSERT_EQ(j["inputs"].size(), 1u);
  EXPECT_EQ(j["inputs"][0]["name"], "image");
  EXPECT_EQ(j["inputs"][0]["dtype"], "float32");
  EXPECT_EQ(j["inputs"][0]["shape"], (std::vector<int64_t>{1, 1, 28, 28}));
  ASSERT_EQ(j["outputs"].size(), 1u);
  EXPECT_EQ(j["outputs"][0]["name"], "logits");
  EXPECT_EQ(j["outputs"][0]["shape"], (std::vector<int64_t>{1, 10}));

  EXPECT_EQ(j["file_bytes"].get<size_t>(), test::read_file(ws().model).size());
  size_t histogram_total = 0;
  for (const auto& [op, count] : j["ops"].items()) histogram_total += count.get<size_t>();
  EXPECT_EQ(histogram_total, j["nodes"].size());
  EXPECT_GT(j["ops"].value("Conv", 0), 0);
  // Every weight of this model feeds exactly one node.
  size_t node_params = 0;
  for (const auto& node : j["nodes"]) node_params += node["param_bytes"].get<size_t>();
  EXPECT_EQ(node_params, j["param_bytes"].get<size_t>());
  EXPECT_GT(j["param_bytes"].get<size_t>(), 4u * 200000);  // 241,898 trained parameters, fp32
  EXPECT_GT(j["arena_bytes"].get<size_t>(), 0u);
  EXPECT_GE(j["activation_bytes"].get<size_t>(), j["arena_bytes"].get<size_t>());

  EXPECT_EQ(j["metadata"]["source_file"], "fmnist_cnn.onnx");
  EXPECT_EQ(j["metadata"]["source_hash"], kCnnSha256);
  EXPECT_FALSE(j["metadata"]["pipeline"].get<std::string>().empty());
  EXPECT_FALSE(j["metadata"]["producer_version"].get<std::string>().empty());

  CommandResult text = run_pare({"inspect", ws().model});
  ASSERT_EQ(text.exit_code, 0) << describe(text);
  EXPECT_TRUE(contains(text.out, "Conv")) << describe(text);
  EXPECT_TRUE(contains(text.out, kCnnSha256)) << describe(text);
}

TEST(CliConvert, RejectsBadModels) {
  test::TempDir in, out;
  std::string missing = in.file("missing.onnx");
  expect_bad_input(run_pare({"convert", missing, "-o", out.file("m.pare")}), missing, out);

  std::string text = in.file("notes.onnx");
  test::write_file(text, "this is not a model\n");
  expect_bad_input(run_pare({"convert", text, "-o", out.file("m.pare")}), text, out);

  std::string onnx = test::read_file(cnn_onnx());
  std::string truncated = in.file("truncated.onnx");
  test::write_file(truncated, onnx.substr(0, onnx.size() / 2));
  expect_bad_input(run_pare({"convert", truncated, "-o", out.file("m.pare")}), truncated, out);

  CommandResult bad_pipeline =
      run_pare({"convert", cnn_onnx(), "-o", out.file("m.pare"), "--passes", "no_such_pass"});
  expect_bad_input(bad_pipeline, "no_such_pass", out);
}

TEST_F(Cli, RunAndInspectRejectDamagedModels) {
  test::TempDir in, out;
  std::string good = test::read_file(ws().model);
  std::string truncated = good.substr(0, good.size() / 2);
  std::string bad_identifier = good;
  bad_identifier.replace(8, 4, "XXXX");  // after the size prefix and the root offset
  std::string bad_size = good;
  bad_size[3] = static_cast<char>(0x7f);  // the size prefix claims more than the file holds
  for (const auto& [name, bytes] :
       std::vector<std::pair<std::string, std::string>>{{"truncated.pare", truncated},
                                                        {"identifier.pare", bad_identifier},
                                                        {"size.pare", bad_size},
                                                        {"text.pare", "not a model"}}) {
    std::string path = in.file(name);
    test::write_file(path, bytes);
    expect_bad_input(run_pare({"run", path, "--input", ws().images, "--output", out.file("y.npy")}),
                     path, out);
    expect_bad_input(run_pare({"inspect", path}), path, out);
  }
}

TEST_F(Cli, RunRejectsBadInputs) {
  test::TempDir in, out;
  npy::Array x = npy::read_npy(ws().images);

  npy::Array flat = x;
  flat.shape = {kRows, 28, 28};
  std::string wrong_shape = in.file("flat.npy");
  npy::write_npy(wrong_shape, flat);
  CommandResult r =
      run_pare({"run", ws().model, "--input", wrong_shape, "--output", out.file("y.npy")});
  expect_bad_input(r, wrong_shape, out);
  EXPECT_TRUE(contains(r.err, "[100,28,28]")) << describe(r);
  EXPECT_TRUE(contains(r.err, "[1,1,28,28]")) << describe(r);
  EXPECT_TRUE(contains(r.err, "'image'")) << describe(r);

  npy::Array ints;
  ints.type = npy::ElemType::kUInt8;
  ints.shape = x.shape;
  ints.data.resize(static_cast<size_t>(x.size()));
  std::string wrong_dtype = in.file("uint8.npy");
  npy::write_npy(wrong_dtype, ints);
  r = run_pare({"run", ws().model, "--input", wrong_dtype, "--output", out.file("y.npy")});
  expect_bad_input(r, wrong_dtype, out);
  EXPECT_TRUE(contains(r.err, "uint8")) << describe(r);

  std::string missing = in.file("missing.npy");
  expect_bad_input(run_pare({"run", ws().model, "--input", missing, "--output", out.file("y.npy")}),
                   missing, out);

  std::string not_npy = in.file("text.npy");
  test::write_file(not_npy, "1 2 3\n");
  expect_bad_input(run_pare({"run", ws().model, "--input", not_npy, "--output", out.file("y.npy")}),
                   not_npy, out);

  r = run_pare(
      {"run", ws().model, "--input", "nope=" + ws().images, "--output", out.file("y.npy")});
  expect_bad_input(r, "nope", out);
  EXPECT_TRUE(contains(r.err, "'image'")) << describe(r);

  std::string no_folder = out.file("no/such/folder/y.npy");
  expect_bad_input(run_pare({"run", ws().model, "--input", ws().images, "--output", no_folder}),
                   no_folder, out);
}

TEST_F(Cli, EvalRejectsLabelsOfTheWrongLength) {
  test::TempDir in, out;
  npy::Array labels = first_rows(npy::read_npy(ws().labels), kRows - 1);
  std::string short_labels = in.file("labels99.npy");
  npy::write_npy(short_labels, labels);
  CommandResult r = run_pare({"eval", ws().model, "--data", ws().images, "--labels", short_labels});
  expect_bad_input(r, short_labels, out);
  EXPECT_TRUE(contains(r.err, "99")) << describe(r);
  EXPECT_TRUE(contains(r.err, "100")) << describe(r);

  std::string float_labels = in.file("float_labels.npy");
  npy::write_npy(float_labels, first_rows(npy::read_npy(ws().images), kRows));
  expect_bad_input(run_pare({"eval", ws().model, "--data", ws().images, "--labels", float_labels}),
                   float_labels, out);
}

template <typename T>
npy::Array array(npy::ElemType type, std::vector<int64_t> shape, const std::vector<T>& values) {
  npy::Array a;
  a.type = type;
  a.shape = std::move(shape);
  a.data.resize(values.size() * sizeof(T));
  std::memcpy(a.data.data(), values.data(), a.data.size());
  return a;
}

template <typename T>
std::vector<T> values_of(const npy::Array& a) {
  return std::vector<T>(a.as<T>(), a.as<T>() + a.size());
}

// s = a + b and p = a * b over [1,4] inputs: two inputs bound by name, two outputs.
class CliTwoInputs : public ::testing::Test {
 protected:
  void SetUp() override {
    OnnxBuilder b(17);
    b.input("a", {1, 4}).input("b", {1, 4});
    b.node("Add", {"a", "b"}, {"s"});
    b.node("Mul", {"a", "b"}, {"p"});
    b.output("s", {1, 4}).output("p", {1, 4});
    b.save(dir.file("two.onnx"));
    CommandResult c = run_pare({"convert", dir.file("two.onnx"), "-o", model});
    ASSERT_EQ(c.exit_code, 0) << describe(c);
    npy::write_npy(
        a, array<float>(npy::ElemType::kFloat32, {3, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
    npy::write_npy(b3, array<float>(npy::ElemType::kFloat32, {3, 4},
                                    {2, 2, 2, 2, -1, -1, -1, -1, 0.5f, 0.5f, 0.5f, 0.5f}));
    npy::write_npy(b2, array<float>(npy::ElemType::kFloat32, {2, 4}, {0, 0, 0, 0, 0, 0, 0, 0}));
  }
  test::TempDir dir, out;
  std::string model = dir.file("two.pare"), a = dir.file("a.npy"), b3 = dir.file("b3.npy"),
              b2 = dir.file("b2.npy");
};

TEST_F(CliTwoInputs, BindsByNameAndWritesEveryOutputToNpz) {
  CommandResult r = run_pare(
      {"run", model, "--input", "b=" + b3, "--input", "a=" + a, "--output", out.file("y.npz")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto members = npy::read_npz(out.file("y.npz"));
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].first, "s");
  EXPECT_EQ(members[0].second.shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(values_of<float>(members[0].second),
            (std::vector<float>{3, 4, 5, 6, 4, 5, 6, 7, 9.5f, 10.5f, 11.5f, 12.5f}));
  EXPECT_EQ(members[1].first, "p");
  EXPECT_EQ(values_of<float>(members[1].second),
            (std::vector<float>{2, 4, 6, 8, -5, -6, -7, -8, 4.5f, 5, 5.5f, 6}));

  // A .npy path holds the first output, with a warning.
  r = run_pare(
      {"run", model, "--input", "a=" + a, "--input", "b=" + b3, "--output", out.file("s.npy")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.err, "pare: warning:")) << describe(r);
  EXPECT_EQ(values_of<float>(npy::read_npy(out.file("s.npy"))),
            values_of<float>(members[0].second));
}

TEST_F(CliTwoInputs, RejectsAmbiguousMissingAndMismatchedInputs) {
  CommandResult r = run_pare({"run", model, "--input", a, "--output", out.file("y.npz")});
  expect_bad_input(r, "NAME=FILE.npy", out);
  r = run_pare({"run", model, "--input", "a=" + a, "--output", out.file("y.npz")});
  expect_bad_input(r, "'b'", out);
  r = run_pare(
      {"run", model, "--input", "a=" + a, "--input", "a=" + b3, "--output", out.file("y.npz")});
  expect_bad_input(r, "'a'", out);
  r = run_pare(
      {"run", model, "--input", "a=" + a, "--input", "b=" + b2, "--output", out.file("y.npz")});
  expect_bad_input(r, b2, out);
  EXPECT_TRUE(contains(r.err, "[3,4]") && contains(r.err, "[2,4]")) << describe(r);
}

TEST(CliSmallModels, Int64InputsTakeInt32ArraysAndGiveInt64Outputs) {
  test::TempDir dir;
  OnnxBuilder b(17);
  b.input("x", {1, 3}, onnx::TensorProto::INT64);
  b.initializer(test::tensor<int64_t>("k", {1, 3}, {10, 20, 30}));
  b.node("Add", {"x", "k"}, {"y"});
  b.output("y", {1, 3}, onnx::TensorProto::INT64);
  b.save(dir.file("int.onnx"));
  CommandResult c = run_pare({"convert", dir.file("int.onnx"), "-o", dir.file("int.pare")});
  ASSERT_EQ(c.exit_code, 0) << describe(c);
  npy::write_npy(dir.file("x.npy"),
                 array<int32_t>(npy::ElemType::kInt32, {2, 3}, {1, 2, 3, -4, -5, -6}));
  CommandResult r =
      run_pare({"run", dir.file("int.pare"), "-i", dir.file("x.npy"), "-o", dir.file("y.npy")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  npy::Array y = npy::read_npy(dir.file("y.npy"));
  EXPECT_EQ(y.type, npy::ElemType::kInt64);
  EXPECT_EQ(y.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(values_of<int64_t>(y), (std::vector<int64_t>{11, 22, 33, 6, 15, 24}));
}

// A dim no device can hold (2^40 floats) is the model's fault: exit 2 with the sizes, no file.
TEST(CliSmallModels, TensorsBeyondTheSizeLimitAreBadInput) {
  test::TempDir dir, out;
  OnnxBuilder b(17);
  b.input("x", {1, int64_t{1} << 40});
  b.node("Relu", {"x"}, {"y"});
  b.output("y", {1, int64_t{1} << 40});
  b.save(dir.file("huge.onnx"));
  CommandResult r = run_pare({"convert", dir.file("huge.onnx"), "-o", out.file("huge.pare")});
  expect_bad_input(r, dir.file("huge.onnx"), out);
  EXPECT_TRUE(contains(r.err, "tensor 'x' of shape [1,1099511627776] needs 4398046511104 bytes")) << describe(r);

  // The same through --input-shape on a symbolic dim.
  OnnxBuilder s(17);
  s.input("x", {"N", 1024});
  s.node("Relu", {"x"}, {"y"});
  s.output("y", {"N", 1024});
  s.save(dir.file("sym.onnx"));
  r = run_pare({"convert", dir.file("sym.onnx"), "-o", out.file("sym.pare"), "--input-shape", "x:99999999999x1024"});
  expect_bad_input(r, dir.file("sym.onnx"), out);
  EXPECT_TRUE(contains(r.err, "64 GiB")) << describe(r);
}

TEST_F(Cli, VerifyChecksStructureContentHashExpectedSha256AndPrepare) {
  CommandResult r = run_pare({"verify", ws().model});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "the stored SHA-256 matches the bytes")) << describe(r);
  const std::string sha = format::sha256_file(ws().model);
  EXPECT_TRUE(contains(r.out, sha)) << describe(r);
  EXPECT_TRUE(contains(r.out, "11 kernels ready")) << describe(r);

  r = run_pare({"verify", ws().model, "--sha256", sha});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "(as expected)")) << describe(r);
  std::string upper = sha;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(run_pare({"verify", ws().model, "--sha256", upper}).exit_code, 0);

  std::string other = sha;
  other[0] = other[0] == '0' ? '1' : '0';
  r = run_pare({"verify", ws().model, "--sha256", other});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "is not the expected " + other)) << describe(r);
  r = run_pare({"verify", ws().model, "--sha256", "abc"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "--sha256: 'abc' is not a SHA-256")) << describe(r);

  // A weight byte changed after writing: the loader's checks pass, run would too, the hash
  // does not.
  test::TempDir dir;
  std::string bytes = test::read_file(ws().model);
  bytes[bytes.size() - 100] ^= 0x40;
  const std::string damaged = dir.file("damaged.pare");
  test::write_file(damaged, bytes);
  r = run_pare({"verify", damaged});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, damaged)) << describe(r);
  EXPECT_TRUE(contains(r.err, "content hash mismatch")) << describe(r);

  r = run_pare({"verify", dir.file("missing.pare")});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "missing.pare")) << describe(r);
}

TEST_F(Cli, MaxMemoryRefusesModelsThatNeedMoreNamingTheSizes) {
  test::TempDir out;
  for (const char* command : {"run", "eval", "bench"}) {
    std::vector<std::string> args = {command, ws().model, "--max-memory", "1M"};
    if (std::string(command) == "run") args.insert(args.end(), {"--input", ws().images, "-o", out.file("y.npy")});
    if (std::string(command) == "eval") args.insert(args.end(), {"--data", ws().images, "--labels", ws().labels});
    CommandResult r = run_pare(args);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_TRUE(contains(r.err, ws().model)) << describe(r);
    EXPECT_TRUE(contains(r.err, "the memory limit (--max-memory) is 1048576 bytes (1.0 MiB)")) << describe(r);
    EXPECT_TRUE(contains(r.err, "activations 301056 bytes")) << describe(r);
  }
  EXPECT_TRUE(test::list_dir(out.path()).empty());
  CommandResult r = run_pare({"run", ws().model, "--input", ws().images, "-o", out.file("y.npy"), "--max-memory", "64MiB"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  for (const char* bad : {"lots", "1X", "-5", "0", "12.5.1G"}) {
    r = run_pare({"run", ws().model, "--input", ws().images, "-o", out.file("z.npy"), "--max-memory", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << "\n" << describe(r);
    EXPECT_TRUE(contains(r.err, "--max-memory")) << describe(r);
  }
}

// A model whose activations take 32 GiB: the file is small and loads, and run refuses it with
// the sizes before allocating anything (by default the limit is the machine's memory).
TEST(CliSmallModels, ModelsNeedingMoreMemoryThanTheMachineAreBadInput) {
  test::TempDir dir, out;
  OnnxBuilder b(17);
  b.input("x", {1, int64_t{1} << 33});
  b.node("Relu", {"x"}, {"y"});
  b.node("Neg", {"y"}, {"z"});
  b.output("z", {1, int64_t{1} << 33});
  b.save(dir.file("big.onnx"));
  const std::string model = dir.file("big.pare");
  CommandResult r = run_pare({"convert", dir.file("big.onnx"), "-o", model});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  npy::Array x;
  x.shape = {1, 4};
  x.data.resize(16);
  npy::write_npy(dir.file("x.npy"), x);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"run", model, "--input", dir.file("x.npy"), "-o", out.file("y.npy")},
        std::vector<std::string>{"bench", model}, std::vector<std::string>{"verify", model}}) {
    r = run_pare(args);
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_TRUE(contains(r.err, model)) << describe(r);
    EXPECT_TRUE(contains(r.err, "the model needs at least")) << describe(r);
    EXPECT_TRUE(contains(r.err, "GiB")) << describe(r);
  }
  EXPECT_TRUE(test::list_dir(out.path()).empty());
}

TEST(CliSmallModels, SymbolicDimsNeedInputShapeAndBatchesRunInBlocks) {
  test::TempDir dir, out;
  OnnxBuilder b(17);
  b.input("x", {"N", 2});
  b.node("Relu", {"x"}, {"y"});
  b.output("y", {"N", 2});
  b.save(dir.file("sym.onnx"));

  CommandResult r = run_pare({"convert", dir.file("sym.onnx"), "-o", out.file("sym.pare")});
  expect_bad_input(r, dir.file("sym.onnx"), out);
  EXPECT_TRUE(contains(r.err, "--input-shape")) << describe(r);

  r = run_pare(
      {"convert", dir.file("sym.onnx"), "-o", out.file("sym.pare"), "--input-shape", "x:2x2"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  // Batch 2: six rows run as three blocks of two, stacked back in order.
  npy::write_npy(dir.file("x.npy"), array<float>(npy::ElemType::kFloat32, {6, 2},
                                                 {1, -1, -2, 2, 3, -3, -4, 4, 5, -5, -6, 6}));
  r = run_pare({"run", out.file("sym.pare"), "-i", dir.file("x.npy"), "-o", out.file("y.npy")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  npy::Array y = npy::read_npy(out.file("y.npy"));
  EXPECT_EQ(y.shape, (std::vector<int64_t>{6, 2}));
  EXPECT_EQ(values_of<float>(y), (std::vector<float>{1, 0, 0, 2, 3, 0, 0, 4, 5, 0, 0, 6}));

  // Five rows do not split into blocks of two.
  npy::write_npy(dir.file("x5.npy"),
                 array<float>(npy::ElemType::kFloat32, {5, 2}, std::vector<float>(10, 1.f)));
  r = run_pare({"run", out.file("sym.pare"), "-i", dir.file("x5.npy"), "-o", out.file("y5.npy")});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "multiple of 2")) << describe(r);
  EXPECT_FALSE(test::file_exists(out.file("y5.npy")));
}

TEST(CliSmallModels, UnsupportedOpIsBadInput) {
  test::TempDir dir, out;
  OnnxBuilder b(17);
  b.input("x", {1, 4});
  b.node("Hardmax", {"x"}, {"y"}, {}, "my_hardmax");
  b.output("y", {1, 4});
  b.save(dir.file("hardmax.onnx"));
  CommandResult r = run_pare({"convert", dir.file("hardmax.onnx"), "-o", out.file("m.pare")});
  expect_bad_input(r, dir.file("hardmax.onnx"), out);
  EXPECT_TRUE(contains(r.err, "Hardmax")) << describe(r);
}

}  // namespace
}  // namespace pare
