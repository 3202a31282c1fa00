// Where the parts of a sparse constant lie inside its data range (docs/format.md,
// "Encodings"), and the checks of their contents. The writer lays parts out with
// sparse_parts(); the loader computes the same layout from the file's metadata, then
// verifies every index with check_sparse_indices() before any op reads them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "runtime/tensor.h"

namespace pare::rt {

constexpr size_t kSparsePartAlignment = 16;

// Byte offsets from the start of the data range; a part absent from the format has size 0.
struct SparseParts {
  uint64_t values = 0, values_bytes = 0;
  uint64_t block_starts = 0, block_starts_bytes = 0;  // kBlockRows
  uint64_t columns = 0, columns_bytes = 0;            // kBlockRows
  uint64_t positions = 0, positions_bytes = 0;        // kTwoOfFour
  uint64_t gaps = 0, gaps_bytes = 0;                  // kGaps
  uint64_t total = 0;                                 // end of the last part: the data size
};

// Layout for the metadata of `view` (format, rows, cols, block_rows, entries, column_bytes,
// codes; the pointers are not read). The caller has checked that rows, cols, entries and
// codes are small enough for the products not to overflow, rows % block_rows == 0 and
// cols % 4 == 0 (2:4).
SparseParts sparse_parts(const SparseView& view, size_t element_bytes);

// Points the view's part pointers at `data` (the start of the data range).
void bind_sparse_parts(SparseView* view, const SparseParts& parts, const uint8_t* data);

// Checks the index parts of a bound view: block_starts from 0 to entries, never
// decreasing; column indices below cols and strictly ascending within each block; 2:4
// position bytes with first < second and no other bits set; gap codes that decode to exactly
// `entries` values, all inside the matrix, the last code a value and an unused high nibble
// zero. Linear in the size of the parts. On failure, returns false and says what is wrong
// in *problem.
bool check_sparse_indices(const SparseView& view, std::string* problem);

}  // namespace pare::rt
