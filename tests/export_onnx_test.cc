// .pare -> ir::Graph (format::read_graph) -> ONNX (onnx_export) and `pare export-onnx`:
// - reading a converted model back and serializing it again gives the same file;
// - each trained model, converted, exported and imported again by pare's own importer,
//   gives the logits of the .pare (within 1e-5) on 50 test images;
// - a hand-built int8 graph exports to the expected QDQ node sequence, NHWC nodes are
//   wrapped in Transposes, Gelu is decomposed, fused activations become their own nodes;
// - bad input: exit 2, a message naming the file, no output left.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "calibration/npy.h"
#include "formats/onnx/exporter.h"
#include "formats/onnx/importer.h"
#include "formats/pare/reader.h"
#include "formats/pare/writer.h"
#include "passes/pass.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

using ir::DType;
using ir::OpKind;
using ir::TensorId;

constexpr int kImages = 50;

std::string describe(const test::CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

// Runs a .pare image over the first kImages test images; returns the logits, row after row.
std::vector<float> run_images(const std::vector<uint8_t>& bytes, const std::string& name) {
  auto model = rt::Model::load_buffer(bytes.data(), bytes.size(), name);
  EXPECT_TRUE(model.is_ok()) << model.status().message();
  if (!model.is_ok()) return {};
  auto interp = rt::Interpreter::create(model.value());
  EXPECT_TRUE(interp.is_ok()) << interp.status().message();
  if (!interp.is_ok()) return {};
  rt::Interpreter& it = *interp.value();
  npy::Array images = npy::read_npy(test::testdata_dir() + "/data/fmnist_test_2000.npy");
  std::vector<float> logits;
  for (int i = 0; i < kImages; ++i) {
    std::memcpy(it.input_data(0), images.as<float>() + i * 784, 784 * sizeof(float));
    rt::Status st = it.invoke();
    EXPECT_TRUE(st.is_ok()) << st.message();
    if (!st.is_ok()) return {};  // the outputs were not written
    const float* out = static_cast<const float*>(it.output_data(0));
    logits.insert(logits.end(), out, out + 10);
  }
  return logits;
}

format::WriteOptions options_from(const ir::Graph& g) {
  format::WriteOptions o;
  o.producer_version = g.metadata.at("producer_version");
  o.pipeline = g.metadata.at("pipeline");
  o.source_file = g.metadata.at("source_file");
  o.source_hash = g.metadata.at("source_hash");
  o.report_summary = g.metadata.at("report_summary");
  return o;
}

class ExportTrainedModel : public ::testing::TestWithParam<std::string> {};

// Every node and tensor of a graph as text (names, ops, attributes, activations, dtypes,
// shapes, quantization and constant bytes), sorted: equal for graphs that differ only in
// the order of independent nodes.
std::vector<std::string> describe_graph(const ir::Graph& g) {
  std::vector<std::string> items;
  auto name_of = [&](TensorId t) { return t == ir::kNoTensor ? std::string("-") : g.tensor(t).name; };
  for (ir::NodeId id : g.nodes()) {
    const ir::Node& n = g.node(id);
    std::string s = std::string("node ") + ir::op_name(n.op) + " '" + n.name + "' in";
    for (TensorId t : n.inputs) s += " " + name_of(t);
    s += " out";
    for (TensorId t : n.outputs) s += " " + name_of(t);
    for (const auto& [k, v] : n.attrs.all()) {
      s += " " + k + "=";
      switch (v.index()) {
        case 0: s += std::to_string(std::get<int64_t>(v)); break;
        case 1: s += std::to_string(std::get<float>(v)); break;
        case 2: s += std::get<std::string>(v); break;
        case 3: for (int64_t x : std::get<std::vector<int64_t>>(v)) s += std::to_string(x) + ","; break;
        default: for (float x : std::get<std::vector<float>>(v)) s += std::to_string(x) + ","; break;
      }
    }
    s += std::string(" act ") + ir::activation_name(n.activation.kind);
    const float params[] = {n.activation.p0, n.activation.p1};
    for (size_t k = 0; k < activation_param_count(n.activation.kind); ++k) s += " " + std::to_string(params[k]);
    items.push_back(s);
  }
  for (size_t i = 0; i < g.tensor_capacity(); ++i) {
    const ir::Tensor& t = g.tensor(static_cast<TensorId>(i));
    std::string s = "tensor '" + t.name + "' " + ir::dtype_name(t.dtype) + " " + t.shape.str();
    if (t.quant) {
      s += " quant axis " + std::to_string(t.quant->axis);
      for (float x : t.quant->scales) s += " " + std::to_string(x);
      for (int64_t x : t.quant->zero_points) s += " " + std::to_string(x);
    }
    if (t.is_constant()) s += " bytes " + std::string(t.data->bytes.begin(), t.data->bytes.end());
    items.push_back(s);
  }
  for (TensorId t : g.inputs) items.push_back("input " + name_of(t));
  for (TensorId t : g.outputs) items.push_back("output " + name_of(t));
  std::sort(items.begin(), items.end());
  return items;
}

// The file read back and written again holds the same graph. (Its bytes can differ: nodes
// that do not depend on each other may be written in another order.)
TEST_P(ExportTrainedModel, ReadBackAndRewrittenGivesTheSameGraph) {
  const std::string name = GetParam();
  test::TempDir dir;
  const std::string pare_file = dir.file(name + ".pare"), again_file = dir.file("again.pare");
  auto r = test::run_pare({"convert", test::testdata_dir() + "/models/" + name + ".onnx", "-o", pare_file});
  ASSERT_EQ(r.exit_code, 0) << describe(r);

  const ir::Graph g = format::read_graph(pare_file);
  auto model = rt::Model::load_file(pare_file);
  ASSERT_TRUE(model.is_ok());
  EXPECT_EQ(g.num_nodes(), (*model)->nodes().size());
  EXPECT_EQ(g.tensor_capacity(), (*model)->tensors().size());
  EXPECT_EQ(g.metadata.at("source_file"), name + ".onnx");
  format::write_file(g, again_file, options_from(g));
  const ir::Graph again = format::read_graph(again_file);
  EXPECT_EQ(describe_graph(again), describe_graph(g));
  // The same weight segment; the model table may differ by its padding to 64 bytes (another
  // node order lays out strings and vectors differently).
  auto again_model = rt::Model::load_file(again_file);
  ASSERT_TRUE(again_model.is_ok());
  EXPECT_EQ((*again_model)->weights_bytes(), (*model)->weights_bytes());
  const double size = static_cast<double>(test::read_file(pare_file).size());
  EXPECT_NEAR(static_cast<double>(test::read_file(again_file).size()), size, 64.0);
}

TEST_P(ExportTrainedModel, ReimportedExportGivesTheSameLogits) {
  const std::string name = GetParam();
  test::TempDir dir;
  const std::string pare_file = dir.file(name + ".pare"), onnx_file = dir.file(name + ".onnx");
  auto r = test::run_pare({"convert", test::testdata_dir() + "/models/" + name + ".onnx", "-o", pare_file});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  r = test::run_pare({"export-onnx", pare_file, "-o", onnx_file});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("nodes"), std::string::npos) << r.out;

  ir::Graph g = onnx_import::import_model(onnx_file);
  passes::PassContext ctx;
  ctx.verify_each = true;
  Status st = passes::run_pipeline(g, passes::kCanonicalPipeline, ctx);
  ASSERT_TRUE(st.is_ok()) << st.message();
  const std::vector<uint8_t> reimported = format::serialize(g, format::WriteOptions{});
  const std::string original = test::read_file(pare_file);
  const std::vector<float> want = run_images(std::vector<uint8_t>(original.begin(), original.end()), pare_file);
  const std::vector<float> got = run_images(reimported, onnx_file);
  ASSERT_EQ(want.size(), static_cast<size_t>(kImages * 10));
  ASSERT_EQ(got.size(), want.size());
  double max_diff = 0;
  for (size_t i = 0; i < want.size(); ++i)
    max_diff = std::max(max_diff, std::fabs(double{got[i]} - want[i]) / std::max(1.0, std::fabs(double{want[i]})));
  std::printf("%s: max scaled |diff| %.3g over %d images\n", name.c_str(), max_diff, kImages);
  EXPECT_LE(max_diff, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(TrainedModels, ExportTrainedModel, ::testing::Values("fmnist_cnn", "fmnist_mlp", "fmnist_vit",
                                           "fmnist_mobilenet_v2", "fmnist_mobilenet_v3_small"));

// --- Hand-built graphs.

ir::Tensor activation(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                      std::optional<QuantParams> quant = std::nullopt) {
  ir::Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = ir::Shape(shape);
  t.quant = std::move(quant);
  return t;
}

TensorId add_node(ir::Graph& g, OpKind op, const std::string& name, std::vector<TensorId> inputs,
                  TensorId output) {
  ir::Node n;
  n.op = op;
  n.name = name;
  n.inputs = std::move(inputs);
  n.outputs = {output};
  g.add_node(std::move(n));
  return output;
}

std::vector<std::string> op_sequence(const onnx::ModelProto& m) {
  std::vector<std::string> ops;
  for (const auto& n : m.graph().node()) ops.push_back(n.op_type());
  return ops;
}

const onnx::TensorProto* find_initializer(const onnx::ModelProto& m, const std::string& name) {
  for (const auto& t : m.graph().initializer())
    if (t.name() == name) return &t;
  return nullptr;
}

int64_t int_attr(const onnx::NodeProto& n, const std::string& name, int64_t dflt) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.i();
  return dflt;
}

onnx::ModelProto parse(const std::string& bytes) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  return m;
}

// As docs/quantization.md: x float -> QuantizeLinear (uint8) -> Conv (int8 weights per
// output channel, int32 bias, fused Relu) -> Flatten -> Gemm (transB) -> DequantizeLinear.
constexpr float sx = 0.02f, sy = 0.05f, sz = 0.1f;
const std::vector<float> sw = {0.01f, 0.03f};

std::vector<int8_t> conv_weights() {
  std::vector<int8_t> wv(2 * 9);
  for (size_t i = 0; i < wv.size(); ++i) wv[i] = static_cast<int8_t>(static_cast<int>(i * 7 % 255) - 127);
  return wv;
}

ir::Graph int8_graph() {
  ir::Graph g;
  const TensorId x = g.add_tensor(activation("x", DType::kFloat32, {1, 1, 4, 4}));
  g.inputs = {x};
  const TensorId xs = ir::add_constant<float>(g, "x/scale", DType::kFloat32, {}, {sx});
  const TensorId xz = ir::add_constant<uint8_t>(g, "x/zero_point", DType::kUInt8, {}, {128});
  const TensorId xq = g.add_tensor(activation("x/q8", DType::kUInt8, {1, 1, 4, 4}, QuantParams{{sx}, {128}, -1}));
  add_node(g, OpKind::kQuantizeLinear, "quantize", {x, xs, xz}, xq);

  const TensorId w = ir::add_constant<int8_t>(g, "w", DType::kInt8, {2, 1, 3, 3}, conv_weights());
  g.tensor(w).quant = QuantParams{sw, {0, 0}, 0};
  const TensorId b = ir::add_constant<int32_t>(g, "b", DType::kInt32, {2}, {100, -50});
  g.tensor(b).quant = QuantParams{{sx * sw[0], sx * sw[1]}, {0, 0}, 0};
  const TensorId y = g.add_tensor(activation("y", DType::kUInt8, {1, 2, 2, 2}, QuantParams{{sy}, {0}, -1}));
  add_node(g, OpKind::kConv, "conv", {xq, w, b}, y);
  g.node(1).attrs.set("kernel_shape", std::vector<int64_t>{3, 3});
  g.node(1).activation.kind = ActivationKind::kRelu;

  const TensorId flat = g.add_tensor(activation("flat", DType::kUInt8, {1, 8}, QuantParams{{sy}, {0}, -1}));
  add_node(g, OpKind::kFlatten, "flatten", {y}, flat);
  std::vector<int8_t> w2v(3 * 8, 5);
  const TensorId w2 = ir::add_constant<int8_t>(g, "w2", DType::kInt8, {3, 8}, w2v);
  g.tensor(w2).quant = QuantParams{{0.02f, 0.03f, 0.04f}, {0, 0, 0}, 0};
  const TensorId b2 = ir::add_constant<int32_t>(g, "b2", DType::kInt32, {3}, {1, 2, 3});
  g.tensor(b2).quant = QuantParams{{sy * 0.02f, sy * 0.03f, sy * 0.04f}, {0, 0, 0}, 0};
  const TensorId z = g.add_tensor(activation("z", DType::kUInt8, {1, 3}, QuantParams{{sz}, {10}, -1}));
  add_node(g, OpKind::kGemm, "fc", {flat, w2, b2}, z);
  g.node(3).attrs.set("transB", int64_t{1});
  const TensorId zs = ir::add_constant<float>(g, "z/scale", DType::kFloat32, {}, {sz});
  const TensorId zz = ir::add_constant<uint8_t>(g, "z/zero_point", DType::kUInt8, {}, {10});
  const TensorId out = g.add_tensor(activation("logits", DType::kFloat32, {1, 3}));
  add_node(g, OpKind::kDequantizeLinear, "dequantize", {z, zs, zz}, out);
  g.outputs = {out};
  return g;
}

TEST(ExportOnnx, Int8GraphBecomesQdq) {
  const ir::Graph g = int8_graph();
  const std::vector<int8_t> wv = conv_weights();
  onnx_export::ExportStats stats;
  const onnx::ModelProto m = parse(onnx_export::export_model(g, {}, &stats));
  const std::vector<std::string> want = {
      "QuantizeLinear",                                                             // as in the graph
      "DequantizeLinear", "DequantizeLinear", "DequantizeLinear", "Conv", "Relu", "QuantizeLinear",  // conv
      "DequantizeLinear", "Flatten", "QuantizeLinear",                              // data movement
      "DequantizeLinear", "DequantizeLinear", "DequantizeLinear", "Gemm", "QuantizeLinear",  // fc
      "DequantizeLinear"};
  EXPECT_EQ(op_sequence(m), want);
  EXPECT_EQ(stats.nodes, want.size());
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).version(), 17);

  // The Conv's inputs: activation per tensor (no axis), weights and bias per axis 0.
  const auto& nodes = m.graph().node();
  EXPECT_EQ(nodes[1].input(0), "x/q8");
  EXPECT_EQ(int_attr(nodes[1], "axis", -1), -1);
  EXPECT_EQ(nodes[2].input(0), "w");
  EXPECT_EQ(int_attr(nodes[2], "axis", -1), 0);
  EXPECT_EQ(nodes[3].input(0), "b");
  EXPECT_EQ(int_attr(nodes[3], "axis", -1), 0);
  const onnx::TensorProto* wi = find_initializer(m, "w");
  ASSERT_NE(wi, nullptr);
  EXPECT_EQ(wi->data_type(), onnx::TensorProto::INT8);
  EXPECT_EQ(wi->raw_data(), std::string(reinterpret_cast<const char*>(wv.data()), wv.size()));
  const onnx::TensorProto* bias_scale = find_initializer(m, nodes[3].input(1));
  const onnx::TensorProto* bias_zp = find_initializer(m, nodes[3].input(2));
  ASSERT_TRUE(bias_scale && bias_zp);
  ASSERT_EQ(bias_scale->raw_data().size(), 2 * sizeof(float));
  float bs[2];
  std::memcpy(bs, bias_scale->raw_data().data(), sizeof(bs));
  EXPECT_FLOAT_EQ(bs[1], sx * sw[1]);
  EXPECT_EQ(bias_zp->data_type(), onnx::TensorProto::INT32);
  EXPECT_EQ(bias_zp->raw_data(), std::string(8, '\0'));
  // Conv -> Relu -> QuantizeLinear writing the uint8 tensor with its scale and zero point.
  EXPECT_EQ(nodes[4].input(0), nodes[1].output(0));
  EXPECT_EQ(nodes[5].input(0), nodes[4].output(0));
  EXPECT_EQ(nodes[6].input(0), nodes[5].output(0));
  EXPECT_EQ(nodes[6].output(0), "y");
  const onnx::TensorProto* yzp = find_initializer(m, nodes[6].input(2));
  ASSERT_NE(yzp, nullptr);
  EXPECT_EQ(yzp->data_type(), onnx::TensorProto::UINT8);
  EXPECT_EQ(nodes[14].output(0), "z");
  EXPECT_EQ(nodes[15].output(0), "logits");
  // The signature.
  ASSERT_EQ(m.graph().input_size(), 1);
  EXPECT_EQ(m.graph().input(0).name(), "x");
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(2).dim_value(), 4);
  ASSERT_EQ(m.graph().output_size(), 1);
  EXPECT_EQ(m.graph().output(0).name(), "logits");
  EXPECT_EQ(m.graph().output(0).type().tensor_type().elem_type(), onnx::TensorProto::FLOAT);
}

// --weight-type uint8: each int8 weight as uint8 v + 128 with its zero points + 128 (the
// same real values); activations, biases and the graph's own QuantizeLinear/DequantizeLinear
// keep their types.
TEST(ExportOnnx, Uint8WeightsKeepTheirValues) {
  const ir::Graph g = int8_graph();
  onnx_export::ExportOptions options;
  options.uint8_weights = true;
  const onnx::ModelProto m = parse(onnx_export::export_model(g, options));
  const auto& nodes = m.graph().node();
  ASSERT_EQ(nodes.size(), 16);
  for (const auto& [dq, name, values] :
       {std::tuple{2, "w", conv_weights()}, std::tuple{11, "w2", std::vector<int8_t>(3 * 8, 5)}}) {
    SCOPED_TRACE(name);
    ASSERT_EQ(nodes[dq].op_type(), "DequantizeLinear");
    ASSERT_EQ(nodes[dq].input(0), name);
    const onnx::TensorProto* w = find_initializer(m, name);
    const onnx::TensorProto* zp = find_initializer(m, nodes[dq].input(2));
    ASSERT_TRUE(w && zp);
    EXPECT_EQ(w->data_type(), onnx::TensorProto::UINT8);
    ASSERT_EQ(w->raw_data().size(), values.size());
    for (size_t i = 0; i < values.size(); ++i)
      EXPECT_EQ(static_cast<uint8_t>(w->raw_data()[i]), values[i] + 128) << i;
    EXPECT_EQ(zp->data_type(), onnx::TensorProto::UINT8);
    EXPECT_EQ(zp->raw_data(), std::string(static_cast<size_t>(zp->dims(0)), '\x80'));
  }
  // The bias stays int32 with zero points 0, the activations' zero points uint8 as given.
  const onnx::TensorProto* bias_zp = find_initializer(m, nodes[3].input(2));
  ASSERT_NE(bias_zp, nullptr);
  EXPECT_EQ(bias_zp->data_type(), onnx::TensorProto::INT32);
  EXPECT_EQ(bias_zp->raw_data(), std::string(8, '\0'));
  const onnx::TensorProto* zz = find_initializer(m, nodes[15].input(2));
  ASSERT_NE(zz, nullptr);
  EXPECT_EQ(zz->raw_data(), std::string(1, '\x0a'));
}

TEST(ExportOnnxCli, WeightTypeUint8AndBadValue) {
  test::TempDir dir;
  const std::string pare_file = dir.file("cnn.pare"), onnx_file = dir.file("cnn.onnx");
  const std::string model = test::testdata_dir() + "/models/fmnist_cnn.onnx";
  auto r = test::run_pare({"compress", model, "-o", pare_file, "--calib",
                           test::testdata_dir() + "/data/fmnist_calib_500.npy", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  r = test::run_pare({"export-onnx", pare_file, "-o", onnx_file, "--weight-type", "uint8"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  onnx::ModelProto m = parse(test::read_file(onnx_file));
  size_t uint8_weights = 0, int8_tensors = 0;
  for (const auto& t : m.graph().initializer()) {
    uint8_weights += t.data_type() == onnx::TensorProto::UINT8 && t.dims_size() >= 2;
    int8_tensors += t.data_type() == onnx::TensorProto::INT8;
  }
  EXPECT_EQ(uint8_weights, 5u);  // four convs and the classifier
  EXPECT_EQ(int8_tensors, 0u);
  r = test::run_pare({"export-onnx", pare_file, "-o", dir.file("bad.onnx"), "--weight-type", "int4"});
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_NE(r.err.find("int4"), std::string::npos) << r.err;
  EXPECT_FALSE(test::file_exists(dir.file("bad.onnx")));
}

// Float: an NHWC Conv with a fused Clip, then a Gelu; both forms of Gelu.
TEST(ExportOnnx, NhwcActivationAndGelu) {
  for (const std::string approximate : {"none", "tanh"}) {
    ir::Graph g;
    const TensorId x = g.add_tensor(activation("x", DType::kFloat32, {1, 3, 3, 2}));  // NHWC
    g.inputs = {x};
    const TensorId w = ir::add_constant<float>(g, "w", DType::kFloat32, {4, 2, 1, 1}, std::vector<float>(8, 0.5f));
    const TensorId y = g.add_tensor(activation("y", DType::kFloat32, {1, 3, 3, 4}));
    add_node(g, OpKind::kConv, "conv", {x, w}, y);
    g.node(0).attrs.set("layout", std::string("NHWC"));
    g.node(0).activation = FusedActivation{ActivationKind::kClip, 0.f, 6.f};
    const TensorId z = g.add_tensor(activation("z", DType::kFloat32, {1, 3, 3, 4}));
    add_node(g, OpKind::kGelu, "gelu", {y}, z);
    g.node(1).attrs.set("approximate", approximate);
    g.outputs = {z};

    const onnx::ModelProto m = parse(onnx_export::export_model(g));
    std::vector<std::string> want = {"Transpose", "Conv", "Clip", "Transpose"};
    if (approximate == "none")
      want.insert(want.end(), {"Div", "Erf", "Add", "Mul", "Mul"});
    else
      want.insert(want.end(), {"Mul", "Mul", "Mul", "Add", "Mul", "Tanh", "Add", "Mul", "Mul"});
    EXPECT_EQ(op_sequence(m), want) << approximate;
    const auto& nodes = m.graph().node();
    EXPECT_EQ(nodes[0].attribute(0).ints(1), 3);  // perm [0,3,1,2]
    EXPECT_EQ(nodes[3].attribute(0).ints(1), 2);  // perm [0,2,3,1]
    EXPECT_EQ(nodes[3].output(0), "y");
    for (const auto& a : nodes[1].attribute()) EXPECT_NE(a.name(), "layout");
    EXPECT_EQ(nodes[2].input_size(), 3);  // Clip min and max as inputs
    EXPECT_EQ(nodes.rbegin()->output(0), "z");
  }
}

// A fused Silu goes out as the Sigmoid and Mul it came from.
TEST(ExportOnnx, SiluBecomesSigmoidAndMul) {
  ir::Graph g;
  const TensorId x = g.add_tensor(activation("x", DType::kFloat32, {1, 2, 3, 3}));
  g.inputs = {x};
  const TensorId w = ir::add_constant<float>(g, "w", DType::kFloat32, {4, 2, 1, 1}, std::vector<float>(8, 0.5f));
  const TensorId y = g.add_tensor(activation("y", DType::kFloat32, {1, 4, 3, 3}));
  add_node(g, OpKind::kConv, "conv", {x, w}, y);
  g.node(0).activation = FusedActivation{ActivationKind::kSilu};
  g.outputs = {y};
  const onnx::ModelProto m = parse(onnx_export::export_model(g));
  EXPECT_EQ(op_sequence(m), (std::vector<std::string>{"Conv", "Sigmoid", "Mul"}));
  const auto& nodes = m.graph().node();
  EXPECT_EQ(nodes[1].input(0), nodes[0].output(0));
  EXPECT_EQ(nodes[2].input(0), nodes[0].output(0));
  EXPECT_EQ(nodes[2].input(1), nodes[1].output(0));
  EXPECT_EQ(nodes[2].output(0), "y");
}

// ReduceMax/Min/Prod/L2/Mean took their axes as an attribute before opset 18; the other
// ops of the transformer family (Einsum, TopK, ...) have one form at 17 and 18.
TEST(ExportOnnx, ReduceAxesAttributeBeforeOpset18) {
  for (int64_t opset : {17, 18}) {
    ir::Graph g;
    const TensorId x = g.add_tensor(activation("x", DType::kFloat32, {2, 3}));
    g.inputs = {x};
    const TensorId axes = ir::add_constant<int64_t>(g, "axes", DType::kInt64, {1}, {1});
    const TensorId m = g.add_tensor(activation("m", DType::kFloat32, {2, 1}));
    add_node(g, OpKind::kReduceMax, "max", {x, axes}, m);
    const TensorId y = g.add_tensor(activation("y", DType::kFloat32, {2, 2}));
    add_node(g, OpKind::kEinsum, "outer", {m, m}, y);
    g.node(1).attrs.set("equation", std::string("ik,jk->ij"));
    g.outputs = {y};

    onnx_export::ExportOptions options;
    options.opset = opset;
    const onnx::ModelProto model = parse(onnx_export::export_model(g, options));
    EXPECT_EQ(op_sequence(model), (std::vector<std::string>{"ReduceMax", "Einsum"}));
    const onnx::NodeProto& reduce = model.graph().node(0);
    if (opset == 17) {
      EXPECT_EQ(reduce.input_size(), 1);
      ASSERT_EQ(reduce.attribute_size(), 1);
      EXPECT_EQ(reduce.attribute(0).name(), "axes");
      ASSERT_EQ(reduce.attribute(0).ints_size(), 1);
      EXPECT_EQ(reduce.attribute(0).ints(0), 1);
    } else {
      EXPECT_EQ(reduce.input_size(), 2);
      EXPECT_EQ(reduce.attribute_size(), 0);
    }
    ASSERT_EQ(model.graph().node(1).attribute_size(), 1);
    EXPECT_EQ(model.graph().node(1).attribute(0).s(), "ik,jk->ij");
  }
}

// --- The command on bad input.

TEST(ExportOnnxCli, BadInputExitsTwoAndLeavesNothing) {
  test::TempDir dir;
  const std::string garbage = dir.file("garbage.pare");
  test::write_file(garbage, "this is not a pare model at all, just some text");
  for (const std::string& input : {garbage, dir.file("missing.pare")}) {
    test::TempDir out_dir;
    auto r = test::run_pare({"export-onnx", input, "-o", out_dir.file("out.onnx")});
    EXPECT_EQ(r.exit_code, 2) << describe(r);
    EXPECT_NE(r.err.find(input), std::string::npos) << describe(r);
    EXPECT_TRUE(test::list_dir(out_dir.path()).empty());
  }
  auto r = test::run_pare({"export-onnx", garbage});  // no -o
  EXPECT_EQ(r.exit_code, 2) << describe(r);
}

}  // namespace
}  // namespace pare
