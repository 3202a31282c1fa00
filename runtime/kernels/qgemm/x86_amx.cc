// Int8 GEMM microkernel, AMX: 32 rows x 32 columns as 2 x 2 tiles of 16 x 16 int32, each
// TDPBUSD adding the products of 64 uint8 values of A by int8 B (16 rows of A, 16 groups of 4
// rows of B). The sums are exact, as in vpdpbusd, so the accumulators equal the VNNI tile's;
// they go through the VNNI tile's epilogue (x86_avx512vnni_tile.h), so the bytes do too.
//
// The panels are the VNNI tile's (32 columns x 4 bytes per 4 rows of K) with K padded with
// zeros to whole 64-row steps: a B tile is 16 of those 128-byte groups read 64 bytes wide,
// columns 0-15 at offset 0 and 16-31 at offset 64. A is read in place, 64 bytes of 16 rows
// per tile load (a depth under 64 that is a multiple of 4 as one step of its own width); the
// last partial step of a longer K goes through a zero-padded copy, so no load reads past a
// row. A tile of 16-31 rows runs 16 on AMX, and the rows left run on the VNNI tile, 8 at a
// time; so do products of depth 16 or less (kVnniMaxK).
#include <immintrin.h>

#include <cstring>

#include "runtime/kernels/qgemm/x86_avx512vnni_tile.h"

namespace pare::rt::kernels {

namespace {

constexpr size_t kRows = 32, kCols = 32, kStep = 64;       // kStep: K per tile step
// At K <= 16 a step uses a quarter of the unit, and the epilogue's tile stores and reloads
// cost more than the VNNI tile's whole product: MobileNetV2-224's K = 16 expansion ran
// 0.90x of VNNI in kernel_qgemm_bench and 0.224 -> 0.263 ms in the model; K = 24-32
// measured 1.01-1.14x, K >= 96 1.04-3.8x.
constexpr size_t kVnniMaxK = 16;
constexpr size_t kGroupBytes = Avx512VnniGemm::kGroupBytes;  // 4 rows of B, 32 columns
constexpr size_t kStepBytes = kStep / 4 * kGroupBytes;      // 2048
static_assert(Avx512VnniGemm::kNr == kCols && kGroupBytes == 128, "the AMX tile reads the VNNI panels");

// Tile registers 0-3: the accumulators (rows 0-15 / 16-31 x columns 0-15 / 16-31); 4, 5: A
// rows 0-15 and 16-31; 6, 7: B columns 0-15 and 16-31. All are 16 rows of 64 bytes, except
// that one short step (make_config) narrows A to its depth and B to depth / 4 rows.
struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "the LDTILECFG operand is 64 bytes");

// depth: the bytes of A (and 4 x the rows of B) per step, a multiple of 4 up to 64.
constexpr TileConfig make_config(size_t depth) {
  TileConfig t{};
  t.palette = 1;
  for (int i = 0; i < 8; ++i) {
    t.colsb[i] = i == 4 || i == 5 ? static_cast<uint16_t>(depth) : 64;
    t.rows[i] = i >= 6 ? static_cast<uint8_t>(depth / 4) : 16;
  }
  return t;
}

// Loading a configuration costs about 70 ns and reading the current one back about 3, so a
// thread loads it only when its tiles hold something else: at first use, or after other code
// on the thread configured the tiles its own way.
inline void use_config(const TileConfig& config) {
  TileConfig now;
  _tile_storeconfig(&now);
  if (std::memcmp(&now, &config, sizeof now) != 0) _tile_loadconfig(&config);
}

// The accumulators, stored as `rows` rows of 32 int32 and adjusted by the bias, through the
// VNNI tile's epilogue in blocks of 8 rows.
void store(const int32_t* acc, size_t rows, size_t nc, const int32_t* head, uint8_t* c, size_t c_stride, int32_t czp,
           int32_t lo, int32_t hi) {
  const int32_t* bias = head;
  const int32_t* mult = head + kCols;
  const int32_t* shift = head + 2 * kCols;
  Avx512VnniGemm::with_tile(nc, [&](auto t) {
    using Tile = decltype(t);
    constexpr size_t Z = Tile::kZmm, Y = Tile::kYmm, kMr = Avx512VnniGemm::kMr;
    for (size_t i0 = 0; i0 < rows; i0 += kMr) {
      typename Tile::Acc block[kMr];
      PARE_QGEMM_UNROLL
      for (size_t i = 0; i < kMr; ++i) {
        const int32_t* row = acc + (i0 + i) * kCols;
        PARE_QGEMM_UNROLL
        for (size_t j = 0; j < Z; ++j)
          block[i].z[j] = _mm512_add_epi32(_mm512_load_si512(row + 16 * j), _mm512_loadu_si512(bias + 16 * j));
        if constexpr (Y > 0)
          block[i].half = _mm256_add_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(row + 16 * Z)),
                                           _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + 16 * Z)));
      }
      Tile::template store<kMr>(block, nc, mult, shift, c + i0 * c_stride, c_stride, czp, lo, hi);
    }
  });
}

// One step of K: R blocks of 16 rows of A (`stride` bytes apart) times the two halves of B.
template <size_t R>
inline void step(const uint8_t* a, long stride, const uint8_t* w) {
  _tile_loadd(6, w, kGroupBytes);
  _tile_loadd(7, w + 64, kGroupBytes);
  _tile_loadd(4, a, stride);
  _tile_dpbusd(0, 4, 6);
  _tile_dpbusd(1, 4, 7);
  if constexpr (R == 2) {
    _tile_loadd(5, a + 16 * stride, stride);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
}

// 16 * R rows x the panel's 32 columns.
template <size_t R>
void amx_tile(size_t nc, size_t k, const uint8_t* a, size_t a_stride, const void* panel, uint8_t* c, size_t c_stride,
              int32_t czp, int32_t lo, int32_t hi) {
  constexpr size_t kTileRows = 16 * R;
  const bool one_short_step = k < kStep && k % 4 == 0;
  const TileConfig config = make_config(one_short_step ? k : kStep);
  use_config(config);
  const uint8_t* w = static_cast<const uint8_t*>(panel) + Avx512VnniGemm::kHeaderBytes;
  const auto stride = static_cast<long>(a_stride);
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (R == 2) {
    _tile_zero(2);
    _tile_zero(3);
  }
  if (one_short_step) {
    step<R>(a, stride, w);
  } else {
    const size_t steps = k / kStep;
    for (size_t s = 0; s < steps; ++s, w += kStepBytes) step<R>(a + s * kStep, stride, w);
    if (const size_t kt = k % kStep) {
      alignas(64) uint8_t tail[kTileRows * kStep];
      for (size_t i = 0; i < kTileRows; ++i) {
        std::memcpy(tail + i * kStep, a + i * a_stride + steps * kStep, kt);
        std::memset(tail + i * kStep + kt, 0, kStep - kt);
      }
      step<R>(tail, kStep, w);
    }
  }
  alignas(64) int32_t acc[kTileRows * kCols];
  constexpr size_t kRowBytes = kCols * sizeof(int32_t);
  _tile_stored(0, acc, kRowBytes);
  _tile_stored(1, acc + 16, kRowBytes);
  if constexpr (R == 2) {
    _tile_stored(2, acc + 16 * kCols, kRowBytes);
    _tile_stored(3, acc + 16 * kCols + 16, kRowBytes);
  }
  store(acc, kTileRows, nc, static_cast<const int32_t*>(panel), c, c_stride, czp, lo, hi);
}

}  // namespace

void q8_gemm_32x32__amx(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride, const void* panel,
                        uint8_t* c, size_t c_stride, int32_t czp, int32_t lo, int32_t hi) {
  size_t done = 0;
  if (k > kVnniMaxK && mr == kRows) {
    amx_tile<2>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    return;
  }
  if (k > kVnniMaxK && mr >= 16) {
    amx_tile<1>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    done = 16;
  }
  for (size_t i = done; i < mr; i += Avx512VnniGemm::kMr)
    q8_gemm_8x32__avx512vnni(mr - i < Avx512VnniGemm::kMr ? mr - i : Avx512VnniGemm::kMr, nc, k, a + i * a_stride,
                             a_stride, panel, c + i * c_stride, c_stride, czp, lo, hi);
}

}  // namespace pare::rt::kernels
