// Int8 depthwise convolution, AVX-512 VNNI: vpdpwssd multiplies and accumulates in one
// instruction. The kernels are in x86_avx512.inc.
#include <immintrin.h>

#include <cstdint>

namespace pare::rt::kernels {
namespace {

// acc + x * w per int32 lane (x's upper int16 is 0, w is a sign-extended int16).
inline __attribute__((always_inline)) __m512i mac(__m512i acc, __m512i x, __m512i w) {
  return _mm512_dpwssd_epi32(acc, x, w);
}

}  // namespace
}  // namespace pare::rt::kernels

#define QDW_NAME avx512vnni
#include "runtime/kernels/qdwconv/x86_avx512.inc"
