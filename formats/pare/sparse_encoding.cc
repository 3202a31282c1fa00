#include "formats/pare/sparse_encoding.h"

#include <algorithm>
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

// One bit per element (set: nonzero), each row padded to whole words: every sparse layout's
// size follows from it. Built without a branch per element, and read a word at a time, so
// the search over a large constant costs little more than one pass over its bytes.
struct NonzeroBits {
  int64_t rows = 0, cols = 0, words_per_row = 0;
  std::vector<uint64_t> words;

  explicit NonzeroBits(const Matrix& m)
      : rows(m.rows), cols(m.cols), words_per_row((m.cols + 63) / 64),
        words(static_cast<size_t>(m.rows * words_per_row), 0) {
    if (m.element_bytes == 1)
      fill<uint8_t>(m);
    else
      fill<uint32_t>(m);
  }
  const uint64_t* row(int64_t r) const { return words.data() + r * words_per_row; }

 private:
  // Element (a uint8 or the bits of a 4-byte one) nonzero: the top bit of v | -v.
  template <typename Element>
  void fill(const Matrix& m) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c0 = 0; c0 < cols; c0 += 64) {
        const int64_t n = std::min<int64_t>(64, cols - c0);
        const uint8_t* p = m.at(r, c0);
        uint64_t word = 0;
        for (int64_t k = 0; k < n; ++k) {
          Element e;
          std::memcpy(&e, p + k * static_cast<int64_t>(sizeof(Element)), sizeof(Element));
          const uint32_t v = e;
          word |= uint64_t{(v | (0u - v)) >> 31} << k;
        }
        words[static_cast<size_t>(r * words_per_row + c0 / 64)] = word;
      }
  }
};

// Stored columns of kBlockRows with `block_rows`: per block, the columns with a nonzero.
int64_t count_block_entries(const NonzeroBits& bits, int32_t block_rows) {
  int64_t entries = 0;
  for (int64_t r0 = 0; r0 + block_rows <= bits.rows; r0 += block_rows)
    for (int64_t w = 0; w < bits.words_per_row; ++w) {
      uint64_t any = 0;
      for (int32_t r = 0; r < block_rows; ++r) any |= bits.row(r0 + r)[w];
      entries += __builtin_popcountll(any);
    }
  return entries;
}

// Whether every group of 4 consecutive columns of a row has at most 2 nonzeros: per word,
// the nibbles' bit counts (0..4) plus 1 reach 4 only for 3 or 4 nonzeros.
bool is_two_of_four(const NonzeroBits& bits) {
  if (bits.cols % 4 != 0) return false;
  for (uint64_t w : bits.words) {
    uint64_t x = w - ((w >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    if ((x + 0x1111111111111111ull) & 0x4444444444444444ull) return false;
  }
  return true;
}

// kGaps: each value costs one code plus one kSparseGapSkip per 15 zeros before it, counted
// over the row-major elements.
rt::SparseView gaps_meta(const NonzeroBits& bits) {
  rt::SparseView v;
  v.format = SparseFormat::kGaps;
  v.rows = bits.rows;
  v.cols = bits.cols;
  v.block_rows = 1;
  v.column_bytes = 0;
  int64_t last = -1;
  for (int64_t r = 0; r < bits.rows; ++r)
    for (int64_t w = 0; w < bits.words_per_row; ++w)
      for (uint64_t word = bits.row(r)[w]; word != 0; word &= word - 1) {
        const int64_t position = r * bits.cols + w * 64 + __builtin_ctzll(word);
        v.codes += (position - last - 1) / kSparseGapSkip + 1;
        ++v.entries;
        last = position;
      }
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
  const NonzeroBits bits(m);
  std::optional<rt::SparseView> best;
  uint64_t best_bytes = t.data->bytes.size();
  auto consider = [&](const rt::SparseView& v) {
    const uint64_t size = rt::sparse_parts(v, m.element_bytes).total;
    if (size < best_bytes) best = v, best_bytes = size;
  };
  const int64_t nonzeros = count_block_entries(bits, 1);
  consider(sparse_meta(m, SparseFormat::kBlockRows, 1, nonzeros));
  if (rows % 4 == 0) consider(sparse_meta(m, SparseFormat::kBlockRows, 4, count_block_entries(bits, 4)));
  if (is_two_of_four(bits)) consider(sparse_meta(m, SparseFormat::kTwoOfFour, 1, 0));
  if (gaps) {
    // One code per value at least: the walk over the values is only needed below that size.
    rt::SparseView at_least = sparse_meta(m, SparseFormat::kGaps, 1, 0);
    at_least.entries = at_least.codes = nonzeros;
    if (rt::sparse_parts(at_least, m.element_bytes).total < best_bytes) consider(gaps_meta(bits));
  }
  return best;
}

}  // namespace

EncodedConstant encode_sparse(const std::vector<uint8_t>& bytes, DType dtype, int64_t rows,
                              int64_t cols, SparseFormat format, int32_t block_rows) {
  const Matrix m{bytes.data(), dtype_size(dtype), rows, cols};
  const NonzeroBits bits(m);
  if (format == SparseFormat::kGaps) return build(m, gaps_meta(bits));
  const int64_t entries = format == SparseFormat::kBlockRows ? count_block_entries(bits, block_rows) : 0;
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
