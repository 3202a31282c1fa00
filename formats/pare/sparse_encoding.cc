#include "formats/pare/sparse_encoding.h"

#include <cstring>
#include <optional>
#include <utility>

#include "formats/pare/palette_encoding.h"
#include "runtime/palette.h"
#include "runtime/sparse.h"

namespace pare::format {

namespace {

constexpr int64_t kMaxUint16Columns = 65536;

// A constant viewed as a matrix of raw elements.
struct Matrix {
  const uint8_t* data;
  size_t element_bytes;
  int64_t rows, cols;

  bool nonzero(int64_t r, int64_t c) const { return nonzero_at(r * cols + c); }
  // `position`: row-major element index.
  bool nonzero_at(int64_t position) const {
    const uint8_t* p = data + position * element_bytes;
    for (size_t i = 0; i < element_bytes; ++i)
      if (p[i]) return true;
    return false;
  }
  const uint8_t* at(int64_t r, int64_t c) const { return data + (r * cols + c) * element_bytes; }
};

// Calls fn(code) for each kGaps code of the row-major elements, and value(position) after
// each value code.
template <typename CodeFn, typename ValueFn>
void for_each_gap_code(const Matrix& m, const CodeFn& code, const ValueFn& value) {
  int64_t zeros = 0;
  for (int64_t p = 0; p < m.rows * m.cols; ++p) {
    if (!m.nonzero_at(p)) {
      ++zeros;
      continue;
    }
    for (; zeros >= kSparseGapSkip; zeros -= kSparseGapSkip) code(kSparseGapSkip);
    code(static_cast<uint8_t>(zeros));
    value(p);
    zeros = 0;
  }
}

rt::SparseView gaps_meta(const Matrix& m) {
  rt::SparseView v;
  v.format = SparseFormat::kGaps;
  v.rows = m.rows;
  v.cols = m.cols;
  v.block_rows = 1;
  v.column_bytes = 0;
  for_each_gap_code(m, [&](uint8_t) { ++v.codes; }, [&](int64_t) { ++v.entries; });
  return v;
}

void encode_gaps(const Matrix& m, const rt::SparseParts& parts, uint8_t* out) {
  int64_t code_index = 0, value_index = 0;
  for_each_gap_code(
      m,
      [&](uint8_t code) {
        out[parts.gaps + code_index / 2] |= static_cast<uint8_t>(code << (code_index % 2 * 4));
        ++code_index;
      },
      [&](int64_t p) {
        std::memcpy(out + parts.values + value_index * m.element_bytes, m.data + p * m.element_bytes,
                    m.element_bytes);
        ++value_index;
      });
}

// Stored columns of kBlockRows with `block_rows`: per block, the columns with a nonzero.
int64_t count_block_entries(const Matrix& m, int32_t block_rows) {
  int64_t entries = 0;
  for (int64_t b = 0; b < m.rows / block_rows; ++b)
    for (int64_t c = 0; c < m.cols; ++c)
      for (int64_t r = b * block_rows; r < (b + 1) * block_rows; ++r)
        if (m.nonzero(r, c)) {
          ++entries;
          break;
        }
  return entries;
}

// Whether every group of 4 consecutive columns of a row has at most 2 nonzeros.
bool is_two_of_four(const Matrix& m) {
  if (m.cols % 4 != 0) return false;
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t g = 0; g < m.cols; g += 4) {
      int kept = 0;
      for (int64_t c = g; c < g + 4; ++c) kept += m.nonzero(r, c) ? 1 : 0;
      if (kept > 2) return false;
    }
  return true;
}

rt::SparseView sparse_meta(const Matrix& m, SparseFormat format, int32_t block_rows, int64_t entries) {
  rt::SparseView v;
  v.format = format;
  v.rows = m.rows;
  v.cols = m.cols;
  if (format == SparseFormat::kBlockRows) {
    v.block_rows = block_rows;
    v.entries = entries;
    v.column_bytes = m.cols <= kMaxUint16Columns ? 2 : 4;
  } else {
    v.block_rows = 1;
    v.entries = 0;
    v.column_bytes = 0;
  }
  return v;
}

void encode_block_rows(const Matrix& m, const rt::SparseView& v, const rt::SparseParts& parts, uint8_t* out) {
  int64_t e = 0;
  for (int64_t b = 0; b < m.rows / v.block_rows; ++b) {
    const uint32_t start = static_cast<uint32_t>(e);
    std::memcpy(out + parts.block_starts + b * 4, &start, 4);
    for (int64_t c = 0; c < m.cols; ++c) {
      bool any = false;
      for (int64_t r = b * v.block_rows; r < (b + 1) * v.block_rows && !any; ++r) any = m.nonzero(r, c);
      if (!any) continue;
      for (int64_t r = 0; r < v.block_rows; ++r)
        std::memcpy(out + parts.values + (e * v.block_rows + r) * m.element_bytes,
                    m.at(b * v.block_rows + r, c), m.element_bytes);
      const uint32_t column = static_cast<uint32_t>(c);
      if (v.column_bytes == 2) {
        const uint16_t c16 = static_cast<uint16_t>(column);
        std::memcpy(out + parts.columns + e * 2, &c16, 2);
      } else {
        std::memcpy(out + parts.columns + e * 4, &column, 4);
      }
      ++e;
    }
  }
  const uint32_t end = static_cast<uint32_t>(e);
  std::memcpy(out + parts.block_starts + (m.rows / v.block_rows) * 4, &end, 4);
}

// Each group keeps its nonzero positions, padded with the lowest other positions.
void encode_two_of_four(const Matrix& m, const rt::SparseParts& parts, uint8_t* out) {
  int64_t group = 0;
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t g = 0; g < m.cols; g += 4, ++group) {
      int kept[2], n = 0;
      for (int p = 0; p < 4 && n < 2; ++p)
        if (m.nonzero(r, g + p)) kept[n++] = p;
      for (int p = 0; p < 4 && n < 2; ++p)
        if (!m.nonzero(r, g + p)) kept[n++] = p;
      if (kept[0] > kept[1]) std::swap(kept[0], kept[1]);
      out[parts.positions + group] = static_cast<uint8_t>(kept[0] | kept[1] << 2);
      for (int k = 0; k < 2; ++k)
        std::memcpy(out + parts.values + (group * 2 + k) * m.element_bytes, m.at(r, g + kept[k]),
                    m.element_bytes);
    }
}

EncodedConstant build(const Matrix& m, const rt::SparseView& v) {
  EncodedConstant enc;
  enc.encoding = Encoding::kSparse;
  enc.sparse = v;
  const rt::SparseParts parts = rt::sparse_parts(v, m.element_bytes);
  enc.bytes.assign(parts.total, 0);
  if (v.format == SparseFormat::kTwoOfFour)
    encode_two_of_four(m, parts, enc.bytes.data());
  else if (v.format == SparseFormat::kGaps)
    encode_gaps(m, parts, enc.bytes.data());
  else
    encode_block_rows(m, v, parts, enc.bytes.data());
  return enc;
}

// The smallest layout of a weight constant, when one is below its dense bytes.
std::optional<rt::SparseView> smallest_layout(const ir::Tensor& t, bool gaps) {
  const bool weight_dtype = t.dtype == DType::kFloat32 || t.dtype == DType::kInt8 || t.dtype == DType::kUInt8;
  if (!t.is_constant() || !weight_dtype || t.shape.rank() < 2) return std::nullopt;
  const int64_t elements = t.shape.num_elements();
  const int64_t rows = t.shape.dims[0].value;
  // Block starts and column indices are 32-bit.
  if (elements == 0 || rows == 0 || elements > INT64_C(0xffffffff)) return std::nullopt;
  const Matrix m{t.data->bytes.data(), dtype_size(t.dtype), rows, elements / rows};

  // Candidates in a fixed order; the first of the smallest wins, and only below dense.
  std::vector<rt::SparseView> candidates;
  candidates.push_back(sparse_meta(m, SparseFormat::kBlockRows, 1, count_block_entries(m, 1)));
  if (rows % 4 == 0) candidates.push_back(sparse_meta(m, SparseFormat::kBlockRows, 4, count_block_entries(m, 4)));
  if (is_two_of_four(m)) candidates.push_back(sparse_meta(m, SparseFormat::kTwoOfFour, 1, 0));
  if (gaps) candidates.push_back(gaps_meta(m));
  std::optional<rt::SparseView> best;
  uint64_t best_bytes = t.data->bytes.size();
  for (const rt::SparseView& v : candidates) {
    const uint64_t size = rt::sparse_parts(v, m.element_bytes).total;
    if (size < best_bytes) best = v, best_bytes = size;
  }
  return best;
}

}  // namespace

EncodedConstant encode_sparse(const std::vector<uint8_t>& bytes, DType dtype, int64_t rows,
                              int64_t cols, SparseFormat format, int32_t block_rows) {
  const Matrix m{bytes.data(), dtype_size(dtype), rows, cols};
  if (format == SparseFormat::kGaps) return build(m, gaps_meta(m));
  const int64_t entries = format == SparseFormat::kBlockRows ? count_block_entries(m, block_rows) : 0;
  return build(m, sparse_meta(m, format, block_rows, entries));
}

namespace {

uint64_t sparse_bytes(const ir::Tensor& t, const std::optional<rt::SparseView>& layout) {
  return layout ? rt::sparse_parts(*layout, dtype_size(t.dtype)).total : t.data->bytes.size();
}

// The palette the writer stores instead of `other_bytes` (the dense or best sparse layout):
// packed indices when smaller; coded indices when smaller than those, but over a dense or
// sparse weight only when they save at least a fifth of it. A dense or sparse weight is read
// in place or packed straight from the file; coded indices cost a decoded copy at prepare,
// which a few percent of file (plain int8 weights: 5-8%) does not pay for. A packed palette
// is expanded at prepare anyway unless a LUT kernel runs it.
std::optional<rt::PaletteView> chosen_palette(const ir::Tensor& t, uint64_t other_bytes, bool huffman) {
  if (!t.is_constant() || t.shape.rank() < 2) return std::nullopt;
  const int64_t elements = t.shape.num_elements();
  const int64_t rows = t.shape.dims[0].value;
  if (elements == 0 || rows == 0) return std::nullopt;
  return palette_layout(t.data->bytes.data(), t.dtype, rows, elements / rows, other_bytes,
                        huffman ? other_bytes - other_bytes / 5 : 0);
}

}  // namespace

EncodedConstant encode_constant(const ir::Tensor& t, bool gaps, bool palettes, bool huffman) {
  const std::optional<rt::SparseView> layout = smallest_layout(t, gaps);
  if (palettes) {
    if (const std::optional<rt::PaletteView> p = chosen_palette(t, sparse_bytes(t, layout), huffman)) {
      EncodedConstant enc;
      enc.encoding = Encoding::kPalette;
      enc.palette = *p;
      enc.bytes = encode_palette(t.data->bytes.data(), *p);
      return enc;
    }
  }
  if (!layout) return {};
  return build(Matrix{t.data->bytes.data(), dtype_size(t.dtype), layout->rows, layout->cols}, *layout);
}

StoredSize stored_size(const ir::Tensor& t) {
  if (!t.data) return {};
  const std::optional<rt::SparseView> layout = smallest_layout(t, true);
  const uint64_t sparse = sparse_bytes(t, layout);
  if (const std::optional<rt::PaletteView> p = chosen_palette(t, sparse, true))
    return {Encoding::kPalette, rt::palette_parts(*p, dtype_size(t.dtype)).total};
  return {layout ? Encoding::kSparse : Encoding::kDense, sparse};
}

uint64_t stored_bytes(const ir::Tensor& t) { return stored_size(t).bytes; }

}  // namespace pare::format
