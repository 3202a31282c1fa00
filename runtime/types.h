// The element types, fused activations and quantization parameters, defined once for the
// IR, the runtime, its kernels and (tied by static_asserts in formats/pare/schema_types.h,
// where the file is written and loaded) the .pare schema.
// Dependency-free: apps embed it with the runtime, and the toolchain includes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pare {

// Numbered as onnx::TensorProto::DataType, so importers map ONNX types without a table.
enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
  kFloat64 = 11,
};

// Bytes per element; 0 for kUndefined.
constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat32: return 4;
    case DType::kUInt8: return 1;
    case DType::kInt8: return 1;
    case DType::kInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kBool: return 1;
    case DType::kFloat64: return 8;
    case DType::kUndefined: return 0;
  }
  return 0;
}

// "float32", "int64", ...
constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kUInt8: return "uint8";
    case DType::kInt8: return "int8";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kBool: return "bool";
    case DType::kFloat64: return "float64";
    case DType::kUndefined: return "undefined";
  }
  return "undefined";
}

// A dtype a tensor may have: one of the enumerators, except kUndefined.
constexpr bool dtype_valid(int32_t value) { return dtype_size(static_cast<DType>(value)) != 0; }

// Enumerators of DType, kUndefined included (the .pare schema must list as many).
constexpr int32_t count_dtypes() {
  int32_t n = 1;
  for (int32_t v = 1; v < 256; ++v) n += dtype_valid(v) ? 1 : 0;
  return n;
}
constexpr int32_t kDTypeCount = count_dtypes();

// An activation a Conv/ConvTranspose/Gemm/MatMul applies to its output in place.
enum class ActivationKind : int32_t {
  kNone = 0,
  kRelu = 1,
  kClip = 2,         // p0 = min, p1 = max (ReLU6 is Clip(0, 6))
  kSigmoid = 3,
  kHardSigmoid = 4,  // p0 = alpha, p1 = beta
  kHardSwish = 5,
  kLeakyRelu = 6,    // p0 = alpha
  kSilu = 7,         // x * Sigmoid(x) (Swish)
};
constexpr int32_t kActivationKindCount = 8;

// Parameters an activation carries (p0, then p1); the others are unused.
constexpr size_t activation_param_count(ActivationKind k) {
  switch (k) {
    case ActivationKind::kClip:
    case ActivationKind::kHardSigmoid: return 2;
    case ActivationKind::kLeakyRelu: return 1;
    case ActivationKind::kNone:
    case ActivationKind::kRelu:
    case ActivationKind::kSigmoid:
    case ActivationKind::kHardSwish:
    case ActivationKind::kSilu: return 0;
  }
  return 0;
}

// A fused activation with its parameters, as nodes carry it and kernels take it.
struct FusedActivation {
  ActivationKind kind = ActivationKind::kNone;
  float p0 = 0.f;  // Clip: min; HardSigmoid: alpha; LeakyRelu: alpha
  float p1 = 0.f;  // Clip: max; HardSigmoid: beta
};

// Quantization of an 8-bit (or int32 bias) tensor: real = scales[i] * (q - zero_points[i]),
// one entry per tensor (axis -1) or one per index along `axis`.
struct QuantParams {
  std::vector<float> scales;
  std::vector<int64_t> zero_points;
  int32_t axis = -1;  // -1: per tensor
};

// How a constant's bytes are stored (the .pare Tensor's encoding).
enum class Encoding : int32_t {
  kDense = 0,    // shape x dtype bytes, row-major
  kSparse = 1,   // see SparseFormat and rt::SparseView
  kPalette = 2,  // indices into tables per row, per column or one table: see PaletteView
};

// Sparse layouts of a constant viewed as a matrix [rows = shape[0] (output channels),
// cols = product of the other dims].
enum class SparseFormat : int32_t {
  kBlockRows = 0,  // blocks of block_rows consecutive rows store the columns where any of
                   // their rows is nonzero (1: unstructured, 4: block4), CSR over blocks
  kTwoOfFour = 1,  // 2:4: in every group of 4 consecutive columns of a row, 2 values kept
  kGaps = 2,       // the nonzeros in row-major order, each preceded by a 4-bit count of
                   // the zeros before it (SparseGapReader)
};

// kGaps code 0..14: that many zeros, then a stored value; kSparseGapSkip: 15 zeros, no value.
constexpr uint8_t kSparseGapSkip = 15;

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
  // kGaps: `entries` values and `codes` 4-bit codes, two per byte (code i in byte i / 2, the
  // low nibble first); block_rows 1, column_bytes 0.
  int64_t codes = 0;
  const uint8_t* gaps = nullptr;  // [(codes + 1) / 2]
  const void* values = nullptr;   // kBlockRows: [entries * block_rows]; kTwoOfFour: [rows * cols / 2];
                                  // kGaps: [entries]
};

// Decodes a kGaps view's codes in order: next() gives the row-major position (row x cols +
// column) of each stored value in turn, value index 0, 1, ...; false after the last code.
// Reads only codes[0, codes), so it is safe on a view the loader has not checked yet.
class SparseGapReader {
 public:
  explicit SparseGapReader(const SparseView& v) : gaps_(v.gaps), codes_(v.codes) {}

  bool next(int64_t* position) {
    while (next_code_ < codes_) {
      const uint8_t code = (gaps_[next_code_ / 2] >> (next_code_ % 2 * 4)) & 15;
      ++next_code_;
      if (code == kSparseGapSkip) {
        cursor_ += kSparseGapSkip;
        continue;
      }
      *position = cursor_ + code;
      cursor_ = *position + 1;
      return true;
    }
    return false;
  }

  // One past the last position decoded, plus any skips after it.
  int64_t cursor() const { return cursor_; }

 private:
  const uint8_t* gaps_;
  int64_t codes_;
  int64_t next_code_ = 0;
  int64_t cursor_ = 0;
};

// How a palette constant's indices are stored.
enum class PaletteCoding : int32_t {
  kPacked = 0,   // `bits` bits each, packed per row (below)
  kHuffman = 1,  // one canonical Huffman code per tensor, all indices in one bit stream
};

// A constant stored as a palette (weight clustering), viewed as the matrix [rows =
// shape[0] (output channels), cols = product of the other dims]: element (r, c) is
// palette[table(r, c) * entries + index(r, c)], table(r, c) = r when per_row, c when
// per_column, else 0. Each table is ordered by descending use of its entries.
// kPacked: indices are packed per row, starting on a byte boundary: row r's indices occupy
// indices[r * row_bytes, (r + 1) * row_bytes), index c at bits [c * bits, (c + 1) * bits)
// of that byte string in little-endian bit order (for bits 4: low nibble first; bits 8:
// one byte each).
// kHuffman: `indices` is a bit stream of stream_bits bits holding the rows x cols indices in
// row-major order, each the canonical Huffman code given by code_lengths[index] (docs/
// format.md, "Entropy-coded indices"); row_bytes is 0. Decode with rt::PaletteStreamReader.
// Pointers into the file's weight segment; the loader has checked the sizes, and that every
// index is below `entries` (kHuffman: that the stream decodes exactly).
struct PaletteView {
  int64_t rows = 0, cols = 0;
  int32_t bits = 4;             // 2 .. 8: entries <= 1 << bits
  int32_t entries = 0;          // entries per table, 1 .. 1 << bits
  bool per_row = true;          // one table per row,
  bool per_column = false;      // else one per column, else one table for the tensor
  DType dtype = DType::kFloat32;  // the palette entries' (and the tensor's) dtype: float32 or int8
  PaletteCoding coding = PaletteCoding::kPacked;
  const void* palette = nullptr;       // [tables * entries] of dtype
  const uint8_t* indices = nullptr;    // kPacked: [rows * row_bytes]; kHuffman: the bit stream
  int64_t row_bytes = 0;               // kPacked: ceil(cols * bits / 8)
  const uint8_t* code_lengths = nullptr;  // kHuffman: [entries], 0 (unused) .. 15 bits
  int64_t stream_bits = 0;                // kHuffman
};

}  // namespace pare
