// Int8 depthwise 2-D convolution, NHWC: one filter per channel (group == in == out channels).
//
// Arithmetic (exact, identical for every variant; see quant/requant.h), per output (oy, ox, c):
//   acc = bias[c] + sum_taps (x(tap, c) - x_zero_point) * w(tap, c)                (int32)
//   y   = requantize(acc, rq[c], y_zero_point, lo, hi)                              (a byte)
// Taps outside the input read x_zero_point (a real zero). The input is read as uint8 (an
// int8 tensor is passed as its bytes xor 0x80 with x_zero_point + 128).
//
// Use: prepare fills QDwConvParams, picks select_qdwconv(isa, params), packs weights, bias and
// requantization with qdwconv_pack into qdwconv_packed_bytes(...) bytes (64-byte aligned);
// run calls variant.fn for any split of the output rows: results do not depend on the split.
// A batch runs image by image.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/cpu.h"
#include "runtime/kernels/quant/requant.h"

namespace pare::rt::kernels {

// One image. Input element (y, x, c) is input[(y * in_w + x) * in_pixel_stride + c]; output
// element likewise with out_pixel_stride. Window of output (oy, ox): input rows
// oy * stride_h - pad_top + ky * dilation_h, columns likewise.
struct QDwConvParams {
  int64_t channels = 0;
  int64_t in_h = 0, in_w = 0;
  int64_t out_h = 0, out_w = 0;
  int64_t kernel_h = 0, kernel_w = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // >= 0
  int64_t in_pixel_stride = 0;        // bytes, >= channels
  int64_t out_pixel_stride = 0;       // bytes, >= channels
  int32_t x_zero_point = 0;           // uint8 domain
  int32_t y_zero_point = 0;
  int32_t lo = 0, hi = 255;           // output clamp (dtype range and fused Relu/Clip)
};

// The plain reference the variants are tested against. weight: ONNX layout [C, 1, kh, kw]
// int8; bias [C] int32 or null; rq [C].
void qdwconv_ref__scalar(const QDwConvParams& p, const uint8_t* input, const int8_t* weight,
                         const int32_t* bias, const Requant* rq, uint8_t* output, int64_t oh_begin,
                         int64_t oh_end);

using QDwConvFn = void (*)(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end);

struct QDwConvVariant {
  const char* name;  // "q8_dwconv_3x3s1__avx512vnni"
  QDwConvFn fn;
  Isa isa;
  int64_t channel_block;
  int64_t kernel;  // 0: any kernel, stride and dilation; else kernel x kernel, stride `stride`, dilation 1
  int64_t stride;
};

const QDwConvVariant* qdwconv_variants(size_t* count);
// The fastest variant under the ISA cap that accepts p (the scalar generic one always does).
const QDwConvVariant& select_qdwconv(Isa isa, const QDwConvParams& p);

// Whether the variant takes the shape of p (kernel, stride, dilation).
bool qdwconv_variant_accepts(const QDwConvVariant& v, const QDwConvParams& p);

// Packed layout, per block of channel_block channels (the channels past `channels` in the last
// block get zero weights and a zero multiplier): int32 bias[cb] (x_zero_point folded in), int32
// multiplier[cb], int32 shift[cb], then for each tap t = ky * kernel_w + kx the cb weights of
// that tap: int16 for the NEON variants, int32 (sign-extended) for the others.
// The fixed-shape AVX-512 VNNI variants (channel_block 64) use a vpdpbusd layout instead:
// per block, in lane order (lane 16q + 4L + i stands for channel 16L + 4q + i of the block),
// int32 bias[64], multiplier[64], shift[64], then groups g = kx * G + h (G = (kernel + 3) / 4)
// of 64 x 4 int8 weights: lane n's four bytes are the taps (4h + j, kx), j = 0..3, 0 past the
// kernel's rows. A block of at most 32 channels (a narrow layer's, or the last of a layer
// whose channels are not a multiple of 64) is packed with channels 32..63 repeating 0..31:
// the high half of each vector then computes a second output pixel instead of idling.
size_t qdwconv_packed_bytes(const QDwConvVariant& v, int64_t channels, int64_t kernel_h, int64_t kernel_w);
// Folds x_zero_point into the bias (bias[c] - x_zero_point * sum of w(., c)) as the variant needs.
// The packed bytes depend on p only through channels, kernel size and x_zero_point.
void qdwconv_pack(const QDwConvVariant& v, const QDwConvParams& p, const int8_t* weight,
                  const int32_t* bias, const Requant* rq, void* packed);

// Variants (packed with their channel_block): any kernel, plain C++, blocks of 16 channels.
void q8_dwconv_kxk__scalar(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);

#if defined(__x86_64__)
// channel_block 64 for the fixed-shape VNNI variants, 16 for the others.
void q8_dwconv_3x3s1__avx512vnni(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_3x3s2__avx512vnni(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_5x5s1__avx512vnni(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_5x5s2__avx512vnni(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_kxk__avx512vnni(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_3x3s1__avx512(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_3x3s2__avx512(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_5x5s1__avx512(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_5x5s2__avx512(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_kxk__avx512(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
// channel_block 8.
void q8_dwconv_3x3s1__avx2(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_3x3s2__avx2(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_5x5s1__avx2(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_5x5s2__avx2(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_kxk__avx2(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
#endif

#if defined(__aarch64__)
// channel_block 16, int16 weights.
void q8_dwconv_3x3s1__neon(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_3x3s2__neon(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_5x5s1__neon(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_5x5s2__neon(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
void q8_dwconv_kxk__neon(const QDwConvParams&, const uint8_t*, const void*, uint8_t*, int64_t, int64_t);
#endif

namespace qdwconv_detail {

// Bytes of one packed channel block.
int64_t block_bytes(int64_t channel_block, int64_t taps, int64_t weight_bytes);

// Bytes of one packed 64-channel block of the vpdpbusd layout with `groups` weight groups.
inline int64_t dot4_block_bytes(int64_t groups) { return 64 * (3 * 4 + groups * 4); }

// The output columns [*begin, *end) whose windows lie inside the input horizontally.
void interior_columns(const QDwConvParams& p, int64_t* begin, int64_t* end);

// For a window starting at input row (or column) i0: the taps [*begin, *end) inside the input.
void valid_taps(int64_t i0, int64_t in_size, int64_t kernel, int64_t dilation, int64_t* begin,
                int64_t* end);

}  // namespace qdwconv_detail

}  // namespace pare::rt::kernels
