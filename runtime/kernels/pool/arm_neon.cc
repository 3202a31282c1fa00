// Channels-last pooling, NEON: 4 channels per q register, the last block lane by lane.
#include "runtime/kernels/simd/arm_neon.h"
#include "runtime/kernels/pool/nhwc_impl.h"
#include "runtime/kernels/pool/pool.h"

namespace pare::rt::kernels {

void f32_maxpool_nhwc_c4__neon(const PoolGeometry& g, int64_t channels, const float* input,
                               float* output, int64_t pixel_begin, int64_t pixel_end) {
  pool_nhwc_impl::maxpool<simd::F32x4Neon>(g, channels, input, output, pixel_begin, pixel_end);
}

void f32_avgpool_nhwc_c4__neon(const PoolGeometry& g, int64_t channels, bool count_include_pad,
                               const float* input, float* output, int64_t pixel_begin,
                               int64_t pixel_end) {
  pool_nhwc_impl::avgpool<simd::F32x4Neon>(g, channels, count_include_pad, input, output,
                                           pixel_begin, pixel_end);
}

void f32_global_avgpool_nhwc_c4__neon(int64_t pixels, int64_t channels, const float* input,
                                      float* output, int64_t begin, int64_t end) {
  pool_nhwc_impl::global_avgpool<simd::F32x4Neon>(pixels, channels, input, output, begin, end);
}

}  // namespace pare::rt::kernels
