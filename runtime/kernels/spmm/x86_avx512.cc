// f32 sparse kernel, AVX-512: tiles of 64 pixels (four zmm per output channel), 16x16
// transposes in registers (unpack, then 128-bit lane shuffles).
#include "runtime/kernels/simd/x86_avx512.h"
#include "runtime/kernels/spmm/spmm.h"
#include "runtime/kernels/spmm/vector_impl.h"

namespace pare::rt::kernels {

namespace {

// GCC 12's unmasked shuffles start from _mm512_undefined_ps, which -Wuninitialized reports
// once inlined; the zero-masked forms with every lane set are the same instructions.
struct Transpose16 {
  static constexpr __mmask16 kAll = 0xFFFF;

  static void block(const float* src, size_t src_stride, float* dst, size_t dst_stride) {
    __m512 r[16], t[16];
    PARE_SPMM_UNROLL
    for (size_t i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * src_stride);
    // Within each 128-bit lane: 4x4 transposes of rows 4g .. 4g+3.
    PARE_SPMM_UNROLL
    for (size_t i = 0; i < 16; i += 2) {
      t[i] = _mm512_maskz_unpacklo_ps(kAll, r[i], r[i + 1]);
      t[i + 1] = _mm512_maskz_unpackhi_ps(kAll, r[i], r[i + 1]);
    }
    PARE_SPMM_UNROLL
    for (size_t g = 0; g < 16; g += 4) {
      r[g] = _mm512_maskz_shuffle_ps(kAll, t[g], t[g + 2], 0x44);
      r[g + 1] = _mm512_maskz_shuffle_ps(kAll, t[g], t[g + 2], 0xEE);
      r[g + 2] = _mm512_maskz_shuffle_ps(kAll, t[g + 1], t[g + 3], 0x44);
      r[g + 3] = _mm512_maskz_shuffle_ps(kAll, t[g + 1], t[g + 3], 0xEE);
    }
    // r[4g + j], lane L, holds column 4L + j of rows 4g .. 4g+3: gather the lanes.
    PARE_SPMM_UNROLL
    for (size_t j = 0; j < 4; ++j) {
      const __m512 even_lo = _mm512_maskz_shuffle_f32x4(kAll, r[j], r[4 + j], 0x88);
      const __m512 odd_lo = _mm512_maskz_shuffle_f32x4(kAll, r[j], r[4 + j], 0xDD);
      const __m512 even_hi = _mm512_maskz_shuffle_f32x4(kAll, r[8 + j], r[12 + j], 0x88);
      const __m512 odd_hi = _mm512_maskz_shuffle_f32x4(kAll, r[8 + j], r[12 + j], 0xDD);
      t[j] = _mm512_maskz_shuffle_f32x4(kAll, even_lo, even_hi, 0x88);
      t[8 + j] = _mm512_maskz_shuffle_f32x4(kAll, even_lo, even_hi, 0xDD);
      t[4 + j] = _mm512_maskz_shuffle_f32x4(kAll, odd_lo, odd_hi, 0x88);
      t[12 + j] = _mm512_maskz_shuffle_f32x4(kAll, odd_lo, odd_hi, 0xDD);
    }
    PARE_SPMM_UNROLL
    for (size_t i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * dst_stride, t[i]);
  }
};

}  // namespace

void f32_spmm_64x1__avx512(const F32SpmmArgs& args, size_t m0, size_t rows, float* scratch) {
  spmm_impl::kernel<simd::F32x16Avx512, Transpose16>(args, m0, rows, scratch);
}

}  // namespace pare::rt::kernels
