// f32 GEMM microkernel, AVX2 + FMA: 6 rows x 16 columns (two ymm per row, 12 accumulators
// of the 16 ymm registers); partial stores in pieces, without vmaskmovps (slow on AMD).
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/gemm/microkernel_impl.h"
#include "runtime/kernels/simd/x86_avx2.h"

namespace pare::rt::kernels {

void f32_gemm_6x16__avx2(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                         const float* panel, float* c, size_t c_stride, float min, float max,
                         const F32GemmResidual* residual) {
  using V = simd::F32x8Avx2;
  gemm_impl::microkernel<V, V, 6>(mr, nc, k, a, a_stride, panel, c, c_stride, min, max, residual);
}

void f32_gemm_6x16__avx2_streaming(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                                   const float* panel, float* c, size_t c_stride, float min, float max,
                                   const F32GemmResidual* residual) {
  using V = simd::F32x8Avx2;
  gemm_impl::microkernel<V, V, 6, true>(mr, nc, k, a, a_stride, panel, c, c_stride, min, max,
                                        residual);
}

void f32_igemm_6x16__avx2(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                          const float* panel, float* c, size_t c_stride, float min, float max,
                          const F32GemmResidual* residual) {
  using V = simd::F32x8Avx2;
  gemm_impl::indirect_microkernel<V, V, 6>(mr, nc, runs, run_len, a, panel, c, c_stride, min, max,
                                           residual);
}

void f32_igemm_6x16__avx2_streaming(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                                    const float* panel, float* c, size_t c_stride, float min, float max,
                                    const F32GemmResidual* residual) {
  using V = simd::F32x8Avx2;
  gemm_impl::indirect_microkernel<V, V, 6, true>(mr, nc, runs, run_len, a, panel, c, c_stride, min, max,
                                                 residual);
}

}  // namespace pare::rt::kernels
