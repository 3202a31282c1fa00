// Int8 depthwise convolution, NEON (AArch64): blocks of 16 channels held as four int32x4
// accumulators. Input bytes widen to int16 (uxtl) and multiply-accumulate against the packed
// int16 weights with smlal / smlal2 (int16 x int16 -> int32). The last block of fewer than 16
// channels reads and writes its bytes through a small buffer. The loops are in vector_impl.h.
#include "runtime/kernels/qdwconv/vector_impl.h"
#include "runtime/kernels/simd/arm_neon_int8.h"

namespace pare::rt::kernels {

namespace {

struct NeonDwBlock {
  using V = simd::NeonInt8;
  // Kernel rows are loaded as the tile needs them (kRegisterTaps 0).
  static constexpr int64_t kBlock = 16, kWeightBytes = 2, kRegisterTaps = 0;
  static constexpr bool kMaskedTail = false;
  using Acc = V::I32x16;
  using X = V::I16x16;
  using W = V::I16x16;
  using Lanes = int64_t;  // channels in the block
  using Requantizer = V::Requantizer<16>;

  static Lanes lanes(int64_t n) { return n; }
  template <bool kTail>
  static X load_x(const uint8_t* p, Lanes n) {
    if constexpr (kTail) return V::widen_u8_partial(p, static_cast<size_t>(n));
    return V::widen_u8(p);
  }
  static X broadcast_x(int32_t x_zero_point) { return V::set1_i16(static_cast<int16_t>(x_zero_point)); }
  static W load_w(const uint8_t* weights, int64_t tap) {
    return V::load_i16(reinterpret_cast<const int16_t*>(weights) + tap * kBlock);
  }
  static void keep_in_register(W&) {}
  static Acc load_bias(const int32_t* p) { return V::load_i32<16>(p); }
  static Acc mac(Acc acc, const X& x, const W& w) {
    V::mac_widened(&acc, x, w);
    return acc;
  }
  template <bool kTail>
  static void store(const Requantizer& rq, const Acc& acc, Lanes n, uint8_t* out) {
    if constexpr (kTail) {
      V::store_low_bytes_partial(out, rq.apply(acc), static_cast<size_t>(n));
    } else {
      V::store_low_bytes(out, rq.apply(acc));
    }
  }
};

}  // namespace

using qdwconv_vec::qdwconv_fixed;
using qdwconv_vec::qdwconv_generic;

void q8_dwconv_3x3s1__neon(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<NeonDwBlock, 3, 1, 2>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_3x3s2__neon(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<NeonDwBlock, 3, 2, 2>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_5x5s1__neon(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<NeonDwBlock, 5, 1, 2>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_5x5s2__neon(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<NeonDwBlock, 5, 2, 2>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_kxk__neon(const QDwConvParams& p, const uint8_t* input, const void* packed,
                         uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_generic<NeonDwBlock>(p, input, packed, output, oh_begin, oh_end);
}

}  // namespace pare::rt::kernels
