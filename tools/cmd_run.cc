// pare run MODEL.pare --input X.npy|NAME=X.npy|X.npz --output Y.npy: runs a model over the rows of arrays.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "ir/status.h"
#include "tools/common.h"

namespace pare::cli {

namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::string output;
  int threads = 1;
  std::string max_memory;  // --max-memory
};

int run_run(const RunArgs& args) {
  std::shared_ptr<const rt::Model> model = load_model(args.model);
  std::unique_ptr<rt::Interpreter> interp = make_interpreter(model, args.model, args.threads, max_memory_bytes(args.max_memory));
  std::vector<npy::Array> outputs = run_rows(*interp, bind_inputs(*interp, args.model, args.inputs, "--input"));

  bool all = ends_with(args.output, ".npz");
  std::string written;
  for (size_t o = 0; o < (all ? outputs.size() : 1); ++o)
    written += fmt::format("{} '{}': {} {}\n", args.output, interp->output(o).name,
                           npy::elem_type_name(outputs[o].type), rt::shape_str(outputs[o].shape));
  if (all) {
    std::vector<std::pair<std::string, npy::Array>> members;
    for (size_t o = 0; o < outputs.size(); ++o)
      members.emplace_back(interp->output(o).name, std::move(outputs[o]));
    npy::write_npz(args.output, members);
  } else {
    if (outputs.size() > 1)
      warn(
          fmt::format("{} has {} outputs; {} holds only the first, '{}' (give a .npz path to "
                      "write them all)",
                      args.model, outputs.size(), args.output, interp->output(0).name));
    npy::write_npy(args.output, outputs[0]);
  }
  fmt::print("{}", written);
  return 0;
}

}  // namespace

Command add_run_command(CLI::App& root) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = root.add_subcommand("run", "Run a .pare model over the rows of .npy arrays");
  cmd->add_option("model", args->model, "The .pare model")->required();
  cmd->add_option("-i,--input", args->inputs,
                  "Input arrays: FILE.npy (models with one input), NAME=FILE.npy (repeatable), or "
                  "FILE.npz with one array per input name. For a model input [B,...] the array is "
                  "[R,...] with R a multiple of B; int64 inputs (token ids, masks) take int64 or "
                  "int32 arrays")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("-o,--output", args->output,
                  "Where to write the outputs, stacked over the rows: FILE.npy (the first output) "
                  "or FILE.npz (all)")
      ->required();
  cmd->add_option("-t,--threads", args->threads, "Threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  add_max_memory_option(cmd, &args->max_memory);
  return {cmd, [args] { return run_run(*args); }};
}

}  // namespace pare::cli
