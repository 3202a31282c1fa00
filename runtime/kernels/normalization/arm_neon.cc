// Float32 LayerNormalization, AArch64 NEON: 4 lanes per q register.
#include <arm_neon.h>

#include "runtime/kernels/normalization/normalization.h"
#include "runtime/kernels/normalization/vector_impl.h"

namespace pare::rt::kernels {

namespace {

struct Neon {
  static constexpr size_t kWidth = 4;
  static float32x4_t load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, float32x4_t v) { vst1q_f32(p, v); }
  static float32x4_t set1(float v) { return vdupq_n_f32(v); }
  static float32x4_t add(float32x4_t a, float32x4_t b) { return vaddq_f32(a, b); }
  static float32x4_t sub(float32x4_t a, float32x4_t b) { return vsubq_f32(a, b); }
  static float32x4_t mul(float32x4_t a, float32x4_t b) { return vmulq_f32(a, b); }
  static float32x4_t fmadd(float32x4_t a, float32x4_t b, float32x4_t c) {
    return vfmaq_f32(c, a, b);
  }
  static float reduce_add(float32x4_t v) {
    const float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(s, 0) + vget_lane_f32(s, 1);
  }
};

}  // namespace

void f32_layernorm_x4__neon(int64_t cols, const float* x, const float* scale, const float* bias,
                            float epsilon, float* y, float* mean, float* inv_std,
                            int64_t row_begin, int64_t row_end) {
  layernorm_vec::layernorm_rows<Neon>(cols, x, scale, bias, epsilon, y, mean, inv_std, row_begin,
                                    row_end);
}

}  // namespace pare::rt::kernels
