// An ONNX file from anywhere: import, the canonical pipeline `pare convert` runs, write the
// .pare image, load it back and prepare it. Only bad-input errors may come out.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "formats/onnx/importer.h"
#include "runtime/interpreter.h"
#include "tests/fuzz/convert_util.h"
#include "tests/fuzz/fuzz_util.h"

// Folding and prepare on the reference kernels (the SIMD kernel files are built without the sanitizers).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("PARE_ISA", "scalar", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pare::fuzz::expect_only_bad_input_errors([&] {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    // External data is resolved next to this name, in a folder that does not exist.
    pare::ir::Graph graph = pare::onnx_import::import_model_bytes(bytes, "/nonexistent-fuzz-dir/model.onnx");
    // What the writer produced from a graph the pipeline accepted must load and prepare.
    const std::shared_ptr<const pare::rt::Model> model = pare::fuzz::convert_and_load(graph);
    pare::rt::InterpreterOptions options;
    options.max_memory_bytes = size_t{256} << 20;
    auto interp = pare::rt::Interpreter::create(model, options);
    if (!interp.is_ok() && interp.status().code() == pare::rt::Status::kInternal) {
      std::fprintf(stderr, "prepare: %s\n", interp.status().message().c_str());
      std::abort();
    }
  });
  return 0;
}
