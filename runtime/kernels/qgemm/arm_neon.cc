// Int8 GEMM microkernel, NEON without dot products: 8 rows x 8 columns of int32 accumulators.
// B is packed widened to int16 (8 columns per row of K); A's bytes are zero-extended to
// int16 and smlal (by lane) adds the exact int32 products (simd::NeonInt8::dot_u8x4). The
// loops are in microkernel_impl.h.
#include "runtime/kernels/qgemm/microkernel_impl.h"
#include "runtime/kernels/qgemm/qgemm.h"
#include "runtime/kernels/simd/arm_neon_int8.h"

namespace pare::rt::kernels {

namespace {

struct NeonGemm {
  using V = simd::NeonInt8;
  static constexpr size_t kMr = 8, kNr = 8;
  static constexpr size_t kHeaderBytes = qgemm_header_bytes(kNr);  // 128
  static constexpr size_t kGroupBytes = 4 * kNr * sizeof(int16_t);

  using A = int16x4_t;
  static A broadcast(uint32_t bytes) { return V::widen_u8x4(bytes); }

  struct Tile : qgemm_vec::RowsEpilogue<V, Tile> {
    static constexpr size_t kLanes = 8, kVecs = 1;
    using Requantizer = V::Requantizer<8>;
    struct Acc {
      V::I32x8 v[1];
    };
    struct B {
      int16x8_t rows[4];
    };

    static Acc init(const int32_t* bias) { return {{V::load_i32<8>(bias)}}; }
    static B load_b(const uint8_t* w) {
      const auto* p = reinterpret_cast<const int16_t*>(w);
      return {{vld1q_s16(p), vld1q_s16(p + kNr), vld1q_s16(p + 2 * kNr), vld1q_s16(p + 3 * kNr)}};
    }
    static void dot(Acc& acc, A a, const B& b) { V::dot_u8x4(&acc.v[0], a, b.rows); }
  };

  template <class F>
  static void with_tile(size_t, F f) {
    f(Tile{});
  }
};

}  // namespace

void q8_gemm_8x8__neon(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride, const void* panel,
                       uint8_t* c, size_t c_stride, int32_t czp, int32_t lo, int32_t hi) {
  qgemm_vec::qgemm_microkernel<NeonGemm>(mr, nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
}

}  // namespace pare::rt::kernels
