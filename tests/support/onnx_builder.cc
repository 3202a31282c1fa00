#include "tests/support/onnx_builder.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace pare::test {
namespace {

void set_type(onnx::ValueInfoProto* vi, int32_t elem_type) {
  vi->mutable_type()->mutable_tensor_type()->set_elem_type(elem_type);
}

void set_dims(onnx::ValueInfoProto* vi, const std::vector<OnnxDim>& dims) {
  auto* shape = vi->mutable_type()->mutable_tensor_type()->mutable_shape();
  for (const OnnxDim& d : dims) {
    auto* dim = shape->add_dim();
    if (d.symbol.empty())
      dim->set_dim_value(d.value);
    else
      dim->set_dim_param(d.symbol);
  }
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write '" + path + "'");
}

// The tensor's payload as little-endian bytes, whichever field holds it.
std::string raw_bytes(const onnx::TensorProto& t) {
  if (t.has_raw_data()) return t.raw_data();
  std::string out;
  auto append = [&](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      for (float v : t.float_data()) append(&v, 4);
      break;
    case onnx::TensorProto::DOUBLE:
      for (double v : t.double_data()) append(&v, 8);
      break;
    case onnx::TensorProto::INT64:
      for (int64_t v : t.int64_data()) append(&v, 8);
      break;
    case onnx::TensorProto::INT32:
      for (int32_t v : t.int32_data()) append(&v, 4);
      break;
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::BOOL:
      for (int32_t v : t.int32_data()) {
        char c = static_cast<char>(v);
        append(&c, 1);
      }
      break;
    default: throw std::runtime_error("raw_bytes: unhandled element type");
  }
  return out;
}

template <typename T>
void store_typed(onnx::TensorProto& t, const std::vector<T>& values) {
  for (const T& v : values) {
    if constexpr (std::is_same_v<T, float>)
      t.add_float_data(v);
    else if constexpr (std::is_same_v<T, double>)
      t.add_double_data(v);
    else if constexpr (std::is_same_v<T, int64_t>)
      t.add_int64_data(v);
    else
      t.add_int32_data(static_cast<int32_t>(v));
  }
}

}  // namespace

template <>
int32_t onnx_type_of<float>() {
  return onnx::TensorProto::FLOAT;
}
template <>
int32_t onnx_type_of<double>() {
  return onnx::TensorProto::DOUBLE;
}
template <>
int32_t onnx_type_of<int64_t>() {
  return onnx::TensorProto::INT64;
}
template <>
int32_t onnx_type_of<int32_t>() {
  return onnx::TensorProto::INT32;
}
template <>
int32_t onnx_type_of<int8_t>() {
  return onnx::TensorProto::INT8;
}
template <>
int32_t onnx_type_of<uint8_t>() {
  return onnx::TensorProto::UINT8;
}
template <>
int32_t onnx_type_of<bool>() {
  return onnx::TensorProto::BOOL;
}

template <typename T>
onnx::TensorProto tensor(const std::string& name, const std::vector<int64_t>& dims,
                         const std::vector<T>& values, Storage storage) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx_type_of<T>());
  for (int64_t d : dims) t.add_dims(d);
  if (storage == Storage::kTyped) {
    store_typed(t, values);
  } else {
    std::string bytes(values.size() * sizeof(T), '\0');
    for (size_t i = 0; i < values.size(); ++i) {
      T v = values[i];
      std::memcpy(&bytes[i * sizeof(T)], &v, sizeof(T));
    }
    t.set_raw_data(bytes);
  }
  return t;
}

template onnx::TensorProto tensor<float>(const std::string&, const std::vector<int64_t>&,
                                         const std::vector<float>&, Storage);
template onnx::TensorProto tensor<double>(const std::string&, const std::vector<int64_t>&,
                                          const std::vector<double>&, Storage);
template onnx::TensorProto tensor<int64_t>(const std::string&, const std::vector<int64_t>&,
                                           const std::vector<int64_t>&, Storage);
template onnx::TensorProto tensor<int32_t>(const std::string&, const std::vector<int64_t>&,
                                           const std::vector<int32_t>&, Storage);
template onnx::TensorProto tensor<int8_t>(const std::string&, const std::vector<int64_t>&,
                                          const std::vector<int8_t>&, Storage);
template onnx::TensorProto tensor<uint8_t>(const std::string&, const std::vector<int64_t>&,
                                           const std::vector<uint8_t>&, Storage);
template onnx::TensorProto tensor<bool>(const std::string&, const std::vector<int64_t>&,
                                        const std::vector<bool>&, Storage);

onnx::AttributeProto attr_i(const std::string& name, int64_t v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(v);
  return a;
}

onnx::AttributeProto attr_f(const std::string& name, float v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(v);
  return a;
}

onnx::AttributeProto attr_s(const std::string& name, const std::string& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::STRING);
  a.set_s(v);
  return a;
}

onnx::AttributeProto attr_ints(const std::string& name, const std::vector<int64_t>& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a.add_ints(x);
  return a;
}

onnx::AttributeProto attr_floats(const std::string& name, const std::vector<float>& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOATS);
  for (float x : v) a.add_floats(x);
  return a;
}

onnx::AttributeProto attr_t(const std::string& name, const onnx::TensorProto& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::TENSOR);
  *a.mutable_t() = v;
  return a;
}

OnnxBuilder::OnnxBuilder(int64_t opset_version, const std::string& graph_name) {
  model_.set_ir_version(8);
  model_.set_producer_name("pare-tests");
  model_.mutable_graph()->set_name(graph_name);
  opset("", opset_version);
}

OnnxBuilder& OnnxBuilder::opset(const std::string& domain, int64_t version) {
  for (auto& o : *model_.mutable_opset_import()) {
    if (o.domain() == domain) {
      o.set_version(version);
      return *this;
    }
  }
  auto* o = model_.add_opset_import();
  o->set_domain(domain);
  o->set_version(version);
  return *this;
}

OnnxBuilder& OnnxBuilder::input(const std::string& name, const std::vector<OnnxDim>& dims,
                                int32_t elem_type) {
  auto* vi = graph().add_input();
  vi->set_name(name);
  set_type(vi, elem_type);
  set_dims(vi, dims);
  return *this;
}

OnnxBuilder& OnnxBuilder::input_without_shape(const std::string& name, int32_t elem_type) {
  auto* vi = graph().add_input();
  vi->set_name(name);
  set_type(vi, elem_type);
  return *this;
}

OnnxBuilder& OnnxBuilder::output(const std::string& name, const std::vector<OnnxDim>& dims,
                                 int32_t elem_type) {
  auto* vi = graph().add_output();
  vi->set_name(name);
  set_type(vi, elem_type);
  set_dims(vi, dims);
  return *this;
}

OnnxBuilder& OnnxBuilder::output(const std::string& name, int32_t elem_type) {
  auto* vi = graph().add_output();
  vi->set_name(name);
  set_type(vi, elem_type);
  return *this;
}

OnnxBuilder& OnnxBuilder::initializer(const onnx::TensorProto& t) {
  *graph().add_initializer() = t;
  return *this;
}

OnnxBuilder& OnnxBuilder::constant(const onnx::TensorProto& t) {
  onnx::TensorProto value = t;
  value.clear_name();
  node("Constant", {}, {t.name()}, {attr_t("value", value)});
  return *this;
}

onnx::NodeProto& OnnxBuilder::node(const std::string& op_type, const std::vector<std::string>& inputs,
                                   const std::vector<std::string>& outputs,
                                   const std::vector<onnx::AttributeProto>& attrs, const std::string& name,
                                   const std::string& domain) {
  auto* n = graph().add_node();
  n->set_op_type(op_type);
  n->set_name(name.empty() ? op_type + "_" + std::to_string(graph().node_size() - 1) : name);
  if (!domain.empty()) n->set_domain(domain);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  for (const auto& a : attrs) *n->add_attribute() = a;
  return *n;
}

std::string OnnxBuilder::serialize() const {
  std::string bytes;
  if (!model_.SerializeToString(&bytes)) throw std::runtime_error("cannot serialize the ONNX model");
  return bytes;
}

void OnnxBuilder::save(const std::string& path) const { write_bytes(path, serialize()); }

void OnnxBuilder::save_with_external_data(const std::string& path, const std::string& data_file) const {
  onnx::ModelProto copy = model_;
  std::string data;
  for (auto& t : *copy.mutable_graph()->mutable_initializer()) {
    std::string bytes = raw_bytes(t);
    int64_t offset = static_cast<int64_t>(data.size());
    data += bytes;
    t.clear_raw_data();
    t.clear_float_data();
    t.clear_double_data();
    t.clear_int32_data();
    t.clear_int64_data();
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    for (const auto& [key, value] : {std::pair<std::string, std::string>{"location", data_file},
                                     {"offset", std::to_string(offset)},
                                     {"length", std::to_string(bytes.size())}}) {
      auto* entry = t.add_external_data();
      entry->set_key(key);
      entry->set_value(value);
    }
  }
  std::filesystem::path folder = std::filesystem::path(path).parent_path();
  write_bytes((folder / data_file).string(), data);
  std::string bytes;
  if (!copy.SerializeToString(&bytes)) throw std::runtime_error("cannot serialize the ONNX model");
  write_bytes(path, bytes);
}

}  // namespace pare::test
