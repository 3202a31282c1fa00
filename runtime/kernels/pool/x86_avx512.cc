// Channels-last pooling, AVX-512: 16 channels per zmm, the last block masked.
#include "runtime/kernels/simd/x86_avx512.h"
#include "runtime/kernels/pool/nhwc_impl.h"
#include "runtime/kernels/pool/pool.h"

namespace pare::rt::kernels {

namespace {

// 64 bytes per zmm (AVX-512BW byte max).
struct BytesAvx512 {
  using R = __m512i;
  static constexpr int64_t kWidth = 64;
  static R load(const void* p) { return _mm512_loadu_si512(p); }
  static void store(void* p, R v) { _mm512_storeu_si512(p, v); }
  template <typename T>
  static R set1(T v) { return _mm512_set1_epi8(static_cast<char>(v)); }
  template <typename T>
  static R max(R a, R b) {
    if constexpr (std::is_same_v<T, uint8_t>) return _mm512_max_epu8(a, b);
    else return _mm512_max_epi8(a, b);
  }
};

}  // namespace

void f32_maxpool_nhwc_c16__avx512(const PoolGeometry& g, int64_t channels, const float* input,
                                  float* output, int64_t pixel_begin, int64_t pixel_end) {
  pool_nhwc_impl::maxpool<simd::F32x16Avx512>(g, channels, input, output, pixel_begin, pixel_end);
}

void f32_avgpool_nhwc_c16__avx512(const PoolGeometry& g, int64_t channels, bool count_include_pad,
                                  const float* input, float* output, int64_t pixel_begin,
                                  int64_t pixel_end) {
  pool_nhwc_impl::avgpool<simd::F32x16Avx512>(g, channels, count_include_pad, input, output,
                                              pixel_begin, pixel_end);
}

void f32_global_avgpool_nhwc_c16__avx512(int64_t pixels, int64_t channels, const float* input,
                                         float* output, int64_t begin, int64_t end) {
  pool_nhwc_impl::global_avgpool<simd::F32x16Avx512>(pixels, channels, input, output, begin, end);
}

void u8_maxpool_nhwc_c64__avx512(const PoolGeometry& g, int64_t channels, const uint8_t* input,
                               uint8_t* output, int64_t pixel_begin, int64_t pixel_end) {
  pool_nhwc_impl::maxpool_bytes<BytesAvx512>(g, channels, input, output, pixel_begin, pixel_end);
}

void s8_maxpool_nhwc_c64__avx512(const PoolGeometry& g, int64_t channels, const int8_t* input,
                               int8_t* output, int64_t pixel_begin, int64_t pixel_end) {
  pool_nhwc_impl::maxpool_bytes<BytesAvx512>(g, channels, input, output, pixel_begin, pixel_end);
}

}  // namespace pare::rt::kernels
