// Int8 Winograd F(2x2, 3x3): the weight packing, the scalar transforms and product that
// define the results, and the variant table.
#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
#include "runtime/kernels/quant/requant.h"
#include "runtime/kernels/qwinograd/qwinograd.h"
#include "runtime/kernels/winograd/winograd.h"

namespace pare::rt::kernels {

namespace {
// The integer sums wrap as the vector code's do (see qwinograd.h): uint32 arithmetic.
inline int32_t wrap(uint32_t v) { return static_cast<int32_t>(v); }
}  // namespace

size_t q8_winograd_packed_weight_elements(int64_t cin, int64_t cout) {
  return 16 * q8_winograd_cin_pad(cin) * q8_winograd_cout_pad(cout);
}

void q8_winograd_pack_weight(int64_t cin, int64_t cout, const int8_t* weight, int16_t* packed) {
  const size_t cin_pad = q8_winograd_cin_pad(cin), cout_pad = q8_winograd_cout_pad(cout);
  const size_t per_e = cin_pad * cout_pad, per_panel = cin_pad * 16;
  for (size_t i = 0; i < 16 * per_e; ++i) packed[i] = 0;
  static const int kG[4][3] = {{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}};  // G' = 2G
  for (int64_t co = 0; co < cout; ++co)
    for (int64_t ci = 0; ci < cin; ++ci) {
      const int8_t* w = weight + (co * cin + ci) * 9;
      int gw[4][3];  // G' w
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) gw[i][j] = kG[i][0] * w[j] + kG[i][1] * w[3 + j] + kG[i][2] * w[6 + j];
      const auto c = static_cast<size_t>(ci), o = static_cast<size_t>(co);
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          const int u = gw[i][0] * kG[j][0] + gw[i][1] * kG[j][1] + gw[i][2] * kG[j][2];
          const size_t e = static_cast<size_t>(i * 4 + j);
          packed[e * per_e + o / 16 * per_panel + c / 2 * 32 + o % 16 * 2 + c % 2] = static_cast<int16_t>(u);
        }
    }
}

void q8_winograd_f23_input_ref__scalar(const ConvGeometry& g, const uint8_t* x, bool flip, int32_t zero_point,
                                       int64_t tile_begin, int64_t tile_end, int16_t* v, int64_t matrix_stride) {
  const int64_t cin = g.in_channels;
  const auto cin_pad = static_cast<int64_t>(q8_winograd_cin_pad(cin));
  const uint8_t mask = flip ? 0x80 : 0;
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    const uint8_t* px[4][4];
    winograd_detail::tile_window(g, x, t, px);
    int16_t* out = v + (t - tile_begin) * cin_pad;
    for (int64_t c = 0; c < cin_pad; ++c) {
      int d[4][4];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) d[i][j] = px[i][j] && c < cin ? (px[i][j][c] ^ mask) - zero_point : 0;
      // B^T d B, B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]; rows first.
      int r[4][4];
      for (int j = 0; j < 4; ++j) {
        r[0][j] = d[0][j] - d[2][j];
        r[1][j] = d[1][j] + d[2][j];
        r[2][j] = d[2][j] - d[1][j];
        r[3][j] = d[1][j] - d[3][j];
      }
      for (int i = 0; i < 4; ++i) {
        out[(i * 4 + 0) * matrix_stride + c] = static_cast<int16_t>(r[i][0] - r[i][2]);
        out[(i * 4 + 1) * matrix_stride + c] = static_cast<int16_t>(r[i][1] + r[i][2]);
        out[(i * 4 + 2) * matrix_stride + c] = static_cast<int16_t>(r[i][2] - r[i][1]);
        out[(i * 4 + 3) * matrix_stride + c] = static_cast<int16_t>(r[i][1] - r[i][3]);
      }
    }
  }
}

void q8_winograd_f23_gemm_ref__scalar(size_t rows, size_t cin_pad, size_t cout, const int16_t* v,
                                      const int16_t* packed, int32_t* m) {
  const size_t cout_pad = q8_winograd_cout_pad(static_cast<int64_t>(cout));
  for (size_t r = 0; r < rows; ++r)
    for (size_t o = 0; o < cout_pad; ++o) {
      uint32_t acc = 0;
      for (size_t c = 0; c < cin_pad; ++c)
        acc += static_cast<uint32_t>(v[r * cin_pad + c] * packed[o / 16 * cin_pad * 16 + c / 2 * 32 + o % 16 * 2 + c % 2]);
      m[r * cout_pad + o] = wrap(acc);
    }
}

void q8_winograd_f23_output_ref__scalar(const ConvGeometry& g, const int32_t* m, int64_t matrix_stride,
                                        const int32_t* bias, const int32_t* multipliers, const int32_t* shifts,
                                        int32_t y_zero_point, int32_t lo, int32_t hi, int64_t tile_begin,
                                        int64_t tile_end, uint8_t* y) {
  const int64_t cout = g.out_channels, out_h = g.out_size[1], out_w = g.out_size[2];
  const auto cout_pad = static_cast<int64_t>(q8_winograd_cout_pad(cout));
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    int64_t n, oh, ow;
    winograd_detail::tile_origin(g, t, &n, &oh, &ow);
    const int32_t* in = m + (t - tile_begin) * cout_pad;
    for (int64_t c = 0; c < cout; ++c) {
      uint32_t s[4][4];
      for (int e = 0; e < 16; ++e) s[e / 4][e % 4] = static_cast<uint32_t>(in[e * matrix_stride + c]);
      // A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]; rows first.
      uint32_t r[2][4];
      for (int j = 0; j < 4; ++j) {
        r[0][j] = s[0][j] + s[1][j] + s[2][j];
        r[1][j] = s[1][j] - s[2][j] - s[3][j];
      }
      const Requant rq{multipliers[c], shifts[c]};
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {
          if (oh + i >= out_h || ow + j >= out_w) continue;
          const uint32_t four_conv = j == 0 ? r[i][0] + r[i][1] + r[i][2] : r[i][1] - r[i][2] - r[i][3];
          const int32_t acc = wrap(static_cast<uint32_t>(wrap(four_conv) / 4) + static_cast<uint32_t>(bias[c]));
          y[((n * out_h + oh + i) * out_w + ow + j) * cout + c] =
              static_cast<uint8_t>(requantize(acc, rq, y_zero_point, lo, hi));
        }
    }
  }
}

namespace {

constexpr Q8WinogradVariant kReference = {Isa::kScalar, "q8_winograd_f23_ref__scalar", "ref__scalar",
                                          q8_winograd_f23_input_ref__scalar, q8_winograd_f23_gemm_ref__scalar,
                                          q8_winograd_f23_output_ref__scalar};

const Q8WinogradVariant kQ8WinogradVariants[] = {
#if PARE_KERNELS_AVX2
    {Isa::kAvx2, "q8_winograd_f23_6x16__avx2", "6x16__avx2", q8_winograd_f23_input_c16__avx2, q8_winograd_f23_gemm_6x16__avx2,
     q8_winograd_f23_output_c8__avx2},
#endif
#if PARE_KERNELS_NEON
    {Isa::kNeon, "q8_winograd_f23_4x16__neon", "4x16__neon", q8_winograd_f23_input_c8__neon,
     q8_winograd_f23_gemm_4x16__neon, q8_winograd_f23_output_c8__neon},
#endif
    kReference,
};

}  // namespace

const Q8WinogradVariant* q8_winograd_variants(size_t* count) {
  if constexpr (!kernel_family_selected("q8_winograd")) {
    *count = 1;
    return &kReference;
  }
  *count = sizeof(kQ8WinogradVariants) / sizeof(kQ8WinogradVariants[0]);
  return kQ8WinogradVariants;
}

const Q8WinogradVariant& select_q8_winograd(Isa cap) {
  note_kernel_family("q8_winograd");
  size_t count = 0;
  const Q8WinogradVariant* all = q8_winograd_variants(&count);
  const Q8WinogradVariant* best = best_usable_variant(all, count, false, cap);
  return best ? *best : kReference;
}

}  // namespace pare::rt::kernels
