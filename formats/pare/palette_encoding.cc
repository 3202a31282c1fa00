#include "formats/pare/palette_encoding.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "runtime/palette.h"

namespace pare::format {

namespace {

constexpr int32_t kMaxEntries = 1 << rt::kMaxPaletteBits;

// The distinct values of one table (up to kMaxEntries), each with its index in order of
// first appearance. Open addressing on the value's bit pattern, at most half full.
class DistinctValues {
 public:
  void clear() {
    slots_.fill(kEmpty);
    count_ = 0;
  }
  // The value's index, adding it when new; -1 once it would be value kMaxEntries + 1.
  int32_t index_of(uint32_t key) {
    for (uint32_t s = hash(key);; s = (s + 1) % kSlots) {
      const int32_t index = slots_[s];
      if (index == kEmpty) {
        if (count_ == kMaxEntries) return -1;
        slots_[s] = count_;
        keys_[static_cast<size_t>(count_)] = key;
        return count_++;
      }
      if (keys_[static_cast<size_t>(index)] == key) return index;
    }
  }
  int32_t count() const { return count_; }

 private:
  static constexpr uint32_t kSlots = 2 * kMaxEntries;
  static constexpr int32_t kEmpty = -1;
  static uint32_t hash(uint32_t key) { return (key * 0x9E3779B1u) >> 23; }  // 9 bits: kSlots

  std::array<int32_t, kSlots> slots_{};
  std::array<uint32_t, kMaxEntries> keys_{};
  int32_t count_ = 0;
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

rt::PaletteView make_layout(DType dtype, int64_t rows, int64_t cols, bool per_row, int32_t entries) {
  rt::PaletteView v;
  v.rows = rows;
  v.cols = cols;
  v.bits = bits_for(entries);
  v.entries = entries;
  v.per_row = per_row;
  v.dtype = dtype;
  v.row_bytes = rt::palette_row_bytes(cols, v.bits);
  return v;
}

bool palette_dtype(DType dtype) { return dtype == DType::kFloat32 || dtype == DType::kInt8; }

enum class Count { kFits, kTooManyValues, kNotSmaller };

// Counts the distinct values of each row (per_row) or of the tensor into *entries. Stops at
// a row past 256 values, or once the layout's size, which only grows with the count, reaches
// `limit` bytes.
Count count_entries(const uint8_t* data, DType dtype, int64_t rows, int64_t cols, bool per_row, uint64_t limit,
                    int32_t* entries) {
  const size_t element_bytes = dtype_size(dtype);
  DistinctValues values;
  values.clear();
  int32_t most = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (per_row) values.clear();
    for (int64_t c = 0; c < cols; ++c)
      if (values.index_of(key_at(data, element_bytes, r * cols + c)) < 0) return Count::kTooManyValues;
    most = std::max(most, values.count());
    if (rt::palette_parts(make_layout(dtype, rows, cols, per_row, most), element_bytes).total >= limit)
      return Count::kNotSmaller;
  }
  *entries = most;
  return Count::kFits;
}

}  // namespace

std::optional<rt::PaletteView> palette_layout(const uint8_t* data, DType dtype, int64_t rows, int64_t cols,
                                              bool per_row) {
  if (!palette_dtype(dtype) || rows <= 0 || cols <= 0) return std::nullopt;
  int32_t entries = 0;
  if (count_entries(data, dtype, rows, cols, per_row, UINT64_MAX, &entries) != Count::kFits) return std::nullopt;
  return make_layout(dtype, rows, cols, per_row, entries);
}

std::optional<rt::PaletteView> palette_layout(const uint8_t* data, DType dtype, int64_t rows, int64_t cols,
                                              uint64_t limit) {
  if (!palette_dtype(dtype) || rows <= 0 || cols <= 0) return std::nullopt;
  // Per row first: a row past 256 values rules out both layouts. The one table then has to
  // beat the per-row layout too.
  int32_t entries = 0;
  std::optional<rt::PaletteView> best;
  const Count rows_count = count_entries(data, dtype, rows, cols, true, limit, &entries);
  if (rows_count == Count::kTooManyValues) return std::nullopt;
  if (rows_count == Count::kFits) {
    best = make_layout(dtype, rows, cols, true, entries);
    limit = rt::palette_parts(*best, dtype_size(dtype)).total;
  }
  if (count_entries(data, dtype, rows, cols, false, limit, &entries) == Count::kFits)
    best = make_layout(dtype, rows, cols, false, entries);
  return best;
}

std::vector<uint8_t> encode_palette(const uint8_t* data, const rt::PaletteView& layout) {
  const size_t element_bytes = dtype_size(layout.dtype);
  const rt::PaletteParts parts = rt::palette_parts(layout, element_bytes);
  std::vector<uint8_t> out(parts.total, 0);
  DistinctValues values;
  values.clear();
  for (int64_t r = 0; r < layout.rows; ++r) {
    if (layout.per_row) values.clear();
    uint8_t* table = out.data() + parts.tables + (layout.per_row ? r : 0) * layout.entries * element_bytes;
    uint8_t* row = out.data() + parts.indices + r * layout.row_bytes;
    for (int64_t c = 0; c < layout.cols; ++c) {
      const int64_t i = r * layout.cols + c;
      const int32_t index = values.index_of(key_at(data, element_bytes, i));
      std::memcpy(table + index * element_bytes, data + i * element_bytes, element_bytes);
      const int64_t bit = c * layout.bits;
      const uint32_t shifted = static_cast<uint32_t>(index) << (bit % 8);
      row[bit / 8] |= static_cast<uint8_t>(shifted);
      if (shifted >> 8) row[bit / 8 + 1] |= static_cast<uint8_t>(shifted >> 8);
    }
  }
  return out;
}

}  // namespace pare::format
