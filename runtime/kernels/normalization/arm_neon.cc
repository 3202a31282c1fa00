// Float32 LayerNormalization, AArch64 NEON: 4 lanes per q register.
#include "runtime/kernels/simd/arm_neon.h"

#include "runtime/kernels/normalization/normalization.h"
#include "runtime/kernels/normalization/vector_impl.h"

namespace pare::rt::kernels {

void f32_layernorm_x4__neon(int64_t cols, const float* x, const float* scale, const float* bias,
                            float epsilon, float* y, float* mean, float* inv_std, int64_t row_begin,
                            int64_t row_end) {
  layernorm_vec::layernorm_rows<simd::F32x4Neon>(cols, x, scale, bias, epsilon, y, mean, inv_std,
                                                 row_begin, row_end);
}

}  // namespace pare::rt::kernels
