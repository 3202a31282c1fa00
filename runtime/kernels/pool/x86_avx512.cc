// Channels-last pooling, AVX-512: 16 channels per zmm, the last block masked.
#include <immintrin.h>

#include "runtime/kernels/pool/nhwc_impl.h"
#include "runtime/kernels/pool/pool.h"

#define PARE_INLINE inline __attribute__((always_inline))

namespace pare::rt::kernels {

namespace {

__mmask16 first_lanes(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

struct Avx512Ops {
  using V = __m512;
  static constexpr int64_t kLanes = 16;
  static PARE_INLINE V load(const float* p) { return _mm512_loadu_ps(p); }
  static PARE_INLINE void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static PARE_INLINE V load_partial(const float* p, int64_t n) {
    return _mm512_maskz_loadu_ps(first_lanes(n), p);
  }
  static PARE_INLINE void store_partial(float* p, V v, int64_t n) {
    _mm512_mask_storeu_ps(p, first_lanes(n), v);
  }
  static PARE_INLINE V lowest() { return _mm512_set1_ps(-__builtin_inff()); }
  static PARE_INLINE V zero() { return _mm512_setzero_ps(); }
  static PARE_INLINE V add(V a, V b) { return _mm512_add_ps(a, b); }
  static PARE_INLINE V div(V a, float d) { return _mm512_div_ps(a, _mm512_set1_ps(d)); }
  // vmaxps returns its second operand unless the first compares greater. The zero-masked
  // form with a full mask avoids GCC 12's -Wmaybe-uninitialized on _mm512_max_ps.
  static PARE_INLINE V greater_or_keep(V tap, V acc) { return _mm512_maskz_max_ps(0xFFFF, tap, acc); }

  struct Acc {
    __m512d lo, hi;
  };
  static PARE_INLINE Acc acc_zero() { return {_mm512_setzero_pd(), _mm512_setzero_pd()}; }
  // The zero-masked conversions with full masks are the plain instructions, written so to
  // avoid the same GCC 12 warning on their unmasked forms.
  static PARE_INLINE Acc acc_add(Acc a, V v) {
    a.lo = _mm512_add_pd(a.lo, _mm512_maskz_cvtps_pd(0xFF, _mm512_maskz_extractf32x8_ps(0xFF, v, 0)));
    a.hi = _mm512_add_pd(a.hi, _mm512_maskz_cvtps_pd(0xFF, _mm512_maskz_extractf32x8_ps(0xFF, v, 1)));
    return a;
  }
  static PARE_INLINE V acc_mean(Acc a, int64_t count) {
    const __m512d d = _mm512_set1_pd(static_cast<double>(count));
    const __m256 lo = _mm512_maskz_cvtpd_ps(0xFF, _mm512_div_pd(a.lo, d));
    const __m256 hi = _mm512_maskz_cvtpd_ps(0xFF, _mm512_div_pd(a.hi, d));
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
  }
};

}  // namespace

void f32_maxpool_nhwc_c16__avx512(const PoolGeometry& g, int64_t channels, const float* input,
                                  float* output, int64_t pixel_begin, int64_t pixel_end) {
  pool_nhwc_impl::maxpool<Avx512Ops>(g, channels, input, output, pixel_begin, pixel_end);
}

void f32_avgpool_nhwc_c16__avx512(const PoolGeometry& g, int64_t channels, bool count_include_pad,
                                  const float* input, float* output, int64_t pixel_begin,
                                  int64_t pixel_end) {
  pool_nhwc_impl::avgpool<Avx512Ops>(g, channels, count_include_pad, input, output, pixel_begin,
                                     pixel_end);
}

void f32_global_avgpool_nhwc_c16__avx512(int64_t pixels, int64_t channels, const float* input,
                                         float* output, int64_t begin, int64_t end) {
  pool_nhwc_impl::global_avgpool<Avx512Ops>(pixels, channels, input, output, begin, end);
}

}  // namespace pare::rt::kernels
