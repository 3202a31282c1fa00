#include "formats/onnx/importer.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>
#include <unordered_map>

#include "formats/onnx/tensor_proto.h"
#include "ir/op_table.h"
#include "ir/status.h"

namespace pare::onnx_import {
namespace {

using ir::OpKind;
using ir::TensorId;

// Opsets of the default domain. Opsets above 18 may change op semantics pare does not
// know, so they are refused. Older opsets are accepted op by op: the op table's min_opset
// gives, for each op, the first opset whose form the conversions below read (normalising
// attribute forms such as Squeeze axes, Pad pads or Clip min/max into opset-18 inputs).
// Older forms with other semantics (legacy broadcast attributes before opset 7, Reshape's
// shape attribute before opset 5, ...) are refused naming the op and the opset. So an
// opset-6 HardSigmoid or an opset-1 GlobalAveragePool imports while an opset-6 Add does not.
constexpr int64_t kMaxOpset = 18;
constexpr int64_t kDropoutMinOpset = 7;

std::string join_sizes(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s;
}

std::string read_model_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw_invalid("cannot open model '" + path + "': is a directory");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw_invalid("cannot open model '" + path + "': " + std::strerror(errno));
  std::string bytes;
  char chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof(chunk), f)) > 0) bytes.append(chunk, got);
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed) throw_invalid("cannot read model '" + path + "': " + std::strerror(err));
  return bytes;
}

onnx::ModelProto parse_model(const std::string& path, const std::string& bytes) {
  if (bytes.empty()) throw_invalid("'" + path + "' is empty, not an ONNX model");
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw_unsupported("'" + path +
                      "' is larger than 2 GB, the protobuf limit; store the weights as external data");
  google::protobuf::io::ArrayInputStream stream(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&stream);
  // Older protobuf releases default to a 64 MB limit, which would refuse large models.
  coded.SetTotalBytesLimit(std::numeric_limits<int>::max());
  onnx::ModelProto model;
  if (!model.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage())
    throw_invalid("'" + path + "' is not an ONNX model or is truncated (protobuf parse failed)");
  // Protobuf accepts many byte strings as some message: check what every ONNX model has.
  if (!model.has_ir_version() || model.ir_version() <= 0)
    throw_invalid("'" + path + "' is not an ONNX model (no ir_version)");
  if (!model.has_graph()) throw_invalid("ONNX model '" + path + "' has no graph (truncated?)");
  if (model.opset_import_size() == 0)
    throw_invalid("ONNX model '" + path + "' has no opset_import (truncated?)");
  return model;
}

template <typename T>
ir::Tensor make_constant(ir::DType dtype, const std::vector<int64_t>& shape, const std::vector<T>& values) {
  ir::Tensor t;
  t.dtype = dtype;
  t.shape = ir::Shape(shape);
  auto buffer = std::make_shared<ir::Buffer>();
  buffer->bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(buffer->bytes.data(), values.data(), buffer->bytes.size());
  t.data = std::move(buffer);
  return t;
}

bool is_default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

// The node being converted, for messages.
struct NodeInfo {
  const onnx::NodeProto& proto;
  std::string name;
  int64_t opset;
  std::string where() const { return proto.op_type() + " '" + name + "'"; }
  [[noreturn]] void unsupported(const std::string& what) const {
    throw_unsupported(where() + " (opset " + std::to_string(opset) + "): " + what);
  }
};

class Importer {
 public:
  Importer(const std::string& path, const ImportOptions& options)
      : path_(path), model_dir_(std::filesystem::path(path).parent_path().string()), options_(options) {}

  ir::Graph run(const onnx::ModelProto& model) {
    read_opsets(model);
    const onnx::GraphProto& g = model.graph();
    graph_.name = g.name().empty() ? std::filesystem::path(path_).stem().string() : g.name();
    graph_.metadata["producer_name"] = model.producer_name();
    graph_.metadata["producer_version"] = model.producer_version();
    graph_.metadata["opset"] = std::to_string(opset_);
    graph_.metadata["ir_version"] = std::to_string(model.ir_version());

    for (const auto& init : g.initializer()) add_initializer(init);
    for (const auto& in : g.input())
      if (!tensors_.count(in.name())) add_graph_input(in);
    fix_input_shapes();
    for (const auto& n : g.node())
      for (const auto& name : n.input()) used_.insert(name);
    for (const auto& out : g.output()) used_.insert(out.name());
    for (int i = 0; i < g.node_size(); ++i) declare_outputs(g.node(i), i);
    for (int i = 0; i < g.node_size(); ++i) convert_node(g.node(i), i);
    for (const auto& out : g.output()) {
      auto it = tensors_.find(out.name());
      if (out.name().empty() || it == tensors_.end())
        throw_invalid("graph output '" + out.name() + "' is not produced by any node");
      graph_.outputs.push_back(it->second);
    }
    return std::move(graph_);
  }

 private:
  void read_opsets(const onnx::ModelProto& model) {
    bool has_default = false;
    for (const auto& o : model.opset_import()) {
      if (is_default_domain(o.domain())) {
        opset_ = o.version();
        has_default = true;
      } else {
        domain_opsets_[o.domain()] = o.version();
      }
    }
    if (!has_default) throw_invalid("no opset for the default domain (ai.onnx) in opset_import");
    if (opset_ < 1 || opset_ > kMaxOpset)
      throw_unsupported("opset " + std::to_string(opset_) +
                        " is not supported: pare reads the default-domain opsets up to " +
                        std::to_string(kMaxOpset) + " (before 11, op by op)");
  }

  TensorId define(ir::Tensor t, const std::string& what) {
    if (t.name.empty()) throw_invalid(what + " has no name");
    if (tensors_.count(t.name))
      throw_invalid(what + " '" + t.name +
                    "' is defined twice (as an initializer, a graph input or a node output)");
    std::string name = t.name;
    TensorId id = graph_.add_tensor(std::move(t));
    tensors_[name] = id;
    return id;
  }

  void add_initializer(const onnx::TensorProto& init) {
    define(tensor_from_proto(init, model_dir_, "initializer '" + init.name() + "'"), "initializer");
  }

  void add_graph_input(const onnx::ValueInfoProto& in) {
    std::string what = "input '" + in.name() + "'";
    if (!in.type().has_tensor_type()) throw_unsupported(what + " is not a tensor");
    const auto& tt = in.type().tensor_type();
    ir::Tensor t;
    t.name = in.name();
    if (!ir::dtype_from_onnx(tt.elem_type(), &t.dtype))
      throw_unsupported(what + " has type " + ir::onnx_type_name(tt.elem_type()) +
                        ", which pare does not support");
    if (tt.has_shape()) {
      t.shape.rank_known = true;
      for (const auto& d : tt.shape().dim()) {
        if (d.has_dim_value() && d.dim_value() >= 0)
          t.shape.dims.push_back(ir::Dim::known(d.dim_value()));
        else
          t.shape.dims.push_back(ir::Dim::sym(d.has_dim_param() ? d.dim_param() : ""));
      }
    }
    graph_.inputs.push_back(define(std::move(t), "graph input"));
  }

  std::string input_names() const {
    std::string s;
    for (TensorId id : graph_.inputs) s += (s.empty() ? "" : ", ") + graph_.tensor(id).name;
    return s.empty() ? "none" : s;
  }

  // Applies --input-shape, then requires every input dim to be known.
  void fix_input_shapes() {
    for (const auto& [name, dims] : options_.input_shapes) {
      std::string spec = "--input-shape " + name + ":" + join_sizes(dims);
      auto it = tensors_.find(name);
      if (it == tensors_.end() ||
          std::find(graph_.inputs.begin(), graph_.inputs.end(), it->second) == graph_.inputs.end())
        throw_invalid(spec + ": '" + name + "' is not an input of the model (inputs: " + input_names() + ")");
      ir::Tensor& t = graph_.tensor(it->second);
      for (int64_t d : dims)
        if (d < 0) throw_invalid(spec + ": sizes must be >= 0");
      if (t.shape.rank_known) {
        if (t.shape.rank() != dims.size())
          throw_invalid(spec + ": input '" + name + "' has rank " + std::to_string(t.shape.rank()) +
                        " (shape " + t.shape.str() + "), not " + std::to_string(dims.size()));
        for (size_t i = 0; i < dims.size(); ++i)
          if (t.shape.dims[i].is_known() && t.shape.dims[i].value != dims[i])
            throw_invalid(spec + ": input '" + name + "' has the fixed size " +
                          std::to_string(t.shape.dims[i].value) + " at axis " + std::to_string(i) +
                          " (shape " + t.shape.str() + ")");
      }
      t.shape = ir::Shape(dims);
    }
    for (TensorId id : graph_.inputs) {
      const ir::Tensor& t = graph_.tensor(id);
      if (!t.shape.rank_known)
        throw_invalid("input '" + t.name + "' has no shape in the model; set it with --input-shape " +
                      t.name + ":D1xD2x...");
      std::vector<int64_t> example;
      for (const ir::Dim& d : t.shape.dims) example.push_back(d.is_known() ? d.value : 1);
      for (size_t i = 0; i < t.shape.rank(); ++i) {
        const ir::Dim& d = t.shape.dims[i];
        if (d.is_known()) continue;
        std::string dim = d.symbol.empty() ? "an unknown dim" : "symbolic dim '" + d.symbol + "'";
        throw_invalid("input '" + t.name + "' has " + dim + " at axis " + std::to_string(i) + " (shape " +
                      t.shape.str() + "); set it with --input-shape " + t.name + ":" + join_sizes(example));
      }
    }
  }

  static std::string node_name(const onnx::NodeProto& n, int index) {
    return n.name().empty() ? n.op_type() + "_" + std::to_string(index) : n.name();
  }

  void declare_outputs(const onnx::NodeProto& n, int index) {
    for (const auto& out : n.output()) {
      if (out.empty()) continue;
      if (tensors_.count(out))
        throw_invalid("tensor '" + out + "', output of node '" + node_name(n, index) +
                      "', is defined twice (as an initializer, a graph input or another node's output)");
      ir::Tensor t;
      t.name = out;
      tensors_[out] = graph_.add_tensor(std::move(t));
    }
  }

  TensorId lookup(const NodeInfo& info, const std::string& name) const {
    if (name.empty()) return ir::kNoTensor;
    auto it = tensors_.find(name);
    if (it == tensors_.end())
      throw_invalid(info.where() + ": input '" + name +
                    "' is not defined (not a graph input, an initializer or a node output)");
    return it->second;
  }

  std::string unique_name(const std::string& base) {
    std::string name = base;
    for (int i = 1; tensors_.count(name); ++i) name = base + "_" + std::to_string(i);
    return name;
  }

  TensorId add_generated(const std::string& base) {
    ir::Tensor t;
    t.name = unique_name(base);
    std::string name = t.name;
    TensorId id = graph_.add_tensor(std::move(t));
    tensors_[name] = id;
    return id;
  }

  TensorId add_int64s(const std::string& base, const std::vector<int64_t>& values) {
    TensorId id = ir::add_constant<int64_t>(graph_, unique_name(base), ir::DType::kInt64,
                                            {static_cast<int64_t>(values.size())}, values);
    tensors_[graph_.tensor(id).name] = id;
    return id;
  }

  // A scalar of the dtype of `like` when known (graph inputs, constants), else float32:
  // the pre-opset-11 Pad value and Clip bounds were float attributes.
  TensorId add_scalar_like(const std::string& base, TensorId like, double value) {
    ir::DType dtype = graph_.tensor(like).dtype;
    std::string name = unique_name(base);
    TensorId id = ir::kNoTensor;
    switch (dtype) {
      case ir::DType::kFloat64: id = ir::add_constant<double>(graph_, name, dtype, {}, {value}); break;
      case ir::DType::kInt64:
        id = ir::add_constant<int64_t>(graph_, name, dtype, {}, {static_cast<int64_t>(value)});
        break;
      case ir::DType::kInt32:
        id = ir::add_constant<int32_t>(graph_, name, dtype, {}, {static_cast<int32_t>(value)});
        break;
      case ir::DType::kInt8:
        id = ir::add_constant<int8_t>(graph_, name, dtype, {}, {static_cast<int8_t>(value)});
        break;
      case ir::DType::kUInt8:
      case ir::DType::kBool:
        id = ir::add_constant<uint8_t>(graph_, name, dtype, {}, {static_cast<uint8_t>(value)});
        break;
      case ir::DType::kFloat32:
      case ir::DType::kUndefined:
        id = ir::add_constant<float>(graph_, name, ir::DType::kFloat32, {}, {static_cast<float>(value)});
        break;
    }
    tensors_[name] = id;
    return id;
  }

  static void set_input(ir::Node& node, size_t slot, TensorId id) {
    if (node.inputs.size() <= slot) node.inputs.resize(slot + 1, ir::kNoTensor);
    node.inputs[slot] = id;
  }
  static bool has_input(const ir::Node& node, size_t slot) {
    return slot < node.inputs.size() && node.inputs[slot] != ir::kNoTensor;
  }

  // Moves an ints attribute of an old opset into the input slot opset 18 reads it from.
  void attr_to_input(ir::Node& node, const std::string& attr, size_t slot) {
    if (!node.attrs.has(attr)) return;
    if (!has_input(node, slot))
      set_input(node, slot, add_int64s(node.name + "/" + attr, node.attrs.get_ints(attr)));
    node.attrs.erase(attr);
  }

  bool is_used(TensorId id) const { return id != ir::kNoTensor && used_.count(graph_.tensor(id).name) != 0; }

  // Drops optional outputs beyond `keep` (training statistics, indices) that nothing reads.
  void drop_unused_outputs(ir::Node& node, const NodeInfo& info, size_t keep) {
    for (size_t i = keep; i < node.outputs.size(); ++i)
      if (is_used(node.outputs[i]))
        info.unsupported("output " + std::to_string(i) + " '" + graph_.tensor(node.outputs[i]).name +
                         "' is used; pare supports only output 0 of this op (inference)");
    if (node.outputs.size() > keep) node.outputs.resize(keep);
  }

  // Drops the trailing optional outputs that nothing reads (LayerNormalization's Mean and
  // InvStdDev are computed only when used).
  void drop_unused_trailing_outputs(ir::Node& node) {
    while (node.outputs.size() > 1 && !is_used(node.outputs.back())) node.outputs.pop_back();
  }

  ir::Attributes convert_attributes(const NodeInfo& info) const {
    ir::Attributes attrs;
    for (const auto& a : info.proto.attribute()) {
      if (a.name().empty()) throw_invalid(info.where() + ": an attribute has no name");
      // A legacy in-place hint without meaning for pare.
      if (a.name() == "consumed_inputs") continue;
      auto type = a.type();
      if (type == onnx::AttributeProto::UNDEFINED) {  // very old files leave the type out
        if (a.ints_size())
          type = onnx::AttributeProto::INTS;
        else if (a.floats_size())
          type = onnx::AttributeProto::FLOATS;
        else if (a.has_t())
          type = onnx::AttributeProto::TENSOR;
        else if (a.has_s())
          type = onnx::AttributeProto::STRING;
        else if (a.has_f())
          type = onnx::AttributeProto::FLOAT;
        else if (a.has_i())
          type = onnx::AttributeProto::INT;
      }
      switch (type) {
        case onnx::AttributeProto::INT: attrs.set(a.name(), static_cast<int64_t>(a.i())); break;
        case onnx::AttributeProto::FLOAT: attrs.set(a.name(), a.f()); break;
        case onnx::AttributeProto::STRING: attrs.set(a.name(), a.s()); break;
        case onnx::AttributeProto::INTS:
          attrs.set(a.name(), std::vector<int64_t>(a.ints().begin(), a.ints().end()));
          break;
        case onnx::AttributeProto::FLOATS:
          attrs.set(a.name(), std::vector<float>(a.floats().begin(), a.floats().end()));
          break;
        case onnx::AttributeProto::TENSOR:
          if (info.proto.op_type() == "ConstantOfShape" && a.name() == "value")
            break;  // read by convert_constant_of_shape
          [[fallthrough]];
        default:
          info.unsupported("attribute '" + a.name() + "' of type " +
                           onnx::AttributeProto_AttributeType_Name(type) + " is not supported");
      }
    }
    return attrs;
  }

  // Attributes the op table lists must have its type (an int stands for a float, as
  // Attributes::get_float reads it); others are kept for the rules that read them.
  static void check_attribute_types(const ir::Attributes& attrs, const ir::OpInfo& facts, const NodeInfo& info) {
    for (const auto& [name, value] : attrs.all()) {
      const ir::AttrSpec* spec = facts.find_attr(name);
      if (!spec) continue;
      bool ok = false;
      switch (spec->type) {
        case ir::AttrType::kInt: ok = std::holds_alternative<int64_t>(value); break;
        case ir::AttrType::kFloat:
          ok = std::holds_alternative<float>(value) || std::holds_alternative<int64_t>(value);
          break;
        case ir::AttrType::kString: ok = std::holds_alternative<std::string>(value); break;
        case ir::AttrType::kInts: ok = std::holds_alternative<std::vector<int64_t>>(value); break;
        case ir::AttrType::kFloats: ok = std::holds_alternative<std::vector<float>>(value); break;
        case ir::AttrType::kTensor: ok = false; break;  // tensors are read by their op's conversion
      }
      if (!ok)
        throw_invalid(info.where() + ": attribute '" + name + "' must be of type " + ir::attr_type_name(spec->type));
    }
  }

  void convert_constant(const NodeInfo& info) {
    const onnx::NodeProto& np = info.proto;
    if (np.output_size() != 1 || np.output(0).empty()) throw_invalid(info.where() + ": must have one output");
    if (np.attribute_size() != 1) throw_invalid(info.where() + ": must have exactly one value attribute");
    const onnx::AttributeProto& a = np.attribute(0);
    std::string name = np.output(0);
    ir::Tensor t;
    if (a.name() == "value") {
      t = tensor_from_proto(a.t(), model_dir_, info.where());
    } else if (a.name() == "value_float") {
      t = make_constant<float>(ir::DType::kFloat32, {}, {a.f()});
    } else if (a.name() == "value_floats") {
      t = make_constant<float>(ir::DType::kFloat32, {a.floats_size()},
                               {a.floats().begin(), a.floats().end()});
    } else if (a.name() == "value_int") {
      t = make_constant<int64_t>(ir::DType::kInt64, {}, {a.i()});
    } else if (a.name() == "value_ints") {
      t = make_constant<int64_t>(ir::DType::kInt64, {a.ints_size()}, {a.ints().begin(), a.ints().end()});
    } else {
      info.unsupported("attribute '" + a.name() + "' is not supported (sparse and string constants)");
    }
    t.name = name;
    graph_.tensor(tensors_.at(name)) = std::move(t);
  }

  // Dropout is the identity at inference; its mask output and training mode are refused,
  // except training with a constant ratio of 0 (torchvision's Swin calls F.dropout with its
  // default training=True and p=0), which is the identity too.
  void convert_dropout(const NodeInfo& info) {
    const onnx::NodeProto& np = info.proto;
    if (info.opset < kDropoutMinOpset)
      throw_unsupported("unsupported op 'Dropout' (node '" + info.name + "', opset " +
                        std::to_string(info.opset) + "): pare reads it from opset " +
                        std::to_string(kDropoutMinOpset));
    if (np.output_size() > 1 && is_used(lookup(info, np.output(1))))
      info.unsupported("the mask output is used; pare supports Dropout only at inference");
    if (np.input_size() > 2 && !np.input(2).empty()) {
      const ir::Tensor& mode = graph_.tensor(lookup(info, np.input(2)));
      bool off = mode.is_constant();
      for (int64_t v : mode.int_values()) off = off && v == 0;
      bool zero_ratio = false;
      if (np.input_size() > 1 && !np.input(1).empty()) {
        const ir::Tensor& ratio = graph_.tensor(lookup(info, np.input(1)));
        zero_ratio = ratio.is_constant();
        for (double v : ratio.float_values()) zero_ratio = zero_ratio && v == 0.0;
      }
      if (!off && !zero_ratio) info.unsupported("training_mode must be a constant false (or the ratio a constant 0)");
    }
    ir::Node node;
    node.op = OpKind::kIdentity;
    node.name = info.name;
    if (np.input_size() < 1 || np.input(0).empty()) throw_invalid(info.where() + ": input 0 is missing");
    node.inputs = {lookup(info, np.input(0))};
    if (np.output_size() < 1 || np.output(0).empty()) throw_invalid(info.where() + ": output 0 is missing");
    node.outputs = {lookup(info, np.output(0))};
    graph_.add_node(std::move(node));
  }

  void convert_constant_of_shape(ir::Node& node, const NodeInfo& info) {
    node.attrs.set("dtype", int64_t{1});
    node.attrs.set("value", 0.0f);
    for (const auto& a : info.proto.attribute()) {
      if (a.name() != "value") continue;
      ir::Tensor v = tensor_from_proto(a.t(), model_dir_, info.where() + ": attribute 'value'");
      if (v.shape.num_elements() != 1)
        throw_invalid(info.where() + ": attribute 'value' must hold one element, not " + v.shape.str());
      node.attrs.set("dtype", static_cast<int64_t>(v.dtype));
      if (v.dtype == ir::DType::kFloat32 || v.dtype == ir::DType::kFloat64)
        node.attrs.set("value", static_cast<float>(v.float_values()[0]));
      else
        node.attrs.set("value", v.int_values()[0]);
    }
  }

  void convert_legacy_pad(ir::Node& node, const NodeInfo& info) {
    if (!node.attrs.has("pads")) throw_invalid(info.where() + ": attribute 'pads' is missing");
    set_input(node, 1, add_int64s(node.name + "/pads", node.attrs.get_ints("pads")));
    float value = node.attrs.get_float("value", 0.f);
    if (value != 0.f)
      set_input(node, 2, add_scalar_like(node.name + "/constant_value", node.inputs[0], value));
    node.attrs.erase("pads");
    node.attrs.erase("value");
  }

  void convert_legacy_clip(ir::Node& node) {
    if (node.attrs.has("min"))
      set_input(node, 1,
                add_scalar_like(node.name + "/min", node.inputs[0], node.attrs.get_float("min", 0.f)));
    if (node.attrs.has("max"))
      set_input(node, 2,
                add_scalar_like(node.name + "/max", node.inputs[0], node.attrs.get_float("max", 0.f)));
    node.attrs.erase("min");
    node.attrs.erase("max");
  }

  void normalise_resize(ir::Node& node, const NodeInfo& info) {
    if (info.opset == 10) {
      // Opset 10: (X, scales) with asymmetric coordinates and floor rounding for nearest.
      if (node.inputs.size() != 2) throw_invalid(info.where() + ": expects inputs (X, scales) at opset 10");
      node.inputs = {node.inputs[0], ir::kNoTensor, node.inputs[1]};
      node.attrs.set("coordinate_transformation_mode", std::string("asymmetric"));
      if (node.attrs.get_string("mode", "nearest") == "nearest")
        node.attrs.set("nearest_mode", std::string("floor"));
    }
    // Opsets 11 and 12 require roi and scales even when unused: empty tensors stand for absent.
    for (size_t i = 1; i < node.inputs.size(); ++i) {
      TensorId id = node.inputs[i];
      if (id != ir::kNoTensor && graph_.tensor(id).is_constant() && graph_.tensor(id).data->bytes.empty())
        node.inputs[i] = ir::kNoTensor;
    }
  }

  // Softmax before opset 13 flattens the input to 2-D at `axis` and normalises each row.
  // At the last axis that is opset 13's Softmax; elsewhere it becomes
  // Reshape(Softmax(Flatten(x, axis), axis=1), Shape(x)).
  void convert_legacy_softmax(ir::Node node) {
    if (node.inputs.empty() || node.inputs[0] == ir::kNoTensor || node.outputs.empty() ||
        node.outputs[0] == ir::kNoTensor)
      throw_invalid("node '" + node.name + "' (Softmax) needs an input and an output");
    int64_t axis = node.attrs.get_int("axis", 1);
    const ir::Tensor& x = graph_.tensor(node.inputs.at(0));
    int64_t rank = x.shape.rank_known ? static_cast<int64_t>(x.shape.rank()) : -1;
    if (rank >= 0 && axis < 0) axis += rank;
    if (axis == -1 || (rank >= 0 && axis == rank - 1)) {
      node.attrs.set("axis", int64_t{-1});
      graph_.add_node(std::move(node));
      return;
    }
    TensorId in = node.inputs[0], out = node.outputs.at(0);
    std::string base = graph_.tensor(out).name;
    TensorId flat = add_generated(base + "/flatten"), soft = add_generated(base + "/softmax"),
             shape = add_generated(base + "/shape");

    ir::Node flatten;
    flatten.op = OpKind::kFlatten;
    flatten.name = node.name + "/flatten";
    flatten.attrs.set("axis", axis);
    flatten.inputs = {in};
    flatten.outputs = {flat};
    graph_.add_node(std::move(flatten));

    ir::Node softmax = node;
    softmax.attrs.set("axis", int64_t{1});
    softmax.inputs = {flat};
    softmax.outputs = {soft};
    graph_.add_node(std::move(softmax));

    ir::Node shape_of;
    shape_of.op = OpKind::kShape;
    shape_of.name = node.name + "/shape";
    shape_of.inputs = {in};
    shape_of.outputs = {shape};
    graph_.add_node(std::move(shape_of));

    ir::Node reshape;
    reshape.op = OpKind::kReshape;
    reshape.name = node.name + "/reshape";
    reshape.attrs.set("allowzero", int64_t{1});
    reshape.inputs = {soft, shape};
    reshape.outputs = {out};
    graph_.add_node(std::move(reshape));
  }

  void convert_node(const onnx::NodeProto& np, int index) {
    bool default_domain = is_default_domain(np.domain());
    int64_t opset = opset_;
    if (!default_domain) {
      auto it = domain_opsets_.find(np.domain());
      opset = it == domain_opsets_.end() ? 0 : it->second;
    }
    NodeInfo info{np, node_name(np, index), opset};
    if (default_domain && np.op_type() == "Constant") return convert_constant(info);
    if (default_domain && np.op_type() == "Dropout") return convert_dropout(info);

    OpKind op = OpKind::kCount;
    bool known = default_domain ? ir::op_from_name(np.op_type(), &op)
                                : (np.domain() == "com.microsoft" && np.op_type() == "Gelu");
    if (!default_domain && known) op = OpKind::kGelu;
    std::string type = default_domain ? np.op_type() : np.domain() + ":" + np.op_type();
    if (!known || op == OpKind::kConstant)
      throw_unsupported("unsupported op '" + type + "' (node '" + info.name + "', opset " +
                        std::to_string(opset) + ")");
    const ir::OpInfo& facts = ir::op_info(op);
    if (default_domain && opset < facts.min_opset)
      throw_unsupported("unsupported op '" + type + "' (node '" + info.name + "', opset " +
                        std::to_string(opset) + "): pare reads it from opset " +
                        std::to_string(facts.min_opset));

    ir::Node node;
    node.op = op;
    node.name = info.name;
    node.attrs = convert_attributes(info);
    check_attribute_types(node.attrs, facts, info);
    for (const auto& in : np.input()) node.inputs.push_back(lookup(info, in));
    for (const auto& out : np.output()) node.outputs.push_back(lookup(info, out));
    if (node.inputs.empty() || node.inputs[0] == ir::kNoTensor)
      throw_invalid(info.where() + ": input 0 is missing");

    switch (op) {
      case OpKind::kSqueeze:
      case OpKind::kUnsqueeze:
        if (opset < 13) attr_to_input(node, "axes", 1);
        if (op == OpKind::kUnsqueeze && !has_input(node, 1))
          throw_invalid(info.where() + ": axes are missing");
        break;
      case OpKind::kReduceSum:
        if (opset < 13) attr_to_input(node, "axes", 1);
        break;
      case OpKind::kReduceL2:
      case OpKind::kReduceMax:
      case OpKind::kReduceMean:
      case OpKind::kReduceMin:
      case OpKind::kReduceProd:
        if (opset < 18) attr_to_input(node, "axes", 1);
        break;
      case OpKind::kSplit:
        if (opset < 13) attr_to_input(node, "split", 1);
        if (!has_input(node, 1) && !node.attrs.has("num_outputs"))
          node.attrs.set("num_outputs", static_cast<int64_t>(node.outputs.size()));
        break;
      case OpKind::kSlice:
        if (opset < 10) {
          if (!node.attrs.has("starts") || !node.attrs.has("ends"))
            throw_invalid(info.where() + ": attributes 'starts' and 'ends' are required");
          attr_to_input(node, "starts", 1);
          attr_to_input(node, "ends", 2);
          attr_to_input(node, "axes", 3);
        }
        break;
      case OpKind::kPad:
        if (opset < 11) convert_legacy_pad(node, info);
        break;
      case OpKind::kClip:
        if (opset < 11) convert_legacy_clip(node);
        break;
      case OpKind::kResize: normalise_resize(node, info); break;
      case OpKind::kBatchNormalization:
        if (node.attrs.get_int("training_mode", 0) != 0)
          info.unsupported("training_mode=1 is not supported (inference only)");
        if (node.attrs.get_int("spatial", 1) == 0) info.unsupported("spatial=0 is not supported");
        for (const char* a : {"spatial", "momentum", "training_mode", "is_test"}) node.attrs.erase(a);
        drop_unused_outputs(node, info, 1);
        break;
      case OpKind::kLayerNormalization: drop_unused_trailing_outputs(node); break;
      case OpKind::kMaxPool:
        drop_unused_outputs(node, info, 1);
        node.attrs.erase("storage_order");  // only affects the indices output
        break;
      case OpKind::kConstantOfShape: convert_constant_of_shape(node, info); break;
      case OpKind::kCast: {
        int64_t to = node.attrs.get_int("to", 0);
        ir::DType dtype;
        if (!ir::dtype_from_onnx(static_cast<int32_t>(to), &dtype))
          info.unsupported("cast to " + ir::onnx_type_name(static_cast<int32_t>(to)) + " is not supported");
        break;
      }
      default: break;
    }
    while (!node.inputs.empty() && node.inputs.back() == ir::kNoTensor) node.inputs.pop_back();
    for (size_t i = 0; i < node.outputs.size(); ++i)
      if (node.outputs[i] == ir::kNoTensor)
        throw_invalid(info.where() + ": output " + std::to_string(i) + " has no name");
    // The op's arity, as the runtime will check it at load: a file with an extra input
    // (a Gelu given a weight) would otherwise convert into a .pare that does not load.
    if (node.inputs.size() < facts.min_inputs || node.inputs.size() > facts.max_inputs)
      throw_invalid(info.where() + ": takes " + ir::count_range(facts.min_inputs, facts.max_inputs) +
                    " inputs, the node has " + std::to_string(node.inputs.size()));
    for (size_t i = 0; i < facts.min_inputs; ++i)
      if (node.inputs[i] == ir::kNoTensor) throw_invalid(info.where() + ": required input " + std::to_string(i) + " is missing");
    if (node.outputs.size() < facts.min_outputs || node.outputs.size() > facts.max_outputs)
      throw_invalid(info.where() + ": gives " + ir::count_range(facts.min_outputs, facts.max_outputs) +
                    " outputs, the node has " + std::to_string(node.outputs.size()));
    if (op == OpKind::kSoftmax && opset < 13) return convert_legacy_softmax(std::move(node));
    graph_.add_node(std::move(node));
  }

  std::string path_, model_dir_;
  const ImportOptions& options_;
  ir::Graph graph_;
  std::unordered_map<std::string, TensorId> tensors_;  // ONNX names (and generated ones) -> ids
  std::set<std::string> used_;                         // names read by a node or listed as graph outputs
  int64_t opset_ = 0;
  std::map<std::string, int64_t> domain_opsets_;
};

}  // namespace

ir::Graph import_model(const std::string& path, const ImportOptions& options) {
  return import_model_bytes(read_model_file(path), path, options);
}

ir::Graph import_model_bytes(const std::string& bytes, const std::string& path, const ImportOptions& options) {
  onnx::ModelProto model = parse_model(path, bytes);
  try {
    return Importer(path, options).run(model);
  } catch (const Error& e) {
    throw Error(e.code(), "'" + path + "': " + e.what());
  }
}

std::pair<std::string, std::vector<int64_t>> parse_input_shape(const std::string& spec) {
  auto bad = [&](const std::string& why) {
    throw_invalid("bad --input-shape '" + spec + "': " + why +
                  "; expected NAME:D1xD2x... (e.g. image:1x3x224x224)");
  };
  size_t colon = spec.rfind(':');
  if (colon == std::string::npos) bad("no ':' between the input name and its dims");
  std::string name = spec.substr(0, colon), dims_text = spec.substr(colon + 1);
  if (name.empty()) bad("the input name is empty");
  if (dims_text.empty()) bad("no dims");
  std::vector<int64_t> dims;
  size_t pos = 0;
  while (pos <= dims_text.size()) {
    size_t end = dims_text.find_first_of("x,", pos);
    if (end == std::string::npos) end = dims_text.size();
    std::string token = dims_text.substr(pos, end - pos);
    if (token.empty() || token.find_first_not_of("0123456789") != std::string::npos)
      bad("'" + token + "' is not a dim");
    if (token.size() > 12) bad("dim " + token + " is too large");
    int64_t d = std::stoll(token);
    if (d < 1) bad("dims must be >= 1");
    dims.push_back(d);
    pos = end + 1;
  }
  return {name, dims};
}

}  // namespace pare::onnx_import
