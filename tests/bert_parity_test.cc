// The BERT-class encoders in testdata (scripts/make_bert.py: HF-style embeddings, 2 layers of
// masked multi-head self-attention, GELU FFN, pooler, classifier; int64 input_ids and
// attention_mask, seq 64) against ONNX Runtime's logits on 64 random padded sequences:
// - fp32 (the canonical pipeline): the same top-1 on every sequence, max |pare - ort| scaled
//   by max(1, |ort|) at most 1e-4;
// - int8 (the compress pipeline, calibrated on 128 other sequences from an .npz of int64
//   arrays): every MatMul/Gemm with constant weights runs int8, the attention MatMuls,
//   LayerNorm, Softmax and the GELU stay float; bounds on max |diff| and top-1 agreement
//   from the values measured (docs/quantization.md), with headroom;
// - a shorter sequence: the export with its sequence axis made symbolic, fixed at 32, on the
//   stored sequences that fit in 32 tokens, gives ORT's logits at 64 (padding is masked out
//   exactly: the softmax weight of a masked position underflows to 0).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <set>

#include "calibration/dataset.h"
#include "calibration/npy.h"
#include "formats/onnx/importer.h"
#include "formats/pare/writer.h"
#include "passes/pass.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

constexpr const char* kCompressPipeline =
    "fold,fold_batchnorm,fuse_activation,remove_identity,nhwc,dce,quantize,dce";
constexpr int kSeq = 64, kLabels = 4, kRows = 64;
// int8 against ORT's fp32 logits. Measured with the default quantize (mse calibration, 128
// sequences): max |diff| 0.235 (bert_tiny, logits within +-1.34) and 0.504 (bert_tiny_where,
// +-1.77), i.e. 0.18 and 0.28 of the largest |logit|; mean |diff| 0.037 for both (0.09 and 0.08
// of the logits' standard deviation); top-1 agreement 61/64 and 63/64 (58 to 62 over the
// calibration methods). The logits of these untrained encoders are close together, so single
// sequences flip. Bounds, relative to the reference's scale so they do not depend on one file:
constexpr double kInt8MaxDiffOfMaxLogit = 0.4;
constexpr double kInt8MeanDiffOfLogitStd = 0.25;
constexpr int kInt8MinAgreement = 56;  // of 64

struct Variant {
  std::string name;
  std::vector<std::string> inputs;
};

void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

class DatasetData final : public passes::CalibrationData {
 public:
  explicit DatasetData(const calib::Dataset& d) : d_(d) {}
  size_t size() const override { return d_.size(); }
  void fill(size_t s, size_t i, float* out, size_t n) const override { d_.fill(s, i, out, n); }
  void fill_int64(size_t s, size_t i, int64_t* out, size_t n) const override { d_.fill_int64(s, i, out, n); }

 private:
  const calib::Dataset& d_;
};

ir::Graph import(const Variant& v) {
  onnx_import::ImportOptions options;
  for (const std::string& in : v.inputs) options.input_shapes[in] = {1, kSeq};
  return onnx_import::import_model(test::testdata_dir() + "/models/" + v.name + ".onnx", options);
}

std::vector<uint8_t> compile(ir::Graph graph, const std::string& pipeline, const passes::CalibrationData* data) {
  passes::PassContext ctx;
  ctx.verify_each = true;
  ctx.calibration = data;
  Status st = passes::run_pipeline(graph, pipeline, ctx);
  if (!st.is_ok()) throw Error(st.code(), st.message());
  graph.compact();
  return format::serialize(graph, format::WriteOptions{});
}

// The loaded and prepared model; null (and a failure) when it does not load or prepare.
std::unique_ptr<rt::Interpreter> interpreter(const std::vector<uint8_t>& bytes) {
  auto model = rt::Model::load_buffer(bytes.data(), bytes.size(), "bert");
  EXPECT_TRUE(model.is_ok()) << model.status().message();
  if (!model.is_ok()) return nullptr;
  auto it = rt::Interpreter::create(model.value());
  EXPECT_TRUE(it.is_ok()) << it.status().message();
  if (!it.is_ok()) return nullptr;
  return std::move(it.value());
}

struct Comparison {
  double max_abs = 0, max_scaled = 0, mean_abs = 0;
  double ref_max = 0, ref_std = 0;  // the reference's largest |logit| and standard deviation
  int same_top1 = 0;
};

int argmax(const float* v) { return static_cast<int>(std::max_element(v, v + kLabels) - v); }

// Runs the 64 stored sequences one at a time and compares with ORT's logits.
Comparison compare(rt::Interpreter& it, const Variant& v) {
  const auto members = npy::read_npz(test::testdata_dir() + "/data/bert_tiny_inputs_64.npz");
  std::map<std::string, const npy::Array*> arrays;
  for (const auto& [name, a] : members) arrays[name] = &a;
  const npy::Array ref = npy::read_npy(test::testdata_dir() + "/models/" + v.name + ".ort_logits_64.npy");
  EXPECT_EQ(ref.shape, (std::vector<int64_t>{kRows, kLabels}));
  EXPECT_EQ(it.num_inputs(), v.inputs.size());
  Comparison c;
  double sum = 0, sum2 = 0;
  for (int64_t i = 0; i < ref.size(); ++i) {
    const double x = ref.as<float>()[i];
    c.ref_max = std::max(c.ref_max, std::fabs(x));
    sum += x;
    sum2 += x * x;
  }
  const double n = static_cast<double>(ref.size());
  c.ref_std = std::sqrt(std::max(0.0, sum2 / n - (sum / n) * (sum / n)));
  for (int r = 0; r < kRows; ++r) {
    for (size_t i = 0; i < it.num_inputs(); ++i) {
      const npy::Array* a = arrays.at(it.input(i).name);
      EXPECT_EQ(a->type, npy::ElemType::kInt64);
      EXPECT_EQ(it.input(i).dtype, rt::DType::kInt64);
      std::memcpy(it.input_data(i), a->as<int64_t>() + r * kSeq, kSeq * sizeof(int64_t));
    }
    const rt::Status st = it.invoke();
    EXPECT_TRUE(st.is_ok()) << st.message();
    if (!st.is_ok()) return c;  // the outputs were not written
    const auto* got = static_cast<const float*>(it.output_data(0));
    const float* want = ref.as<float>() + r * kLabels;
    for (int k = 0; k < kLabels; ++k) {
      const double d = std::fabs(double{got[k]} - want[k]);
      c.max_abs = std::max(c.max_abs, d);
      c.mean_abs += d / (kRows * kLabels);
      c.max_scaled = std::max(c.max_scaled, d / std::max(1.0, std::fabs(double{want[k]})));
    }
    c.same_top1 += argmax(got) == argmax(want);
  }
  return c;
}

class BertParity : public ::testing::TestWithParam<Variant> {};

TEST_P(BertParity, Fp32MatchesOnnxRuntime) {
  const Variant& v = GetParam();
  auto it = interpreter(compile(import(v), passes::kCanonicalPipeline, nullptr));
  ASSERT_TRUE(it);
  const Comparison c = compare(*it, v);
  std::printf("%s fp32: top-1 agreement with ORT %d/%d, max |diff| %.3g, max scaled |diff| %.3g\n", v.name.c_str(),
              c.same_top1, kRows, c.max_abs, c.max_scaled);
  EXPECT_EQ(c.same_top1, kRows);
  EXPECT_LE(c.max_scaled, 1e-4);
}

TEST_P(BertParity, Int8FromInt64Calibration) {
  const Variant& v = GetParam();
  ir::Graph graph = import(v);
  // The calibration archive holds input_ids, attention_mask and token_type_ids; an .npz
  // must name the model's inputs only, so the test keeps those.
  test::TempDir dir;
  std::vector<std::pair<std::string, npy::Array>> members;
  for (auto& m : npy::read_npz(test::testdata_dir() + "/data/bert_tiny_calib_128.npz"))
    if (std::find(v.inputs.begin(), v.inputs.end(), m.first) != v.inputs.end()) members.push_back(std::move(m));
  npy::write_npz(dir.file("calib.npz"), members);
  const auto dataset = calib::open_dataset(dir.file("calib.npz"), calib::input_specs(graph));
  ASSERT_EQ(dataset->size(), 128u);
  DatasetData data(*dataset);
  auto it = interpreter(compile(std::move(graph), kCompressPipeline, &data));
  ASSERT_TRUE(it);

  // Constant-weight MatMul/Gemm int8; the attention MatMuls and the float-only ops float.
  int int8_weighted = 0, float_weighted = 0, float_attention = 0;
  std::set<std::string> int8_ops;
  const std::vector<std::string> kernels = it->kernel_names();
  for (size_t i = 0; i < kernels.size(); ++i) {
    const rt::NodeDesc& node = it->model().nodes()[i];
    const bool q8 = kernels[i].rfind("q8_", 0) == 0;
    if (q8) int8_ops.insert(node.op);
    if (node.op != "MatMul" && node.op != "Gemm") continue;
    const bool constant_b = it->model().tensors()[static_cast<size_t>(node.inputs[1])].desc.constant != nullptr;
    if (constant_b) (q8 ? int8_weighted : float_weighted) += 1;
    else float_attention += !q8;
  }
  EXPECT_EQ(int8_weighted, 2 * 6 + 2);  // per layer Q, K, V, output, FFN in and out; pooler, classifier
  EXPECT_EQ(float_weighted, 0);
  EXPECT_EQ(float_attention, 2 * 2);  // QK^T and probs x V per layer
  for (const char* op : {"LayerNormalization", "Softmax", "Erf", "Gelu", "Tanh"}) EXPECT_EQ(int8_ops.count(op), 0u) << op;

  const Comparison c = compare(*it, v);
  std::printf("%s int8: top-1 agreement with ORT fp32 %d/%d, max |diff| %.3g (largest |logit| %.3g), mean |diff| %.3g "
              "(logit std %.3g)\n",
              v.name.c_str(), c.same_top1, kRows, c.max_abs, c.ref_max, c.mean_abs, c.ref_std);
  EXPECT_GE(c.same_top1, kInt8MinAgreement);
  EXPECT_LE(c.max_abs, kInt8MaxDiffOfMaxLogit * c.ref_max);
  EXPECT_LE(c.mean_abs, kInt8MeanDiffOfLogitStd * c.ref_std);
}

TEST_P(BertParity, SymbolicSequenceLengthFixedShorter) {
  const Variant& v = GetParam();
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(test::read_file(test::testdata_dir() + "/models/" + v.name + ".onnx")));
  for (onnx::ValueInfoProto& in : *proto.mutable_graph()->mutable_input())
    in.mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1)->set_dim_param("sequence");
  test::TempDir dir;
  test::write_file(dir.file("dynamic.onnx"), proto.SerializeAsString());
  constexpr int kShort = 32;
  onnx_import::ImportOptions options;
  for (const std::string& in : v.inputs) options.input_shapes[in] = {1, kShort};
  auto it = interpreter(compile(onnx_import::import_model(dir.file("dynamic.onnx"), options),
                                passes::kCanonicalPipeline, nullptr));
  ASSERT_TRUE(it);

  const auto members = npy::read_npz(test::testdata_dir() + "/data/bert_tiny_inputs_64.npz");
  std::map<std::string, const npy::Array*> arrays;
  for (const auto& [name, a] : members) arrays[name] = &a;
  const npy::Array ref = npy::read_npy(test::testdata_dir() + "/models/" + v.name + ".ort_logits_64.npy");
  const int64_t* mask = arrays.at("attention_mask")->as<int64_t>();
  int checked = 0;
  double max_diff = 0;
  for (int r = 0; r < kRows; ++r) {
    if (std::accumulate(mask + r * kSeq, mask + (r + 1) * kSeq, int64_t{0}) > kShort) continue;
    for (size_t i = 0; i < it->num_inputs(); ++i)
      std::memcpy(it->input_data(i), arrays.at(it->input(i).name)->as<int64_t>() + r * kSeq, kShort * sizeof(int64_t));
    ASSERT_TRUE(it->invoke().is_ok());
    const auto* got = static_cast<const float*>(it->output_data(0));
    for (int k = 0; k < kLabels; ++k)
      max_diff = std::max(max_diff, std::fabs(double{got[k]} - ref.as<float>()[r * kLabels + k]));
    ++checked;
  }
  std::printf("%s at sequence length %d: %d sequences, max |diff| to ORT at 64 %.3g\n", v.name.c_str(), kShort,
              checked, max_diff);
  EXPECT_GE(checked, 16);
  EXPECT_LE(max_diff, 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Encoders, BertParity,
                         ::testing::Values(Variant{"bert_tiny", {"input_ids", "attention_mask"}},
                                           Variant{"bert_tiny_where",
                                                   {"input_ids", "attention_mask", "token_type_ids"}}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace pare
