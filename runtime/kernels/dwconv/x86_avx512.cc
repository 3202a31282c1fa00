// Depthwise convolution, AVX-512: blocks of 16 channels (one zmm, the last block masked). The
// kernels are written once in vector_impl.h; 5x5 and 7x7 at stride 1 take 8 pixels per tile.
#include "runtime/kernels/dwconv/dwconv.h"
#include "runtime/kernels/dwconv/vector_impl.h"
#include "runtime/kernels/simd/x86_avx512.h"

namespace pare::rt::kernels {

using DwAvx512 = dwconv_impl::DwConv<simd::F32x16Avx512>;

void f32_dwconv_3x3s1__avx512(const DwConvParams& p, const float* input, const float* packed,
                              float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx512::fixed<3, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_3x3s2__avx512(const DwConvParams& p, const float* input, const float* packed,
                              float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx512::fixed<3, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_5x5s1__avx512(const DwConvParams& p, const float* input, const float* packed,
                              float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx512::fixed<5, 1, 8>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_5x5s2__avx512(const DwConvParams& p, const float* input, const float* packed,
                              float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx512::fixed<5, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_7x7s1__avx512(const DwConvParams& p, const float* input, const float* packed,
                              float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx512::fixed<7, 1, 8>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_7x7s2__avx512(const DwConvParams& p, const float* input, const float* packed,
                              float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx512::fixed<7, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_kxk__avx512(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx512::generic(p, input, packed, output, oh_begin, oh_end);
}

}  // namespace pare::rt::kernels
