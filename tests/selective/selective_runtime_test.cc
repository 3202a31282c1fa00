// A runtime built with only the op types and kernel families of the int8 Fashion-MNIST CNN
// (cnn_int8.ops, what `pare ops testdata/pare/fmnist_cnn_int8.pare` prints; cli_test checks
// that it still does): it runs that model, and the float CNN whose ops are a subset (its
// float convolutions and Gemm on the reference kernels of the unlisted f32_gemm family),
// matching ONNX Runtime, and refuses a model with another op, naming the op.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "pare/pare.h"
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/qdwconv/qdwconv.h"
#include "runtime/kernels/qgemm/qgemm.h"
#include "runtime/op.h"

namespace {

const std::string kTestdata = PARE_TESTDATA_DIR;

// A float32 .npy array (little-endian, C order): its values; the first dim in *rows.
std::vector<float> read_npy(const std::string& path, size_t* rows) {
  std::ifstream f(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  EXPECT_GT(bytes.size(), 10u) << path;
  if (bytes.size() <= 10) return {};
  const size_t header = static_cast<uint8_t>(bytes[8]) | static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8;
  const std::string dict = bytes.substr(10, header);
  EXPECT_NE(dict.find("'<f4'"), std::string::npos) << dict;
  const size_t shape = dict.find("'shape': (");
  *rows = std::stoul(dict.substr(shape + 10));
  std::vector<float> values((bytes.size() - 10 - header) / sizeof(float));
  std::memcpy(values.data(), bytes.data() + 10 + header, values.size() * sizeof(float));
  return values;
}

// The model's logits on each of the first `n` test images.
std::vector<std::vector<float>> run(const std::string& path, const std::vector<float>& images, size_t n) {
  pare_model* m = nullptr;
  EXPECT_EQ(pare_model_load_file(path.c_str(), &m), PARE_OK) << pare_model_error(m);
  pare_session* s = nullptr;
  EXPECT_EQ(pare_session_create(m, nullptr, &s), PARE_OK) << pare_session_error(s);
  pare_model_free(m);
  std::vector<std::vector<float>> logits;
  if (!s) return logits;
  for (size_t i = 0; i < n; ++i) {
    std::memcpy(pare_session_input_data(s, 0), images.data() + i * 784, 784 * sizeof(float));
    EXPECT_EQ(pare_session_run(s), PARE_OK) << pare_session_error(s);
    const float* y = static_cast<const float*>(pare_session_output_data(s, 0));
    logits.emplace_back(y, y + 10);
  }
  pare_session_free(s);
  return logits;
}

size_t argmax(const float* v) { return static_cast<size_t>(std::max_element(v, v + 10) - v); }

TEST(SelectiveRuntime, RegistersOnlyTheListedOps) {
  EXPECT_TRUE(pare::rt::selective_build());
  const std::vector<std::string> expected = {"Conv",           "DequantizeLinear", "Div",     "Gemm", "MaxPool",
                                             "QuantizeLinear", "ReduceMean",       "Reshape", "Sub"};
  EXPECT_EQ(pare::rt::registered_ops(), expected);
  EXPECT_EQ(pare::rt::find_op("Transpose"), nullptr);
}

// Listed families keep every variant; the others only their portable reference, so the
// linker can drop their SIMD code.
TEST(SelectiveRuntime, KeepsOnlyTheListedKernelFamilies) {
  size_t listed = 0, unlisted = 0, unlisted_dw = 0;
  pare::rt::kernels::qgemm_variants(&listed);
  const pare::rt::kernels::F32GemmVariant* f32 = pare::rt::kernels::f32_gemm_variants(&unlisted);
  const pare::rt::kernels::QDwConvVariant* dw = pare::rt::kernels::qdwconv_variants(&unlisted_dw);
  EXPECT_GT(listed, 1u);
  ASSERT_EQ(unlisted, 1u);
  EXPECT_EQ(f32[0].isa, pare::rt::Isa::kScalar);
  ASSERT_EQ(unlisted_dw, 1u);
  EXPECT_EQ(dw[0].isa, pare::rt::Isa::kScalar);
}

TEST(SelectiveRuntime, RunsTheModelsItWasBuiltForAgainstOnnxRuntime) {
  size_t num_images = 0, num_refs = 0;
  const std::vector<float> images = read_npy(kTestdata + "/data/fmnist_test_2000.npy", &num_images);
  const std::vector<float> ort = read_npy(kTestdata + "/models/fmnist_cnn.ort_logits_first2000.npy", &num_refs);
  const size_t n = 50;
  ASSERT_GE(num_images, n);
  ASSERT_GE(num_refs, n);
  // Float: ONNX Runtime's logits within the float tolerance of the parity tests.
  const auto fp = run(kTestdata + "/pare/fmnist_cnn.pare", images, n);
  ASSERT_EQ(fp.size(), n);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < 10; ++k) EXPECT_NEAR(fp[i][k], ort[i * 10 + k], 1e-4) << "image " << i << " class " << k;
  // int8: the same class as ONNX Runtime's float model on nearly every image.
  const auto q = run(kTestdata + "/pare/fmnist_cnn_int8.pare", images, n);
  ASSERT_EQ(q.size(), n);
  size_t agree = 0;
  for (size_t i = 0; i < n; ++i) agree += argmax(q[i].data()) == argmax(&ort[i * 10]);
  EXPECT_GE(agree, n - 2) << "top-1 agreement " << agree << "/" << n;
}

TEST(SelectiveRuntime, RefusesAModelWithAnotherOpNamingIt) {
  pare_model* m = nullptr;
  ASSERT_EQ(pare_model_load_file((kTestdata + "/pare/tiny_conv_int8.pare").c_str(), &m), PARE_OK);
  pare_session* s = nullptr;
  EXPECT_EQ(pare_session_create(m, nullptr, &s), PARE_ERROR_UNSUPPORTED);
  const std::string message = pare_session_error(s);
  // The first node outside the list: the layout change into the NHWC convolution.
  EXPECT_NE(message.find("op 'Transpose' (node 'x/to_nhwc')"), std::string::npos) << message;
  EXPECT_NE(message.find("PARE_OPS"), std::string::npos) << message;
  pare_session_free(s);
  pare_model_free(m);
}

}  // namespace
