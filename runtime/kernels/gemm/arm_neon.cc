// f32 GEMM microkernel, NEON (AArch64): 8 rows x 8 columns (two q registers per row). Four
// steps of K at a time: each row's next four A values are loaded as one vector and used by
// lane (vfmaq_laneq_f32), so 16 accumulators + 8 A vectors + 2 B vectors fit in 32 registers.
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/gemm/microkernel_impl.h"
#include "runtime/kernels/simd/arm_neon.h"

namespace pare::rt::kernels {

void f32_gemm_8x8__neon(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                        const float* panel, float* c, size_t c_stride, float min, float max,
                        const F32GemmResidual* residual) {
  using V = simd::F32x4Neon;
  gemm_impl::microkernel<V, V, 8>(mr, nc, k, a, a_stride, panel, c, c_stride, min, max, residual);
}

void f32_gemm_8x8__neon_streaming(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                                  const float* panel, float* c, size_t c_stride, float min, float max,
                                  const F32GemmResidual* residual) {
  using V = simd::F32x4Neon;
  gemm_impl::microkernel<V, V, 8, true>(mr, nc, k, a, a_stride, panel, c, c_stride, min, max,
                                        residual);
}

void f32_igemm_8x8__neon(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                         const float* panel, float* c, size_t c_stride, float min, float max,
                         const F32GemmResidual* residual) {
  using V = simd::F32x4Neon;
  gemm_impl::indirect_microkernel<V, V, 8>(mr, nc, runs, run_len, a, panel, c, c_stride, min, max,
                                           residual);
}

void f32_igemm_8x8__neon_streaming(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                                   const float* panel, float* c, size_t c_stride, float min, float max,
                                   const F32GemmResidual* residual) {
  using V = simd::F32x4Neon;
  gemm_impl::indirect_microkernel<V, V, 8, true>(mr, nc, runs, run_len, a, panel, c, c_stride, min, max,
                                                 residual);
}

}  // namespace pare::rt::kernels
