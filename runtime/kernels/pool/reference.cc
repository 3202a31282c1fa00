#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
#include "runtime/kernels/pool/pool.h"

#include <algorithm>
#include <limits>

namespace pare::rt::kernels {

namespace {

// Calls fn(out_index, s) for every output position of one plane, s being the input
// coordinates of the window's first tap (3 values, negative when it starts in the pads).
template <typename Fn>
void for_each_window(const PoolGeometry& g, Fn fn) {
  int64_t out_index = 0;
  for (int64_t o0 = 0; o0 < g.out_size[0]; ++o0)
    for (int64_t o1 = 0; o1 < g.out_size[1]; ++o1)
      for (int64_t o2 = 0; o2 < g.out_size[2]; ++o2) {
        const int64_t s[3] = {o0 * g.stride[0] - g.pad_begin[0], o1 * g.stride[1] - g.pad_begin[1],
                              o2 * g.stride[2] - g.pad_begin[2]};
        fn(out_index++, s);
      }
}

// Calls tap(input_index) for the taps of the window at `s` that fall inside the input, in
// row-major order (input_index in pixels of one image plane); only those taps are visited, so
// a window mostly in the pads costs what it reads.
template <typename Fn>
void for_each_tap(const PoolGeometry& g, const int64_t* s, Fn tap) {
  pool_detail::PixelWindow w;
  pool_detail::window_at(g, s, &w);
  for (int64_t k0 = w.tap_begin[0]; k0 < w.tap_end[0]; ++k0) {
    const int64_t i0 = s[0] + k0 * g.dilation[0];
    for (int64_t k1 = w.tap_begin[1]; k1 < w.tap_end[1]; ++k1) {
      const int64_t i1 = s[1] + k1 * g.dilation[1];
      for (int64_t k2 = w.tap_begin[2]; k2 < w.tap_end[2]; ++k2)
        tap((i0 * g.in_size[1] + i1) * g.in_size[2] + s[2] + k2 * g.dilation[2]);
    }
  }
}

// The divisor of an average over the window at `s`.
int64_t average_divisor(const PoolGeometry& g, const int64_t* s, bool count_include_pad) {
  pool_detail::PixelWindow w;
  pool_detail::window_at(g, s, &w);
  return count_include_pad ? w.padded_count : w.inside_count;
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

template <typename T>
void maxpool(const PoolGeometry& g, const T* input, T* output, int64_t plane_begin,
             int64_t plane_end) {
  const int64_t in_plane = g.in_size[0] * g.in_size[1] * g.in_size[2];
  const int64_t out_plane = g.out_size[0] * g.out_size[1] * g.out_size[2];
  for (int64_t p = plane_begin; p < plane_end; ++p) {
    const T* in = input + p * in_plane;
    T* out = output + p * out_plane;
    for_each_window(g, [&](int64_t o, const int64_t* s) {
      T best = std::numeric_limits<T>::lowest();
      if (std::numeric_limits<T>::has_infinity) best = -std::numeric_limits<T>::infinity();
      for_each_tap(g, s, [&](int64_t i) {
        if (in[i] > best) best = in[i];
      });
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
    for_each_tap(g, s, [&](int64_t i) {
      const T* in = image + i * channels;
      for (int64_t c = 0; c < channels; ++c)
        if (in[c] > out[c]) out[c] = in[c];
    });
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
    for_each_window(g, [&](int64_t o, const int64_t* s) {
      float sum = 0.f;
      for_each_tap(g, s, [&](int64_t i) { sum += in[i]; });
      const int64_t divisor = average_divisor(g, s, count_include_pad);
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
    for_each_tap(g, s, [&](int64_t i) {
      const float* in = image + i * channels;
      for (int64_t c = 0; c < channels; ++c) out[c] += in[c];
    });
    const int64_t divisor = average_divisor(g, s, count_include_pad);
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

namespace {

// The k in [0, kernel) with lo <= start + k * dilation < hi, as [*begin, *end), computed in
// I. Counting instead of walking the taps keeps a huge window cheap.
template <class I>
void taps_between_in(I start, I lo, I hi, I kernel, I dilation, int64_t* begin, int64_t* end) {
  const I last = hi - 1 - start;  // k * dilation <= last
  I first, stop;
  if (dilation == 1) {
    first = start >= lo ? 0 : lo - start;
    stop = last < 0 ? 0 : last + 1;
  } else {
    first = start >= lo ? 0 : (lo - start + dilation - 1) / dilation;
    stop = last < 0 ? 0 : last / dilation + 1;
  }
  const I b = std::min<I>(first, kernel), e = std::min<I>(stop, kernel);
  *begin = b < e ? static_cast<int64_t>(b) : 0;
  *end = b < e ? static_cast<int64_t>(e) : 0;
}

// Pads and kernel sizes come from the file and may be near 2^63 (prepare bounds only the
// output): such windows are counted in 128 bits. Below 2^60 every sum above fits int64, which
// divides several times faster than a 128-bit call (per output pixel of a pooling kernel,
// 128-bit divisions took most of the time).
void taps_between(int64_t start, int64_t lo, int64_t hi, int64_t kernel, int64_t dilation, int64_t* begin,
                  int64_t* end) {
  constexpr int64_t kSmall = int64_t{1} << 60;
  const auto small = [](int64_t v) { return v > -kSmall && v < kSmall; };
  if (small(start) && small(lo) && small(hi) && small(dilation)) {
    taps_between_in<int64_t>(start, lo, hi, kernel, dilation, begin, end);
  } else {
    taps_between_in<__int128>(start, lo, hi, kernel, dilation, begin, end);
  }
}

}  // namespace

int64_t valid_taps(int64_t start, int64_t in_size, int64_t kernel, int64_t dilation,
                   int64_t pad_begin, int64_t pad_end, int64_t* begin, int64_t* end) {
  taps_between(start, 0, in_size, kernel, dilation, begin, end);
  int64_t padded_begin = 0, padded_end = 0;
  // -pad_begin and in_size + pad_end fit: prepare checked in_size + pad_begin + pad_end.
  taps_between(start, -pad_begin, in_size + pad_end, kernel, dilation, &padded_begin, &padded_end);
  return padded_end - padded_begin;
}

namespace {

// Dim d's tap ranges of the window starting at w->start[d].
void count_taps(const PoolGeometry& g, int d, PixelWindow* w) {
  w->padded_taps[d] = valid_taps(w->start[d], g.in_size[d], g.kernel[d], g.dilation[d], g.pad_begin[d],
                                 g.pad_end[d], &w->tap_begin[d], &w->tap_end[d]);
}

// The window's counts from its per-dim ranges. They multiply to at most the window's taps,
// which prepare checked fit in int64.
void multiply_counts(PixelWindow* w) {
  w->inside_count = 1;
  w->padded_count = 1;
  for (int d = 0; d < 3; ++d) {
    w->padded_count *= w->padded_taps[d];
    w->inside_count *= w->tap_end[d] - w->tap_begin[d];
  }
}

}  // namespace

void window_at(const PoolGeometry& g, const int64_t* start, PixelWindow* w) {
  for (int d = 0; d < 3; ++d) {
    w->start[d] = start[d];
    count_taps(g, d, w);
  }
  multiply_counts(w);
}

void next_in_row(const PoolGeometry& g, PixelWindow* w) {
  // The next pixel's start is window_origin's for it, so it fits as that one does.
  w->start[2] += g.stride[2];
  count_taps(g, 2, w);
  multiply_counts(w);
}

void pixel_window(const PoolGeometry& g, int64_t pixel, PixelWindow* w) {
  const int64_t out_pixels = g.out_size[0] * g.out_size[1] * g.out_size[2];
  w->image = pixel / out_pixels;
  int64_t start[3];
  window_origin(g, pixel % out_pixels, start);
  window_at(g, start, w);
}

}  // namespace pool_detail

namespace {

constexpr PoolNhwcVariant kReference = {
    Isa::kScalar, 1, f32_maxpool_nhwc_ref__scalar, "f32_maxpool_nhwc_ref__scalar",
    f32_avgpool_nhwc_ref__scalar, "f32_avgpool_nhwc_ref__scalar",
    f32_global_avgpool_nhwc_ref__scalar, "f32_global_avgpool_nhwc_ref__scalar",
    u8_maxpool_nhwc_ref__scalar, "u8_maxpool_nhwc_ref__scalar",
    s8_maxpool_nhwc_ref__scalar, "s8_maxpool_nhwc_ref__scalar"};

const PoolNhwcVariant kPoolNhwcVariants[] = {
#if PARE_KERNELS_AVX512
    {Isa::kAvx512, 16, f32_maxpool_nhwc_c16__avx512, "f32_maxpool_nhwc_c16__avx512",
     f32_avgpool_nhwc_c16__avx512, "f32_avgpool_nhwc_c16__avx512",
     f32_global_avgpool_nhwc_c16__avx512, "f32_global_avgpool_nhwc_c16__avx512",
     u8_maxpool_nhwc_c64__avx512, "u8_maxpool_nhwc_c64__avx512",
     s8_maxpool_nhwc_c64__avx512, "s8_maxpool_nhwc_c64__avx512"},
#endif
#if PARE_KERNELS_AVX2
    {Isa::kAvx2, 8, f32_maxpool_nhwc_c8__avx2, "f32_maxpool_nhwc_c8__avx2",
     f32_avgpool_nhwc_c8__avx2, "f32_avgpool_nhwc_c8__avx2", f32_global_avgpool_nhwc_c8__avx2,
     "f32_global_avgpool_nhwc_c8__avx2", u8_maxpool_nhwc_c32__avx2, "u8_maxpool_nhwc_c32__avx2",
     s8_maxpool_nhwc_c32__avx2, "s8_maxpool_nhwc_c32__avx2"},
#endif
#if PARE_KERNELS_NEON
    {Isa::kNeon, 4, f32_maxpool_nhwc_c4__neon, "f32_maxpool_nhwc_c4__neon",
     f32_avgpool_nhwc_c4__neon, "f32_avgpool_nhwc_c4__neon", f32_global_avgpool_nhwc_c4__neon,
     "f32_global_avgpool_nhwc_c4__neon", u8_maxpool_nhwc_c16__neon, "u8_maxpool_nhwc_c16__neon",
     s8_maxpool_nhwc_c16__neon, "s8_maxpool_nhwc_c16__neon"},
#endif
    kReference,
};

}  // namespace

const PoolNhwcVariant* pool_nhwc_variants(size_t* count) {
  if constexpr (!kernel_family_selected("f32_pool")) {
    *count = 1;
    return &kReference;
  }
  *count = sizeof(kPoolNhwcVariants) / sizeof(kPoolNhwcVariants[0]);
  return kPoolNhwcVariants;
}

const PoolNhwcVariant& select_pool_nhwc(Isa cap) {
  note_kernel_family("f32_pool");
  size_t count = 0;
  const PoolNhwcVariant* all = pool_nhwc_variants(&count);
  const PoolNhwcVariant* best = best_usable_variant(all, count, false, cap);
  return best ? *best : kReference;
}

}  // namespace pare::rt::kernels
