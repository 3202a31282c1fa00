// f32 sparse kernel, AVX2 + FMA: tiles of 32 pixels (four ymm per output channel), 8x8
// transposes in registers (unpack, shuffle, then the 128-bit halves).
#include "runtime/kernels/simd/x86_avx2.h"
#include "runtime/kernels/spmm/spmm.h"
#include "runtime/kernels/spmm/vector_impl.h"

namespace pare::rt::kernels {

namespace {

struct Transpose8 {
  static void block(const float* src, size_t src_stride, float* dst, size_t dst_stride) {
    __m256 r[8], t[8];
    PARE_SPMM_UNROLL
    for (size_t i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
    PARE_SPMM_UNROLL
    for (size_t i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    PARE_SPMM_UNROLL
    for (size_t g = 0; g < 8; g += 4) {
      r[g] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
      r[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xEE);
      r[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
      r[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
    }
    // r[4g + j], half H, holds column 4H + j of rows 4g .. 4g+3.
    PARE_SPMM_UNROLL
    for (size_t j = 0; j < 4; ++j) {
      _mm256_storeu_ps(dst + j * dst_stride, _mm256_permute2f128_ps(r[j], r[4 + j], 0x20));
      _mm256_storeu_ps(dst + (4 + j) * dst_stride, _mm256_permute2f128_ps(r[j], r[4 + j], 0x31));
    }
  }
};

}  // namespace

void f32_spmm_32x1__avx2(const F32SpmmArgs& args, size_t m0, size_t rows, float* scratch) {
  spmm_impl::kernel<simd::F32x8Avx2, Transpose8>(args, m0, rows, scratch);
}

}  // namespace pare::rt::kernels
