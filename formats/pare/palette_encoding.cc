#include "formats/pare/palette_encoding.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

#include "ir/status.h"
#include "runtime/palette.h"

namespace pare::format {

namespace {

constexpr int32_t kMaxEntries = 1 << rt::kMaxPaletteBits;

// The distinct values of one table (up to kMaxEntries), each with its index in order of
// first appearance. Open addressing on the value's bit pattern, at most half full.
class DistinctValues {
 public:
  // Empties only the slots in use: tables per row or column clear once per row or column,
  // and most hold a few values.
  void clear() {
    for (int32_t i = 0; i < count_; ++i) slots_[used_[static_cast<size_t>(i)]] = kEmpty;
    count_ = 0;
    last_ = -1;
  }
  // The value's index, adding it when new; -1 once it would be value kMaxEntries + 1. A run
  // of one value (zeros, a filled constant) skips the hash.
  int32_t index_of(uint32_t key) {
    if (last_ >= 0 && keys_[static_cast<size_t>(last_)] == key) return last_;
    last_ = find_or_add(key);
    return last_;
  }
  int32_t count() const { return count_; }
  uint32_t key(int32_t index) const { return keys_[static_cast<size_t>(index)]; }

 private:
  int32_t find_or_add(uint32_t key) {
    for (uint32_t s = hash(key);; s = (s + 1) % kSlots) {
      const int32_t index = slots_[s];
      if (index == kEmpty) {
        if (count_ == kMaxEntries) return -1;
        slots_[s] = count_;
        used_[static_cast<size_t>(count_)] = s;
        keys_[static_cast<size_t>(count_)] = key;
        return count_++;
      }
      if (keys_[static_cast<size_t>(index)] == key) return index;
    }
  }

  static constexpr uint32_t kSlots = 2 * kMaxEntries;
  static constexpr int32_t kEmpty = -1;
  static uint32_t hash(uint32_t key) { return (key * 0x9E3779B1u) >> 23; }  // 9 bits: kSlots

  std::array<int32_t, kSlots> slots_ = empty_slots();
  std::array<uint32_t, kMaxEntries> keys_{};
  std::array<uint32_t, kMaxEntries> used_{};  // the slot of each value
  static std::array<int32_t, kSlots> empty_slots() {
    std::array<int32_t, kSlots> a;
    a.fill(kEmpty);
    return a;
  }
  int32_t count_ = 0;
  int32_t last_ = -1;  // the index index_of returned last
};

uint32_t key_at(const uint8_t* data, size_t element_bytes, int64_t i) {
  if (element_bytes == 1) return data[i];
  uint32_t key;
  std::memcpy(&key, data + i * 4, 4);
  return key;
}

int32_t bits_for(int32_t distinct) {
  int32_t bits = rt::kMinPaletteBits;
  while ((1 << bits) < distinct) ++bits;
  return bits;
}

bool palette_dtype(DType dtype) { return dtype == DType::kFloat32 || dtype == DType::kInt8; }

// The elements of a table kind as segments: rows (per row: one table each; one table: all of
// them in turn) or columns (per column). Element p of segment s is at element_index(s, p).
struct Segments {
  Segments(PaletteTables tables, int64_t rows, int64_t cols)
      : by_column(tables == PaletteTables::kPerColumn),
        one_table(tables == PaletteTables::kPerTensor),
        count(by_column ? cols : rows),
        length(by_column ? rows : cols),
        cols(cols) {}
  int64_t element_index(int64_t s, int64_t p) const { return by_column ? p * cols + s : s * cols + p; }
  bool new_table(int64_t s) const { return !one_table || s == 0; }
  bool table_ends(int64_t s) const { return !one_table || s == count - 1; }

  bool by_column, one_table;
  int64_t count, length, cols;
};

rt::PaletteView make_layout(DType dtype, int64_t rows, int64_t cols, PaletteTables tables, int32_t entries) {
  rt::PaletteView v;
  v.rows = rows;
  v.cols = cols;
  v.bits = bits_for(entries);
  v.entries = entries;
  v.per_row = tables == PaletteTables::kPerRow;
  v.per_column = tables == PaletteTables::kPerColumn;
  v.dtype = dtype;
  v.row_bytes = rt::palette_row_bytes(cols, v.bits);
  return v;
}

// The entry counts of one kind of table.
struct TableCounts {
  int32_t entries = 0;                 // the most distinct values of any table
  std::vector<uint64_t> index_counts;  // [entries]: uses of index i (the i-th most used entry) over all tables
};

// The indices' code lengths and stream size for `counts`.
rt::PaletteView with_huffman(rt::PaletteView v, const TableCounts& counts, std::vector<uint8_t>* lengths) {
  *lengths = limited_code_lengths(counts.index_counts, rt::kMaxPaletteCodeLength);
  v.coding = rt::PaletteCoding::kHuffman;
  v.stream_bits = 0;
  for (size_t i = 0; i < lengths->size(); ++i)
    v.stream_bits += static_cast<int64_t>(counts.index_counts[i] * (*lengths)[i]);
  v.row_bytes = 0;
  return v;
}

// A lower bound of the data size of a layout with `entries` per table: packed, or entropy
// coded at one bit per index at best. It only grows with `entries`.
uint64_t smallest_size(const rt::PaletteView& packed, size_t element_bytes, bool huffman) {
  const uint64_t size = rt::palette_parts(packed, element_bytes).total;
  if (!huffman) return size;
  rt::PaletteView coded = packed;
  coded.coding = rt::PaletteCoding::kHuffman;
  coded.stream_bits = packed.rows * packed.cols;
  return std::min(size, rt::palette_parts(coded, element_bytes).total);
}

enum class Count { kFits, kTooManyValues, kNotSmaller };

// Counts the distinct values of each table and the uses of each entry. Stops at a table past
// 256 values, or once the smallest size possible with the entries so far reaches `limit`.
Count count_entries(const uint8_t* data, DType dtype, int64_t rows, int64_t cols, PaletteTables tables,
                    uint64_t limit, bool huffman, TableCounts* out) {
  const size_t element_bytes = dtype_size(dtype);
  const Segments segs(tables, rows, cols);
  DistinctValues values;
  std::array<uint64_t, kMaxEntries> uses{};
  TableCounts counts;
  counts.index_counts.assign(kMaxEntries, 0);
  for (int64_t s = 0; s < segs.count; ++s) {
    if (segs.new_table(s)) {
      std::fill_n(uses.begin(), values.count(), 0);
      values.clear();
    }
    for (int64_t p = 0; p < segs.length; ++p) {
      const int32_t index = values.index_of(key_at(data, element_bytes, segs.element_index(s, p)));
      if (index < 0) return Count::kTooManyValues;
      ++uses[static_cast<size_t>(index)];
    }
    counts.entries = std::max(counts.entries, values.count());
    if (segs.table_ends(s)) {
      std::sort(uses.begin(), uses.begin() + values.count(), std::greater<>());
      for (int32_t i = 0; i < values.count(); ++i) counts.index_counts[static_cast<size_t>(i)] += uses[static_cast<size_t>(i)];
    }
    if (smallest_size(make_layout(dtype, rows, cols, tables, counts.entries), element_bytes, huffman) >= limit)
      return Count::kNotSmaller;
  }
  counts.index_counts.resize(static_cast<size_t>(counts.entries));
  *out = std::move(counts);
  return Count::kFits;
}

// The indices (row-major) and tables of a layout: each table by descending use of its values.
void index_tensor(const uint8_t* data, const rt::PaletteView& layout, std::vector<uint8_t>* indices,
                  uint8_t* tables) {
  const size_t element_bytes = dtype_size(layout.dtype);
  const PaletteTables kind = layout.per_row      ? PaletteTables::kPerRow
                             : layout.per_column ? PaletteTables::kPerColumn
                                                 : PaletteTables::kPerTensor;
  const Segments segs(kind, layout.rows, layout.cols);
  indices->assign(static_cast<size_t>(layout.rows * layout.cols), 0);
  DistinctValues values;
  std::array<uint64_t, kMaxEntries> uses{};
  int64_t table = 0, first_segment = 0;
  for (int64_t s = 0; s < segs.count; ++s) {
    if (segs.new_table(s)) {
      std::fill_n(uses.begin(), values.count(), 0);
      values.clear();
      first_segment = s;
    }
    for (int64_t p = 0; p < segs.length; ++p) {
      const int64_t i = segs.element_index(s, p);
      const int32_t index = values.index_of(key_at(data, element_bytes, i));
      ++uses[static_cast<size_t>(index)];
      (*indices)[static_cast<size_t>(i)] = static_cast<uint8_t>(index);
    }
    if (!segs.table_ends(s)) continue;
    // Rank by descending use, ties by first appearance; then renumber the table's indices.
    std::array<uint8_t, kMaxEntries> order{}, rank{};
    for (int32_t i = 0; i < values.count(); ++i) order[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
    std::stable_sort(order.begin(), order.begin() + values.count(),
                     [&](uint8_t a, uint8_t b) { return uses[a] > uses[b]; });
    uint8_t* out = tables + table * layout.entries * static_cast<int64_t>(element_bytes);
    for (int32_t k = 0; k < values.count(); ++k) {
      rank[order[static_cast<size_t>(k)]] = static_cast<uint8_t>(k);
      const uint32_t key = values.key(order[static_cast<size_t>(k)]);
      if (element_bytes == 1)
        out[k] = static_cast<uint8_t>(key);
      else
        std::memcpy(out + k * 4, &key, 4);  // key_at's copy of the float's bytes
    }
    for (int64_t t = first_segment; t <= s; ++t)
      for (int64_t p = 0; p < segs.length; ++p) {
        uint8_t& index = (*indices)[static_cast<size_t>(segs.element_index(t, p))];
        index = rank[index];
      }
    ++table;
  }
}

// Appends codes to a stream of bits, each byte filled from its least significant bit.
class BitWriter {
 public:
  explicit BitWriter(uint8_t* out) : out_(out) {}
  // The code's most significant bit first.
  void put(uint32_t code, uint32_t length) {
    for (uint32_t b = length; b-- > 0; ++bits_)
      if ((code >> b) & 1u) out_[bits_ / 8] |= static_cast<uint8_t>(1u << (bits_ % 8));
  }
  uint64_t bits() const { return bits_; }

 private:
  uint8_t* out_;
  uint64_t bits_ = 0;
};

}  // namespace

std::vector<uint8_t> limited_code_lengths(const std::vector<uint64_t>& counts, int32_t max_length) {
  std::vector<uint8_t> lengths(counts.size(), 0);
  // By ascending count, ties by descending symbol: of equal counts, the lower symbol gets
  // the shorter code, so index 0 (the most used value of each table) has the shortest.
  std::vector<size_t> used;
  for (size_t s = counts.size(); s-- > 0;)
    if (counts[s] > 0) used.push_back(s);
  std::stable_sort(used.begin(), used.end(), [&](size_t a, size_t b) { return counts[a] < counts[b]; });
  if (used.size() == 1) lengths[used[0]] = 1;
  if (used.size() <= 1) return lengths;
  // Package-merge: level 0 holds the leaves; each level above merges the leaves with the
  // pairs (packages) of the level below. The 2n - 2 lightest items of the top level give
  // each leaf its code length: the number of levels at which it is chosen.
  struct Item {
    uint64_t weight;
    bool leaf;
  };
  const size_t n = used.size();
  std::vector<std::vector<Item>> levels(static_cast<size_t>(max_length));
  for (size_t level = 0; level < levels.size(); ++level) {
    std::vector<Item>& items = levels[level];
    size_t leaf = 0, pair = 0;
    const size_t pairs = level == 0 ? 0 : levels[level - 1].size() / 2;
    while (leaf < n || pair < pairs) {
      const uint64_t package = pair < pairs ? levels[level - 1][2 * pair].weight + levels[level - 1][2 * pair + 1].weight : 0;
      if (leaf < n && (pair == pairs || counts[used[leaf]] <= package)) {
        items.push_back({counts[used[leaf++]], true});
      } else {
        items.push_back({package, false});
        ++pair;
      }
    }
  }
  size_t take = 2 * n - 2;
  for (size_t level = levels.size(); level-- > 0 && take > 0;) {
    size_t leaves = 0;
    for (size_t i = 0; i < take; ++i) leaves += levels[level][i].leaf;
    for (size_t i = 0; i < leaves; ++i) ++lengths[used[i]];
    take = 2 * (take - leaves);
  }
  return lengths;
}

std::optional<rt::PaletteView> palette_layout(const uint8_t* data, DType dtype, int64_t rows, int64_t cols,
                                              PaletteTables tables, rt::PaletteCoding coding) {
  if (!palette_dtype(dtype) || rows <= 0 || cols <= 0) return std::nullopt;
  const bool huffman = coding == rt::PaletteCoding::kHuffman;
  TableCounts counts;
  if (count_entries(data, dtype, rows, cols, tables, UINT64_MAX, huffman, &counts) != Count::kFits)
    return std::nullopt;
  const rt::PaletteView packed = make_layout(dtype, rows, cols, tables, counts.entries);
  std::vector<uint8_t> lengths;
  return huffman ? with_huffman(packed, counts, &lengths) : packed;
}

std::optional<rt::PaletteView> palette_layout(const uint8_t* data, DType dtype, int64_t rows, int64_t cols,
                                              uint64_t limit, uint64_t coded_limit) {
  if (!palette_dtype(dtype) || rows <= 0 || cols <= 0) return std::nullopt;
  const bool huffman = coded_limit > 0;
  const size_t element_bytes = dtype_size(dtype);
  // The packed candidates in order, then the coded ones: ties go to the earlier. A row (a
  // column) past 256 values rules out the one table too, and so does one row: its table
  // is the row's, which came first.
  std::optional<rt::PaletteView> best;
  uint64_t best_size = limit;
  std::vector<std::pair<rt::PaletteView, TableCounts>> fitting;
  bool too_many = false;
  for (PaletteTables tables : {PaletteTables::kPerRow, PaletteTables::kPerColumn, PaletteTables::kPerTensor}) {
    if (tables == PaletteTables::kPerTensor && (too_many || rows == 1)) break;
    TableCounts counts;
    const Count c = count_entries(data, dtype, rows, cols, tables, best_size, huffman, &counts);
    too_many |= c == Count::kTooManyValues;
    if (c != Count::kFits) continue;
    const rt::PaletteView packed = make_layout(dtype, rows, cols, tables, counts.entries);
    const uint64_t size = rt::palette_parts(packed, element_bytes).total;
    if (size < best_size) best = packed, best_size = size;
    fitting.emplace_back(packed, std::move(counts));
  }
  if (!huffman) return best;
  if (!best) best_size = std::min(limit, coded_limit);
  std::vector<uint8_t> lengths;
  for (const auto& [packed, counts] : fitting) {
    const rt::PaletteView coded = with_huffman(packed, counts, &lengths);
    const uint64_t size = rt::palette_parts(coded, element_bytes).total;
    if (size < best_size) best = coded, best_size = size;
  }
  return best;
}

std::vector<uint8_t> encode_palette(const uint8_t* data, const rt::PaletteView& layout) {
  const size_t element_bytes = dtype_size(layout.dtype);
  const rt::PaletteParts parts = rt::palette_parts(layout, element_bytes);
  std::vector<uint8_t> out(parts.total, 0);
  std::vector<uint8_t> indices;
  index_tensor(data, layout, &indices, out.data() + parts.tables);
  if (layout.coding == rt::PaletteCoding::kHuffman) {
    std::vector<uint64_t> uses(static_cast<size_t>(layout.entries), 0);
    for (uint8_t i : indices) ++uses[i];
    const std::vector<uint8_t> lengths = limited_code_lengths(uses, rt::kMaxPaletteCodeLength);
    std::copy(lengths.begin(), lengths.end(), out.begin() + static_cast<std::ptrdiff_t>(parts.code_lengths));
    std::vector<uint16_t> codes(lengths.size(), 0);
    rt::canonical_codes(lengths.data(), layout.entries, codes.data());
    BitWriter stream(out.data() + parts.indices);
    for (uint8_t i : indices) stream.put(codes[i], lengths[i]);
    if (stream.bits() != static_cast<uint64_t>(layout.stream_bits))
      throw Error(Status::kInternal, "palette stream of " + std::to_string(stream.bits()) +
                                         " bits, its layout says " + std::to_string(layout.stream_bits));
    return out;
  }
  for (int64_t r = 0; r < layout.rows; ++r) {
    uint8_t* row = out.data() + parts.indices + r * layout.row_bytes;
    for (int64_t c = 0; c < layout.cols; ++c) {
      const int64_t bit = c * layout.bits;
      const uint32_t shifted = static_cast<uint32_t>(indices[static_cast<size_t>(r * layout.cols + c)]) << (bit % 8);
      row[bit / 8] |= static_cast<uint8_t>(shifted);
      if (shifted >> 8) row[bit / 8 + 1] |= static_cast<uint8_t>(shifted >> 8);
    }
  }
  return out;
}

}  // namespace pare::format
