// Where the parts of a palette constant lie inside its data range (docs/format.md,
// "Encodings"), the checks of their contents, and the decoding of entropy-coded indices. The
// writer lays parts out with palette_parts(); the loader computes the same layout from the
// file's metadata, then verifies every index with check_palette_indices() before any op
// reads them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace pare::rt {

constexpr int32_t kMinPaletteBits = 2;
constexpr int32_t kMaxPaletteBits = 8;
constexpr size_t kPalettePartAlignment = 16;
constexpr int32_t kMaxPaletteCodeLength = 15;  // bits of one Huffman code (kHuffman)

// Byte offsets from the start of the data range: the tables first, then (kHuffman) the code
// lengths, then the indices (packed or the bit stream), each part 16-byte aligned.
struct PaletteParts {
  uint64_t tables = 0, tables_bytes = 0;              // tables x entries x dtype size
  uint64_t code_lengths = 0, code_lengths_bytes = 0;  // kHuffman: entries bytes
  uint64_t indices = 0, indices_bytes = 0;  // kPacked: rows x row_bytes; kHuffman: ceil(stream_bits / 8)
  uint64_t total = 0;                       // end of the indices: the data size
};

// ceil(cols x bits / 8): the bytes of one row's packed indices.
inline int64_t palette_row_bytes(int64_t cols, int32_t bits) { return (cols * bits + 7) / 8; }

// The number of tables: rows (per_row), cols (per_column) or 1.
inline int64_t palette_tables(const PaletteView& v) { return v.per_row ? v.rows : v.per_column ? v.cols : 1; }

// The table of element (r, c).
inline int64_t palette_table_of(const PaletteView& v, int64_t r, int64_t c) {
  return v.per_row ? r : v.per_column ? c : 0;
}

// Index `c` of a row's packed indices (little-endian bit order, `row_bytes` bytes).
inline uint32_t palette_index(const uint8_t* row, int64_t row_bytes, int64_t c, int32_t bits) {
  const int64_t bit = c * bits;
  const int64_t byte = bit / 8;
  uint32_t word = row[byte];
  if (byte + 1 < row_bytes) word |= static_cast<uint32_t>(row[byte + 1]) << 8;
  return (word >> (bit % 8)) & ((1u << bits) - 1);
}

// Layout for the metadata of `view` (rows, cols, bits, entries, per_row, per_column, coding,
// stream_bits; the pointers are not read). The caller has checked that the counts are small
// enough for the products not to overflow.
PaletteParts palette_parts(const PaletteView& view, size_t element_bytes);

// Points the view's table, code length and index pointers at `data` (the start of the data
// range) and sets row_bytes.
void bind_palette_parts(PaletteView* view, const PaletteParts& parts, const uint8_t* data);

// Checks the indices of a bound view. kPacked: every index below `entries`, and the unused
// high bits of each row's last byte zero. kHuffman: the code lengths (PaletteCode::build),
// then one pass decoding exactly rows x cols indices in exactly stream_bits bits, the rest of
// the last byte zero. Linear in the size of the indices. On failure, returns false and says
// what is wrong in *problem.
bool check_palette_indices(const PaletteView& view, std::string* problem);

// Canonical Huffman codes as in deflate (RFC 1951, 3.2.2): shorter codes first, then by
// symbol, consecutive values within one length. codes[s] for every s with lengths[s] > 0.
void canonical_codes(const uint8_t* lengths, int32_t symbols, uint16_t* codes);

// The decoding tables of a canonical code: a first-level table on the next kLookupBits bits
// of the stream, and a bit-by-bit walk over the canonical order for the longer codes.
class PaletteCode {
 public:
  static constexpr int32_t kLookupBits = 10;

  // False, saying why in *problem, when a length is above 15, no symbol has a code, or the
  // Kraft sum of 2^-length is above 1. An incomplete code (sum below 1) is accepted; decoding
  // one of its unassigned codes fails.
  bool build(const uint8_t* lengths, int32_t symbols, std::string* problem);

 private:
  friend class PaletteStreamReader;
  // The symbol and length of the code at the start of `bits` (stream order: the code's first
  // bit in bit 0) longer than kLookupBits or unassigned; false when unassigned.
  bool decode_slow(uint64_t bits, uint32_t* symbol, uint32_t* length) const;

  std::vector<uint16_t> lookup_;  // (symbol << 4) | length; 0: longer code or unassigned
  std::array<uint16_t, kMaxPaletteCodeLength + 1> count_{};  // codes of each length
  std::vector<uint16_t> sorted_;  // symbols in canonical order
  int32_t max_length_ = 1;        // the longest code
};

// Reads the indices of a kHuffman bit stream in order. Bits are taken from each byte's least
// significant bit up (as in deflate), and each code's most significant bit comes first.
class PaletteStreamReader {
 public:
  PaletteStreamReader(const PaletteCode& code, const uint8_t* stream, int64_t stream_bits)
      : code_(code), next_(stream), end_(stream + (stream_bits + 7) / 8), stream_bits_(stream_bits) {}

  // The next index; false at an unassigned code or one that ends past stream_bits.
  bool next(uint32_t* index) {
    if (available_ < kMaxPaletteCodeLength) refill();
    uint32_t symbol, length;
    const uint16_t e = code_.lookup_[buffer_ & ((1u << PaletteCode::kLookupBits) - 1)];
    if (e != 0) {
      symbol = e >> 4;
      length = e & 15u;
    } else if (!code_.decode_slow(buffer_, &symbol, &length)) {
      return false;
    }
    if (position_ + length > stream_bits_) return false;
    buffer_ >>= length;
    available_ -= static_cast<int32_t>(length);
    position_ += length;
    *index = symbol;
    return true;
  }

  // Bits read so far.
  int64_t position() const { return position_; }

  // The next `count` indices into out, from a stream check_palette_indices() accepted: no
  // end or code checks per index, several codes per refill (a damaged stream still reads
  // only its own bytes). position() is not kept.
  void read_checked(int64_t count, uint8_t* out) {
    const uint16_t* lookup = code_.lookup_.data();
    const int32_t per_refill = 56 / code_.max_length_;
    for (int64_t i = 0; i < count;) {
      refill();
      for (int32_t k = 0; k < per_refill && i < count; ++k, ++i) {
        uint32_t symbol, length;
        const uint16_t e = lookup[buffer_ & ((1u << PaletteCode::kLookupBits) - 1)];
        if (e != 0) {
          symbol = e >> 4;
          length = e & 15u;
        } else if (!code_.decode_slow(buffer_, &symbol, &length)) {
          symbol = 0, length = 1;
        }
        buffer_ >>= length;
        available_ -= static_cast<int32_t>(length);
        out[i] = static_cast<uint8_t>(symbol);
      }
      if (available_ < 0) available_ = 0;  // only past the end of a damaged stream
    }
  }

 private:
  // At least 56 bits in the buffer, or all that is left of the stream (zeros after it).
  void refill() {
    if (end_ - next_ >= 8) {
      uint64_t word = 0;
      for (int i = 0; i < 8; ++i) word |= static_cast<uint64_t>(next_[i]) << (8 * i);  // one load
      buffer_ |= word << available_;
      next_ += (63 - available_) >> 3;
      available_ |= 56;
      return;
    }
    for (; available_ <= 56 && next_ < end_; available_ += 8) buffer_ |= static_cast<uint64_t>(*next_++) << available_;
  }

  const PaletteCode& code_;
  const uint8_t* next_;
  const uint8_t* end_;
  int64_t stream_bits_;
  int64_t position_ = 0;
  uint64_t buffer_ = 0;  // the next `available_` bits of the stream, first in bit 0
  int32_t available_ = 0;
};

}  // namespace pare::rt
