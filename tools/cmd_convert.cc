// pare convert IN.onnx -o OUT.pare: import, canonicalize, write.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "formats/onnx/importer.h"
#include "formats/pare/writer.h"
#include "ir/status.h"
#include "passes/pass.h"
#include "tools/common.h"

namespace pare::cli {

namespace {

struct ConvertArgs {
  std::string input;
  std::string output;
  std::vector<std::string> input_shapes;
  std::string pipeline = passes::kCanonicalPipeline;
};

int run_convert(const ConvertArgs& args) {
  onnx_import::ImportOptions import_options;
  for (const std::string& spec : args.input_shapes) {
    auto [name, dims] = onnx_import::parse_input_shape(spec);
    if (!import_options.input_shapes.emplace(name, dims).second)
      throw_invalid(fmt::format("--input-shape: input '{}' is given twice", name));
  }
  // Parsed first so that a bad pipeline fails before the import; stored as printed.
  std::string pipeline = passes::print_pipeline(passes::parse_pipeline(args.pipeline));

  ir::Graph graph = onnx_import::import_model(args.input, import_options);
  passes::PassContext ctx;
  Status st = passes::run_pipeline(graph, pipeline, ctx);
  if (!st.is_ok()) throw Error(st.code(), st.message());
  graph.compact();

  format::WriteOptions write_options;
  write_options.producer_version = PARE_VERSION;
  write_options.pipeline = pipeline;
  write_options.source_file = base_name(args.input);
  write_options.source_hash = format::sha256_file(args.input);
  std::vector<uint8_t> bytes = format::serialize(graph, write_options);

  // What is written must load: check the image with the runtime's verifier first.
  auto model = rt::Model::load_buffer(bytes.data(), bytes.size(), args.output);
  if (!model.is_ok())
    throw_internal(fmt::format("the converted model does not pass the runtime's checks: {}",
                               model.status().message()));
  format::write_file_atomic(args.output, bytes.data(), bytes.size());

  const rt::Model& m = **model;
  fmt::print("wrote {} from {}\n", args.output, base_name(args.input));
  fmt::print("  nodes        {}\n", m.nodes().size());
  fmt::print("  parameters   {} bytes\n", parameter_bytes(m));
  fmt::print("  file         {} bytes\n", bytes.size());
  fmt::print("  arena        {} bytes\n", m.arena_bytes());
  return 0;
}

}  // namespace

Command add_convert_command(CLI::App& root) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd =
      root.add_subcommand("convert", "Convert an ONNX model to .pare (canonicalizing passes only)");
  cmd->add_option("model", args->input, "The ONNX model")->required();
  cmd->add_option("-o,--output", args->output, "The .pare file to write")->required();
  cmd->add_option("--input-shape", args->input_shapes,
                  "Fix the shape of an input with symbolic dims: NAME:1x3x224x224 (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--passes", args->pipeline, "The pass pipeline to run")->capture_default_str();
  return {cmd, [args] { return run_convert(*args); }};
}

}  // namespace pare::cli
