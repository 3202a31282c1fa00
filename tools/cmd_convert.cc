// pare convert IN.(onnx|pt) -o OUT.pare: import, canonicalize, write.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

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
  std::vector<std::string> input_types;
  std::string pipeline = passes::kCanonicalPipeline;
};

int run_convert(const ConvertArgs& args) {
  // Parsed first so that a bad pipeline fails before the import; stored as printed.
  const std::string pipeline = passes::print_pipeline(passes::parse_pipeline(args.pipeline));
  ir::Graph graph = import_source(args.input, args.input_shapes, args.input_types);
  passes::PassContext ctx;
  Status st = passes::run_pipeline(graph, pipeline, ctx);
  if (!st.is_ok()) throw_naming(st, args.input);
  std::shared_ptr<const rt::Model> model;
  const std::vector<uint8_t> bytes =
      serialize_checked(graph, args.input, args.output, pipeline, false, false, &model);
  format::write_file_atomic(args.output, bytes.data(), bytes.size());

  const rt::Model& m = *model;
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
      root.add_subcommand("convert", "Convert an ONNX or TorchScript model to .pare (canonicalizing passes only)");
  cmd->add_option("model", args->input, "The ONNX (.onnx) or TorchScript (.pt) model")->required();
  cmd->add_option("-o,--output", args->output, "The .pare file to write")->required();
  cmd->add_option("--input-shape", args->input_shapes,
                  "Fix the shape of an input with symbolic dims: NAME:1x3x224x224 (repeatable; TorchScript: every input)")
      ->allow_extra_args(false);
  cmd->add_option("--input-type", args->input_types,
                  "The dtype of a TorchScript input: NAME:int64 (repeatable; default float32, int64 for embedding ids)")
      ->allow_extra_args(false);
  cmd->add_option("--passes", args->pipeline, "The pass pipeline to run")->capture_default_str();
  return {cmd, [args] { return run_convert(*args); }};
}

}  // namespace pare::cli
