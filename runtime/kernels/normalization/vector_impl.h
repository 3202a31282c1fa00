// The float32 LayerNormalization written once over a vector type V (a simd::F32x* struct,
// see simd/x86_avx2.h). Only included by the ISA files (compiled with their own flags).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pare::rt::kernels::layernorm_vec {

// Loads the n < kWidth trailing elements of p, zero padded.
template <typename V>
inline auto load_tail(const float* p, size_t n) {
  float buf[V::kWidth] = {};
  std::memcpy(buf, p, n * sizeof(float));
  return V::load(buf);
}

template <typename V>
inline void layernorm_rows(int64_t cols, const float* x, const float* scale, const float* bias,
                           float epsilon, float* y, float* mean_out, float* inv_std_out,
                           int64_t row_begin, int64_t row_end) {
  constexpr size_t W = V::kWidth;
  const size_t n = static_cast<size_t>(cols);
  const size_t body = n - n % W;
  const float inv_n = 1.f / static_cast<float>(cols);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* in = x + r * cols;
    float* out = y + r * cols;

    auto sum = V::set1(0.f);
    for (size_t i = 0; i < body; i += W) sum = V::add(sum, V::load(in + i));
    if (body < n) sum = V::add(sum, load_tail<V>(in + body, n - body));
    const float mean0 = V::reduce_add(sum) * inv_n;

    const auto vmean0 = V::set1(mean0);
    auto dsum = V::set1(0.f), dsq = V::set1(0.f);
    for (size_t i = 0; i < body; i += W) {
      const auto d = V::sub(V::load(in + i), vmean0);
      dsum = V::add(dsum, d);
      dsq = V::fmadd(d, d, dsq);
    }
    if (body < n) {
      float buf[W] = {};  // padding lanes stay 0 rather than 0 - mean0
      for (size_t k = 0; k < n - body; ++k) buf[k] = in[body + k] - mean0;
      const auto d = V::load(buf);
      dsum = V::add(dsum, d);
      dsq = V::fmadd(d, d, dsq);
    }
    const double mean_shift = static_cast<double>(V::reduce_add(dsum)) / static_cast<double>(cols);
    const double mean = static_cast<double>(mean0) + mean_shift;
    double var = static_cast<double>(V::reduce_add(dsq)) / static_cast<double>(cols) -
                 mean_shift * mean_shift;
    if (var < 0.0) var = 0.0;
    const double inv_std = 1.0 / std::sqrt(var + static_cast<double>(epsilon));
    if (mean_out) mean_out[r] = static_cast<float>(mean);
    if (inv_std_out) inv_std_out[r] = static_cast<float>(inv_std);

    // y = ((x - m0) - shift) * inv_std * scale + bias: x - m0 is exact for rows far from zero
    // mean, where rounding the mean itself to float would cost up to half an ulp of it.
    const auto vshift = V::set1(static_cast<float>(mean_shift));
    const auto vinv_std = V::set1(static_cast<float>(inv_std));
    const auto zero = V::set1(0.f);
    for (size_t i = 0; i < body; i += W) {
      const auto normalized = V::mul(V::sub(V::sub(V::load(in + i), vmean0), vshift), vinv_std);
      V::store(out + i,
               V::fmadd(normalized, V::load(scale + i), bias ? V::load(bias + i) : zero));
    }
    if (body < n) {
      const size_t rest = n - body;
      const auto normalized =
          V::mul(V::sub(V::sub(load_tail<V>(in + body, rest), vmean0), vshift), vinv_std);
      const auto b = bias ? load_tail<V>(bias + body, rest) : zero;
      float buf[W];
      V::store(buf, V::fmadd(normalized, load_tail<V>(scale + body, rest), b));
      std::memcpy(out + body, buf, rest * sizeof(float));
    }
  }
}

}  // namespace pare::rt::kernels::layernorm_vec
