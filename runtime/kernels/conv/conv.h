// Convolution kernels (Conv and ConvTranspose), float32, NC[D]HW layout.
#pragma once

#include <cstdint>

namespace pare::rt::kernels {

// Geometry of a grouped convolution with up to three spatial dims; 1-D and 2-D cases
// use leading spatial dims of size 1 (kernel 1, stride 1, dilation 1, pad 0).
struct ConvGeometry {
  int64_t batch = 1;
  int64_t groups = 1;
  int64_t in_channels = 0;   // over all groups
  int64_t out_channels = 0;  // over all groups
  int64_t in_size[3] = {1, 1, 1};
  int64_t out_size[3] = {1, 1, 1};
  int64_t kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t dilation[3] = {1, 1, 1};
  int64_t pad_begin[3] = {0, 0, 0};  // may be negative for ConvTranspose (extra output)
};

// Conv. weight: [out_channels, in_channels / groups, k0, k1, k2]; bias: [out_channels] or
// null. Writes the output planes [plane_begin, plane_end), plane = n * out_channels + oc.
void f32_conv_ref__scalar(const ConvGeometry& g, const float* input, const float* weight,
                          const float* bias, float* output, int64_t plane_begin, int64_t plane_end);

// ConvTranspose (the gradient of Conv: every input element scatters its kernel-weighted
// copy). weight: [in_channels, out_channels / groups, k0, k1, k2]; bias as above.
void f32_convtranspose_ref__scalar(const ConvGeometry& g, const float* input, const float* weight,
                                   const float* bias, float* output, int64_t plane_begin,
                                   int64_t plane_end);

}  // namespace pare::rt::kernels
