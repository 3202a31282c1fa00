// Palette candidates for the writer's choice of encoding (docs/format.md, "Encodings"): a
// float32 or int8 constant whose rows, columns or whole tensor hold at most 256 distinct
// values (by bit pattern, so -0.0f and 0.0f differ) can be stored as indices into one table
// per row, one per column or one for the tensor, the indices packed (k bits each) or
// entropy coded (one canonical Huffman code per tensor). Lossless, like the sparse layouts.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "runtime/tensor.h"

namespace pare::format {

enum class PaletteTables { kPerRow, kPerColumn, kPerTensor };

// The smallest palette layout of the row-major matrix `data` [rows, cols] of `dtype`
// (metadata only: rows, cols, bits, entries, per_row, per_column, dtype, coding, stream_bits,
// row_bytes); nullopt when there is none (the dtype is not float32 or int8, no kind of table
// holds at most 256 values, or no layout qualifies). Packed indices with tables per row, per
// column, one table qualify below `limit`; entropy-coded indices with the same tables below the
// best packed layout or, when none qualifies, below `coded_limit` (0: no coding; the writer
// asks coded indices to save a fifth over a dense or sparse weight, docs/format.md). A later
// candidate wins only when strictly smaller. Counting stops at the first row (column, tensor)
// past 256 values or once the size reaches `limit`, so a matrix of random or trained floats
// costs about one row and one column.
std::optional<rt::PaletteView> palette_layout(const uint8_t* data, DType dtype, int64_t rows, int64_t cols,
                                              uint64_t limit, uint64_t coded_limit);

// The layout with the tables and coding asked for; nullopt when a table needs more than 256
// entries.
std::optional<rt::PaletteView> palette_layout(const uint8_t* data, DType dtype, int64_t rows, int64_t cols,
                                              PaletteTables tables, rt::PaletteCoding coding);

// The data range of `layout` (rt::palette_parts lays out the parts): each table lists its
// distinct values by descending use (ties: first appearance in row-major order), zero bytes
// after the last one, so index 0 is the most used value of every table.
std::vector<uint8_t> encode_palette(const uint8_t* data, const rt::PaletteView& layout);

// Code lengths of an optimal prefix code for `counts` with no code longer than `max_length`
// bits (package-merge): 0 for a zero count; a single used symbol gets length 1. Needs at most
// 2^max_length used symbols.
std::vector<uint8_t> limited_code_lengths(const std::vector<uint64_t>& counts, int32_t max_length);

}  // namespace pare::format
