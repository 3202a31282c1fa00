// The writer's choice of encoding for a constant (docs/format.md, "Encodings"): weights
// (float32, int8 or uint8 constants of rank >= 2) are stored sparse, or (float32 and int8)
// as a palette (palette_encoding.h), when that is smaller than the dense bytes: the smallest
// of dense, the sparse layouts and the palette, ties to dense, then to sparse. An element
// counts as zero when all its bytes are zero, so the encoding is lossless (-0.0f stays a
// stored value).
#pragma once

#include <cstdint>
#include <vector>

#include "ir/graph.h"
#include "runtime/tensor.h"

namespace pare::format {

struct EncodedConstant {
  Encoding encoding = Encoding::kDense;
  // kSparse: format, rows, cols, block_rows, entries, column_bytes and codes (no pointers).
  rt::SparseView sparse;
  // kPalette: rows, cols, bits, entries, per_row, dtype and row_bytes (no pointers).
  rt::PaletteView palette;
  // kSparse, kPalette: the data range (runtime/sparse.h, runtime/palette.h lay out the parts)
  std::vector<uint8_t> bytes;
};

// Dense (bytes left empty: the tensor's own buffer is stored) or the smallest encoding (of
// the block and 2:4 layouts only, without `gaps`; no palette without `palettes`; palettes
// with packed indices only, without `huffman`).
EncodedConstant encode_constant(const ir::Tensor& t, bool gaps = true, bool palettes = true, bool huffman = true);

// The encoding and data size the writer stores for a constant by default: its dense bytes
// or encode_constant's (without encoding the bytes).
struct StoredSize {
  Encoding encoding = Encoding::kDense;
  uint64_t bytes = 0;
};
StoredSize stored_size(const ir::Tensor& t);
uint64_t stored_bytes(const ir::Tensor& t);

// Sparse layouts of one constant, for tests that need a given one: the encoding of
// `bytes` (dtype, [rows, cols]) as kBlockRows with `block_rows` rows per block, as
// kTwoOfFour or as kGaps (`block_rows` ignored). kTwoOfFour needs at most 2 nonzeros per
// group of 4.
EncodedConstant encode_sparse(const std::vector<uint8_t>& bytes, DType dtype, int64_t rows,
                              int64_t cols, SparseFormat format, int32_t block_rows);

}  // namespace pare::format
