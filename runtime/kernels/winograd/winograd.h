// Winograd F(2x2, 3x3) and F(4x4, 3x3) convolution transforms, float32, channels last.
//
// For group-1, 3x3, stride-1, dilation-1 Conv: each R x R block of output pixels (a tile;
// R = 2 or 4) comes from an (R+2) x (R+2) window of input pixels, and the convolution
// becomes (R+2)^2 independent matrix products M_e [tiles, Cout] = V_e [tiles, Cin] *
// U_e [Cin, Cout]: 2.25x fewer multiplies than the direct sum with R = 2 (16 products),
// 4x with R = 4 (36 products, for 4x the weight bytes). Tiles are numbered image by image,
// row by row. The products run on the packed GEMM (kernels/gemm); this family holds the
// transforms around them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/cpu.h"
#include "runtime/kernels/conv/conv.h"

namespace pare::rt::kernels {

// Tiles of one output: batch * ceil(out_h / R) * ceil(out_w / R).
int64_t f32_conv_winograd_f23_tiles(const ConvGeometry& g);
int64_t f32_conv_winograd_f43_tiles(const ConvGeometry& g);

// U_e = (G w G^T)[e]: writes (R+2)^2 matrices [in_channels, out_channels], matrix e at
// u + e * in_channels * out_channels, from ONNX weights [out_channels, in_channels, 3, 3]
// (F(4x4, 3x3)'s G has sixths and 24ths: computed in double, rounded once).
void f32_conv_winograd_f23_weight(const ConvGeometry& g, const float* weight, float* u);
void f32_conv_winograd_f43_weight(const ConvGeometry& g, const float* weight, float* u);

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

// The same for F(4x4, 3x3): 36 matrices, 6x6 input windows, 4x4 output tiles. The points
// are 0, +-1, +-2 and infinity; every multiply by 2, 4 or 5 is written as additions (x + x
// is exact, 4x + x rounds once as 5x does), so that a compiler cannot fuse it into a
// multiply-add and the vector forms give the reference's bytes.
void f32_winograd_f43_input_ref__scalar(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                        int64_t tile_end, float* v, int64_t matrix_stride);
void f32_winograd_f43_output_ref__scalar(const ConvGeometry& g, const float* m, int64_t matrix_stride,
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

struct WinogradTransforms {
  F32WinogradInputFn input;
  const char* input_name;  // e.g. "f32_winograd_f23_input_c16__avx512"
  F32WinogradOutputFn output;
  const char* output_name;
};

struct WinogradVariant {
  Isa isa;
  WinogradTransforms f23;  // F(2x2, 3x3)
  WinogradTransforms f43;  // F(4x4, 3x3)
  const WinogradTransforms& of(int out_tile) const { return out_tile == 4 ? f43 : f23; }
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
void f32_winograd_f43_input_c8__avx2(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                  int64_t tile_end, float* v, int64_t matrix_stride);
void f32_winograd_f43_output_c8__avx2(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                   const float* bias, float min, float max, int64_t tile_begin,
                                   int64_t tile_end, float* output);
void f32_winograd_f23_input_c16__avx512(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                  int64_t tile_end, float* v, int64_t matrix_stride);
void f32_winograd_f23_output_c16__avx512(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                   const float* bias, float min, float max, int64_t tile_begin,
                                   int64_t tile_end, float* output);
void f32_winograd_f43_input_c16__avx512(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                  int64_t tile_end, float* v, int64_t matrix_stride);
void f32_winograd_f43_output_c16__avx512(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                   const float* bias, float min, float max, int64_t tile_begin,
                                   int64_t tile_end, float* output);
#endif
#if defined(__aarch64__)
void f32_winograd_f23_input_c4__neon(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                  int64_t tile_end, float* v, int64_t matrix_stride);
void f32_winograd_f23_output_c4__neon(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                   const float* bias, float min, float max, int64_t tile_begin,
                                   int64_t tile_end, float* output);
void f32_winograd_f43_input_c4__neon(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                  int64_t tile_end, float* v, int64_t matrix_stride);
void f32_winograd_f43_output_c4__neon(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                   const float* bias, float min, float max, int64_t tile_begin,
                                   int64_t tile_end, float* output);
#endif

namespace winograd_detail {
// Splits a tile number into its image and top-left output pixel, for R x R output tiles.
template <int R = 2>
inline void tile_origin(const ConvGeometry& g, int64_t tile, int64_t* n, int64_t* oh, int64_t* ow) {
  const int64_t tiles_w = (g.out_size[2] + R - 1) / R, tiles_h = (g.out_size[1] + R - 1) / R;
  *n = tile / (tiles_h * tiles_w);
  *oh = (tile / tiles_w) % tiles_h * R;
  *ow = tile % tiles_w * R;
}

// F(4x4, 3x3) in one dimension, over a type with add and sub (Ops::add(a, b) = a + b),
// shared by the reference and the vector forms so that both do the same additions in the
// same order. B^T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
// [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]].
template <typename Ops, typename T>
inline void f43_input_1d(T d0, T d1, T d2, T d3, T d4, T d5, T (&r)[6]) {
  const T c = Ops::sub(d4, d2);
  const T p = Ops::sub(d0, d2), p2 = Ops::add(p, p);
  r[0] = Ops::add(Ops::add(p2, p2), c);
  const T d2x2 = Ops::add(d2, d2), d1x2 = Ops::add(d1, d1);
  const T a = Ops::sub(d4, Ops::add(d2x2, d2x2)), b = Ops::sub(d3, Ops::add(d1x2, d1x2));
  r[1] = Ops::add(a, b);
  r[2] = Ops::sub(a, b);
  const T s = Ops::sub(d1, d3), e = Ops::add(s, s);
  r[3] = Ops::sub(c, e);
  r[4] = Ops::add(c, e);
  r[5] = Ops::add(Ops::add(e, e), Ops::sub(d5, d3));
}

// A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]].
template <typename Ops, typename T>
inline void f43_output_1d(T m0, T m1, T m2, T m3, T m4, T m5, T (&o)[4]) {
  const T sp = Ops::add(m1, m2), sm = Ops::sub(m1, m2), tp = Ops::add(m3, m4), tm = Ops::sub(m3, m4);
  o[0] = Ops::add(Ops::add(m0, sp), tp);
  const T tm2 = Ops::add(tm, tm), tp2 = Ops::add(tp, tp), tm4 = Ops::add(tm2, tm2);
  o[1] = Ops::add(sm, tm2);
  o[2] = Ops::add(sp, Ops::add(tp2, tp2));
  o[3] = Ops::add(Ops::add(sm, Ops::add(tm4, tm4)), m5);
}

// B^T d B of one 6x6 window, columns first, then rows: store(e, value) for e = 0 .. 35.
template <typename Ops, typename T, typename Store>
inline void f43_input_tile(const T (&d)[6][6], Store store) {
  T r[6][6];
  for (int j = 0; j < 6; ++j) {
    T col[6];
    f43_input_1d<Ops>(d[0][j], d[1][j], d[2][j], d[3][j], d[4][j], d[5][j], col);
    for (int i = 0; i < 6; ++i) r[i][j] = col[i];
  }
  for (int i = 0; i < 6; ++i) {
    T row[6];
    f43_input_1d<Ops>(r[i][0], r[i][1], r[i][2], r[i][3], r[i][4], r[i][5], row);
    for (int j = 0; j < 6; ++j) store(i * 6 + j, row[j]);
  }
}

// A^T s A + b of one tile's 36 products, columns first, then rows: store(i, j, value) for
// output pixel (i, j).
template <typename Ops, typename T, typename Store>
inline void f43_output_tile(const T (&s)[36], T b, Store store) {
  T r[4][6];
  for (int j = 0; j < 6; ++j) {
    T col[4];
    f43_output_1d<Ops>(s[j], s[6 + j], s[12 + j], s[18 + j], s[24 + j], s[30 + j], col);
    for (int i = 0; i < 4; ++i) r[i][j] = col[i];
  }
  for (int i = 0; i < 4; ++i) {
    T row[4];
    f43_output_1d<Ops>(r[i][0], r[i][1], r[i][2], r[i][3], r[i][4], r[i][5], row);
    for (int j = 0; j < 4; ++j) store(i, j, Ops::add(row[j], b));
  }
}

// The R x R output pixels of a tile: px[i][j] points at pixel (i, j)'s channels in the NHWC
// output of g.out_channels channels, null past the image.
template <int R = 2, typename T>
inline void tile_outputs(const ConvGeometry& g, T* y, int64_t tile, T* (&px)[R][R]) {
  const int64_t cout = g.out_channels, out_h = g.out_size[1], out_w = g.out_size[2];
  int64_t n, oh, ow;
  tile_origin<R>(g, tile, &n, &oh, &ow);
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < R; ++j)
      px[i][j] = oh + i < out_h && ow + j < out_w ? y + ((n * out_h + oh + i) * out_w + ow + j) * cout : nullptr;
}

// The (R+2) x (R+2) input window of a tile: px[i][j] points at pixel (i, j)'s channels (an
// NHWC image of g.in_channels channels), null where it falls in the pads or past the image.
// True when all of it lies inside.
template <int R = 2, typename T>
inline bool tile_window(const ConvGeometry& g, const T* x, int64_t tile, const T* (&px)[R + 2][R + 2]) {
  const int64_t cin = g.in_channels, in_h = g.in_size[1], in_w = g.in_size[2];
  int64_t n, oh, ow;
  tile_origin<R>(g, tile, &n, &oh, &ow);
  const int64_t ih0 = oh - g.pad_begin[1], iw0 = ow - g.pad_begin[2];
  bool inside = true;
  for (int i = 0; i < R + 2; ++i)
    for (int j = 0; j < R + 2; ++j) {
      const int64_t ih = ih0 + i, iw = iw0 + j;
      const bool in = ih >= 0 && ih < in_h && iw >= 0 && iw < in_w;
      px[i][j] = in ? x + ((n * in_h + ih) * in_w + iw) * cin : nullptr;
      inside = inside && in;
    }
  return inside;
}
}  // namespace winograd_detail

}  // namespace pare::rt::kernels
