// .npy and .npz inputs (calibration, check and run data): the first byte picks the reader.
#include <cstddef>
#include <cstdint>
#include <string>

#include "calibration/npy.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  pare::fuzz::expect_only_bad_input_errors([&] {
    if (data[0] & 1) {
      pare::npy::parse_npz(bytes, "fuzz.npz");
    } else {
      const pare::npy::Array a = pare::npy::parse_npy(bytes, "fuzz.npy");
      // What was read writes back to the same array.
      const pare::npy::Array b = pare::npy::parse_npy(pare::npy::serialize_npy(a), "again.npy");
      if (b.type != a.type || b.shape != a.shape || b.data != a.data) std::abort();
    }
  });
  return 0;
}
