// Tensor descriptions as the runtime sees them: dtype and a static shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/types.h"

namespace pare::rt {

using ::pare::DType;
using ::pare::dtype_size;
using ::pare::dtype_name;
using ::pare::dtype_valid;
using ::pare::QuantParams;
using ::pare::Encoding;
using ::pare::SparseFormat;

// A constant stored sparse (docs/format.md gives the bytes in the file), viewed as the
// matrix [rows = shape[0], cols = product of the other dims]. Pointers into the file's
// weight segment; the loader has checked every count, size and index.
struct SparseView {
  SparseFormat format = SparseFormat::kBlockRows;
  int64_t rows = 0, cols = 0;
  // kBlockRows: rows % block_rows == 0; block b's entries are [block_starts[b],
  // block_starts[b + 1]), entry e holds column columns[e] (ascending within a block) and the
  // block_rows values values[e * block_rows + r], r = 0 .. block_rows - 1.
  int32_t block_rows = 1;
  int64_t entries = 0;
  const uint32_t* block_starts = nullptr;  // [rows / block_rows + 1], first 0, last entries
  const void* columns = nullptr;           // [entries] of uint16 (column_bytes 2) or uint32 (4)
  int32_t column_bytes = 2;
  // kTwoOfFour: cols % 4 == 0; per row, per group of 4 columns, 2 values (values, in column
  // order) and one byte of positions: bits 0-1 the first kept column, bits 2-3 the second
  // (first < second).
  const uint8_t* positions = nullptr;  // [rows * cols / 4]
  const void* values = nullptr;        // kBlockRows: [entries * block_rows]; kTwoOfFour: [rows * cols / 2]
};

struct TensorDesc {
  std::string name;
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  const void* constant = nullptr;  // weights: points into the mapped file (or a caller's buffer);
                                   // null for a sparse constant an op reads through `sparse`
  Encoding encoding = Encoding::kDense;
  SparseView sparse;               // encoding == kSparse
  bool quantized = false;          // quant holds the tensor's quantization
  QuantParams quant;

  int64_t num_elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  size_t byte_size() const { return static_cast<size_t>(num_elements()) * dtype_size(dtype); }
  size_t rank() const { return shape.size(); }
};

std::string shape_str(const std::vector<int64_t>& shape);  // "[1,3,224,224]"

// Writes the dense row-major bytes (t.byte_size()) of a constant to `out`: a copy for a
// dense one; for a sparse one, zero bytes where the view stores nothing. For ops without a
// sparse kernel, and kernels that fall back to dense (defined in runtime/sparse.cc).
void densify(const TensorDesc& t, void* out);

}  // namespace pare::rt
