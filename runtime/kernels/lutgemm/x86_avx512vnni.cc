// int8 LUT GEMM, AVX-512 VNNI: decodes a panel of 4-bit indices into the body of a qgemm
// 8x32 VNNI panel (kK4xS8: per 4 rows of K, 32 channels x 4 int8), which qgemm's own
// microkernel then runs over every row (reference.cc, q8_lutgemm).
//
// A 512-bit vector of the body is 16 channels x 4 rows, channels 4L..4L+3 in 128-bit lane L;
// its 64 indices are 32 bytes (low nibbles for bytes 0..31, high for 32..63). Two decoders,
// chosen once by CPU feature (both tested against the portable one):
//   VBMI: two vpermi2b per 64 weights, each on the 128 table bytes of 8 channels;
//   BW only (VNNI CPUs without VBMI): vpshufb looks up one 16-byte table per 128-bit lane, so
//   four masked shuffles, table t holding channel 4L + t in lane L, fill the vector.
// The VBMI decoder makes the MobileNetV2 chain about 8% faster at M = 4 (kernel_lutgemm_bench).
#include <immintrin.h>

#include "runtime/cpu.h"
#include "runtime/kernels/lutgemm/lutgemm.h"
#include "runtime/kernels/lutgemm/tile_macros.h"

namespace pare::rt::kernels {

namespace {

constexpr size_t kNr = 32;

// The tables of channels c0..c0+15 as the four shuffles read them: t[s] lane L = table of
// channel c0 + 4L + s (a 4x4 transpose of 128-bit lanes). GCC 12's unmasked shuffles start
// from _mm512_undefined_*, which -Wuninitialized reports once inlined: the zero-masked forms
// with every lane set are the same instructions.
inline void lane_tables(const int8_t* tables, __m512i t[4]) {
  constexpr __mmask16 kAll = 0xFFFF;
  __m512i r[4];
  PARE_LUT_UNROLL
  for (size_t l = 0; l < 4; ++l) r[l] = _mm512_loadu_si512(tables + 64 * l);  // channels 4l..4l+3
  const __m512i a = _mm512_maskz_shuffle_i32x4(kAll, r[0], r[1], 0x44), b = _mm512_maskz_shuffle_i32x4(kAll, r[0], r[1], 0xEE);
  const __m512i c = _mm512_maskz_shuffle_i32x4(kAll, r[2], r[3], 0x44), d = _mm512_maskz_shuffle_i32x4(kAll, r[2], r[3], 0xEE);
  t[0] = _mm512_maskz_shuffle_i32x4(kAll, a, c, 0x88);
  t[1] = _mm512_maskz_shuffle_i32x4(kAll, a, c, 0xDD);
  t[2] = _mm512_maskz_shuffle_i32x4(kAll, b, d, 0x88);
  t[3] = _mm512_maskz_shuffle_i32x4(kAll, b, d, 0xDD);
}

}  // namespace

// With VBMI: a 2-source vpermi2b looks up 128 table bytes, the 16-entry tables of 8 channels,
// so two permutes fill a vector (channels 0..7 from the low nibbles, 8..15 from the high
// ones). The index byte is the nibble | 16 * (channel % 8).
__attribute__((target("avx512vbmi"))) void q8_lutgemm_decode_k4x32__avx512vbmi(const Q8LutPacked& w, size_t panel, uint8_t* body) {
  const uint8_t* idx = w.indices.data() + panel * w.panel_index_bytes;
  const int8_t* tables = w.tables.data() + panel * kNr * kLutEntries;
  __m512i t[4][2];  // channels 8h..8h+7
  PARE_LUT_UNROLL
  for (size_t h = 0; h < 4; ++h) {
    t[h][0] = _mm512_loadu_si512(tables + 128 * h);
    t[h][1] = _mm512_loadu_si512(tables + 128 * h + 64);
  }
  alignas(64) uint8_t offsets[64];
  for (size_t b = 0; b < 64; ++b) offsets[b] = static_cast<uint8_t>(b % 32 / 4 * 16);
  const __m512i offset = _mm512_load_si512(offsets), nibble = _mm512_set1_epi8(15);
  constexpr __mmask64 kLow = 0x00000000FFFFFFFFull, kHigh = ~kLow;
  const size_t vectors = w.body_elements / 64;
  for (size_t v = 0; v < vectors; v += 2) {
    PARE_LUT_UNROLL
    for (size_t z = 0; z < 2; ++z) {
      const __m512i bytes = _mm512_maskz_broadcast_i64x4(0xFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + 32 * (v + z))));
      const __m512i ids = _mm512_ternarylogic_epi32(_mm512_mask_srli_epi16(bytes, 0xFFFF0000u, bytes, 4), nibble, offset, 0xEA);  // (a & b) | c
      // Each permute leaves the bytes outside its mask as they were (the indices).
      __m512i x = _mm512_mask2_permutex2var_epi8(t[2 * z][0], ids, kLow, t[2 * z][1]);
      x = _mm512_mask2_permutex2var_epi8(t[2 * z + 1][0], x, kHigh, t[2 * z + 1][1]);
      _mm512_store_si512(body + 64 * (v + z), x);
    }
  }
}

void q8_lutgemm_decode_k4x32__avx512bw(const Q8LutPacked& w, size_t panel, uint8_t* body) {
  const uint8_t* idx = w.indices.data() + panel * w.panel_index_bytes;
  const int8_t* tables = w.tables.data() + panel * kNr * kLutEntries;
  __m512i t[2][4];
  lane_tables(tables, t[0]);
  lane_tables(tables + 16 * kLutEntries, t[1]);
  // Bytes of channel 4L + s in every lane L: 4 bytes (its 4 rows) at offset 4s.
  constexpr __mmask64 kChannel[4] = {0x000F000F000F000Full, 0x00F000F000F000F0ull, 0x0F000F000F000F00ull,
                                     0xF000F000F000F000ull};
  const __m512i nibble = _mm512_set1_epi8(15);
  // body_elements / 64 vectors, alternating channels 0..15 and 16..31.
  const size_t vectors = w.body_elements / 64;
  for (size_t v = 0; v < vectors; v += 2) {
    PARE_LUT_UNROLL
    for (size_t z = 0; z < 2; ++z) {
      const __m512i bytes = _mm512_maskz_broadcast_i64x4(0xFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + 32 * (v + z))));
      const __m512i ids = _mm512_and_si512(_mm512_mask_srli_epi16(bytes, 0xFFFF0000u, bytes, 4), nibble);
      __m512i x = _mm512_maskz_shuffle_epi8(kChannel[0], t[z][0], ids);
      x = _mm512_mask_shuffle_epi8(x, kChannel[1], t[z][1], ids);
      x = _mm512_mask_shuffle_epi8(x, kChannel[2], t[z][2], ids);
      x = _mm512_mask_shuffle_epi8(x, kChannel[3], t[z][3], ids);
      _mm512_store_si512(body + 64 * (v + z), x);
    }
  }
}

void q8_lutgemm_decode_k4x32__avx512vnni(const Q8LutPacked& w, size_t panel, uint8_t* body) {
  static const bool vbmi = cpu_features().avx512vbmi;
  if (vbmi) return q8_lutgemm_decode_k4x32__avx512vbmi(w, panel, body);
  q8_lutgemm_decode_k4x32__avx512bw(w, panel, body);
}

}  // namespace pare::rt::kernels
