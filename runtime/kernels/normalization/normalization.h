// Normalization kernels, float32.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/cpu.h"

namespace pare::rt::kernels {

// Inference BatchNormalization over x[batch, channels, spatial]:
// y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + bias[c].
// Writes the planes [plane_begin, plane_end), plane = n * channels + c.
void f32_batchnorm_ref__scalar(int64_t channels, int64_t spatial, const float* x,
                               const float* scale, const float* bias, const float* mean,
                               const float* var, float epsilon, float* y, int64_t plane_begin,
                               int64_t plane_end);

// LayerNormalization of rows of `cols` elements: each row is normalized to zero mean and
// unit variance (biased), then y = normalized * scale[j] + bias[j] (bias may be null).
// mean and inv_std (one value per row; each may be null) receive the row statistics.
// Writes the rows [row_begin, row_end).
void f32_layernorm_ref__scalar(int64_t cols, const float* x, const float* scale,
                               const float* bias, float epsilon, float* y, float* mean,
                               float* inv_std, int64_t row_begin, int64_t row_end);

using F32LayerNormFn = void (*)(int64_t cols, const float* x, const float* scale,
                                const float* bias, float epsilon, float* y, float* mean,
                                float* inv_std, int64_t row_begin, int64_t row_end);

// Vector LayerNormalization over rows, same contract as the reference. Statistics are summed
// in float: a first pass gives a provisional mean m0, a second sums d = x - m0 and d^2, so the
// mean is m0 + sum(d)/cols and the variance sum(d^2)/cols - (sum(d)/cols)^2 stays accurate
// for rows far from zero mean. Rows are independent, so any split gives identical bytes.
struct F32LayerNormVariant {
  Isa isa;
  const char* name;
  F32LayerNormFn fn;
};

#if defined(__x86_64__)
void f32_layernorm_x8__avx2(int64_t cols, const float* x, const float* scale, const float* bias,
                            float epsilon, float* y, float* mean, float* inv_std,
                            int64_t row_begin, int64_t row_end);
void f32_layernorm_x16__avx512(int64_t cols, const float* x, const float* scale,
                               const float* bias, float epsilon, float* y, float* mean,
                               float* inv_std, int64_t row_begin, int64_t row_end);
#endif
#if defined(__aarch64__)
void f32_layernorm_x4__neon(int64_t cols, const float* x, const float* scale, const float* bias,
                            float epsilon, float* y, float* mean, float* inv_std,
                            int64_t row_begin, int64_t row_end);
#endif

// The vector LayerNormalization kernels built for this architecture, best first.
const F32LayerNormVariant* f32_layernorm_variants(size_t* count);

// The best LayerNormalization kernel usable under `cap`, or null when none is.
const F32LayerNormVariant* select_f32_layernorm(Isa cap);

}  // namespace pare::rt::kernels
