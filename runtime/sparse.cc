#include "runtime/sparse.h"

#include <cstring>

#include "runtime/kernels/lutgemm/lutgemm.h"
#include "runtime/kernels/spmm/spmm.h"
#include "runtime/palette.h"

namespace pare::rt {

namespace {

uint64_t align_part(uint64_t v) { return (v + kSparsePartAlignment - 1) / kSparsePartAlignment * kSparsePartAlignment; }

uint32_t column_at(const SparseView& v, int64_t e) {
  if (v.column_bytes == 2) {
    uint16_t c;
    std::memcpy(&c, static_cast<const uint8_t*>(v.columns) + e * 2, 2);
    return c;
  }
  uint32_t c;
  std::memcpy(&c, static_cast<const uint8_t*>(v.columns) + e * 4, 4);
  return c;
}

}  // namespace

// Declared in runtime/tensor.h, next to TensorDesc. The sparse layouts are walked once, by
// the spmm kernel family; palettes by runtime/palette.cc.
void densify(const TensorDesc& t, void* out) {
  if (t.encoding == Encoding::kSparse) return kernels::spmm_densify(t.sparse, dtype_size(t.dtype), out);
  if (t.encoding == Encoding::kPalette) return kernels::palette_densify(t.palette, out);
  if (t.byte_size()) std::memcpy(out, t.constant, t.byte_size());
}

SparseParts sparse_parts(const SparseView& view, size_t element_bytes) {
  SparseParts p;
  const uint64_t rows = static_cast<uint64_t>(view.rows), cols = static_cast<uint64_t>(view.cols);
  if (view.format == SparseFormat::kTwoOfFour) {
    p.values_bytes = rows * cols / 2 * element_bytes;
    p.positions = align_part(p.values_bytes);
    p.positions_bytes = rows * cols / 4;
    p.total = p.positions + p.positions_bytes;
    return p;
  }
  const uint64_t entries = static_cast<uint64_t>(view.entries);
  if (view.format == SparseFormat::kGaps) {
    p.values_bytes = entries * element_bytes;
    p.gaps = align_part(p.values_bytes);
    p.gaps_bytes = (static_cast<uint64_t>(view.codes) + 1) / 2;
    p.total = p.gaps + p.gaps_bytes;
    return p;
  }
  const uint64_t blocks = rows / static_cast<uint64_t>(view.block_rows);
  p.values_bytes = entries * static_cast<uint64_t>(view.block_rows) * element_bytes;
  p.block_starts = align_part(p.values_bytes);
  p.block_starts_bytes = (blocks + 1) * sizeof(uint32_t);
  p.columns = align_part(p.block_starts + p.block_starts_bytes);
  p.columns_bytes = entries * static_cast<uint64_t>(view.column_bytes);
  p.total = p.columns + p.columns_bytes;
  return p;
}

void bind_sparse_parts(SparseView* view, const SparseParts& parts, const uint8_t* data) {
  view->values = data + parts.values;
  if (view->format == SparseFormat::kTwoOfFour) {
    view->positions = data + parts.positions;
    return;
  }
  if (view->format == SparseFormat::kGaps) {
    view->gaps = data + parts.gaps;
    return;
  }
  view->block_starts = reinterpret_cast<const uint32_t*>(data + parts.block_starts);
  view->columns = data + parts.columns;
}

namespace {

bool check_gaps(const SparseView& v, std::string* problem) {
  const int64_t elements = v.rows * v.cols;
  SparseGapReader reader(v);
  int64_t values = 0, position = -1;
  while (reader.next(&position)) {
    if (position >= elements) {
      *problem = "gap codes place value " + std::to_string(values) + " at row " +
                 std::to_string(position / v.cols) + ", past the last of " + std::to_string(v.rows) +
                 " rows x " + std::to_string(v.cols) + " cols";
      return false;
    }
    ++values;
  }
  if (values != v.entries) {
    *problem = "gap codes hold " + std::to_string(values) + " values, not the " +
               std::to_string(v.entries) + " entries";
    return false;
  }
  if (reader.cursor() != position + 1) {
    *problem = "gap codes end with a skip after the last value";
    return false;
  }
  if (v.codes % 2 != 0 && v.gaps[v.codes / 2] >> 4 != 0) {
    *problem = "the unused high nibble of the last gap byte is not zero";
    return false;
  }
  return true;
}

}  // namespace

bool check_sparse_indices(const SparseView& v, std::string* problem) {
  if (v.format == SparseFormat::kGaps) return check_gaps(v, problem);
  if (v.format == SparseFormat::kTwoOfFour) {
    const int64_t groups = v.rows * v.cols / 4;
    for (int64_t g = 0; g < groups; ++g) {
      const uint8_t b = v.positions[g];
      if (b >> 4 != 0 || (b & 3) >= ((b >> 2) & 3)) {
        *problem = "2:4 position byte " + std::to_string(b) + " of group " + std::to_string(g) +
                   " is invalid (needs first < second, both below 4)";
        return false;
      }
    }
    return true;
  }
  const int64_t blocks = v.rows / v.block_rows;
  if (v.block_starts[0] != 0) {
    *problem = "block_starts[0] is " + std::to_string(v.block_starts[0]) + ", not 0";
    return false;
  }
  if (v.block_starts[blocks] != static_cast<uint64_t>(v.entries)) {
    *problem = "block_starts ends at " + std::to_string(v.block_starts[blocks]) + ", not at the " +
               std::to_string(v.entries) + " entries";
    return false;
  }
  for (int64_t b = 0; b < blocks; ++b)
    if (v.block_starts[b + 1] < v.block_starts[b]) {
      *problem = "block_starts decreases at block " + std::to_string(b + 1);
      return false;
    }
  for (int64_t b = 0; b < blocks; ++b) {
    const uint32_t begin = v.block_starts[b], end = v.block_starts[b + 1];
    for (uint32_t e = begin; e < end; ++e) {
      const uint32_t c = column_at(v, e);
      if (c >= static_cast<uint64_t>(v.cols) || (e > begin && c <= column_at(v, e - 1))) {
        *problem = "column index " + std::to_string(c) + " of block " + std::to_string(b) +
                   (c >= static_cast<uint64_t>(v.cols) ? " is not below cols " + std::to_string(v.cols)
                                                       : " is not ascending");
        return false;
      }
    }
  }
  return true;
}

}  // namespace pare::rt
