// Pad kernels, by element width (the values are only copied). The padding mode is
// resolved at prepare time into per-axis tables indexed by output coordinate.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pare::rt::kernels {

constexpr size_t kPadMaxRank = 8;

// out[o_0, ..., o_r] = in[source[0][o_0], ..., source[r][o_r]], or *constant_value when
// any source index is negative. in_strides are element strides of the input;
// constant_value points to one element.
void x8_pad_ref__scalar(size_t rank, const int64_t* out_shape, const int64_t* in_strides,
                        const int64_t* const* source, const void* constant_value,
                        const void* input, void* output);
void x32_pad_ref__scalar(size_t rank, const int64_t* out_shape, const int64_t* in_strides,
                         const int64_t* const* source, const void* constant_value,
                         const void* input, void* output);
void x64_pad_ref__scalar(size_t rank, const int64_t* out_shape, const int64_t* in_strides,
                         const int64_t* const* source, const void* constant_value,
                         const void* input, void* output);

}  // namespace pare::rt::kernels
