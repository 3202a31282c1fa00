// Pooling kernels over NC[D]HW planes, and over N[D]HWC (channels last) pixels.
#pragma once

#include <cstdint>

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

}  // namespace pare::rt::kernels
