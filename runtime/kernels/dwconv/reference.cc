// Depthwise convolution: the reference kernel, weight packing, and the variant table (kept
// here because this file builds on every architecture).
#include <algorithm>
#include <cmath>
#include <limits>

#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
#include "runtime/kernels/dwconv/dwconv.h"

namespace pare::rt::kernels {

namespace {

// Smallest i >= 0 with i * step >= value, for step > 0.
int64_t ceil_div_nonneg(int64_t value, int64_t step) {
  return value <= 0 ? 0 : (value - 1) / step + 1;  // no value + step: both may be near 2^63
}

float activate(const FusedActivation& act, float x) {
  switch (act.kind) {
    case ActivationKind::kRelu:
      return std::max(x, 0.f);
    case ActivationKind::kClip:
      return std::min(std::max(x, act.p0), act.p1);
    case ActivationKind::kHardSwish:
      return x * std::max(0.f, std::min(1.f, x / 6.f + 0.5f));
    default:
      return x;
  }
}

constexpr DwConvVariant kReference = {"f32_dwconv_ref__scalar", "ref__scalar", f32_dwconv_ref__scalar,
                                     Isa::kScalar, 1, 0, 0};

constexpr DwConvVariant kVariants[] = {
#if PARE_KERNELS_AVX512
    {"f32_dwconv_3x3s1__avx512", "3x3s1__avx512", f32_dwconv_3x3s1__avx512, Isa::kAvx512, 16, 3, 1},
    {"f32_dwconv_3x3s2__avx512", "3x3s2__avx512", f32_dwconv_3x3s2__avx512, Isa::kAvx512, 16, 3, 2},
    {"f32_dwconv_5x5s1__avx512", "5x5s1__avx512", f32_dwconv_5x5s1__avx512, Isa::kAvx512, 16, 5, 1},
    {"f32_dwconv_5x5s2__avx512", "5x5s2__avx512", f32_dwconv_5x5s2__avx512, Isa::kAvx512, 16, 5, 2},
    {"f32_dwconv_7x7s1__avx512", "7x7s1__avx512", f32_dwconv_7x7s1__avx512, Isa::kAvx512, 16, 7, 1},
    {"f32_dwconv_7x7s2__avx512", "7x7s2__avx512", f32_dwconv_7x7s2__avx512, Isa::kAvx512, 16, 7, 2},
    {"f32_dwconv_kxk__avx512", "kxk__avx512", f32_dwconv_kxk__avx512, Isa::kAvx512, 16, 0, 0},
#endif
#if PARE_KERNELS_AVX2
    {"f32_dwconv_3x3s1__avx2", "3x3s1__avx2", f32_dwconv_3x3s1__avx2, Isa::kAvx2, 8, 3, 1},
    {"f32_dwconv_3x3s2__avx2", "3x3s2__avx2", f32_dwconv_3x3s2__avx2, Isa::kAvx2, 8, 3, 2},
    {"f32_dwconv_5x5s1__avx2", "5x5s1__avx2", f32_dwconv_5x5s1__avx2, Isa::kAvx2, 8, 5, 1},
    {"f32_dwconv_5x5s2__avx2", "5x5s2__avx2", f32_dwconv_5x5s2__avx2, Isa::kAvx2, 8, 5, 2},
    {"f32_dwconv_7x7s1__avx2", "7x7s1__avx2", f32_dwconv_7x7s1__avx2, Isa::kAvx2, 8, 7, 1},
    {"f32_dwconv_7x7s2__avx2", "7x7s2__avx2", f32_dwconv_7x7s2__avx2, Isa::kAvx2, 8, 7, 2},
    {"f32_dwconv_kxk__avx2", "kxk__avx2", f32_dwconv_kxk__avx2, Isa::kAvx2, 8, 0, 0},
#endif
#if PARE_KERNELS_NEON
    {"f32_dwconv_3x3s1__neon", "3x3s1__neon", f32_dwconv_3x3s1__neon, Isa::kNeon, 4, 3, 1},
    {"f32_dwconv_3x3s2__neon", "3x3s2__neon", f32_dwconv_3x3s2__neon, Isa::kNeon, 4, 3, 2},
    {"f32_dwconv_5x5s1__neon", "5x5s1__neon", f32_dwconv_5x5s1__neon, Isa::kNeon, 4, 5, 1},
    {"f32_dwconv_5x5s2__neon", "5x5s2__neon", f32_dwconv_5x5s2__neon, Isa::kNeon, 4, 5, 2},
    {"f32_dwconv_7x7s1__neon", "7x7s1__neon", f32_dwconv_7x7s1__neon, Isa::kNeon, 4, 7, 1},
    {"f32_dwconv_7x7s2__neon", "7x7s2__neon", f32_dwconv_7x7s2__neon, Isa::kNeon, 4, 7, 2},
    {"f32_dwconv_kxk__neon", "kxk__neon", f32_dwconv_kxk__neon, Isa::kNeon, 4, 0, 0},
#endif
    kReference,
};

}  // namespace

int64_t dwconv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                           int64_t pad_begin, int64_t pad_end) {
  const int64_t span = dilation * (kernel - 1) + 1;
  const int64_t padded = in + pad_begin + pad_end;
  return padded < span ? 0 : (padded - span) / stride + 1;
}

bool dwconv_fuses_activation(ActivationKind kind) {
  return kind == ActivationKind::kNone || kind == ActivationKind::kRelu ||
         kind == ActivationKind::kClip || kind == ActivationKind::kHardSwish;
}

size_t dwconv_packed_floats(int64_t channels, int64_t kernel_h, int64_t kernel_w,
                            int64_t channel_block) {
  const int64_t blocks = (channels + channel_block - 1) / channel_block;
  return static_cast<size_t>(blocks * channel_block * (1 + kernel_h * kernel_w));
}

void dwconv_pack(int64_t channels, int64_t kernel_h, int64_t kernel_w, int64_t channel_block,
                 const float* weight, const float* bias, float* packed) {
  const int64_t taps = kernel_h * kernel_w;
  for (int64_t block = 0; block < channels; block += channel_block) {
    for (int64_t lane = 0; lane < channel_block; ++lane) {
      const int64_t c = block + lane;
      const bool real = c < channels;
      packed[lane] = real && bias ? bias[c] : 0.f;
      for (int64_t t = 0; t < taps; ++t)
        packed[(1 + t) * channel_block + lane] = real ? weight[c * taps + t] : 0.f;
    }
    packed += (1 + taps) * channel_block;
  }
}

void f32_dwconv_ref__scalar(const DwConvParams& p, const float* input, const float* packed,
                            float* output, int64_t oh_begin, int64_t oh_end) {
  const int64_t taps = p.kernel_h * p.kernel_w;
  for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
    for (int64_t ox = 0; ox < p.out_w; ++ox) {
      float* out = output + (oy * p.out_w + ox) * p.out_pixel_stride;
      for (int64_t c = 0; c < p.channels; ++c) {
        const float* w = packed + c * (1 + taps);
        float acc = w[0];
        for (int64_t ky = 0; ky < p.kernel_h; ++ky) {
          const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
          if (iy < 0 || iy >= p.in_h) continue;
          for (int64_t kx = 0; kx < p.kernel_w; ++kx) {
            const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dilation_w;
            if (ix < 0 || ix >= p.in_w) continue;
            acc += input[(iy * p.in_w + ix) * p.in_pixel_stride + c] * w[1 + ky * p.kernel_w + kx];
          }
        }
        out[c] = activate(p.activation, acc);
      }
    }
  }
}

const DwConvVariant* dwconv_variants(size_t* count) {
  if constexpr (!kernel_family_selected("f32_dwconv")) {
    *count = 1;
    return &kReference;
  }
  *count = sizeof(kVariants) / sizeof(kVariants[0]);
  return kVariants;
}

bool dwconv_variant_accepts(const DwConvVariant& v, const DwConvParams& p) {
  if (v.kernel == 0) return true;
  return p.kernel_h == v.kernel && p.kernel_w == v.kernel && p.stride_h == v.stride &&
         p.stride_w == v.stride && p.dilation_h == 1 && p.dilation_w == 1;
}

const DwConvVariant& select_dwconv(Isa cap, const DwConvParams& params) {
  note_kernel_family("f32_dwconv");
  // The table lists the best ISA first and, within an ISA, specialised shapes before kxk.
  size_t count = 0;
  const DwConvVariant* all = dwconv_variants(&count);
  const DwConvVariant* best = best_usable_variant(
      all, count, false, cap, [&](const DwConvVariant& v) { return dwconv_variant_accepts(v, params); });
  return best ? *best : kReference;
}

namespace dwconv_detail {

void interior_columns(const DwConvParams& p, int64_t* begin, int64_t* end) {
  // ox * stride - pad_left >= 0 and ox * stride - pad_left + span - 1 <= in_w - 1.
  const int64_t span = p.dilation_w * (p.kernel_w - 1) + 1;
  const int64_t b = std::min(ceil_div_nonneg(p.pad_left, p.stride_w), p.out_w);
  const int64_t last = p.in_w - span + p.pad_left;  // ox * stride <= last
  const int64_t e = last < 0 ? 0 : std::min(last / p.stride_w + 1, p.out_w);
  *begin = b;
  *end = std::max(b, e);
}

void valid_taps(int64_t iy0, int64_t in_size, int64_t kernel, int64_t dilation, int64_t* begin,
                int64_t* end) {
  // 0 <= iy0 + k * dilation < in_size.
  const int64_t b = std::min(ceil_div_nonneg(-iy0, dilation), kernel);
  const int64_t e = std::min(ceil_div_nonneg(in_size - iy0, dilation), kernel);
  *begin = b;
  *end = std::max(b, e);
}

void clamp_bounds(const FusedActivation& act, float* lo, float* hi) {
  const float inf = std::numeric_limits<float>::infinity();
  *lo = -inf;
  *hi = inf;
  if (act.kind == ActivationKind::kRelu) {
    *lo = 0.f;
  } else if (act.kind == ActivationKind::kClip) {
    *lo = act.p0;
    *hi = act.p1;
  }
}

}  // namespace dwconv_detail

}  // namespace pare::rt::kernels
