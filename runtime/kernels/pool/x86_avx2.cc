// Channels-last pooling, AVX2: 8 channels per ymm, the last block through masked loads and
// stores (vmaskmovps reads and writes only the selected lanes).
#include <immintrin.h>

#include "runtime/kernels/pool/nhwc_impl.h"
#include "runtime/kernels/pool/pool.h"

#define PARE_INLINE inline __attribute__((always_inline))

namespace pare::rt::kernels {

namespace {

__m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

struct Avx2Ops {
  using V = __m256;
  static constexpr int64_t kLanes = 8;
  static PARE_INLINE V load(const float* p) { return _mm256_loadu_ps(p); }
  static PARE_INLINE void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static PARE_INLINE V load_partial(const float* p, int64_t n) {
    return _mm256_maskload_ps(p, first_lanes(n));
  }
  static PARE_INLINE void store_partial(float* p, V v, int64_t n) {
    _mm256_maskstore_ps(p, first_lanes(n), v);
  }
  static PARE_INLINE V lowest() { return _mm256_set1_ps(-__builtin_inff()); }
  static PARE_INLINE V zero() { return _mm256_setzero_ps(); }
  static PARE_INLINE V add(V a, V b) { return _mm256_add_ps(a, b); }
  static PARE_INLINE V div(V a, float d) { return _mm256_div_ps(a, _mm256_set1_ps(d)); }
  // vmaxps returns its second operand unless the first compares greater.
  static PARE_INLINE V greater_or_keep(V tap, V acc) { return _mm256_max_ps(tap, acc); }

  struct Acc {
    __m256d lo, hi;
  };
  static PARE_INLINE Acc acc_zero() { return {_mm256_setzero_pd(), _mm256_setzero_pd()}; }
  static PARE_INLINE Acc acc_add(Acc a, V v) {
    a.lo = _mm256_add_pd(a.lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    a.hi = _mm256_add_pd(a.hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    return a;
  }
  static PARE_INLINE V acc_mean(Acc a, int64_t count) {
    const __m256d d = _mm256_set1_pd(static_cast<double>(count));
    const __m128 lo = _mm256_cvtpd_ps(_mm256_div_pd(a.lo, d));
    const __m128 hi = _mm256_cvtpd_ps(_mm256_div_pd(a.hi, d));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
  }
};

}  // namespace

void f32_maxpool_nhwc_c8__avx2(const PoolGeometry& g, int64_t channels, const float* input,
                               float* output, int64_t pixel_begin, int64_t pixel_end) {
  pool_nhwc_impl::maxpool<Avx2Ops>(g, channels, input, output, pixel_begin, pixel_end);
}

void f32_avgpool_nhwc_c8__avx2(const PoolGeometry& g, int64_t channels, bool count_include_pad,
                               const float* input, float* output, int64_t pixel_begin,
                               int64_t pixel_end) {
  pool_nhwc_impl::avgpool<Avx2Ops>(g, channels, count_include_pad, input, output, pixel_begin,
                                   pixel_end);
}

void f32_global_avgpool_nhwc_c8__avx2(int64_t pixels, int64_t channels, const float* input,
                                      float* output, int64_t begin, int64_t end) {
  pool_nhwc_impl::global_avgpool<Avx2Ops>(pixels, channels, input, output, begin, end);
}

}  // namespace pare::rt::kernels
