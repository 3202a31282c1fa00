// Helpers shared by the toolchain tests: paths, temporary folders, running the CLI.
#pragma once

#include <string>
#include <vector>

namespace pare::test {

std::string source_dir();    // the repository root
std::string testdata_dir();  // <root>/testdata
std::string pare_binary();   // the built `pare` executable
std::string onnx_node_tests_dir();  // Debian's libonnx-testdata node tests

// A fresh empty folder, removed with its contents when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `pare` with the given arguments (no shell), capturing both streams.
CommandResult run_pare(const std::vector<std::string>& args);

bool file_exists(const std::string& path);
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);
std::vector<std::string> list_dir(const std::string& path);  // names, sorted

}  // namespace pare::test
