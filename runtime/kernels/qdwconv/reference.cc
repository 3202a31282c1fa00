// Int8 depthwise convolution: the reference, the generic scalar variant, packing and the
// variant table (kept here because this file builds on every architecture).
#include <algorithm>
#include <cstring>

#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
#include "runtime/kernels/qdwconv/qdwconv.h"

namespace pare::rt::kernels {

namespace {

int64_t ceil_div_nonneg(int64_t value, int64_t step) {
  return value <= 0 ? 0 : (value - 1) / step + 1;  // no value + step: both may be near 2^63
}

constexpr int64_t kScalarBlock = 16;

constexpr QDwConvVariant kReference = {"q8_dwconv_kxk__scalar", q8_dwconv_kxk__scalar, Isa::kScalar,
                                       kScalarBlock, 0, 0};

constexpr QDwConvVariant kVariants[] = {
#if PARE_KERNELS_AVX512VNNI
    {"q8_dwconv_3x3s1__avx512vnni", q8_dwconv_3x3s1__avx512vnni, Isa::kAvx512Vnni, 64, 3, 1},
    {"q8_dwconv_3x3s2__avx512vnni", q8_dwconv_3x3s2__avx512vnni, Isa::kAvx512Vnni, 64, 3, 2},
    {"q8_dwconv_5x5s1__avx512vnni", q8_dwconv_5x5s1__avx512vnni, Isa::kAvx512Vnni, 64, 5, 1},
    {"q8_dwconv_5x5s2__avx512vnni", q8_dwconv_5x5s2__avx512vnni, Isa::kAvx512Vnni, 64, 5, 2},
    {"q8_dwconv_kxk__avx512vnni", q8_dwconv_kxk__avx512vnni, Isa::kAvx512Vnni, 16, 0, 0},
#endif
#if PARE_KERNELS_AVX512
    {"q8_dwconv_3x3s1__avx512", q8_dwconv_3x3s1__avx512, Isa::kAvx512, 16, 3, 1},
    {"q8_dwconv_3x3s2__avx512", q8_dwconv_3x3s2__avx512, Isa::kAvx512, 16, 3, 2},
    {"q8_dwconv_5x5s1__avx512", q8_dwconv_5x5s1__avx512, Isa::kAvx512, 16, 5, 1},
    {"q8_dwconv_5x5s2__avx512", q8_dwconv_5x5s2__avx512, Isa::kAvx512, 16, 5, 2},
    {"q8_dwconv_kxk__avx512", q8_dwconv_kxk__avx512, Isa::kAvx512, 16, 0, 0},
#endif
#if PARE_KERNELS_AVX2
    {"q8_dwconv_3x3s1__avx2", q8_dwconv_3x3s1__avx2, Isa::kAvx2, 8, 3, 1},
    {"q8_dwconv_3x3s2__avx2", q8_dwconv_3x3s2__avx2, Isa::kAvx2, 8, 3, 2},
    {"q8_dwconv_5x5s1__avx2", q8_dwconv_5x5s1__avx2, Isa::kAvx2, 8, 5, 1},
    {"q8_dwconv_5x5s2__avx2", q8_dwconv_5x5s2__avx2, Isa::kAvx2, 8, 5, 2},
    {"q8_dwconv_kxk__avx2", q8_dwconv_kxk__avx2, Isa::kAvx2, 8, 0, 0},
#endif
#if PARE_KERNELS_NEON
    {"q8_dwconv_3x3s1__neon", q8_dwconv_3x3s1__neon, Isa::kNeon, 16, 3, 1},
    {"q8_dwconv_3x3s2__neon", q8_dwconv_3x3s2__neon, Isa::kNeon, 16, 3, 2},
    {"q8_dwconv_5x5s1__neon", q8_dwconv_5x5s1__neon, Isa::kNeon, 16, 5, 1},
    {"q8_dwconv_5x5s2__neon", q8_dwconv_5x5s2__neon, Isa::kNeon, 16, 5, 2},
    {"q8_dwconv_kxk__neon", q8_dwconv_kxk__neon, Isa::kNeon, 16, 0, 0},
#endif
    kReference,
};

// The vpdpbusd layout (see qdwconv.h).
bool dot4_layout(const QDwConvVariant& v) { return v.isa == Isa::kAvx512Vnni && v.kernel != 0; }

int64_t dot4_groups(int64_t kernel_h, int64_t kernel_w) { return kernel_w * ((kernel_h + 3) / 4); }

int64_t weight_bytes(const QDwConvVariant& v) {
  return v.isa == Isa::kNeon || v.isa == Isa::kNeonDot ? 2 : 4;
}

}  // namespace

namespace qdwconv_detail {

int64_t block_bytes(int64_t channel_block, int64_t taps, int64_t wbytes) {
  return channel_block * (3 * 4 + taps * wbytes);
}

void interior_columns(const QDwConvParams& p, int64_t* begin, int64_t* end) {
  // ox * stride - pad_left >= 0 and ox * stride - pad_left + span - 1 <= in_w - 1.
  const int64_t span = p.dilation_w * (p.kernel_w - 1) + 1;
  const int64_t b = std::min(ceil_div_nonneg(p.pad_left, p.stride_w), p.out_w);
  const int64_t last = p.in_w - span + p.pad_left;
  const int64_t e = last < 0 ? 0 : std::min(last / p.stride_w + 1, p.out_w);
  *begin = b;
  *end = std::max(b, e);
}

void valid_taps(int64_t i0, int64_t in_size, int64_t kernel, int64_t dilation, int64_t* begin,
                int64_t* end) {
  const int64_t b = std::min(ceil_div_nonneg(-i0, dilation), kernel);
  const int64_t e = std::min(ceil_div_nonneg(in_size - i0, dilation), kernel);
  *begin = b;
  *end = std::max(b, e);
}

}  // namespace qdwconv_detail

void qdwconv_ref__scalar(const QDwConvParams& p, const uint8_t* input, const int8_t* weight,
                         const int32_t* bias, const Requant* rq, uint8_t* output, int64_t oh_begin,
                         int64_t oh_end) {
  for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
    for (int64_t ox = 0; ox < p.out_w; ++ox) {
      for (int64_t c = 0; c < p.channels; ++c) {
        // int32 wrap-around, as the vector adds do.
        uint32_t acc = bias ? static_cast<uint32_t>(bias[c]) : 0u;
        for (int64_t ky = 0; ky < p.kernel_h; ++ky) {
          const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
          if (iy < 0 || iy >= p.in_h) continue;
          for (int64_t kx = 0; kx < p.kernel_w; ++kx) {
            const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dilation_w;
            if (ix < 0 || ix >= p.in_w) continue;
            const int32_t x = input[(iy * p.in_w + ix) * p.in_pixel_stride + c];
            const int32_t w = weight[(c * p.kernel_h + ky) * p.kernel_w + kx];
            acc += static_cast<uint32_t>((x - p.x_zero_point) * w);
          }
        }
        output[(oy * p.out_w + ox) * p.out_pixel_stride + c] = static_cast<uint8_t>(
            requantize(static_cast<int32_t>(acc), rq[c], p.y_zero_point, p.lo, p.hi));
      }
    }
  }
}

// Blocks of 16 channels with the channel loop innermost (the compiler may vectorise it);
// pad taps read x_zero_point, as the folded bias expects.
void q8_dwconv_kxk__scalar(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  constexpr int64_t B = kScalarBlock;
  const int64_t taps = p.kernel_h * p.kernel_w;
  const int64_t bb = qdwconv_detail::block_bytes(B, taps, 4);
  const uint8_t zp = static_cast<uint8_t>(p.x_zero_point);
  for (int64_t oy = oh_begin; oy < oh_end; ++oy) {
    for (int64_t ox = 0; ox < p.out_w; ++ox) {
      uint8_t* out = output + (oy * p.out_w + ox) * p.out_pixel_stride;
      for (int64_t c0 = 0; c0 < p.channels; c0 += B) {
        const int64_t n = std::min(B, p.channels - c0);
        const auto* blk = static_cast<const uint8_t*>(packed) + (c0 / B) * bb;
        const auto* bias = reinterpret_cast<const int32_t*>(blk);
        const auto* mult = bias + B;
        const auto* shift = mult + B;
        const auto* w = shift + B;
        uint32_t acc[B];
        for (int64_t l = 0; l < B; ++l) acc[l] = static_cast<uint32_t>(bias[l]);
        for (int64_t ky = 0; ky < p.kernel_h; ++ky) {
          const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
          for (int64_t kx = 0; kx < p.kernel_w; ++kx) {
            const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dilation_w;
            const int32_t* wt = w + (ky * p.kernel_w + kx) * B;
            if (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w) {
              for (int64_t l = 0; l < B; ++l) acc[l] += static_cast<uint32_t>(zp * wt[l]);
              continue;
            }
            const uint8_t* x = input + (iy * p.in_w + ix) * p.in_pixel_stride + c0;
            for (int64_t l = 0; l < n; ++l) acc[l] += static_cast<uint32_t>(x[l] * wt[l]);
          }
        }
        for (int64_t l = 0; l < n; ++l)
          out[c0 + l] = static_cast<uint8_t>(requantize(static_cast<int32_t>(acc[l]),
                                                        Requant{mult[l], shift[l]},
                                                        p.y_zero_point, p.lo, p.hi));
      }
    }
  }
}

const QDwConvVariant* qdwconv_variants(size_t* count) {
  if constexpr (!kernel_family_selected("q8_dwconv")) {
    *count = 1;
    return &kReference;
  }
  *count = sizeof(kVariants) / sizeof(kVariants[0]);
  return kVariants;
}

bool qdwconv_variant_accepts(const QDwConvVariant& v, const QDwConvParams& p) {
  if (v.kernel == 0) return true;
  return p.kernel_h == v.kernel && p.kernel_w == v.kernel && p.stride_h == v.stride &&
         p.stride_w == v.stride && p.dilation_h == 1 && p.dilation_w == 1;
}

const QDwConvVariant& select_qdwconv(Isa cap, const QDwConvParams& p) {
  note_kernel_family("q8_dwconv");
  // The table lists the best ISA first and, within an ISA, specialised shapes before kxk.
  size_t count = 0;
  const QDwConvVariant* all = qdwconv_variants(&count);
  const QDwConvVariant* best = best_usable_variant(
      all, count, false, cap, [&](const QDwConvVariant& v) { return qdwconv_variant_accepts(v, p); });
  return best ? *best : kReference;
}

size_t qdwconv_packed_bytes(const QDwConvVariant& v, int64_t channels, int64_t kernel_h,
                            int64_t kernel_w) {
  const int64_t blocks = (channels + v.channel_block - 1) / v.channel_block;
  if (dot4_layout(v))
    return static_cast<size_t>(blocks * qdwconv_detail::dot4_block_bytes(dot4_groups(kernel_h, kernel_w)));
  return static_cast<size_t>(
      blocks * qdwconv_detail::block_bytes(v.channel_block, kernel_h * kernel_w, weight_bytes(v)));
}

namespace {

void pack_dot4(const QDwConvParams& p, const int8_t* weight, const int32_t* bias, const Requant* rq, void* packed) {
  constexpr int64_t B = 64;
  const int64_t kh = p.kernel_h, kw = p.kernel_w, taps = kh * kw, G = (kh + 3) / 4;
  const int64_t bb = qdwconv_detail::dot4_block_bytes(kw * G);
  auto* dst = static_cast<uint8_t*>(packed);
  for (int64_t c0 = 0; c0 < p.channels; c0 += B, dst += bb) {
    auto* b = reinterpret_cast<int32_t*>(dst);
    int32_t* mult = b + B;
    int32_t* shift = mult + B;
    auto* w = reinterpret_cast<int8_t*>(dst + 12 * B);
    std::memset(w, 0, static_cast<size_t>(kw * G * 4 * B));
    const bool paired = p.channels - c0 <= 32;
    for (int64_t n = 0; n < B; ++n) {
      const int64_t q = n / 16, L = (n % 16) / 4, i = n % 4;
      // A block of at most 32 channels is paired: lanes of channels 32..63 repeat channels
      // 0..31 (a second output pixel).
      const int64_t c = c0 + 16 * (paired ? L % 2 : L) + 4 * q + i;
      const bool real = c < p.channels;
      int32_t wsum = 0;
      for (int64_t ky = 0; ky < kh && real; ++ky)
        for (int64_t kx = 0; kx < kw; ++kx) {
          const int8_t wt = weight[c * taps + ky * kw + kx];
          wsum += wt;
          w[((kx * G + ky / 4) * B + n) * 4 + ky % 4] = wt;
        }
      b[n] = real ? static_cast<int32_t>((bias ? static_cast<uint32_t>(bias[c]) : 0u) -
                                         static_cast<uint32_t>(p.x_zero_point * wsum))
                  : 0;
      mult[n] = real ? rq[c].multiplier : 0;
      shift[n] = real ? rq[c].shift : 1;
    }
  }
}

}  // namespace

void qdwconv_pack(const QDwConvVariant& v, const QDwConvParams& p, const int8_t* weight,
                  const int32_t* bias, const Requant* rq, void* packed) {
  if (dot4_layout(v)) return pack_dot4(p, weight, bias, rq, packed);
  const int64_t B = v.channel_block, taps = p.kernel_h * p.kernel_w, wb = weight_bytes(v);
  const int64_t bb = qdwconv_detail::block_bytes(B, taps, wb);
  auto* dst = static_cast<uint8_t*>(packed);
  for (int64_t c0 = 0; c0 < p.channels; c0 += B, dst += bb) {
    auto* b = reinterpret_cast<int32_t*>(dst);
    int32_t* mult = b + B;
    int32_t* shift = mult + B;
    for (int64_t l = 0; l < B; ++l) {
      const int64_t c = c0 + l;
      const bool real = c < p.channels;
      int32_t wsum = 0;
      for (int64_t t = 0; t < taps; ++t) {
        const int32_t w = real ? weight[c * taps + t] : 0;
        wsum += w;
        if (wb == 2) {
          const auto w16 = static_cast<int16_t>(w);
          std::memcpy(dst + 12 * B + (t * B + l) * 2, &w16, 2);
        } else {
          std::memcpy(dst + 12 * B + (t * B + l) * 4, &w, 4);
        }
      }
      // Wraps like the reference's int32 sum.
      b[l] = real ? static_cast<int32_t>((bias ? static_cast<uint32_t>(bias[c]) : 0u) -
                                         static_cast<uint32_t>(p.x_zero_point * wsum))
                  : 0;
      mult[l] = real ? rq[c].multiplier : 0;
      shift[l] = real ? rq[c].shift : 1;
    }
  }
}

}  // namespace pare::rt::kernels
