// Three planes into pixels, AVX2: 8 pixels per step. Each plane's 8 values are permuted
// once so that every one lands in the lane it takes in one of the three output vectors
// (8 = 2 mod 3 makes those lanes disjoint), and each output is two blends.
#include <immintrin.h>

#include "runtime/kernels/transpose/transpose.h"

namespace pare::rt::kernels {

void x32_interleave3_x8__avx2(size_t plane, const uint32_t* x, uint32_t* y, size_t begin, size_t end) {
  const __m256i pa = _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5);
  const __m256i pb = _mm256_setr_epi32(5, 0, 3, 6, 1, 4, 7, 2);
  const __m256i pc = _mm256_setr_epi32(2, 5, 0, 3, 6, 1, 4, 7);
  const uint32_t *r = x, *g = x + plane, *b = x + 2 * plane;
  size_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256i a = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + i)), pa);
    const __m256i e = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + i)), pb);
    const __m256i c = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)), pc);
    auto* out = reinterpret_cast<__m256i*>(y + 3 * i);
    // Blend masks: the lanes at positions 1 and 2 mod 3 of each output vector.
    _mm256_storeu_si256(out, _mm256_blend_epi32(_mm256_blend_epi32(a, e, 0x92), c, 0x24));
    _mm256_storeu_si256(out + 1, _mm256_blend_epi32(_mm256_blend_epi32(a, e, 0x24), c, 0x49));
    _mm256_storeu_si256(out + 2, _mm256_blend_epi32(_mm256_blend_epi32(a, e, 0x49), c, 0x92));
  }
  x32_interleave3_ref__scalar(plane, x, y, i, end);
}

}  // namespace pare::rt::kernels
