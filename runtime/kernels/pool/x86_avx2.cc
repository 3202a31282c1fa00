// Channels-last pooling, AVX2: 8 channels per ymm, the last block through masked loads and stores.
#include "runtime/kernels/simd/x86_avx2.h"
#include "runtime/kernels/pool/nhwc_impl.h"
#include "runtime/kernels/pool/pool.h"

namespace pare::rt::kernels {

void f32_maxpool_nhwc_c8__avx2(const PoolGeometry& g, int64_t channels, const float* input,
                               float* output, int64_t pixel_begin, int64_t pixel_end) {
  pool_nhwc_impl::maxpool<simd::F32x8Avx2>(g, channels, input, output, pixel_begin, pixel_end);
}

void f32_avgpool_nhwc_c8__avx2(const PoolGeometry& g, int64_t channels, bool count_include_pad,
                               const float* input, float* output, int64_t pixel_begin,
                               int64_t pixel_end) {
  pool_nhwc_impl::avgpool<simd::F32x8Avx2>(g, channels, count_include_pad, input, output,
                                           pixel_begin, pixel_end);
}

void f32_global_avgpool_nhwc_c8__avx2(int64_t pixels, int64_t channels, const float* input,
                                      float* output, int64_t begin, int64_t end) {
  pool_nhwc_impl::global_avgpool<simd::F32x8Avx2>(pixels, channels, input, output, begin, end);
}

}  // namespace pare::rt::kernels
