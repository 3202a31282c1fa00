// The int8 GEMM microkernel written once over an ISA's kernel description K; each ISA file
// defines its K on the vectors of runtime/kernels/simd/<isa>_int8.h and instantiates
// qgemm_microkernel<K>.
//
// A tile is mr <= K::kMr rows of A times the nc <= K::kNr columns of one packed panel
// (qgemm.h): int32 accumulators start from the panel's bias, every group of 4 rows of K adds
// the products of 4 bytes of each A row (broadcast) by the panel's 4 rows of B, and the
// epilogue requantizes the accumulators to bytes. A last group of k % 4 rows reads only the
// row's bytes (zero-extended); the panel's rows past K are zero, so the padding adds nothing.
//
// K provides:
//   kMr, kNr, kHeaderBytes (the panel header: bias, multipliers, shifts), kGroupBytes (B per
//   4 rows of K); A broadcast(uint32_t four_bytes);
//   template <class F> void with_tile(size_t nc, F f): f(Tile{}) with the tile for nc columns.
// A Tile provides:
//   Acc (the accumulators of one row), B (4 rows of B as the inner product reads them);
//   Acc init(const int32_t* bias); B load_b(const uint8_t*); void dot(Acc&, const A&, const B&)
//   (the ISA's inner product); template <size_t MR> void store(const Acc (&)[MR], nc, mult,
//   shift, c, c_stride, c_zero_point, lo, hi) (the epilogue; RowsEpilogue for most).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#define PARE_QGEMM_UNROLL _Pragma("GCC unroll 16")

namespace pare::rt::kernels::qgemm_vec {
// Internal linkage: each ISA file compiles these with its own flags.
namespace {

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t x;
  std::memcpy(&x, p, sizeof(x));
  return x;
}

// The last n < 4 bytes of a row, zero-extended (never read past the row).
inline uint32_t load_tail(const uint8_t* p, size_t n) {
  uint32_t x = 0;
  std::memcpy(&x, p, n);
  return x;
}

// The common epilogue, a base of the Tile (CRTP) for rows of Tile::kVecs vectors of
// Tile::kLanes columns (Tile::Acc holds v[kVecs]): each vector requantized
// (Tile::Requantizer) and stored as bytes (V::store_low_bytes, the last columns of the panel
// through V::store_low_bytes_partial).
template <class V, class Tile>
struct RowsEpilogue {
  template <size_t MR, class Acc>
  static void store(const Acc (&acc)[MR], size_t nc, const int32_t* mult, const int32_t* shift,
                    uint8_t* c, size_t c_stride, int32_t c_zero_point, int32_t lo, int32_t hi) {
    constexpr size_t L = Tile::kLanes;
    PARE_QGEMM_UNROLL
    for (size_t j = 0; j < Tile::kVecs; ++j) {
      const typename Tile::Requantizer rq(mult + L * j, shift + L * j, c_zero_point, lo, hi);
      const size_t cols = nc - L * j < L ? nc - L * j : L;
      PARE_QGEMM_UNROLL
      for (size_t i = 0; i < MR; ++i) {
        uint8_t* out = c + i * c_stride + L * j;
        if (cols == L) {
          V::store_low_bytes(out, rq.apply(acc[i].v[j]));
        } else {
          V::store_low_bytes_partial(out, rq.apply(acc[i].v[j]), cols);
        }
      }
    }
  }
};

// Not inlined into the dispatch: one function per tile shape keeps each k loop's register
// allocation to itself (measurably faster for the larger tiles).
template <class K, class Tile, size_t MR>
__attribute__((noinline)) void tile(size_t nc, size_t k, const uint8_t* a, size_t a_stride, const uint8_t* panel, uint8_t* c,
                 size_t c_stride, int32_t c_zero_point, int32_t lo, int32_t hi) {
  const auto* bias = reinterpret_cast<const int32_t*>(panel);
  const uint8_t* w = panel + K::kHeaderBytes;
  typename Tile::Acc acc[MR];
  PARE_QGEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) acc[i] = Tile::init(bias);
  auto step = [&](auto&& a_bytes) {
    const typename Tile::B b = Tile::load_b(w);
    PARE_QGEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) Tile::dot(acc[i], K::broadcast(a_bytes(a + i * a_stride)), b);
    w += K::kGroupBytes;
  };
  const size_t k4 = k / 4;
  for (size_t g = 0; g < k4; ++g) step([g](const uint8_t* row) { return load_u32(row + 4 * g); });
  if (k % 4) step([k4, k](const uint8_t* row) { return load_tail(row + 4 * k4, k % 4); });
  Tile::template store<MR>(acc, nc, bias + K::kNr, bias + 2 * K::kNr, c, c_stride, c_zero_point, lo, hi);
}

// Dispatches mr at run time to a tile of MR rows, from MR = 1 up to K::kMr.
template <class K, size_t MR = 1>
inline void tile_rows(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride, const uint8_t* panel,
                      uint8_t* c, size_t c_stride, int32_t czp, int32_t lo, int32_t hi) {
  if constexpr (MR < K::kMr) {
    if (mr > MR) return tile_rows<K, MR + 1>(mr, nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
  }
  K::with_tile(nc, [&](auto t) {
    tile<K, decltype(t), MR>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
  });
}

// The QGemmMicrokernel of K.
template <class K>
void qgemm_microkernel(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride, const void* panel,
                       uint8_t* c, size_t c_stride, int32_t czp, int32_t lo, int32_t hi) {
  tile_rows<K>(mr, nc, k, a, a_stride, static_cast<const uint8_t*>(panel), c, c_stride, czp, lo, hi);
}

}  // namespace
}  // namespace pare::rt::kernels::qgemm_vec
