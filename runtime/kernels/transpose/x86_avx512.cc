// Three planes into pixels, AVX-512F: 16 pixels per step. Each plane's 16 values are
// permuted once so that every one lands in the lane it takes in one of the three output
// vectors (16 = 1 mod 3 makes those lanes disjoint), and each output is two masked blends.
//
// GCC 12's avx512fintrin.h starts permute results from _mm512_undefined_*, which
// -Wmaybe-uninitialized reports once they are inlined here; the warning is false.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include "runtime/kernels/transpose/transpose.h"

namespace pare::rt::kernels {

void x32_interleave3_x16__avx512(size_t plane, const uint32_t* x, uint32_t* y, size_t begin, size_t end) {
  const __m512i pa = _mm512_setr_epi32(0, 11, 6, 1, 12, 7, 2, 13, 8, 3, 14, 9, 4, 15, 10, 5);
  const __m512i pb = _mm512_setr_epi32(5, 0, 11, 6, 1, 12, 7, 2, 13, 8, 3, 14, 9, 4, 15, 10);
  const __m512i pc = _mm512_setr_epi32(10, 5, 0, 11, 6, 1, 12, 7, 2, 13, 8, 3, 14, 9, 4, 15);
  // Lanes whose position in the 48 outputs is 0, 1 or 2 mod 3, in the first output vector.
  constexpr __mmask16 k0 = 0x9249, k1 = 0x2492, k2 = 0x4924;
  const uint32_t *r = x, *g = x + plane, *b = x + 2 * plane;
  size_t i = begin;
  for (; i + 16 <= end; i += 16) {
    const __m512i a = _mm512_permutexvar_epi32(pa, _mm512_loadu_si512(r + i));
    const __m512i e = _mm512_permutexvar_epi32(pb, _mm512_loadu_si512(g + i));
    const __m512i c = _mm512_permutexvar_epi32(pc, _mm512_loadu_si512(b + i));
    uint32_t* out = y + 3 * i;
    _mm512_storeu_si512(out, _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(a, k1, e), k2, c));
    _mm512_storeu_si512(out + 16, _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(a, k0, e), k1, c));
    _mm512_storeu_si512(out + 32, _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(a, k2, e), k0, c));
  }
  x32_interleave3_ref__scalar(plane, x, y, i, end);
}

}  // namespace pare::rt::kernels
