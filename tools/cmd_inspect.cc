// pare inspect MODEL.pare: signature, metadata, ops, per-node table, per-layer weights
// (encoding, palette bits and kind, sparsity, bytes, MACs) and totals.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "formats/pare/layer_weights.h"
#include "ir/op.h"
#include "tools/common.h"

namespace pare::cli {

namespace {

struct InspectArgs {
  std::string model;
  bool json = false;
};

struct NodeRow {
  std::string name, op, activation;
  std::vector<std::vector<int64_t>> output_shapes;
  size_t param_bytes = 0;
};

std::vector<NodeRow> node_rows(const rt::Model& model) {
  std::vector<NodeRow> rows;
  for (const rt::NodeDesc& n : model.nodes()) {
    NodeRow row{n.name, n.op, ir::activation_name(n.activation.kind), {}, 0};
    for (int32_t t : n.outputs)
      row.output_shapes.push_back(model.tensors()[static_cast<size_t>(t)].desc.shape);
    std::set<int32_t> counted;  // a constant fed twice to one node counts once
    for (int32_t t : n.inputs) {
      if (t < 0 || !counted.insert(t).second) continue;
      const rt::TensorDesc& d = model.tensors()[static_cast<size_t>(t)].desc;
      if (model.tensors()[static_cast<size_t>(t)].is_constant()) row.param_bytes += d.byte_size();
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

nlohmann::json layer_json(const format::LayerWeights& r) {
  nlohmann::json j = {{"sparsity", r.sparsity},         {"weights", r.weights},
                      {"stored_bytes", r.stored_bytes}, {"dense_bytes", r.dense_bytes},
                      {"macs", r.macs},                 {"effective_macs", r.effective_macs}};
  if (!r.op.empty()) {
    j["name"] = r.name;
    j["op"] = r.op;
    j["encoding"] = r.encoding;
  }
  if (r.palette_bits)
    j["palette"] = {{"bits", r.palette_bits},
                    {"entries", r.palette_entries},
                    {"kind", r.palette_kind},
                    {"dtype", r.palette_dtype},
                    {"coding", r.palette_coding},
                    {"bits_per_index", r.palette_bits_per_index}};
  return j;
}

nlohmann::json signature_json(const rt::Model& model, const std::vector<int32_t>& ids) {
  nlohmann::json list = nlohmann::json::array();
  for (int32_t id : ids) {
    const rt::TensorDesc& d = model.tensors()[static_cast<size_t>(id)].desc;
    list.push_back({{"name", d.name}, {"dtype", rt::dtype_name(d.dtype)}, {"shape", d.shape}});
  }
  return list;
}

void print_json(const std::string& path, const rt::Model& model, const std::vector<NodeRow>& rows,
                const std::vector<format::LayerWeights>& layers, const std::map<std::string, int>& ops) {
  const rt::ModelMetadata& md = model.metadata();
  nlohmann::json nodes = nlohmann::json::array();
  for (const NodeRow& r : rows)
    nodes.push_back({{"name", r.name},
                     {"op", r.op},
                     {"activation", r.activation},
                     {"output_shapes", r.output_shapes},
                     {"param_bytes", r.param_bytes}});
  nlohmann::json layer_list = nlohmann::json::array();
  for (const format::LayerWeights& r : layers) layer_list.push_back(layer_json(r));
  nlohmann::json j = {{"model", path},
                      {"inputs", signature_json(model, model.inputs())},
                      {"outputs", signature_json(model, model.outputs())},
                      {"ops", ops},
                      {"nodes", nodes},
                      {"param_bytes", parameter_bytes(model)},
                      {"file_bytes", model.file_bytes()},
                      {"arena_bytes", model.arena_bytes()},
                      {"activation_bytes", activation_bytes(model)},
                      {"layers", layer_list},
                      {"layer_totals", layer_json(format::layer_totals(layers))},
                      {"metadata",
                       {{"producer", md.producer},
                        {"producer_version", md.producer_version},
                        {"schema_version", md.schema_version},
                        {"pipeline", md.pipeline},
                        {"source_file", md.source_file},
                        {"source_hash", md.source_hash},
                        {"report_summary", md.report_summary}}}};
  fmt::print("{}\n", j.dump(2));
}

void print_signature(const rt::Model& model) {
  size_t width = 0;
  for (const auto* ids : {&model.inputs(), &model.outputs()})
    for (int32_t id : *ids)
      width = std::max(width, model.tensors()[static_cast<size_t>(id)].desc.name.size());
  for (const auto& [title, ids] :
       {std::pair{"inputs", &model.inputs()}, std::pair{"outputs", &model.outputs()}}) {
    fmt::print("{}\n", title);
    for (int32_t id : *ids) {
      const rt::TensorDesc& d = model.tensors()[static_cast<size_t>(id)].desc;
      fmt::print("  {:<{}}  {:<8} {}\n", d.name, width, rt::dtype_name(d.dtype),
                 rt::shape_str(d.shape));
    }
  }
}

void print_layers(const std::vector<format::LayerWeights>& layers) {
  if (layers.empty()) return;
  size_t name_w = 5, op_w = 2, enc_w = 8;
  for (const format::LayerWeights& r : layers) {
    name_w = std::max(name_w, r.name.size());
    op_w = std::max(op_w, r.op.size());
    enc_w = std::max(enc_w, r.encoding.size());
  }
  fmt::print("\nlayers\n  {:<{}}  {:<{}}  {:<{}}  {:>8}  {:>12}  {:>12}  {:>14}  {:>14}\n", "name",
             name_w, "op", op_w, "encoding", enc_w, "sparsity", "stored", "dense", "MACs",
             "effective MACs");
  std::vector<format::LayerWeights> all = layers;
  all.push_back(format::layer_totals(layers));
  for (const format::LayerWeights& r : all)
    fmt::print("  {:<{}}  {:<{}}  {:<{}}  {:>7.1f}%  {:>12}  {:>12}  {:>14}  {:>14}\n", r.name, name_w,
               r.op, op_w, r.encoding, enc_w, 100.0 * r.sparsity, r.stored_bytes, r.dense_bytes,
               r.macs, r.effective_macs);
}

void print_text(const std::string& path, const rt::Model& model, const std::vector<NodeRow>& rows,
                const std::vector<format::LayerWeights>& layers, const std::map<std::string, int>& ops) {
  const rt::ModelMetadata& md = model.metadata();
  fmt::print("model     {} (schema {})\n", path, md.schema_version);
  fmt::print("producer  {} {}\n", md.producer, md.producer_version);
  fmt::print("source    {} (sha256 {})\n", md.source_file.empty() ? "-" : md.source_file,
             md.source_hash.empty() ? "-" : md.source_hash);
  fmt::print("pipeline  {}\n", md.pipeline.empty() ? "-" : md.pipeline);
  if (!md.report_summary.empty()) fmt::print("report    {}\n", md.report_summary);
  fmt::print("\n");
  print_signature(model);

  fmt::print("\nops\n");
  size_t op_width = 0;
  for (const auto& [op, count] : ops) op_width = std::max(op_width, op.size());
  for (const auto& [op, count] : ops) fmt::print("  {:<{}}  {}\n", op, op_width, count);

  std::vector<std::string> shapes;
  size_t name_w = 4, op_w = 2, act_w = 10, shape_w = 6;
  for (const NodeRow& r : rows) {
    std::string s;
    for (const auto& shape : r.output_shapes) s += (s.empty() ? "" : " ") + rt::shape_str(shape);
    shapes.push_back(s);
    name_w = std::max(name_w, r.name.size());
    op_w = std::max(op_w, r.op.size());
    act_w = std::max(act_w, r.activation.size());
    shape_w = std::max(shape_w, s.size());
  }
  fmt::print("\nnodes\n  {:>4}  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {:>10}\n", "#", "name", name_w,
             "op", op_w, "activation", act_w, "output", shape_w, "params");
  for (size_t i = 0; i < rows.size(); ++i) {
    const NodeRow& r = rows[i];
    fmt::print("  {:>4}  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {:>10}\n", i, r.name, name_w, r.op, op_w,
               r.activation, act_w, shapes[i], shape_w, r.param_bytes);
  }

  print_layers(layers);

  fmt::print("\ntotals\n");
  fmt::print("  parameters   {} bytes\n", parameter_bytes(model));
  fmt::print("  file         {} bytes\n", model.file_bytes());
  fmt::print("  arena        {} bytes\n", model.arena_bytes());
  fmt::print("  activations  {} bytes (all non-constant tensors, before memory sharing)\n",
             activation_bytes(model));
}

int run_inspect(const InspectArgs& args) {
  std::shared_ptr<const rt::Model> model = load_model(args.model);
  std::vector<NodeRow> rows = node_rows(*model);
  const std::vector<format::LayerWeights> layers = format::layer_weights(*model);
  std::map<std::string, int> ops;
  for (const NodeRow& r : rows) ++ops[r.op];
  if (args.json)
    print_json(args.model, *model, rows, layers, ops);
  else
    print_text(args.model, *model, rows, layers, ops);
  return 0;
}

}  // namespace

Command add_inspect_command(CLI::App& root) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd =
      root.add_subcommand("inspect", "Show a .pare model: signature, metadata, nodes, sizes");
  cmd->add_option("model", args->model, "The .pare model")->required();
  cmd->add_flag("--json", args->json, "Print one JSON object instead of text");
  return {cmd, [args] { return run_inspect(*args); }};
}

}  // namespace pare::cli
