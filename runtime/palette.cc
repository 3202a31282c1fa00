#include "runtime/palette.h"

#include <algorithm>
#include <cstring>

namespace pare::rt {

namespace {

uint64_t align_part(uint64_t v) {
  return (v + kPalettePartAlignment - 1) / kPalettePartAlignment * kPalettePartAlignment;
}

// The low `length` bits of `code` in reverse order: a code's bits as the stream holds them.
uint32_t reversed(uint32_t code, uint32_t length) {
  uint32_t r = 0;
  for (uint32_t i = 0; i < length; ++i) r |= ((code >> i) & 1u) << (length - 1 - i);
  return r;
}

bool check_packed_indices(const PaletteView& v, std::string* problem) {
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

// The symbols are 0 .. entries - 1 (one code length each), so every decoded index is below
// `entries`; what remains is that the stream holds exactly rows x cols codes.
bool check_index_stream(const PaletteView& v, std::string* problem) {
  PaletteCode code;
  if (!code.build(v.code_lengths, v.entries, problem)) return false;
  PaletteStreamReader stream(code, v.indices, v.stream_bits);
  const int64_t count = v.rows * v.cols;
  for (int64_t i = 0; i < count; ++i) {
    uint32_t index;
    if (!stream.next(&index)) {
      *problem = "index " + std::to_string(i) + " (row " + std::to_string(i / v.cols) + " col " +
                 std::to_string(i % v.cols) + ") of the stream at bit " + std::to_string(stream.position()) +
                 " is an unassigned code or ends past the stream's " + std::to_string(v.stream_bits) + " bits";
      return false;
    }
  }
  if (stream.position() != v.stream_bits) {
    *problem = "the " + std::to_string(count) + " indices end at bit " + std::to_string(stream.position()) +
               " of the stream's " + std::to_string(v.stream_bits);
    return false;
  }
  const int64_t used_bits = v.stream_bits % 8;
  if (used_bits != 0 && v.indices[v.stream_bits / 8] >> used_bits != 0) {
    *problem = "the unused high bits of the stream's last byte are not zero";
    return false;
  }
  return true;
}

}  // namespace

PaletteParts palette_parts(const PaletteView& view, size_t element_bytes) {
  PaletteParts p;
  p.tables_bytes = static_cast<uint64_t>(palette_tables(view)) * static_cast<uint64_t>(view.entries) * element_bytes;
  if (view.coding == PaletteCoding::kHuffman) {
    p.code_lengths = align_part(p.tables_bytes);
    p.code_lengths_bytes = static_cast<uint64_t>(view.entries);
    p.indices = align_part(p.code_lengths + p.code_lengths_bytes);
    p.indices_bytes = (static_cast<uint64_t>(view.stream_bits) + 7) / 8;
  } else {
    p.indices = align_part(p.tables_bytes);
    p.indices_bytes =
        static_cast<uint64_t>(view.rows) * static_cast<uint64_t>(palette_row_bytes(view.cols, view.bits));
  }
  p.total = p.indices + p.indices_bytes;
  return p;
}

void bind_palette_parts(PaletteView* view, const PaletteParts& parts, const uint8_t* data) {
  view->palette = data + parts.tables;
  view->indices = data + parts.indices;
  const bool huffman = view->coding == PaletteCoding::kHuffman;
  view->code_lengths = huffman ? data + parts.code_lengths : nullptr;
  view->row_bytes = huffman ? 0 : palette_row_bytes(view->cols, view->bits);
}

bool check_palette_indices(const PaletteView& v, std::string* problem) {
  return v.coding == PaletteCoding::kHuffman ? check_index_stream(v, problem) : check_packed_indices(v, problem);
}

void canonical_codes(const uint8_t* lengths, int32_t symbols, uint16_t* codes) {
  // The first code of each length, then consecutive codes (RFC 1951's loop).
  std::array<uint32_t, kMaxPaletteCodeLength + 1> count{}, first{};
  for (int32_t s = 0; s < symbols; ++s)
    if (lengths[s] > 0) ++count[lengths[s]];
  uint32_t c = 0;
  for (int32_t len = 1; len <= kMaxPaletteCodeLength; ++len) {
    c = (c + count[len - 1]) << 1;
    first[len] = c;
  }
  for (int32_t s = 0; s < symbols; ++s)
    if (lengths[s] > 0) codes[s] = static_cast<uint16_t>(first[lengths[s]]++);
}

bool PaletteCode::build(const uint8_t* lengths, int32_t symbols, std::string* problem) {
  count_.fill(0);
  max_length_ = 1;
  uint32_t kraft = 0;  // in units of 2^-15
  for (int32_t s = 0; s < symbols; ++s) {
    if (lengths[s] > kMaxPaletteCodeLength) {
      *problem = "code length " + std::to_string(lengths[s]) + " of index " + std::to_string(s) + " is above 15";
      return false;
    }
    if (lengths[s] == 0) continue;
    ++count_[lengths[s]];
    max_length_ = std::max<int32_t>(max_length_, lengths[s]);
    kraft += 1u << (kMaxPaletteCodeLength - lengths[s]);
  }
  if (kraft == 0) {
    *problem = "no index has a code length";
    return false;
  }
  if (kraft > 1u << kMaxPaletteCodeLength) {
    *problem = "the code lengths are not a prefix code (Kraft sum above 1)";
    return false;
  }
  // Canonical order: by length, then symbol.
  sorted_.clear();
  for (int32_t len = 1; len <= kMaxPaletteCodeLength; ++len)
    for (int32_t s = 0; s < symbols; ++s)
      if (lengths[s] == len) sorted_.push_back(static_cast<uint16_t>(s));
  std::vector<uint16_t> codes(static_cast<size_t>(symbols), 0);
  canonical_codes(lengths, symbols, codes.data());
  lookup_.assign(size_t{1} << kLookupBits, 0);
  for (int32_t s = 0; s < symbols; ++s) {
    const uint32_t len = lengths[s];
    if (len == 0 || len > static_cast<uint32_t>(kLookupBits)) continue;
    // Every table slot whose low `len` bits are the code as the stream holds it.
    const uint32_t low = reversed(codes[static_cast<size_t>(s)], len);
    for (uint32_t high = 0; high < 1u << (kLookupBits - static_cast<int32_t>(len)); ++high)
      lookup_[(high << len) | low] = static_cast<uint16_t>((static_cast<uint32_t>(s) << 4) | len);
  }
  return true;
}

bool PaletteCode::decode_slow(uint64_t bits, uint32_t* symbol, uint32_t* length) const {
  // As zlib's puff: walk the lengths, `code` the bits read so far (first bit most significant).
  uint32_t code = 0, first = 0, index = 0;
  for (uint32_t len = 1; len <= static_cast<uint32_t>(kMaxPaletteCodeLength); ++len) {
    code |= static_cast<uint32_t>(bits >> (len - 1)) & 1u;
    const uint32_t count = count_[len];
    if (code - first < count) {
      *symbol = sorted_[index + code - first];
      *length = len;
      return true;
    }
    index += count;
    first = (first + count) << 1;
    code <<= 1;
  }
  return false;
}

}  // namespace pare::rt
