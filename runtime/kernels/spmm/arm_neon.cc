// f32 sparse kernel, NEON (AArch64): tiles of 16 pixels (four q registers per output
// channel), 4x4 transposes with trn1/trn2 on 32- and 64-bit elements.
#include "runtime/kernels/simd/arm_neon.h"
#include "runtime/kernels/spmm/spmm.h"
#include "runtime/kernels/spmm/vector_impl.h"

namespace pare::rt::kernels {

namespace {

struct Transpose4 {
  static void block(const float* src, size_t src_stride, float* dst, size_t dst_stride) {
    const float32x4_t r0 = vld1q_f32(src), r1 = vld1q_f32(src + src_stride),
                      r2 = vld1q_f32(src + 2 * src_stride), r3 = vld1q_f32(src + 3 * src_stride);
    const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r0, r1));
    const float64x2_t t1 = vreinterpretq_f64_f32(vtrn2q_f32(r0, r1));
    const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r2, r3));
    const float64x2_t t3 = vreinterpretq_f64_f32(vtrn2q_f32(r2, r3));
    vst1q_f32(dst, vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)));
    vst1q_f32(dst + dst_stride, vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)));
    vst1q_f32(dst + 2 * dst_stride, vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)));
    vst1q_f32(dst + 3 * dst_stride, vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)));
  }
};

}  // namespace

void f32_spmm_16x1__neon(const F32SpmmArgs& args, size_t m0, size_t rows, float* scratch) {
  spmm_impl::kernel<simd::F32x4Neon, Transpose4>(args, m0, rows, scratch);
}

}  // namespace pare::rt::kernels
