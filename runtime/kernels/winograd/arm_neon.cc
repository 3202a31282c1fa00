// Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms, NEON: 4 channels per q register, the last block masked.
#include "runtime/kernels/simd/arm_neon.h"
#include "runtime/kernels/winograd/transform_impl.h"
#include "runtime/kernels/winograd/winograd.h"

namespace pare::rt::kernels {

void f32_winograd_f23_input_c4__neon(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                  int64_t tile_end, float* v, int64_t matrix_stride) {
  winograd_impl::input<simd::F32x4Neon>(g, input, tile_begin, tile_end, v, matrix_stride);
}

void f32_winograd_f23_output_c4__neon(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                   const float* bias, float min, float max, int64_t tile_begin,
                                   int64_t tile_end, float* output) {
  winograd_impl::output<simd::F32x4Neon>(g, m, matrix_stride, bias, min, max, tile_begin, tile_end, output);
}

void f32_winograd_f43_input_c4__neon(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                  int64_t tile_end, float* v, int64_t matrix_stride) {
  winograd_impl::input_f43<simd::F32x4Neon>(g, input, tile_begin, tile_end, v, matrix_stride);
}

void f32_winograd_f43_output_c4__neon(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                   const float* bias, float min, float max, int64_t tile_begin,
                                   int64_t tile_end, float* output) {
  winograd_impl::output_f43<simd::F32x4Neon>(g, m, matrix_stride, bias, min, max, tile_begin, tile_end, output);
}

}  // namespace pare::rt::kernels
