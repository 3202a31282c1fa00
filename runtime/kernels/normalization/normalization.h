// Normalization kernels, float32.
#pragma once

#include <cstdint>

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

}  // namespace pare::rt::kernels
