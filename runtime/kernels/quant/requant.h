// The integer arithmetic every int8 kernel shares: how a real scale becomes a fixed-point
// multiplier and how an int32 accumulator becomes an 8-bit output. Every ISA variant must
// produce exactly these bytes (the kernel tests compare bit for bit).
//
// A quantized value q stands for scale * (q - zero_point). 8-bit tensors are stored as bytes;
// whether a byte is read as uint8 or int8 is the tensor's dtype. Outputs are produced as
// int32 in the output's integer domain, clamped to [lo, hi] (which already folds the dtype's
// range and a fused Relu/Clip), then stored as the low byte: for a clamped value the low byte
// is the correct uint8 or int8 either way.
#pragma once

#include <cmath>
#include <cstdint>

namespace pare::rt::kernels {

// real_scale ~= multiplier * 2^-shift with multiplier in [2^30, 2^31) and shift in [1, 62];
// multiplier == 0 (shift 1) stands for a scale too small to matter (every result is 0).
struct Requant {
  int32_t multiplier = 0;
  int32_t shift = 1;
};

// False when real_scale is not finite, is negative, or is >= 2^30 (no valid encoding).
inline bool requant_from_scale(double real_scale, Requant* out) {
  if (!std::isfinite(real_scale) || real_scale < 0 || real_scale >= 1073741824.0) return false;
  *out = Requant{};
  if (real_scale == 0) return true;
  int exponent = 0;
  const double fraction = std::frexp(real_scale, &exponent);  // real = fraction * 2^exponent
  auto m = static_cast<int64_t>(std::llround(fraction * 2147483648.0));  // fraction * 2^31
  if (m == (int64_t{1} << 31)) {  // rounded up to 1.0
    m /= 2;
    ++exponent;
  }
  const int shift = 31 - exponent;
  if (shift > 62) return true;  // below 2^-31: every |acc| < 2^31 rounds to 0
  if (shift < 1) return false;
  out->multiplier = static_cast<int32_t>(m);
  out->shift = shift;
  return true;
}

// The real scale of an int8 layer's output channel, computed in float in ONNX Runtime's order
// ((sx * sw) / sy): a float has 24 bits, the fixed-point multiplier 31, so it encodes exactly
// the scale ONNX Runtime's QLinearConv uses. The runtime's prepare and the quantize pass's
// check share it, so a layer the pass accepts is one the runtime encodes.
inline float weight_requant_scale(float sx, float sw, float sy) { return (sx * sw) / sy; }

// round(acc * multiplier * 2^-shift), ties toward +infinity, computed exactly in 64 bits.
inline int64_t requant_scale(int32_t acc, const Requant& r) {
  const int64_t p = static_cast<int64_t>(acc) * r.multiplier;
  return (p + (int64_t{1} << (r.shift - 1))) >> r.shift;
}

// The output value of one accumulator: zero_point + scaled accumulator, clamped.
inline int32_t requantize(int32_t acc, const Requant& r, int32_t zero_point, int32_t lo, int32_t hi) {
  int64_t v = requant_scale(acc, r) + zero_point;
  v = v < lo ? lo : v;
  v = v > hi ? hi : v;
  return static_cast<int32_t>(v);
}

// Integer range of an 8-bit dtype.
inline int32_t q8_min(bool is_signed) { return is_signed ? -128 : 0; }
inline int32_t q8_max(bool is_signed) { return is_signed ? 127 : 255; }

// [lo, hi] of an output clamped to the real interval [min, max] (a fused Relu is [0, +inf),
// Clip its bounds), intersected with the dtype's range.
inline void q8_clamp_range(bool is_signed, float scale, int32_t zero_point, float min, float max,
                           int32_t* lo, int32_t* hi) {
  double l = q8_min(is_signed), h = q8_max(is_signed);
  if (std::isfinite(min) && scale > 0) l = std::fmax(l, zero_point + std::nearbyint(min / scale));
  if (std::isfinite(max) && scale > 0) h = std::fmin(h, zero_point + std::nearbyint(max / scale));
  if (h < l) h = l;
  *lo = static_cast<int32_t>(l);
  *hi = static_cast<int32_t>(h);
}

}  // namespace pare::rt::kernels
