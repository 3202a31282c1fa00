// f32 GEMM microkernel, AVX-512: 8 rows x 32 columns (two zmm per row; a last panel of at
// most 24 columns runs as zmm + ymm, of at most 8 as one ymm). On Zen 4, 8 rows measured
// as fast as 12 or 14 on large tiles and faster on small K (see README.md).
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/gemm/microkernel_impl.h"
#include "runtime/kernels/simd/x86_avx512.h"

namespace pare::rt::kernels {

namespace {
using V = simd::F32x16Avx512;
using H = simd::F32x8Avx512;  // the ymm half, for a last panel of at most 24 columns
}  // namespace

void f32_gemm_8x32__avx512(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                           const float* panel, float* c, size_t c_stride, float min, float max,
                           const F32GemmResidual* residual) {
  gemm_impl::microkernel<V, H, 8>(mr, nc, k, a, a_stride, panel, c, c_stride, min, max, residual);
}

void f32_gemm_8x32__avx512_streaming(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                                     const float* panel, float* c, size_t c_stride, float min, float max,
                                     const F32GemmResidual* residual) {
  gemm_impl::microkernel<V, H, 8, true>(mr, nc, k, a, a_stride, panel, c, c_stride, min, max,
                                        residual);
}

void f32_igemm_8x32__avx512(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                            const float* panel, float* c, size_t c_stride, float min, float max,
                            const F32GemmResidual* residual) {
  gemm_impl::indirect_microkernel<V, H, 8>(mr, nc, runs, run_len, a, panel, c, c_stride, min, max,
                                           residual);
}

void f32_igemm_8x32__avx512_streaming(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                                      const float* panel, float* c, size_t c_stride, float min, float max,
                                      const F32GemmResidual* residual) {
  gemm_impl::indirect_microkernel<V, H, 8, true>(mr, nc, runs, run_len, a, panel, c, c_stride, min, max,
                                                 residual);
}

void f32_gemm_12x32__avx512(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                            const float* panel, float* c, size_t c_stride, float min, float max,
                            const F32GemmResidual* residual) {
  gemm_impl::microkernel<V, H, 12>(mr, nc, k, a, a_stride, panel, c, c_stride, min, max, residual);
}

void f32_gemm_12x32__avx512_streaming(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                                      const float* panel, float* c, size_t c_stride, float min, float max,
                                      const F32GemmResidual* residual) {
  gemm_impl::microkernel<V, H, 12, true>(mr, nc, k, a, a_stride, panel, c, c_stride, min, max,
                                         residual);
}

void f32_igemm_12x32__avx512(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                             const float* panel, float* c, size_t c_stride, float min, float max,
                             const F32GemmResidual* residual) {
  gemm_impl::indirect_microkernel<V, H, 12>(mr, nc, runs, run_len, a, panel, c, c_stride, min, max,
                                            residual);
}

void f32_igemm_12x32__avx512_streaming(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                                       const float* panel, float* c, size_t c_stride, float min, float max,
                                       const F32GemmResidual* residual) {
  gemm_impl::indirect_microkernel<V, H, 12, true>(mr, nc, runs, run_len, a, panel, c, c_stride, min, max,
                                                  residual);
}

}  // namespace pare::rt::kernels
