// End-to-end parity on the trained models in testdata: ONNX -> canonical pipeline -> .pare
// -> interpreter, on the first 2,000 Fashion-MNIST test images, against ONNX Runtime's
// logits. Bounds: the same top-1 class on every image, and max |pare - ort| scaled by
// max(1, |ort|) at most 1e-3.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "calibration/npy.h"
#include "formats/onnx/importer.h"
#include "formats/pare/writer.h"
#include "passes/pass.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

class ModelParity : public ::testing::TestWithParam<std::string> {};

int argmax(const float* v, int n) { return static_cast<int>(std::max_element(v, v + n) - v); }

TEST_P(ModelParity, MatchesOnnxRuntimeOn2000Images) {
  const std::string name = GetParam();
  const std::string models = test::testdata_dir() + "/models/";
  ir::Graph graph = onnx_import::import_model(models + name + ".onnx");
  passes::PassContext ctx;
  ctx.verify_each = true;
  Status st = passes::run_pipeline(graph, passes::kCanonicalPipeline, ctx);
  ASSERT_TRUE(st.is_ok()) << st.message();
  std::vector<uint8_t> bytes = format::serialize(graph, format::WriteOptions{});
  auto model = rt::Model::load_buffer(bytes.data(), bytes.size(), name);
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  auto interp = rt::Interpreter::create(model.value());
  ASSERT_TRUE(interp.is_ok()) << interp.status().message();
  rt::Interpreter& it = *interp.value();
  ASSERT_EQ(it.num_inputs(), 1u);
  ASSERT_EQ(it.input(0).shape, (std::vector<int64_t>{1, 1, 28, 28}));
  ASSERT_EQ(it.output(0).shape, (std::vector<int64_t>{1, 10}));

  npy::Array images = npy::read_npy(test::testdata_dir() + "/data/fmnist_test_2000.npy");
  npy::Array labels = npy::read_npy(test::testdata_dir() + "/data/fmnist_test_2000_labels.npy");
  npy::Array reference = npy::read_npy(models + name + ".ort_logits_first2000.npy");
  ASSERT_EQ(images.shape, (std::vector<int64_t>{2000, 1, 28, 28}));
  ASSERT_EQ(reference.shape, (std::vector<int64_t>{2000, 10}));

  // PARE_PARITY_IMAGES=N checks the first N images only (the sanitizer run, which is slower).
  const char* limit = std::getenv("PARE_PARITY_IMAGES");
  const int count = limit ? std::clamp(std::atoi(limit), 1, 2000) : 2000;
  double max_scaled_diff = 0;
  int same_top1 = 0, correct = 0;
  for (int i = 0; i < count; ++i) {
    std::memcpy(it.input_data(0), images.as<float>() + i * 784, 784 * sizeof(float));
    rt::Status run = it.invoke();
    ASSERT_TRUE(run.is_ok()) << run.message();
    const float* got = static_cast<const float*>(it.output_data(0));
    const float* want = reference.as<float>() + i * 10;
    for (int k = 0; k < 10; ++k) {
      double scaled = std::fabs(got[k] - want[k]) / std::max(1.0, std::fabs(double{want[k]}));
      max_scaled_diff = std::max(max_scaled_diff, scaled);
    }
    if (argmax(got, 10) == argmax(want, 10)) ++same_top1;
    if (argmax(got, 10) == labels.as<int64_t>()[i]) ++correct;
  }
  std::printf("%s: top-1 agreement with ORT %d/%d, max scaled |diff| %.3g, accuracy %.2f%%\n", name.c_str(),
              same_top1, count, max_scaled_diff, 100.0 * correct / count);
  EXPECT_EQ(same_top1, count);
  EXPECT_LE(max_scaled_diff, 1e-3);
}

INSTANTIATE_TEST_SUITE_P(TrainedModels, ModelParity,
                         ::testing::Values("fmnist_cnn", "fmnist_mlp", "fmnist_vit",
                                           "fmnist_mobilenet_v2", "fmnist_mobilenet_v3_small"));

}  // namespace
}  // namespace pare
