// A .pare image from the network: load (structure and semantic checks), verify the content
// hash, prepare every kernel under a memory limit, run one inference on zeroed inputs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "runtime/interpreter.h"
#include "runtime/model.h"

// The reference kernels: the SIMD kernel files are built without the sanitizers (runtime/CMakeLists.txt).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("PARE_ISA", "scalar", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pare::rt;
  Result<std::shared_ptr<const Model>> model = Model::load_buffer(data, size, "fuzz.pare");
  if (!model.is_ok()) return 0;
  (void)model.value()->verify_integrity();
  InterpreterOptions options;
  options.max_memory_bytes = size_t{256} << 20;
  Result<std::unique_ptr<Interpreter>> interp = Interpreter::create(model.value(), options);
  if (!interp.is_ok()) {
    if (interp.status().code() == Status::kInternal) std::abort();  // the CLI's exit 1
    return 0;
  }
  Interpreter& in = *interp.value();
  for (size_t i = 0; i < in.num_inputs(); ++i) std::memset(in.input_data(i), 0, in.input(i).byte_size());
  (void)in.invoke();
  return 0;
}
