// Int8 depthwise convolution, AVX2: blocks of 8 channels, one ymm of int32 accumulators. Each
// input byte is zero-extended to an int32 lane (upper int16 0), so vpmaddwd against the
// sign-extended int32 weight gives exactly x * w. The last block of fewer than 8 channels
// reads and writes its bytes through a small buffer. The loops are in vector_impl.h.
#include "runtime/kernels/qdwconv/vector_impl.h"
#include "runtime/kernels/simd/x86_avx2_int8.h"

namespace pare::rt::kernels {

namespace {

struct Avx2DwBlock {
  using V = simd::Avx2Int8;
  static constexpr int64_t kBlock = 8, kWeightBytes = 4, kRegisterTaps = 9;
  static constexpr bool kMaskedTail = false;
  using Acc = V::I32;
  using X = V::I32;
  using W = V::I32;
  using Lanes = int64_t;  // channels in the block
  using Requantizer = V::Requantizer;

  static Lanes lanes(int64_t n) { return n; }
  template <bool kTail>
  static X load_x(const uint8_t* p, Lanes n) {
    if constexpr (kTail) return V::widen_u8_partial(p, static_cast<size_t>(n));
    return V::widen_u8(p);
  }
  static X broadcast_x(int32_t x_zero_point) { return V::set1_i32(x_zero_point); }
  static W load_w(const uint8_t* weights, int64_t tap) {
    return V::load_i32(reinterpret_cast<const int32_t*>(weights) + tap * kBlock);
  }
  static void keep_in_register(W& w) { __asm__("" : "+x"(w)); }
  static Acc load_bias(const int32_t* p) { return V::load_i32(p); }
  static Acc mac(Acc acc, X x, W w) { return V::mac_widened(acc, x, w); }
  template <bool kTail>
  static void store(const Requantizer& rq, Acc acc, Lanes n, uint8_t* out) {
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

void q8_dwconv_3x3s1__avx2(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<Avx2DwBlock, 3, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_3x3s2__avx2(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<Avx2DwBlock, 3, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_5x5s1__avx2(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<Avx2DwBlock, 5, 1, 4>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_5x5s2__avx2(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<Avx2DwBlock, 5, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_kxk__avx2(const QDwConvParams& p, const uint8_t* input, const void* packed,
                         uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_generic<Avx2DwBlock>(p, input, packed, output, oh_begin, oh_end);
}

}  // namespace pare::rt::kernels
