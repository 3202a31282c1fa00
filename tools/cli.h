// The pare command line, callable in-process.
#pragma once

#include <string>
#include <vector>

namespace pare::cli {

// Runs `pare ARGS...` (args without the program name) and returns its exit code (0 ok, 1
// internal error, 2 bad usage or input, 3 quality budget not met). Errors go to stderr as
// "pare: error: MESSAGE", or into *error without the prefix when `error` is given.
int run_cli(const std::vector<std::string>& args, std::string* error = nullptr);

}  // namespace pare::cli
