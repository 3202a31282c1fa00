#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
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

namespace {

const F32SoftmaxRowsVariant kRowsVariants[] = {
#if PARE_KERNELS_AVX512
    {Isa::kAvx512, "f32_softmax_rows_x16__avx512", f32_softmax_rows_x16__avx512},
#endif
#if PARE_KERNELS_AVX2
    {Isa::kAvx2, "f32_softmax_rows_x8__avx2", f32_softmax_rows_x8__avx2},
#endif
#if PARE_KERNELS_NEON
    {Isa::kNeon, "f32_softmax_rows_x4__neon", f32_softmax_rows_x4__neon},
#endif
    {Isa::kScalar, nullptr, nullptr},  // keeps the array non-empty on other architectures
};

}  // namespace

const F32SoftmaxRowsVariant* f32_softmax_rows_variants(size_t* count) {
  if constexpr (!kernel_family_selected("f32_softmax")) {
    *count = 0;
    return nullptr;
  }
  *count = sizeof(kRowsVariants) / sizeof(kRowsVariants[0]) - 1;
  return kRowsVariants;
}

const F32SoftmaxRowsVariant* select_f32_softmax_rows(Isa cap) {
  note_kernel_family("f32_softmax");
  size_t count = 0;
  const F32SoftmaxRowsVariant* all = f32_softmax_rows_variants(&count);
  return best_usable_variant(all, count, false, cap);
}

}  // namespace pare::rt::kernels
