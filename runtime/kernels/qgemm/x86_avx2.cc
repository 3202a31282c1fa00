// Int8 GEMM microkernel, AVX2 without VNNI: 6 rows x 16 columns of int32 accumulators (two
// ymm per row; a last panel of at most 8 columns runs as one ymm). B is packed widened to
// int16 as [16 columns x 2 rows] per 2 rows of K; A's two bytes of those rows are zero-extended
// to int16 and broadcast, and vpmaddwd adds both products per column into int32 exactly
// (simd::Avx2Int8::dot_u8x4). B is read from L1 for each row: the 12 accumulators leave too
// few registers to hold it. The loops are in microkernel_impl.h.
#include "runtime/kernels/qgemm/microkernel_impl.h"
#include "runtime/kernels/qgemm/qgemm.h"
#include "runtime/kernels/simd/x86_avx2_int8.h"

namespace pare::rt::kernels {

namespace {

struct Avx2Gemm {
  using V = simd::Avx2Int8;
  static constexpr size_t kMr = 6, kNr = 16;
  static constexpr size_t kHeaderBytes = 3 * kNr * sizeof(int32_t);       // 192
  static constexpr size_t kGroupBytes = 2 * (2 * kNr * sizeof(int16_t));  // two pairs of rows

  using A = V::U8x4;
  static A broadcast(uint32_t bytes) { return V::broadcast_u8x4(static_cast<int32_t>(bytes)); }

  // 8 * Y columns.
  template <size_t Y>
  struct Tile : qgemm_vec::RowsEpilogue<V, Tile<Y>> {
    static constexpr size_t kLanes = V::kLanes, kVecs = Y;
    using Requantizer = V::Requantizer;
    struct Acc {
      V::I32 v[Y];
    };
    using B = const uint8_t*;

    static Acc init(const int32_t* bias) {
      Acc acc;
      PARE_QGEMM_UNROLL
      for (size_t j = 0; j < Y; ++j) acc.v[j] = V::load_i32(bias + 8 * j);
      return acc;
    }
    static B load_b(const uint8_t* w) { return w; }
    static void dot(Acc& acc, const A& a, B b) {
      PARE_QGEMM_UNROLL
      for (size_t j = 0; j < Y; ++j) acc.v[j] = V::dot_u8x4(acc.v[j], a, b + 32 * j, b + 2 * kNr * 2 + 32 * j);
    }
  };

  template <class F>
  static void with_tile(size_t nc, F f) {
    if (nc <= 8) return f(Tile<1>{});
    return f(Tile<2>{});
  }
};

}  // namespace

void q8_gemm_6x16__avx2(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride, const void* panel,
                        uint8_t* c, size_t c_stride, int32_t czp, int32_t lo, int32_t hi) {
  qgemm_vec::qgemm_microkernel<Avx2Gemm>(mr, nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
}

}  // namespace pare::rt::kernels
