// Int8 elementwise kernels, AVX-512: 32 elements per block as two zmm of 16 int32/float
// lanes; vpmovdb stores the low bytes (the loops are in vector_impl.h).
#include <immintrin.h>

#include "runtime/cpu.h"
#include "runtime/kernels/qeltwise/vector_impl.h"
#include "runtime/kernels/simd/x86_avx512_int8.h"

namespace pare::rt::kernels {

// y = table[x] with AVX-512BW: each of the table's 16 rows of 16 bytes is looked up by x's
// low nibble (vpshufb within each 128-bit lane, the row broadcast to all four) and written
// where x's high nibble names that row (a byte compare mask).
void q8_lookup__avx512bw(size_t n, const uint8_t* x, const uint8_t table[256], uint8_t* y) {
  __m512i rows[16];
  for (int r = 0; r < 16; ++r)
    rows[r] = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * r)));
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  const auto block = [&](__m512i v) {
    const __m512i lo = _mm512_and_si512(v, nibble), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
    __m512i acc = _mm512_setzero_si512();
    for (int r = 0; r < 16; ++r)
      acc = _mm512_mask_shuffle_epi8(acc, _mm512_cmpeq_epi8_mask(hi, _mm512_set1_epi8(static_cast<char>(r))),
                                     rows[r], lo);
    return acc;
  };
  size_t i = 0;
  for (; i + 64 <= n; i += 64) _mm512_storeu_si512(y + i, block(_mm512_loadu_si512(x + i)));
  if (i < n) {
    const __mmask64 tail = (uint64_t{1} << (n - i)) - 1;  // n - i < 64
    _mm512_mask_storeu_epi8(y + i, tail, block(_mm512_maskz_loadu_epi8(tail, x + i)));
  }
}

// y = table[x] with VBMI: vpermi2b looks up 128 bytes by x's low 7 bits, once in each half
// of the table, and x's top bit picks the half. (A lambda would not take the target.)
__attribute__((target("avx512vbmi"))) static inline __m512i lookup_vbmi_block(__m512i v, __m512i t0, __m512i t1,
                                                                              __m512i t2, __m512i t3) {
  const __m512i low = _mm512_permutex2var_epi8(t0, v, t1), high = _mm512_permutex2var_epi8(t2, v, t3);
  return _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), low, high);
}

__attribute__((target("avx512vbmi"))) void q8_lookup__avx512vbmi(size_t n, const uint8_t* x,
                                                                 const uint8_t table[256], uint8_t* y) {
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  size_t i = 0;
  for (; i + 64 <= n; i += 64)
    _mm512_storeu_si512(y + i, lookup_vbmi_block(_mm512_loadu_si512(x + i), t0, t1, t2, t3));
  if (i < n) {
    const __mmask64 tail = (uint64_t{1} << (n - i)) - 1;  // n - i < 64
    _mm512_mask_storeu_epi8(y + i, tail, lookup_vbmi_block(_mm512_maskz_loadu_epi8(tail, x + i), t0, t1, t2, t3));
  }
}

namespace {
void lookup_avx512(size_t n, const uint8_t* x, const uint8_t table[256], uint8_t* y) {
  static const bool vbmi = cpu_features().avx512vbmi;
  if (vbmi) return q8_lookup__avx512vbmi(n, x, table, y);
  q8_lookup__avx512bw(n, x, table, y);
}

constexpr Q8EltwiseVariant kAvx512 =
    q8_eltwise_vec::make_q8_eltwise_variant<simd::Avx512Int8>("avx512", Isa::kAvx512, lookup_avx512);
}  // namespace

const Q8EltwiseVariant& q8_eltwise_avx512() { return kAvx512; }

}  // namespace pare::rt::kernels
