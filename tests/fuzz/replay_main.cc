// Runs a fuzz target's entry point on every file of the given folders (seed corpus and the
// inputs of past findings), outside libFuzzer: how the normal and sanitizer test suites keep
// every finding fixed. A crash or abort fails the test.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  size_t files = 0;
  for (int a = 1; a < argc; ++a) {
    if (!std::filesystem::is_directory(argv[a])) {
      std::fprintf(stderr, "no folder %s\n", argv[a]);
      return 1;
    }
    std::vector<std::filesystem::path> paths;
    for (const auto& entry : std::filesystem::directory_iterator(argv[a]))
      if (entry.is_regular_file()) paths.push_back(entry.path());
    std::sort(paths.begin(), paths.end());
    for (const auto& path : paths) {
      std::ifstream f(path, std::ios::binary);
      const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), {});
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
      ++files;
    }
  }
  std::printf("%zu inputs ran\n", files);
  return files > 0 ? 0 : 1;
}
