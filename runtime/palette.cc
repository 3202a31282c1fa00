#include "runtime/palette.h"

#include <cstring>

namespace pare::rt {

namespace {

uint64_t align_part(uint64_t v) {
  return (v + kPalettePartAlignment - 1) / kPalettePartAlignment * kPalettePartAlignment;
}

}  // namespace

PaletteParts palette_parts(const PaletteView& view, size_t element_bytes) {
  PaletteParts p;
  const uint64_t tables = view.per_row ? static_cast<uint64_t>(view.rows) : 1;
  p.tables_bytes = tables * static_cast<uint64_t>(view.entries) * element_bytes;
  p.indices = align_part(p.tables_bytes);
  p.indices_bytes = static_cast<uint64_t>(view.rows) * static_cast<uint64_t>(palette_row_bytes(view.cols, view.bits));
  p.total = p.indices + p.indices_bytes;
  return p;
}

void bind_palette_parts(PaletteView* view, const PaletteParts& parts, const uint8_t* data) {
  view->palette = data + parts.tables;
  view->indices = data + parts.indices;
  view->row_bytes = palette_row_bytes(view->cols, view->bits);
}

bool check_palette_indices(const PaletteView& v, std::string* problem) {
  const int64_t used_bits = v.cols * v.bits % 8;  // of each row's last byte; 0: all of it
  for (int64_t r = 0; r < v.rows; ++r) {
    const uint8_t* row = v.indices + r * v.row_bytes;
    if (used_bits != 0 && row[v.row_bytes - 1] >> used_bits != 0) {
      *problem = "the unused high bits of row " + std::to_string(r) + "'s last index byte are not zero";
      return false;
    }
    // Most rows are valid: test the largest index of the row first, find the culprit after.
    uint32_t largest = 0;
    for (int64_t c = 0; c < v.cols; ++c) {
      const uint32_t index = palette_index(row, v.row_bytes, c, v.bits);
      largest = index > largest ? index : largest;
    }
    if (largest < static_cast<uint32_t>(v.entries)) continue;
    for (int64_t c = 0; c < v.cols; ++c) {
      const uint32_t index = palette_index(row, v.row_bytes, c, v.bits);
      if (index >= static_cast<uint32_t>(v.entries)) {
        *problem = "index " + std::to_string(index) + " at row " + std::to_string(r) + " col " +
                   std::to_string(c) + " is not below the " + std::to_string(v.entries) + " entries";
        return false;
      }
    }
  }
  return true;
}

}  // namespace pare::rt
