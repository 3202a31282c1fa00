// pare export-onnx MODEL.pare -o OUT.onnx: the .pare graph as ONNX (opset 17), int8 nodes in
// the QDQ form ONNX Runtime fuses into its int8 kernels.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "formats/onnx/exporter.h"
#include "formats/pare/reader.h"
#include "tools/common.h"

namespace pare::cli {

namespace {

struct ExportArgs {
  std::string input;
  std::string output;
  std::string weight_type = "int8";
};

int run_export_onnx(const ExportArgs& args) {
  const ir::Graph graph = format::read_graph(args.input);
  onnx_export::ExportOptions options;
  options.uint8_weights = args.weight_type == "uint8";
  const onnx_export::ExportStats stats = onnx_export::export_file(graph, args.output, options);
  fmt::print("wrote {} from {}\n", args.output, base_name(args.input));
  fmt::print("  nodes        {} (from {} in the .pare)\n", stats.nodes, graph.num_nodes());
  fmt::print("  initializers {}\n", stats.initializers);
  fmt::print("  file         {} bytes\n", stats.bytes);
  return 0;
}

}  // namespace

Command add_export_onnx_command(CLI::App& root) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = root.add_subcommand(
      "export-onnx", "Export a .pare model as ONNX (opset 17; int8 layers as QuantizeLinear/DequantizeLinear)");
  cmd->add_option("model", args->input, "The .pare model")->required();
  cmd->add_option("-o,--output", args->output, "The ONNX file to write")->required();
  cmd->add_option("--weight-type", args->weight_type,
                  "int8 (default) or uint8: int8 weights as uint8 with zero point + 128, the same values; "
                  "ONNX Runtime computes them exactly on x86-64 CPUs without VNNI, where its int8-weight "
                  "kernels saturate")
      ->check(CLI::IsMember({"int8", "uint8"}));
  return {cmd, [args] { return run_export_onnx(*args); }};
}

}  // namespace pare::cli
