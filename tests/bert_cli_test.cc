// int64 inputs on the command line, with the BERT-class encoder of testdata (input_ids and
// attention_mask, int64 [1,64]): `pare run` and `pare eval` with an .npz of one array per
// input or NAME=FILE.npy, `pare bench` with and without real inputs, `pare compress --calib`
// from an .npz of int64 arrays; and bad inputs (wrong dtype, missing or unknown member,
// wrong shape), each exit 2 naming the input and the file, nothing written.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "calibration/npy.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

using test::CommandResult;
using test::run_pare;

constexpr int64_t kRows = 16, kSeq = 64, kLabels = 4;

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

void expect_bad_input(const CommandResult& r, const std::vector<std::string>& named, const test::TempDir& out) {
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "pare: error:")) << describe(r);
  for (const std::string& n : named) EXPECT_TRUE(contains(r.err, n)) << "message should name " << n << "\n" << describe(r);
  EXPECT_TRUE(test::list_dir(out.path()).empty()) << describe(r);
}

npy::Array first_rows(const npy::Array& a, int64_t rows) {
  npy::Array out = a;
  out.shape[0] = rows;
  out.data.resize(static_cast<size_t>(out.size()) * out.elem_size());
  return out;
}

npy::Array to_type(const npy::Array& a, npy::ElemType type) {
  npy::Array out;
  out.type = type;
  out.shape = a.shape;
  out.data.resize(static_cast<size_t>(a.size()) * sizeof(int32_t));  // int32 or float32
  for (int64_t i = 0; i < a.size(); ++i) {
    if (type == npy::ElemType::kInt32)
      out.as<int32_t>()[i] = static_cast<int32_t>(a.as<int64_t>()[i]);
    else
      out.as<float>()[i] = static_cast<float>(a.as<int64_t>()[i]);
  }
  return out;
}

npy::Array member(const std::vector<std::pair<std::string, npy::Array>>& members, const std::string& name) {
  for (const auto& m : members)
    if (m.first == name) return m.second;
  ADD_FAILURE() << "no member " << name;
  return {};
}

// The encoder converted once; the first 16 stored sequences as .npz and .npy files.
struct Workspace {
  test::TempDir dir;
  std::string onnx = test::testdata_dir() + "/models/bert_tiny.onnx";
  std::string model = dir.file("bert.pare");
  std::string inputs = dir.file("inputs.npz");
  std::string ids = dir.file("ids.npy"), mask = dir.file("mask.npy");
  std::string calib = dir.file("calib.npz");
  npy::Array ids_array, mask_array, reference;

  Workspace() {
    CommandResult c = run_pare({"convert", onnx, "-o", model, "--input-shape", "input_ids:1x64", "--input-shape",
                                "attention_mask:1x64"});
    EXPECT_EQ(c.exit_code, 0) << describe(c);
    const auto all = npy::read_npz(test::testdata_dir() + "/data/bert_tiny_inputs_64.npz");
    ids_array = first_rows(member(all, "input_ids"), kRows);
    mask_array = first_rows(member(all, "attention_mask"), kRows);
    npy::write_npz(inputs, {{"input_ids", ids_array}, {"attention_mask", mask_array}});
    npy::write_npy(ids, ids_array);
    npy::write_npy(mask, mask_array);
    reference = first_rows(npy::read_npy(test::testdata_dir() + "/models/bert_tiny.ort_logits_64.npy"), kRows);
    const auto cal = npy::read_npz(test::testdata_dir() + "/data/bert_tiny_calib_128.npz");
    npy::write_npz(calib, {{"input_ids", first_rows(member(cal, "input_ids"), 32)},
                           {"attention_mask", first_rows(member(cal, "attention_mask"), 32)}});
  }
};

const Workspace& ws() {
  static Workspace w;
  return w;
}

double max_diff(const npy::Array& a, const npy::Array& b) {
  EXPECT_EQ(a.shape, b.shape);
  double d = 0;
  for (int64_t i = 0; i < std::min(a.size(), b.size()); ++i)
    d = std::max(d, std::fabs(double{a.as<float>()[i]} - b.as<float>()[i]));
  return d;
}

TEST(BertCli, RunTakesNpzAndNamedInt64Arrays) {
  test::TempDir out;
  CommandResult r = run_pare({"run", ws().model, "--input", ws().inputs, "--output", out.file("y.npy")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const npy::Array y = npy::read_npy(out.file("y.npy"));
  EXPECT_EQ(y.shape, (std::vector<int64_t>{kRows, kLabels}));
  EXPECT_LE(max_diff(y, ws().reference), 1e-4);

  r = run_pare({"run", ws().model, "--input", "input_ids=" + ws().ids, "--input", "attention_mask=" + ws().mask,
                "--output", out.file("named.npy")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(max_diff(npy::read_npy(out.file("named.npy")), y), 0);

  // int32 arrays feed int64 inputs; an .npz member bound by name mixes with a .npy.
  npy::write_npz(out.file("i32.npz"), {{"input_ids", to_type(ws().ids_array, npy::ElemType::kInt32)},
                                       {"attention_mask", to_type(ws().mask_array, npy::ElemType::kInt32)}});
  r = run_pare({"run", ws().model, "--input", out.file("i32.npz"), "--output", out.file("i32.npy")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(max_diff(npy::read_npy(out.file("i32.npy")), y), 0);
  r = run_pare({"run", ws().model, "--input", "input_ids=" + ws().inputs, "--input", "attention_mask=" + ws().mask,
                "--output", out.file("mixed.npy")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(max_diff(npy::read_npy(out.file("mixed.npy")), y), 0);
}

TEST(BertCli, RunRejectsBadInt64Inputs) {
  test::TempDir in, out;
  const auto run = [&](const std::vector<std::string>& inputs) {
    std::vector<std::string> args = {"run", ws().model};
    for (const std::string& i : inputs) args.insert(args.end(), {"--input", i});
    args.insert(args.end(), {"--output", out.file("y.npy")});
    return run_pare(args);
  };
  // float32 token ids
  npy::write_npz(in.file("float.npz"), {{"input_ids", to_type(ws().ids_array, npy::ElemType::kFloat32)},
                                        {"attention_mask", ws().mask_array}});
  expect_bad_input(run({in.file("float.npz")}), {"'input_ids'", in.file("float.npz"), "float32", "int64"}, out);
  npy::write_npy(in.file("float.npy"), to_type(ws().ids_array, npy::ElemType::kFloat32));
  expect_bad_input(run({"input_ids=" + in.file("float.npy"), "attention_mask=" + ws().mask}),
                   {"'input_ids'", in.file("float.npy"), "float32"}, out);
  // a missing member
  npy::write_npz(in.file("ids_only.npz"), {{"input_ids", ws().ids_array}});
  expect_bad_input(run({in.file("ids_only.npz")}), {"'attention_mask'", ws().model}, out);
  // an unknown member
  npy::write_npz(in.file("extra.npz"),
                 {{"input_ids", ws().ids_array}, {"attention_mask", ws().mask_array}, {"token_type_ids", ws().mask_array}});
  expect_bad_input(run({in.file("extra.npz")}), {"'token_type_ids'", in.file("extra.npz")}, out);
  // a wrong shape (sequence length 32)
  npy::Array short_ids = ws().ids_array;
  short_ids.shape = {kRows * 2, 32};
  npy::write_npz(in.file("short.npz"), {{"input_ids", short_ids}, {"attention_mask", ws().mask_array}});
  expect_bad_input(run({in.file("short.npz")}), {"'input_ids'", in.file("short.npz"), "[32,32]", "[1,64]"}, out);
  // rows that disagree
  npy::write_npz(in.file("rows.npz"),
                 {{"input_ids", ws().ids_array}, {"attention_mask", first_rows(ws().mask_array, kRows / 2)}});
  expect_bad_input(run({in.file("rows.npz")}), {"'attention_mask'", in.file("rows.npz")}, out);
  // given twice; a bare .npy for a model of two inputs
  expect_bad_input(run({ws().inputs, "input_ids=" + ws().ids}), {"'input_ids'", "twice"}, out);
  expect_bad_input(run({ws().ids}), {ws().ids, "2 inputs", "NAME=FILE"}, out);
}

TEST(BertCli, EvalAndBenchTakeInt64Inputs) {
  test::TempDir out;
  // Labels: ONNX Runtime's top-1, so pare's fp32 model scores 1.
  npy::Array labels;
  labels.type = npy::ElemType::kInt64;
  labels.shape = {kRows};
  labels.data.resize(kRows * sizeof(int64_t));
  for (int64_t r = 0; r < kRows; ++r) {
    const float* row = ws().reference.as<float>() + r * kLabels;
    labels.as<int64_t>()[r] = std::max_element(row, row + kLabels) - row;
  }
  npy::write_npy(out.file("labels.npy"), labels);
  CommandResult r = run_pare({"eval", ws().model, "--data", ws().inputs, "--labels", out.file("labels.npy"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "\"top1\":1.0")) << describe(r);
  r = run_pare({"eval", ws().model, "--data", "input_ids=" + ws().ids, "--data", "attention_mask=" + ws().mask,
                "--labels", out.file("labels.npy")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "(16/16)")) << describe(r);
  test::TempDir empty;
  expect_bad_input(run_pare({"eval", ws().model, "--data", ws().ids, "--labels", out.file("labels.npy")}),
                   {ws().ids, "2 inputs"}, empty);

  r = run_pare({"bench", ws().model, "-n", "2", "-w", "0"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  r = run_pare({"bench", ws().model, "-n", "2", "-w", "0", "--input", ws().inputs});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  r = run_pare({"bench", ws().model, "-n", "2", "-w", "0", "--input", "attention_mask=" + ws().mask});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  npy::write_npy(out.file("f.npy"), to_type(ws().ids_array, npy::ElemType::kFloat32));
  r = run_pare({"bench", ws().model, "-n", "2", "--input", "input_ids=" + out.file("f.npy")});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_TRUE(contains(r.err, "'input_ids'") && contains(r.err, out.file("f.npy"))) << describe(r);
}

TEST(BertCli, CompressCalibratesOnInt64Npz) {
  test::TempDir out;
  const std::vector<std::string> shapes = {"--input-shape", "input_ids:1x64", "--input-shape", "attention_mask:1x64"};
  std::vector<std::string> args = {"compress", ws().onnx, "-o", out.file("int8.pare"), "--calib", ws().calib, "--quiet"};
  args.insert(args.end(), shapes.begin(), shapes.end());
  CommandResult r = run_pare(args);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  r = run_pare({"run", out.file("int8.pare"), "--input", ws().inputs, "--output", out.file("y.npy")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  // A loose sanity bound; bert_parity_test holds int8 to the measured ones.
  EXPECT_LE(max_diff(npy::read_npy(out.file("y.npy")), ws().reference), 1.0);

  test::TempDir in, none;
  const auto compress = [&](const std::string& calib) {
    std::vector<std::string> a = {"compress", ws().onnx, "-o", none.file("x.pare"), "--calib", calib, "--quiet"};
    a.insert(a.end(), shapes.begin(), shapes.end());
    return run_pare(a);
  };
  npy::write_npz(in.file("float.npz"), {{"input_ids", to_type(ws().ids_array, npy::ElemType::kFloat32)},
                                        {"attention_mask", ws().mask_array}});
  expect_bad_input(compress(in.file("float.npz")), {in.file("float.npz"), "'input_ids'", "float32", "int64"}, none);
  npy::write_npz(in.file("ids_only.npz"), {{"input_ids", ws().ids_array}});
  expect_bad_input(compress(in.file("ids_only.npz")), {in.file("ids_only.npz"), "'attention_mask'"}, none);
  npy::Array short_ids = ws().ids_array;
  short_ids.shape = {kRows * 2, 32};
  npy::write_npz(in.file("short.npz"), {{"input_ids", short_ids}, {"attention_mask", ws().mask_array}});
  expect_bad_input(compress(in.file("short.npz")), {in.file("short.npz"), "'input_ids'", "[32,32]"}, none);
  npy::write_npy(in.file("ids.npy"), ws().ids_array);
  expect_bad_input(compress(in.file("ids.npy")), {in.file("ids.npy"), "2 inputs", ".npz"}, none);
}

TEST(BertCli, CheckDataTakesInt64Npz) {
  test::TempDir out;
  const std::vector<std::string> shapes = {"--input-shape", "input_ids:1x64", "--input-shape", "attention_mask:1x64"};
  std::vector<std::string> args = {"compress", ws().onnx, "-o", out.file("int8.pare"), "--calib", ws().calib,
                                   "--check-data", ws().inputs, "--min-agreement", "0.5", "--on-fail", "error",
                                   "--passes", "fold,fold_batchnorm,fuse_activation,remove_identity,nhwc,dce,quantize,dce",
                                   "--report", out.file("report.json"), "--quiet"};
  args.insert(args.end(), shapes.begin(), shapes.end());
  CommandResult r = run_pare(args);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(test::read_file(out.file("report.json")), "\"samples\": 16")) << test::read_file(out.file("report.json"));

  // pare check, the float .pare as the teacher (its inputs have static shapes).
  r = run_pare({"check", out.file("int8.pare"), "--teacher", ws().model, "--data", ws().inputs, "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "\"samples\": 16")) << describe(r);

  // The .onnx as the teacher, its dynamic batch fixed with --input-shape.
  r = run_pare({"check", out.file("int8.pare"), "--teacher", ws().onnx, "--data", ws().inputs, "--input-shape",
                "input_ids:1x64", "--input-shape", "attention_mask:1x64", "--json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "\"samples\": 16")) << describe(r);

  test::TempDir in, none;
  r = run_pare({"check", out.file("int8.pare"), "--teacher", ws().onnx, "--data", ws().inputs});
  expect_bad_input(r, {"'input_ids'", "--input-shape input_ids:1x64"}, none);
  npy::write_npz(in.file("ids_only.npz"), {{"input_ids", ws().ids_array}});
  r = run_pare({"check", out.file("int8.pare"), "--teacher", ws().model, "--data", in.file("ids_only.npz")});
  expect_bad_input(r, {in.file("ids_only.npz"), "'attention_mask'"}, none);
  npy::write_npz(in.file("float.npz"), {{"input_ids", to_type(ws().ids_array, npy::ElemType::kFloat32)},
                                        {"attention_mask", ws().mask_array}});
  args = {"compress", ws().onnx, "-o", none.file("x.pare"), "--calib", ws().calib, "--check-data", in.file("float.npz"),
          "--min-agreement", "0.5", "--quiet"};
  args.insert(args.end(), shapes.begin(), shapes.end());
  expect_bad_input(run_pare(args), {in.file("float.npz"), "'input_ids'", "float32"}, none);
  r = run_pare({"check", out.file("int8.pare"), "--teacher", ws().model, "--data", ws().ids});
  expect_bad_input(r, {ws().ids, "2", ".npz"}, none);
}

}  // namespace
}  // namespace pare
