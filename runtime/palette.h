// Where the parts of a palette constant lie inside its data range (docs/format.md,
// "Encodings"), the checks of their contents, and the expansion to dense bytes. The writer
// lays parts out with palette_parts(); the loader computes the same layout from the file's
// metadata, then verifies every index with check_palette_indices() before any op reads them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/tensor.h"

namespace pare::rt {

constexpr int32_t kMinPaletteBits = 2;
constexpr int32_t kMaxPaletteBits = 8;
constexpr size_t kPalettePartAlignment = 16;

// Byte offsets from the start of the data range: the tables first, then the indices.
struct PaletteParts {
  uint64_t tables = 0, tables_bytes = 0;    // (per_row ? rows : 1) x entries x dtype size
  uint64_t indices = 0, indices_bytes = 0;  // rows x row_bytes, 16-byte aligned
  uint64_t total = 0;                       // end of the indices: the data size
};

// ceil(cols x bits / 8): the bytes of one row's packed indices.
inline int64_t palette_row_bytes(int64_t cols, int32_t bits) { return (cols * bits + 7) / 8; }

// Index `c` of a row's packed indices (little-endian bit order, `row_bytes` bytes).
inline uint32_t palette_index(const uint8_t* row, int64_t row_bytes, int64_t c, int32_t bits) {
  const int64_t bit = c * bits;
  const int64_t byte = bit / 8;
  uint32_t word = row[byte];
  if (byte + 1 < row_bytes) word |= static_cast<uint32_t>(row[byte + 1]) << 8;
  return (word >> (bit % 8)) & ((1u << bits) - 1);
}

// Layout for the metadata of `view` (rows, cols, bits, entries, per_row; the pointers are not
// read). The caller has checked that the counts are small enough for the products not to
// overflow.
PaletteParts palette_parts(const PaletteView& view, size_t element_bytes);

// Points the view's table and index pointers at `data` (the start of the data range) and
// sets row_bytes.
void bind_palette_parts(PaletteView* view, const PaletteParts& parts, const uint8_t* data);

// Checks the indices of a bound view: every index below `entries`, and the unused high bits
// of each row's last byte zero. Linear in the size of the indices. On failure, returns false
// and says what is wrong in *problem.
bool check_palette_indices(const PaletteView& view, std::string* problem);

}  // namespace pare::rt
