// The float32 elementwise kernels written once over a vector type V (a simd::F32x* struct,
// see simd/x86_avx2.h); each ISA file instantiates F32EltwiseVariant with
// make_f32_eltwise_variant<V>(...). V's min and max follow the x86 NaN rule on every ISA, so
// NaN handling is the same everywhere. Only included by the ISA files (compiled with their
// own flags); everything is a template over the ISA's own V, so no instantiation is shared
// between files.
#pragma once

#include <cstddef>
#include <cstring>

#include "runtime/kernels/eltwise/eltwise.h"

namespace pare::rt::kernels::eltwise_vec {

// Runs f over n elements, kWidth at a time; the tail goes through a zero-padded
// vector so each element is computed by the same instructions wherever it is.
template <typename V, typename F>
inline void unary_loop(size_t n, const float* x, float* y, F f) {
  constexpr size_t W = V::kWidth;
  size_t i = 0;
  for (; i + W <= n; i += W) V::store(y + i, f(V::load(x + i)));
  if (i < n) {
    float buf[W] = {};
    std::memcpy(buf, x + i, (n - i) * sizeof(float));
    V::store(buf, f(V::load(buf)));
    std::memcpy(y + i, buf, (n - i) * sizeof(float));
  }
}

template <typename V, typename F>
inline void binary_loop(size_t n, const float* a, size_t a_step, const float* b, size_t b_step,
                        float* y, F f) {
  constexpr size_t W = V::kWidth;
  if (a_step != 0 && b_step != 0) {
    size_t i = 0;
    for (; i + W <= n; i += W) V::store(y + i, f(V::load(a + i), V::load(b + i)));
    if (i < n) {
      float pa[W] = {}, pb[W] = {};
      std::memcpy(pa, a + i, (n - i) * sizeof(float));
      std::memcpy(pb, b + i, (n - i) * sizeof(float));
      V::store(pa, f(V::load(pa), V::load(pb)));
      std::memcpy(y + i, pa, (n - i) * sizeof(float));
    }
  } else if (a_step != 0) {
    const auto bv = V::set1(*b);
    unary_loop<V>(n, a, y, [&](auto v) { return f(v, bv); });
  } else if (b_step != 0) {
    const auto av = V::set1(*a);
    unary_loop<V>(n, b, y, [&](auto v) { return f(av, v); });
  } else {
    const float v = *a, w = *b;
    float one[1];
    binary_loop<V>(1, &v, 1, &w, 1, one, f);
    for (size_t i = 0; i < n; ++i) y[i] = one[0];
  }
}

// c0 x^n + c1 x^(n-1) + ... + cn by Horner's rule, one FMA per coefficient.
template <typename V, typename R, typename... C>
inline R horner(R x, float c0, C... c) {
  R p = V::set1(c0);
  ((p = V::fmadd(p, x, V::set1(c))), ...);  // left to right: the highest power first
  return p;
}

// e^x = scale * (1 + q) split as the power of two and the fraction, for x in
// [-87, 88]: x = n ln2 + r with |r| <= ln2 / 2, q = e^r - 1 by its Taylor
// series to r^7 (truncation error below 1e-8 relative). Returning q separately
// keeps e^x - 1 accurate near 0.
template <typename V, typename R>
inline void exp_parts(R x, R* scale, R* q) {
  const R n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  R r = V::fmadd(n, V::set1(-0.693145751953125f),
                 x);  // ln2 high part, exact times n
  r = V::fmadd(n, V::set1(-1.42860682030941723e-6f), r);
  const R p = horner<V>(r, 1.f / 5040.f, 1.f / 720.f, 1.f / 120.f, 1.f / 24.f, 1.f / 6.f, 0.5f, 1.f);
  *q = V::mul(p, r);
  *scale = V::pow2i(n);
}

// e^x for x in [-87, 88].
template <typename V, typename R>
inline R exp_in_range(R x) {
  R scale, q;
  exp_parts<V>(x, &scale, &q);
  return V::fmadd(scale, q, scale);
}

// erf(x) = x P(x^2) / Q(x^2) for |x| <= 3.92, with P and Q of degree 5 in x^2 (a rational
// fit weighted for relative error: 4.6e-8 with these float coefficients, 3.5e-7 after the
// float steps), and +-1 beyond, where erf rounds to +-1 in float. The result is clamped to
// [-1, 1] so that 1 + erf never goes below 0. Odd by construction, so small |x| keep their
// relative accuracy; 10 FMAs and a reciprocal estimate with a Newton step, where a series
// below 0.5 and a degree-14 polynomial above, both evaluated for every vector, took twice
// the time (a ViT's Gelus were 10% of the model). NaN becomes finite here (keep_nan).
template <typename V, typename R>
inline R erf_clamped(R v) {
  const R x = V::min(V::max(v, V::set1(-3.92f)), V::set1(3.92f));
  const R s = V::mul(x, x);
  const R p = horner<V>(s, 2.050188641078421e-06f, 0.00028488124371506274f, 0.0037653606850653887f,
                           0.052747927606105804f, 0.1903998702764511f, 1.1283791065216064f);
  const R q = horner<V>(s, 3.809270492638461e-05f, 0.0011624818434938788f, 0.014968693256378174f,
                           0.11410645395517349f, 0.5020702481269836f, 1.f);
  const R e = V::mul(V::mul(x, p), V::reciprocal(q));  // q in [1, 21]
  return V::min(V::max(e, V::set1(-1.f)), V::set1(1.f));
}

template <typename V, typename R>
inline R keep_nan(R x, R y) {
  return V::select(V::is_nan(x), x, y);
}

template <typename V>
struct Kernels {
  using R = decltype(V::set1(0.f));

  static void add(size_t n, const float* a, size_t as, const float* b, size_t bs, float* y) {
    binary_loop<V>(n, a, as, b, bs, y, [](R p, R q) { return V::add(p, q); });
  }
  static void sub(size_t n, const float* a, size_t as, const float* b, size_t bs, float* y) {
    binary_loop<V>(n, a, as, b, bs, y, [](R p, R q) { return V::sub(p, q); });
  }
  static void mul(size_t n, const float* a, size_t as, const float* b, size_t bs, float* y) {
    binary_loop<V>(n, a, as, b, bs, y, [](R p, R q) { return V::mul(p, q); });
  }
  static void div(size_t n, const float* a, size_t as, const float* b, size_t bs, float* y) {
    binary_loop<V>(n, a, as, b, bs, y, [](R p, R q) { return V::div(p, q); });
  }

  static void relu(size_t n, const float* x, float* y) {
    const R zero = V::set1(0.f);
    unary_loop<V>(n, x, y, [zero](R v) { return V::max(zero, v); });  // NaN stays
  }

  static void clip(size_t n, const float* x, float lo, float hi, float* y) {
    const R l = V::set1(lo), h = V::set1(hi);
    // min(max(x, lo), hi) of the reference: NaN stays, hi wins when lo > hi.
    unary_loop<V>(n, x, y, [l, h](R v) { return V::min(h, V::max(l, v)); });
  }

  static void hard_sigmoid(size_t n, const float* x, float alpha, float beta, float* y) {
    const R a = V::set1(alpha), b = V::set1(beta), zero = V::set1(0.f), one = V::set1(1.f);
    // Clamps like the reference, where NaN gives 1.
    unary_loop<V>(n, x, y, [=](R v) { return V::max(V::min(V::fmadd(a, v, b), one), zero); });
  }

  static void hard_swish(size_t n, const float* x, float* y) {
    const R sixth = V::set1(1.f / 6.f), half = V::set1(0.5f), zero = V::set1(0.f),
            one = V::set1(1.f);
    unary_loop<V>(n, x, y, [=](R v) {
      return V::mul(v, V::max(V::min(V::fmadd(v, sixth, half), one), zero));
    });
  }

  // sigmoid(x) = 1/2 + x P(x^2) / Q(x^2) for |x| <= 16.7, P and Q of degree 4 in x^2 (a
  // rational fit of 1/2 tanh(x/2) for absolute error: 4.5e-9, 1.6e-7 after the float steps),
  // clamped to [0, 1]; beyond 16.7 sigmoid is within 6e-8 of 0 or 1, and taken as 0 below. The error is absolute,
  // as in ONNX Runtime's logistic: values near 0 (x < -16) lose their relative accuracy,
  // which no network reads. 8 FMAs and a reciprocal estimate with a Newton step, where e^-|x|
  // and a reciprocal took 1.6x the time (EfficientNet's SiLUs). NaN stays NaN.
  // The fit before clamping: within 1.6e-7 of sigmoid(v) for v >= -16.7 and not NaN, 0
  // below (as 1 / (1 + e^-x) gives there).
  // The clamp of x to +-16.7 is one vrangeps on AVX-512, and the last FMA zeroes the lanes
  // below -16.7 through its own mask: 2 of 19 instructions fewer than min, max and a blend.
  static R sigmoid_unclamped(R v) {
    const R x = V::clamp_magnitude(v, 16.7f);
    const R s = V::mul(x, x);
    const R p = horner<V>(s, 1.4046236396225709e-11f, 8.327025113885611e-08f, 5.527236862690188e-05f,
                             0.008384951390326023f, 0.2499999850988388f);
    const R q = horner<V>(s, 3.1979876524701467e-09f, 5.241956841928186e-06f, 0.0016271942295134068f,
                             0.11687309294939041f, 1.f);
    return V::fmadd_unless(V::lt(v, V::set1(-16.7f)), V::mul(x, p), V::reciprocal(q), V::set1(0.5f));
  }
  static R sigmoid_of(R v) {
    const R y = V::min(V::max(sigmoid_unclamped(v), V::set1(0.f)), V::set1(1.f));
    return keep_nan<V>(v, y);
  }
  static void sigmoid(size_t n, const float* x, float* y) { unary_loop<V>(n, x, y, sigmoid_of); }

  // x * sigmoid(x): a fused activation (EfficientNet's), run on GEMM tiles in place. Its
  // error is sigmoid's times |x|. The product needs neither the clamp to [0, 1] (the fit
  // leaves it by rounding only) nor a NaN check (x carries NaN into it): four fewer
  // instructions of 21, a fifth of EfficientNet-B0's SiLU time. -inf gives NaN, as
  // Mul(x, Sigmoid(x)) does.
  static void silu(size_t n, const float* x, float* y) {
    unary_loop<V>(n, x, y, [](R v) { return V::mul(v, sigmoid_unclamped(v)); });
  }

  // tanh|x| = -m / (m + 2) with m = e^-2|x| - 1, accurate near 0 through
  // exp_parts.
  static void tanh(size_t n, const float* x, float* y) {
    unary_loop<V>(n, x, y, [](R v) {
      const R arg = V::max(V::set1(-87.f), V::mul(V::abs(v), V::set1(-2.f)));
      R scale, q;
      exp_parts<V>(arg, &scale, &q);
      const R m = V::fmadd(scale, q, V::sub(scale, V::set1(1.f)));
      const R t = V::div(V::sub(V::set1(0.f), m), V::add(m, V::set1(2.f)));
      return keep_nan<V>(v, V::copysign(t, v));
    });
  }

  static void erf(size_t n, const float* x, float* y) {
    unary_loop<V>(n, x, y, [](R v) { return keep_nan<V>(v, erf_clamped<V>(v)); });
  }

  // 0.5 x (1 + erf(x/sqrt2)), the form ONNX Runtime and LibTorch evaluate, as h + h erf
  // with h = x/2 in one FMA. Relative error within 1e-6 for x >= -1; below, 1 + erf cancels
  // and the error is absolute, under 1.8e-7 |x| (erf's 3.5e-7 times 0.5 |x|), on values under
  // 0.16 |x|. An erfc form would keep relative accuracy in a tail no network reads, at twice
  // the cost.
  static void gelu(size_t n, const float* x, float* y) {
    unary_loop<V>(n, x, y, [](R v) {
      const R h = V::mul(V::set1(0.5f), v);
      return keep_nan<V>(v, V::fmadd(h, erf_clamped<V>(V::mul(v, V::set1(0.70710677f))), h));
    });
  }
};

template <typename V>
constexpr F32EltwiseVariant make_f32_eltwise_variant(Isa isa, const char* suffix) {
  using K = Kernels<V>;
  return F32EltwiseVariant{isa,    suffix,  K::add,     K::sub,         K::mul,
                           K::div, K::relu, K::sigmoid, K::hard_swish,  K::tanh,
                           K::erf, K::gelu, K::silu,    K::clip,    K::hard_sigmoid};
}

}  // namespace pare::rt::kernels::eltwise_vec
