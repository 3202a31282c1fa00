// pare ops MODEL.pare...: the op types the models use, then the kernel families their
// prepare selects from, one per line, each part sorted: the list a selective runtime build
// takes (cmake -DPARE_OPS=ops.txt, docs/embedding.md).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <set>

#include "runtime/kernel_family_log.h"
#include "tools/common.h"

namespace pare::cli {

namespace {

struct OpsArgs {
  std::vector<std::string> models;
};

int run_ops(const OpsArgs& args) {
  std::set<std::string> ops;
  rt::KernelFamilyRecorder families;
  for (const std::string& path : args.models) {
    const std::shared_ptr<const rt::Model> model = load_model(path);
    for (const rt::NodeDesc& node : model->nodes()) ops.insert(node.op);
    // Preparing the model selects each node's kernels, which records their families.
    make_interpreter(model, path, /*threads=*/1, /*max_memory=*/0);
  }
  for (const std::string& op : ops) fmt::print("{}\n", op);
  for (const std::string& family : families.families()) fmt::print("{}\n", family);
  return 0;
}

}  // namespace

Command add_ops_command(CLI::App& root) {
  auto args = std::make_shared<OpsArgs>();
  CLI::App* cmd = root.add_subcommand(
      "ops", "List the op types .pare models use and the kernel families they select (the input of a selective runtime build: -DPARE_OPS=FILE)");
  cmd->add_option("models", args->models, "The .pare models")->required();
  return {cmd, [args] { return run_ops(*args); }};
}

}  // namespace pare::cli
