#include "passes/pass_util.h"

#include "ir/status.h"

#include <cmath>
#include <cstdlib>
#include <memory>
#include <sstream>

namespace pare::passes {

std::set<std::string> name_list_option(const PassOptions& options, const std::string& key) {
  std::set<std::string> names;
  std::stringstream list(options.get(key, ""));
  for (std::string name; std::getline(list, name, ',');)
    if (!name.empty()) names.insert(name);
  return names;
}

std::map<std::string, double> layer_value_option(const PassOptions& options, const std::string& key,
                                                 const std::string& pass) {
  std::map<std::string, double> values;
  for (const std::string& item : name_list_option(options, key)) {
    const size_t colon = item.rfind(':');
    char* end = nullptr;
    const double v = colon == std::string::npos ? 0 : std::strtod(item.c_str() + colon + 1, &end);
    if (colon == std::string::npos || colon == 0 || end == item.c_str() + colon + 1 || *end != '\0' || !std::isfinite(v))
      throw_invalid(pass + ": option " + key + "=" + options.get(key, "") + " is invalid: '" + item +
                    "' is not NODE:NUMBER");
    values[item.substr(0, colon)] = v;
  }
  return values;
}

bool obs_update_option(const PassOptions& options, bool has_calibration, const std::string& pass,
                       std::string& reason) {
  const std::string update = options.get("update", has_calibration ? "obs" : "none");
  if (update != "obs" && update != "none")
    throw_invalid(pass + ": option update=" + update + " is invalid: expected obs or none");
  if (update == "obs" && !has_calibration)
    throw_invalid(pass + ": option update=obs needs calibration data (pare compress --calib FILE)");
  reason = options.has("update") ? "update=" + update + " asked for"
           : has_calibration     ? "update=obs by default: calibration data given"
                                 : "update=none by default: no calibration data (--calib)";
  return update == "obs";
}

void add_note(PassContext& ctx, const std::string& pass, std::string note) {
  if (ctx.reports.empty() || ctx.reports.back().pass != pass) {
    PassReport report;
    report.pass = pass;
    ctx.reports.push_back(std::move(report));
  }
  ctx.reports.back().notes.push_back(std::move(note));
}

std::string unique_tensor_name(const ir::Graph& graph, const std::string& base) {
  // One pass over the names marks the suffixes in use: a lookup per candidate made n tensors
  // named after one base (16,384 BatchNorms folded into convs sharing a weight) cubic. Only
  // suffixes up to the number of tensors can be the first free one.
  const std::string prefix = base + "_";
  const size_t count = graph.tensor_capacity();
  bool base_taken = false;
  std::vector<bool> suffix_taken(count + 2, false);
  for (size_t i = 0; i < count; ++i) {
    const std::string& name = graph.tensor(static_cast<ir::TensorId>(i)).name;
    if (name.size() < base.size() || name.compare(0, base.size(), base) != 0) continue;
    if (name.size() == base.size()) {
      base_taken = true;
      continue;
    }
    if (name.size() <= prefix.size() || name[base.size()] != '_' || name[prefix.size()] == '0') continue;
    size_t v = 0;
    bool digits = true;
    for (size_t j = prefix.size(); j < name.size() && digits; ++j) {
      digits = name[j] >= '0' && name[j] <= '9';
      v = v * 10 + static_cast<size_t>(name[j] - '0');
      if (v > count) digits = false;  // past every candidate (and no overflow)
    }
    if (digits) suffix_taken[v] = true;
  }
  if (!base_taken) return base;
  size_t i = 1;
  while (suffix_taken[i]) ++i;
  return prefix + std::to_string(i);
}

ir::TensorId add_float_constant(ir::Graph& graph, const std::string& name,
                                const std::vector<int64_t>& shape, const std::vector<float>& values) {
  return ir::add_constant<float>(graph, unique_tensor_name(graph, name), ir::DType::kFloat32, shape,
                                 values);
}

TensorNames::TensorNames(const ir::Graph& graph) {
  for (size_t i = 0; i < graph.tensor_capacity(); ++i) names_.insert(graph.tensor(static_cast<ir::TensorId>(i)).name);
}

std::string TensorNames::unique(const std::string& base) {
  std::string name = base;
  if (names_.count(name) != 0) {
    // Names are only added, so the suffixes tried for this base before are still taken.
    size_t& i = next_suffix_[base];
    if (i == 0) i = 1;
    for (name = base + "_" + std::to_string(i); names_.count(name) != 0;) name = base + "_" + std::to_string(++i);
  }
  names_.insert(name);
  return name;
}

ir::TensorId add_float_constant(ir::Graph& graph, TensorNames& names, const std::string& name,
                                const std::vector<int64_t>& shape, const std::vector<float>& values) {
  return ir::add_constant<float>(graph, names.unique(name), ir::DType::kFloat32, shape, values);
}


bool is_float_constant(const ir::Tensor& t) {
  return t.is_constant() && t.dtype == ir::DType::kFloat32 && t.shape.is_static() &&
         t.data->bytes.size() == static_cast<size_t>(t.shape.num_elements()) * sizeof(float);
}

std::string describe_node(const ir::Graph& graph, ir::NodeId id) {
  const ir::Node& n = graph.node(id);
  std::string op = ir::op_name(n.op);
  if (n.name.empty()) return op + " #" + std::to_string(id);
  return op + " '" + n.name + "'";
}

std::optional<double> scalar_value(const ir::Graph& graph, ir::TensorId t) {
  if (t == ir::kNoTensor) return std::nullopt;
  const ir::Tensor& c = graph.tensor(t);
  if (!is_float_constant(c) || c.shape.num_elements() != 1) return std::nullopt;
  return c.float_values()[0];
}

}  // namespace pare::passes
