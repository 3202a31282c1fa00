// Resize kernels, any rank: nearest for float32 and 8-bit data, linear for float32. The coordinate transformation and rounding are
// resolved at prepare time into per-axis tables indexed by output coordinate.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pare::rt::kernels {

constexpr size_t kResizeMaxRank = 8;

// Nearest: out[o_0, ..., o_r] = in[index[0][o_0], ..., index[r][o_r]].
// in_strides are element strides of the input.
void f32_resize_nearest_ref__scalar(size_t rank, const int64_t* out_shape,
                                    const int64_t* in_strides, const int64_t* const* index,
                                    const float* input, float* output);
// The same for 8-bit elements (quantized data: nearest moves values, never changes them).
void x8_resize_nearest_ref__scalar(size_t rank, const int64_t* out_shape,
                                   const int64_t* in_strides, const int64_t* const* index,
                                   const uint8_t* input, uint8_t* output);

// Linear along one axis: output coordinate o reads (1 - weight[o]) * in[lo[o]] +
// weight[o] * in[hi[o]]; lo[o] < 0 marks a coordinate outside the input (the whole
// output element is then `extrapolation`). An axis with interpolate == false only
// reads lo (it is not resized, or its coordinates all land on input samples).
struct LinearAxis {
  const int64_t* lo = nullptr;
  const int64_t* hi = nullptr;
  const float* weight = nullptr;
  bool interpolate = false;
};

// Multilinear: the weighted sum over the 2^k corners of the k interpolated axes.
void f32_resize_linear_ref__scalar(size_t rank, const int64_t* out_shape,
                                   const int64_t* in_strides, const LinearAxis* axes,
                                   float extrapolation, const float* input, float* output);

// Two adjacent interpolated axes (H and W of NCHW or NHWC) and every other axis read in
// place, none outside the input: the general loop's products and sums in its order, so the
// same bytes, without its per-element coordinate walk. Only where
// f32_resize_bilinear_applies (checked once, at prepare).
bool f32_resize_bilinear_applies(size_t rank, const int64_t* out_shape, const int64_t* in_strides,
                                 const LinearAxis* axes);
void f32_resize_bilinear__scalar(size_t rank, const int64_t* out_shape, const int64_t* in_strides,
                                 const LinearAxis* axes, const float* input, float* output);

}  // namespace pare::rt::kernels
