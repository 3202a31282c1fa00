#include "check/check.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "check/align.h"
#include "check/labelled_data.h"
#include "check/metrics.h"
#include "calibration/npy.h"
#include "formats/import/model_import.h"
#include "formats/pare/layer_weights.h"
#include "formats/pare/reader.h"
#include "ir/status.h"
#include "passes/graph_runner.h"
#include "passes/pass.h"
#include "runtime/model.h"

namespace pare::check {

namespace {

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void require_file(const std::string& path, const char* what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw_invalid(path + ": no such " + what + " file");
}

// Compressed files may drop internal tensor names; the runner finds watched tensors by name.
void name_unnamed_tensors(ir::Graph& g) {
  int64_t k = 0;
  for (ir::NodeId id : g.nodes())
    for (ir::TensorId t : g.node(id).outputs) {
      if (t == ir::kNoTensor || !g.tensor(t).name.empty()) continue;
      std::string name;
      do name = "check:" + std::to_string(k++); while (g.find_tensor(name) != ir::kNoTensor);
      g.tensor(t).name = name;
    }
}

}  // namespace

ir::Graph load_teacher(const std::string& path, const model_import::InputShapes& input_shapes) {
  require_file(path, "teacher model");
  if (!has_suffix(path, ".onnx") && !model_import::is_torchscript(path)) {
    if (!input_shapes.empty())
      throw_invalid("--input-shape " + input_shapes.begin()->first + ": " + path + " is a .pare, whose shapes are fixed");
    return format::read_graph(path);
  }
  ir::Graph g = model_import::import_model(path, input_shapes);
  passes::PassContext ctx;
  const Status st = passes::run_pipeline(g, passes::kCanonicalPipeline, ctx);
  if (!st.is_ok()) throw Error(st.code(), path + ": " + st.message());
  return g;
}

std::vector<CheckInput> model_inputs(const ir::Graph& g, const std::string& path) {
  if (g.inputs.empty()) throw_invalid(path + ": the model has no inputs");
  std::vector<CheckInput> inputs;
  for (ir::TensorId id : g.inputs) {
    const ir::Tensor& t = g.tensor(id);
    const bool typed = t.dtype == ir::DType::kFloat32 || t.dtype == ir::DType::kInt64;
    if (!t.shape.is_static() || t.shape.rank() == 0 || t.shape.sizes()[0] != 1 || !typed)
      throw_invalid(path + ": input '" + t.name + "' is " + t.shape.str() + " " + ir::dtype_name(t.dtype) +
                    "; check needs float32 or int64 inputs of static shape with batch 1 (pare convert "
                    "--input-shape fixes the shape)");
    inputs.push_back({t.name, t.shape.sizes(), t.dtype});
  }
  if (g.outputs.empty()) throw_invalid(path + ": the model has no outputs");
  return inputs;
}

namespace {

std::string dims_str(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

// `a` (from `what`) as rows of `input`, in the input's dtype; rejects non-finite floats.
CheckData::Input read_rows(const npy::Array& a, const std::string& what, const CheckInput& input, int64_t* rows) {
  const bool is_int = input.dtype == ir::DType::kInt64;
  const bool float_array = a.type == npy::ElemType::kFloat32 || a.type == npy::ElemType::kFloat64;
  const bool int_array = a.type == npy::ElemType::kInt64 || a.type == npy::ElemType::kInt32;
  if (is_int ? !int_array : !float_array)
    throw_invalid(what + ": data for input '" + input.name + "' must be " + (is_int ? "int64 or int32" : "float32 or float64") +
                  " (the input is " + (is_int ? "int64" : "float32") + "), the array is " + npy::elem_type_name(a.type));
  const std::vector<int64_t>& in = input.shape;
  const bool row_shape = a.shape.size() == in.size() && std::equal(in.begin() + 1, in.end(), a.shape.begin() + 1);
  if (!row_shape)
    throw_invalid(what + ": data of shape " + dims_str(a.shape) + " does not fit the models' input '" + input.name +
                  "' " + dims_str(in) + " (rows of [N" + dims_str(in).substr(2));
  *rows = a.shape[0];
  CheckData::Input out;
  const size_t n = static_cast<size_t>(a.size());
  const size_t per_row = *rows ? n / static_cast<size_t>(*rows) : 0;
  if (is_int) {
    out.row_bytes = per_row * sizeof(int64_t);
    out.bytes.resize(n * sizeof(int64_t));
    auto* v = reinterpret_cast<int64_t*>(out.bytes.data());
    for (size_t i = 0; i < n; ++i) v[i] = a.type == npy::ElemType::kInt64 ? a.as<int64_t>()[i] : a.as<int32_t>()[i];
    return out;
  }
  out.row_bytes = per_row * sizeof(float);
  out.bytes.resize(n * sizeof(float));
  auto* v = reinterpret_cast<float*>(out.bytes.data());
  for (size_t i = 0; i < n; ++i)
    v[i] = a.type == npy::ElemType::kFloat32 ? a.as<float>()[i] : static_cast<float>(a.as<double>()[i]);
  require_finite_rows(v, n, per_row, what);
  return out;
}

// The data as rows of each of the models' inputs.
std::vector<CheckData::Input> read_data(const std::string& path, const std::vector<CheckInput>& inputs, int64_t* rows) {
  require_file(path, "data");
  std::vector<CheckData::Input> out;
  std::string names;
  for (const CheckInput& in : inputs) names += (names.empty() ? "'" : ", '") + in.name + "'";
  if (!has_suffix(path, ".npz")) {
    if (inputs.size() != 1)
      throw_invalid(path + ": a .npy feeds one input; the models have " + std::to_string(inputs.size()) + " (" + names +
                    "): give a .npz with one array per input name");
    out.push_back(read_rows(npy::read_npy(path), path, inputs[0], rows));
    return out;
  }
  auto members = npy::read_npz(path);
  if (members.empty()) throw_invalid(path + ": the archive holds no array");
  if (inputs.size() == 1 && members.size() == 1) {
    out.push_back(read_rows(members[0].second, path + ", array '" + members[0].first + "'", inputs[0], rows));
    return out;
  }
  for (const auto& m : members)
    if (std::none_of(inputs.begin(), inputs.end(), [&](const CheckInput& in) { return in.name == m.first; }))
      throw_invalid(path + ": array '" + m.first + "' matches no input of the models (" + names + ")");
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto it = std::find_if(members.begin(), members.end(), [&](const auto& m) { return m.first == inputs[i].name; });
    if (it == members.end()) throw_invalid(path + ": no array for input '" + inputs[i].name + "'");
    int64_t r = 0;
    out.push_back(read_rows(it->second, path + ", array '" + it->first + "'", inputs[i], &r));
    if (i > 0 && r != *rows)
      throw_invalid(path + ": " + std::to_string(r) + " rows for input '" + inputs[i].name + "' but " +
                    std::to_string(*rows) + " for input '" + inputs[0].name + "'");
    *rows = r;
  }
  return out;
}

}  // namespace

CheckData read_check_data(const std::string& data, const std::string& labels, const std::vector<CheckInput>& inputs,
                          int64_t limit) {
  CheckData d;
  int64_t rows = 0;
  d.inputs = read_data(data, inputs, &rows);
  if (!labels.empty()) {
    d.labels = read_labels(labels);
    require_label_count(d.labels, labels, rows, data);
  }
  if (limit > 0 && limit < rows) {
    for (CheckData::Input& in : d.inputs) in.bytes.resize(in.row_bytes * static_cast<size_t>(limit));
    if (!d.labels.empty()) d.labels.resize(static_cast<size_t>(limit));
    rows = limit;
  }
  if (rows == 0) throw_invalid(data + " has no rows");
  d.count = rows;
  return d;
}

namespace {

// A watched tensor's elements as float: 8-bit data dequantized with its scale and zero point.
void read_float(const ir::Tensor& t, const void* data, std::vector<float>& out) {
  const size_t n = static_cast<size_t>(t.shape.num_elements());
  out.resize(n);
  if (t.dtype == ir::DType::kFloat32) {
    std::memcpy(out.data(), data, n * sizeof(float));
    return;
  }
  const auto* raw = static_cast<const uint8_t*>(data);
  const bool is_signed = t.dtype == ir::DType::kInt8;
  if (!t.quant) {
    for (size_t i = 0; i < n; ++i) out[i] = is_signed ? static_cast<int8_t>(raw[i]) : raw[i];
    return;
  }
  const auto& q = *t.quant;
  size_t inner = 1, channels = 1;
  if (q.axis >= 0) {
    const std::vector<int64_t> dims = t.shape.sizes();
    channels = static_cast<size_t>(dims[static_cast<size_t>(q.axis)]);
    for (size_t d = static_cast<size_t>(q.axis) + 1; d < dims.size(); ++d) inner *= static_cast<size_t>(dims[d]);
  }
  for (size_t i = 0; i < n; ++i) {
    const size_t c = q.axis >= 0 ? i / inner % channels : 0;
    const int64_t v = is_signed ? static_cast<int8_t>(raw[i]) : raw[i];
    const int64_t zp = q.zero_points.empty() ? 0 : q.zero_points[std::min(c, q.zero_points.size() - 1)];
    out[i] = q.scales[std::min(c, q.scales.size() - 1)] * static_cast<float>(v - zp);
  }
}

// Watches `t` once; returns its index in `watch`.
size_t watch_index(std::vector<ir::TensorId>& watch, std::map<ir::TensorId, size_t>& index, ir::TensorId t) {
  auto it = index.find(t);
  if (it != index.end()) return it->second;
  index.emplace(t, watch.size());
  watch.push_back(t);
  return watch.size() - 1;
}

int64_t file_bytes(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

}  // namespace

CheckResult run_check(const CheckOptions& o) {
  require_file(o.teacher, "teacher model");
  require_file(o.student, "student model");
  auto student_model = rt::Model::load_file(o.student);
  if (!student_model.is_ok()) {
    const std::string& msg = student_model.status().message();
    throw_invalid(msg.find(o.student) != std::string::npos ? msg : o.student + ": " + msg);
  }
  // --input-shape NAME:DIMS fixes an .onnx teacher's symbolic dims; a TorchScript teacher,
  // which records no shapes, gets the student's unless given.
  model_import::InputShapes shapes = model_import::parse_input_shapes(o.input_shapes);
  if (model_import::is_torchscript(o.teacher))
    for (int32_t i : student_model.value()->inputs()) {
      const rt::TensorDesc& d = student_model.value()->tensors()[static_cast<size_t>(i)].desc;
      shapes.emplace(d.name, d.shape);
    }
  ir::Graph teacher = load_teacher(o.teacher, shapes);
  const CheckData data = read_check_data(o.data, o.labels, model_inputs(teacher, o.teacher), o.limit);
  CheckResult r = run_check(teacher, *student_model.value(), data, o);
  r.teacher_bytes = file_bytes(o.teacher);
  r.student_bytes = file_bytes(o.student);
  return r;
}

CheckResult run_check(const ir::Graph& teacher_graph, const rt::Model& student_model, const CheckData& data,
                      const CheckOptions& o) {
  if (!(o.temperature > 0) || !std::isfinite(o.temperature))
    throw_invalid("--temperature must be a positive number");
  CheckResult r;
  r.teacher = o.teacher;
  r.student = o.student;
  r.data = o.data;
  r.labels = o.labels;
  r.has_labels = !data.labels.empty();
  r.temperature = o.temperature;
  r.budgets = o.budgets;
  r.margin = o.margin;

  ir::Graph teacher = teacher_graph;
  ir::Graph student = format::read_graph(student_model, o.student);
  name_unnamed_tensors(teacher);
  name_unnamed_tensors(student);

  const std::vector<CheckInput> inputs = model_inputs(teacher, o.teacher);
  const std::vector<CheckInput> student_inputs = model_inputs(student, o.student);
  if (student_inputs.size() != inputs.size())
    throw_invalid(o.student + " has " + std::to_string(student_inputs.size()) + " inputs, the teacher " + o.teacher +
                  " " + std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i)
    if (student_inputs[i].shape != inputs[i].shape || student_inputs[i].dtype != inputs[i].dtype)
      throw_invalid(o.student + ": input '" + student_inputs[i].name + "' " + dims_str(student_inputs[i].shape) +
                    " differs from the teacher's " + dims_str(inputs[i].shape) + " in " + o.teacher);
  if (data.inputs.size() != inputs.size()) throw_internal("check: the data does not match the models' inputs");
  const ir::Tensor& t_out = teacher.tensor(teacher.outputs[0]);
  const ir::Tensor& s_out = student.tensor(student.outputs[0]);
  if (!t_out.shape.is_static() || t_out.shape != s_out.shape)
    throw_invalid("the first outputs differ in shape: " + t_out.shape.str() + " in " + o.teacher + ", " +
                  s_out.shape.str() + " in " + o.student);
  const int64_t rows = data.count;
  r.samples = rows;

  const std::vector<LayerAlignment> aligned = align_layers(teacher, student);
  std::vector<ir::TensorId> t_watch, s_watch;
  std::map<ir::TensorId, size_t> t_index, s_index;
  watch_index(t_watch, t_index, teacher.outputs[0]);
  watch_index(s_watch, s_index, student.outputs[0]);
  for (const LayerAlignment& a : aligned)
    if (a.teacher_tensor != ir::kNoTensor) {
      watch_index(t_watch, t_index, a.teacher_tensor);
      watch_index(s_watch, s_index, a.student_tensor);
    }
  passes::GraphRunner t_run(teacher, t_watch), s_run(student, s_watch);

  const size_t classes = static_cast<size_t>(t_out.shape.num_elements());
  require_labels_in_range(data.labels, static_cast<int64_t>(classes), o.labels);
  std::vector<ErrorSums> layer_sums(aligned.size());
  OutputStats output;
  std::vector<float> t_logits, s_logits, t_buf, s_buf, permuted;
  for (int64_t row = 0; row < rows; ++row) {
    data.feed(t_run, static_cast<size_t>(row));
    data.feed(s_run, static_cast<size_t>(row));
    t_run.run();
    s_run.run();
    read_float(t_out, t_run.watched(0), t_logits);
    require_finite_outputs(t_logits.data(), t_logits.size(), t_logits.size(), static_cast<size_t>(row), o.data,
                           "the teacher's output", o.teacher);
    read_float(s_out, s_run.watched(0), s_logits);
    output.add(t_logits.data(), s_logits.data(), classes, o.temperature,
               r.has_labels ? data.labels[static_cast<size_t>(row)] : -1);
    for (size_t k = 0; k < aligned.size(); ++k) {
      const LayerAlignment& a = aligned[k];
      if (a.teacher_tensor == ir::kNoTensor) continue;
      const ir::Tensor& tt = teacher.tensor(a.teacher_tensor);
      const ir::Tensor& st = student.tensor(a.student_tensor);
      read_float(tt, t_run.watched(t_index.at(a.teacher_tensor)), t_buf);
      read_float(st, s_run.watched(s_index.at(a.student_tensor)), s_buf);
      if (a.to_nchw || a.to_nhwc) {
        permuted.resize(s_buf.size());
        if (a.to_nchw)
          nhwc_to_nchw(s_buf.data(), st.shape.sizes(), permuted.data());
        else
          nchw_to_nhwc(s_buf.data(), st.shape.sizes(), permuted.data());
        s_buf.swap(permuted);
      }
      layer_sums[k].add(t_buf.data(), s_buf.data(), t_buf.size());
    }
  }
  output.finish(r);

  std::map<std::string, format::LayerWeights> weights;
  for (format::LayerWeights& w : format::layer_weights(student_model)) weights.emplace(w.name, w);
  for (size_t k = 0; k < aligned.size(); ++k) {
    const LayerAlignment& a = aligned[k];
    const ir::Node& node = student.node(a.student_node);
    LayerError e;
    e.node = node.name;
    e.op = ir::op_name(node.op);
    e.aligned = a.teacher_tensor != ir::kNoTensor;
    if (e.aligned) {
      e.teacher_tensor = teacher.tensor(a.teacher_tensor).name;
      e.snr_db = layer_sums[k].snr_db();
      e.cosine = layer_sums[k].cosine();
    } else {
      e.why_not_aligned = a.why_not_aligned;
    }
    auto w = weights.find(node.name);
    if (w != weights.end()) {
      e.encoding = w->second.encoding;
      e.bytes_stored = static_cast<int64_t>(w->second.stored_bytes);
      e.bytes_dense = static_cast<int64_t>(w->second.weights * sizeof(float));  // as float32
    }
    r.layers.push_back(std::move(e));
  }
  evaluate_budgets(r);
  return r;
}

void evaluate_budgets(CheckResult& r) {
  r.budgets_met = true;
  for (Budget& b : r.budgets) {
    if (b.name == "max-top1-drop") {
      b.value = r.top1_drop;
      b.se = r.top1_drop_se;
    } else if (b.name == "min-agreement") {
      b.value = r.agreement / 100.0;
      b.se = r.agreement_se / 100.0;
    } else if (b.name == "max-kl") {
      b.value = r.kl;
      b.se = r.kl_se;
    } else {
      throw_internal("unknown budget '" + b.name + "'");
    }
    const bool at_least = b.name == "min-agreement";
    b.bound = at_least ? b.value - r.margin * b.se : b.value + r.margin * b.se;
    b.met = at_least ? b.bound >= b.limit : b.bound <= b.limit;
    r.budgets_met = r.budgets_met && b.met;
  }
}

}  // namespace pare::check
