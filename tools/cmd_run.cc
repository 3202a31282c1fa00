// pare run MODEL.pare --input X.npy --output Y.npy: runs a model over the rows of arrays.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <optional>

#include "ir/status.h"
#include "tools/common.h"

namespace pare::cli {

namespace {

struct RunArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::string output;
  int threads = 1;
};

std::string input_names(const rt::Interpreter& interp) {
  std::string names;
  for (size_t i = 0; i < interp.num_inputs(); ++i)
    names += fmt::format("{}'{}'", i ? ", " : "", interp.input(i).name);
  return names;
}

// Binds each --input (PATH, or NAME=PATH) to a model input; returns them in input order.
std::vector<InputArray> bind_inputs(const rt::Interpreter& interp, const RunArgs& args) {
  std::vector<std::optional<std::string>> paths(interp.num_inputs());
  for (const std::string& spec : args.inputs) {
    int index = -1;
    std::string path = spec;
    size_t eq = spec.find('=');
    if (eq != std::string::npos) {
      index = interp.find_input(spec.substr(0, eq));
      if (index >= 0)
        path = spec.substr(eq + 1);
      else if (!std::filesystem::exists(spec))
        throw_invalid(fmt::format("--input {}: {} has no input '{}' (its inputs: {})", spec,
                                  args.model, spec.substr(0, eq), input_names(interp)));
    }
    if (index < 0) {
      if (interp.num_inputs() != 1)
        throw_invalid(
            fmt::format("--input {}: {} has {} inputs ({}); bind each by name with "
                        "--input NAME=FILE.npy",
                        spec, args.model, interp.num_inputs(), input_names(interp)));
      index = 0;
    }
    if (paths[static_cast<size_t>(index)])
      throw_invalid(fmt::format("input '{}' is given twice (--input {} and {})",
                                interp.input(static_cast<size_t>(index)).name,
                                *paths[static_cast<size_t>(index)], path));
    paths[static_cast<size_t>(index)] = path;
  }
  std::vector<InputArray> inputs;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (!paths[i])
      throw_invalid(fmt::format("input '{}' of {} has no --input; give it with --input {}=FILE.npy",
                                interp.input(i).name, args.model, interp.input(i).name));
    inputs.push_back({*paths[i], npy::read_npy(*paths[i])});
  }
  return inputs;
}

int run_run(const RunArgs& args) {
  std::shared_ptr<const rt::Model> model = load_model(args.model);
  std::unique_ptr<rt::Interpreter> interp = make_interpreter(model, args.model, args.threads);
  std::vector<npy::Array> outputs = run_rows(*interp, bind_inputs(*interp, args));

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
                  "Input array: FILE.npy (models with one input) or NAME=FILE.npy (repeatable). "
                  "For a model input [B,...] the array is [R,...] with R a multiple of B")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("-o,--output", args->output,
                  "Where to write the outputs, stacked over the rows: FILE.npy (the first output) "
                  "or FILE.npz (all)")
      ->required();
  cmd->add_option("-t,--threads", args->threads, "Threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  return {cmd, [args] { return run_run(*args); }};
}

}  // namespace pare::cli
