// Depthwise 2-D convolution kernels, float32, NHWC (channels last): one filter per channel
// (group == in channels == out channels, channel multiplier 1).
//
// Use:
//   prepare: fill DwConvParams, check dwconv_fuses_activation(), pick a variant with
//            select_dwconv(isa, params), allocate dwconv_packed_floats(...) floats (64-byte
//            aligned preferred) and fill them with dwconv_pack(...) using the variant's
//            channel_block.
//   run:     variant.fn(params, input, packed, output, oh_begin, oh_end) for any split of the
//            output rows [0, out_h) (e.g. one range per thread): every row is computed the same
//            way whatever the split, so results do not depend on the thread count. A batch
//            runs image by image (input + n * in_h * in_w * in_pixel_stride, likewise output).
// Variants per ISA: 3x3, 5x5 and 7x7 windows at stride 1 and 2 (dilation 1), and kxk for
// every other shape (any kernel size, strides, dilations); the scalar reference takes all.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/cpu.h"
#include "runtime/types.h"

namespace pare::rt::kernels {

// One image. Input element (y, x, c) is input[(y * in_w + x) * in_pixel_stride + c] and
// output element (y, x, c) is output[(y * out_w + x) * out_pixel_stride + c]; the strides may
// exceed `channels`, so a channel slice of a wider tensor can be read or written in place
// (elements between `channels` and the stride are neither read nor written).
// Window of output (oy, ox): input rows oy * stride_h - pad_top + ky * dilation_h for
// ky < kernel_h, columns likewise; taps outside the input read zeros. The bottom and right
// pads are implied by out_h and out_w (see dwconv_output_size).
struct DwConvParams {
  int64_t channels = 0;
  int64_t in_h = 0, in_w = 0;
  int64_t out_h = 0, out_w = 0;
  int64_t kernel_h = 0, kernel_w = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // >= 0
  int64_t in_pixel_stride = 0;        // floats from one input pixel to the next, >= channels
  int64_t out_pixel_stride = 0;       // floats from one output pixel to the next, >= channels
  // Applied to each output after the bias; see dwconv_fuses_activation.
  FusedActivation activation;
};

// floor((in + pad_begin + pad_end - dilation * (kernel - 1) - 1) / stride) + 1 (ONNX Conv).
int64_t dwconv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                           int64_t pad_begin, int64_t pad_end);

// The kernels fuse kNone, kRelu, kClip (p0 = min, p1 = max) and kHardSwish. For other kinds,
// run the kernel with kNone and apply the activation to the output afterwards.
bool dwconv_fuses_activation(ActivationKind kind);

// Packed weights: for each block of channel_block channels, channel_block biases, then for
// each tap t = ky * kernel_w + kx the channel_block weights of that tap; channels past
// `channels` in the last block are zeros. Size in floats:
size_t dwconv_packed_floats(int64_t channels, int64_t kernel_h, int64_t kernel_w,
                            int64_t channel_block);
// weight: ONNX layout [channels, 1, kernel_h, kernel_w]; bias: [channels] or null (zeros).
void dwconv_pack(int64_t channels, int64_t kernel_h, int64_t kernel_w, int64_t channel_block,
                 const float* weight, const float* bias, float* packed);

// Computes output rows [oh_begin, oh_end) of one image. input and output must not overlap.
// Preconditions (checked at prepare, not here): the variant accepts the params
// (dwconv_variant_accepts), dwconv_fuses_activation(params.activation.kind), packed was
// made with the variant's channel_block.
using DwConvFn = void (*)(const DwConvParams& params, const float* input, const float* packed,
                          float* output, int64_t oh_begin, int64_t oh_end);

struct DwConvVariant {
  const char* name;      // full kernel name, e.g. "f32_dwconv_3x3s1__avx512"
  const char* tile_isa;  // the part after "f32_dwconv_", e.g. "3x3s1__avx512", for
                         // composing names with an activation suffix
  DwConvFn fn;
  Isa isa;
  int64_t channel_block;  // for dwconv_pack
  // Shapes taken: kernel == 0 takes every kernel size, stride and dilation; otherwise
  // kernel x kernel windows with stride `stride` in both dims and dilation 1.
  int64_t kernel;
  int64_t stride;
};

// Every variant compiled for this architecture (usable here or not), reference last.
const DwConvVariant* dwconv_variants(size_t* count);
bool dwconv_variant_accepts(const DwConvVariant& variant, const DwConvParams& params);
// The fastest variant usable under the ISA cap (isa_usable) that accepts the params; the
// reference takes every shape, so there always is one.
const DwConvVariant& select_dwconv(Isa cap, const DwConvParams& params);

// Plain loops, packed with channel_block 1 (per channel: bias, then the taps).
void f32_dwconv_ref__scalar(const DwConvParams& params, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end);

#if defined(__x86_64__)
// channel_block 8.
void f32_dwconv_3x3s1__avx2(const DwConvParams&, const float*, const float*, float*, int64_t,
                            int64_t);
void f32_dwconv_3x3s2__avx2(const DwConvParams&, const float*, const float*, float*, int64_t,
                            int64_t);
void f32_dwconv_5x5s1__avx2(const DwConvParams&, const float*, const float*, float*, int64_t,
                            int64_t);
void f32_dwconv_5x5s2__avx2(const DwConvParams&, const float*, const float*, float*, int64_t,
                            int64_t);
void f32_dwconv_7x7s1__avx2(const DwConvParams&, const float*, const float*, float*, int64_t,
                            int64_t);
void f32_dwconv_7x7s2__avx2(const DwConvParams&, const float*, const float*, float*, int64_t,
                            int64_t);
void f32_dwconv_kxk__avx2(const DwConvParams&, const float*, const float*, float*, int64_t,
                          int64_t);
// channel_block 16.
void f32_dwconv_3x3s1__avx512(const DwConvParams&, const float*, const float*, float*, int64_t,
                              int64_t);
void f32_dwconv_3x3s2__avx512(const DwConvParams&, const float*, const float*, float*, int64_t,
                              int64_t);
void f32_dwconv_5x5s1__avx512(const DwConvParams&, const float*, const float*, float*, int64_t,
                              int64_t);
void f32_dwconv_5x5s2__avx512(const DwConvParams&, const float*, const float*, float*, int64_t,
                              int64_t);
void f32_dwconv_7x7s1__avx512(const DwConvParams&, const float*, const float*, float*, int64_t,
                              int64_t);
void f32_dwconv_7x7s2__avx512(const DwConvParams&, const float*, const float*, float*, int64_t,
                              int64_t);
void f32_dwconv_kxk__avx512(const DwConvParams&, const float*, const float*, float*, int64_t,
                            int64_t);
#endif

#if defined(__aarch64__)
// channel_block 4.
void f32_dwconv_3x3s1__neon(const DwConvParams&, const float*, const float*, float*, int64_t,
                            int64_t);
void f32_dwconv_3x3s2__neon(const DwConvParams&, const float*, const float*, float*, int64_t,
                            int64_t);
void f32_dwconv_5x5s1__neon(const DwConvParams&, const float*, const float*, float*, int64_t,
                            int64_t);
void f32_dwconv_5x5s2__neon(const DwConvParams&, const float*, const float*, float*, int64_t,
                            int64_t);
void f32_dwconv_7x7s1__neon(const DwConvParams&, const float*, const float*, float*, int64_t,
                            int64_t);
void f32_dwconv_7x7s2__neon(const DwConvParams&, const float*, const float*, float*, int64_t,
                            int64_t);
void f32_dwconv_kxk__neon(const DwConvParams&, const float*, const float*, float*, int64_t,
                          int64_t);
#endif

namespace dwconv_detail {

// The output columns [*begin, *end) whose windows lie inside the input horizontally
// (0 <= *begin <= *end <= out_w); the columns before and after have taps in the pads.
void interior_columns(const DwConvParams& params, int64_t* begin, int64_t* end);

// For an output row whose window starts at input row iy0 = oy * stride_h - pad_top: the taps
// [*begin, *end) of the kernel_h rows that fall inside the input.
void valid_taps(int64_t iy0, int64_t in_size, int64_t kernel, int64_t dilation, int64_t* begin,
                int64_t* end);

// Lower and upper clamp of the fused activation for kNone, kRelu and kClip (infinite where
// unbounded); HardSwish is x * clamp(x / 6 + 1/2, 0, 1).
void clamp_bounds(const FusedActivation& activation, float* lo, float* hi);

}  // namespace dwconv_detail

}  // namespace pare::rt::kernels
