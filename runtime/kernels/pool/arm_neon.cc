// Channels-last pooling, NEON: 4 channels per q register; the last block goes through a
// small stack buffer so nothing past the tensor is read or written.
#include <arm_neon.h>

#include <cstring>

#include "runtime/kernels/pool/nhwc_impl.h"
#include "runtime/kernels/pool/pool.h"

#define PARE_INLINE inline __attribute__((always_inline))

namespace pare::rt::kernels {

namespace {

struct NeonOps {
  using V = float32x4_t;
  static constexpr int64_t kLanes = 4;
  static PARE_INLINE V load(const float* p) { return vld1q_f32(p); }
  static PARE_INLINE void store(float* p, V v) { vst1q_f32(p, v); }
  static PARE_INLINE V load_partial(const float* p, int64_t n) {
    float buffer[4] = {0.f, 0.f, 0.f, 0.f};
    std::memcpy(buffer, p, static_cast<size_t>(n) * sizeof(float));
    return vld1q_f32(buffer);
  }
  static PARE_INLINE void store_partial(float* p, V v, int64_t n) {
    float buffer[4];
    vst1q_f32(buffer, v);
    std::memcpy(p, buffer, static_cast<size_t>(n) * sizeof(float));
  }
  static PARE_INLINE V lowest() { return vdupq_n_f32(-__builtin_inff()); }
  static PARE_INLINE V zero() { return vdupq_n_f32(0.f); }
  static PARE_INLINE V add(V a, V b) { return vaddq_f32(a, b); }
  static PARE_INLINE V div(V a, float d) { return vdivq_f32(a, vdupq_n_f32(d)); }
  // Not vmaxq_f32: it propagates NaN and orders -0 below +0, unlike the reference.
  static PARE_INLINE V greater_or_keep(V tap, V acc) {
    return vbslq_f32(vcgtq_f32(tap, acc), tap, acc);
  }

  struct Acc {
    float64x2_t lo, hi;
  };
  static PARE_INLINE Acc acc_zero() { return {vdupq_n_f64(0.0), vdupq_n_f64(0.0)}; }
  static PARE_INLINE Acc acc_add(Acc a, V v) {
    a.lo = vaddq_f64(a.lo, vcvt_f64_f32(vget_low_f32(v)));
    a.hi = vaddq_f64(a.hi, vcvt_high_f64_f32(v));
    return a;
  }
  static PARE_INLINE V acc_mean(Acc a, int64_t count) {
    const float64x2_t d = vdupq_n_f64(static_cast<double>(count));
    return vcvt_high_f32_f64(vcvt_f32_f64(vdivq_f64(a.lo, d)), vdivq_f64(a.hi, d));
  }
};

}  // namespace

void f32_maxpool_nhwc_c4__neon(const PoolGeometry& g, int64_t channels, const float* input,
                               float* output, int64_t pixel_begin, int64_t pixel_end) {
  pool_nhwc_impl::maxpool<NeonOps>(g, channels, input, output, pixel_begin, pixel_end);
}

void f32_avgpool_nhwc_c4__neon(const PoolGeometry& g, int64_t channels, bool count_include_pad,
                               const float* input, float* output, int64_t pixel_begin,
                               int64_t pixel_end) {
  pool_nhwc_impl::avgpool<NeonOps>(g, channels, count_include_pad, input, output, pixel_begin,
                                   pixel_end);
}

void f32_global_avgpool_nhwc_c4__neon(int64_t pixels, int64_t channels, const float* input,
                                      float* output, int64_t begin, int64_t end) {
  pool_nhwc_impl::global_avgpool<NeonOps>(pixels, channels, input, output, begin, end);
}

}  // namespace pare::rt::kernels
