// Int8 GEMM microkernel, AVX-512 VNNI: the 8x32 tile of x86_avx512vnni_tile.h.
#include "runtime/kernels/qgemm/x86_avx512vnni_tile.h"

namespace pare::rt::kernels {

void q8_gemm_8x32__avx512vnni(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                              const void* panel, uint8_t* c, size_t c_stride, int32_t czp, int32_t lo,
                              int32_t hi) {
  qgemm_vec::qgemm_microkernel<Avx512VnniGemm>(mr, nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
}

}  // namespace pare::rt::kernels
