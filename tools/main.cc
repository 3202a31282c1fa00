// pare: convert, compress, run, evaluate and inspect models. Exit codes: 0 ok, 1 internal
// error, 2 bad usage or input, 3 quality budget not met.
#include <string>
#include <vector>

#include "tools/cli.h"

int main(int argc, char** argv) {
  return pare::cli::run_cli(std::vector<std::string>(argv + 1, argv + argc));
}
