// The --passes pipeline string: parse, print, parse again to the same items.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "passes/pass.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  pare::fuzz::expect_only_bad_input_errors([&] {
    const auto items = pare::passes::parse_pipeline(text);
    const std::string printed = pare::passes::print_pipeline(items);
    if (pare::passes::print_pipeline(pare::passes::parse_pipeline(printed)) != printed) std::abort();
  });
  return 0;
}
