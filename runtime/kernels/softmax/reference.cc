#include "runtime/kernels/softmax/softmax.h"

#include <cmath>

namespace pare::rt::kernels {

void f32_softmax_ref__scalar(int64_t axis_size, int64_t inner, const float* x, float* y,
                             int64_t outer_begin, int64_t outer_end) {
  for (int64_t o = outer_begin; o < outer_end; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* in = x + o * axis_size * inner + i;
      float* out = y + o * axis_size * inner + i;
      float max = in[0];
      for (int64_t a = 1; a < axis_size; ++a) max = std::fmax(max, in[a * inner]);
      float sum = 0.f;
      for (int64_t a = 0; a < axis_size; ++a) {
        out[a * inner] = std::exp(in[a * inner] - max);
        sum += out[a * inner];
      }
      const float inv_sum = 1.f / sum;
      for (int64_t a = 0; a < axis_size; ++a) out[a * inner] *= inv_sum;
    }
  }
}

}  // namespace pare::rt::kernels
