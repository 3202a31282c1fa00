// int8 LUT GEMM, AVX-512 VNNI: decodes a panel of 4-bit indices into the body of a qgemm
// 8x32 VNNI panel (kK4xS8: per 4 rows of K, 32 channels x 4 int8), which qgemm's own
// microkernel then runs over every row (reference.cc, q8_lutgemm).
//
// A 512-bit vector of the body is 16 channels x 4 rows, channels 4L..4L+3 in 128-bit lane L;
// its 64 indices are 32 bytes (low nibbles for bytes 0..31, high for 32..63). vpshufb looks up
// a 16-byte table per lane, so four masked shuffles, table t holding channel 4L + t in lane
// L, fill the bytes of each channel of the lane: 2 nibble ops + 4 shuffles per 64 weights,
// with AVX-512 BW only (vpermb would need VBMI, which not every VNNI CPU has).
#include <immintrin.h>

#include "runtime/kernels/lutgemm/lutgemm.h"

#define PARE_LUT_UNROLL _Pragma("GCC unroll 16")

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

void q8_lutgemm_decode_k4x32__avx512vnni(const Q8LutPacked& w, size_t panel, uint8_t* body) {
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

}  // namespace pare::rt::kernels
