// ONNX import: the trained models in testdata, models built here, old opset forms and bad input.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "formats/onnx/importer.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"
#include "ir/status.h"
#include "ir/verifier.h"
#include "tests/support/onnx_builder.h"
#include "tests/support/test_util.h"

namespace pare {
namespace ir {
void PrintTo(const Shape& shape, std::ostream* os) { *os << shape.str(); }
}  // namespace ir
namespace {

using onnx_import::import_model;
using onnx_import::ImportOptions;
using test::attr_f;
using test::attr_i;
using test::attr_ints;
using test::attr_s;
using test::attr_t;
using test::OnnxBuilder;
using test::Storage;
using test::TempDir;
using test::tensor;
using Sizes = std::vector<int64_t>;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string model_path(const std::string& name) { return test::testdata_dir() + "/models/" + name + ".onnx"; }

// Saves `b` in a temporary folder and imports it.
ir::Graph import_built(const OnnxBuilder& b, const ImportOptions& options = {}) {
  TempDir dir;
  b.save(dir.file("model.onnx"));
  return import_model(dir.file("model.onnx"), options);
}

// The error importing `path` throws (fails the test when there is none).
Error import_error(const std::string& path, const ImportOptions& options = {}) {
  try {
    import_model(path, options);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "importing '" << path << "' did not fail";
  return Error(Status::kOk, "");
}

Error import_error(const OnnxBuilder& b, const ImportOptions& options = {}) {
  TempDir dir;
  b.save(dir.file("model.onnx"));
  return import_error(dir.file("model.onnx"), options);
}

std::map<std::string, int> op_histogram(const ir::Graph& g) {
  std::map<std::string, int> h;
  for (ir::NodeId n : g.nodes()) ++h[ir::op_name(g.node(n).op)];
  return h;
}

const ir::Node& node_named(const ir::Graph& g, const std::string& name) {
  for (ir::NodeId n : g.nodes())
    if (g.node(n).name == name) return g.node(n);
  throw std::runtime_error("no node named '" + name + "'");
}

std::vector<ir::NodeId> nodes_of(const ir::Graph& g, ir::OpKind op) {
  std::vector<ir::NodeId> out;
  for (ir::NodeId n : g.nodes())
    if (g.node(n).op == op) out.push_back(n);
  return out;
}

size_t constant_count(const ir::Graph& g) {
  size_t n = 0;
  for (size_t t = 0; t < g.tensor_capacity(); ++t) n += g.tensor(static_cast<ir::TensorId>(t)).is_constant();
  return n;
}

void infer_all(ir::Graph& g) {
  for (ir::NodeId n : g.topological_order()) ir::infer_node(g, n);
}

// ---------------------------------------------------------------- the trained models

struct ModelFacts {
  const char* name;
  size_t nodes;      // ONNX nodes minus Constant nodes (which become constant tensors)
  size_t constants;  // initializers + Constant nodes
};

TEST(OnnxImport, TrainedModels) {
  for (const ModelFacts& m :
       {ModelFacts{"fmnist_cnn", 14, 12}, ModelFacts{"fmnist_mlp", 8, 8},
        ModelFacts{"fmnist_mobilenet_v2", 111, 186}, ModelFacts{"fmnist_mobilenet_v3_small", 133, 118},
        ModelFacts{"fmnist_vit", 138, 106}}) {
    SCOPED_TRACE(m.name);
    ir::Graph g = import_model(model_path(m.name));
    EXPECT_EQ(g.num_nodes(), m.nodes);
    // ReduceMean (opset 17) gains one constant for its axes.
    EXPECT_EQ(constant_count(g), m.constants + (std::string(m.name) == "fmnist_cnn" ? 1 : 0));
    ASSERT_EQ(g.inputs.size(), 1u);
    const ir::Tensor& image = g.tensor(g.inputs[0]);
    EXPECT_EQ(image.name, "image");
    EXPECT_EQ(image.dtype, ir::DType::kFloat32);
    EXPECT_EQ(image.shape, ir::Shape(Sizes{1, 1, 28, 28}));
    ASSERT_EQ(g.outputs.size(), 1u);
    EXPECT_EQ(g.tensor(g.outputs[0]).name, "logits");
    EXPECT_EQ(g.metadata.at("producer_name"), "pytorch");
    EXPECT_EQ(g.metadata.at("opset"), "17");
    EXPECT_EQ(g.metadata.at("ir_version"), "8");
    for (ir::NodeId n : g.nodes()) {
      const ir::Node& node = g.node(n);
      EXPECT_FALSE(node.name.empty());
      EXPECT_NE(node.op, ir::OpKind::kConstant);
      ASSERT_FALSE(node.inputs.empty());
      EXPECT_NE(node.inputs[0], ir::kNoTensor) << node.name;
      if (node.op != ir::OpKind::kResize) {  // Resize has optional roi and scales
        for (ir::TensorId in : node.inputs) EXPECT_NE(in, ir::kNoTensor) << node.name;
      }
    }
  }
}

TEST(OnnxImport, CnnStructureAndFullShapeInference) {
  ir::Graph g = import_model(model_path("fmnist_cnn"));
  std::map<std::string, int> expected = {{"Sub", 1},     {"Div", 1},        {"Conv", 4}, {"Relu", 4},
                                         {"MaxPool", 2}, {"ReduceMean", 1}, {"Gemm", 1}};
  EXPECT_EQ(op_histogram(g), expected);

  const ir::Node& conv = node_named(g, "/f/f.0/f.0.0/Conv");
  EXPECT_EQ(conv.attrs.get_ints("pads"), (Sizes{1, 1, 1, 1}));
  EXPECT_EQ(conv.attrs.get_ints("kernel_shape"), (Sizes{3, 3}));
  const ir::Tensor& w = g.tensor(conv.inputs[1]);
  EXPECT_EQ(w.name, "onnx::Conv_48");
  EXPECT_EQ(w.shape, ir::Shape(Sizes{32, 1, 3, 3}));
  EXPECT_EQ(w.data->bytes.size(), 32u * 9 * 4);

  // The Constant node's scalar value (0.286 for the Sub).
  const ir::Tensor& mean = g.tensor(node_named(g, "/Sub").inputs[1]);
  ASSERT_TRUE(mean.is_constant());
  EXPECT_EQ(mean.shape, ir::Shape(Sizes{}));
  EXPECT_FLOAT_EQ(mean.values<float>()[0], 0.286f);

  // Opset 17 ReduceMean: the axes attribute becomes a constant input.
  const ir::Node& reduce = node_named(g, "/ReduceMean");
  ASSERT_EQ(reduce.inputs.size(), 2u);
  EXPECT_EQ(g.tensor(reduce.inputs[1]).int_values(), (Sizes{2, 3}));
  EXPECT_FALSE(reduce.attrs.has("axes"));
  EXPECT_EQ(reduce.attrs.get_int("keepdims", 1), 0);

  // No value-dependent shapes in this model: inference runs over the whole graph.
  infer_all(g);
  EXPECT_EQ(g.tensor(conv.outputs[0]).shape, ir::Shape(Sizes{1, 32, 28, 28}));
  EXPECT_EQ(g.tensor(node_named(g, "/f/f.2/MaxPool").outputs[0]).shape, ir::Shape(Sizes{1, 64, 14, 14}));
  EXPECT_EQ(g.tensor(node_named(g, "/f/f.4/MaxPool").outputs[0]).shape, ir::Shape(Sizes{1, 128, 7, 7}));
  EXPECT_EQ(g.tensor(reduce.outputs[0]).shape, ir::Shape(Sizes{1, 128}));
  EXPECT_EQ(g.tensor(g.outputs[0]).shape, ir::Shape(Sizes{1, 10}));
  Status s = ir::verify(g);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(OnnxImport, MlpShapeInference) {
  ir::Graph g = import_model(model_path("fmnist_mlp"));
  infer_all(g);
  EXPECT_EQ(g.tensor(node_named(g, "/Flatten").outputs[0]).shape, ir::Shape(Sizes{1, 784}));
  EXPECT_EQ(g.tensor(node_named(g, "/l1/Gemm").outputs[0]).shape, ir::Shape(Sizes{1, 1024}));
  EXPECT_EQ(g.tensor(g.outputs[0]).shape, ir::Shape(Sizes{1, 10}));
  Status s = ir::verify(g);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(OnnxImport, VitNodesAndAttentionSubgraph) {
  ir::Graph g = import_model(model_path("fmnist_vit"));
  // Split (opset 17) takes its sizes as an input, so no num_outputs is added.
  for (ir::NodeId n : nodes_of(g, ir::OpKind::kSplit)) {
    const ir::Node& split = g.node(n);
    EXPECT_EQ(split.outputs.size(), 3u);
    ASSERT_EQ(split.inputs.size(), 2u);
    EXPECT_TRUE(g.tensor(split.inputs[1]).is_constant());
    EXPECT_FALSE(split.attrs.has("num_outputs"));
  }
  for (ir::NodeId n : nodes_of(g, ir::OpKind::kLayerNormalization)) EXPECT_EQ(g.node(n).outputs.size(), 1u);
  EXPECT_EQ(nodes_of(g, ir::OpKind::kSoftmax).size(), 4u);
  EXPECT_EQ(nodes_of(g, ir::OpKind::kErf).size(), 4u);

  // The patch embedding infers from the input up to the Reshape, whose shape comes from
  // Shape/Slice/Concat arithmetic: that needs folding, so inference stops there naming it.
  for (const char* name : {"/Sub", "/Div", "/patch/Conv", "/Shape", "/Slice", "/Concat"})
    ir::infer_node(g, g.producer(node_named(g, name).outputs[0]));
  EXPECT_EQ(g.tensor(node_named(g, "/patch/Conv").outputs[0]).shape, ir::Shape(Sizes{1, 128, 7, 7}));
  EXPECT_EQ(g.tensor(node_named(g, "/Concat").outputs[0]).shape, ir::Shape(Sizes{3}));
  EXPECT_EQ(g.tensor(node_named(g, "/Concat").outputs[0]).dtype, ir::DType::kInt64);
  const ir::Node& reshape = node_named(g, "/Reshape");
  try {
    ir::infer_node(g, g.producer(reshape.outputs[0]));
    ADD_FAILURE() << "Reshape of a computed shape inferred without folding";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Status::kUnsupported);
    EXPECT_TRUE(contains(e.what(), "Reshape '/Reshape': input 1 ('/Concat_output_0') must be a constant"))
        << e.what();
  }

  // The first attention block, from the token embeddings [1, 50, 128] on.
  ir::Tensor& tokens = g.tensor(g.find_tensor("/Add_output_0"));
  tokens.dtype = ir::DType::kFloat32;
  tokens.shape = ir::Shape(Sizes{1, 50, 128});
  const std::string a = "/blocks/blocks.0/a/";
  for (const std::string& name :
       {std::string("/blocks/blocks.0/n1/LayerNormalization"), a + "qkv/MatMul", a + "qkv/Add", a + "Reshape",
        a + "Transpose", a + "Split", a + "Squeeze", a + "Squeeze_1", a + "Squeeze_2", a + "Transpose_1",
        a + "MatMul", a + "Div", a + "Softmax", a + "MatMul_1"})
    ir::infer_node(g, g.producer(node_named(g, name).outputs[0]));
  auto shape_of = [&](const std::string& name, size_t k = 0) {
    return g.tensor(node_named(g, name).outputs[k]).shape;
  };
  EXPECT_EQ(shape_of(a + "qkv/Add"), ir::Shape(Sizes{1, 50, 384}));
  EXPECT_EQ(shape_of(a + "Transpose"), ir::Shape(Sizes{3, 1, 4, 50, 32}));
  EXPECT_EQ(shape_of(a + "Split", 2), ir::Shape(Sizes{1, 1, 4, 50, 32}));
  EXPECT_EQ(shape_of(a + "Transpose_1"), ir::Shape(Sizes{1, 4, 32, 50}));
  EXPECT_EQ(shape_of(a + "Softmax"), ir::Shape(Sizes{1, 4, 50, 50}));
  EXPECT_EQ(shape_of(a + "MatMul_1"), ir::Shape(Sizes{1, 4, 50, 32}));
}

// ---------------------------------------------------------------- input shapes

OnnxBuilder symbolic_model() {
  OnnxBuilder b(17);
  b.input("x", {"N", 3, "H", "W"});
  b.initializer(tensor<float>("w", {4, 3, 3, 3}, std::vector<float>(108, 0.25f)));
  b.node("Conv", {"x", "w"}, {"y"}, {attr_ints("pads", {1, 1, 1, 1})}, "conv");
  b.output("y", {"N", 4, "H", "W"});
  return b;
}

TEST(OnnxImport, SymbolicDimsNeedInputShape) {
  Error e = import_error(symbolic_model());
  EXPECT_EQ(e.code(), Status::kInvalidInput);
  EXPECT_TRUE(contains(e.what(),
                       "input 'x' has symbolic dim 'N' at axis 0 (shape [N,3,H,W]); "
                       "set it with --input-shape x:1x3x1x1"))
      << e.what();

  ImportOptions options;
  options.input_shapes["x"] = {2, 3, 8, 8};
  ir::Graph g = import_built(symbolic_model(), options);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.tensor(g.inputs[0]).shape, ir::Shape(Sizes{2, 3, 8, 8}));
  infer_all(g);
  EXPECT_EQ(g.tensor(g.outputs[0]).shape, ir::Shape(Sizes{2, 4, 8, 8}));
}

TEST(OnnxImport, UnnamedOrMissingDimsNeedInputShape) {
  OnnxBuilder b(17);
  b.input("x", {1, 3, 5});
  b.graph()
      .mutable_input(0)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(1)
      ->clear_dim_value();
  b.node("Relu", {"x"}, {"y"});
  b.output("y");
  Error e = import_error(b);
  EXPECT_TRUE(contains(e.what(),
                       "input 'x' has an unknown dim at axis 1 (shape [1,?,5]); set it with "
                       "--input-shape x:1x1x5"))
      << e.what();

  OnnxBuilder c(17);
  c.input_without_shape("x");
  c.node("Relu", {"x"}, {"y"});
  c.output("y");
  Error e2 = import_error(c);
  EXPECT_TRUE(contains(e2.what(), "input 'x' has no shape")) << e2.what();
  ImportOptions options;
  options.input_shapes["x"] = {4, 2};
  EXPECT_EQ(import_built(c, options).tensor(0).shape, ir::Shape(Sizes{4, 2}));
}

TEST(OnnxImport, BadInputShapeOptions) {
  ImportOptions unknown;
  unknown.input_shapes["image"] = {1, 3, 8, 8};
  Error e = import_error(symbolic_model(), unknown);
  EXPECT_EQ(e.code(), Status::kInvalidInput);
  EXPECT_TRUE(contains(e.what(), "'image' is not an input of the model (inputs: x)")) << e.what();

  ImportOptions rank;
  rank.input_shapes["x"] = {1, 3, 8};
  e = import_error(symbolic_model(), rank);
  EXPECT_TRUE(contains(e.what(), "--input-shape x:1x3x8: input 'x' has rank 4 (shape [N,3,H,W]), not 3"))
      << e.what();

  ImportOptions conflict;
  conflict.input_shapes["x"] = {1, 4, 8, 8};
  e = import_error(symbolic_model(), conflict);
  EXPECT_TRUE(contains(e.what(), "has the fixed size 3 at axis 1")) << e.what();

  // Initializers are not inputs, even when the file lists them as graph inputs.
  OnnxBuilder b = symbolic_model();
  b.input("w", {4, 3, 3, 3});
  ImportOptions weight;
  weight.input_shapes["x"] = {1, 3, 8, 8};
  ir::Graph g = import_built(b, weight);
  EXPECT_EQ(g.inputs.size(), 1u);
  weight.input_shapes["w"] = {4, 3, 3, 3};
  e = import_error(b, weight);
  EXPECT_TRUE(contains(e.what(), "'w' is not an input of the model")) << e.what();
}

TEST(OnnxImport, ParseInputShape) {
  EXPECT_EQ(onnx_import::parse_input_shape("x:1x3x224x224"),
            (std::pair<std::string, Sizes>{"x", {1, 3, 224, 224}}));
  EXPECT_EQ(onnx_import::parse_input_shape("input:0:1,16"),
            (std::pair<std::string, Sizes>{"input:0", {1, 16}}));
  EXPECT_EQ(onnx_import::parse_input_shape("v:7"), (std::pair<std::string, Sizes>{"v", {7}}));
  for (const char* bad :
       {"x", "x:", ":1x2", "x:1xax2", "x:1x-2", "x:0x3", "x:1xx2", "x:2x", "x:99999999999999999"}) {
    try {
      onnx_import::parse_input_shape(bad);
      ADD_FAILURE() << bad << " parsed";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Status::kInvalidInput);
      EXPECT_TRUE(contains(e.what(), std::string("bad --input-shape '") + bad + "'")) << e.what();
      EXPECT_TRUE(contains(e.what(), "expected NAME:D1xD2x... (e.g. image:1x3x224x224)")) << e.what();
    }
  }
}

// ---------------------------------------------------------------- initializers

TEST(OnnxImport, InitializersOfEveryDtypeAndStorage) {
  OnnxBuilder b(17);
  b.input("x", {2});
  b.initializer(tensor<float>("f_raw", {2}, {1.5f, -2.f}));
  b.initializer(tensor<float>("f_typed", {2}, {3.f, 4.25f}, Storage::kTyped));
  b.initializer(tensor<double>("d", {1}, {0.125}, Storage::kTyped));
  b.initializer(tensor<int64_t>("i64", {3}, {-1, 0, 1LL << 40}, Storage::kTyped));
  b.initializer(tensor<int32_t>("i32", {2}, {-7, 9}, Storage::kTyped));
  b.initializer(tensor<int8_t>("i8", {2}, {-128, 127}, Storage::kTyped));
  b.initializer(tensor<uint8_t>("u8", {2}, {0, 255}, Storage::kTyped));
  b.initializer(tensor<bool>("flags", {3}, {true, false, true}, Storage::kTyped));
  b.initializer(tensor<int8_t>("i8_raw", {2, 1}, {5, -5}));
  b.initializer(tensor<float>("empty", {0, 4}, {}));
  b.node("Add", {"x", "f_raw"}, {"y"});
  b.output("y");
  ir::Graph g = import_built(b);
  auto t = [&](const char* name) -> const ir::Tensor& { return g.tensor(g.find_tensor(name)); };
  EXPECT_EQ(t("f_raw").float_values(), (std::vector<double>{1.5, -2}));
  EXPECT_EQ(t("f_typed").float_values(), (std::vector<double>{3, 4.25}));
  EXPECT_EQ(t("d").dtype, ir::DType::kFloat64);
  EXPECT_EQ(t("d").float_values(), (std::vector<double>{0.125}));
  EXPECT_EQ(t("i64").int_values(), (Sizes{-1, 0, 1LL << 40}));
  EXPECT_EQ(t("i32").int_values(), (Sizes{-7, 9}));
  EXPECT_EQ(t("i8").dtype, ir::DType::kInt8);
  EXPECT_EQ(t("i8").int_values(), (Sizes{-128, 127}));
  EXPECT_EQ(t("u8").int_values(), (Sizes{0, 255}));
  EXPECT_EQ(t("flags").dtype, ir::DType::kBool);
  EXPECT_EQ(t("flags").int_values(), (Sizes{1, 0, 1}));
  EXPECT_EQ(t("i8_raw").shape, ir::Shape(Sizes{2, 1}));
  EXPECT_EQ(t("i8_raw").int_values(), (Sizes{5, -5}));
  EXPECT_EQ(t("empty").shape, ir::Shape(Sizes{0, 4}));
  EXPECT_TRUE(t("empty").is_constant());
  EXPECT_TRUE(t("empty").data->bytes.empty());
  EXPECT_EQ(g.inputs.size(), 1u);
}

TEST(OnnxImport, BadInitializers) {
  OnnxBuilder half(17);
  half.input("x", {2});
  half.initializer(tensor<float>("short", {3}, {1.f, 2.f}));
  half.node("Add", {"x", "short"}, {"y"});
  half.output("y");
  Error e = import_error(half);
  EXPECT_EQ(e.code(), Status::kInvalidInput);
  EXPECT_TRUE(contains(e.what(), "initializer 'short' holds 8 bytes; float32 [3] needs 12")) << e.what();

  OnnxBuilder f16(17);
  f16.input("x", {2});
  onnx::TensorProto h = tensor<int32_t>("half", {2}, {0, 0});
  h.set_data_type(onnx::TensorProto::FLOAT16);
  f16.initializer(h);
  f16.node("Add", {"x", "half"}, {"y"});
  f16.output("y");
  e = import_error(f16);
  EXPECT_EQ(e.code(), Status::kUnsupported);
  EXPECT_TRUE(contains(e.what(), "initializer 'half' has type FLOAT16")) << e.what();

  // Empty, but the strides of its other dims would overflow 64 bits.
  OnnxBuilder empty(17);
  empty.input("x", {2});
  empty.initializer(tensor<float>("wide", {0, int64_t{1} << 40, int64_t{1} << 40}, {}));
  empty.node("Transpose", {"wide"}, {"y"});
  empty.output("y");
  e = import_error(empty);
  EXPECT_EQ(e.code(), Status::kInvalidInput);
  EXPECT_TRUE(contains(e.what(), "initializer 'wide' has an impossible size")) << e.what();
}

OnnxBuilder weighted_model() {
  OnnxBuilder b(17);
  b.input("x", {1, 4});
  b.initializer(tensor<float>("w", {4, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  b.initializer(tensor<float>("bias", {3}, {0.5f, -0.5f, 2.f}, Storage::kTyped));
  b.node("Gemm", {"x", "w", "bias"}, {"y"}, {}, "fc");
  b.output("y");
  return b;
}

TEST(OnnxImport, ExternalData) {
  TempDir dir;
  weighted_model().save_with_external_data(dir.file("model.onnx"), "weights.bin");
  EXPECT_EQ(test::read_file(dir.file("weights.bin")).size(), (12u + 3u) * 4);
  ir::Graph g = import_model(dir.file("model.onnx"));
  const ir::Tensor& w = g.tensor(g.find_tensor("w"));
  EXPECT_EQ(w.shape, ir::Shape(Sizes{4, 3}));
  EXPECT_EQ(w.float_values(), (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(g.tensor(g.find_tensor("bias")).float_values(), (std::vector<double>{0.5, -0.5, 2}));

  // A short side file: the second tensor runs past its end.
  std::string bytes = test::read_file(dir.file("weights.bin"));
  test::write_file(dir.file("weights.bin"), bytes.substr(0, bytes.size() - 4));
  Error e = import_error(dir.file("model.onnx"));
  EXPECT_EQ(e.code(), Status::kInvalidInput);
  EXPECT_TRUE(contains(e.what(), "initializer 'bias': external data")) << e.what();
  EXPECT_TRUE(contains(e.what(), "runs past the end")) << e.what();

  std::remove(dir.file("weights.bin").c_str());
  e = import_error(dir.file("model.onnx"));
  EXPECT_TRUE(
      contains(e.what(), "initializer 'w': cannot open external data file '" + dir.file("weights.bin") + "'"))
      << e.what();
}

TEST(OnnxImport, ExternalDataMustStayInTheModelFolder) {
  TempDir dir;
  weighted_model().save_with_external_data(dir.file("model.onnx"), "weights.bin");
  onnx::ModelProto m;
  std::string bytes = test::read_file(dir.file("model.onnx"));
  ASSERT_TRUE(m.ParseFromString(bytes));
  m.mutable_graph()->mutable_initializer(0)->mutable_external_data(0)->set_value("../weights.bin");
  test::write_file(dir.file("escape.onnx"), m.SerializeAsString());
  Error e = import_error(dir.file("escape.onnx"));
  EXPECT_TRUE(contains(e.what(), "leaves the model's folder")) << e.what();
  m.mutable_graph()->mutable_initializer(0)->mutable_external_data(0)->set_value("/etc/passwd");
  test::write_file(dir.file("absolute.onnx"), m.SerializeAsString());
  e = import_error(dir.file("absolute.onnx"));
  EXPECT_TRUE(contains(e.what(), "must be relative")) << e.what();
}

// ---------------------------------------------------------------- bad files

TEST(OnnxImport, MissingAndNonOnnxFiles) {
  TempDir dir;
  Error e = import_error(dir.file("absent.onnx"));
  EXPECT_EQ(e.code(), Status::kInvalidInput);
  EXPECT_TRUE(
      contains(e.what(), "cannot open model '" + dir.file("absent.onnx") + "': No such file or directory"))
      << e.what();

  e = import_error(dir.path());
  EXPECT_TRUE(contains(e.what(), "is a directory")) << e.what();

  test::write_file(dir.file("notes.txt"), "This is a text file, not a model.\nIt has two lines.\n");
  e = import_error(dir.file("notes.txt"));
  EXPECT_EQ(e.code(), Status::kInvalidInput);
  EXPECT_TRUE(contains(e.what(), "'" + dir.file("notes.txt") + "' is not an ONNX model")) << e.what();

  test::write_file(dir.file("empty.onnx"), "");
  e = import_error(dir.file("empty.onnx"));
  EXPECT_TRUE(contains(e.what(), "'" + dir.file("empty.onnx") + "' is empty")) << e.what();

  // A valid protobuf of another kind (a bare tensor) is not a model either.
  test::write_file(dir.file("tensor.pb"), tensor<float>("t", {2}, {1, 2}).SerializeAsString());
  e = import_error(dir.file("tensor.pb"));
  EXPECT_TRUE(contains(e.what(), "is not an ONNX model")) << e.what();
}

TEST(OnnxImport, TruncatedModel) {
  std::string bytes = test::read_file(model_path("fmnist_cnn"));
  ASSERT_GT(bytes.size(), 100000u);
  TempDir dir;
  for (size_t cut : {size_t{1}, size_t{16}, size_t{300}, bytes.size() / 3, bytes.size() / 2,
                     bytes.size() - 64, bytes.size() - 1}) {
    SCOPED_TRACE(cut);
    std::string path = dir.file("cut_" + std::to_string(cut) + ".onnx");
    test::write_file(path, bytes.substr(0, cut));
    Error e = import_error(path);
    EXPECT_EQ(e.code(), Status::kInvalidInput);
    EXPECT_TRUE(contains(e.what(), "'" + path + "'")) << e.what();
    EXPECT_TRUE(contains(e.what(), "not an ONNX model") || contains(e.what(), "truncated")) << e.what();
  }
}

TEST(OnnxImport, UnsupportedOpNamesTypeNodeAndOpset) {
  OnnxBuilder b(17);
  b.input("boxes", {1, 10, 4});
  b.input("scores", {1, 1, 10});
  b.node("NonMaxSuppression", {"boxes", "scores"}, {"selected"}, {}, "nms");
  b.output("selected");
  Error e = import_error(b);
  EXPECT_EQ(e.code(), Status::kUnsupported);
  EXPECT_TRUE(contains(e.what(), "unsupported op 'NonMaxSuppression' (node 'nms', opset 17)")) << e.what();

  OnnxBuilder custom(17);
  custom.opset("com.example", 1);
  custom.input("x", {2});
  custom.node("Relu", {"x"}, {"y"}, {}, "mine", "com.example");
  custom.output("y");
  e = import_error(custom);
  EXPECT_TRUE(contains(e.what(), "unsupported op 'com.example:Relu' (node 'mine', opset 1)")) << e.what();
}

TEST(OnnxImport, UnsupportedCastTarget) {
  OnnxBuilder b(17);
  b.input("x", {2});
  b.node("Cast", {"x"}, {"y"}, {attr_i("to", onnx::TensorProto::FLOAT16)}, "to_half");
  b.output("y");
  Error e = import_error(b);
  EXPECT_EQ(e.code(), Status::kUnsupported);
  EXPECT_TRUE(contains(e.what(), "Cast 'to_half' (opset 17): cast to FLOAT16 is not supported")) << e.what();
}

// Attribute types come from the op table; an int stands for a float.
TEST(OnnxImport, AttributeOfTheWrongType) {
  OnnxBuilder b(17);
  b.input("x", {2, 3});
  b.node("Softmax", {"x"}, {"y"}, {attr_f("axis", 1.f)}, "soft");
  b.output("y");
  Error e = import_error(b);
  EXPECT_EQ(e.code(), Status::kInvalidInput);
  EXPECT_TRUE(contains(e.what(), "Softmax 'soft': attribute 'axis' must be of type int")) << e.what();

  OnnxBuilder ok(17);
  ok.input("x", {2, 3});
  ok.node("LeakyRelu", {"x"}, {"y"}, {attr_i("alpha", 1)}, "leaky");
  ok.output("y");
  ir::Graph g = import_built(ok);
  EXPECT_EQ(g.node(g.nodes()[0]).attrs.get_float("alpha", 0.f), 1.f);
}

TEST(OnnxImport, ModelLargerThanProtobufDefaultLimit) {
  // 17.5 M floats: 70 MB, above the 64 MB total-bytes limit older protobuf releases default to.
  const size_t n = 17'500'000;
  std::vector<float> big(n, 0.f);
  big.front() = 1.f;
  big.back() = -3.f;
  OnnxBuilder b(17);
  b.input("x", {static_cast<int64_t>(n)});
  b.initializer(tensor<float>("big", {static_cast<int64_t>(n)}, big));
  b.node("Add", {"x", "big"}, {"y"});
  b.output("y");
  ir::Graph g = import_built(b);
  const ir::Tensor& t = g.tensor(g.find_tensor("big"));
  ASSERT_EQ(t.data->bytes.size(), n * 4);
  EXPECT_EQ(t.values<float>()[0], 1.f);
  EXPECT_EQ(t.values<float>()[n - 1], -3.f);
}

TEST(OnnxImport, Opsets) {
  auto relu_model = [](int64_t opset, const std::string& op) {
    OnnxBuilder b(opset);
    b.input("x", {2, 3});
    b.node(op, {"x"}, {"y"}, {}, "act");
    b.output("y");
    return b;
  };
  Error e = import_error(relu_model(19, "Relu"));
  EXPECT_EQ(e.code(), Status::kUnsupported);
  EXPECT_TRUE(contains(e.what(), "opset 19 is not supported")) << e.what();
  EXPECT_EQ(import_built(relu_model(18, "Relu")).num_nodes(), 1u);
  EXPECT_EQ(import_built(relu_model(11, "Relu")).num_nodes(), 1u);
  // Old opsets: per op. HardSigmoid has its current form since opset 6, HardSwish exists from 14.
  EXPECT_EQ(import_built(relu_model(6, "HardSigmoid")).num_nodes(), 1u);
  e = import_error(relu_model(13, "HardSwish"));
  EXPECT_TRUE(
      contains(e.what(), "unsupported op 'HardSwish' (node 'act', opset 13): pare reads it from opset 14"))
      << e.what();
  // Add before opset 7 had legacy broadcast attributes.
  OnnxBuilder add(6);
  add.input("x", {2});
  add.node("Add", {"x", "x"}, {"y"}, {}, "sum");
  add.output("y");
  e = import_error(add);
  EXPECT_TRUE(contains(e.what(), "unsupported op 'Add' (node 'sum', opset 6): pare reads it from opset 7"))
      << e.what();

  OnnxBuilder none(17);
  none.model().mutable_opset_import(0)->set_domain("com.example");
  none.input("x", {2});
  none.output("x");
  e = import_error(none);
  EXPECT_TRUE(contains(e.what(), "no opset for the default domain")) << e.what();
}

TEST(OnnxImport, GraphStructureErrors) {
  OnnxBuilder undefined(17);
  undefined.input("x", {2});
  undefined.node("Add", {"x", "ghost"}, {"y"}, {}, "adder");
  undefined.output("y");
  Error e = import_error(undefined);
  EXPECT_EQ(e.code(), Status::kInvalidInput);
  EXPECT_TRUE(contains(e.what(), "Add 'adder': input 'ghost' is not defined")) << e.what();

  OnnxBuilder twice(17);
  twice.input("x", {2});
  twice.node("Relu", {"x"}, {"y"}, {}, "a");
  twice.node("Sigmoid", {"x"}, {"y"}, {}, "b");
  twice.output("y");
  e = import_error(twice);
  EXPECT_TRUE(contains(e.what(), "tensor 'y', output of node 'b', is defined twice")) << e.what();

  OnnxBuilder missing_output(17);
  missing_output.input("x", {2});
  missing_output.node("Relu", {"x"}, {"y"});
  missing_output.output("z");
  e = import_error(missing_output);
  EXPECT_TRUE(contains(e.what(), "graph output 'z' is not produced by any node")) << e.what();

  // Arity as the runtime checks it at load: a file that converts must load.
  OnnxBuilder extra_input(17);
  extra_input.input("x", {2});
  extra_input.input("w", {2});
  extra_input.node("Gelu", {"x", "w"}, {"y"}, {}, "gelu");
  extra_input.output("y");
  e = import_error(extra_input);
  EXPECT_EQ(e.code(), Status::kInvalidInput);
  EXPECT_TRUE(contains(e.what(), "Gelu 'gelu': takes 1 inputs, the node has 2")) << e.what();

  OnnxBuilder missing_input(17);
  missing_input.input("x", {2});
  missing_input.node("Add", {"x"}, {"y"}, {}, "half_add");
  missing_input.output("y");
  e = import_error(missing_input);
  EXPECT_TRUE(contains(e.what(), "Add 'half_add': takes 2 inputs, the node has 1")) << e.what();

  OnnxBuilder extra_output(17);
  extra_output.input("x", {2});
  extra_output.node("Relu", {"x"}, {"y", "z"}, {}, "two_relus");
  extra_output.output("y");
  e = import_error(extra_output);
  EXPECT_TRUE(contains(e.what(), "Relu 'two_relus': gives 1 outputs, the node has 2")) << e.what();
}

// ---------------------------------------------------------------- node conversion

TEST(OnnxImport, NamesAttributesAndOptionalInputs) {
  OnnxBuilder b(17);
  b.input("x", {1, 4});
  b.initializer(tensor<float>("hi", {}, {6.f}));
  b.node("Clip", {"x", "", "hi"}, {"c"});
  b.node("LeakyRelu", {"c"}, {"l"}, {attr_f("alpha", 0.25f)}).clear_name();
  b.node("Gelu", {"l"}, {"y"}, {}, "ms_gelu", "com.microsoft");
  b.opset("com.microsoft", 1);
  b.output("y");
  ir::Graph g = import_built(b);
  ASSERT_EQ(g.num_nodes(), 3u);
  const ir::Node& clip = node_named(g, "Clip_0");
  EXPECT_EQ(clip.inputs, (std::vector<ir::TensorId>{g.find_tensor("x"), ir::kNoTensor, g.find_tensor("hi")}));
  const ir::Node& leaky = node_named(g, "LeakyRelu_1");  // unnamed in the file: "<op>_<index>"
  EXPECT_FLOAT_EQ(leaky.attrs.get_float("alpha", 0), 0.25f);
  const ir::Node& gelu = node_named(g, "ms_gelu");
  EXPECT_EQ(gelu.op, ir::OpKind::kGelu);
  EXPECT_EQ(gelu.attrs.get_string("approximate", "none"), "none");
  EXPECT_EQ(g.tensor(gelu.outputs[0]).name, "y");
}

TEST(OnnxImport, ConstantNodeForms) {
  OnnxBuilder b(17);
  b.input("x", {3});
  b.node("Constant", {}, {"cf"}, {attr_f("value_float", 2.5f)});
  b.node("Constant", {}, {"cfs"}, {test::attr_floats("value_floats", {1.f, 2.f, 3.f})});
  b.node("Constant", {}, {"ci"}, {attr_i("value_int", -4)});
  b.node("Constant", {}, {"cis"}, {attr_ints("value_ints", {7, 8})});
  b.constant(tensor<int32_t>("ct", {2, 1}, {11, 12}));
  b.node("Add", {"x", "cf"}, {"y"});
  b.output("y");
  b.output("cis");
  ir::Graph g = import_built(b);
  EXPECT_EQ(g.num_nodes(), 1u);
  auto t = [&](const char* name) -> const ir::Tensor& { return g.tensor(g.find_tensor(name)); };
  EXPECT_EQ(t("cf").shape, ir::Shape(Sizes{}));
  EXPECT_EQ(t("cf").float_values(), (std::vector<double>{2.5}));
  EXPECT_EQ(t("cfs").shape, ir::Shape(Sizes{3}));
  EXPECT_EQ(t("cfs").float_values(), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(t("ci").dtype, ir::DType::kInt64);
  EXPECT_EQ(t("ci").int_values(), (Sizes{-4}));
  EXPECT_EQ(t("cis").int_values(), (Sizes{7, 8}));
  EXPECT_EQ(t("ct").dtype, ir::DType::kInt32);
  EXPECT_EQ(t("ct").shape, ir::Shape(Sizes{2, 1}));
  EXPECT_EQ(t("ct").int_values(), (Sizes{11, 12}));
  // A constant can be a graph output.
  EXPECT_EQ(g.outputs[1], g.find_tensor("cis"));

  OnnxBuilder sparse(17);
  sparse.input("x", {3});
  onnx::AttributeProto a;
  a.set_name("sparse_value");
  a.set_type(onnx::AttributeProto::SPARSE_TENSOR);
  sparse.node("Constant", {}, {"s"}, {a}, "sparse_const");
  sparse.node("Add", {"x", "s"}, {"y"});
  sparse.output("y");
  Error e = import_error(sparse);
  EXPECT_EQ(e.code(), Status::kUnsupported);
  EXPECT_TRUE(contains(e.what(), "Constant 'sparse_const'")) << e.what();
  EXPECT_TRUE(contains(e.what(), "sparse_value")) << e.what();
}

TEST(OnnxImport, ConstantOfShapeValue) {
  OnnxBuilder b(17);
  b.input("x", {2});
  b.initializer(tensor<int64_t>("dims", {2}, {2, 3}));
  b.node("ConstantOfShape", {"dims"}, {"ints"}, {attr_t("value", tensor<int64_t>("", {1}, {5}))},
         "fill_ints");
  b.node("ConstantOfShape", {"dims"}, {"floats"}, {attr_t("value", tensor<float>("", {1}, {0.5f}))},
         "fill_floats");
  b.node("ConstantOfShape", {"dims"}, {"zeros"}, {}, "fill_default");
  b.output("ints");
  b.output("floats");
  b.output("zeros");
  ir::Graph g = import_built(b);
  const ir::Node& ints = node_named(g, "fill_ints");
  EXPECT_EQ(ints.attrs.get_int("dtype", 0), 7);
  EXPECT_EQ(ints.attrs.get_int("value", 0), 5);
  const ir::Node& floats = node_named(g, "fill_floats");
  EXPECT_EQ(floats.attrs.get_int("dtype", 0), 1);
  EXPECT_FLOAT_EQ(floats.attrs.get_float("value", 0), 0.5f);
  const ir::Node& zeros = node_named(g, "fill_default");
  EXPECT_EQ(zeros.attrs.get_int("dtype", 0), 1);
  EXPECT_FLOAT_EQ(zeros.attrs.get_float("value", 1), 0.f);
  infer_all(g);
  EXPECT_EQ(g.tensor(ints.outputs[0]).dtype, ir::DType::kInt64);
  EXPECT_EQ(g.tensor(ints.outputs[0]).shape, ir::Shape(Sizes{2, 3}));
}

TEST(OnnxImport, AxesAttributesBecomeInputs) {
  OnnxBuilder b(11);
  b.input("x", {1, 3, 1, 4});
  b.node("Squeeze", {"x"}, {"sq"}, {attr_ints("axes", {0, 2})}, "squeeze");
  b.node("Unsqueeze", {"sq"}, {"un"}, {attr_ints("axes", {-1})}, "unsqueeze");
  b.node("ReduceSum", {"un"}, {"rs"}, {attr_ints("axes", {1}), attr_i("keepdims", 0)}, "reduce_sum");
  b.node("ReduceMean", {"rs"}, {"rm"}, {attr_ints("axes", {0})}, "reduce_mean");
  // Opset 11's Slice already takes inputs.
  b.initializer(tensor<int64_t>("starts", {1}, {1}));
  b.initializer(tensor<int64_t>("ends", {1}, {3}));
  b.initializer(tensor<int64_t>("slice_axes", {1}, {1}));
  b.node("Slice", {"x", "starts", "ends", "slice_axes"}, {"sl"}, {}, "slice");
  b.output("rm");
  b.output("sl");
  ir::Graph g = import_built(b);
  for (const char* name : {"squeeze", "unsqueeze", "reduce_sum", "reduce_mean"}) {
    const ir::Node& n = node_named(g, name);
    ASSERT_EQ(n.inputs.size(), 2u) << name;
    EXPECT_TRUE(g.tensor(n.inputs[1]).is_constant()) << name;
    EXPECT_EQ(g.tensor(n.inputs[1]).dtype, ir::DType::kInt64) << name;
    EXPECT_FALSE(n.attrs.has("axes")) << name;
  }
  EXPECT_EQ(g.tensor(node_named(g, "squeeze").inputs[1]).int_values(), (Sizes{0, 2}));
  infer_all(g);
  EXPECT_EQ(g.tensor(node_named(g, "squeeze").outputs[0]).shape, ir::Shape(Sizes{3, 4}));
  EXPECT_EQ(g.tensor(node_named(g, "unsqueeze").outputs[0]).shape, ir::Shape(Sizes{3, 4, 1}));
  EXPECT_EQ(g.tensor(node_named(g, "reduce_sum").outputs[0]).shape, ir::Shape(Sizes{3, 1}));
  EXPECT_EQ(g.tensor(node_named(g, "reduce_mean").outputs[0]).shape, ir::Shape(Sizes{1, 1}));
  EXPECT_EQ(g.tensor(node_named(g, "slice").outputs[0]).shape, ir::Shape(Sizes{1, 2, 1, 4}));

  // Opset 13 keeps ReduceMean's axes as an attribute; opset 18 as an input.
  OnnxBuilder r13(13);
  r13.input("x", {2, 3});
  r13.node("ReduceMean", {"x"}, {"y"}, {attr_ints("axes", {1})}, "mean");
  r13.output("y");
  ir::Graph g13 = import_built(r13);
  EXPECT_EQ(g13.tensor(node_named(g13, "mean").inputs.at(1)).int_values(), (Sizes{1}));
}

TEST(OnnxImport, LegacySliceSplitPadClip) {
  OnnxBuilder b(9);
  b.input("x", {4, 6});
  b.node("Slice", {"x"}, {"sl"}, {attr_ints("starts", {1}), attr_ints("ends", {-1}), attr_ints("axes", {1})},
         "slice");
  b.node("Split", {"x"}, {"s0", "s1"}, {attr_i("axis", 1), attr_ints("split", {2, 4})}, "split_sizes");
  b.node("Split", {"x"}, {"e0", "e1"}, {}, "split_equal");
  b.node("Pad", {"x"}, {"pd"}, {attr_ints("pads", {0, 1, 2, 3}), attr_f("value", 1.5f)}, "pad");
  b.node("Clip", {"x"}, {"cl"}, {attr_f("min", 0.f), attr_f("max", 6.f)}, "relu6");
  b.node("Clip", {"x"}, {"cm"}, {attr_f("max", 1.f)}, "upper");
  for (const char* out : {"sl", "s1", "e0", "pd", "cl", "cm"}) b.output(out);
  ir::Graph g = import_built(b);

  const ir::Node& slice = node_named(g, "slice");
  ASSERT_EQ(slice.inputs.size(), 4u);
  EXPECT_EQ(g.tensor(slice.inputs[1]).int_values(), (Sizes{1}));
  EXPECT_EQ(g.tensor(slice.inputs[2]).int_values(), (Sizes{-1}));
  EXPECT_EQ(g.tensor(slice.inputs[3]).int_values(), (Sizes{1}));
  EXPECT_TRUE(slice.attrs.all().empty());

  const ir::Node& split = node_named(g, "split_sizes");
  EXPECT_EQ(g.tensor(split.inputs.at(1)).int_values(), (Sizes{2, 4}));
  EXPECT_FALSE(split.attrs.has("split"));
  const ir::Node& equal = node_named(g, "split_equal");
  EXPECT_EQ(equal.inputs.size(), 1u);
  EXPECT_EQ(equal.attrs.get_int("num_outputs", 0), 2);

  const ir::Node& pad = node_named(g, "pad");
  ASSERT_EQ(pad.inputs.size(), 3u);
  EXPECT_EQ(g.tensor(pad.inputs[1]).int_values(), (Sizes{0, 1, 2, 3}));
  EXPECT_EQ(g.tensor(pad.inputs[2]).float_values(), (std::vector<double>{1.5}));
  EXPECT_EQ(g.tensor(pad.inputs[2]).dtype, ir::DType::kFloat32);
  EXPECT_FALSE(pad.attrs.has("pads"));

  const ir::Node& relu6 = node_named(g, "relu6");
  ASSERT_EQ(relu6.inputs.size(), 3u);
  EXPECT_EQ(g.tensor(relu6.inputs[1]).float_values(), (std::vector<double>{0}));
  EXPECT_EQ(g.tensor(relu6.inputs[2]).float_values(), (std::vector<double>{6}));
  const ir::Node& upper = node_named(g, "upper");
  ASSERT_EQ(upper.inputs.size(), 3u);
  EXPECT_EQ(upper.inputs[1], ir::kNoTensor);
  EXPECT_EQ(g.tensor(upper.inputs[2]).float_values(), (std::vector<double>{1}));

  infer_all(g);
  EXPECT_EQ(g.tensor(slice.outputs[0]).shape, ir::Shape(Sizes{4, 4}));
  EXPECT_EQ(g.tensor(split.outputs[1]).shape, ir::Shape(Sizes{4, 4}));
  EXPECT_EQ(g.tensor(equal.outputs[0]).shape, ir::Shape(Sizes{2, 6}));
  EXPECT_EQ(g.tensor(pad.outputs[0]).shape, ir::Shape(Sizes{6, 10}));
  Status s = ir::verify(g);
  EXPECT_TRUE(s.is_ok()) << s.message();
}

TEST(OnnxImport, ResizeForms) {
  OnnxBuilder r10(10);
  r10.input("x", {1, 1, 2, 3});
  r10.initializer(tensor<float>("scales", {4}, {1, 1, 2, 2}));
  r10.node("Resize", {"x", "scales"}, {"y"}, {attr_s("mode", "nearest")}, "up");
  r10.output("y");
  ir::Graph g = import_built(r10);
  const ir::Node& up = node_named(g, "up");
  ASSERT_EQ(up.inputs.size(), 3u);
  EXPECT_EQ(up.inputs[1], ir::kNoTensor);
  EXPECT_EQ(up.inputs[2], g.find_tensor("scales"));
  EXPECT_EQ(up.attrs.get_string("coordinate_transformation_mode", ""), "asymmetric");
  EXPECT_EQ(up.attrs.get_string("nearest_mode", ""), "floor");
  infer_all(g);
  EXPECT_EQ(g.tensor(g.outputs[0]).shape, ir::Shape(Sizes{1, 1, 4, 6}));

  // Opset 11: empty roi and scales stand for absent inputs.
  OnnxBuilder r11(11);
  r11.input("x", {1, 1, 2, 3});
  r11.initializer(tensor<float>("roi", {0}, {}));
  r11.initializer(tensor<float>("no_scales", {0}, {}));
  r11.initializer(tensor<int64_t>("sizes", {4}, {1, 1, 5, 5}));
  r11.node("Resize", {"x", "roi", "no_scales", "sizes"}, {"y"}, {attr_s("mode", "linear")}, "up");
  r11.output("y");
  ir::Graph g11 = import_built(r11);
  const ir::Node& up11 = node_named(g11, "up");
  EXPECT_EQ(up11.inputs, (std::vector<ir::TensorId>{g11.find_tensor("x"), ir::kNoTensor, ir::kNoTensor,
                                                    g11.find_tensor("sizes")}));
  infer_all(g11);
  EXPECT_EQ(g11.tensor(g11.outputs[0]).shape, ir::Shape(Sizes{1, 1, 5, 5}));
}

TEST(OnnxImport, LegacySoftmax) {
  // Softmax(axis=1) on a 4-D input before opset 13 normalises over C*H*W.
  OnnxBuilder b(11);
  b.input("x", {2, 3, 4, 5});
  b.node("Softmax", {"x"}, {"y"}, {attr_i("axis", 1)}, "sm");
  b.node("Softmax", {"x"}, {"z"}, {attr_i("axis", 3)}, "last");
  b.output("y");
  b.output("z");
  ir::Graph g = import_built(b);
  EXPECT_EQ(g.num_nodes(), 5u);
  const ir::Node& last = node_named(g, "last");
  EXPECT_EQ(last.op, ir::OpKind::kSoftmax);
  EXPECT_EQ(last.attrs.get_int("axis", 0), -1);

  const ir::Node& flatten = node_named(g, "sm/flatten");
  EXPECT_EQ(flatten.op, ir::OpKind::kFlatten);
  EXPECT_EQ(flatten.attrs.get_int("axis", 0), 1);
  const ir::Node& sm = node_named(g, "sm");
  EXPECT_EQ(sm.op, ir::OpKind::kSoftmax);
  EXPECT_EQ(sm.attrs.get_int("axis", 0), 1);
  EXPECT_EQ(sm.inputs[0], flatten.outputs[0]);
  const ir::Node& shape = node_named(g, "sm/shape");
  EXPECT_EQ(shape.inputs[0], g.find_tensor("x"));
  const ir::Node& reshape = node_named(g, "sm/reshape");
  EXPECT_EQ(reshape.inputs, (std::vector<ir::TensorId>{sm.outputs[0], shape.outputs[0]}));
  EXPECT_EQ(reshape.outputs[0], g.find_tensor("y"));

  // Shapes through the pattern, with the Shape output folded by hand.
  for (const ir::Node* n : {&flatten, &sm, &shape}) ir::infer_node(g, g.producer(n->outputs[0]));
  EXPECT_EQ(g.tensor(sm.outputs[0]).shape, ir::Shape(Sizes{2, 60}));
  EXPECT_EQ(g.tensor(shape.outputs[0]).shape, ir::Shape(Sizes{4}));
  ir::Tensor& dims = g.tensor(shape.outputs[0]);
  auto buf = std::make_shared<ir::Buffer>();
  Sizes x_dims = {2, 3, 4, 5};
  buf->bytes.resize(4 * sizeof(int64_t));
  std::memcpy(buf->bytes.data(), x_dims.data(), buf->bytes.size());
  dims.data = buf;
  ir::infer_node(g, g.producer(reshape.outputs[0]));
  EXPECT_EQ(g.tensor(g.find_tensor("y")).shape, ir::Shape(Sizes{2, 3, 4, 5}));
}

TEST(OnnxImport, InferenceOnlyOutputs) {
  auto bn_model = [](bool training, bool use_mean) {
    OnnxBuilder b(15);
    b.input("x", {1, 2, 3, 3});
    for (const char* name : {"scale", "bias", "mean", "var"}) b.initializer(tensor<float>(name, {2}, {1, 1}));
    std::vector<onnx::AttributeProto> attrs = {attr_f("epsilon", 1e-3f)};
    if (training) attrs.push_back(attr_i("training_mode", 1));
    b.node("BatchNormalization", {"x", "scale", "bias", "mean", "var"}, {"y", "running_mean", "running_var"},
           attrs, "bn");
    b.output("y");
    if (use_mean) b.output("running_mean");
    return b;
  };
  ir::Graph g = import_built(bn_model(false, false));
  const ir::Node& bn = node_named(g, "bn");
  EXPECT_EQ(bn.outputs.size(), 1u);
  EXPECT_FLOAT_EQ(bn.attrs.get_float("epsilon", 0), 1e-3f);
  Error e = import_error(bn_model(true, false));
  EXPECT_EQ(e.code(), Status::kUnsupported);
  EXPECT_TRUE(contains(e.what(), "BatchNormalization 'bn' (opset 15): training_mode=1")) << e.what();
  e = import_error(bn_model(false, true));
  EXPECT_TRUE(contains(e.what(), "output 1 'running_mean' is used")) << e.what();

  OnnxBuilder ln(17);
  ln.input("x", {2, 4});
  ln.initializer(tensor<float>("g", {4}, {1, 1, 1, 1}));
  ln.node("LayerNormalization", {"x", "g"}, {"y", "mean", "inv_std"}, {}, "ln");
  ln.output("y");
  EXPECT_EQ(node_named(import_built(ln), "ln").outputs.size(), 1u);
  // A used InvStdDev keeps the outputs up to it.
  ln.output("inv_std");
  EXPECT_EQ(node_named(import_built(ln), "ln").outputs.size(), 3u);

  OnnxBuilder pool(12);
  pool.input("x", {1, 1, 4, 4});
  pool.node("MaxPool", {"x"}, {"y", "indices"}, {attr_ints("kernel_shape", {2, 2})}, "pool");
  pool.output("y");
  EXPECT_EQ(node_named(import_built(pool), "pool").outputs.size(), 1u);

  OnnxBuilder drop(13);
  drop.input("x", {2});
  drop.node("Dropout", {"x"}, {"y", "mask"}, {}, "drop");
  drop.output("y");
  ir::Graph gd = import_built(drop);
  const ir::Node& identity = node_named(gd, "drop");
  EXPECT_EQ(identity.op, ir::OpKind::kIdentity);
  EXPECT_EQ(identity.inputs, (std::vector<ir::TensorId>{gd.find_tensor("x")}));
  drop.output("mask", onnx::TensorProto::BOOL);
  e = import_error(drop);
  EXPECT_TRUE(contains(e.what(), "Dropout 'drop'")) << e.what();
  EXPECT_TRUE(contains(e.what(), "mask")) << e.what();
}

}  // namespace
}  // namespace pare
