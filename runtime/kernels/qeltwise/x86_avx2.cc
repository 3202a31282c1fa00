// Int8 elementwise kernels, AVX2 + FMA: 16 elements per block as two ymm of 8 int32/float
// lanes (the loops are in vector_impl.h), and the table lookup on 32 bytes at a time.
#include <immintrin.h>

#include "runtime/kernels/qeltwise/vector_impl.h"
#include "runtime/kernels/simd/x86_avx2_int8.h"

namespace pare::rt::kernels {

namespace {
// y = table[x]. vpshufb looks up 16-byte tables by the low nibble, so each of the table's
// 16 rows is looked up in turn and kept where x's high nibble names that row: x ^ 16 r has
// high nibble 0 exactly there, and adding 0x70 with unsigned saturation sets bit 7, which
// makes vpshufb write 0, everywhere else. The tail runs through a padded block.
void lookup_avx2(size_t n, const uint8_t* x, const uint8_t table[256], uint8_t* y) {
  __m256i rows[16];
  for (int r = 0; r < 16; ++r)
    rows[r] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * r)));
  const __m256i bias = _mm256_set1_epi8(0x70);
  const auto block = [&](const uint8_t* in, uint8_t* out) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in));
    __m256i acc = _mm256_setzero_si256();
    for (int r = 0; r < 16; ++r) {
      const __m256i idx = _mm256_adds_epu8(_mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(r << 4))), bias);
      acc = _mm256_or_si256(acc, _mm256_shuffle_epi8(rows[r], idx));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), acc);
  };
  q8_eltwise_vec::unary<32>(n, x, y, block);
}

constexpr Q8EltwiseVariant kAvx2 =
    q8_eltwise_vec::make_q8_eltwise_variant<simd::Avx2Int8>("avx2", Isa::kAvx2, lookup_avx2);
}  // namespace

const Q8EltwiseVariant& q8_eltwise_avx2() { return kAvx2; }

}  // namespace pare::rt::kernels
