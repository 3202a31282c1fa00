// Int8 Winograd F(2x2, 3x3), AVX2: the input transform on 16 int16 channels per ymm, the
// products as a 6x16 vpmaddwd microkernel (the packed pairs of U_e rows against broadcast
// pairs of V_e), the output transform and requantization on 8 int32 channels per ymm. The
// integer results are the reference's exactly.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "runtime/kernels/qwinograd/qwinograd.h"
#include "runtime/kernels/simd/x86_avx2_int8.h"
#include "runtime/kernels/winograd/winograd.h"

namespace pare::rt::kernels {

namespace {

using V = simd::Avx2Int8;

inline __m256i load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void store(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }

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
  const int64_t cin = g.in_channels;
  const auto cin_pad = static_cast<int64_t>(q8_winograd_cin_pad(cin));
  const __m128i mask = _mm_set1_epi8(flip ? static_cast<char>(0x80) : 0);
  const __m256i zp = _mm256_set1_epi16(static_cast<int16_t>(zero_point));
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    const uint8_t* window[4][4];
    winograd_detail::tile_window(g, x, t, window);
    int16_t* out = v + (t - tile_begin) * cin_pad;
    for (int64_t c = 0; c < cin; c += 16) {
      const int64_t count = std::min<int64_t>(16, cin - c);
      __m256i d[16];
      for (int k = 0; k < 16; ++k) {  // pixel (k / 4, k % 4)
        const uint8_t* pixel = window[k / 4][k % 4];
        if (!pixel) {
          d[k] = _mm256_setzero_si256();
          continue;
        }
        __m128i bytes;
        if (count == 16) {
          bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pixel + c));
        } else {  // the last channels: never read past the pixel (its lanes past Cin meet zero weights)
          alignas(16) uint8_t tail[16] = {};
          std::memcpy(tail, pixel + c, static_cast<size_t>(count));
          bytes = _mm_load_si128(reinterpret_cast<const __m128i*>(tail));
        }
        d[k] = _mm256_sub_epi16(_mm256_cvtepu8_epi16(_mm_xor_si128(bytes, mask)), zp);
      }
      // B^T d B as in the reference, rows first; |values| <= 4 * 255 fit int16.
      __m256i r[16];
      for (int j = 0; j < 4; ++j) {
        r[0 + j] = _mm256_sub_epi16(d[0 + j], d[8 + j]);
        r[4 + j] = _mm256_add_epi16(d[4 + j], d[8 + j]);
        r[8 + j] = _mm256_sub_epi16(d[8 + j], d[4 + j]);
        r[12 + j] = _mm256_sub_epi16(d[4 + j], d[12 + j]);
      }
      for (int i = 0; i < 4; ++i) {
        const __m256i* ri = r + 4 * i;
        store(out + (i * 4 + 0) * matrix_stride + c, _mm256_sub_epi16(ri[0], ri[2]));
        store(out + (i * 4 + 1) * matrix_stride + c, _mm256_add_epi16(ri[1], ri[2]));
        store(out + (i * 4 + 2) * matrix_stride + c, _mm256_sub_epi16(ri[2], ri[1]));
        store(out + (i * 4 + 3) * matrix_stride + c, _mm256_sub_epi16(ri[1], ri[3]));
      }
    }
  }
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
  const int64_t cout = g.out_channels, out_h = g.out_size[1], out_w = g.out_size[2];
  const auto cout_pad = static_cast<int64_t>(q8_winograd_cout_pad(cout));
  for (int64_t c = 0; c < cout; c += 8) {
    const auto cols = static_cast<size_t>(std::min<int64_t>(8, cout - c));
    const V::Requantizer rq(multipliers + c, shifts + c, y_zero_point, lo, hi);
    const __m256i b = load(bias + c);
    for (int64_t t = tile_begin; t < tile_end; ++t) {
      int64_t n, oh, ow;
      winograd_detail::tile_origin(g, t, &n, &oh, &ow);
      const int32_t* in = m + (t - tile_begin) * cout_pad + c;
      __m256i s[16];
      for (int e = 0; e < 16; ++e) s[e] = load(in + e * matrix_stride);
      __m256i r[2][4];
      for (int j = 0; j < 4; ++j) {
        r[0][j] = _mm256_add_epi32(_mm256_add_epi32(s[j], s[4 + j]), s[8 + j]);
        r[1][j] = _mm256_sub_epi32(_mm256_sub_epi32(s[4 + j], s[8 + j]), s[12 + j]);
      }
      for (int i = 0; i < 2; ++i) {
        if (oh + i >= out_h) break;
        const __m256i four_conv[2] = {
            _mm256_add_epi32(_mm256_add_epi32(r[i][0], r[i][1]), r[i][2]),
            _mm256_sub_epi32(_mm256_sub_epi32(r[i][1], r[i][2]), r[i][3])};
        for (int j = 0; j < 2 && ow + j < out_w; ++j) {
          const __m256i acc = _mm256_add_epi32(_mm256_srai_epi32(four_conv[j], 2), b);  // exact: a multiple of 4
          uint8_t* out = y + ((n * out_h + oh + i) * out_w + ow + j) * cout + c;
          if (cols == 8)
            V::store_low_bytes(out, rq.apply(acc));
          else
            V::store_low_bytes_partial(out, rq.apply(acc), cols);
        }
      }
    }
  }
}

}  // namespace pare::rt::kernels
