// The writer's choice of encoding for a constant (docs/format.md, "Encodings"): weights
// (float32, int8 or uint8 constants of rank >= 2) are stored sparse when a sparse layout is
// smaller than the dense bytes. An element counts as zero when all its bytes are zero, so
// the encoding is lossless (-0.0f stays a stored value).
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
  std::vector<uint8_t> bytes;  // kSparse: the data range (runtime/sparse.h lays out the parts)
};

// Dense (bytes left empty: the tensor's own buffer is stored) or the smallest sparse layout
// (of the block and 2:4 layouts only, without `gaps`).
EncodedConstant encode_constant(const ir::Tensor& t, bool gaps = true);

// The data size the writer stores for a constant: its dense bytes or encode_constant's.
uint64_t stored_bytes(const ir::Tensor& t);

// Sparse layouts of one constant, for tests that need a given one: the encoding of
// `bytes` (dtype, [rows, cols]) as kBlockRows with `block_rows` rows per block, as
// kTwoOfFour or as kGaps (`block_rows` ignored). kTwoOfFour needs at most 2 nonzeros per
// group of 4.
EncodedConstant encode_sparse(const std::vector<uint8_t>& bytes, DType dtype, int64_t rows,
                              int64_t cols, SparseFormat format, int32_t block_rows);

}  // namespace pare::format
