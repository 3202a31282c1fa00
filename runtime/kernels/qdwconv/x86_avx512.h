// The AVX-512 channel block of the int8 depthwise convolution (vector_impl.h), shared by
// x86_avx512.cc and x86_avx512vnni.cc: 16 channels, one zmm of int32 accumulators, the last
// block under a lane mask. Each input byte is zero-extended to an int32 lane whose upper int16
// is 0, so vpmaddwd (vpdpwssd with VNNI) against the sign-extended int32 weight gives exactly
// x * w. The epilogue is requantize() in 64-bit lanes.
#pragma once

#include "runtime/kernels/qdwconv/vector_impl.h"
#include "runtime/kernels/simd/x86_avx512_int8.h"

namespace pare::rt::kernels {
namespace {

struct Avx512DwBlock {
  using V = simd::Avx512Int8;
  static constexpr int64_t kBlock = 16, kWeightBytes = 4, kRegisterTaps = 9;
  static constexpr bool kMaskedTail = true;
  using Acc = V::I32;
  using X = V::I32;
  using W = V::I32;
  using Lanes = V::Mask;
  using Requantizer = V::Requantizer;

  static Lanes lanes(int64_t n) { return V::lanes(static_cast<size_t>(n)); }
  template <bool kTail>
  static X load_x(const uint8_t* p, Lanes m) { return V::widen_u8(p, m); }
  static X broadcast_x(int32_t x_zero_point) { return V::set1_i32(x_zero_point); }
  static W load_w(const uint8_t* weights, int64_t tap) {
    return V::load_i32(reinterpret_cast<const int32_t*>(weights) + tap * kBlock);
  }
  static void keep_in_register(W& w) { __asm__("" : "+v"(w)); }
  static Acc load_bias(const int32_t* p) { return V::load_i32(p); }
  static Acc mac(Acc acc, X x, W w) { return V::mac_widened(acc, x, w); }
  template <bool kTail>
  static void store(const Requantizer& rq, Acc acc, Lanes m, uint8_t* out) { V::store_low_bytes(out, rq.apply(acc), m); }
};

}  // namespace
}  // namespace pare::rt::kernels
