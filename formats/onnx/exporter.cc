#include "formats/onnx/exporter.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "formats/pare/writer.h"
#include "ir/status.h"

namespace pare::onnx_export {
namespace {

using ir::DType;
using ir::NodeId;
using ir::OpKind;
using ir::TensorId;

const std::vector<int64_t> kToNchw = {0, 3, 1, 2};
const std::vector<int64_t> kToNhwc = {0, 2, 3, 1};

bool is_8bit(DType d) { return d == DType::kUInt8 || d == DType::kInt8; }

// A tensor a DequantizeLinear reads: 8-bit activations and weights, int32 bias.
bool dequantizable(const ir::Tensor& t) {
  return t.quant && (is_8bit(t.dtype) || t.dtype == DType::kInt32);
}

// ONNX IR version that goes with the opset (opset 17: IR 8, 18: IR 8, 19-20: IR 9).
int64_t ir_version_for(int64_t opset) { return opset <= 14 ? 7 : opset <= 18 ? 8 : 9; }

template <typename T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

class Exporter {
 public:
  Exporter(const ir::Graph& g, const ExportOptions& o) : g_(g), o_(o) {}

  onnx::ModelProto run() {
    if (o_.opset < 17 || o_.opset > 18)
      throw_unsupported("ONNX export writes opset 17 or 18, not " + std::to_string(o_.opset));
    model_.set_ir_version(ir_version_for(o_.opset));
    model_.set_producer_name("pare");
    auto pv = g_.metadata.find("producer_version");
    if (pv != g_.metadata.end()) model_.set_producer_version(pv->second);
    auto* opset = model_.add_opset_import();
    opset->set_domain("");
    opset->set_version(o_.opset);
    graph_ = model_.mutable_graph();
    graph_->set_name(g_.name.empty() ? "pare" : g_.name);

    name_tensors();
    if (o_.uint8_weights) find_shifted_weights();
    for (TensorId in : g_.inputs) value_info(graph_->add_input(), in);
    for (NodeId id : g_.topological_order()) emit(id);
    for (TensorId out : g_.outputs) {
      use(out);
      value_info(graph_->add_output(), out);
    }
    return std::move(model_);
  }

 private:
  // --- Names. Graph inputs and outputs keep theirs; other tensors keep theirs where free.
  std::string unique(const std::string& base, std::set<std::string>& taken) {
    std::string name = base.empty() ? "t" : base;
    for (int k = 1; !taken.insert(name).second; ++k) name = base + "_" + std::to_string(k);
    return name;
  }
  std::string fresh(const std::string& base) { return unique(base, names_); }

  void name_tensors() {
    names_of_.assign(g_.tensor_capacity(), std::string());
    emitted_.assign(g_.tensor_capacity(), false);
    shifted_.assign(g_.tensor_capacity(), false);
    std::vector<TensorId> first(g_.inputs);
    first.insert(first.end(), g_.outputs.begin(), g_.outputs.end());
    for (TensorId t : first)
      if (names_of_[static_cast<size_t>(t)].empty()) names_of_[static_cast<size_t>(t)] = fresh(g_.tensor(t).name);
    for (size_t i = 0; i < g_.tensor_capacity(); ++i)
      if (names_of_[i].empty()) names_of_[i] = fresh(g_.tensor(static_cast<TensorId>(i)).name);
  }

  // The ONNX name of a tensor; a constant becomes an initializer on first use.
  const std::string& use(TensorId t) {
    const size_t i = static_cast<size_t>(t);
    const ir::Tensor& tensor = g_.tensor(t);
    if (tensor.is_constant() && !emitted_[i]) {
      emitted_[i] = true;
      std::string raw(reinterpret_cast<const char*>(tensor.data->bytes.data()), tensor.data->bytes.size());
      if (shifted_[i])
        for (char& c : raw) c = static_cast<char>(static_cast<uint8_t>(c) ^ 0x80);  // int8 v -> uint8 v + 128
      initializer(names_of_[i], shifted_[i] ? DType::kUInt8 : tensor.dtype, tensor.shape.sizes(), raw);
    }
    return names_of_[i];
  }

  // With uint8_weights: the int8 constants with quantization that only int8 nodes read (each
  // reads it through a DequantizeLinear of this exporter, whose zero point moves with it).
  void find_shifted_weights() {
    const std::set<TensorId> outputs(g_.outputs.begin(), g_.outputs.end());
    for (size_t i = 0; i < g_.tensor_capacity(); ++i) {
      const auto t = static_cast<TensorId>(i);
      const ir::Tensor& tensor = g_.tensor(t);
      if (!tensor.is_constant() || tensor.dtype != DType::kInt8 || !tensor.quant || outputs.count(t)) continue;
      const std::vector<NodeId> readers = g_.consumers(t);
      shifted_[i] = !readers.empty() && std::all_of(readers.begin(), readers.end(),
                                                     [&](NodeId n) { return is_int8(g_.node(n)); });
    }
  }

  void initializer(const std::string& name, DType dtype, const std::vector<int64_t>& dims,
                   const std::string& raw) {
    onnx::TensorProto* t = graph_->add_initializer();
    t->set_name(name);
    t->set_data_type(static_cast<int32_t>(dtype));  // DType follows ONNX's numbering
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(raw);
  }

  std::string constant_f(const std::string& base, float v) {
    const std::string name = fresh(base);
    initializer(name, DType::kFloat32, {}, bytes_of(std::vector<float>{v}));
    return name;
  }

  void value_info(onnx::ValueInfoProto* vi, TensorId id) {
    const ir::Tensor& t = g_.tensor(id);
    vi->set_name(names_of_[static_cast<size_t>(id)]);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(static_cast<int32_t>(t.dtype));
    if (!t.shape.rank_known) return;
    auto* shape = tt->mutable_shape();
    for (const ir::Dim& d : t.shape.dims) {
      auto* dim = shape->add_dim();
      if (d.is_known())
        dim->set_dim_value(d.value);
      else
        dim->set_dim_param(d.symbol);
    }
  }

  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name) {
    onnx::NodeProto* n = graph_->add_node();
    n->set_op_type(op);
    n->set_name(unique(name.empty() ? op : name, node_names_));
    for (const auto& s : inputs) n->add_input(s);
    for (const auto& s : outputs) n->add_output(s);
    return n;
  }

  static void attr_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attr_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr_float(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }

  static void copy_attrs(onnx::NodeProto* n, const ir::Attributes& attrs) {
    for (const auto& [name, value] : attrs.all()) {
      auto* a = n->add_attribute();
      a->set_name(name);
      switch (value.index()) {
        case 0:
          a->set_type(onnx::AttributeProto::INT);
          a->set_i(std::get<int64_t>(value));
          break;
        case 1:
          a->set_type(onnx::AttributeProto::FLOAT);
          a->set_f(std::get<float>(value));
          break;
        case 2:
          a->set_type(onnx::AttributeProto::STRING);
          a->set_s(std::get<std::string>(value));
          break;
        case 3:
          a->set_type(onnx::AttributeProto::INTS);
          for (int64_t x : std::get<std::vector<int64_t>>(value)) a->add_ints(x);
          break;
        default:
          a->set_type(onnx::AttributeProto::FLOATS);
          for (float x : std::get<std::vector<float>>(value)) a->add_floats(x);
          break;
      }
    }
  }

  // --- QDQ pieces.
  // Scale and zero-point initializers of `q` for a tensor of dtype `dtype`: scalars per
  // tensor, 1-D per axis.
  std::pair<std::string, std::string> qparams(const std::string& base, const QuantParams& q, DType dtype) {
    const std::vector<int64_t> dims =
        q.axis < 0 ? std::vector<int64_t>{} : std::vector<int64_t>{static_cast<int64_t>(q.scales.size())};
    const std::string scale = fresh(base + "_scale");
    initializer(scale, DType::kFloat32, dims, bytes_of(q.scales));
    std::vector<int64_t> zps = q.zero_points;
    zps.resize(q.scales.size(), 0);  // absent zero points are zeros
    std::string raw;
    if (dtype == DType::kUInt8) raw = bytes_of(std::vector<uint8_t>(zps.begin(), zps.end()));
    else if (dtype == DType::kInt8) raw = bytes_of(std::vector<int8_t>(zps.begin(), zps.end()));
    else raw = bytes_of(std::vector<int32_t>(zps.begin(), zps.end()));
    const std::string zp = fresh(base + "_zero_point");
    initializer(zp, dtype, dims, raw);
    return {scale, zp};
  }

  std::string dequantize(const std::string& x, const ir::Tensor& t, int32_t axis, bool shifted) {
    QuantParams q = *t.quant;
    q.axis = axis;
    if (shifted) {
      q.zero_points.resize(q.scales.size(), 0);
      for (int64_t& z : q.zero_points) z += 128;
    }
    auto [scale, zp] = qparams(t.name, q, shifted ? DType::kUInt8 : t.dtype);
    const std::string out = fresh(x + "_dequantized");
    onnx::NodeProto* n = node("DequantizeLinear", {x, scale, zp}, {out}, x + "/DequantizeLinear");
    if (axis >= 0) attr_int(n, "axis", axis);
    return out;
  }

  void quantize(const std::string& x, const std::string& out, const ir::Tensor& t) {
    auto [scale, zp] = qparams(t.name, *t.quant, t.dtype);
    onnx::NodeProto* n = node("QuantizeLinear", {x, scale, zp}, {out}, out + "/QuantizeLinear");
    if (t.quant->axis >= 0) attr_int(n, "axis", t.quant->axis);
  }

  // NHWC -> NCHW view of a tensor, one Transpose per tensor shared by its readers.
  const std::string& to_nchw(TensorId t) {
    auto it = nchw_.find(t);
    if (it != nchw_.end()) return it->second;
    const std::string& x = use(t);
    const std::string out = fresh(x + "_nchw");
    attr_ints(node("Transpose", {x}, {out}, x + "/to_nchw"), "perm", kToNchw);
    return nchw_[t] = out;
  }

  // --- Activations and Gelu.
  void activation(const ir::Node& n, const std::string& x, const std::string& y) {
    const std::string name = n.name + "/" + ir::activation_name(n.activation.kind);
    const float p0 = n.activation.p0, p1 = n.activation.p1;
    switch (n.activation.kind) {
      case ActivationKind::kNone: break;
      case ActivationKind::kRelu: node("Relu", {x}, {y}, name); break;
      case ActivationKind::kClip:
        node("Clip", {x, constant_f(y + "_min", p0), constant_f(y + "_max", p1)}, {y}, name);
        break;
      case ActivationKind::kSigmoid: node("Sigmoid", {x}, {y}, name); break;
      case ActivationKind::kHardSigmoid: {
        onnx::NodeProto* h = node("HardSigmoid", {x}, {y}, name);
        attr_float(h, "alpha", p0);
        attr_float(h, "beta", p1);
        break;
      }
      case ActivationKind::kHardSwish: node("HardSwish", {x}, {y}, name); break;
      case ActivationKind::kLeakyRelu: attr_float(node("LeakyRelu", {x}, {y}, name), "alpha", p0); break;
      case ActivationKind::kSilu: {
        const std::string s = fresh(y + "/sigmoid");
        node("Sigmoid", {x}, {s}, name + "/Sigmoid");
        node("Mul", {x, s}, {y}, name + "/Mul");
        break;
      }
    }
  }

  // Gelu as ONNX Runtime's Gelu fusions recognise it: x * 0.5 * (1 + Erf(x / sqrt(2))), or
  // 0.5 * x * (1 + Tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
  void gelu(const ir::Node& n, const std::string& x, const std::string& y) {
    const std::string& b = n.name;
    auto t = [&](const char* s) { return fresh(y + "/" + s); };
    if (n.attrs.get_string("approximate", "none") == "tanh") {
      const std::string x2 = t("x2"), x3 = t("x3"), c = t("cubic"), inner = t("inner"), scaled = t("scaled"),
                        th = t("tanh"), one_plus = t("one_plus"), half = t("half_x");
      node("Mul", {x, x}, {x2}, b + "/x2");
      node("Mul", {x2, x}, {x3}, b + "/x3");
      node("Mul", {x3, constant_f(y + "/c0", 0.044715f)}, {c}, b + "/cubic");
      node("Add", {x, c}, {inner}, b + "/inner");
      node("Mul", {inner, constant_f(y + "/c1", static_cast<float>(std::sqrt(2.0 / M_PI)))}, {scaled}, b + "/scaled");
      node("Tanh", {scaled}, {th}, b + "/tanh");
      node("Add", {th, constant_f(y + "/one", 1.f)}, {one_plus}, b + "/one_plus");
      node("Mul", {x, constant_f(y + "/half", 0.5f)}, {half}, b + "/half_x");
      node("Mul", {half, one_plus}, {y}, b + "/gelu");
      return;
    }
    const std::string d = t("div"), e = t("erf"), a = t("one_plus"), m = t("x_times");
    node("Div", {x, constant_f(y + "/sqrt2", static_cast<float>(std::sqrt(2.0)))}, {d}, b + "/div");
    node("Erf", {d}, {e}, b + "/erf");
    node("Add", {e, constant_f(y + "/one", 1.f)}, {a}, b + "/one_plus");
    node("Mul", {x, a}, {m}, b + "/x_times");
    node("Mul", {m, constant_f(y + "/half", 0.5f)}, {y}, b + "/gelu");
  }

  [[noreturn]] void unsupported(const ir::Node& n, const std::string& what) {
    throw_unsupported(std::string(ir::op_name(n.op)) + " '" + n.name + "': " + what +
                      " has no ONNX opset-" + std::to_string(o_.opset) + " form");
  }

  bool is_int8(const ir::Node& n) const {
    if (n.op == OpKind::kQuantizeLinear || n.op == OpKind::kDequantizeLinear) return false;
    for (const auto* list : {&n.inputs, &n.outputs})
      for (TensorId t : *list)
        if (t != ir::kNoTensor && is_8bit(g_.tensor(t).dtype) && g_.tensor(t).quant) return true;
    return false;
  }

  // The implied quantization of an int8 Conv/Gemm/MatMul's int32 bias (the .pare does not
  // store it): scale s_x * s_w[c], zero point 0, along the output channels.
  QuantParams bias_quantization(const ir::Node& n) const {
    const ir::Tensor& x = g_.tensor(n.inputs[0]);
    const ir::Tensor& w = g_.tensor(n.inputs[1]);
    if (!x.quant || !w.quant || x.quant->scales.empty() || w.quant->scales.empty())
      throw_invalid("node '" + n.name + "': an int32 bias needs quantized input and weights");
    const size_t channels = static_cast<size_t>(g_.tensor(n.inputs[2]).shape.num_elements());
    QuantParams q;
    q.axis = 0;
    for (size_t c = 0; c < channels; ++c)
      q.scales.push_back(x.quant->scales[0] * w.quant->scales[w.quant->scales.size() == 1 ? 0 : c]);
    q.zero_points.assign(channels, 0);
    return q;
  }

  // --- One IR node.
  void emit(NodeId id) {
    const ir::Node& n = g_.node(id);
    const bool int8 = is_int8(n);
    const bool nhwc = n.attrs.get_string("layout", "") == "NHWC";
    ir::Attributes attrs = n.attrs;
    attrs.erase("layout");

    // Inputs: constants the op form takes as attributes are not inputs in ONNX.
    size_t num_inputs = n.inputs.size();
    const bool axes_attr_reduce = n.op == OpKind::kReduceL2 || n.op == OpKind::kReduceMax ||
                                  n.op == OpKind::kReduceMean || n.op == OpKind::kReduceMin ||
                                  n.op == OpKind::kReduceProd;
    if (axes_attr_reduce && o_.opset < 18 && num_inputs > 1) {
      if (n.inputs[1] != ir::kNoTensor) {
        const ir::Tensor& axes = g_.tensor(n.inputs[1]);
        if (!axes.is_constant()) unsupported(n, "axes computed at run time");
        attrs.set("axes", axes.int_values());
      }
      num_inputs = 1;
    }
    std::vector<std::string> ins;
    for (size_t i = 0; i < num_inputs; ++i) {
      const TensorId t = n.inputs[i];
      if (t == ir::kNoTensor) {
        ins.emplace_back();
        continue;
      }
      ir::Tensor tensor = g_.tensor(t);
      if (int8 && i == 2 && tensor.dtype == DType::kInt32 && !tensor.quant) tensor.quant = bias_quantization(n);
      const bool transposed = nhwc && i == 0;
      std::string name = transposed ? to_nchw(t) : use(t);
      if (int8 && dequantizable(tensor)) {
        int32_t axis = tensor.quant->axis;
        if (transposed && axis >= 0) axis = static_cast<int32_t>(kToNhwc[static_cast<size_t>(axis)]);
        name = dequantize(name, tensor, axis, shifted_[static_cast<size_t>(t)]);
      }
      ins.push_back(name);
    }
    while (!ins.empty() && ins.back().empty()) ins.pop_back();
    // pare's short QuantizeLinear / DequantizeLinear (no scale input): ONNX needs the scale
    // and zero point as inputs, taken from the 8-bit tensor's quantization.
    if ((n.op == OpKind::kQuantizeLinear || n.op == OpKind::kDequantizeLinear) && ins.size() == 1) {
      const ir::Tensor& q8 = g_.tensor(n.op == OpKind::kQuantizeLinear ? n.outputs[0] : n.inputs[0]);
      if (!q8.quant) throw_invalid("node '" + n.name + "': no scale input and no quantization on '" + q8.name + "'");
      auto [scale, zp] = qparams(q8.name, *q8.quant, q8.dtype);
      ins.push_back(scale);
      ins.push_back(zp);
      if (q8.quant->axis >= 0) attrs.set("axis", static_cast<int64_t>(q8.quant->axis));
    }

    // Outputs: op -> fused activation -> QuantizeLinear -> Transpose back to NHWC.
    struct Out {
      std::string final_name, op_name;
      bool act = false, quant = false;
    };
    std::vector<Out> outs;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      const TensorId t = n.outputs[k];
      Out o;
      o.final_name = use(t);
      o.act = k == 0 && n.activation.kind != ActivationKind::kNone;
      o.quant = int8 && is_8bit(g_.tensor(t).dtype) && g_.tensor(t).quant;
      o.op_name = o.act || o.quant || nhwc ? fresh(o.final_name + (o.quant ? "_float" : "_raw")) : o.final_name;
      outs.push_back(o);
    }
    std::vector<std::string> op_outs;
    for (const Out& o : outs) op_outs.push_back(o.op_name);

    emit_op(n, attrs, ins, op_outs);

    for (size_t k = 0; k < outs.size(); ++k) {
      const Out& o = outs[k];
      const ir::Tensor& t = g_.tensor(n.outputs[k]);
      std::string cur = o.op_name;
      int steps = int{o.act} + int{o.quant} + int{nhwc};
      auto next = [&](const char* suffix) {
        return --steps == 0 ? o.final_name : fresh(o.final_name + suffix);
      };
      if (o.act) {
        const std::string y = next("_act");
        activation(n, cur, y);
        cur = y;
      }
      if (o.quant) {
        const std::string y = next("_q");
        quantize(cur, y, t);
        cur = y;
      }
      if (nhwc) attr_ints(node("Transpose", {cur}, {next("")}, o.final_name + "/to_nhwc"), "perm", kToNhwc);
    }
  }

  void emit_op(const ir::Node& n, ir::Attributes& attrs, std::vector<std::string>& ins,
               const std::vector<std::string>& outs) {
    switch (n.op) {
      case OpKind::kGelu: return gelu(n, ins.at(0), outs.at(0));
      case OpKind::kConstant: unsupported(n, "a Constant node");
      case OpKind::kReduceL2:
      case OpKind::kReduceMax:
      case OpKind::kReduceMean:
      case OpKind::kReduceMin:
      case OpKind::kReduceProd:
        if (o_.opset >= 18) break;
        if (attrs.get_int("noop_with_empty_axes", 0) != 0 && !attrs.has("axes"))
          unsupported(n, "noop_with_empty_axes=1");
        attrs.erase("noop_with_empty_axes");
        break;
      case OpKind::kSplit:
        // num_outputs is opset 18: give the sizes of the outputs as the split input.
        if (attrs.has("num_outputs")) {
          attrs.erase("num_outputs");
          if (ins.size() < 2) {
            const int64_t rank = static_cast<int64_t>(g_.tensor(n.inputs[0]).shape.rank());
            int64_t axis = attrs.get_int("axis", 0);
            if (axis < 0) axis += rank;
            std::vector<int64_t> sizes;
            for (TensorId t : n.outputs) {
              if (!g_.tensor(t).shape.is_static()) unsupported(n, "num_outputs with unknown output shapes");
              sizes.push_back(g_.tensor(t).shape.sizes().at(static_cast<size_t>(axis)));
            }
            const std::string split = fresh(n.name + "/split");
            initializer(split, DType::kInt64, {static_cast<int64_t>(sizes.size())}, bytes_of(sizes));
            ins.resize(1);
            ins.push_back(split);
          }
        }
        break;
      case OpKind::kResize:
        if (o_.opset < 18) {
          if (attrs.has("axes")) unsupported(n, "the axes attribute");
          if (attrs.get_int("antialias", 0) != 0) unsupported(n, "antialias=1");
          if (attrs.get_string("keep_aspect_ratio_policy", "stretch") != "stretch")
            unsupported(n, "keep_aspect_ratio_policy");
          attrs.erase("antialias");
          attrs.erase("keep_aspect_ratio_policy");
        }
        break;
      case OpKind::kPad:
        if (o_.opset < 18 && ins.size() > 3 && !ins[3].empty()) unsupported(n, "the axes input");
        break;
      case OpKind::kConstantOfShape: {
        // The IR keeps the value as dtype + value attributes; ONNX wants a one-element tensor.
        const DType dtype = static_cast<DType>(attrs.get_int("dtype", 1));
        onnx::TensorProto value;
        value.set_data_type(static_cast<int32_t>(dtype));
        value.add_dims(1);
        const auto& all = attrs.all();
        auto v = all.find("value");
        double real = 0;
        if (v != all.end()) real = v->second.index() == 0 ? static_cast<double>(std::get<int64_t>(v->second))
                                                          : static_cast<double>(std::get<float>(v->second));
        switch (dtype) {
          case DType::kFloat32: value.set_raw_data(bytes_of(std::vector<float>{static_cast<float>(real)})); break;
          case DType::kFloat64: value.set_raw_data(bytes_of(std::vector<double>{real})); break;
          case DType::kInt64: value.set_raw_data(bytes_of(std::vector<int64_t>{static_cast<int64_t>(real)})); break;
          case DType::kInt32: value.set_raw_data(bytes_of(std::vector<int32_t>{static_cast<int32_t>(real)})); break;
          case DType::kInt8: value.set_raw_data(bytes_of(std::vector<int8_t>{static_cast<int8_t>(real)})); break;
          case DType::kUInt8:
          case DType::kBool: value.set_raw_data(bytes_of(std::vector<uint8_t>{static_cast<uint8_t>(real)})); break;
          default: unsupported(n, "value of dtype " + std::to_string(static_cast<int>(dtype)));
        }
        onnx::NodeProto* p = node("ConstantOfShape", ins, outs, n.name);
        auto* a = p->add_attribute();
        a->set_name("value");
        a->set_type(onnx::AttributeProto::TENSOR);
        *a->mutable_t() = value;
        return;
      }
      default: break;
    }
    copy_attrs(node(ir::op_name(n.op), ins, outs, n.name), attrs);
  }

  const ir::Graph& g_;
  ExportOptions o_;
  onnx::ModelProto model_;
  onnx::GraphProto* graph_ = nullptr;
  std::set<std::string> names_, node_names_;
  std::vector<std::string> names_of_;  // ONNX name of each IR tensor
  std::vector<bool> emitted_;          // constant written as an initializer
  std::vector<bool> shifted_;          // int8 weight written as uint8 (uint8_weights)
  std::map<TensorId, std::string> nchw_;
};

}  // namespace

std::string export_model(const ir::Graph& graph, const ExportOptions& options, ExportStats* stats) {
  onnx::ModelProto model = Exporter(graph, options).run();
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw_unsupported("the ONNX model is larger than protobuf can serialize (2 GB)");
  if (stats) {
    stats->nodes = static_cast<size_t>(model.graph().node_size());
    stats->initializers = static_cast<size_t>(model.graph().initializer_size());
    stats->bytes = bytes.size();
  }
  return bytes;
}

ExportStats export_file(const ir::Graph& graph, const std::string& path, const ExportOptions& options) {
  ExportStats stats;
  const std::string bytes = export_model(graph, options, &stats);
  format::write_file_atomic(path, bytes.data(), bytes.size());
  return stats;
}

}  // namespace pare::onnx_export
