// The integer vectors of the AVX2 int8 kernels: 8 int32 lanes per ymm, the exact widening
// multiply-accumulate of uint8 by int8, the requantization of quant/requant.h per vector and
// byte loads and stores. The float lanes are the float struct's of the same width (Float).
//
// uint8 x int8 products go through vpmaddwd on int16 operands, never vpmaddubsw: its int16
// pair sums saturate (255 * 127 * 2 > 32767) and would differ from the reference.
//
// Internal linkage: the header is compiled into files built with different -m flags, and a
// merged inline copy from an AVX-512 file must not run on an AVX2-only CPU.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "runtime/kernels/simd/x86_avx2.h"

namespace pare::rt::kernels::simd {
namespace {

struct Avx2Int8 {
  static constexpr size_t kLanes = 8;
  using I32 = __m256i;
  using Float = F32x8Avx2;  // the float lanes of the same width
  using F32 = Float::R;

  static I32 load_i32(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static I32 set1_i32(int32_t v) { return _mm256_set1_epi32(v); }
  static I32 add_i32(I32 a, I32 b) { return _mm256_add_epi32(a, b); }
  static I32 sub_i32(I32 a, I32 b) { return _mm256_sub_epi32(a, b); }
  static I32 xor_i32(I32 a, I32 b) { return _mm256_xor_si256(a, b); }

  // 8 bytes zero-extended to int32 lanes; the partial form reads only the first n bytes.
  static I32 widen_u8(const uint8_t* p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  }
  static I32 widen_u8_partial(const uint8_t* p, size_t n) {
    uint64_t v = 0;
    std::memcpy(&v, p, n);
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(v)));
  }

  // acc + x * w per lane, exact: x a zero-extended byte (upper int16 0), w a sign-extended
  // int8 (or int16) weight.
  static I32 mac_widened(I32 acc, I32 x, I32 w) { return _mm256_add_epi32(acc, _mm256_madd_epi16(x, w)); }

  // Four bytes of A (one int32) as int16 pairs (bytes 0, 1) and (2, 3) in every lane.
  struct U8x4 {
    I32 pair01, pair23;
  };
  static U8x4 broadcast_u8x4(int32_t bytes) {
    const __m256i v = _mm256_set1_epi32(bytes);
    const __m256i take01 = _mm256_setr_epi8(0, -1, 1, -1, 0, -1, 1, -1, 0, -1, 1, -1, 0, -1, 1, -1, 0, -1, 1,
                                            -1, 0, -1, 1, -1, 0, -1, 1, -1, 0, -1, 1, -1);
    const __m256i take23 = _mm256_add_epi8(take01, _mm256_set1_epi16(2));  // -1 stays negative
    return {_mm256_shuffle_epi8(v, take01), _mm256_shuffle_epi8(v, take23)};
  }
  // acc + the four products of x by 8 columns of B, given as int16 pairs of rows (0, 1) at
  // b01 and rows (2, 3) at b23.
  static I32 dot_u8x4(I32 acc, const U8x4& x, const uint8_t* b01, const uint8_t* b23) {
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(x.pair01, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b01))));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(x.pair23, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b23))));
  }

  // requantize() of requant.h for 8 lanes, in one of three ways chosen per 8 columns:
  //
  // - wide, every shift >= 33 (real scales below 1/4, the usual conv or GEMM): the rounding
  //   term 2^(s-1) is a multiple of 2^32, so only the products' high 32 bits matter:
  //   ((p >> 32) + 2^(s-33)) >> (s-32), exactly, in 32-bit lanes. A zero multiplier (shift
  //   1) gives 0 this way too. MobileNetV2-224 int8 on an AVX2 EPYC: 27.8 -> 26.2 ms (the
  //   K = 16 expansion's GEMM 16.4 -> 20.5 GOP/s).
  // - narrow, every shift >= 31: AVX2 has no 64-bit arithmetic shift, so the rounded 64-bit
  //   product is offset by 2^62 to make it non-negative and shifted logically:
  //   (p + 2^(s-1) + 2^62) >> s == ((p + 2^(s-1)) >> s) + 2^(62-s), exactly. The result
  //   fits int32 (|acc * mult| < 2^62), so the clamp runs on 32-bit lanes after dropping the
  //   offset's low 32 bits (wrapping).
  // - otherwise the same offset shift, clamped in the offset 64-bit domain.
  struct Requantizer {
    I32 mult, mult_odd;
    I32 round[2], shift[2];                // even and odd lanes as 64-bit lanes
    I32 lo[2]{}, hi[2]{}, add[2]{};        // the 64-bit clamp's constants
    bool narrow;                           // every shift >= 31: the 32-bit clamp
    bool wide = false;                     // every shift >= 33: the high halves alone
    I32 offset32{}, lo32{}, hi32{}, zero_point32{};  // the 32-bit clamp's constants
    I32 round_high{}, shift_high{};        // the high halves' rounding and shift

    Requantizer(const int32_t* multipliers, const int32_t* shifts, int32_t zero_point, int32_t lo_, int32_t hi_) {
      mult = load_i32(multipliers);
      mult_odd = _mm256_srli_epi64(mult, 32);
      const __m256i sh = load_i32(shifts);
      const __m256i below33 = _mm256_andnot_si256(_mm256_cmpeq_epi32(mult, _mm256_setzero_si256()),
                                                  _mm256_cmpgt_epi32(_mm256_set1_epi32(33), sh));
      wide = _mm256_testz_si256(below33, below33);
      if (wide) {
        shift_high = _mm256_sub_epi32(sh, _mm256_set1_epi32(32));
        round_high = _mm256_sllv_epi32(_mm256_set1_epi32(1), _mm256_sub_epi32(shift_high, _mm256_set1_epi32(1)));
        lo32 = _mm256_set1_epi32(lo_ - zero_point);
        hi32 = _mm256_set1_epi32(hi_ - zero_point);
        zero_point32 = _mm256_set1_epi32(zero_point);
        narrow = false;
        return;
      }
      narrow = _mm256_movemask_epi8(_mm256_cmpgt_epi32(_mm256_set1_epi32(31), sh)) == 0;
      shift[0] = _mm256_and_si256(sh, _mm256_set1_epi64x(0xFFFFFFFF));
      shift[1] = _mm256_srli_epi64(sh, 32);
      const __m256i one = _mm256_set1_epi64x(1);
      const __m256i offset_in = _mm256_set1_epi64x(int64_t{1} << 62);
      for (int h = 0; h < 2; ++h)
        round[h] = _mm256_add_epi64(_mm256_sllv_epi64(one, _mm256_sub_epi64(shift[h], one)), offset_in);
      if (narrow) {
        // 2^(62 - s) mod 2^32 (s >= 31: 62 - s <= 31), the offset's part in the low 32 bits.
        offset32 = _mm256_sllv_epi32(_mm256_set1_epi32(1), _mm256_sub_epi32(_mm256_set1_epi32(62), sh));
        lo32 = _mm256_set1_epi32(lo_ - zero_point);
        hi32 = _mm256_set1_epi32(hi_ - zero_point);
        zero_point32 = _mm256_set1_epi32(zero_point);
        return;
      }
      const __m256i sixty_two = _mm256_set1_epi64x(62);
      for (int h = 0; h < 2; ++h) {
        const __m256i off = _mm256_sllv_epi64(one, _mm256_sub_epi64(sixty_two, shift[h]));
        lo[h] = _mm256_add_epi64(_mm256_set1_epi64x(int64_t{lo_} - zero_point), off);
        hi[h] = _mm256_add_epi64(_mm256_set1_epi64x(int64_t{hi_} - zero_point), off);
        add[h] = _mm256_sub_epi64(_mm256_set1_epi64x(zero_point), off);
      }
    }

    // The product rounded and shifted, still carrying the offset 2^(62 - s) that keeps it non-negative.
    __m256i rounded(__m256i prod, int h) const { return _mm256_srlv_epi64(_mm256_add_epi64(prod, round[h]), shift[h]); }

    __m256i finish(__m256i prod, int h) const {
      __m256i u = rounded(prod, h);
      u = _mm256_blendv_epi8(u, lo[h], _mm256_cmpgt_epi64(lo[h], u));
      u = _mm256_blendv_epi8(u, hi[h], _mm256_cmpgt_epi64(u, hi[h]));
      return _mm256_add_epi64(u, add[h]);
    }

    // The scaled accumulators before the zero point and the clamp, when wide.
    I32 scale_wide(I32 acc) const {
      const __m256i p_even = _mm256_mul_epi32(acc, mult);  // signed low 32 bits of each 64
      const __m256i p_odd = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), mult_odd);
      const __m256i high = _mm256_blend_epi32(_mm256_srli_epi64(p_even, 32), p_odd, 0xAA);
      return _mm256_srav_epi32(_mm256_add_epi32(high, round_high), shift_high);
    }

    // The clamped outputs as int32 lanes.
    I32 apply(I32 acc) const {
      if (wide) {
        const __m256i r = _mm256_min_epi32(_mm256_max_epi32(scale_wide(acc), lo32), hi32);
        return _mm256_add_epi32(r, zero_point32);
      }
      const __m256i p_even = _mm256_mul_epi32(acc, mult);  // signed low 32 bits of each 64
      const __m256i p_odd = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), mult_odd);
      if (narrow) {
        const __m256i odd_high = _mm256_slli_epi64(rounded(p_odd, 1), 32);
        __m256i r = _mm256_sub_epi32(_mm256_blend_epi32(rounded(p_even, 0), odd_high, 0xAA), offset32);
        r = _mm256_min_epi32(_mm256_max_epi32(r, lo32), hi32);
        return _mm256_add_epi32(r, zero_point32);
      }
      return _mm256_blend_epi32(finish(p_even, 0), _mm256_slli_epi64(finish(p_odd, 1), 32), 0xAA);
    }
  };

  // The low byte of each lane (a clamped output: the right uint8 or int8) in the low 64 bits.
  static __m128i low_bytes(I32 v) {
    const __m256i bytes = _mm256_shuffle_epi8(
        v, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1,
                            -1, -1, -1, -1, -1, -1, -1, -1, -1));
    return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1)));
  }
  static void store_low_bytes(uint8_t* p, I32 v) { _mm_storel_epi64(reinterpret_cast<__m128i*>(p), low_bytes(v)); }
  // The first n < 8 of them.
  static void store_low_bytes_partial(uint8_t* p, I32 v, size_t n) {
    const auto x = static_cast<uint64_t>(_mm_cvtsi128_si64(low_bytes(v)));
    std::memcpy(p, &x, n);  // little-endian: the first n bytes
  }

  // ---- Between int32 and float lanes (the float arithmetic is Float's) ----
  static constexpr size_t kBlockVecs = 2;  // vectors per elementwise block of 16 bytes
  // 16 bytes zero-extended to two int32 vectors; stored back as their low bytes.
  static void widen_u8_block(const uint8_t* p, I32* v) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    v[0] = _mm256_cvtepu8_epi32(b);
    v[1] = _mm256_cvtepu8_epi32(_mm_unpackhi_epi64(b, b));
  }
  static void store_low_bytes_block(uint8_t* p, const I32* v) {
    const __m256i mask = _mm256_set1_epi32(0xFF);
    const __m256i w = _mm256_permute4x64_epi64(
        _mm256_packus_epi32(_mm256_and_si256(v[0], mask), _mm256_and_si256(v[1], mask)), 0xD8);
    const __m128i b = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), b);
  }
  static F32 to_f32(I32 v) { return _mm256_cvtepi32_ps(v); }
  static I32 truncate_to_i32(F32 v) { return _mm256_cvttps_epi32(v); }
};

}  // namespace
}  // namespace pare::rt::kernels::simd
