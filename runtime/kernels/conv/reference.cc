// Direct convolution. NC[D]HW: every output plane accumulates, per input channel and
// kernel tap, a shifted and strided copy of the input plane scaled by that tap.
// Channels last: every output pixel accumulates, per tap and input channel, one row of
// packed weights scaled by the input value.
#include "runtime/kernels/conv/conv.h"

#include <algorithm>
#include <cstring>

namespace pare::rt::kernels {

namespace {

// The indices i in [0, count) with 0 <= i * stride + offset < limit, as [*begin, *end).
void valid_range(int64_t limit, int64_t count, int64_t stride, int64_t offset, int64_t* begin,
                 int64_t* end) {
  // In 128 bits: pads and strides from the file may put offset and stride near the ends of
  // int64 (prepare only bounds the output).
  using wide = __int128;
  const wide b = offset >= 0 ? 0 : (-wide{offset} + stride - 1) / stride;
  const wide last = wide{limit} - 1 - offset;  // i * stride <= last
  const wide e = last < 0 ? 0 : last / stride + 1;
  *begin = static_cast<int64_t>(std::min<wide>(b, count));
  *end = std::max(*begin, static_cast<int64_t>(std::min<wide>(e, count)));
}

void fill_bias(const float* bias, int64_t oc, float* plane, int64_t size) {
  std::fill(plane, plane + size, bias ? bias[oc] : 0.f);
}

}  // namespace

void f32_conv_ref__scalar(const ConvGeometry& g, const float* input, const float* weight,
                          const float* bias, float* output, int64_t plane_begin, int64_t plane_end) {
  const int64_t in_plane = g.in_size[0] * g.in_size[1] * g.in_size[2];
  const int64_t out_plane = g.out_size[0] * g.out_size[1] * g.out_size[2];
  const int64_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
  const int64_t ic_per_group = g.in_channels / g.groups;
  const int64_t oc_per_group = g.out_channels / g.groups;

  for (int64_t plane = plane_begin; plane < plane_end; ++plane) {
    const int64_t n = plane / g.out_channels, oc = plane % g.out_channels;
    const int64_t ic_first = (oc / oc_per_group) * ic_per_group;
    float* out = output + plane * out_plane;
    fill_bias(bias, oc, out, out_plane);

    for (int64_t icl = 0; icl < ic_per_group; ++icl) {
      const float* in = input + (n * g.in_channels + ic_first + icl) * in_plane;
      const float* w = weight + (oc * ic_per_group + icl) * taps;
      for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
        for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
          for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
            const float wv = w[(k0 * g.kernel[1] + k1) * g.kernel[2] + k2];
            const int64_t off0 = k0 * g.dilation[0] - g.pad_begin[0];
            const int64_t off1 = k1 * g.dilation[1] - g.pad_begin[1];
            const int64_t off2 = k2 * g.dilation[2] - g.pad_begin[2];
            int64_t o0b, o0e, o1b, o1e, o2b, o2e;
            valid_range(g.in_size[0], g.out_size[0], g.stride[0], off0, &o0b, &o0e);
            valid_range(g.in_size[1], g.out_size[1], g.stride[1], off1, &o1b, &o1e);
            valid_range(g.in_size[2], g.out_size[2], g.stride[2], off2, &o2b, &o2e);
            for (int64_t o0 = o0b; o0 < o0e; ++o0) {
              const int64_t i0 = o0 * g.stride[0] + off0;
              for (int64_t o1 = o1b; o1 < o1e; ++o1) {
                const int64_t i1 = o1 * g.stride[1] + off1;
                const float* in_row = in + (i0 * g.in_size[1] + i1) * g.in_size[2];
                float* out_row = out + (o0 * g.out_size[1] + o1) * g.out_size[2];
                for (int64_t o2 = o2b; o2 < o2e; ++o2)
                  out_row[o2] += wv * in_row[o2 * g.stride[2] + off2];
              }
            }
          }
        }
      }
    }
  }
}

void f32_convtranspose_ref__scalar(const ConvGeometry& g, const float* input, const float* weight,
                                   const float* bias, float* output, int64_t plane_begin,
                                   int64_t plane_end) {
  const int64_t in_plane = g.in_size[0] * g.in_size[1] * g.in_size[2];
  const int64_t out_plane = g.out_size[0] * g.out_size[1] * g.out_size[2];
  const int64_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
  const int64_t ic_per_group = g.in_channels / g.groups;
  const int64_t oc_per_group = g.out_channels / g.groups;

  for (int64_t plane = plane_begin; plane < plane_end; ++plane) {
    const int64_t n = plane / g.out_channels, oc = plane % g.out_channels;
    const int64_t group = oc / oc_per_group, ocl = oc % oc_per_group;
    float* out = output + plane * out_plane;
    fill_bias(bias, oc, out, out_plane);

    for (int64_t icl = 0; icl < ic_per_group; ++icl) {
      const int64_t ic = group * ic_per_group + icl;
      const float* in = input + (n * g.in_channels + ic) * in_plane;
      const float* w = weight + (ic * oc_per_group + ocl) * taps;
      for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
        for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
          for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
            const float wv = w[(k0 * g.kernel[1] + k1) * g.kernel[2] + k2];
            // Input index i lands on output index i * stride + off.
            const int64_t off0 = k0 * g.dilation[0] - g.pad_begin[0];
            const int64_t off1 = k1 * g.dilation[1] - g.pad_begin[1];
            const int64_t off2 = k2 * g.dilation[2] - g.pad_begin[2];
            int64_t i0b, i0e, i1b, i1e, i2b, i2e;
            valid_range(g.out_size[0], g.in_size[0], g.stride[0], off0, &i0b, &i0e);
            valid_range(g.out_size[1], g.in_size[1], g.stride[1], off1, &i1b, &i1e);
            valid_range(g.out_size[2], g.in_size[2], g.stride[2], off2, &i2b, &i2e);
            for (int64_t i0 = i0b; i0 < i0e; ++i0) {
              const int64_t o0 = i0 * g.stride[0] + off0;
              for (int64_t i1 = i1b; i1 < i1e; ++i1) {
                const int64_t o1 = i1 * g.stride[1] + off1;
                const float* in_row = in + (i0 * g.in_size[1] + i1) * g.in_size[2];
                float* out_row = out + (o0 * g.out_size[1] + o1) * g.out_size[2];
                for (int64_t i2 = i2b; i2 < i2e; ++i2)
                  out_row[i2 * g.stride[2] + off2] += wv * in_row[i2];
              }
            }
          }
        }
      }
    }
  }
}

int64_t f32_conv_nhwc_packed_weight_floats(const ConvGeometry& g) {
  return g.out_channels * (g.in_channels / g.groups) * g.kernel[0] * g.kernel[1] * g.kernel[2];
}

void f32_conv_nhwc_pack_weight(const ConvGeometry& g, const float* weight, float* packed) {
  const int64_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
  const int64_t ic_per_group = g.in_channels / g.groups;
  const int64_t oc_per_group = g.out_channels / g.groups;
  for (int64_t group = 0; group < g.groups; ++group)
    for (int64_t tap = 0; tap < taps; ++tap)
      for (int64_t icl = 0; icl < ic_per_group; ++icl)
        for (int64_t ocl = 0; ocl < oc_per_group; ++ocl) {
          const int64_t oc = group * oc_per_group + ocl;
          packed[((group * taps + tap) * ic_per_group + icl) * oc_per_group + ocl] =
              weight[(oc * ic_per_group + icl) * taps + tap];
        }
}

void f32_conv_nhwc_ref__scalar(const ConvGeometry& g, const float* input, const float* packed_weight,
                               const float* bias, float* output, int64_t pixel_begin,
                               int64_t pixel_end) {
  const int64_t out_pixels = g.out_size[0] * g.out_size[1] * g.out_size[2];
  const int64_t in_pixels = g.in_size[0] * g.in_size[1] * g.in_size[2];
  const int64_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
  const int64_t ic_per_group = g.in_channels / g.groups;
  const int64_t oc_per_group = g.out_channels / g.groups;

  for (int64_t pixel = pixel_begin; pixel < pixel_end; ++pixel) {
    const int64_t n = pixel / out_pixels, o = pixel % out_pixels;
    const int64_t o0 = o / (g.out_size[1] * g.out_size[2]);
    const int64_t o1 = o / g.out_size[2] % g.out_size[1];
    const int64_t o2 = o % g.out_size[2];
    const float* image = input + n * in_pixels * g.in_channels;
    float* out = output + pixel * g.out_channels;
    for (int64_t oc = 0; oc < g.out_channels; ++oc) out[oc] = bias ? bias[oc] : 0.f;

    for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
      const int64_t i0 = o0 * g.stride[0] + k0 * g.dilation[0] - g.pad_begin[0];
      if (i0 < 0 || i0 >= g.in_size[0]) continue;
      for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
        const int64_t i1 = o1 * g.stride[1] + k1 * g.dilation[1] - g.pad_begin[1];
        if (i1 < 0 || i1 >= g.in_size[1]) continue;
        for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
          const int64_t i2 = o2 * g.stride[2] + k2 * g.dilation[2] - g.pad_begin[2];
          if (i2 < 0 || i2 >= g.in_size[2]) continue;
          const int64_t tap = (k0 * g.kernel[1] + k1) * g.kernel[2] + k2;
          const float* in = image + ((i0 * g.in_size[1] + i1) * g.in_size[2] + i2) * g.in_channels;
          for (int64_t group = 0; group < g.groups; ++group) {
            const float* in_group = in + group * ic_per_group;
            const float* w = packed_weight + (group * taps + tap) * ic_per_group * oc_per_group;
            float* out_group = out + group * oc_per_group;
            for (int64_t icl = 0; icl < ic_per_group; ++icl) {
              const float xv = in_group[icl];
              const float* w_row = w + icl * oc_per_group;
              for (int64_t ocl = 0; ocl < oc_per_group; ++ocl) out_group[ocl] += xv * w_row[ocl];
            }
          }
        }
      }
    }
  }
}

void f32_conv_nhwc_indirection(const ConvGeometry& g, const float* input, const float* zeros,
                               int64_t pixel_begin, int64_t pixel_end, const float** runs,
                               float* gathered) {
  // The geometry in locals: the copies below may alias anything, so fields read through `g`
  // would be loaded again after every copy.
  const int64_t out0 = g.out_size[0], out1 = g.out_size[1], out2 = g.out_size[2];
  const int64_t in0_size = g.in_size[0], in1_size = g.in_size[1], in2_size = g.in_size[2];
  const int64_t kernel0 = g.kernel[0], kernel1 = g.kernel[1], kernel2 = g.kernel[2];
  const int64_t stride0 = g.stride[0], stride1 = g.stride[1], stride2 = g.stride[2];
  const int64_t dilation0 = g.dilation[0], dilation1 = g.dilation[1], dilation2 = g.dilation[2];
  const int64_t pad0 = g.pad_begin[0], pad1 = g.pad_begin[1], pad2 = g.pad_begin[2];
  const int64_t out_pixels = out0 * out1 * out2;
  const int64_t in_pixels = in0_size * in1_size * in2_size;
  const int64_t channels = g.in_channels;
  const int64_t runs_per_row = kernel0 * kernel1;
  const size_t channel_bytes = static_cast<size_t>(channels) * sizeof(float);
  // A stretch of output pixels along the last dim at a time: each kernel row's input line
  // is found once per stretch, and the pixels' runs then step along it.
  for (int64_t pixel = pixel_begin; pixel < pixel_end;) {
    const int64_t n = pixel / out_pixels, o = pixel % out_pixels;
    const int64_t o0 = o / (out1 * out2), o1 = o / out2 % out1, o2_begin = o % out2;
    const int64_t count = std::min(pixel_end - pixel, out2 - o2_begin);
    const float* image = input + n * in_pixels * channels;
    for (int64_t k0 = 0; k0 < kernel0; ++k0) {
      const int64_t i0 = o0 * stride0 + k0 * dilation0 - pad0;
      for (int64_t k1 = 0; k1 < kernel1; ++k1) {
        const int64_t i1 = o1 * stride1 + k1 * dilation1 - pad1;
        const float** out = runs + k0 * kernel1 + k1;
        if (i0 < 0 || i0 >= in0_size || i1 < 0 || i1 >= in1_size) {
          for (int64_t c = 0; c < count; ++c) out[c * runs_per_row] = zeros;
          continue;
        }
        const float* line = image + (i0 * in1_size + i1) * in2_size * channels;
        for (int64_t c = 0; c < count; ++c) {
          const int64_t first = (o2_begin + c) * stride2 - pad2;
          // Undilated taps of a kernel row all inside the input are one contiguous run of
          // input pixels, read where it is. (Written so that hostile sizes cannot overflow.)
          if (dilation2 == 1 && first >= 0 && first <= in2_size - kernel2) {
            out[c * runs_per_row] = line + first * channels;
            continue;
          }
          out[c * runs_per_row] = gathered;
          for (int64_t k2 = 0; k2 < kernel2; ++k2) {
            const int64_t i2 = first + k2 * dilation2;
            if (i2 >= 0 && i2 < in2_size)
              std::memcpy(gathered, line + i2 * channels, channel_bytes);
            else
              std::memset(gathered, 0, channel_bytes);
            gathered += channels;
          }
        }
      }
    }
    runs += count * runs_per_row;
    pixel += count;
  }
}

void f32_conv_nhwc_tap_indirection(const ConvGeometry& g, const float* input, const float* zeros,
                                   int64_t pixel_begin, int64_t pixel_end, const float** runs) {
  const int64_t out1 = g.out_size[1], out2 = g.out_size[2];
  const int64_t out_pixels = g.out_size[0] * out1 * out2;
  const int64_t in_pixels = g.in_size[0] * g.in_size[1] * g.in_size[2];
  const int64_t channels = g.in_channels;
  for (int64_t pixel = pixel_begin; pixel < pixel_end; ++pixel) {
    const int64_t n = pixel / out_pixels, o = pixel % out_pixels;
    const int64_t o0 = o / (out1 * out2), o1 = o / out2 % out1, o2 = o % out2;
    const float* image = input + n * in_pixels * channels;
    for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
      const int64_t i0 = o0 * g.stride[0] + k0 * g.dilation[0] - g.pad_begin[0];
      const bool in0 = i0 >= 0 && i0 < g.in_size[0];
      for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
        const int64_t i1 = o1 * g.stride[1] + k1 * g.dilation[1] - g.pad_begin[1];
        const bool in1 = in0 && i1 >= 0 && i1 < g.in_size[1];
        for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
          const int64_t i2 = o2 * g.stride[2] + k2 * g.dilation[2] - g.pad_begin[2];
          *runs++ = in1 && i2 >= 0 && i2 < g.in_size[2]
                        ? image + ((i0 * g.in_size[1] + i1) * g.in_size[2] + i2) * channels
                        : zeros;
        }
      }
    }
  }
}

}  // namespace pare::rt::kernels
