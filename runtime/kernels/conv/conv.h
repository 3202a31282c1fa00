// Convolution kernels (Conv and ConvTranspose), float32: NC[D]HW layout, and Conv in
// N[D]HWC layout (channels last).
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

// ---- Conv, channels last ----
//
// Input [batch, in_size..., in_channels], output [batch, out_size..., out_channels]
// (ConvGeometry's leading spatial dims of size 1 cover 1-D and 2-D). A pixel is one
// spatial position of one image: pixel = ((n * out_size[0] + o0) * out_size[1] + o1) *
// out_size[2] + o2 for the output.

// Floats of the packed weight: out_channels * in_channels / groups * taps.
int64_t f32_conv_nhwc_packed_weight_floats(const ConvGeometry& g);

// Reorders ONNX weights [out_channels, in_channels / groups, k0, k1, k2] into
// [groups, k0, k1, k2, in_channels / groups, out_channels / groups]: for one tap and one
// input channel, the weights of all output channels of its group are contiguous.
void f32_conv_nhwc_pack_weight(const ConvGeometry& g, const float* weight, float* packed);

// Direct convolution: each output pixel starts from the bias (or zero) and accumulates,
// tap by tap and input channel by input channel, x * packed weight row. Writes output
// pixels [pixel_begin, pixel_end) (all channels of each).
void f32_conv_nhwc_ref__scalar(const ConvGeometry& g, const float* input, const float* packed_weight,
                               const float* bias, float* output, int64_t pixel_begin,
                               int64_t pixel_end);

// Lowers group-1 Conv to a matrix product without copying the input: A row r (output pixel
// pixel_begin + r) holds the input channels under each tap in tap order (k0, k1, k2), zeros
// where the tap falls in the pads, as f32_conv_nhwc_runs_per_row(g) runs of
// kernel[2] * in_channels floats, one per (k0, k1). Writes the runs' starts to `runs` (row r's
// run q at runs[r * runs_per_row + q], the form of F32GemmArgs::a_runs): a run whose taps all
// fall in the input (dilation 1 along the last dim) points into `input`, one in a row of pads
// at `zeros` (kernel[2] * in_channels zeros), and any other is gathered into `gathered`, which
// needs room for at most (pixel_end - pixel_begin) * taps * in_channels floats. With the
// weights of f32_conv_nhwc_pack_weight as B [taps * in_channels, out_channels], output =
// A * B + bias.
inline int64_t f32_conv_nhwc_runs_per_row(const ConvGeometry& g) { return g.kernel[0] * g.kernel[1]; }
void f32_conv_nhwc_indirection(const ConvGeometry& g, const float* input, const float* zeros,
                               int64_t pixel_begin, int64_t pixel_end, const float** runs,
                               float* gathered);

// The same for a grouped Conv, one run per tap: row r's run t (runs[r * taps + t], taps =
// kernel[0] * kernel[1] * kernel[2], in tap order) points at channel 0 of the input pixel under
// tap t, or at `zeros` (in_channels zeros) where the tap falls in the pads. Group j's A rows
// are then these runs, each advanced by j * in_channels / groups, of in_channels / groups
// floats: a pad run stays inside `zeros`. Nothing is copied.
void f32_conv_nhwc_tap_indirection(const ConvGeometry& g, const float* input, const float* zeros,
                                   int64_t pixel_begin, int64_t pixel_end, const float** runs);

// Winograd F(2x2, 3x3) transforms: kernels/winograd/winograd.h.

}  // namespace pare::rt::kernels
