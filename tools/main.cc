// pare: convert, run, evaluate and inspect models. Exit codes: 0 ok, 1 internal error,
// 2 bad usage or input, 3 quality budget not met.
#include <CLI/CLI.hpp>
#include <vector>

#include "tools/common.h"

int main(int argc, char** argv) {
  CLI::App app("pare: shrinks trained neural networks for on-device use and runs them.", "pare");
  app.set_version_flag("--version", std::string("pare ") + PARE_VERSION,
                       "Print the version and exit");
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 internal error, 2 bad usage or input, 3 quality budget not met.");

  std::vector<pare::cli::Command> commands = {
      pare::cli::add_convert_command(app), pare::cli::add_compress_command(app),
      pare::cli::add_run_command(app),
      pare::cli::add_eval_command(app), pare::cli::add_inspect_command(app),
      pare::cli::add_passes_command(app), pare::cli::add_bench_command(app),
      pare::cli::add_export_onnx_command(app), pare::cli::add_check_command(app),
      pare::cli::add_verify_command(app)};

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and version print and succeed; every parse error is bad usage.
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (const pare::cli::Command& c : commands)
    if (c.app->parsed()) return pare::cli::run_reporting_errors(c.run);
  return 2;
}
