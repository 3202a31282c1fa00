// Depthwise convolution, AArch64 NEON: blocks of 4 channels (one q register; the last, partial
// block through lane loads and stores). The kernels are written once in vector_impl.h.
#include "runtime/kernels/dwconv/dwconv.h"
#include "runtime/kernels/dwconv/vector_impl.h"
#include "runtime/kernels/simd/arm_neon.h"

namespace pare::rt::kernels {

using DwNeon = dwconv_impl::DwConv<simd::F32x4Neon>;

void f32_dwconv_3x3s1__neon(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  DwNeon::fixed<3, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_3x3s2__neon(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  DwNeon::fixed<3, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_5x5s1__neon(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  DwNeon::fixed<5, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_5x5s2__neon(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  DwNeon::fixed<5, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_7x7s1__neon(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  DwNeon::fixed<7, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_7x7s2__neon(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  DwNeon::fixed<7, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void f32_dwconv_kxk__neon(const DwConvParams& p, const float* input, const float* packed,
                          float* output, int64_t oh_begin, int64_t oh_end) {
  DwNeon::generic(p, input, packed, output, oh_begin, oh_end);
}

}  // namespace pare::rt::kernels
