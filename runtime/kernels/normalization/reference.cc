#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
#include "runtime/kernels/normalization/normalization.h"

#include <cmath>

namespace pare::rt::kernels {

void f32_batchnorm_ref__scalar(int64_t channels, int64_t spatial, const float* x,
                               const float* scale, const float* bias, const float* mean,
                               const float* var, float epsilon, float* y, int64_t plane_begin,
                               int64_t plane_end) {
  for (int64_t p = plane_begin; p < plane_end; ++p) {
    const int64_t c = p % channels;
    const float inv_std = 1.f / std::sqrt(var[c] + epsilon);
    const float* in = x + p * spatial;
    float* out = y + p * spatial;
    for (int64_t i = 0; i < spatial; ++i) out[i] = (in[i] - mean[c]) * inv_std * scale[c] + bias[c];
  }
}

void f32_layernorm_ref__scalar(int64_t cols, const float* x, const float* scale,
                               const float* bias, float epsilon, float* y, float* mean_out,
                               float* inv_std_out, int64_t row_begin, int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* in = x + r * cols;
    float* out = y + r * cols;
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) sum += in[j];
    const double mean = sum / static_cast<double>(cols);
    double sq = 0.0;
    for (int64_t j = 0; j < cols; ++j) sq += (in[j] - mean) * (in[j] - mean);
    const double inv_std = 1.0 / std::sqrt(sq / static_cast<double>(cols) + epsilon);
    if (mean_out) mean_out[r] = static_cast<float>(mean);
    if (inv_std_out) inv_std_out[r] = static_cast<float>(inv_std);
    for (int64_t j = 0; j < cols; ++j) {
      const float normalized = static_cast<float>((in[j] - mean) * inv_std);
      out[j] = normalized * scale[j] + (bias ? bias[j] : 0.f);
    }
  }
}

namespace {

const F32LayerNormVariant kLayerNormVariants[] = {
#if PARE_KERNELS_AVX512
    {Isa::kAvx512, "f32_layernorm_x16__avx512", f32_layernorm_x16__avx512},
#endif
#if PARE_KERNELS_AVX2
    {Isa::kAvx2, "f32_layernorm_x8__avx2", f32_layernorm_x8__avx2},
#endif
#if PARE_KERNELS_NEON
    {Isa::kNeon, "f32_layernorm_x4__neon", f32_layernorm_x4__neon},
#endif
    {Isa::kScalar, nullptr, nullptr},  // keeps the array non-empty on other architectures
};

}  // namespace

const F32LayerNormVariant* f32_layernorm_variants(size_t* count) {
  if constexpr (!kernel_family_selected("f32_layernorm")) {
    *count = 0;
    return nullptr;
  }
  *count = sizeof(kLayerNormVariants) / sizeof(kLayerNormVariants[0]) - 1;
  return kLayerNormVariants;
}

const F32LayerNormVariant* select_f32_layernorm(Isa cap) {
  note_kernel_family("f32_layernorm");
  size_t count = 0;
  const F32LayerNormVariant* all = f32_layernorm_variants(&count);
  return best_usable_variant(all, count, false, cap);
}

}  // namespace pare::rt::kernels
