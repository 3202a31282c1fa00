// Float32 elementwise kernels, AArch64 NEON: 4 lanes per q register. min and
// max are spelled as compares and selects to keep the x86 NaN semantics
// vector_impl.h relies on.
#include <arm_neon.h>

#include "runtime/kernels/eltwise/vector_impl.h"

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
  static float32x4_t div(float32x4_t a, float32x4_t b) { return vdivq_f32(a, b); }
  static float32x4_t fmadd(float32x4_t a, float32x4_t b, float32x4_t c) {
    return vfmaq_f32(c, a, b);
  }
  static float32x4_t min(float32x4_t a, float32x4_t b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
  static float32x4_t max(float32x4_t a, float32x4_t b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
  static float32x4_t round(float32x4_t v) { return vrndnq_f32(v); }
  static float32x4_t pow2i(float32x4_t n) {
    const int32x4_t e = vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127));
    return vreinterpretq_f32_s32(vshlq_n_s32(e, 23));
  }
  static float32x4_t abs(float32x4_t v) { return vabsq_f32(v); }
  static float32x4_t copysign(float32x4_t magnitude, float32x4_t sign) {
    return vbslq_f32(vdupq_n_u32(0x80000000u), sign, magnitude);
  }
  static uint32x4_t lt(float32x4_t a, float32x4_t b) { return vcltq_f32(a, b); }
  static uint32x4_t is_nan(float32x4_t a) { return vmvnq_u32(vceqq_f32(a, a)); }
  static float32x4_t select(uint32x4_t mask, float32x4_t if_true, float32x4_t if_false) {
    return vbslq_f32(mask, if_true, if_false);
  }
};

constexpr F32EltwiseVariant kNeon =
    eltwise_vec::make_f32_eltwise_variant<Neon>(Isa::kNeon, "x4__neon");

}  // namespace

const F32EltwiseVariant& f32_eltwise_neon() { return kNeon; }

}  // namespace pare::rt::kernels
