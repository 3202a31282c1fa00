// Winograd F(2x2, 3x3) convolution transforms, float32, channels last.
//
// For group-1, 3x3, stride-1, dilation-1 Conv: each 2x2 block of output pixels (a tile)
// comes from a 4x4 window of input pixels, and the convolution becomes 16 independent
// matrix products M_e [tiles, Cout] = V_e [tiles, Cin] * U_e [Cin, Cout], e = 0 .. 15, with
// 2.25x fewer multiplies than the direct sum. Tiles are numbered image by image, row by row.
// The products run on the packed GEMM (kernels/gemm); this family holds the transforms
// around them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/cpu.h"
#include "runtime/kernels/conv/conv.h"

namespace pare::rt::kernels {

// Tiles of one output: batch * ceil(out_h / 2) * ceil(out_w / 2).
int64_t f32_conv_winograd_f23_tiles(const ConvGeometry& g);

// U_e = (G w G^T)[e]: writes 16 matrices [in_channels, out_channels], matrix e at
// u + e * in_channels * out_channels, from ONNX weights [out_channels, in_channels, 3, 3].
void f32_conv_winograd_f23_weight(const ConvGeometry& g, const float* weight, float* u);

// V_e = (B^T d B)[e] for tiles [tile_begin, tile_end), d the tile's 4x4 input window (zero
// in the pads and past the image): row r of matrix e, for tile tile_begin + r, is
// v[e * matrix_stride + r * in_channels .. + in_channels).
void f32_winograd_f23_input_ref__scalar(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                        int64_t tile_end, float* v, int64_t matrix_stride);

// Output pixels of tiles [tile_begin, tile_end) = clamp(A^T m A + bias, min, max) (bias:
// [out_channels] or null; min/max from a fused ReLU or Clip, else -inf/+inf), m read as rows
// of 16 matrices like v above (matrix_stride floats apart, out_channels floats per row).
// Writes only the pixels inside the output. The clamp is `min > y ? min : y`, then
// `max < y ? max : y` (a NaN stays NaN).
void f32_winograd_f23_output_ref__scalar(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                         const float* bias, float min, float max, int64_t tile_begin,
                                         int64_t tile_end, float* output);

// ---- Variants per ISA ----
//
// Vectorised over channels; each lane does the reference's additions in the reference's
// order (no fused multiply-add), so the outputs are bit-identical to it (up to which NaN
// comes out where two NaNs meet) and do not depend on how the tile ranges are split.
using F32WinogradInputFn = void (*)(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                    int64_t tile_end, float* v, int64_t matrix_stride);
using F32WinogradOutputFn = void (*)(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                     const float* bias, float min, float max, int64_t tile_begin,
                                     int64_t tile_end, float* output);

struct WinogradVariant {
  Isa isa;
  F32WinogradInputFn input;
  const char* input_name;  // e.g. "f32_winograd_f23_input_c16__avx512"
  F32WinogradOutputFn output;
  const char* output_name;
};

// All variants built into this binary, best ISA first, the scalar reference last.
const WinogradVariant* winograd_variants(size_t* count);
// The best variant usable on this CPU with an ISA not above `cap` (the reference at worst).
const WinogradVariant& select_winograd(Isa cap);

#if defined(__x86_64__)
void f32_winograd_f23_input_c8__avx2(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                  int64_t tile_end, float* v, int64_t matrix_stride);
void f32_winograd_f23_output_c8__avx2(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                   const float* bias, float min, float max, int64_t tile_begin,
                                   int64_t tile_end, float* output);
void f32_winograd_f23_input_c16__avx512(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                  int64_t tile_end, float* v, int64_t matrix_stride);
void f32_winograd_f23_output_c16__avx512(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                   const float* bias, float min, float max, int64_t tile_begin,
                                   int64_t tile_end, float* output);
#endif
#if defined(__aarch64__)
void f32_winograd_f23_input_c4__neon(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                  int64_t tile_end, float* v, int64_t matrix_stride);
void f32_winograd_f23_output_c4__neon(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                   const float* bias, float min, float max, int64_t tile_begin,
                                   int64_t tile_end, float* output);
#endif

namespace winograd_detail {
// Splits a tile number into its image and top-left output pixel.
inline void tile_origin(const ConvGeometry& g, int64_t tile, int64_t* n, int64_t* oh, int64_t* ow) {
  const int64_t tiles_w = (g.out_size[2] + 1) / 2, tiles_h = (g.out_size[1] + 1) / 2;
  *n = tile / (tiles_h * tiles_w);
  *oh = (tile / tiles_w) % tiles_h * 2;
  *ow = tile % tiles_w * 2;
}

// The 4x4 input window of a tile: px[i][j] points at pixel (i, j)'s channels (an NHWC image
// of g.in_channels channels), null where it falls in the pads or past the image. True when
// all 16 lie inside.
template <typename T>
inline bool tile_window(const ConvGeometry& g, const T* x, int64_t tile, const T* (&px)[4][4]) {
  const int64_t cin = g.in_channels, in_h = g.in_size[1], in_w = g.in_size[2];
  int64_t n, oh, ow;
  tile_origin(g, tile, &n, &oh, &ow);
  const int64_t ih0 = oh - g.pad_begin[1], iw0 = ow - g.pad_begin[2];
  bool inside = true;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int64_t ih = ih0 + i, iw = iw0 + j;
      const bool in = ih >= 0 && ih < in_h && iw >= 0 && iw < in_w;
      px[i][j] = in ? x + ((n * in_h + ih) * in_w + iw) * cin : nullptr;
      inside = inside && in;
    }
  return inside;
}
}  // namespace winograd_detail

}  // namespace pare::rt::kernels
