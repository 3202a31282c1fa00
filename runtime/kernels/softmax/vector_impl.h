// The float32 row softmax written once over a vector type V (a simd::F32x* struct, see
// simd/x86_avx2.h). Only included by the ISA files (compiled with their own flags).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "runtime/kernels/eltwise/vector_impl.h"

namespace pare::rt::kernels::softmax_vec {

template <typename V>
inline void softmax_rows(int64_t cols, const float* x, float* y, int64_t row_begin,
                         int64_t row_end) {
  constexpr size_t W = V::kWidth;
  const size_t n = static_cast<size_t>(cols);
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* in = x + r * cols;
    float* out = y + r * cols;

    // Row max, ignoring NaN like std::fmax in the reference: max(v, acc) keeps acc when v is NaN.
    auto max_acc = V::set1(kNegInf);
    size_t i = 0;
    for (; i + W <= n; i += W) max_acc = V::max(V::load(in + i), max_acc);
    float max = V::reduce_max(max_acc);
    for (; i < n; ++i) max = in[i] > max ? in[i] : max;
    // All-NaN rows: the reference's max is NaN, which makes every output NaN; so does -inf here
    // (NaN - -inf is NaN).

    // exp(x - max) <= 1; arguments below -87 clamp to e^-87 (~1.6e-38), far below the
    // precision of any output. NaN (from NaN inputs or inf - inf) stays NaN: V::max(a, NaN)
    // returns NaN.
    const auto vmax = V::set1(max);
    const auto lowest = V::set1(-87.f);
    auto sum_acc = V::set1(0.f);
    i = 0;
    for (; i + W <= n; i += W) {
      const auto e = eltwise_vec::exp_in_range<V>(V::max(lowest, V::sub(V::load(in + i), vmax)));
      V::store(out + i, e);
      sum_acc = V::add(sum_acc, e);
    }
    if (i < n) {
      float buf[W];
      for (size_t k = 0; k < W; ++k) buf[k] = i + k < n ? in[i + k] : max;
      auto e = eltwise_vec::exp_in_range<V>(V::max(lowest, V::sub(V::load(buf), vmax)));
      V::store(buf, e);
      std::memcpy(out + i, buf, (n - i) * sizeof(float));
      // Padding lanes must not count towards the sum.
      for (size_t k = n - i; k < W; ++k) buf[k] = 0.f;
      sum_acc = V::add(sum_acc, V::load(buf));
    }
    const float inv_sum = 1.f / V::reduce_add(sum_acc);
    const auto vinv_sum = V::set1(inv_sum);
    i = 0;
    for (; i + W <= n; i += W) V::store(out + i, V::mul(V::load(out + i), vinv_sum));
    for (; i < n; ++i) out[i] *= inv_sum;
  }
}

}  // namespace pare::rt::kernels::softmax_vec
