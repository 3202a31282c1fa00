// The pare command line as a function: the executable's main and the Python module
// (python/pare_module.cc) both run it, so both give the same results and messages.
#include "tools/cli.h"

#include <CLI/CLI.hpp>

#include "tools/common.h"

namespace pare::cli {

int run_cli(const std::vector<std::string>& args, std::string* error) {
  CLI::App app("pare: shrinks trained neural networks for on-device use and runs them.", "pare");
  app.set_version_flag("--version", std::string("pare ") + PARE_VERSION, "Print the version and exit");
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 internal error, 2 bad usage or input, 3 quality budget not met.");

  std::vector<Command> commands = {
      add_convert_command(app),     add_compress_command(app), add_run_command(app),
      add_eval_command(app),        add_inspect_command(app),  add_passes_command(app),
      add_bench_command(app),       add_export_onnx_command(app), add_check_command(app),
      add_verify_command(app),      add_ops_command(app)};

  // CLI11 parses from the last argument backwards.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    if (error && e.get_exit_code() != 0) {
      *error = e.what();
      return 2;
    }
    // Help and version print and succeed; every parse error is bad usage.
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (const Command& c : commands)
    if (c.app->parsed()) return run_reporting_errors(c.run, error);
  return 2;
}

}  // namespace pare::cli
