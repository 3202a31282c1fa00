// A TorchScript file from anywhere: the importer pare's CLI uses (LibTorch's loader, freezing,
// lowering to pare's graph), then the canonical pipeline and the .pare writer. LibTorch reads
// the zip archive without checking CRCs, so byte mutations of the stored seeds reach its
// TorchScript parser, the pickled tensor records and pare's lowering directly. The seeds
// take one input named x, 1x1x4x4. Only bad-input errors may come out.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <string>

#include "formats/import/model_import.h"
#include "tests/fuzz/convert_util.h"
#include "tests/fuzz/fuzz_util.h"

// A file can make LibTorch ask for tens of gigabytes. Outside the sanitizer, operator new
// throws std::bad_alloc and the importer reports a bad file (exit 2); ASan's operator new
// aborts instead. These replacements restore the standard behaviour on top of ASan's malloc
// (allocator_may_return_null=1 makes it return null), so the harness sees what users see.
// These are the allocation functions, so their free() matches their malloc(); GCC cannot
// tell the replacement apart from a mismatched pair.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n == 0 ? 1 : n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n == 0 ? 1 : n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void* operator new(std::size_t n, std::align_val_t a) {
  void* p = nullptr;
  if (posix_memalign(&p, std::max(sizeof(void*), static_cast<std::size_t>(a)), n == 0 ? 1 : n) == 0) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  void* p = nullptr;
  return posix_memalign(&p, std::max(sizeof(void*), static_cast<std::size_t>(a)), n == 0 ? 1 : n) == 0 ? p : nullptr;
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t& t) noexcept {
  return operator new(n, a, t);
}
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

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
    pare::fuzz::convert_and_load(graph);
  });
  return 0;
}
