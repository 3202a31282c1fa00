// The integer vectors of the AVX-512 int8 kernels (F/BW; the VNNI forms where the file is
// built with -mavx512vnni): 16 int32 lanes per zmm with a lane mask for partial blocks, the
// exact multiply-accumulate of uint8 by int8, the requantization of quant/requant.h per
// vector and byte stores. The float lanes are the float struct's of the same width (Float).
//
// Internal linkage: the header is compiled into files built with different -m flags, and a
// merged inline copy from the VNNI file must not run on a CPU without VNNI.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "runtime/kernels/simd/x86_avx512.h"

// GCC 12 reports the undefined pass-through operand inside many AVX-512 intrinsics
// (_mm512_srav_epi64, _mm512_max_epi64, ...) as maybe uninitialized: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace pare::rt::kernels::simd {
namespace {

struct Avx512Int8 {
  static constexpr size_t kLanes = 16;
  using I32 = __m512i;
  using Float = F32x16Avx512;  // the float lanes of the same width
  using F32 = Float::R;
  using Mask = __mmask16;

  // The first n lanes (all 16 from n >= 16).
  static Mask lanes(size_t n) { return n >= 16 ? Mask(0xFFFF) : Mask((1u << n) - 1u); }

  static I32 load_i32(const int32_t* p) { return _mm512_loadu_si512(p); }
  static I32 set1_i32(int32_t v) { return _mm512_set1_epi32(v); }
  static I32 add_i32(I32 a, I32 b) { return _mm512_add_epi32(a, b); }
  static I32 sub_i32(I32 a, I32 b) { return _mm512_sub_epi32(a, b); }
  static I32 xor_i32(I32 a, I32 b) { return _mm512_xor_si512(a, b); }

  // The masked lanes' bytes zero-extended to int32 (the others read nothing and are 0).
  static I32 widen_u8(const uint8_t* p, Mask m) { return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p)); }

  // acc + x * w per lane, exact: x a zero-extended byte (upper int16 0), w a sign-extended
  // int8 (or int16) weight. vpdpwssd with VNNI, else vpmaddwd + vpaddd.
  static I32 mac_widened(I32 acc, I32 x, I32 w) {
#if defined(__AVX512VNNI__)
    asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(x), "vm"(w));  // see dot_u8x4 for why asm
    return acc;
#else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(x, w));
#endif
  }
#if defined(__AVX512VNNI__)
  // acc + the four products of uint8 x (4 bytes per lane) by int8 b (4 bytes per lane) per
  // lane (vpdpbusd): at most 4 * 255 * 128 in magnitude, nothing saturates.
  //
  // Inline asm instead of _mm512_dpbusd_epi32: vpdpbusd adds into its destination, and GCC 12
  // did not tie the builtin's accumulator to it, copying each accumulator of an unrolled
  // GEMM tile to another register and back around every use (and spilling some): 32 moves
  // and 2 stores beside the 16 vpdpbusd of each step of the 8x32 tile.
  static I32 dot_u8x4(I32 acc, I32 x, I32 b) {
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "vm"(b));
    return acc;
  }
  static __m256i dot_u8x4(__m256i acc, __m256i x, __m256i b) {
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "vm"(b));
    return acc;
  }
#endif

  // requantize() of requant.h for 16 lanes: the even and odd int32 lanes each as 8 int64
  // products, rounded and shifted arithmetically in 64 bits and clamped to [lo - zero point,
  // hi - zero point] there; the zero point is added after narrowing.
  struct Requantizer {
    I32 mult_even, mult_odd, shift_even, shift_odd, round_even, round_odd, lo, hi, zp;

    Requantizer(I32 m, I32 s, int32_t zero_point, int32_t lo_, int32_t hi_)
        : lo(_mm512_set1_epi64(int64_t{lo_} - zero_point)),
          hi(_mm512_set1_epi64(int64_t{hi_} - zero_point)),
          zp(_mm512_set1_epi32(zero_point)) {
      const I32 low = _mm512_set1_epi64(0xFFFFFFFF), one = _mm512_set1_epi64(1);
      mult_even = m;
      mult_odd = _mm512_srli_epi64(m, 32);
      shift_even = _mm512_and_si512(s, low);
      shift_odd = _mm512_srli_epi64(s, 32);
      round_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(shift_even, one));
      round_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(shift_odd, one));
    }
    Requantizer(const int32_t* multipliers, const int32_t* shifts, int32_t zero_point, int32_t lo_, int32_t hi_)
        : Requantizer(load_i32(multipliers), load_i32(shifts), zero_point, lo_, hi_) {}

    // The clamped outputs as int32 lanes.
    I32 apply(I32 acc) const {
      I32 e = _mm512_mul_epi32(acc, mult_even);  // signed low 32 bits of each 64-bit lane
      I32 o = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), mult_odd);
      e = _mm512_srav_epi64(_mm512_add_epi64(e, round_even), shift_even);
      o = _mm512_srav_epi64(_mm512_add_epi64(o, round_odd), shift_odd);
      e = _mm512_min_epi64(_mm512_max_epi64(e, lo), hi);
      o = _mm512_min_epi64(_mm512_max_epi64(o, lo), hi);
      // Odd 32-bit lanes from the low halves of o's 64-bit lanes.
      return _mm512_add_epi32(_mm512_mask_shuffle_epi32(e, 0xAAAA, o, _MM_PERM_CDAB), zp);
    }
  };

  // The low byte of each masked lane (a clamped output: the right uint8 or int8).
  static void store_low_bytes(uint8_t* p, I32 v, Mask m) { _mm512_mask_cvtepi32_storeu_epi8(p, m, v); }

  // ---- The usual case of requantization, a real scale below 1/2 ----
  //
  // With every shift >= 32 (or a zero multiplier) |acc * multiplier| < 2^62, so the rounded
  // and shifted product fits in int32 and is the high half of the rounded 64-bit product
  // shifted right by shift - 32 in 32-bit lanes (a zero multiplier with shift 1 shifts 0 by
  // an out-of-range count, which gives 0 as well).
  struct HalfScale {
    I32 mult_odd, round_even, round_odd, mult, shift;

    HalfScale(I32 m, I32 s) : mult(m) {
      const I32 one = _mm512_set1_epi64(1);
      mult_odd = _mm512_srli_epi64(m, 32);
      round_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(_mm512_and_si512(s, _mm512_set1_epi64(0xFFFFFFFF)), one));
      round_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(_mm512_srli_epi64(s, 32), one));
      shift = _mm512_sub_epi32(s, _mm512_set1_epi32(32));
    }

    // The scaled accumulators, before the zero point and the clamp.
    I32 apply(I32 acc) const {
      const I32 e = _mm512_add_epi64(_mm512_mul_epi32(acc, mult), round_even);
      const I32 o = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(acc, 32), mult_odd), round_odd);
      // Even 32-bit lanes from the high halves of e's 64-bit lanes, odd ones from o's.
      return _mm512_srav_epi32(_mm512_mask_shuffle_epi32(o, 0x5555, e, _MM_PERM_CDAB), shift);
    }
  };

  // With every shift >= 33 (a real scale below 1/4, the common case) the rounding needs no
  // 64-bit add: the high dword of the product plus 2^(shift-33), shifted right by shift-32,
  // is the rounded result (the low dword, below 2^32, cannot carry past a multiple of
  // 2^(shift-32) that the rounding term, a multiple of 2^32 in the 64-bit sum, leaves).
  struct QuarterScale {
    I32 mult_odd, round, mult, shift;

    QuarterScale(I32 m, I32 s) : mult_odd(_mm512_srli_epi64(m, 32)), mult(m) {
      shift = _mm512_sub_epi32(s, _mm512_set1_epi32(32));
      // Counts past 31 (zero-multiplier lanes) give 0, which is what those lanes need.
      round = _mm512_sllv_epi32(_mm512_set1_epi32(1), _mm512_sub_epi32(shift, _mm512_set1_epi32(1)));
    }

    I32 apply(I32 acc) const {
      const I32 e = _mm512_mul_epi32(acc, mult);
      const I32 o = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), mult_odd);
      const I32 high = _mm512_mask_shuffle_epi32(o, 0x5555, e, _MM_PERM_CDAB);
      return _mm512_srav_epi32(_mm512_add_epi32(high, round), shift);
    }
  };

  // The smallest shift (over the lanes with a nonzero multiplier) at which HalfScale and
  // QuarterScale are exact.
  static constexpr int32_t kHalfScaleMinShift = 32, kQuarterScaleMinShift = 33;

  // Scaled int32 vectors to bytes by saturating packs: int32 -> int16 (saturation keeps
  // anything beyond int16 beyond the byte range), + zero point saturating in int16, -> uint8
  // (kSigned: int8) saturating, then the clamp [lo, hi] in bytes. Valid when [lo, hi] lies in
  // the byte range of the signedness and |zero point| < 2^15 - 2^8.
  template <bool kSigned>
  struct BytePacker {
    I32 zp16, lo8, hi8, order;

    BytePacker(int32_t zp, int32_t lo, int32_t hi)
        : zp16(_mm512_set1_epi16(static_cast<int16_t>(zp))),
          lo8(_mm512_set1_epi8(static_cast<char>(lo))),
          hi8(_mm512_set1_epi8(static_cast<char>(hi))),
          // After two in-lane packs, 128-bit lane l holds dwords (r0, r1, r2, r3) of lane l
          // of the four inputs: gather each input's dwords into a lane of its own.
          order(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)) {}

    I32 words(I32 x, I32 y) const { return _mm512_adds_epi16(_mm512_packs_epi32(x, y), zp16); }

    // Bytes of (x0, x1, x2, x3) laid out as 128-bit lanes (x0 x1 packed, x2 x3 packed).
    I32 bytes(I32 x01, I32 x23) const {
      I32 b = kSigned ? _mm512_packs_epi16(x01, x23) : _mm512_packus_epi16(x01, x23);
      b = _mm512_permutexvar_epi32(order, b);
      return kSigned ? _mm512_min_epi8(_mm512_max_epi8(b, lo8), hi8) : _mm512_min_epu8(_mm512_max_epu8(b, lo8), hi8);
    }
  };

  // ---- Between int32 and float lanes (the float arithmetic is Float's) ----
  static constexpr size_t kBlockVecs = 2;  // vectors per elementwise block of 32 bytes
  static void widen_u8_block(const uint8_t* p, I32* v) {
    v[0] = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    v[1] = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)));
  }
  static void store_low_bytes_block(uint8_t* p, const I32* v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(v[0]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p + 16), _mm512_cvtepi32_epi8(v[1]));
  }
  static F32 to_f32(I32 v) { return _mm512_cvtepi32_ps(v); }
  static I32 truncate_to_i32(F32 v) { return _mm512_cvttps_epi32(v); }
};

}  // namespace
}  // namespace pare::rt::kernels::simd
