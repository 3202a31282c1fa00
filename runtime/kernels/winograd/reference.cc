// Winograd F(2x2, 3x3) and F(4x4, 3x3): the weight transforms, the scalar input and output
// transforms that define the results, and the variant table.
#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
#include "runtime/kernels/winograd/winograd.h"

namespace pare::rt::kernels {

int64_t f32_conv_winograd_f23_tiles(const ConvGeometry& g) {
  return g.batch * ((g.out_size[1] + 1) / 2) * ((g.out_size[2] + 1) / 2);
}

int64_t f32_conv_winograd_f43_tiles(const ConvGeometry& g) {
  return g.batch * ((g.out_size[1] + 3) / 4) * ((g.out_size[2] + 3) / 4);
}

void f32_conv_winograd_f23_weight(const ConvGeometry& g, const float* weight, float* u) {
  const int64_t cin = g.in_channels, cout = g.out_channels;
  // G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]].
  static const float kG[4][3] = {{1.f, 0.f, 0.f}, {.5f, .5f, .5f}, {.5f, -.5f, .5f}, {0.f, 0.f, 1.f}};
  for (int64_t co = 0; co < cout; ++co)
    for (int64_t ci = 0; ci < cin; ++ci) {
      const float* w = weight + (co * cin + ci) * 9;
      float gw[4][3];  // G w
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) gw[i][j] = kG[i][0] * w[j] + kG[i][1] * w[3 + j] + kG[i][2] * w[6 + j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
          u[((i * 4 + j) * cin + ci) * cout + co] = gw[i][0] * kG[j][0] + gw[i][1] * kG[j][1] + gw[i][2] * kG[j][2];
    }
}

void f32_conv_winograd_f43_weight(const ConvGeometry& g, const float* weight, float* u) {
  const int64_t cin = g.in_channels, cout = g.out_channels;
  static const double kG[6][3] = {{1. / 4, 0., 0.},           {-1. / 6, -1. / 6, -1. / 6}, {-1. / 6, 1. / 6, -1. / 6},
                                  {1. / 24, 1. / 12, 1. / 6}, {1. / 24, -1. / 12, 1. / 6}, {0., 0., 1.}};
  for (int64_t co = 0; co < cout; ++co)
    for (int64_t ci = 0; ci < cin; ++ci) {
      const float* w = weight + (co * cin + ci) * 9;
      double gw[6][3];  // G w
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 3; ++j) gw[i][j] = kG[i][0] * w[j] + kG[i][1] * w[3 + j] + kG[i][2] * w[6 + j];
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j)
          u[((i * 6 + j) * cin + ci) * cout + co] =
              static_cast<float>(gw[i][0] * kG[j][0] + gw[i][1] * kG[j][1] + gw[i][2] * kG[j][2]);
    }
}

void f32_winograd_f23_input_ref__scalar(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                        int64_t tile_end, float* v, int64_t matrix_stride) {
  const int64_t cin = g.in_channels;
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    const float* px[4][4];
    winograd_detail::tile_window(g, input, t, px);
    float* out = v + (t - tile_begin) * cin;
    for (int64_t c = 0; c < cin; ++c) {
      float d[4][4];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) d[i][j] = px[i][j] ? px[i][j][c] : 0.f;
      // B^T d B, B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]; rows first.
      float r[4][4];
      for (int j = 0; j < 4; ++j) {
        r[0][j] = d[0][j] - d[2][j];
        r[1][j] = d[1][j] + d[2][j];
        r[2][j] = d[2][j] - d[1][j];
        r[3][j] = d[1][j] - d[3][j];
      }
      for (int i = 0; i < 4; ++i) {
        out[(i * 4 + 0) * matrix_stride + c] = r[i][0] - r[i][2];
        out[(i * 4 + 1) * matrix_stride + c] = r[i][1] + r[i][2];
        out[(i * 4 + 2) * matrix_stride + c] = r[i][2] - r[i][1];
        out[(i * 4 + 3) * matrix_stride + c] = r[i][1] - r[i][3];
      }
    }
  }
}

namespace {
// The output transforms' clamp: `min > y ? min : y`, then `max < y ? max : y` (a NaN stays NaN).
float clamp_output(float y, float min, float max) {
  y = min > y ? min : y;
  return max < y ? max : y;
}
}  // namespace

void f32_winograd_f23_output_ref__scalar(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                         const float* bias, float min, float max, int64_t tile_begin,
                                         int64_t tile_end, float* output) {
  const int64_t cout = g.out_channels;
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    float* px[2][2];
    winograd_detail::tile_outputs<2>(g, output, t, px);
    const float* in = m + (t - tile_begin) * cout;
    for (int64_t c = 0; c < cout; ++c) {
      float s[4][4];
      for (int e = 0; e < 16; ++e) s[e / 4][e % 4] = in[e * matrix_stride + c];
      // A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]; rows first.
      float r[2][4];
      for (int j = 0; j < 4; ++j) {
        r[0][j] = s[0][j] + s[1][j] + s[2][j];
        r[1][j] = s[1][j] - s[2][j] - s[3][j];
      }
      const float b = bias ? bias[c] : 0.f;
      for (int i = 0; i < 2; ++i) {
        if (px[i][0]) px[i][0][c] = clamp_output(r[i][0] + r[i][1] + r[i][2] + b, min, max);
        if (px[i][1]) px[i][1][c] = clamp_output(r[i][1] - r[i][2] - r[i][3] + b, min, max);
      }
    }
  }
}

namespace {
struct ScalarOps {
  static float add(float a, float b) { return a + b; }
  static float sub(float a, float b) { return a - b; }
};
}  // namespace

void f32_winograd_f43_input_ref__scalar(const ConvGeometry& g, const float* input, int64_t tile_begin,
                                        int64_t tile_end, float* v, int64_t matrix_stride) {
  const int64_t cin = g.in_channels;
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    const float* px[6][6];
    winograd_detail::tile_window<4>(g, input, t, px);
    float* out = v + (t - tile_begin) * cin;
    for (int64_t c = 0; c < cin; ++c) {
      float d[6][6];
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) d[i][j] = px[i][j] ? px[i][j][c] : 0.f;
      winograd_detail::f43_input_tile<ScalarOps>(d, [&](int e, float value) { out[e * matrix_stride + c] = value; });
    }
  }
}

void f32_winograd_f43_output_ref__scalar(const ConvGeometry& g, const float* m, int64_t matrix_stride,
                                         const float* bias, float min, float max, int64_t tile_begin,
                                         int64_t tile_end, float* output) {
  const int64_t cout = g.out_channels;
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    float* px[4][4];
    winograd_detail::tile_outputs<4>(g, output, t, px);
    const float* in = m + (t - tile_begin) * cout;
    for (int64_t c = 0; c < cout; ++c) {
      float s[36];
      for (int e = 0; e < 36; ++e) s[e] = in[e * matrix_stride + c];
      winograd_detail::f43_output_tile<ScalarOps>(s, bias ? bias[c] : 0.f, [&](int i, int j, float value) {
        if (px[i][j]) px[i][j][c] = clamp_output(value, min, max);
      });
    }
  }
}

namespace {

#define PARE_WINOGRAD_TRANSFORMS(tile, suffix)                                                      \
  {f32_winograd_##tile##_input_##suffix, "f32_winograd_" #tile "_input_" #suffix,                    \
   f32_winograd_##tile##_output_##suffix, "f32_winograd_" #tile "_output_" #suffix}
#define PARE_WINOGRAD_VARIANT(isa, suffix) \
  {isa, PARE_WINOGRAD_TRANSFORMS(f23, suffix), PARE_WINOGRAD_TRANSFORMS(f43, suffix)}

constexpr WinogradVariant kReference = PARE_WINOGRAD_VARIANT(Isa::kScalar, ref__scalar);

const WinogradVariant kWinogradVariants[] = {
#if PARE_KERNELS_AVX512
    PARE_WINOGRAD_VARIANT(Isa::kAvx512, c16__avx512),
#endif
#if PARE_KERNELS_AVX2
    PARE_WINOGRAD_VARIANT(Isa::kAvx2, c8__avx2),
#endif
#if PARE_KERNELS_NEON
    PARE_WINOGRAD_VARIANT(Isa::kNeon, c4__neon),
#endif
    kReference,
};

#undef PARE_WINOGRAD_VARIANT
#undef PARE_WINOGRAD_TRANSFORMS

}  // namespace

const WinogradVariant* winograd_variants(size_t* count) {
  if constexpr (!kernel_family_selected("f32_winograd")) {
    *count = 1;
    return &kReference;
  }
  *count = sizeof(kWinogradVariants) / sizeof(kWinogradVariants[0]);
  return kWinogradVariants;
}

const WinogradVariant& select_winograd(Isa cap) {
  note_kernel_family("f32_winograd");
  size_t count = 0;
  const WinogradVariant* all = winograd_variants(&count);
  const WinogradVariant* best = best_usable_variant(all, count, false, cap);
  return best ? *best : kReference;
}

}  // namespace pare::rt::kernels
