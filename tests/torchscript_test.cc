// TorchScript import end to end through the CLI: `pare convert model.pt` on the five trained
// models (traced from the ONNX files' weights by scripts/make_torchscript_models.py, which
// checks them against ONNX Runtime's logits) compared with LibTorch's outputs and with the
// ONNX path on the 2,000 test images; torchvision architectures with random weights, a
// scripted module with shape-dependent control flow and a two-input, two-output module
// against LibTorch; bad files and bad arguments exit 2 without writing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "calibration/npy.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

std::string models_dir() { return PARE_TORCHSCRIPT_MODELS; }

std::unique_ptr<rt::Interpreter> load(const std::string& path, std::shared_ptr<const rt::Model>* keep) {
  auto model = rt::Model::load_file(path);
  EXPECT_TRUE(model.is_ok()) << model.status().message();
  if (!model.is_ok()) return nullptr;
  *keep = model.value();
  auto interp = rt::Interpreter::create(model.value());
  EXPECT_TRUE(interp.is_ok()) << interp.status().message();
  if (!interp.is_ok()) return nullptr;
  return std::move(interp.value());
}

int argmax(const float* v, int n) { return static_cast<int>(std::max_element(v, v + n) - v); }

// max |a - b| / max(1, |b|)
double scaled_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i)
    m = std::max(m, std::fabs(double{a[i]} - b[i]) / std::max(1.0, std::fabs(double{b[i]})));
  return m;
}

class TrainedTorchScript : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainedTorchScript, MatchesLibTorchAndTheOnnxPath) {
  const std::string name = GetParam();
  test::TempDir dir;
  const std::string pt = models_dir() + "/" + name + ".pt";
  ASSERT_TRUE(test::file_exists(pt)) << pt << " is missing: the torchscript_models fixture makes it";
  test::CommandResult r = test::run_pare({"convert", pt, "-o", dir.file("ts.pare"), "--input-shape", "x:1x1x28x28"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_pare({"convert", test::testdata_dir() + "/models/" + name + ".onnx", "-o", dir.file("onnx.pare")});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  std::shared_ptr<const rt::Model> m1, m2;
  auto ts = load(dir.file("ts.pare"), &m1);
  auto ox = load(dir.file("onnx.pare"), &m2);
  ASSERT_TRUE(ts && ox);
  ASSERT_EQ(ts->input(0).shape, (std::vector<int64_t>{1, 1, 28, 28}));
  ASSERT_EQ(ts->output(0).shape, (std::vector<int64_t>{1, 10}));

  npy::Array images = npy::read_npy(test::testdata_dir() + "/data/fmnist_test_2000.npy");
  npy::Array torch_logits = npy::read_npy(models_dir() + "/" + name + ".libtorch_logits.npy");
  ASSERT_EQ(torch_logits.shape, (std::vector<int64_t>{2000, 10}));
  double vs_torch = 0, vs_onnx = 0;
  int same_torch = 0, same_onnx = 0;
  for (int i = 0; i < 2000; ++i) {
    std::memcpy(ts->input_data(0), images.as<float>() + i * 784, 784 * sizeof(float));
    std::memcpy(ox->input_data(0), images.as<float>() + i * 784, 784 * sizeof(float));
    ASSERT_TRUE(ts->invoke().is_ok());
    ASSERT_TRUE(ox->invoke().is_ok());
    const float* got = static_cast<const float*>(ts->output_data(0));
    const float* onnx = static_cast<const float*>(ox->output_data(0));
    const float* want = torch_logits.as<float>() + i * 10;
    vs_torch = std::max(vs_torch, scaled_diff(got, want, 10));
    vs_onnx = std::max(vs_onnx, scaled_diff(got, onnx, 10));
    same_torch += argmax(got, 10) == argmax(want, 10);
    same_onnx += argmax(got, 10) == argmax(onnx, 10);
  }
  std::printf("%s.pt: vs LibTorch max scaled |diff| %.3g, top-1 %d/2000; vs the ONNX path %.3g, %d/2000\n",
              name.c_str(), vs_torch, same_torch, vs_onnx, same_onnx);
  EXPECT_LE(vs_torch, 1e-4);
  EXPECT_LE(vs_onnx, 1e-4);
  EXPECT_EQ(same_torch, 2000);
  EXPECT_EQ(same_onnx, 2000);
}

INSTANTIATE_TEST_SUITE_P(Models, TrainedTorchScript,
                         ::testing::Values("fmnist_cnn", "fmnist_mlp", "fmnist_vit", "fmnist_mobilenet_v2",
                                           "fmnist_mobilenet_v3_small"));

// Converts NAME.pt with the shapes of its inputs (forward argument, NAME.<file>.npy), runs
// it on them and compares each output with NAME.<expected>.npy.
void check_against_torch(const std::string& name, const std::vector<std::pair<std::string, std::string>>& inputs,
                         const std::vector<std::string>& expected, double bound,
                         const std::vector<std::string>& extra_args = {}) {
  test::TempDir dir;
  const std::string base = models_dir() + "/" + name;
  std::vector<npy::Array> arrays;
  std::vector<std::string> args = {"convert", base + ".pt", "-o", dir.file("m.pare")};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  for (const auto& [arg, file] : inputs) {
    arrays.push_back(npy::read_npy(base + "." + file + ".npy"));
    std::string dims;
    for (int64_t d : arrays.back().shape) dims += (dims.empty() ? "" : "x") + std::to_string(d);
    args.insert(args.end(), {"--input-shape", arg + ":" + dims});
  }
  test::CommandResult r = test::run_pare(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::shared_ptr<const rt::Model> keep;
  auto it = load(dir.file("m.pare"), &keep);
  ASSERT_TRUE(it);
  ASSERT_EQ(it->num_inputs(), inputs.size());
  ASSERT_EQ(it->num_outputs(), expected.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    ASSERT_EQ(it->input(i).shape, arrays[i].shape);
    std::memcpy(it->input_data(i), arrays[i].data.data(), arrays[i].data.size());
  }
  rt::Status st = it->invoke();
  ASSERT_TRUE(st.is_ok()) << st.message();
  for (size_t k = 0; k < expected.size(); ++k) {
    npy::Array want = npy::read_npy(base + "." + expected[k] + ".npy");
    ASSERT_EQ(it->output(k).shape, want.shape) << name << " output " << k;
    // Random weights and batch-norm statistics make outputs in the hundreds, where float32
    // summation order alone moves the small entries: the bound is relative to the largest.
    const float* got = static_cast<const float*>(it->output_data(k));
    double diff = 0, scale = 1;
    for (int64_t i = 0; i < want.size(); ++i) {
      diff = std::max(diff, std::fabs(double{got[i]} - want.as<float>()[i]));
      scale = std::max(scale, std::fabs(double{want.as<float>()[i]}));
    }
    const double d = diff / scale;
    std::printf("%s output %zu: max |diff| / max(1, max |LibTorch|) %.3g\n", name.c_str(), k, d);
    EXPECT_LE(d, bound) << name << " output " << k;
  }
}

class TorchvisionTorchScript : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchvisionTorchScript, MatchesLibTorch) {
  // Inception v3 chains 94 convs of random weights, and its 3x3 convs at 35x35 and above
  // run as Winograd F(4x4, 3x3), whose transforms round about ten times more than a direct
  // sum (some 1e-6 of a layer's outputs): 1.0e-4 of its largest output, against 6.9e-5 with
  // F(2x2, 3x3) only.
  const double bound = GetParam() == "inception_v3" ? 2e-4 : 1e-4;
  check_against_torch("tv_" + GetParam(), {{"x", "input"}}, {"expected"}, bound);
}

INSTANTIATE_TEST_SUITE_P(Architectures, TorchvisionTorchScript,
                         ::testing::Values("resnet18", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
                                           "squeezenet1_1", "shufflenet_v2_x0_5", "mnasnet0_5", "regnet_y_400mf",
                                           "convnext_tiny", "densenet121", "googlenet", "resnext50_32x4d",
                                           "inception_v3", "swin_t", "maxvit_t"));

TEST(TorchScript, ScriptedModuleWithShapeControlFlow) {
  check_against_torch("scripted_cnn", {{"x", "input"}}, {"expected"}, 1e-4);
}

TEST(TorchScript, OpsBeyondTheClassificationNets) {
  check_against_torch("ops_mix", {{"x", "input"}}, {"expected"}, 1e-5);
}

// Token ids (int64, read by embedding) with padding, a mask from them, attention written out.
TEST(TorchScript, EncoderWithEmbeddingsAndPaddingMask) {
  check_against_torch("tiny_encoder", {{"input_ids", "input"}}, {"expected"}, 1e-5);
}

TEST(TorchScript, EinsumAttentionReductionsAndIndices) {
  check_against_torch("reductions_mix", {{"x", "input"}}, {"expected0", "expected1", "expected2", "expected3", "expected4"},
                      1e-5);
}

// An int64 input no embedding reads gets its dtype from --input-type.
TEST(TorchScript, InputTypeForAnIntegerMask) {
  check_against_torch("masked_mean", {{"x", "x"}, {"mask", "mask"}}, {"expected"}, 1e-6, {"--input-type", "mask:int64"});
  const std::string pt = models_dir() + "/masked_mean.pt";
  for (const auto& [flag, part] : std::vector<std::pair<std::string, std::string>>{
           {"mask:float16", "'float16' is not an input type"}, {"weights:int64", "'weights', which is not a forward argument"},
           {"mask", "expected NAME:DTYPE"}}) {
    test::TempDir dir;
    test::CommandResult r = test::run_pare({"convert", pt, "-o", dir.file("m.pare"), "--input-shape", "x:1x10x4",
                                            "--input-shape", "mask:1x10", "--input-type", flag});
    EXPECT_EQ(r.exit_code, 2) << flag;
    EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
    EXPECT_TRUE(test::list_dir(dir.path()).empty());
  }
  // An ONNX model's declared type must match.
  test::TempDir dir;
  test::CommandResult r = test::run_pare({"convert", test::testdata_dir() + "/models/fmnist_cnn.onnx", "-o",
                                          dir.file("m.pare"), "--input-type", "image:int64"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("input 'image' is float32 in the model"), std::string::npos) << r.err;
}

TEST(TorchScript, TwoInputsTwoOutputs) { check_against_torch("multi_io", {{"a", "a"}, {"b", "b"}}, {"expected0", "expected1"}, 1e-5); }

// Bad files and arguments: exit 2, a message naming what is wrong, no output.
struct BadCase {
  std::string file;
  std::vector<std::string> extra;
  std::vector<std::string> message_parts;
};

TEST(TorchScript, BadInputsExit2WithoutOutput) {
  const std::string d = models_dir() + "/";
  const std::vector<BadCase> cases = {
      {"bad_not_zip.pt", {"--input-shape", "x:1x1x28x28"}, {"bad_not_zip.pt", "not a TorchScript module"}},
      {"bad_state_dict.pt", {"--input-shape", "x:1x1x28x28"}, {"bad_state_dict.pt", "TorchScript"}},
      {"bad_truncated.pt", {"--input-shape", "x:1x1x28x28"}, {"bad_truncated.pt", "not a TorchScript module"}},
      {"bad_no_forward.pt", {"--input-shape", "x:1x1x28x28"}, {"bad_no_forward.pt", "forward"}},
      {"bad_unsupported_op.pt",
       {"--input-shape", "x:1x3x8x8"},
       {"bad_unsupported_op.pt", "aten::linalg_inv", "schema aten::linalg_inv(Tensor A)", "make_torchscript_models.py:",
        "no lowering"}},
      {"bad_unsupported_op.pt", {"--input-shape", "x:1x1x28x28"}, {"bad_unsupported_op.pt", "aten::_convolution"}},
      // The zeros are known at import; a LibTorch convolution on them would divide by zero.
      {"bad_hostile_groups.pt", {"--input-shape", "x:1x1x2x2"}, {"bad_hostile_groups.pt", "group"}},
      {"fmnist_cnn.pt", {}, {"fmnist_cnn.pt", "input 'x'", "--input-shape x:"}},
      {"fmnist_cnn.pt", {"--input-shape", "image:1x1x28x28"}, {"fmnist_cnn.pt", "'image'", "x"}},
      {"fmnist_cnn.pt", {"--input-shape", "x:1x3x28x28"}, {"fmnist_cnn.pt"}},
      {"multi_io.pt", {"--input-shape", "a:1x4"}, {"multi_io.pt", "input 'b'"}},
  };
  for (const BadCase& c : cases) {
    test::TempDir dir;
    std::vector<std::string> args = {"convert", d + c.file, "-o", dir.file("out.pare")};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    test::CommandResult r = test::run_pare(args);
    EXPECT_EQ(r.exit_code, 2) << c.file << ": " << r.err;
    for (const std::string& part : c.message_parts)
      EXPECT_NE(r.err.find(part), std::string::npos) << c.file << ": '" << part << "' not in: " << r.err;
    EXPECT_TRUE(test::list_dir(dir.path()).empty()) << c.file << " left output";
  }
}

// compress reads TorchScript as convert does (calibration, int8), and check takes a
// TorchScript teacher with the student's shapes.
TEST(TorchScript, CompressAndCheckFromTorchScript) {
  test::TempDir dir;
  const std::string pt = models_dir() + "/fmnist_cnn.pt";
  const std::string data = test::testdata_dir() + "/data/";
  test::CommandResult r = test::run_pare({"compress", pt, "-o", dir.file("q.pare"), "--input-shape", "x:1x1x28x28",
                                          "--calib", data + "fmnist_calib_500.npy", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_pare({"check", dir.file("q.pare"), "--teacher", pt, "--data", data + "fmnist_test_2000.npy", "--labels",
                      data + "fmnist_test_2000_labels.npy", "--limit", "500", "--max-top1-drop", "1", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("\"top1_drop\""), std::string::npos) << r.out;
}

}  // namespace
}  // namespace pare
