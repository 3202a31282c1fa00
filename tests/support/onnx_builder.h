// Builds small ONNX models in tests and saves them.
//
//   OnnxBuilder b(13);                                  // default-domain opset
//   b.input("x", {"N", 3, 8, 8});                       // float32; dims static or symbolic
//   b.initializer(tensor<float>("w", {4, 3, 3, 3}, weights));
//   b.node("Conv", {"x", "w"}, {"y"}, {attr_ints("pads", {1, 1, 1, 1})});
//   b.output("y");
//   b.save(dir.file("model.onnx"));
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pare::test {

// One dim of a value info: a size (3) or a symbol ("N"). Implicit, so that dims read
// {"N", 3, 224, 224}.
struct OnnxDim {
  OnnxDim(int64_t v) : value(v) {}
  OnnxDim(int v) : value(v) {}
  OnnxDim(const char* s) : symbol(s) {}
  OnnxDim(std::string s) : symbol(std::move(s)) {}
  int64_t value = -1;
  std::string symbol;
};

enum class Storage { kRaw, kTyped };  // raw_data, or float_data/int32_data/int64_data/double_data

// The ONNX element type of T (float -> FLOAT, int64_t -> INT64, bool -> BOOL, ...).
template <typename T>
int32_t onnx_type_of();
template <>
int32_t onnx_type_of<float>();
template <>
int32_t onnx_type_of<double>();
template <>
int32_t onnx_type_of<int64_t>();
template <>
int32_t onnx_type_of<int32_t>();
template <>
int32_t onnx_type_of<int8_t>();
template <>
int32_t onnx_type_of<uint8_t>();
template <>
int32_t onnx_type_of<bool>();

// A tensor with values of type T; `storage` picks raw_data or the typed field.
template <typename T>
onnx::TensorProto tensor(const std::string& name, const std::vector<int64_t>& dims,
                         const std::vector<T>& values, Storage storage = Storage::kRaw);

// Attributes.
onnx::AttributeProto attr_i(const std::string& name, int64_t v);
onnx::AttributeProto attr_f(const std::string& name, float v);
onnx::AttributeProto attr_s(const std::string& name, const std::string& v);
onnx::AttributeProto attr_ints(const std::string& name, const std::vector<int64_t>& v);
onnx::AttributeProto attr_floats(const std::string& name, const std::vector<float>& v);
onnx::AttributeProto attr_t(const std::string& name, const onnx::TensorProto& v);

class OnnxBuilder {
 public:
  // A model importing the default domain at `opset`.
  explicit OnnxBuilder(int64_t opset = 18, const std::string& graph_name = "test");

  // Adds (or changes) the opset of a domain, e.g. opset("com.microsoft", 1).
  OnnxBuilder& opset(const std::string& domain, int64_t version);

  // Graph inputs and outputs. `elem_type` is an onnx::TensorProto::DataType.
  OnnxBuilder& input(const std::string& name, const std::vector<OnnxDim>& dims,
                     int32_t elem_type = onnx::TensorProto::FLOAT);
  OnnxBuilder& input_without_shape(const std::string& name, int32_t elem_type = onnx::TensorProto::FLOAT);
  OnnxBuilder& output(const std::string& name, const std::vector<OnnxDim>& dims,
                      int32_t elem_type = onnx::TensorProto::FLOAT);
  OnnxBuilder& output(const std::string& name, int32_t elem_type = onnx::TensorProto::FLOAT);  // no shape

  OnnxBuilder& initializer(const onnx::TensorProto& t);
  // A Constant node whose output is named like the tensor.
  OnnxBuilder& constant(const onnx::TensorProto& t);

  // Adds a node; `name` defaults to "<op_type>_<index>". Returns it for further edits.
  onnx::NodeProto& node(const std::string& op_type, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs,
                        const std::vector<onnx::AttributeProto>& attrs = {}, const std::string& name = "",
                        const std::string& domain = "");

  onnx::ModelProto& model() { return model_; }
  onnx::GraphProto& graph() { return *model_.mutable_graph(); }
  std::string serialize() const;
  // Writes the model; throws std::runtime_error when the file cannot be written.
  void save(const std::string& path) const;
  // Writes the model with every initializer's bytes moved to `data_file` in the model's
  // folder (data_location EXTERNAL, with location, offset and length).
  void save_with_external_data(const std::string& path, const std::string& data_file = "weights.bin") const;

 private:
  onnx::ModelProto model_;
};

}  // namespace pare::test
