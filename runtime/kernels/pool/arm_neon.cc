// Channels-last pooling, NEON: 4 channels per q register, the last block lane by lane.
#include "runtime/kernels/simd/arm_neon.h"
#include "runtime/kernels/pool/nhwc_impl.h"
#include "runtime/kernels/pool/pool.h"

namespace pare::rt::kernels {

namespace {

// 16 bytes per q register, held as uint8x16_t and reinterpreted for signed max.
struct BytesNeon {
  using R = uint8x16_t;
  static constexpr int64_t kWidth = 16;
  static R load(const void* p) { return vld1q_u8(static_cast<const uint8_t*>(p)); }
  static void store(void* p, R v) { vst1q_u8(static_cast<uint8_t*>(p), v); }
  template <typename T>
  static R set1(T v) { return vdupq_n_u8(static_cast<uint8_t>(v)); }
  template <typename T>
  static R max(R a, R b) {
    if constexpr (std::is_same_v<T, uint8_t>) return vmaxq_u8(a, b);
    else return vreinterpretq_u8_s8(vmaxq_s8(vreinterpretq_s8_u8(a), vreinterpretq_s8_u8(b)));
  }
};

}  // namespace

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

void u8_maxpool_nhwc_c16__neon(const PoolGeometry& g, int64_t channels, const uint8_t* input,
                               uint8_t* output, int64_t pixel_begin, int64_t pixel_end) {
  pool_nhwc_impl::maxpool_bytes<BytesNeon>(g, channels, input, output, pixel_begin, pixel_end);
}

void s8_maxpool_nhwc_c16__neon(const PoolGeometry& g, int64_t channels, const int8_t* input,
                               int8_t* output, int64_t pixel_begin, int64_t pixel_end) {
  pool_nhwc_impl::maxpool_bytes<BytesNeon>(g, channels, input, output, pixel_begin, pixel_end);
}

}  // namespace pare::rt::kernels
