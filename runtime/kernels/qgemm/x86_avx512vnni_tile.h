// The AVX-512 VNNI int8 GEMM tile (8 rows x 32 columns), shared by the VNNI microkernel and
// the AMX one, which runs its edges and its epilogue. Include only from files compiled with the
// AVX-512 VNNI flags (internal linkage: each includer gets its own copy).
//
// 8 rows x 32 columns of int32 accumulators (two zmm per row; a last panel of at most 24
// columns runs as zmm + ymm, of at most 16 as one zmm, of at most 8 as one ymm). Each vpdpbusd
// adds 4 products of uint8 A by int8 B per column: A's 4 bytes broadcast to every lane, B
// packed as [32 columns x 4 bytes] per 4 rows of K. Products of 4 are at most 4 * 255 * 128,
// so nothing saturates: the sums are exact. The loops are in microkernel_impl.h; the epilogue
// scales in 32-bit lanes and packs with saturation when every column's real scale is below
// 1/2 (the usual case), and skips the 64-bit rounding adds below 1/4.
#pragma once

#include <type_traits>

#include "runtime/kernels/qgemm/microkernel_impl.h"
#include "runtime/kernels/qgemm/qgemm.h"
#include "runtime/kernels/simd/x86_avx512_int8.h"

namespace pare::rt::kernels {
namespace {

using V = simd::Avx512Int8;

// Stores MR rows of Z (1 or 2) groups of 16 scaled columns (V::QuarterScale or V::HalfScale) through
// V::BytePacker.
// Always inlined: a call would pass the accumulators through memory.
template <size_t MR, size_t Z, bool kSigned, class Acc>
__attribute__((always_inline)) inline void store_packed(const Acc (&v)[MR], size_t nc, uint8_t* c, size_t c_stride, int32_t zp, int32_t lo, int32_t hi) {
  const V::BytePacker<kSigned> pk(zp, lo, hi);
  if constexpr (Z == 2) {
    // Two rows per zmm: row i in the low 32 bytes, row i + 1 in the high ones.
    const __mmask32 mask = nc >= 32 ? ~__mmask32(0) : __mmask32((1u << nc) - 1);
    PARE_QGEMM_UNROLL
    for (size_t i = 0; i < MR; i += 2) {
      const size_t i1 = i + 1 < MR ? i + 1 : i;
      const __m512i b = pk.bytes(pk.words(v[i].z[0], v[i].z[1]), pk.words(v[i1].z[0], v[i1].z[1]));
      uint8_t* row = c + i * c_stride;
      if (nc >= 32) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(row), _mm512_castsi512_si256(b));
        if (i + 1 < MR) _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + c_stride), _mm512_extracti64x4_epi64(b, 1));
      } else {
        _mm256_mask_storeu_epi8(row, mask, _mm512_castsi512_si256(b));
        if (i + 1 < MR) _mm256_mask_storeu_epi8(row + c_stride, mask, _mm512_extracti64x4_epi64(b, 1));
      }
    }
  } else {
    // One row per vpmovdb (register form: the memory form is slow on some cores).
    const __mmask16 mask = V::lanes(nc);
    const __m512i zp32 = _mm512_set1_epi32(zp), lo32 = _mm512_set1_epi32(lo - zp), hi32 = _mm512_set1_epi32(hi - zp);
    PARE_QGEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) {
      const __m512i x = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v[i].z[0], lo32), hi32), zp32);
      const __m128i r = _mm512_cvtepi32_epi8(x);
      uint8_t* row = c + i * c_stride;
      if (nc >= 16) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(row), r);
      } else {
        _mm_mask_storeu_epi8(row, mask, r);
      }
    }
  }
}

struct Avx512VnniGemm {
  static constexpr size_t kMr = 8, kNr = 32;
  static constexpr size_t kHeaderBytes = qgemm_header_bytes(kNr);  // 448
  static constexpr size_t kGroupBytes = 4 * kNr;

  using A = int32_t;  // 4 bytes, broadcast by the inner product to the width it needs
  static A broadcast(uint32_t bytes) { return static_cast<int32_t>(bytes); }

  // 16 * Z + 8 * Y columns of the panel: columns past the last multiple of 8 that holds data
  // are zero padding, so the tile skips them.
  template <size_t Z, size_t Y>
  struct Tile {
    static_assert(16 * Z + 8 * Y <= kNr && Y <= 1, "tile wider than the panel");
    static constexpr size_t kZmm = Z, kYmm = Y;
    static constexpr size_t kZ = Z > 0 ? Z : 1;
    struct Acc {
      __m512i z[kZ];
      __m256i half;
    };
    struct B {
      __m512i z[kZ];
      __m256i half;
    };

    static Acc init(const int32_t* bias) {
      Acc acc;
      if constexpr (Z > 0) {
        PARE_QGEMM_UNROLL
        for (size_t j = 0; j < Z; ++j) acc.z[j] = V::load_i32(bias + 16 * j);
      }
      if constexpr (Y > 0) acc.half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias + 16 * Z));
      return acc;
    }
    static B load_b(const uint8_t* w) {
      B b;
      if constexpr (Z > 0) {
        PARE_QGEMM_UNROLL
        for (size_t j = 0; j < Z; ++j) b.z[j] = _mm512_loadu_si512(w + 64 * j);
      }
      if constexpr (Y > 0) b.half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 64 * Z));
      return b;
    }
    static void dot(Acc& acc, A x, const B& b) {
      // One broadcast serves the ymm half too (its low lanes): a second one made GCC load
      // A's bytes into a general register and broadcast twice from there, two shuffle-port
      // uops per row and step beside the two vpdpbusd (N = 24 ran at half speed).
      const __m512i av = _mm512_set1_epi32(x);
      if constexpr (Z > 0) {
        PARE_QGEMM_UNROLL
        for (size_t j = 0; j < Z; ++j) acc.z[j] = V::dot_u8x4(acc.z[j], av, b.z[j]);
      }
      if constexpr (Y > 0) acc.half = V::dot_u8x4(acc.half, _mm512_castsi512_si256(av), b.half);
    }

    // The panel's smallest shift of a column with a nonzero multiplier, which the header
    // holds after the shifts (qgemm.h): it decides the scaling once per panel.
    static int32_t panel_min_shift(const int32_t* shift) { return shift[kNr]; }

    template <size_t MR>
    static void store(Acc (&acc)[MR], size_t nc, const int32_t* mult, const int32_t* shift, uint8_t* c,
                      size_t c_stride, int32_t c_zero_point, int32_t lo, int32_t hi) {
      if constexpr (Z > 0) store_full<MR>(acc, nc, mult, shift, c, c_stride, c_zero_point, lo, hi);
      if constexpr (Y > 0) store_half<MR>(acc, nc, mult, shift, c, c_stride, c_zero_point, lo, hi);
    }

    // The 16-column groups.
    template <size_t MR>
    static void store_full(Acc (&acc)[MR], size_t nc, const int32_t* mult, const int32_t* shift, uint8_t* c,
                           size_t c_stride, int32_t c_zero_point, int32_t lo, int32_t hi) {
      // The packed path needs the clamp inside one byte range and a small zero point.
      const bool as_u8 = lo >= 0 && hi <= 255, as_s8 = lo >= -128 && hi <= 127;
      const int32_t min_shift = panel_min_shift(shift);
      if ((as_u8 || as_s8) && c_zero_point > -32000 && c_zero_point < 32000 && min_shift >= V::kHalfScaleMinShift) {
        const size_t ncz = nc < 16 * Z ? nc : 16 * Z;
        if (min_shift >= V::kQuarterScaleMinShift) {
          scale_rows<MR, V::QuarterScale>(acc, mult, shift);
        } else {
          scale_rows<MR, V::HalfScale>(acc, mult, shift);
        }
        if (as_u8) {
          store_packed<MR, Z, false>(acc, ncz, c, c_stride, c_zero_point, lo, hi);
        } else {
          store_packed<MR, Z, true>(acc, ncz, c, c_stride, c_zero_point, lo, hi);
        }
      } else {
        PARE_QGEMM_UNROLL
        for (size_t j = 0; j < Z; ++j) {
          const V::Requantizer rq(mult + 16 * j, shift + 16 * j, c_zero_point, lo, hi);
          const V::Mask mask = V::lanes(nc - 16 * j);
          PARE_QGEMM_UNROLL
          for (size_t i = 0; i < MR; ++i) V::store_low_bytes(c + i * c_stride + 16 * j, rq.apply(acc[i].z[j]), mask);
        }
      }
    }

    // The Z groups of 16 columns of MR rows scaled by Scale (V::HalfScale or V::QuarterScale).
    template <size_t MR, class Scale>
    static void scale_rows(Acc (&acc)[MR], const int32_t* mult, const int32_t* shift) {
      PARE_QGEMM_UNROLL
      for (size_t j = 0; j < Z; ++j) {
        const Scale sc(V::load_i32(mult + 16 * j), V::load_i32(shift + 16 * j));
        PARE_QGEMM_UNROLL
        for (size_t i = 0; i < MR; ++i) acc[i].z[j] = sc.apply(acc[i].z[j]);
      }
    }

    // The 8-column halves, two rows per zmm: scaled in 32-bit lanes (V::QuarterScale or
    // V::HalfScale) and clamped there where the shifts and the clamp allow, else through the
    // 64-bit V::Requantizer.
    template <size_t MR>
    static void store_half(const Acc (&acc)[MR], size_t nc, const int32_t* mult, const int32_t* shift, uint8_t* c,
                           size_t c_stride, int32_t c_zero_point, int32_t lo, int32_t hi) {
      const auto* m8 = reinterpret_cast<const __m256i*>(mult + 16 * Z);
      const auto* s8 = reinterpret_cast<const __m256i*>(shift + 16 * Z);
      const __m512i m = _mm512_broadcast_i64x4(_mm256_loadu_si256(m8));
      const __m512i s = _mm512_broadcast_i64x4(_mm256_loadu_si256(s8));
      const size_t n8 = nc - 16 * Z;
      const bool bytes_clamp = lo >= -128 && hi <= 255 && c_zero_point > -32000 && c_zero_point < 32000;
      const int32_t min_shift = panel_min_shift(shift);
      if (bytes_clamp && min_shift >= V::kQuarterScaleMinShift) {
        store_half_rows<MR>(acc, n8, V::QuarterScale(m, s), c, c_stride, c_zero_point, lo, hi);
      } else if (bytes_clamp && min_shift >= V::kHalfScaleMinShift) {
        store_half_rows<MR>(acc, n8, V::HalfScale(m, s), c, c_stride, c_zero_point, lo, hi);
      } else {
        store_half_rows<MR>(acc, n8, V::Requantizer(m, s, c_zero_point, lo, hi), c, c_stride, c_zero_point, lo, hi);
      }
    }

    // Scale: V::Requantizer (clamped results with the zero point) or a 32-bit scaling (then
    // the clamp [lo, hi] - zero point and the zero point here).
    template <size_t MR, class Scale>
    static void store_half_rows(const Acc (&acc)[MR], size_t n8, const Scale& sc, uint8_t* c, size_t c_stride,
                                int32_t c_zero_point, int32_t lo, int32_t hi) {
      const __mmask16 mask = V::lanes(n8);
      const __m512i zp = _mm512_set1_epi32(c_zero_point), lo32 = _mm512_set1_epi32(lo - c_zero_point),
                    hi32 = _mm512_set1_epi32(hi - c_zero_point);
      const auto out_of = [&](__m512i v) {
        const __m512i x = sc.apply(v);
        if constexpr (std::is_same_v<Scale, V::Requantizer>) {
          return _mm512_cvtepi32_epi8(x);
        } else {
          return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(x, lo32), hi32), zp));
        }
      };
      uint8_t* out = c + 16 * Z;
      PARE_QGEMM_UNROLL
      for (size_t i = 0; i + 1 < MR; i += 2) {
        const __m128i bytes = out_of(_mm512_inserti64x4(_mm512_castsi256_si512(acc[i].half), acc[i + 1].half, 1));
        _mm_mask_storeu_epi8(out + i * c_stride, mask, bytes);
        _mm_mask_storeu_epi8(out + (i + 1) * c_stride, mask, _mm_unpackhi_epi64(bytes, bytes));
      }
      if constexpr (MR % 2 == 1) {
        _mm_mask_storeu_epi8(out + (MR - 1) * c_stride, mask, out_of(_mm512_zextsi256_si512(acc[MR - 1].half)));
      }
    }
  };

  template <class F>
  static void with_tile(size_t nc, F f) {
    if (nc <= 8) return f(Tile<0, 1>{});
    if (nc <= 16) return f(Tile<1, 0>{});
    if (nc <= 24) return f(Tile<1, 1>{});
    return f(Tile<2, 0>{});
  }
};

}  // namespace
}  // namespace pare::rt::kernels
