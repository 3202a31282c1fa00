// Int8 GEMM microkernel, AVX2 without VNNI: 6 rows x 16 columns of int32 accumulators (two
// ymm per row; a last panel of at most 8 columns runs as one ymm). B is packed widened to
// int16 as [16 columns x 2 rows] per 2 rows of K; A's two bytes of those rows are zero-extended
// to int16 and broadcast, and vpmaddwd adds both products per column into int32 exactly
// (simd::Avx2Int8::dot_u8x4). B is read from L1 for each row: the 12 accumulators leave too
// few registers to hold it. The loops are in microkernel_impl.h; the epilogue of a full
// panel packs two rows at a time (Tile::store).
#include "runtime/kernels/qgemm/microkernel_impl.h"
#include "runtime/kernels/qgemm/qgemm.h"
#include "runtime/kernels/simd/x86_avx2_int8.h"

namespace pare::rt::kernels {

namespace {

struct Avx2Gemm {
  using V = simd::Avx2Int8;
  static constexpr size_t kMr = 6, kNr = 16;
  static constexpr size_t kHeaderBytes = qgemm_header_bytes(kNr);         // 256
  static constexpr size_t kGroupBytes = 2 * (2 * kNr * sizeof(int16_t));  // two pairs of rows

  using A = V::U8x4;
  static A broadcast(uint32_t bytes) { return V::broadcast_u8x4(static_cast<int32_t>(bytes)); }

  // 8 * Y columns.
  template <size_t Y>
  struct Tile {
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

    // A whole panel whose shifts are all wide (V::Requantizer) and whose clamp lies in
    // uint8's or int8's range packs two rows' 32 outputs to bytes at once, clamping them as
    // int16 after the zero point (saturating; a saturated value lies past the clamp on the
    // same side, so the bytes are the same): 4-9% faster on K = 16-64 than one row's vector
    // at a time. Anything else goes through RowsEpilogue.
    template <size_t MR>
    static void store(const Acc (&acc)[MR], size_t nc, const int32_t* mult, const int32_t* shift, uint8_t* c,
                      size_t c_stride, int32_t czp, int32_t lo, int32_t hi) {
      if constexpr (Y == 2) {
        if (nc == kNr && ((lo >= 0 && hi <= 255) || (lo >= -128 && hi <= 127))) {
          const Requantizer rq0(mult, shift, czp, lo, hi), rq1(mult + 8, shift + 8, czp, lo, hi);
          if (rq0.wide && rq1.wide) return store_wide(acc, rq0, rq1, c, c_stride, czp, lo, hi);
        }
      }
      qgemm_vec::RowsEpilogue<V, Tile>::template store<MR>(acc, nc, mult, shift, c, c_stride, czp, lo, hi);
    }

    template <size_t MR>
    static void store_wide(const Acc (&acc)[MR], const Requantizer& rq0, const Requantizer& rq1, uint8_t* c,
                           size_t c_stride, int32_t czp, int32_t lo, int32_t hi) {
      const __m256i zp16 = _mm256_set1_epi16(static_cast<int16_t>(czp));
      const __m256i lo16 = _mm256_set1_epi16(static_cast<int16_t>(lo));
      const __m256i hi16 = _mm256_set1_epi16(static_cast<int16_t>(hi));
      const bool is_signed = lo < 0;  // [lo, hi] lies in int8's range, else in uint8's (store)
      // Columns 0-15 of a row as int16, in packs order (0-3, 8-11 | 4-7, 12-15), clamped.
      auto row16 = [&](const Acc& r) {
        const __m256i x = _mm256_packs_epi32(rq0.scale_wide(r.v[0]), rq1.scale_wide(r.v[1]));
        return _mm256_min_epi16(_mm256_max_epi16(_mm256_adds_epi16(x, zp16), lo16), hi16);
      };
      // Two rows' bytes, row a in the low 16 bytes and row b in the high 16, in column order.
      auto bytes = [&](__m256i a, __m256i b) {
        const __m256i x = is_signed ? _mm256_packs_epi16(a, b) : _mm256_packus_epi16(a, b);
        return _mm256_permutevar8x32_epi32(x, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      };
      PARE_QGEMM_UNROLL
      for (size_t i = 0; i + 1 < MR; i += 2) {
        const __m256i x = bytes(row16(acc[i]), row16(acc[i + 1]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(c + i * c_stride), _mm256_castsi256_si128(x));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(c + (i + 1) * c_stride), _mm256_extracti128_si256(x, 1));
      }
      if constexpr (MR % 2 == 1) {
        const __m256i a = row16(acc[MR - 1]);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(c + (MR - 1) * c_stride), _mm256_castsi256_si128(bytes(a, a)));
      }
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
