// Matrix multiplication kernels, float32.
#pragma once

#include <cstdint>

namespace pare::rt::kernels {

// y[m, n] = alpha * sum_k a(m, k) * b(k, n) + beta * c(m, n) for m < rows, n < cols, where
// x(i, j) = x[i * x_row_stride + j * x_col_stride]: transposed operands swap their strides
// and a broadcast C has a zero stride. c may be null (no C term). y is rows x cols, dense.
struct GemmArgs {
  int64_t rows = 0, cols = 0, depth = 0;
  const float* a = nullptr;
  int64_t a_row_stride = 0, a_col_stride = 0;
  const float* b = nullptr;
  int64_t b_row_stride = 0, b_col_stride = 0;
  const float* c = nullptr;
  int64_t c_row_stride = 0, c_col_stride = 0;
  float alpha = 1.f, beta = 1.f;
  float* y = nullptr;
};

void f32_gemm_ref__scalar(const GemmArgs& args);

}  // namespace pare::rt::kernels
