// Plain loops that define the int8 elementwise arithmetic (qeltwise.h); every vector variant
// reproduces them bit for bit.
#include <cmath>

#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
#include "runtime/kernels/qeltwise/qeltwise.h"

namespace pare::rt::kernels {

namespace {

inline int32_t load_q8(uint8_t byte, bool is_signed) {
  return is_signed ? static_cast<int32_t>(static_cast<int8_t>(byte)) : static_cast<int32_t>(byte);
}

// nearbyint(t) + zero_point clamped to [lo, hi], as the low byte. The sum is formed in float:
// exact while it matters (|t| < 2^24) and beyond that clamped anyway. t must not be NaN.
inline uint8_t round_clamp(float t, int32_t zero_point, int32_t lo, int32_t hi) {
  float r = std::nearbyint(t) + static_cast<float>(zero_point);
  r = r < static_cast<float>(lo) ? static_cast<float>(lo) : r;
  r = r > static_cast<float>(hi) ? static_cast<float>(hi) : r;
  return static_cast<uint8_t>(static_cast<int32_t>(r));
}

}  // namespace

void q8_quantize_ref(size_t n, const float* x, const Q8QuantizeParams& p, uint8_t* y) {
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i] / p.scale;
    y[i] = std::isnan(v) ? static_cast<uint8_t>(p.zero_point) : round_clamp(v, p.zero_point, p.lo, p.hi);
  }
}

void q8_dequantize_ref(size_t n, const uint8_t* x, bool is_signed, int32_t zero_point, float scale,
                       float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(load_q8(x[i], is_signed) - zero_point) * scale;
}

void q8_add_ref(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
                const Q8BinaryParams& p, uint8_t* y) {
  for (size_t i = 0; i < n; ++i) {
    const float fa = static_cast<float>(load_q8(a[i * a_step], p.a_signed) - p.a_zero_point);
    const float fb = static_cast<float>(load_q8(b[i * b_step], p.b_signed) - p.b_zero_point);
    const float bt = fb * p.b_multiplier;
    y[i] = round_clamp(std::fma(fa, p.a_multiplier, bt), p.y_zero_point, p.lo, p.hi);
  }
}

void q8_mul_ref(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
                const Q8BinaryParams& p, uint8_t* y) {
  for (size_t i = 0; i < n; ++i) {
    const int32_t prod = (load_q8(a[i * a_step], p.a_signed) - p.a_zero_point) *
                         (load_q8(b[i * b_step], p.b_signed) - p.b_zero_point);
    y[i] = round_clamp(static_cast<float>(prod) * p.a_multiplier, p.y_zero_point, p.lo, p.hi);
  }
}

void q8_lookup_ref(size_t n, const uint8_t* x, const uint8_t table[256], uint8_t* y) {
  for (size_t i = 0; i < n; ++i) y[i] = table[x[i]];
}

const Q8EltwiseVariant* q8_eltwise_variants(size_t* count) {
  static const Q8EltwiseVariant kReference = {"scalar", Isa::kScalar, q8_quantize_ref,
                                              q8_dequantize_ref, q8_add_ref, q8_mul_ref, q8_lookup_ref};
  if constexpr (!kernel_family_selected("q8_eltwise")) {
    *count = 1;
    return &kReference;
  }
  static const Q8EltwiseVariant kAll[] = {
      kReference,
#if PARE_KERNELS_AVX2
      q8_eltwise_avx2(),
#endif
#if PARE_KERNELS_AVX512
      q8_eltwise_avx512(),
#endif
#if PARE_KERNELS_NEON
      q8_eltwise_neon(),
#endif
  };
  *count = sizeof(kAll) / sizeof(kAll[0]);
  return kAll;
}

const Q8EltwiseVariant& select_q8_eltwise(Isa cap) {
  note_kernel_family("q8_eltwise");
  size_t count = 0;
  const Q8EltwiseVariant* all = q8_eltwise_variants(&count);
  const Q8EltwiseVariant* best = best_usable_variant(all, count, true, cap);
  return best ? *best : all[0];
}

}  // namespace pare::rt::kernels
