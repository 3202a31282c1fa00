// Int8 depthwise convolution, AVX-512 (F/BW): vpmaddwd then vpaddd. The kernels are in
// x86_avx512.inc.
#include <immintrin.h>

#include <cstdint>

namespace pare::rt::kernels {
namespace {

// acc + x * w per int32 lane (x's upper int16 is 0, w is a sign-extended int16).
inline __attribute__((always_inline)) __m512i mac(__m512i acc, __m512i x, __m512i w) {
  return _mm512_add_epi32(acc, _mm512_madd_epi16(x, w));
}

}  // namespace
}  // namespace pare::rt::kernels

#define QDW_NAME avx512
#include "runtime/kernels/qdwconv/x86_avx512.inc"
