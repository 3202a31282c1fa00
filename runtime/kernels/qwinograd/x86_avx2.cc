// Int8 Winograd F(2x2, 3x3), AVX2: the input transform on 16 int16 channels per ymm, the
// products as a 6x16 vpmaddwd microkernel (the packed pairs of U_e rows against broadcast
// pairs of V_e), the output transform and requantization on 8 int32 channels per ymm. The
// integer results are the reference's exactly.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "runtime/kernels/qwinograd/qwinograd.h"
#include "runtime/kernels/qwinograd/transform_impl.h"
#include "runtime/kernels/simd/x86_avx2_int8.h"

namespace pare::rt::kernels {

namespace {

using V = simd::Avx2Int8;

inline __m256i load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void store(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }

// The transforms' vectors (transform_impl.h): 16 int16 channels in, 8 int32 channels out.
struct Lanes {
  using R = __m256i;
  static constexpr int64_t kInputLanes = 16;
  static R zero() { return _mm256_setzero_si256(); }
  static R add(R a, R b) { return _mm256_add_epi16(a, b); }
  static R sub(R a, R b) { return _mm256_sub_epi16(a, b); }
  static void store(int16_t* p, R v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  struct Widen {
    __m128i mask;
    __m256i zp;
    Widen(bool flip, int32_t zero_point)
        : mask(_mm_set1_epi8(flip ? static_cast<char>(0x80) : 0)),
          zp(_mm256_set1_epi16(static_cast<int16_t>(zero_point))) {}
    R operator()(const uint8_t* pixel, int64_t count) const {
      __m128i bytes;
      if (count == kInputLanes) {
        bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pixel));
      } else {
        alignas(16) uint8_t tail[16] = {};
        std::memcpy(tail, pixel, static_cast<size_t>(count));
        bytes = _mm_load_si128(reinterpret_cast<const __m128i*>(tail));
      }
      return _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_xor_si128(bytes, mask)), zp);
    }
  };

  using I32 = __m256i;
  static constexpr int64_t kOutputLanes = 8;
  static I32 load32(const int32_t* p) { return load(p); }
  static I32 add32(I32 a, I32 b) { return _mm256_add_epi32(a, b); }
  static I32 sub32(I32 a, I32 b) { return _mm256_sub_epi32(a, b); }
  static I32 quarter32(I32 a) { return _mm256_srai_epi32(a, 2); }
  using Requantizer = V::Requantizer;
  static void store_bytes(uint8_t* p, I32 v, size_t count) {
    if (count == kOutputLanes)
      V::store_low_bytes(p, v);
    else
      V::store_low_bytes_partial(p, v, count);
  }
};

// Rows [0, MR) of M for one panel of 16 columns, over `pairs` pairs of channels.
template <size_t MR>
__attribute__((noinline)) void gemm_rows(size_t pairs, const int16_t* v, size_t v_stride, const int16_t* panel,
                                         int32_t* m, size_t m_stride) {
  __m256i acc[MR][2];
  for (size_t i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  for (size_t q = 0; q < pairs; ++q) {
    const __m256i b0 = load(panel + 32 * q), b1 = load(panel + 32 * q + 16);
    for (size_t i = 0; i < MR; ++i) {
      int32_t pair;
      std::memcpy(&pair, v + i * v_stride + 2 * q, sizeof(pair));
      const __m256i a = _mm256_set1_epi32(pair);
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(a, b0));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(a, b1));
    }
  }
  for (size_t i = 0; i < MR; ++i) {
    store(m + i * m_stride, acc[i][0]);
    store(m + i * m_stride + 8, acc[i][1]);
  }
}

template <size_t MR = 1>
void gemm_dispatch(size_t mr, size_t pairs, const int16_t* v, size_t v_stride, const int16_t* panel, int32_t* m,
                   size_t m_stride) {
  if constexpr (MR < 6) {
    if (mr > MR) return gemm_dispatch<MR + 1>(mr, pairs, v, v_stride, panel, m, m_stride);
  }
  gemm_rows<MR>(pairs, v, v_stride, panel, m, m_stride);
}

}  // namespace

void q8_winograd_f23_input_c16__avx2(const ConvGeometry& g, const uint8_t* x, bool flip, int32_t zero_point,
                                     int64_t tile_begin, int64_t tile_end, int16_t* v, int64_t matrix_stride) {
  qwinograd_impl::input<Lanes>(g, x, flip, zero_point, tile_begin, tile_end, v, matrix_stride);
}

void q8_winograd_f23_gemm_6x16__avx2(size_t rows, size_t cin_pad, size_t cout, const int16_t* v,
                                     const int16_t* packed, int32_t* m) {
  const size_t cout_pad = q8_winograd_cout_pad(static_cast<int64_t>(cout));
  for (size_t p = 0; p < cout_pad / 16; ++p) {
    const int16_t* panel = packed + p * cin_pad * 16;
    for (size_t r0 = 0; r0 < rows; r0 += 6)
      gemm_dispatch(std::min<size_t>(6, rows - r0), cin_pad / 2, v + r0 * cin_pad, cin_pad, panel,
                    m + r0 * cout_pad + p * 16, cout_pad);
  }
}

void q8_winograd_f23_output_c8__avx2(const ConvGeometry& g, const int32_t* m, int64_t matrix_stride,
                                     const int32_t* bias, const int32_t* multipliers, const int32_t* shifts,
                                     int32_t y_zero_point, int32_t lo, int32_t hi, int64_t tile_begin,
                                     int64_t tile_end, uint8_t* y) {
  qwinograd_impl::output<Lanes>(g, m, matrix_stride, bias, multipliers, shifts, y_zero_point, lo, hi, tile_begin,
                                tile_end, y);
}

}  // namespace pare::rt::kernels
