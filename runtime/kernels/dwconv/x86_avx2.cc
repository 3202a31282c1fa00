// Depthwise convolution, AVX2 + FMA: blocks of 8 channels (one ymm; the last, partial block
// through masked loads and stores). The kernels are written once in vector_impl.h.
#include "runtime/kernels/dwconv/dwconv.h"
#include "runtime/kernels/dwconv/vector_impl.h"
#include "runtime/kernels/simd/x86_avx2.h"

namespace pare::rt::kernels {

using DwAvx2 = dwconv_impl::DwConv<simd::F32x8Avx2>;

void f32_dwconv_3x3s1__avx2(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx2::fixed<3, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_3x3s2__avx2(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx2::fixed<3, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_5x5s1__avx2(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx2::fixed<5, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_5x5s2__avx2(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx2::fixed<5, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_7x7s1__avx2(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx2::fixed<7, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_7x7s2__avx2(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx2::fixed<7, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_kxk__avx2(const DwConvParams& p, const float* input, const float* packed,
                          float* output, int64_t oh_begin, int64_t oh_end) {
  DwAvx2::generic(p, input, packed, output, oh_begin, oh_end);
}

}  // namespace pare::rt::kernels
