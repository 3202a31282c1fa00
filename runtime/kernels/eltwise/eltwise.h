// Elementwise kernels: binary arithmetic and comparison, Where, activations, Cast.
//
// Binary and ternary kernels work on one row of n elements. Each operand has a step of 1
// (walk it) or 0 (repeat its first element): a same-shape operation is one row with steps
// 1, a scalar broadcast one row with step 0; ops walk general broadcasts row by row.
// Booleans are stored as one byte, 0 or 1.
//
// Templates are instantiated in reference.cc for the types listed with each.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/cpu.h"

namespace pare::rt::kernels {

// T: float, int64_t, int32_t, int8_t, uint8_t. Integer arithmetic wraps around (two's
// complement) and integer division truncates toward zero; an integer division by zero
// gives 0 instead of trapping.
template <typename T>
void add_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, T* y);
template <typename T>
void sub_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, T* y);
template <typename T>
void mul_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, T* y);
template <typename T>
void div_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, T* y);
// ONNX Mod: mod_ref takes the divisor's sign (Python's %), fmod_ref the dividend's (C's
// fmod). An integer divisor of 0 gives 0 (the result is undefined; it must not trap).
template <typename T>
void mod_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, T* y);
template <typename T>
void fmod_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, T* y);

// y = a ^ b, computed in double. T (base and result): float, int32_t, int64_t;
// E (exponent): float, int32_t, int64_t. Integer results outside T's range saturate.
template <typename T, typename E>
void pow_ref(size_t n, const T* a, size_t a_step, const E* b, size_t b_step, T* y);

// y = (a == b) as a bool byte. T: float, int64_t, int32_t, int8_t, uint8_t (also bool).
template <typename T>
void equal_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, uint8_t* y);
// y = a < b, a <= b, a > b, a >= b as bool bytes. T: float, int64_t, int32_t, int8_t, uint8_t.
template <typename T>
void less_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, uint8_t* y);
template <typename T>
void less_equal_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, uint8_t* y);
template <typename T>
void greater_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, uint8_t* y);
template <typename T>
void greater_equal_ref(size_t n, const T* a, size_t a_step, const T* b, size_t b_step, uint8_t* y);

// y = x < 0 ? slope * x : x.
void f32_prelu_ref(size_t n, const float* x, size_t x_step, const float* slope, size_t slope_step,
                   float* y);

// y = cond ? a : b, elements copied whole. T: uint8_t, uint32_t, uint64_t (any dtype of that
// size).
template <typename T>
void where_ref(size_t n, const uint8_t* cond, size_t cond_step, const T* a, size_t a_step,
               const T* b, size_t b_step, T* y);

// Unary float32 activations over n elements; y may equal x.
void f32_relu_ref(size_t n, const float* x, float* y);
void f32_leaky_relu_ref(size_t n, const float* x, float alpha, float* y);
void f32_sigmoid_ref(size_t n, const float* x, float* y);  // 1/(1+e^-x)
void f32_silu_ref(size_t n, const float* x, float* y);     // x * sigmoid(x)
void f32_hard_sigmoid_ref(size_t n, const float* x, float alpha, float beta, float* y);
void f32_hard_swish_ref(size_t n, const float* x, float* y);  // x*hs(x)
void f32_tanh_ref(size_t n, const float* x, float* y);
void f32_erf_ref(size_t n, const float* x, float* y);
void f32_gelu_ref(size_t n, const float* x, float* y);       // 0.5x(1+erf(x/sqrt 2))
void f32_gelu_tanh_ref(size_t n, const float* x, float* y);  // tanh approximation
void f32_sqrt_ref(size_t n, const float* x, float* y);
// y = -x, |x|, e^x, ln x, sin x, cos x (std:: functions: ln of a negative is NaN, of 0 -inf).
void f32_neg_ref(size_t n, const float* x, float* y);
void f32_abs_ref(size_t n, const float* x, float* y);
void f32_exp_ref(size_t n, const float* x, float* y);
void f32_log_ref(size_t n, const float* x, float* y);
void f32_sin_ref(size_t n, const float* x, float* y);
void f32_cos_ref(size_t n, const float* x, float* y);
// y = isnan(x), or isinf(x) limited to the signs asked for, as bool bytes.
void f32_isnan_ref(size_t n, const float* x, uint8_t* y);
void f32_isinf_ref(size_t n, const float* x, bool negative, bool positive, uint8_t* y);
// y = !x, a && b, a || b on bool bytes (any nonzero byte is true).
void bool_not_ref(size_t n, const uint8_t* x, uint8_t* y);
void bool_and_ref(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step, uint8_t* y);
void bool_or_ref(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step, uint8_t* y);

// y = min(max(x, lo), hi); hi wins when lo > hi, NaN passes through.
// T: float, int64_t, int32_t, int8_t, uint8_t.
template <typename T>
void clip_ref(size_t n, const T* x, T lo, T hi, T* y);

// Converts n elements. From, To: float, double, int64_t, int32_t, int8_t, uint8_t, bool
// (as uint8_t through cast_to_bool_ref / cast_from_bool_ref). Float to integer truncates
// toward zero; values outside the target range saturate and NaN gives 0 (ONNX leaves
// both undefined). Integer narrowing wraps around.
template <typename From, typename To>
void cast_ref(size_t n, const From* x, To* y);
// y = x != 0.
template <typename From>
void cast_to_bool_ref(size_t n, const From* x, uint8_t* y);
// y = x ? 1 : 0 in To.
template <typename To>
void cast_from_bool_ref(size_t n, const uint8_t* x, To* y);

// ---- float32 vector kernels ----------------------------------------------------------
//
// One set per ISA, with the signatures of the references above. Every element is computed
// by the same vector code wherever it sits in the row (the tail goes through a padded
// vector), so any split of a row into pieces gives identical bytes. NaN inputs give NaN.
// Sigmoid, SiLU, Tanh, Erf and Gelu use polynomial exp and erf approximations accurate to a few
// float ulps (absolute error under 1e-6 against std::; Gelu relative error under 2e-6 for
// x >= -1, absolute error under 1.2e-7 |x| below).
using F32BinaryFn = void (*)(size_t n, const float* a, size_t a_step, const float* b,
                             size_t b_step, float* y);
using F32UnaryFn = void (*)(size_t n, const float* x, float* y);
using F32ClipFn = void (*)(size_t n, const float* x, float lo, float hi, float* y);
using F32HardSigmoidFn = void (*)(size_t n, const float* x, float alpha, float beta, float* y);

struct F32EltwiseVariant {
  Isa isa;
  const char* suffix;  // "<tile>__<isa>" for kernel names, e.g. "x8__avx2" (f32_add_x8__avx2)
  F32BinaryFn add, sub, mul, div;
  F32UnaryFn relu, sigmoid, hard_swish, tanh, erf, gelu, silu;
  F32ClipFn clip;
  F32HardSigmoidFn hard_sigmoid;
};

// Every set compiled for this architecture (usable here or not), best first, reference last
// (suffix "ref__scalar").
const F32EltwiseVariant* f32_eltwise_variants(size_t* count);
// The best set usable under the ISA cap.
const F32EltwiseVariant& select_f32_eltwise(Isa cap);

#if defined(__x86_64__)
const F32EltwiseVariant& f32_eltwise_avx2();
const F32EltwiseVariant& f32_eltwise_avx512();
#endif
#if defined(__aarch64__)
const F32EltwiseVariant& f32_eltwise_neon();
#endif

}  // namespace pare::rt::kernels
