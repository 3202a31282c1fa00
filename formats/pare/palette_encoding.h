// Palette candidates for the writer's choice of encoding (docs/format.md, "Encodings"): a
// float32 or int8 constant whose rows each hold at most 256 distinct values (by bit pattern,
// so -0.0f and 0.0f differ) can be stored as k-bit indices into one table per row or one
// table for the tensor. Lossless, like the sparse layouts.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "runtime/tensor.h"

namespace pare::format {

// The smallest palette layout of the row-major matrix `data` [rows, cols] of `dtype`
// (metadata only: rows, cols, bits, entries, per_row, dtype, row_bytes) when its data size is
// below `limit`; nullopt when there is none (the dtype is not float32 or int8, a row has more
// than 256 distinct values, or no layout is below `limit`). Counting stops at the first row
// past 256 values or once the size reaches `limit`, so a matrix of random or trained floats
// costs about one row.
std::optional<rt::PaletteView> palette_layout(const uint8_t* data, DType dtype, int64_t rows, int64_t cols,
                                              uint64_t limit);

// The layout with one table per row (`per_row`) or for the whole tensor, whichever is
// asked; nullopt when that needs more than 256 entries.
std::optional<rt::PaletteView> palette_layout(const uint8_t* data, DType dtype, int64_t rows, int64_t cols,
                                              bool per_row);

// The data range of `layout` (rt::palette_parts lays out the parts): each table lists its
// distinct values in order of first appearance (row-major), zero bytes after the last one.
std::vector<uint8_t> encode_palette(const uint8_t* data, const rt::PaletteView& layout);

}  // namespace pare::format
