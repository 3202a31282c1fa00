// A TorchScript file from anywhere: the importer pare's CLI uses (LibTorch's loader, freezing,
// lowering to pare's graph), then the canonical pipeline and the .pare writer. LibTorch reads
// the zip archive without checking CRCs, so byte mutations of the stored seeds reach its
// TorchScript parser, the pickled tensor records and pare's lowering directly. The seeds
// take one input named x, 1x1x4x4. Only bad-input errors may come out.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "formats/import/model_import.h"
#include "formats/pare/writer.h"
#include "passes/pass.h"
#include "runtime/model.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

// The importer reads a path: one scratch file per process.
const std::string& scratch_path() {
  static const std::string path = "/tmp/pare-torchscript-fuzz-" + std::to_string(getpid()) + ".pt";
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("PARE_ISA", "scalar", 1);
  std::atexit([] { std::remove(scratch_path().c_str()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    std::ofstream f(scratch_path(), std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  pare::fuzz::expect_only_bad_input_errors([&] {
    pare::ir::Graph graph = pare::model_import::import_model(scratch_path(), {{"x", {1, 1, 4, 4}}});
    pare::passes::PassContext ctx;
    const pare::Status st = pare::passes::run_pipeline(graph, pare::passes::kCanonicalPipeline, ctx);
    if (!st.is_ok()) throw pare::Error(st.code(), st.message());
    const std::vector<uint8_t> file = pare::format::serialize(graph, {});
    auto model = pare::rt::Model::load_buffer(file.data(), file.size(), "converted.pare");
    if (!model.is_ok()) {
      std::fprintf(stderr, "written file does not load: %s\n", model.status().message().c_str());
      std::abort();
    }
  });
  return 0;
}
