// Float32 row softmax, AArch64 NEON: 4 lanes per q register. max is spelled as a compare and
// select to keep the x86 NaN semantics the shared code relies on.
#include <arm_neon.h>

#include "runtime/kernels/softmax/softmax.h"
#include "runtime/kernels/softmax/vector_impl.h"

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
  static float32x4_t max(float32x4_t a, float32x4_t b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
  static float32x4_t round(float32x4_t v) { return vrndnq_f32(v); }
  static float32x4_t pow2i(float32x4_t n) {
    const int32x4_t e = vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127));
    return vreinterpretq_f32_s32(vshlq_n_s32(e, 23));
  }
  static float reduce_add(float32x4_t v) {
    const float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(s, 0) + vget_lane_f32(s, 1);
  }
  // The max accumulator never holds NaN (max(v, acc) keeps acc for a NaN v), so vmaxvq's NaN
  // handling does not matter here.
  static float reduce_max(float32x4_t v) { return vmaxvq_f32(v); }
};

}  // namespace

void f32_softmax_rows_x4__neon(int64_t cols, const float* x, float* y, int64_t row_begin,
                               int64_t row_end) {
  softmax_vec::softmax_rows<Neon>(cols, x, y, row_begin, row_end);
}

}  // namespace pare::rt::kernels
