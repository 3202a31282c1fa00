// Int8 elementwise kernels, AVX-512: 32 elements per block as two zmm of 16 int32/float
// lanes; vpmovdb stores the low bytes. Signed bytes are read as in the AVX2 variant.
#include <immintrin.h>

// GCC 12's avx512fintrin.h builds some results from _mm512_undefined_*, which it then reports
// as maybe-uninitialized once inlined here.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "runtime/kernels/qeltwise/driver.h"
#include "runtime/kernels/qeltwise/qeltwise.h"

namespace pare::rt::kernels {

namespace {

constexpr size_t kBlock = 32;

struct In8 {
  __m128i flip;
  __m512i zero_point;
  In8(bool is_signed, int32_t zp)
      : flip(_mm_set1_epi8(static_cast<char>(is_signed ? 0x80 : 0))),
        zero_point(_mm512_set1_epi32(zp + (is_signed ? 128 : 0))) {}
  // q - zero_point of 16 bytes as floats (exact).
  __m512 load(const uint8_t* p) const {
    const __m128i v = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), flip);
    return _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(v), zero_point));
  }
};

struct Out8 {
  __m512 zero_point, lo, hi;
  Out8(int32_t zp, int32_t l, int32_t h)
      : zero_point(_mm512_set1_ps(static_cast<float>(zp))),
        lo(_mm512_set1_ps(static_cast<float>(l))),
        hi(_mm512_set1_ps(static_cast<float>(h))) {}
  __m512 round_clamp(__m512 t) const {
    __m512 r = _mm512_add_ps(_mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zero_point);
    return _mm512_min_ps(_mm512_max_ps(r, lo), hi);
  }
  // Stores the low bytes of 16 integral floats.
  static void store(__m512 r, uint8_t* y) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(r)));
  }
};

void quantize(size_t n, const float* x, const Q8QuantizeParams& p, uint8_t* y) {
  const Out8 out(p.zero_point, p.lo, p.hi);
  const __m512 scale = _mm512_set1_ps(p.scale);
  auto one = [&](const float* xp, uint8_t* yp) {
    const __m512 v = _mm512_div_ps(_mm512_loadu_ps(xp), scale);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    Out8::store(_mm512_mask_mov_ps(out.round_clamp(v), nan, out.zero_point), yp);
  };
  q8_driver::unary<kBlock>(n, x, y, [&](const float* xp, uint8_t* yp) {
    one(xp, yp);
    one(xp + 16, yp + 16);
  });
}

void dequantize(size_t n, const uint8_t* x, bool is_signed, int32_t zero_point, float scale, float* y) {
  const In8 in(is_signed, zero_point);
  const __m512 s = _mm512_set1_ps(scale);
  q8_driver::unary<kBlock>(n, x, y, [&](const uint8_t* xp, float* yp) {
    _mm512_storeu_ps(yp, _mm512_mul_ps(in.load(xp), s));
    _mm512_storeu_ps(yp + 16, _mm512_mul_ps(in.load(xp + 16), s));
  });
}

void add(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
         const Q8BinaryParams& p, uint8_t* y) {
  const In8 ia(p.a_signed, p.a_zero_point), ib(p.b_signed, p.b_zero_point);
  const Out8 out(p.y_zero_point, p.lo, p.hi);
  const __m512 ma = _mm512_set1_ps(p.a_multiplier), mb = _mm512_set1_ps(p.b_multiplier);
  q8_driver::binary<kBlock>(n, a, a_step, b, b_step, y, [&](const uint8_t* ap, const uint8_t* bp, uint8_t* yp) {
    for (size_t h = 0; h < kBlock; h += 16) {
      const __m512 t = _mm512_fmadd_ps(ia.load(ap + h), ma, _mm512_mul_ps(ib.load(bp + h), mb));
      Out8::store(out.round_clamp(t), yp + h);
    }
  });
}

void mul(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
         const Q8BinaryParams& p, uint8_t* y) {
  const In8 ia(p.a_signed, p.a_zero_point), ib(p.b_signed, p.b_zero_point);
  const Out8 out(p.y_zero_point, p.lo, p.hi);
  const __m512 m = _mm512_set1_ps(p.a_multiplier);
  q8_driver::binary<kBlock>(n, a, a_step, b, b_step, y, [&](const uint8_t* ap, const uint8_t* bp, uint8_t* yp) {
    for (size_t h = 0; h < kBlock; h += 16) {
      // The products of differences (|.| <= 255 * 255) are exact in float, as in int32.
      const __m512 t = _mm512_mul_ps(_mm512_mul_ps(ia.load(ap + h), ib.load(bp + h)), m);
      Out8::store(out.round_clamp(t), yp + h);
    }
  });
}

constexpr Q8EltwiseVariant kAvx512{"avx512", Isa::kAvx512, quantize, dequantize, add, mul, q8_lookup_ref};

}  // namespace

const Q8EltwiseVariant& q8_eltwise_avx512() { return kAvx512; }

}  // namespace pare::rt::kernels
