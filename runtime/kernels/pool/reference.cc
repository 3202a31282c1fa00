#include "runtime/kernels/pool/pool.h"

#include <limits>

namespace pare::rt::kernels {

namespace {

// Calls fn(out_index, s0, s1, s2) for every output position of one plane, s* being the
// input coordinates of the window's first tap (negative when it starts in the pads).
template <typename Fn>
void for_each_window(const PoolGeometry& g, Fn fn) {
  int64_t out_index = 0;
  for (int64_t o0 = 0; o0 < g.out_size[0]; ++o0)
    for (int64_t o1 = 0; o1 < g.out_size[1]; ++o1)
      for (int64_t o2 = 0; o2 < g.out_size[2]; ++o2) {
        const int64_t s0 = o0 * g.stride[0] - g.pad_begin[0];
        const int64_t s1 = o1 * g.stride[1] - g.pad_begin[1];
        const int64_t s2 = o2 * g.stride[2] - g.pad_begin[2];
        fn(out_index++, s0, s1, s2);
      }
}

// Input coordinates of the first tap of the window of output position o of one image.
void window_origin(const PoolGeometry& g, int64_t o, int64_t* s) {
  const int64_t o0 = o / (g.out_size[1] * g.out_size[2]);
  const int64_t o1 = o / g.out_size[2] % g.out_size[1];
  const int64_t o2 = o % g.out_size[2];
  s[0] = o0 * g.stride[0] - g.pad_begin[0];
  s[1] = o1 * g.stride[1] - g.pad_begin[1];
  s[2] = o2 * g.stride[2] - g.pad_begin[2];
}

bool inside(int64_t i, int64_t size) { return i >= 0 && i < size; }
bool inside_pads(int64_t i, int64_t size, int64_t pad_begin, int64_t pad_end) {
  return i >= -pad_begin && i < size + pad_end;
}

template <typename T>
void maxpool(const PoolGeometry& g, const T* input, T* output, int64_t plane_begin,
             int64_t plane_end) {
  const int64_t in_plane = g.in_size[0] * g.in_size[1] * g.in_size[2];
  const int64_t out_plane = g.out_size[0] * g.out_size[1] * g.out_size[2];
  for (int64_t p = plane_begin; p < plane_end; ++p) {
    const T* in = input + p * in_plane;
    T* out = output + p * out_plane;
    for_each_window(g, [&](int64_t o, int64_t s0, int64_t s1, int64_t s2) {
      T best = std::numeric_limits<T>::lowest();
      if (std::numeric_limits<T>::has_infinity) best = -std::numeric_limits<T>::infinity();
      for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
        const int64_t i0 = s0 + k0 * g.dilation[0];
        if (!inside(i0, g.in_size[0])) continue;
        for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
          const int64_t i1 = s1 + k1 * g.dilation[1];
          if (!inside(i1, g.in_size[1])) continue;
          for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
            const int64_t i2 = s2 + k2 * g.dilation[2];
            if (!inside(i2, g.in_size[2])) continue;
            const T v = in[(i0 * g.in_size[1] + i1) * g.in_size[2] + i2];
            if (v > best) best = v;
          }
        }
      }
      out[o] = best;
    });
  }
}

template <typename T>
void maxpool_nhwc(const PoolGeometry& g, int64_t channels, const T* input, T* output,
                  int64_t pixel_begin, int64_t pixel_end) {
  const int64_t in_pixels = g.in_size[0] * g.in_size[1] * g.in_size[2];
  const int64_t out_pixels = g.out_size[0] * g.out_size[1] * g.out_size[2];
  T lowest = std::numeric_limits<T>::lowest();
  if (std::numeric_limits<T>::has_infinity) lowest = -std::numeric_limits<T>::infinity();
  for (int64_t p = pixel_begin; p < pixel_end; ++p) {
    const T* image = input + p / out_pixels * in_pixels * channels;
    T* out = output + p * channels;
    int64_t s[3];
    window_origin(g, p % out_pixels, s);
    for (int64_t c = 0; c < channels; ++c) out[c] = lowest;
    for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
      const int64_t i0 = s[0] + k0 * g.dilation[0];
      if (!inside(i0, g.in_size[0])) continue;
      for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
        const int64_t i1 = s[1] + k1 * g.dilation[1];
        if (!inside(i1, g.in_size[1])) continue;
        for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
          const int64_t i2 = s[2] + k2 * g.dilation[2];
          if (!inside(i2, g.in_size[2])) continue;
          const T* in = image + ((i0 * g.in_size[1] + i1) * g.in_size[2] + i2) * channels;
          for (int64_t c = 0; c < channels; ++c)
            if (in[c] > out[c]) out[c] = in[c];
        }
      }
    }
  }
}

}  // namespace

void f32_maxpool_ref__scalar(const PoolGeometry& g, const float* input, float* output,
                             int64_t plane_begin, int64_t plane_end) {
  maxpool(g, input, output, plane_begin, plane_end);
}

void u8_maxpool_ref__scalar(const PoolGeometry& g, const uint8_t* input, uint8_t* output,
                            int64_t plane_begin, int64_t plane_end) {
  maxpool(g, input, output, plane_begin, plane_end);
}

void s8_maxpool_ref__scalar(const PoolGeometry& g, const int8_t* input, int8_t* output,
                            int64_t plane_begin, int64_t plane_end) {
  maxpool(g, input, output, plane_begin, plane_end);
}

void f32_avgpool_ref__scalar(const PoolGeometry& g, bool count_include_pad, const float* input,
                             float* output, int64_t plane_begin, int64_t plane_end) {
  const int64_t in_plane = g.in_size[0] * g.in_size[1] * g.in_size[2];
  const int64_t out_plane = g.out_size[0] * g.out_size[1] * g.out_size[2];
  for (int64_t p = plane_begin; p < plane_end; ++p) {
    const float* in = input + p * in_plane;
    float* out = output + p * out_plane;
    for_each_window(g, [&](int64_t o, int64_t s0, int64_t s1, int64_t s2) {
      float sum = 0.f;
      int64_t inside_count = 0, padded_count = 0;
      for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
        const int64_t i0 = s0 + k0 * g.dilation[0];
        for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
          const int64_t i1 = s1 + k1 * g.dilation[1];
          for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
            const int64_t i2 = s2 + k2 * g.dilation[2];
            if (inside_pads(i0, g.in_size[0], g.pad_begin[0], g.pad_end[0]) &&
                inside_pads(i1, g.in_size[1], g.pad_begin[1], g.pad_end[1]) &&
                inside_pads(i2, g.in_size[2], g.pad_begin[2], g.pad_end[2]))
              ++padded_count;
            if (inside(i0, g.in_size[0]) && inside(i1, g.in_size[1]) && inside(i2, g.in_size[2])) {
              sum += in[(i0 * g.in_size[1] + i1) * g.in_size[2] + i2];
              ++inside_count;
            }
          }
        }
      }
      const int64_t divisor = count_include_pad ? padded_count : inside_count;
      out[o] = divisor > 0 ? sum / static_cast<float>(divisor) : 0.f;
    });
  }
}

void f32_global_avgpool_ref__scalar(int64_t plane_size, const float* input, float* output,
                                    int64_t plane_begin, int64_t plane_end) {
  for (int64_t p = plane_begin; p < plane_end; ++p) {
    const float* in = input + p * plane_size;
    double sum = 0.0;
    for (int64_t i = 0; i < plane_size; ++i) sum += in[i];
    output[p] = static_cast<float>(sum / static_cast<double>(plane_size));
  }
}

void f32_maxpool_nhwc_ref__scalar(const PoolGeometry& g, int64_t channels, const float* input,
                                  float* output, int64_t pixel_begin, int64_t pixel_end) {
  maxpool_nhwc(g, channels, input, output, pixel_begin, pixel_end);
}

void u8_maxpool_nhwc_ref__scalar(const PoolGeometry& g, int64_t channels, const uint8_t* input,
                                 uint8_t* output, int64_t pixel_begin, int64_t pixel_end) {
  maxpool_nhwc(g, channels, input, output, pixel_begin, pixel_end);
}

void s8_maxpool_nhwc_ref__scalar(const PoolGeometry& g, int64_t channels, const int8_t* input,
                                 int8_t* output, int64_t pixel_begin, int64_t pixel_end) {
  maxpool_nhwc(g, channels, input, output, pixel_begin, pixel_end);
}

void f32_avgpool_nhwc_ref__scalar(const PoolGeometry& g, int64_t channels, bool count_include_pad,
                                  const float* input, float* output, int64_t pixel_begin,
                                  int64_t pixel_end) {
  const int64_t in_pixels = g.in_size[0] * g.in_size[1] * g.in_size[2];
  const int64_t out_pixels = g.out_size[0] * g.out_size[1] * g.out_size[2];
  for (int64_t p = pixel_begin; p < pixel_end; ++p) {
    const float* image = input + p / out_pixels * in_pixels * channels;
    float* out = output + p * channels;
    int64_t s[3];
    window_origin(g, p % out_pixels, s);
    for (int64_t c = 0; c < channels; ++c) out[c] = 0.f;
    int64_t inside_count = 0, padded_count = 0;
    for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
      const int64_t i0 = s[0] + k0 * g.dilation[0];
      for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
        const int64_t i1 = s[1] + k1 * g.dilation[1];
        for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
          const int64_t i2 = s[2] + k2 * g.dilation[2];
          if (inside_pads(i0, g.in_size[0], g.pad_begin[0], g.pad_end[0]) &&
              inside_pads(i1, g.in_size[1], g.pad_begin[1], g.pad_end[1]) &&
              inside_pads(i2, g.in_size[2], g.pad_begin[2], g.pad_end[2]))
            ++padded_count;
          if (inside(i0, g.in_size[0]) && inside(i1, g.in_size[1]) && inside(i2, g.in_size[2])) {
            const float* in = image + ((i0 * g.in_size[1] + i1) * g.in_size[2] + i2) * channels;
            for (int64_t c = 0; c < channels; ++c) out[c] += in[c];
            ++inside_count;
          }
        }
      }
    }
    const int64_t divisor = count_include_pad ? padded_count : inside_count;
    for (int64_t c = 0; c < channels; ++c)
      out[c] = divisor > 0 ? out[c] / static_cast<float>(divisor) : 0.f;
  }
}

void f32_global_avgpool_nhwc_ref__scalar(int64_t pixels, int64_t channels, const float* input,
                                         float* output, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float* in = input + i / channels * pixels * channels + i % channels;
    double sum = 0.0;
    for (int64_t p = 0; p < pixels; ++p) sum += in[p * channels];
    output[i] = static_cast<float>(sum / static_cast<double>(pixels));
  }
}

namespace pool_detail {

int64_t valid_taps(int64_t start, int64_t in_size, int64_t kernel, int64_t dilation,
                   int64_t pad_begin, int64_t pad_end, int64_t* begin, int64_t* end) {
  int64_t b = kernel, e = 0, padded = 0;
  for (int64_t k = 0; k < kernel; ++k) {
    const int64_t i = start + k * dilation;
    if (inside_pads(i, in_size, pad_begin, pad_end)) ++padded;
    if (inside(i, in_size)) {
      if (b == kernel) b = k;
      e = k + 1;
    }
  }
  *begin = b < e ? b : 0;
  *end = b < e ? e : 0;
  return padded;
}

void pixel_window(const PoolGeometry& g, int64_t pixel, PixelWindow* w) {
  const int64_t out_pixels = g.out_size[0] * g.out_size[1] * g.out_size[2];
  w->image = pixel / out_pixels;
  window_origin(g, pixel % out_pixels, w->start);
  w->inside_count = 1;
  w->padded_count = 1;
  for (int d = 0; d < 3; ++d) {
    w->padded_count *= valid_taps(w->start[d], g.in_size[d], g.kernel[d], g.dilation[d],
                                  g.pad_begin[d], g.pad_end[d], &w->tap_begin[d], &w->tap_end[d]);
    w->inside_count *= w->tap_end[d] - w->tap_begin[d];
  }
}

}  // namespace pool_detail

namespace {

const PoolNhwcVariant kPoolNhwcVariants[] = {
#if defined(__x86_64__)
    {Isa::kAvx512, 16, f32_maxpool_nhwc_c16__avx512, "f32_maxpool_nhwc_c16__avx512",
     f32_avgpool_nhwc_c16__avx512, "f32_avgpool_nhwc_c16__avx512",
     f32_global_avgpool_nhwc_c16__avx512, "f32_global_avgpool_nhwc_c16__avx512"},
    {Isa::kAvx2, 8, f32_maxpool_nhwc_c8__avx2, "f32_maxpool_nhwc_c8__avx2",
     f32_avgpool_nhwc_c8__avx2, "f32_avgpool_nhwc_c8__avx2", f32_global_avgpool_nhwc_c8__avx2,
     "f32_global_avgpool_nhwc_c8__avx2"},
#endif
#if defined(__aarch64__)
    {Isa::kNeon, 4, f32_maxpool_nhwc_c4__neon, "f32_maxpool_nhwc_c4__neon",
     f32_avgpool_nhwc_c4__neon, "f32_avgpool_nhwc_c4__neon", f32_global_avgpool_nhwc_c4__neon,
     "f32_global_avgpool_nhwc_c4__neon"},
#endif
    {Isa::kScalar, 1, f32_maxpool_nhwc_ref__scalar, "f32_maxpool_nhwc_ref__scalar",
     f32_avgpool_nhwc_ref__scalar, "f32_avgpool_nhwc_ref__scalar",
     f32_global_avgpool_nhwc_ref__scalar, "f32_global_avgpool_nhwc_ref__scalar"},
};

}  // namespace

const PoolNhwcVariant* pool_nhwc_variants(size_t* count) {
  *count = sizeof(kPoolNhwcVariants) / sizeof(kPoolNhwcVariants[0]);
  return kPoolNhwcVariants;
}

const PoolNhwcVariant& select_pool_nhwc(Isa cap) {
  for (const PoolNhwcVariant& v : kPoolNhwcVariants)
    if (isa_usable(v.isa, cap)) return v;
  return kPoolNhwcVariants[sizeof(kPoolNhwcVariants) / sizeof(kPoolNhwcVariants[0]) - 1];
}

}  // namespace pare::rt::kernels
