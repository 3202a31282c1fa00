// pare passes: the registered passes, their options, and the default pipeline.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "passes/pass.h"
#include "tools/common.h"

namespace pare::cli {

namespace {

int run_passes() {
  for (const passes::PassInfo& p : passes::registry()) {
    fmt::print("{}\n    {}\n", p.name, p.doc);
    for (const auto& [option, doc] : p.options) fmt::print("    {}: {}\n", option, doc);
  }
  fmt::print("\ndefault pipeline (pare convert): {}\n", passes::kCanonicalPipeline);
  return 0;
}

}  // namespace

Command add_passes_command(CLI::App& root) {
  CLI::App* cmd = root.add_subcommand("passes", "List the passes a pipeline can use");
  return {cmd, [] { return run_passes(); }};
}

}  // namespace pare::cli
