// Channels-last pooling loops shared by the per-ISA kernels, written over a vector type given
// by Ops:
//   V, kLanes                       one vector of kLanes floats
//   load(p), store(p, v)            kLanes floats
//   load_partial(p, n), store_partial(p, v, n)
//                                   the first n < kLanes floats (the rest of v is zero on
//                                   load, nothing past n is read or written)
//   lowest(), zero(), add(a, b), div(a, float), greater_or_keep(tap, acc)
//                                   greater_or_keep is `tap > acc ? tap : acc` per lane, the
//                                   reference's comparison (a NaN tap never replaces acc)
//   Acc, acc_zero(), acc_add(acc, v), acc_mean(acc, count)
//                                   kLanes double sums and their float mean
// Included only by the per-ISA .cc files, each in its own anonymous namespace.
#pragma once

#include <algorithm>
#include <cstdint>

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

template <typename Ops>
void maxpool(const PoolGeometry& g, int64_t channels, const float* input, float* output,
             int64_t pixel_begin, int64_t pixel_end) {
  using V = typename Ops::V;
  constexpr int64_t W = Ops::kLanes;
  const int64_t in_pixels = g.in_size[0] * g.in_size[1] * g.in_size[2];
  for (int64_t p = pixel_begin; p < pixel_end; ++p) {
    PixelWindow w;
    pool_detail::pixel_window(g, p, &w);
    const float* image = input + w.image * in_pixels * channels;
    float* out = output + p * channels;
    int64_t c = 0;
    // Four vectors per pass over the taps: independent chains and fewer tap loops.
    for (; c + 4 * W <= channels; c += 4 * W) {
      V a0 = Ops::lowest(), a1 = a0, a2 = a0, a3 = a0;
      for_each_tap(g, w, channels, [&](int64_t offset) {
        const float* in = image + offset + c;
        a0 = Ops::greater_or_keep(Ops::load(in), a0);
        a1 = Ops::greater_or_keep(Ops::load(in + W), a1);
        a2 = Ops::greater_or_keep(Ops::load(in + 2 * W), a2);
        a3 = Ops::greater_or_keep(Ops::load(in + 3 * W), a3);
      });
      Ops::store(out + c, a0);
      Ops::store(out + c + W, a1);
      Ops::store(out + c + 2 * W, a2);
      Ops::store(out + c + 3 * W, a3);
    }
    for (; c + W <= channels; c += W) {
      V a = Ops::lowest();
      for_each_tap(g, w, channels, [&](int64_t offset) {
        a = Ops::greater_or_keep(Ops::load(image + offset + c), a);
      });
      Ops::store(out + c, a);
    }
    if (c < channels) {
      const int64_t n = channels - c;
      V a = Ops::lowest();
      for_each_tap(g, w, channels, [&](int64_t offset) {
        a = Ops::greater_or_keep(Ops::load_partial(image + offset + c, n), a);
      });
      Ops::store_partial(out + c, a, n);
    }
  }
}

template <typename Ops>
void avgpool(const PoolGeometry& g, int64_t channels, bool count_include_pad, const float* input,
             float* output, int64_t pixel_begin, int64_t pixel_end) {
  using V = typename Ops::V;
  constexpr int64_t W = Ops::kLanes;
  const int64_t in_pixels = g.in_size[0] * g.in_size[1] * g.in_size[2];
  for (int64_t p = pixel_begin; p < pixel_end; ++p) {
    PixelWindow w;
    pool_detail::pixel_window(g, p, &w);
    const float* image = input + w.image * in_pixels * channels;
    float* out = output + p * channels;
    const int64_t divisor = count_include_pad ? w.padded_count : w.inside_count;
    // The reference writes 0 rather than 0 / 0 for a window with nothing to count.
    const auto mean = [&](V sum) {
      return divisor > 0 ? Ops::div(sum, static_cast<float>(divisor)) : Ops::zero();
    };
    int64_t c = 0;
    for (; c + 4 * W <= channels; c += 4 * W) {
      V s0 = Ops::zero(), s1 = s0, s2 = s0, s3 = s0;
      for_each_tap(g, w, channels, [&](int64_t offset) {
        const float* in = image + offset + c;
        s0 = Ops::add(s0, Ops::load(in));
        s1 = Ops::add(s1, Ops::load(in + W));
        s2 = Ops::add(s2, Ops::load(in + 2 * W));
        s3 = Ops::add(s3, Ops::load(in + 3 * W));
      });
      Ops::store(out + c, mean(s0));
      Ops::store(out + c + W, mean(s1));
      Ops::store(out + c + 2 * W, mean(s2));
      Ops::store(out + c + 3 * W, mean(s3));
    }
    for (; c + W <= channels; c += W) {
      V s = Ops::zero();
      for_each_tap(g, w, channels,
                   [&](int64_t offset) { s = Ops::add(s, Ops::load(image + offset + c)); });
      Ops::store(out + c, mean(s));
    }
    if (c < channels) {
      const int64_t n = channels - c;
      V s = Ops::zero();
      for_each_tap(g, w, channels, [&](int64_t offset) {
        s = Ops::add(s, Ops::load_partial(image + offset + c, n));
      });
      Ops::store_partial(out + c, mean(s), n);
    }
  }
}

// Outputs [begin, end) of batch * channels; each image's share is walked channel block by
// channel block, every block summing the pixels in order into kLanes double sums.
template <typename Ops>
void global_avgpool(int64_t pixels, int64_t channels, const float* input, float* output,
                    int64_t begin, int64_t end) {
  constexpr int64_t W = Ops::kLanes;
  for (int64_t i = begin; i < end;) {
    const int64_t n = i / channels;
    const int64_t c_end = std::min(channels, end - n * channels);
    const float* image = input + n * pixels * channels;
    float* out = output + n * channels;
    int64_t c = i - n * channels;
    for (; c + W <= c_end; c += W) {
      typename Ops::Acc acc = Ops::acc_zero();
      for (int64_t p = 0; p < pixels; ++p) acc = Ops::acc_add(acc, Ops::load(image + p * channels + c));
      Ops::store(out + c, Ops::acc_mean(acc, pixels));
    }
    if (c < c_end) {
      const int64_t rest = c_end - c;
      typename Ops::Acc acc = Ops::acc_zero();
      for (int64_t p = 0; p < pixels; ++p)
        acc = Ops::acc_add(acc, Ops::load_partial(image + p * channels + c, rest));
      Ops::store_partial(out + c, Ops::acc_mean(acc, pixels), rest);
    }
    i = n * channels + c_end;
  }
}

}  // namespace pare::rt::kernels::pool_nhwc_impl
