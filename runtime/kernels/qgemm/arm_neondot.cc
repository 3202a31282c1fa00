// Int8 GEMM microkernel, NEON with dot products (sdot): 8 rows x 8 columns of int32
// accumulators, B packed as [8 columns x 4 bytes] per 4 rows of K. sdot multiplies signed
// bytes, so A is read as a ^ 0x80 = a - 128 (exact in int8) and the packed bias carries the
// missing 128 * sum(w) (qgemm_pack_b); the tail's padding bytes of A, 0x80 after the flip,
// meet zero rows of B. Sums of 4 products of at most 128 * 128 are exact. The loops are in
// microkernel_impl.h.
#include "runtime/kernels/qgemm/microkernel_impl.h"
#include "runtime/kernels/qgemm/qgemm.h"
#include "runtime/kernels/simd/arm_neon_int8.h"

namespace pare::rt::kernels {

namespace {

struct NeonDotGemm {
  using V = simd::NeonInt8;
  static constexpr size_t kMr = 8, kNr = 8;
  static constexpr size_t kHeaderBytes = qgemm_header_bytes(kNr);  // 128
  static constexpr size_t kGroupBytes = 4 * kNr;

  using A = int8x16_t;
  static A broadcast(uint32_t bytes) { return V::broadcast_u8x4_flipped(bytes); }

  struct Tile : qgemm_vec::RowsEpilogue<V, Tile> {
    static constexpr size_t kLanes = 8, kVecs = 1;
    using Requantizer = V::Requantizer<8>;
    struct Acc {
      V::I32x8 v[1];
    };
    struct B {
      int8x16_t cols0_3, cols4_7;
    };

    static Acc init(const int32_t* bias) { return {{V::load_i32<8>(bias)}}; }
    static B load_b(const uint8_t* w) {
      const auto* p = reinterpret_cast<const int8_t*>(w);
      return {vld1q_s8(p), vld1q_s8(p + 16)};
    }
    static void dot(Acc& acc, A a, const B& b) { V::dot_s8x4(&acc.v[0], a, b.cols0_3, b.cols4_7); }
  };

  template <class F>
  static void with_tile(size_t, F f) {
    f(Tile{});
  }
};

}  // namespace

void q8_gemm_8x8__neondot(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride, const void* panel,
                          uint8_t* c, size_t c_stride, int32_t czp, int32_t lo, int32_t hi) {
  qgemm_vec::qgemm_microkernel<NeonDotGemm>(mr, nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
}

}  // namespace pare::rt::kernels
