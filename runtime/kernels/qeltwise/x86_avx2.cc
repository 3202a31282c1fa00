// Int8 elementwise kernels, AVX2 + FMA: 16 elements per block as two ymm of 8 int32/float
// lanes. A signed byte is read as (byte ^ 0x80) zero-extended with 128 added to its zero
// point, which gives the same difference q - zero_point as a sign extension.
#include <immintrin.h>

#include "runtime/kernels/qeltwise/driver.h"
#include "runtime/kernels/qeltwise/qeltwise.h"

namespace pare::rt::kernels {

namespace {

constexpr size_t kBlock = 16;

struct In8 {
  __m128i flip;
  __m256i zero_point;
  In8(bool is_signed, int32_t zp)
      : flip(_mm_set1_epi8(static_cast<char>(is_signed ? 0x80 : 0))),
        zero_point(_mm256_set1_epi32(zp + (is_signed ? 128 : 0))) {}
  // q - zero_point of 16 bytes as floats (exact).
  void load(const uint8_t* p, __m256* lo, __m256* hi) const {
    const __m128i v = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), flip);
    *lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(v), zero_point));
    *hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(v, v)), zero_point));
  }
};

struct Out8 {
  __m256 zero_point, lo, hi;
  Out8(int32_t zp, int32_t l, int32_t h)
      : zero_point(_mm256_set1_ps(static_cast<float>(zp))),
        lo(_mm256_set1_ps(static_cast<float>(l))),
        hi(_mm256_set1_ps(static_cast<float>(h))) {}
  __m256 round_clamp(__m256 t) const {
    __m256 r = _mm256_add_ps(_mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zero_point);
    return _mm256_min_ps(_mm256_max_ps(r, lo), hi);
  }
  // Stores the low bytes of 16 integral floats.
  static void store(__m256 r0, __m256 r1, uint8_t* y) {
    const __m256i mask = _mm256_set1_epi32(0xFF);
    const __m256i i0 = _mm256_and_si256(_mm256_cvttps_epi32(r0), mask);
    const __m256i i1 = _mm256_and_si256(_mm256_cvttps_epi32(r1), mask);
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packus_epi32(i0, i1), 0xD8);
    const __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), b);
  }
};

void quantize(size_t n, const float* x, const Q8QuantizeParams& p, uint8_t* y) {
  const Out8 out(p.zero_point, p.lo, p.hi);
  const __m256 scale = _mm256_set1_ps(p.scale);
  auto one = [&](const float* xp) {
    const __m256 v = _mm256_div_ps(_mm256_loadu_ps(xp), scale);
    return _mm256_blendv_ps(out.round_clamp(v), out.zero_point, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  };
  q8_driver::unary<kBlock>(n, x, y, [&](const float* xp, uint8_t* yp) {
    Out8::store(one(xp), one(xp + 8), yp);
  });
}

void dequantize(size_t n, const uint8_t* x, bool is_signed, int32_t zero_point, float scale, float* y) {
  const In8 in(is_signed, zero_point);
  const __m256 s = _mm256_set1_ps(scale);
  q8_driver::unary<kBlock>(n, x, y, [&](const uint8_t* xp, float* yp) {
    __m256 lo, hi;
    in.load(xp, &lo, &hi);
    _mm256_storeu_ps(yp, _mm256_mul_ps(lo, s));
    _mm256_storeu_ps(yp + 8, _mm256_mul_ps(hi, s));
  });
}

void add(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
         const Q8BinaryParams& p, uint8_t* y) {
  const In8 ia(p.a_signed, p.a_zero_point), ib(p.b_signed, p.b_zero_point);
  const Out8 out(p.y_zero_point, p.lo, p.hi);
  const __m256 ma = _mm256_set1_ps(p.a_multiplier), mb = _mm256_set1_ps(p.b_multiplier);
  q8_driver::binary<kBlock>(n, a, a_step, b, b_step, y, [&](const uint8_t* ap, const uint8_t* bp, uint8_t* yp) {
    __m256 a0, a1, b0, b1;
    ia.load(ap, &a0, &a1);
    ib.load(bp, &b0, &b1);
    const __m256 t0 = _mm256_fmadd_ps(a0, ma, _mm256_mul_ps(b0, mb));
    const __m256 t1 = _mm256_fmadd_ps(a1, ma, _mm256_mul_ps(b1, mb));
    Out8::store(out.round_clamp(t0), out.round_clamp(t1), yp);
  });
}

void mul(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
         const Q8BinaryParams& p, uint8_t* y) {
  const In8 ia(p.a_signed, p.a_zero_point), ib(p.b_signed, p.b_zero_point);
  const Out8 out(p.y_zero_point, p.lo, p.hi);
  const __m256 m = _mm256_set1_ps(p.a_multiplier);
  q8_driver::binary<kBlock>(n, a, a_step, b, b_step, y, [&](const uint8_t* ap, const uint8_t* bp, uint8_t* yp) {
    __m256 a0, a1, b0, b1;
    ia.load(ap, &a0, &a1);
    ib.load(bp, &b0, &b1);
    // The products of differences (|.| <= 255 * 255) are exact in float, as in int32.
    const __m256 t0 = _mm256_mul_ps(_mm256_mul_ps(a0, b0), m);
    const __m256 t1 = _mm256_mul_ps(_mm256_mul_ps(a1, b1), m);
    Out8::store(out.round_clamp(t0), out.round_clamp(t1), yp);
  });
}

constexpr Q8EltwiseVariant kAvx2{"avx2", Isa::kAvx2, quantize, dequantize, add, mul, q8_lookup_ref};

}  // namespace

const Q8EltwiseVariant& q8_eltwise_avx2() { return kAvx2; }

}  // namespace pare::rt::kernels
