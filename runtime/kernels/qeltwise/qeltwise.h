// Int8 elementwise kernels: quantize / dequantize between float32 and 8-bit, binary Add and
// Mul of two quantized operands into a quantized output, and table lookups (any
// elementwise function of one 8-bit input: Sigmoid, HardSwish, a change of scale, ...).
//
// Arithmetic (identical for every variant, tested bit for bit against the reference):
//   quantize:   q = clamp(nearbyint(x / scale) + zero_point, lo, hi)   (ties to even, as
//               ONNX QuantizeLinear; a true division, not a multiply by 1/scale; NaN -> zero_point)
//   dequantize: x = float(q - zero_point) * scale
//   add:        t = fmaf(float(a - za), fa, float(b - zb) * fb), fa = sa/sy, fb = sb/sy (floats)
//   mul:        t = float((a - za) * (b - zb)) * fm, fm = sa*sb/sy
//               y = clamp(nearbyint(t) + zy, lo, hi)        (ties to even)
//   lookup:     y = table[x]                                 (256 entries, indexed by the byte)
// 8-bit values travel as bytes; `is_signed` says how a byte reads (int8 vs uint8).
// Binary kernels take a step of 0 or 1 per operand, as the float eltwise kernels do, so an
// op walks a broadcast as runs of contiguous elements.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/cpu.h"

namespace pare::rt::kernels {

struct Q8QuantizeParams {
  float scale = 1.f;
  int32_t zero_point = 0;
  int32_t lo = 0, hi = 255;  // the dtype's range
};

struct Q8BinaryParams {
  bool a_signed = false, b_signed = false, y_signed = false;
  int32_t a_zero_point = 0, b_zero_point = 0, y_zero_point = 0;
  float a_multiplier = 1.f;  // add: sa / sy; mul: sa * sb / sy (b_multiplier unused)
  float b_multiplier = 1.f;  // add: sb / sy
  int32_t lo = 0, hi = 255;  // output clamp (dtype range and fused Relu/Clip)
};

using Q8QuantizeFn = void (*)(size_t n, const float* x, const Q8QuantizeParams& p, uint8_t* y);
using Q8DequantizeFn = void (*)(size_t n, const uint8_t* x, bool is_signed, int32_t zero_point,
                                float scale, float* y);
using Q8BinaryFn = void (*)(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b,
                            size_t b_step, const Q8BinaryParams& p, uint8_t* y);
using Q8LookupFn = void (*)(size_t n, const uint8_t* x, const uint8_t table[256], uint8_t* y);

struct Q8EltwiseVariant {
  const char* isa_name;  // suffix for kernel names: "avx512", "scalar"
  Isa isa;
  Q8QuantizeFn quantize;
  Q8DequantizeFn dequantize;
  Q8BinaryFn add;
  Q8BinaryFn mul;
  Q8LookupFn lookup;
};

void q8_quantize_ref(size_t n, const float* x, const Q8QuantizeParams& p, uint8_t* y);
void q8_dequantize_ref(size_t n, const uint8_t* x, bool is_signed, int32_t zero_point, float scale,
                       float* y);
void q8_add_ref(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
                const Q8BinaryParams& p, uint8_t* y);
void q8_mul_ref(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
                const Q8BinaryParams& p, uint8_t* y);
void q8_lookup_ref(size_t n, const uint8_t* x, const uint8_t table[256], uint8_t* y);

const Q8EltwiseVariant* q8_eltwise_variants(size_t* count);  // scalar first
const Q8EltwiseVariant& select_q8_eltwise(Isa cap);

// The per-ISA sets (in the variant table of their architecture).
#if defined(__x86_64__)
const Q8EltwiseVariant& q8_eltwise_avx2();
const Q8EltwiseVariant& q8_eltwise_avx512();
// The AVX-512 variant's two lookups, which it picks between by the CPU (for the tests): 16
// nibble shuffles with AVX-512BW alone, two vpermi2b with VBMI.
void q8_lookup__avx512bw(size_t n, const uint8_t* x, const uint8_t table[256], uint8_t* y);
void q8_lookup__avx512vbmi(size_t n, const uint8_t* x, const uint8_t table[256], uint8_t* y);
#endif
#if defined(__aarch64__)
const Q8EltwiseVariant& q8_eltwise_neon();
#endif

}  // namespace pare::rt::kernels
