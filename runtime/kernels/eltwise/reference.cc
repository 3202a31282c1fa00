// Plain loops, one per operation; the step-specialised row walker lets the compiler
// vectorise the common same-shape and scalar cases.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <type_traits>

#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
#include "runtime/kernels/eltwise/eltwise.h"

namespace pare::rt::kernels {

namespace {

template <typename A, typename B, typename Y, typename F>
inline void binary_row(size_t n, const A* a, size_t a_step, const B* b, size_t b_step, Y* y, F f) {
  if (a_step != 0 && b_step != 0) {
    for (size_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  } else if (a_step != 0) {
    const B bv = *b;
    for (size_t i = 0; i < n; ++i) y[i] = f(a[i], bv);
  } else if (b_step != 0) {
    const A av = *a;
    for (size_t i = 0; i < n; ++i) y[i] = f(av, b[i]);
  } else {
    std::fill(y, y + n, f(*a, *b));
  }
}

template <typename F>
inline void unary_row(size_t n, const float* x, float* y, F f) {
  for (size_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

// Signed overflow is undefined in C++; unsigned arithmetic wraps, which is what integer
// tensors do in ONNX Runtime and numpy.
template <typename T, bool = std::is_integral_v<T>>
struct WrapType {
  using type = T;
};
template <typename T>
struct WrapType<T, true> {
  using type = std::make_unsigned_t<T>;
};
template <typename T>
using Wrap = typename WrapType<T>::type;

template <typename T, typename F>
inline T wrapping(T a, T b, F f) {
  return static_cast<T>(static_cast<Wrap<T>>(f(static_cast<Wrap<T>>(a), static_cast<Wrap<T>>(b))));
}

// double -> To with truncation toward zero; saturating for integer targets.
template <typename To>
inline To convert_from_double(double v) {
  if constexpr (std::is_floating_point_v<To>) {
    return static_cast<To>(v);
  } else {
    if (std::isnan(v)) return 0;
    // The bounds as doubles: max() of int64 rounds up to 2^63, so compare with >=.
    if (v <= static_cast<double>(std::numeric_limits<To>::lowest()))
      return std::numeric_limits<To>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<To>::max()))
      return std::numeric_limits<To>::max();
    return static_cast<To>(v);
  }
}

}  // namespace

template <typename T>
void add_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, T* y) {
  binary_row(n, a, a_step, b, b_step, y,
             [](T p, T q) { return wrapping(p, q, [](auto u, auto v) { return u + v; }); });
}

template <typename T>
void sub_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, T* y) {
  binary_row(n, a, a_step, b, b_step, y,
             [](T p, T q) { return wrapping(p, q, [](auto u, auto v) { return u - v; }); });
}

template <typename T>
void mul_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, T* y) {
  binary_row(n, a, a_step, b, b_step, y,
             [](T p, T q) { return wrapping(p, q, [](auto u, auto v) { return u * v; }); });
}

template <typename T>
void div_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, T* y) {
  binary_row(n, a, a_step, b, b_step, y, [](T p, T q) -> T {
    if constexpr (std::is_integral_v<T>) {
      // Zero divisors would trap; the lowest value over -1 overflows (its true quotient
      // wraps to itself).
      if (q == 0) return 0;
      if (std::is_signed_v<T> && q == static_cast<T>(-1)) return wrapping(T(0), p, std::minus<>());
    }
    return static_cast<T>(p / q);
  });
}

template <typename T, typename E>
void pow_ref(size_t n, const T* a, size_t a_step, const E* b, size_t b_step, T* y) {
  if constexpr (std::is_same_v<T, float>) {
    // A constant square (the variance of a decomposed normalization): p^2 is exact in double,
    // so rounding it to float is the float product. Same bytes without a pow call each.
    if (b_step == 0 && n != 0 && static_cast<double>(*b) == 2.0) {
      for (size_t i = 0; i < n; ++i) y[i] = a[i * a_step] * a[i * a_step];
      return;
    }
  }
  binary_row(n, a, a_step, b, b_step, y, [](T p, E q) {
    return convert_from_double<T>(std::pow(static_cast<double>(p), static_cast<double>(q)));
  });
}

template <typename T>
void fmod_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, T* y) {
  binary_row(n, a, a_step, b, b_step, y, [](T p, T q) -> T {
    if constexpr (std::is_integral_v<T>) {
      if (q == 0) return 0;
      if (std::is_signed_v<T> && q == static_cast<T>(-1)) return 0;  // the lowest value % -1 overflows
      return static_cast<T>(p % q);
    } else {
      return std::fmod(p, q);
    }
  });
}

template <typename T>
void mod_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, T* y) {
  binary_row(n, a, a_step, b, b_step, y, [](T p, T q) -> T {
    T r;
    if constexpr (std::is_integral_v<T>) {
      if (q == 0) return 0;
      if (std::is_signed_v<T> && q == static_cast<T>(-1)) return 0;
      r = static_cast<T>(p % q);
    } else {
      r = std::fmod(p, q);
    }
    if constexpr (std::is_signed_v<T> || std::is_floating_point_v<T>)
      if (r != 0 && ((r < 0) != (q < 0))) r = static_cast<T>(r + q);
    return r;
  });
}

template <typename T>
void equal_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, uint8_t* y) {
  binary_row(n, a, a_step, b, b_step, y, [](T p, T q) { return static_cast<uint8_t>(p == q); });
}

template <typename T>
void less_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, uint8_t* y) {
  binary_row(n, a, a_step, b, b_step, y, [](T p, T q) { return static_cast<uint8_t>(p < q); });
}

template <typename T>
void less_equal_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, uint8_t* y) {
  binary_row(n, a, a_step, b, b_step, y, [](T p, T q) { return static_cast<uint8_t>(p <= q); });
}

template <typename T>
void greater_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, uint8_t* y) {
  binary_row(n, a, a_step, b, b_step, y, [](T p, T q) { return static_cast<uint8_t>(p > q); });
}

template <typename T>
void greater_equal_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, uint8_t* y) {
  binary_row(n, a, a_step, b, b_step, y, [](T p, T q) { return static_cast<uint8_t>(p >= q); });
}

void bool_and_ref(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step, uint8_t* y) {
  binary_row(n, a, a_step, b, b_step, y, [](uint8_t p, uint8_t q) { return static_cast<uint8_t>(p && q); });
}

void bool_or_ref(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step, uint8_t* y) {
  binary_row(n, a, a_step, b, b_step, y, [](uint8_t p, uint8_t q) { return static_cast<uint8_t>(p || q); });
}

void bool_not_ref(size_t n, const uint8_t* x, uint8_t* y) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] ? 0 : 1;
}

void f32_neg_ref(size_t n, const float* x, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = -x[i];
}
void f32_abs_ref(size_t n, const float* x, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = std::fabs(x[i]);
}
void f32_exp_ref(size_t n, const float* x, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}
void f32_log_ref(size_t n, const float* x, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = std::log(x[i]);
}
void f32_sin_ref(size_t n, const float* x, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = std::sin(x[i]);
}
void f32_cos_ref(size_t n, const float* x, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = std::cos(x[i]);
}

void f32_isnan_ref(size_t n, const float* x, uint8_t* y) {
  for (size_t i = 0; i < n; ++i) y[i] = std::isnan(x[i]) ? 1 : 0;
}

void f32_isinf_ref(size_t n, const float* x, bool negative, bool positive, uint8_t* y) {
  for (size_t i = 0; i < n; ++i) y[i] = std::isinf(x[i]) && (x[i] < 0 ? negative : positive) ? 1 : 0;
}

void f32_prelu_ref(size_t n, const float* x, size_t x_step, const float* slope, size_t slope_step,
                   float* y) {
  binary_row(n, x, x_step, slope, slope_step, y,
             [](float v, float s) { return v < 0.f ? s * v : v; });
}

template <typename T>
void where_ref(size_t n, const uint8_t* cond, size_t cond_step, const T* a, size_t a_step,
               const T* b, size_t b_step, T* y) {
  for (size_t i = 0; i < n; ++i) y[i] = cond[i * cond_step] ? a[i * a_step] : b[i * b_step];
}

void f32_relu_ref(size_t n, const float* x, float* y) {
  // std::max(v, 0) keeps NaN, like numpy's maximum.
  unary_row(n, x, y, [](float v) { return std::max(v, 0.f); });
}

void f32_leaky_relu_ref(size_t n, const float* x, float alpha, float* y) {
  unary_row(n, x, y, [alpha](float v) { return v < 0.f ? alpha * v : v; });
}

void f32_sigmoid_ref(size_t n, const float* x, float* y) {
  unary_row(n, x, y, [](float v) { return 1.f / (1.f + std::exp(-v)); });
}

void f32_silu_ref(size_t n, const float* x, float* y) {
  unary_row(n, x, y, [](float v) { return v * (1.f / (1.f + std::exp(-v))); });
}

void f32_hard_sigmoid_ref(size_t n, const float* x, float alpha, float beta, float* y) {
  unary_row(n, x, y,
            [alpha, beta](float v) { return std::max(0.f, std::min(1.f, alpha * v + beta)); });
}

void f32_hard_swish_ref(size_t n, const float* x, float* y) {
  unary_row(n, x, y, [](float v) { return v * std::max(0.f, std::min(1.f, v / 6.f + 0.5f)); });
}

void f32_tanh_ref(size_t n, const float* x, float* y) {
  unary_row(n, x, y, [](float v) { return std::tanh(v); });
}

void f32_erf_ref(size_t n, const float* x, float* y) {
  unary_row(n, x, y, [](float v) { return std::erf(v); });
}

void f32_gelu_ref(size_t n, const float* x, float* y) {
  unary_row(n, x, y, [](float v) {
    return static_cast<float>(0.5 * v * (1.0 + std::erf(v * 0.70710678118654752440)));
  });
}

void f32_gelu_tanh_ref(size_t n, const float* x, float* y) {
  unary_row(n, x, y, [](float v) {
    const double d = v;
    const double inner = 0.79788456080286535588 * (d + 0.044715 * d * d * d);  // sqrt(2/pi)
    return static_cast<float>(0.5 * d * (1.0 + std::tanh(inner)));
  });
}

void f32_sqrt_ref(size_t n, const float* x, float* y) {
  unary_row(n, x, y, [](float v) { return std::sqrt(v); });
}

template <typename T>
void clip_ref(size_t n, const T* x, T lo, T hi, T* y) {
  for (size_t i = 0; i < n; ++i) y[i] = std::min(std::max(x[i], lo), hi);
}

template <typename From, typename To>
void cast_ref(size_t n, const From* x, To* y) {
  for (size_t i = 0; i < n; ++i) {
    if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
      y[i] = convert_from_double<To>(static_cast<double>(x[i]));
    } else if constexpr (std::is_integral_v<From> && std::is_integral_v<To>) {
      // Narrowing keeps the low bits, through the unsigned type where it is defined.
      y[i] = static_cast<To>(static_cast<std::make_unsigned_t<To>>(x[i]));
    } else {
      y[i] = static_cast<To>(x[i]);
    }
  }
}

template <typename From>
void cast_to_bool_ref(size_t n, const From* x, uint8_t* y) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] != From(0) ? 1 : 0;
}

template <typename To>
void cast_from_bool_ref(size_t n, const uint8_t* x, To* y) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] ? To(1) : To(0);
}

#define PARE_ARITHMETIC(T)                                                          \
  template void add_ref<T>(size_t, const T*, size_t, const T*, size_t, T*);         \
  template void sub_ref<T>(size_t, const T*, size_t, const T*, size_t, T*);         \
  template void mul_ref<T>(size_t, const T*, size_t, const T*, size_t, T*);         \
  template void div_ref<T>(size_t, const T*, size_t, const T*, size_t, T*);         \
  template void mod_ref<T>(size_t, const T*, size_t, const T*, size_t, T*);         \
  template void fmod_ref<T>(size_t, const T*, size_t, const T*, size_t, T*);        \
  template void equal_ref<T>(size_t, const T*, size_t, const T*, size_t, uint8_t*); \
  template void less_ref<T>(size_t, const T*, size_t, const T*, size_t, uint8_t*); \
  template void less_equal_ref<T>(size_t, const T*, size_t, const T*, size_t, uint8_t*); \
  template void greater_ref<T>(size_t, const T*, size_t, const T*, size_t, uint8_t*); \
  template void greater_equal_ref<T>(size_t, const T*, size_t, const T*, size_t, uint8_t*); \
  template void clip_ref<T>(size_t, const T*, T, T, T*);
PARE_ARITHMETIC(float)
PARE_ARITHMETIC(int64_t)
PARE_ARITHMETIC(int32_t)
PARE_ARITHMETIC(int8_t)
PARE_ARITHMETIC(uint8_t)
#undef PARE_ARITHMETIC

#define PARE_POW(T, E) template void pow_ref<T, E>(size_t, const T*, size_t, const E*, size_t, T*);
PARE_POW(float, float)
PARE_POW(float, int32_t)
PARE_POW(float, int64_t)
PARE_POW(int32_t, float)
PARE_POW(int32_t, int32_t)
PARE_POW(int32_t, int64_t)
PARE_POW(int64_t, float)
PARE_POW(int64_t, int32_t)
PARE_POW(int64_t, int64_t)
#undef PARE_POW

#define PARE_WHERE(T)                                                                            \
  template void where_ref<T>(size_t, const uint8_t*, size_t, const T*, size_t, const T*, size_t, \
                             T*);
PARE_WHERE(uint8_t)
PARE_WHERE(uint32_t)
PARE_WHERE(uint64_t)
#undef PARE_WHERE

#define PARE_CAST_FROM(F)                                         \
  template void cast_ref<F, float>(size_t, const F*, float*);     \
  template void cast_ref<F, double>(size_t, const F*, double*);   \
  template void cast_ref<F, int64_t>(size_t, const F*, int64_t*); \
  template void cast_ref<F, int32_t>(size_t, const F*, int32_t*); \
  template void cast_ref<F, int8_t>(size_t, const F*, int8_t*);   \
  template void cast_ref<F, uint8_t>(size_t, const F*, uint8_t*); \
  template void cast_to_bool_ref<F>(size_t, const F*, uint8_t*);  \
  template void cast_from_bool_ref<F>(size_t, const uint8_t*, F*);
PARE_CAST_FROM(float)
PARE_CAST_FROM(double)
PARE_CAST_FROM(int64_t)
PARE_CAST_FROM(int32_t)
PARE_CAST_FROM(int8_t)
PARE_CAST_FROM(uint8_t)
#undef PARE_CAST_FROM

const F32EltwiseVariant* f32_eltwise_variants(size_t* count) {
  static const F32EltwiseVariant kReference{
      Isa::kScalar,       "ref__scalar",      add_ref<float>,      sub_ref<float>,
      mul_ref<float>,     div_ref<float>,     f32_relu_ref,        f32_sigmoid_ref,
      f32_hard_swish_ref, f32_tanh_ref,       f32_erf_ref,         f32_gelu_ref,
      f32_silu_ref,       clip_ref<float>,    f32_hard_sigmoid_ref};
  if constexpr (!kernel_family_selected("f32_eltwise")) {
    *count = 1;
    return &kReference;
  }
  static const F32EltwiseVariant kAll[] = {
#if PARE_KERNELS_AVX512
      f32_eltwise_avx512(),
#endif
#if PARE_KERNELS_AVX2
      f32_eltwise_avx2(),
#endif
#if PARE_KERNELS_NEON
      f32_eltwise_neon(),
#endif
      kReference};
  *count = sizeof(kAll) / sizeof(kAll[0]);
  return kAll;
}

const F32EltwiseVariant& select_f32_eltwise(Isa cap) {
  note_kernel_family("f32_eltwise");
  size_t count = 0;
  const F32EltwiseVariant* all = f32_eltwise_variants(&count);
  const F32EltwiseVariant* best = best_usable_variant(all, count, false, cap);
  return best ? *best : all[count - 1];
}

}  // namespace pare::rt::kernels
