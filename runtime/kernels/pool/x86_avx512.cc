// Channels-last pooling, AVX-512: 16 channels per zmm, the last block masked.
#include "runtime/kernels/simd/x86_avx512.h"
#include "runtime/kernels/pool/nhwc_impl.h"
#include "runtime/kernels/pool/pool.h"

namespace pare::rt::kernels {

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

}  // namespace pare::rt::kernels
