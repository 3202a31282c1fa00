// Int8 elementwise kernels, NEON (AArch64): 16 elements per block as four q registers of 4
// int32/float lanes. Signed bytes are read as (byte ^ 0x80) zero-extended with 128 added to
// the zero point, the same difference q - zero_point as a sign extension.
#include <arm_neon.h>

#include "runtime/kernels/qeltwise/driver.h"
#include "runtime/kernels/qeltwise/qeltwise.h"

namespace pare::rt::kernels {

namespace {

constexpr size_t kBlock = 16;

struct In8 {
  uint8x16_t flip;
  int32x4_t zero_point;
  In8(bool is_signed, int32_t zp)
      : flip(vdupq_n_u8(is_signed ? 0x80 : 0)), zero_point(vdupq_n_s32(zp + (is_signed ? 128 : 0))) {}
  // q - zero_point of 16 bytes as floats (exact).
  void load(const uint8_t* p, float32x4_t f[4]) const {
    const uint8x16_t v = veorq_u8(vld1q_u8(p), flip);
    const uint16x8_t l = vmovl_u8(vget_low_u8(v)), h = vmovl_high_u8(v);
    const uint32x4_t w[4] = {vmovl_u16(vget_low_u16(l)), vmovl_high_u16(l), vmovl_u16(vget_low_u16(h)),
                             vmovl_high_u16(h)};
    for (int k = 0; k < 4; ++k) f[k] = vcvtq_f32_s32(vsubq_s32(vreinterpretq_s32_u32(w[k]), zero_point));
  }
};

struct Out8 {
  float32x4_t zero_point, lo, hi;
  Out8(int32_t zp, int32_t l, int32_t h)
      : zero_point(vdupq_n_f32(static_cast<float>(zp))),
        lo(vdupq_n_f32(static_cast<float>(l))),
        hi(vdupq_n_f32(static_cast<float>(h))) {}
  float32x4_t round_clamp(float32x4_t t) const {
    return vminq_f32(vmaxq_f32(vaddq_f32(vrndnq_f32(t), zero_point), lo), hi);
  }
  // Stores the low bytes of 16 integral floats.
  static void store(const float32x4_t r[4], uint8_t* y) {
    const int16x8_t s0 = vcombine_s16(vmovn_s32(vcvtq_s32_f32(r[0])), vmovn_s32(vcvtq_s32_f32(r[1])));
    const int16x8_t s1 = vcombine_s16(vmovn_s32(vcvtq_s32_f32(r[2])), vmovn_s32(vcvtq_s32_f32(r[3])));
    vst1q_u8(y, vcombine_u8(vmovn_u16(vreinterpretq_u16_s16(s0)), vmovn_u16(vreinterpretq_u16_s16(s1))));
  }
};

void quantize(size_t n, const float* x, const Q8QuantizeParams& p, uint8_t* y) {
  const Out8 out(p.zero_point, p.lo, p.hi);
  const float32x4_t scale = vdupq_n_f32(p.scale);
  q8_driver::unary<kBlock>(n, x, y, [&](const float* xp, uint8_t* yp) {
    float32x4_t r[4];
    for (int k = 0; k < 4; ++k) {
      const float32x4_t v = vdivq_f32(vld1q_f32(xp + 4 * k), scale);
      r[k] = vbslq_f32(vceqq_f32(v, v), out.round_clamp(v), out.zero_point);  // NaN -> zero point
    }
    Out8::store(r, yp);
  });
}

void dequantize(size_t n, const uint8_t* x, bool is_signed, int32_t zero_point, float scale, float* y) {
  const In8 in(is_signed, zero_point);
  const float32x4_t s = vdupq_n_f32(scale);
  q8_driver::unary<kBlock>(n, x, y, [&](const uint8_t* xp, float* yp) {
    float32x4_t f[4];
    in.load(xp, f);
    for (int k = 0; k < 4; ++k) vst1q_f32(yp + 4 * k, vmulq_f32(f[k], s));
  });
}

void add(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
         const Q8BinaryParams& p, uint8_t* y) {
  const In8 ia(p.a_signed, p.a_zero_point), ib(p.b_signed, p.b_zero_point);
  const Out8 out(p.y_zero_point, p.lo, p.hi);
  const float32x4_t ma = vdupq_n_f32(p.a_multiplier), mb = vdupq_n_f32(p.b_multiplier);
  q8_driver::binary<kBlock>(n, a, a_step, b, b_step, y, [&](const uint8_t* ap, const uint8_t* bp, uint8_t* yp) {
    float32x4_t fa[4], fb[4], r[4];
    ia.load(ap, fa);
    ib.load(bp, fb);
    for (int k = 0; k < 4; ++k) r[k] = out.round_clamp(vfmaq_f32(vmulq_f32(fb[k], mb), fa[k], ma));
    Out8::store(r, yp);
  });
}

void mul(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
         const Q8BinaryParams& p, uint8_t* y) {
  const In8 ia(p.a_signed, p.a_zero_point), ib(p.b_signed, p.b_zero_point);
  const Out8 out(p.y_zero_point, p.lo, p.hi);
  const float32x4_t m = vdupq_n_f32(p.a_multiplier);
  q8_driver::binary<kBlock>(n, a, a_step, b, b_step, y, [&](const uint8_t* ap, const uint8_t* bp, uint8_t* yp) {
    float32x4_t fa[4], fb[4], r[4];
    ia.load(ap, fa);
    ib.load(bp, fb);
    // The products of differences (|.| <= 255 * 255) are exact in float, as in int32.
    for (int k = 0; k < 4; ++k) r[k] = out.round_clamp(vmulq_f32(vmulq_f32(fa[k], fb[k]), m));
    Out8::store(r, yp);
  });
}

constexpr Q8EltwiseVariant kNeon{"neon", Isa::kNeon, quantize, dequantize, add, mul, q8_lookup_ref};

}  // namespace

const Q8EltwiseVariant& q8_eltwise_neon() { return kNeon; }

}  // namespace pare::rt::kernels
