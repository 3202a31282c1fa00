// Int8 Winograd F(2x2, 3x3) convolution, channels last, exact in integers.
//
// For one-group 3x3 stride-1 dilation-1 Conv of uint8 X (zero point zx) by int8 W (zero
// point 0): with d = X - zx (0 in the pads and past the image), each tile's 16 transformed
// inputs V = B^T d B and each weight's U = G' w G'^T, G' = 2G = [[2,0,0], [1,1,1], [1,-1,1],
// [0,0,2]], are integers that fit int16 (|V| <= 4 * 255, |U| <= 9 * 128), and
// A^T (U . V) A = 4 * conv exactly. So the convolution becomes 16 products
// M_e [tiles, Cout] = V_e [tiles, Cin] * U_e [Cin, Cout] on int16 pairs with int32 sums,
// then the output transform, a division by 4 (exact), the bias and the requantization:
// the bytes equal the direct convolution's (qgemm.h's arithmetic), not an approximation.
// The int32 sums wrap modulo 2^32 where partial sums exceed int32; the final 4 * conv
// fits int32 while Cin <= kQ8WinogradMaxChannels, so the wrapped result is still exact.
//
// Why: where int8 products run on int16 operands anyway (AVX2 without VNNI: vpmaddwd, 16
// products per instruction; NEON without dot products: smlal), 2.25x fewer products are
// 2.25x fewer multiply instructions. With VNNI or sdot (four byte products per lane) int16
// operands would halve the rate for nothing.
//
// Tiles are numbered as in winograd.h (image by image, row by row). Layouts:
//   V_e: int16 rows of cin_pad = q8_winograd_cin_pad(Cin) channels (past Cin: any value),
//        row r of matrix e at v + e * matrix_stride + r * cin_pad;
//   U (packed at prepare): per e, ceil(Cout / 16) panels of cin_pad / 2 pairs of rows, each
//        16 columns x 2 int16 (vpmaddwd's operand order); rows past Cin and columns past
//        Cout are zero;
//   M_e: int32 rows of cout_pad = q8_winograd_cout_pad(Cout), at m + e * matrix_stride +
//        r * cout_pad.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/cpu.h"
#include "runtime/kernels/conv/conv.h"

namespace pare::rt::kernels {

// Input channels for which every result is exact (4 * 9 * Cin * 255 * 128 < 2^31).
constexpr int64_t kQ8WinogradMaxChannels = 1024;

inline size_t q8_winograd_cin_pad(int64_t cin) { return static_cast<size_t>((cin + 15) / 16 * 16); }
inline size_t q8_winograd_cout_pad(int64_t cout) { return static_cast<size_t>((cout + 15) / 16 * 16); }

// int16 elements of the packed U, and the packing from ONNX weights [Cout, Cin, 3, 3].
size_t q8_winograd_packed_weight_elements(int64_t cin, int64_t cout);
void q8_winograd_pack_weight(int64_t cin, int64_t cout, const int8_t* weight, int16_t* packed);

// V_e for tiles [tile_begin, tile_end); x holds uint8 bytes, or int8 ones when `flip` (read
// as byte xor 0x80, with zero_point given in that uint8 domain).
using Q8WinogradInputFn = void (*)(const ConvGeometry& g, const uint8_t* x, bool flip, int32_t zero_point,
                                   int64_t tile_begin, int64_t tile_end, int16_t* v, int64_t matrix_stride);
// M_e rows [0, rows) = V_e rows * U_e for one e: `packed` is U_e (the e-th block of the
// packed weights), v and m that matrix's first rows.
using Q8WinogradGemmFn = void (*)(size_t rows, size_t cin_pad, size_t cout, const int16_t* v,
                                  const int16_t* packed, int32_t* m);
// Output pixels of tiles [tile_begin, tile_end) = requantize((A^T m A) / 4 + bias) with the
// per-channel multipliers and shifts (bias, multipliers, shifts: cout_pad entries, zeros past
// Cout), clamped to [lo, hi] and stored as bytes; only pixels inside the output are written.
using Q8WinogradOutputFn = void (*)(const ConvGeometry& g, const int32_t* m, int64_t matrix_stride,
                                    const int32_t* bias, const int32_t* multipliers, const int32_t* shifts,
                                    int32_t y_zero_point, int32_t lo, int32_t hi, int64_t tile_begin,
                                    int64_t tile_end, uint8_t* y);

struct Q8WinogradVariant {
  Isa isa;
  const char* name;      // e.g. "q8_winograd_f23_6x16__avx2"
  const char* tile_isa;  // e.g. "6x16__avx2"
  Q8WinogradInputFn input;
  Q8WinogradGemmFn gemm;
  Q8WinogradOutputFn output;
};

void q8_winograd_f23_input_ref__scalar(const ConvGeometry& g, const uint8_t* x, bool flip, int32_t zero_point,
                                       int64_t tile_begin, int64_t tile_end, int16_t* v, int64_t matrix_stride);
void q8_winograd_f23_gemm_ref__scalar(size_t rows, size_t cin_pad, size_t cout, const int16_t* v,
                                      const int16_t* packed, int32_t* m);
void q8_winograd_f23_output_ref__scalar(const ConvGeometry& g, const int32_t* m, int64_t matrix_stride,
                                        const int32_t* bias, const int32_t* multipliers, const int32_t* shifts,
                                        int32_t y_zero_point, int32_t lo, int32_t hi, int64_t tile_begin,
                                        int64_t tile_end, uint8_t* y);
#if defined(__x86_64__)
void q8_winograd_f23_input_c16__avx2(const ConvGeometry& g, const uint8_t* x, bool flip, int32_t zero_point,
                                     int64_t tile_begin, int64_t tile_end, int16_t* v, int64_t matrix_stride);
void q8_winograd_f23_gemm_6x16__avx2(size_t rows, size_t cin_pad, size_t cout, const int16_t* v,
                                     const int16_t* packed, int32_t* m);
void q8_winograd_f23_output_c8__avx2(const ConvGeometry& g, const int32_t* m, int64_t matrix_stride,
                                     const int32_t* bias, const int32_t* multipliers, const int32_t* shifts,
                                     int32_t y_zero_point, int32_t lo, int32_t hi, int64_t tile_begin,
                                     int64_t tile_end, uint8_t* y);
#endif
#if defined(__aarch64__)
void q8_winograd_f23_input_c8__neon(const ConvGeometry& g, const uint8_t* x, bool flip, int32_t zero_point,
                                    int64_t tile_begin, int64_t tile_end, int16_t* v, int64_t matrix_stride);
void q8_winograd_f23_gemm_4x16__neon(size_t rows, size_t cin_pad, size_t cout, const int16_t* v,
                                     const int16_t* packed, int32_t* m);
void q8_winograd_f23_output_c8__neon(const ConvGeometry& g, const int32_t* m, int64_t matrix_stride,
                                     const int32_t* bias, const int32_t* multipliers, const int32_t* shifts,
                                     int32_t y_zero_point, int32_t lo, int32_t hi, int64_t tile_begin,
                                     int64_t tile_end, uint8_t* y);
#endif

// All variants built into this binary, best ISA first, the scalar reference last.
const Q8WinogradVariant* q8_winograd_variants(size_t* count);
// The best variant usable under the ISA cap (the reference at worst).
const Q8WinogradVariant& select_q8_winograd(Isa cap);

}  // namespace pare::rt::kernels
