// The int8 elementwise kernels (quantize, dequantize, Add, Mul) written once over an ISA's
// int8 vector type V (runtime/kernels/simd/<isa>_int8.h); each ISA file instantiates
// make_q8_eltwise_variant<V>. A block is V::kBlockVecs vectors of V::kLanes int32 or float
// lanes. A signed byte is read as (byte ^ 0x80) zero-extended with 128 added to its zero
// point, which gives the same difference q - zero_point as a sign extension.
//
// The row walkers call a block function on kBlock elements at a time and run the tail through
// padded buffers, so every element goes through the same vector code wherever it sits in the
// row. A step-0 operand is replaced by a block filled with its value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "runtime/kernels/qeltwise/qeltwise.h"

namespace pare::rt::kernels::q8_eltwise_vec {

constexpr size_t kMaxBlock = 64;

// block(const In* x, Out* y) on kBlock elements.
template <size_t kBlock, typename In, typename Out, typename Block>
inline void unary(size_t n, const In* x, Out* y, const Block& block) {
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) block(x + i, y + i);
  if (i == n) return;
  In xt[kBlock] = {};
  Out yt[kBlock];
  std::memcpy(xt, x + i, (n - i) * sizeof(In));
  block(xt, yt);
  std::memcpy(y + i, yt, (n - i) * sizeof(Out));
}

// block(const uint8_t* a, const uint8_t* b, uint8_t* y) on kBlock elements.
template <size_t kBlock, typename Block>
inline void binary(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
                   uint8_t* y, const Block& block) {
  static_assert(kBlock <= kMaxBlock, "block too large");
  if (n == 0) return;
  uint8_t a_fill[kBlock], b_fill[kBlock];
  if (a_step == 0) {
    std::memset(a_fill, *a, kBlock);
    a = a_fill;
  }
  if (b_step == 0) {
    std::memset(b_fill, *b, kBlock);
    b = b_fill;
  }
  const size_t a_adv = a_step != 0 ? kBlock : 0, b_adv = b_step != 0 ? kBlock : 0;
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock, a += a_adv, b += b_adv) block(a, b, y + i);
  if (i == n) return;
  uint8_t at[kBlock] = {}, bt[kBlock] = {}, yt[kBlock];
  std::memcpy(at, a, a_step != 0 ? n - i : kBlock);
  std::memcpy(bt, b, b_step != 0 ? n - i : kBlock);
  block(at, bt, yt);
  std::memcpy(y + i, yt, n - i);
}

// q - zero_point of one block of 8-bit inputs, as floats (exact).
template <typename V>
struct In8 {
  typename V::I32 flip, zero_point;
  In8(bool is_signed, int32_t zp)
      : flip(V::set1_i32(is_signed ? 0x80 : 0)), zero_point(V::set1_i32(zp + (is_signed ? 128 : 0))) {}
  void load(const uint8_t* p, typename V::F32* f) const {
    typename V::I32 v[V::kBlockVecs];
    V::widen_u8_block(p, v);
    for (size_t k = 0; k < V::kBlockVecs; ++k) f[k] = V::to_f32(V::sub_i32(V::xor_i32(v[k], flip), zero_point));
  }
};

// Real results in the output's scale to bytes: rounded to nearest even, + zero point, clamped.
template <typename V>
struct Out8 {
  using F = typename V::Float;
  typename V::F32 zero_point, lo, hi;
  Out8(int32_t zp, int32_t l, int32_t h)
      : zero_point(F::set1(static_cast<float>(zp))),
        lo(F::set1(static_cast<float>(l))),
        hi(F::set1(static_cast<float>(h))) {}
  typename V::F32 round_clamp(typename V::F32 t) const {
    return F::min_native(F::max_native(F::add(F::round(t), zero_point), lo), hi);
  }
  // Stores the low bytes of one block of integral floats.
  static void store(const typename V::F32* r, uint8_t* y) {
    typename V::I32 v[V::kBlockVecs];
    for (size_t k = 0; k < V::kBlockVecs; ++k) v[k] = V::truncate_to_i32(r[k]);
    V::store_low_bytes_block(y, v);
  }
};

template <typename V>
struct Kernels {
  static constexpr size_t kVecs = V::kBlockVecs, kBlock = kVecs * V::kLanes;
  using F = typename V::Float;
  using F32 = typename V::F32;

  static void quantize(size_t n, const float* x, const Q8QuantizeParams& p, uint8_t* y) {
    const Out8<V> out(p.zero_point, p.lo, p.hi);
    const F32 scale = F::set1(p.scale);
    unary<kBlock>(n, x, y, [&](const float* xp, uint8_t* yp) {
      F32 r[kVecs];
      for (size_t k = 0; k < kVecs; ++k) {
        const F32 v = F::div(F::load(xp + V::kLanes * k), scale);
        r[k] = F::select(F::is_nan(v), out.zero_point, out.round_clamp(v));  // NaN -> zero point
      }
      Out8<V>::store(r, yp);
    });
  }

  static void dequantize(size_t n, const uint8_t* x, bool is_signed, int32_t zero_point, float scale, float* y) {
    const In8<V> in(is_signed, zero_point);
    const F32 s = F::set1(scale);
    unary<kBlock>(n, x, y, [&](const uint8_t* xp, float* yp) {
      F32 f[kVecs];
      in.load(xp, f);
      for (size_t k = 0; k < kVecs; ++k) F::store(yp + V::kLanes * k, F::mul(f[k], s));
    });
  }

  // y = round_clamp(f(a - a_zero_point, b - b_zero_point)) with f on float lanes.
  template <typename F>
  static void binary_op(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
                        const Q8BinaryParams& p, uint8_t* y, F f) {
    const In8<V> ia(p.a_signed, p.a_zero_point), ib(p.b_signed, p.b_zero_point);
    const Out8<V> out(p.y_zero_point, p.lo, p.hi);
    binary<kBlock>(n, a, a_step, b, b_step, y, [&](const uint8_t* ap, const uint8_t* bp, uint8_t* yp) {
      F32 fa[kVecs], fb[kVecs], r[kVecs];
      ia.load(ap, fa);
      ib.load(bp, fb);
      for (size_t k = 0; k < kVecs; ++k) r[k] = out.round_clamp(f(fa[k], fb[k]));
      Out8<V>::store(r, yp);
    });
  }

  static void add(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
                  const Q8BinaryParams& p, uint8_t* y) {
    const F32 ma = F::set1(p.a_multiplier), mb = F::set1(p.b_multiplier);
    binary_op(n, a, a_step, b, b_step, p, y, [&](F32 fa, F32 fb) { return F::fmadd(fa, ma, F::mul(fb, mb)); });
  }

  static void mul(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
                  const Q8BinaryParams& p, uint8_t* y) {
    const F32 m = F::set1(p.a_multiplier);
    // The products of differences (|.| <= 255 * 255) are exact in float, as in int32.
    binary_op(n, a, a_step, b, b_step, p, y, [&](F32 fa, F32 fb) { return F::mul(F::mul(fa, fb), m); });
  }
};

// lookup: the ISA's table lookup (byte shuffles, not written over V).
template <typename V>
constexpr Q8EltwiseVariant make_q8_eltwise_variant(const char* isa_name, Isa isa, Q8LookupFn lookup) {
  return {isa_name, isa, Kernels<V>::quantize, Kernels<V>::dequantize, Kernels<V>::add, Kernels<V>::mul, lookup};
}

}  // namespace pare::rt::kernels::q8_eltwise_vec
