// Pooling kernels over NC[D]HW planes, and over N[D]HWC (channels last) pixels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/cpu.h"

namespace pare::rt::kernels {

// Window geometry with up to three spatial dims; 1-D and 2-D cases use leading dims of
// size 1 (kernel 1, stride 1, dilation 1, no pads).
struct PoolGeometry {
  int64_t in_size[3] = {1, 1, 1};
  int64_t out_size[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t dilation[3] = {1, 1, 1};
  int64_t pad_begin[3] = {0, 0, 0};
  int64_t pad_end[3] = {0, 0, 0};
};

// Max over the window taps inside the input (pads never win). Planes [plane_begin,
// plane_end) of the N*C planes.
void f32_maxpool_ref__scalar(const PoolGeometry& g, const float* input, float* output,
                             int64_t plane_begin, int64_t plane_end);
void u8_maxpool_ref__scalar(const PoolGeometry& g, const uint8_t* input, uint8_t* output,
                            int64_t plane_begin, int64_t plane_end);
void s8_maxpool_ref__scalar(const PoolGeometry& g, const int8_t* input, int8_t* output,
                            int64_t plane_begin, int64_t plane_end);

// Mean over the window taps inside the input; with count_include_pad the divisor also
// counts the taps that fall on pads (but not those past the pads, as a ceil-mode window may).
void f32_avgpool_ref__scalar(const PoolGeometry& g, bool count_include_pad, const float* input,
                             float* output, int64_t plane_begin, int64_t plane_end);

// Mean of each plane of plane_size elements, planes [plane_begin, plane_end).
void f32_global_avgpool_ref__scalar(int64_t plane_size, const float* input, float* output,
                                    int64_t plane_begin, int64_t plane_end);

// ---- Channels last ----
//
// Input [batch, in_size..., channels], output [batch, out_size..., channels]. The kernels
// write output pixels [pixel_begin, pixel_end), pixel = ((n * out_size[0] + o0) *
// out_size[1] + o1) * out_size[2] + o2, all channels of each; every channel sees the same
// taps in the same order as in the NC[D]HW kernels above, so results are identical.
void f32_maxpool_nhwc_ref__scalar(const PoolGeometry& g, int64_t channels, const float* input,
                                  float* output, int64_t pixel_begin, int64_t pixel_end);
void u8_maxpool_nhwc_ref__scalar(const PoolGeometry& g, int64_t channels, const uint8_t* input,
                                 uint8_t* output, int64_t pixel_begin, int64_t pixel_end);
void s8_maxpool_nhwc_ref__scalar(const PoolGeometry& g, int64_t channels, const int8_t* input,
                                 int8_t* output, int64_t pixel_begin, int64_t pixel_end);
void f32_avgpool_nhwc_ref__scalar(const PoolGeometry& g, int64_t channels, bool count_include_pad,
                                  const float* input, float* output, int64_t pixel_begin,
                                  int64_t pixel_end);

// Mean over the `pixels` pixels of an image for each channel: input [batch, pixels,
// channels], output [batch, channels]. Writes outputs [begin, end) of the batch * channels.
void f32_global_avgpool_nhwc_ref__scalar(int64_t pixels, int64_t channels, const float* input,
                                         float* output, int64_t begin, int64_t end);

// ---- Channels-last variants per ISA ----
//
// Vectorised over channels (one vector of `channel_block` channels at a time, the last block
// masked or finished in scalar code). Every channel takes the same taps in the same order and
// the same operations as the references above, so the outputs are bit-identical to them:
// max keeps the running value unless a tap compares greater (a NaN tap never wins), averages
// add the taps to a zero in tap order and divide once, and the global mean sums in double.
// Results do not depend on how the pixel or output ranges are split.
using F32MaxPoolNhwcFn = void (*)(const PoolGeometry& g, int64_t channels, const float* input,
                                  float* output, int64_t pixel_begin, int64_t pixel_end);
using F32AvgPoolNhwcFn = void (*)(const PoolGeometry& g, int64_t channels, bool count_include_pad,
                                  const float* input, float* output, int64_t pixel_begin,
                                  int64_t pixel_end);
using U8MaxPoolNhwcFn = void (*)(const PoolGeometry& g, int64_t channels, const uint8_t* input,
                                 uint8_t* output, int64_t pixel_begin, int64_t pixel_end);
using S8MaxPoolNhwcFn = void (*)(const PoolGeometry& g, int64_t channels, const int8_t* input,
                                 int8_t* output, int64_t pixel_begin, int64_t pixel_end);
using F32GlobalAvgPoolNhwcFn = void (*)(int64_t pixels, int64_t channels, const float* input,
                                        float* output, int64_t begin, int64_t end);

struct PoolNhwcVariant {
  Isa isa;
  int64_t channel_block;
  F32MaxPoolNhwcFn maxpool;
  const char* maxpool_name;  // e.g. "f32_maxpool_nhwc_c16__avx512"
  F32AvgPoolNhwcFn avgpool;
  const char* avgpool_name;
  F32GlobalAvgPoolNhwcFn global_avgpool;
  const char* global_avgpool_name;
  // 8-bit max pooling (quantized models), a whole vector of bytes per step.
  U8MaxPoolNhwcFn u8_maxpool;
  const char* u8_maxpool_name;  // e.g. "u8_maxpool_nhwc_c64__avx512"
  S8MaxPoolNhwcFn s8_maxpool;
  const char* s8_maxpool_name;
};

// All variants built into this binary, best ISA first, the scalar reference last.
const PoolNhwcVariant* pool_nhwc_variants(size_t* count);
// The best variant usable on this CPU with an ISA not above `cap` (the reference at worst).
const PoolNhwcVariant& select_pool_nhwc(Isa cap);

#if defined(__x86_64__)
void f32_maxpool_nhwc_c8__avx2(const PoolGeometry& g, int64_t channels, const float* input,
                               float* output, int64_t pixel_begin, int64_t pixel_end);
void f32_avgpool_nhwc_c8__avx2(const PoolGeometry& g, int64_t channels, bool count_include_pad,
                               const float* input, float* output, int64_t pixel_begin,
                               int64_t pixel_end);
void f32_global_avgpool_nhwc_c8__avx2(int64_t pixels, int64_t channels, const float* input,
                                      float* output, int64_t begin, int64_t end);
void u8_maxpool_nhwc_c32__avx2(const PoolGeometry& g, int64_t channels, const uint8_t* input,
                               uint8_t* output, int64_t pixel_begin, int64_t pixel_end);
void s8_maxpool_nhwc_c32__avx2(const PoolGeometry& g, int64_t channels, const int8_t* input,
                               int8_t* output, int64_t pixel_begin, int64_t pixel_end);
void f32_maxpool_nhwc_c16__avx512(const PoolGeometry& g, int64_t channels, const float* input,
                                  float* output, int64_t pixel_begin, int64_t pixel_end);
void f32_avgpool_nhwc_c16__avx512(const PoolGeometry& g, int64_t channels, bool count_include_pad,
                                  const float* input, float* output, int64_t pixel_begin,
                                  int64_t pixel_end);
void f32_global_avgpool_nhwc_c16__avx512(int64_t pixels, int64_t channels, const float* input,
                                         float* output, int64_t begin, int64_t end);
void u8_maxpool_nhwc_c64__avx512(const PoolGeometry& g, int64_t channels, const uint8_t* input,
                               uint8_t* output, int64_t pixel_begin, int64_t pixel_end);
void s8_maxpool_nhwc_c64__avx512(const PoolGeometry& g, int64_t channels, const int8_t* input,
                               int8_t* output, int64_t pixel_begin, int64_t pixel_end);
#endif
#if defined(__aarch64__)
void f32_maxpool_nhwc_c4__neon(const PoolGeometry& g, int64_t channels, const float* input,
                               float* output, int64_t pixel_begin, int64_t pixel_end);
void f32_avgpool_nhwc_c4__neon(const PoolGeometry& g, int64_t channels, bool count_include_pad,
                               const float* input, float* output, int64_t pixel_begin,
                               int64_t pixel_end);
void f32_global_avgpool_nhwc_c4__neon(int64_t pixels, int64_t channels, const float* input,
                                      float* output, int64_t begin, int64_t end);
void u8_maxpool_nhwc_c16__neon(const PoolGeometry& g, int64_t channels, const uint8_t* input,
                               uint8_t* output, int64_t pixel_begin, int64_t pixel_end);
void s8_maxpool_nhwc_c16__neon(const PoolGeometry& g, int64_t channels, const int8_t* input,
                               int8_t* output, int64_t pixel_begin, int64_t pixel_end);
#endif

namespace pool_detail {

// The taps of one window along one dim that fall inside the input: k in [*begin, *end) with
// 0 <= start + k * dilation < in_size. Returns the number of taps inside the pads (for
// count_include_pad: start + k * dilation in [-pad_begin, in_size + pad_end)).
int64_t valid_taps(int64_t start, int64_t in_size, int64_t kernel, int64_t dilation,
                   int64_t pad_begin, int64_t pad_end, int64_t* begin, int64_t* end);

// Tap window of output pixel `pixel` (index as in the channels-last kernels): the input image
// it reads, the first tap's coordinates, the valid tap ranges per dim, and the divisors.
struct PixelWindow {
  int64_t image = 0;
  int64_t start[3] = {0, 0, 0};
  int64_t tap_begin[3] = {0, 0, 0};
  int64_t tap_end[3] = {0, 0, 0};
  int64_t padded_taps[3] = {0, 0, 0};  // per dim, taps inside input or pads
  int64_t inside_count = 0;  // taps inside the input
  int64_t padded_count = 0;  // taps inside input or pads
};
void pixel_window(const PoolGeometry& g, int64_t pixel, PixelWindow* w);
// The same for the window whose first tap is at input coordinates `start` (3 values); leaves
// w->image alone.
void window_at(const PoolGeometry& g, const int64_t* start, PixelWindow* w);
// Steps w from its output pixel to the next one in the same row (the last dim), which must
// exist: only that dim's taps are counted again.
void next_in_row(const PoolGeometry& g, PixelWindow* w);

// Calls fn(pixel, window) for output pixels [begin, end) in order. Windows are stepped along
// each row instead of derived from the pixel's index (divisions per pixel took half of a
// 3x3 max pooling's time).
template <typename Fn>
void for_each_pixel_window(const PoolGeometry& g, int64_t begin, int64_t end, Fn fn) {
  PixelWindow w;
  const int64_t row = g.out_size[2];
  int64_t x = row > 0 ? begin % row : 0;
  for (int64_t p = begin; p < end; ++p, ++x) {
    if (p == begin || x == row) {
      if (x == row) x = 0;
      pixel_window(g, p, &w);
    } else {
      next_in_row(g, &w);
    }
    fn(p, static_cast<const PixelWindow&>(w));
  }
}

}  // namespace pool_detail

}  // namespace pare::rt::kernels
