// Channels-last pooling loops shared by the per-ISA kernels, written over a vector type V (a
// simd::F32x* struct, see simd/x86_avx2.h). V::max is `tap > acc ? tap : acc` per lane, the
// reference's comparison (a NaN tap never replaces acc); averages are taken over kWidth double
// sums (V::F64Sum). Included only by the per-ISA .cc files.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "runtime/kernels/pool/pool.h"

namespace pare::rt::kernels::pool_nhwc_impl {

using pool_detail::PixelWindow;

// Calls fn(offset) for the window's taps inside the input, in the reference order; offset is
// the tap's first float from the start of its image.
template <typename Fn>
inline void for_each_tap(const PoolGeometry& g, const PixelWindow& w, int64_t channels, Fn fn) {
  for (int64_t k0 = w.tap_begin[0]; k0 < w.tap_end[0]; ++k0) {
    const int64_t i0 = w.start[0] + k0 * g.dilation[0];
    for (int64_t k1 = w.tap_begin[1]; k1 < w.tap_end[1]; ++k1) {
      const int64_t i1 = w.start[1] + k1 * g.dilation[1];
      const int64_t row = (i0 * g.in_size[1] + i1) * g.in_size[2];
      for (int64_t k2 = w.tap_begin[2]; k2 < w.tap_end[2]; ++k2) {
        const int64_t i2 = w.start[2] + k2 * g.dilation[2];
        fn((row + i2) * channels);
      }
    }
  }
}

template <typename V>
void maxpool(const PoolGeometry& g, int64_t channels, const float* input, float* output,
             int64_t pixel_begin, int64_t pixel_end) {
  using R = typename V::R;
  constexpr int64_t W = V::kWidth;
  const int64_t in_pixels = g.in_size[0] * g.in_size[1] * g.in_size[2];
  pool_detail::for_each_pixel_window(g, pixel_begin, pixel_end, [&](int64_t p, const PixelWindow& w) {
    const float* image = input + w.image * in_pixels * channels;
    float* out = output + p * channels;
    int64_t c = 0;
    // Four vectors per pass over the taps: independent chains and fewer tap loops.
    for (; c + 4 * W <= channels; c += 4 * W) {
      R a0 = V::set1(-__builtin_inff()), a1 = a0, a2 = a0, a3 = a0;
      for_each_tap(g, w, channels, [&](int64_t offset) {
        const float* in = image + offset + c;
        a0 = V::max(V::load(in), a0);
        a1 = V::max(V::load(in + W), a1);
        a2 = V::max(V::load(in + 2 * W), a2);
        a3 = V::max(V::load(in + 3 * W), a3);
      });
      V::store(out + c, a0);
      V::store(out + c + W, a1);
      V::store(out + c + 2 * W, a2);
      V::store(out + c + 3 * W, a3);
    }
    for (; c + W <= channels; c += W) {
      R a = V::set1(-__builtin_inff());
      for_each_tap(g, w, channels, [&](int64_t offset) {
        a = V::max(V::load(image + offset + c), a);
      });
      V::store(out + c, a);
    }
    if (c < channels) {
      const auto lanes = V::first_lanes(channels - c);
      R a = V::set1(-__builtin_inff());
      for_each_tap(g, w, channels, [&](int64_t offset) {
        a = V::max(V::load_partial(image + offset + c, lanes), a);
      });
      V::store_partial(out + c, lanes, a);
    }
  });
}

template <typename V>
void avgpool(const PoolGeometry& g, int64_t channels, bool count_include_pad, const float* input,
             float* output, int64_t pixel_begin, int64_t pixel_end) {
  using R = typename V::R;
  constexpr int64_t W = V::kWidth;
  const int64_t in_pixels = g.in_size[0] * g.in_size[1] * g.in_size[2];
  pool_detail::for_each_pixel_window(g, pixel_begin, pixel_end, [&](int64_t p, const PixelWindow& w) {
    const float* image = input + w.image * in_pixels * channels;
    float* out = output + p * channels;
    const int64_t divisor = count_include_pad ? w.padded_count : w.inside_count;
    // The reference writes 0 rather than 0 / 0 for a window with nothing to count.
    const auto mean = [&](R sum) {
      return divisor > 0 ? V::div(sum, V::set1(static_cast<float>(divisor))) : V::zero();
    };
    int64_t c = 0;
    for (; c + 4 * W <= channels; c += 4 * W) {
      R s0 = V::zero(), s1 = s0, s2 = s0, s3 = s0;
      for_each_tap(g, w, channels, [&](int64_t offset) {
        const float* in = image + offset + c;
        s0 = V::add(s0, V::load(in));
        s1 = V::add(s1, V::load(in + W));
        s2 = V::add(s2, V::load(in + 2 * W));
        s3 = V::add(s3, V::load(in + 3 * W));
      });
      V::store(out + c, mean(s0));
      V::store(out + c + W, mean(s1));
      V::store(out + c + 2 * W, mean(s2));
      V::store(out + c + 3 * W, mean(s3));
    }
    for (; c + W <= channels; c += W) {
      R s = V::zero();
      for_each_tap(g, w, channels,
                   [&](int64_t offset) { s = V::add(s, V::load(image + offset + c)); });
      V::store(out + c, mean(s));
    }
    if (c < channels) {
      const auto lanes = V::first_lanes(channels - c);
      R s = V::zero();
      for_each_tap(g, w, channels, [&](int64_t offset) {
        s = V::add(s, V::load_partial(image + offset + c, lanes));
      });
      V::store_partial(out + c, lanes, mean(s));
    }
  });
}

// The means of channels [c, c + Z * kWidth) of one image: one walk over its pixels in
// memory order with Z vectors of double sums side by side, where a walk per vector read the
// image once per vector at a stride (EfficientNet-B0's first squeeze-and-excitation pool,
// 112x112x32: 75 us, ORT 30 us). Each channel still sums pixel 0 to pixels - 1, so the bytes
// do not depend on Z.
template <typename V, int Z>
void channel_means(int64_t pixels, int64_t channels, const float* image, float* out) {
  constexpr int64_t W = V::kWidth;
  typename V::F64Sum acc[Z];
  // Unrolled, so that the sums stay in registers.
#pragma GCC unroll 4
  for (int z = 0; z < Z; ++z) acc[z] = V::sum_zero();
  for (int64_t p = 0; p < pixels; ++p) {
    const float* row = image + p * channels;
#pragma GCC unroll 4
    for (int z = 0; z < Z; ++z) acc[z] = V::sum_add(acc[z], V::load(row + z * W));
  }
#pragma GCC unroll 4
  for (int z = 0; z < Z; ++z) V::store(out + z * W, V::sum_mean(acc[z], pixels));
}

// Outputs [begin, end) of batch * channels; each image's share is walked in blocks of up to
// four channel vectors, every channel summing the pixels in order into double sums.
template <typename V>
void global_avgpool(int64_t pixels, int64_t channels, const float* input, float* output,
                    int64_t begin, int64_t end) {
  constexpr int64_t W = V::kWidth;
  for (int64_t i = begin; i < end;) {
    const int64_t n = i / channels;
    const int64_t c_end = std::min(channels, end - n * channels);
    const float* image = input + n * pixels * channels;
    float* out = output + n * channels;
    int64_t c = i - n * channels;
    for (; c + 4 * W <= c_end; c += 4 * W) channel_means<V, 4>(pixels, channels, image + c, out + c);
    switch ((c_end - c) / W) {
      case 3: channel_means<V, 3>(pixels, channels, image + c, out + c); break;
      case 2: channel_means<V, 2>(pixels, channels, image + c, out + c); break;
      case 1: channel_means<V, 1>(pixels, channels, image + c, out + c); break;
      default: break;
    }
    c += (c_end - c) / W * W;
    if (c < c_end) {
      const auto lanes = V::first_lanes(c_end - c);
      typename V::F64Sum acc = V::sum_zero();
      for (int64_t p = 0; p < pixels; ++p)
        acc = V::sum_add(acc, V::load_partial(image + p * channels + c, lanes));
      V::store_partial(out + c, lanes, V::sum_mean(acc, pixels));
    }
    i = n * channels + c_end;
  }
}

// Max pooling of 8-bit values (T = uint8_t or int8_t) over a byte vector type B (defined in
// each per-ISA file): B::kWidth bytes per vector, B::load / B::store unaligned, B::max<T>
// the lane-wise max of the T lanes. Integer max is exact, so the outputs equal the
// reference's whatever the order; channels past the last whole vector run lane by lane.
template <typename B, typename T>
void maxpool_bytes(const PoolGeometry& g, int64_t channels, const T* input, T* output,
                   int64_t pixel_begin, int64_t pixel_end) {
  using R = typename B::R;
  constexpr int64_t W = B::kWidth;
  constexpr T kLowest = std::numeric_limits<T>::lowest();
  const int64_t in_pixels = g.in_size[0] * g.in_size[1] * g.in_size[2];
  pool_detail::for_each_pixel_window(g, pixel_begin, pixel_end, [&](int64_t p, const PixelWindow& w) {
    const T* image = input + w.image * in_pixels * channels;
    T* out = output + p * channels;
    int64_t c = 0;
    for (; c + 2 * W <= channels; c += 2 * W) {
      R a0 = B::set1(kLowest), a1 = a0;
      for_each_tap(g, w, channels, [&](int64_t offset) {
        const T* in = image + offset + c;
        a0 = B::template max<T>(B::load(in), a0);
        a1 = B::template max<T>(B::load(in + W), a1);
      });
      B::store(out + c, a0);
      B::store(out + c + W, a1);
    }
    for (; c + W <= channels; c += W) {
      R a = B::set1(kLowest);
      for_each_tap(g, w, channels, [&](int64_t offset) { a = B::template max<T>(B::load(image + offset + c), a); });
      B::store(out + c, a);
    }
    if (c < channels) {
      std::fill(out + c, out + channels, kLowest);
      for_each_tap(g, w, channels, [&](int64_t offset) {
        const T* in = image + offset;
        for (int64_t i = c; i < channels; ++i) out[i] = std::max(out[i], in[i]);
      });
    }
  });
}

}  // namespace pare::rt::kernels::pool_nhwc_impl
