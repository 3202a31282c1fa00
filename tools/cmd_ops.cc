// pare ops MODEL.pare...: the op types the models use, one per line, sorted: the list a
// selective runtime build takes (cmake -DPARE_OPS=ops.txt, docs/embedding.md).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <set>

#include "tools/common.h"

namespace pare::cli {

namespace {

struct OpsArgs {
  std::vector<std::string> models;
};

int run_ops(const OpsArgs& args) {
  std::set<std::string> ops;
  for (const std::string& path : args.models) {
    const std::shared_ptr<const rt::Model> model = load_model(path);
    for (const rt::NodeDesc& node : model->nodes()) ops.insert(node.op);
  }
  for (const std::string& op : ops) fmt::print("{}\n", op);
  return 0;
}

}  // namespace

Command add_ops_command(CLI::App& root) {
  auto args = std::make_shared<OpsArgs>();
  CLI::App* cmd = root.add_subcommand(
      "ops", "List the op types .pare models use (the input of a selective runtime build: -DPARE_OPS=FILE)");
  cmd->add_option("models", args->models, "The .pare models")->required();
  return {cmd, [args] { return run_ops(*args); }};
}

}  // namespace pare::cli
