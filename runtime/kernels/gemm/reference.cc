#include "runtime/kernels/gemm/gemm.h"

namespace pare::rt::kernels {

void f32_gemm_ref__scalar(const GemmArgs& p) {
  for (int64_t m = 0; m < p.rows; ++m) {
    float* y = p.y + m * p.cols;
    for (int64_t n = 0; n < p.cols; ++n) y[n] = 0.f;
    // Row m of y accumulates a(m, k) * row k of b, k in order.
    for (int64_t k = 0; k < p.depth; ++k) {
      const float av = p.a[m * p.a_row_stride + k * p.a_col_stride];
      const float* b = p.b + k * p.b_row_stride;
      for (int64_t n = 0; n < p.cols; ++n) y[n] += av * b[n * p.b_col_stride];
    }
    if (p.c) {
      const float* c = p.c + m * p.c_row_stride;
      for (int64_t n = 0; n < p.cols; ++n) y[n] = p.alpha * y[n] + p.beta * c[n * p.c_col_stride];
    } else if (p.alpha != 1.f) {
      for (int64_t n = 0; n < p.cols; ++n) y[n] *= p.alpha;
    }
  }
}

}  // namespace pare::rt::kernels
