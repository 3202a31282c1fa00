// What the GEMM-shaped kernel benchmarks share (gemm, qgemm, spmm): MobileNetV2-224's 1x1
// convolution shapes, random data, the FLOP-rate counter and the packed f32 GEMM that the
// other kernels are measured against. Included only by bench.cc files.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/gemm/gemm.h"

namespace pare::rt::kernels::bench {

struct Shape {
  size_t m, k, n;
};

// The 1x1 convolutions of MobileNetV2-224 by distinct shape, its first 3x3 convolution
// through im2col (K = 3*3*3), its classifier, then 512^3.
constexpr Shape kShapes[] = {
    {12544, 27, 32}, {12544, 32, 16}, {12544, 16, 96}, {3136, 96, 24},  {3136, 24, 144}, {3136, 144, 24},
    {784, 144, 32},  {784, 32, 192},  {784, 192, 32},  {196, 192, 64},  {196, 64, 384},
    {196, 384, 64},  {196, 384, 96},  {196, 96, 576},  {196, 576, 96},  {49, 576, 160},
    {49, 160, 960},  {49, 960, 160},  {49, 960, 320},  {49, 320, 1280}, {1, 1280, 1000},
    {512, 512, 512},
    // ResNet-18's 3x3 convs at 28x28, 14x14 and 7x7 as products (K = 9 * Cin).
    {784, 1152, 128}, {196, 2304, 256}, {49, 4608, 512},
    // The Fashion-MNIST ViT's per-block products over 50 tokens: qkv, o, MLP up and down.
    {50, 128, 384}, {50, 128, 128}, {50, 128, 512}, {50, 512, 128},
};

// Every 1x1 convolution of MobileNetV2-224, in network order.
constexpr Shape kMobileNetV2Pointwise[] = {
    {12544, 32, 16}, {12544, 16, 96}, {3136, 96, 24},  {3136, 24, 144}, {3136, 144, 24},
    {3136, 24, 144}, {784, 144, 32},  {784, 32, 192},  {784, 192, 32},  {784, 32, 192},
    {784, 192, 32},  {784, 32, 192},  {196, 192, 64},  {196, 64, 384},  {196, 384, 64},
    {196, 64, 384},  {196, 384, 64},  {196, 64, 384},  {196, 384, 64},  {196, 64, 384},
    {196, 384, 96},  {196, 96, 576},  {196, 576, 96},  {196, 96, 576},  {196, 576, 96},
    {196, 96, 576},  {49, 576, 160},  {49, 160, 960},  {49, 960, 160},  {49, 160, 960},
    {49, 960, 160},  {49, 160, 960},  {49, 960, 320},  {49, 320, 1280},
};

inline std::vector<float> random_values(size_t n, uint32_t seed = 7) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

inline double flops(const Shape& s) { return 2.0 * static_cast<double>(s.m * s.n * s.k); }

inline void set_rate(benchmark::State& state, double ops_per_run, const char* counter = "GFLOPS") {
  state.counters[counter] = benchmark::Counter(
      1e-9 * ops_per_run * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Packed weights and bias of one product, with ReLU6 as the clamp (as in MobileNetV2's
// expansion layers; the clamp costs the same whatever its limits).
class PackedGemm {
 public:
  PackedGemm(const F32GemmVariant& v, const Shape& s)
      : v_(v),
        packed_(static_cast<float*>(std::aligned_alloc(
                    64, (f32_gemm_packed_b_bytes(v.nr, s.n, s.k) + 63) / 64 * 64)),
                &std::free) {
    const std::vector<float> b = random_values(s.k * s.n), bias = random_values(s.n);
    f32_gemm_pack_b_kn(v.nr, s.n, s.k, b.data(), s.n, bias.data(), packed_.get());
    args_.m = s.m;
    args_.n = s.n;
    args_.k = s.k;
    args_.a_stride = s.k;
    args_.packed_b = packed_.get();
    args_.c_stride = s.n;
    args_.min = 0.f;
    args_.max = 6.f;
    tiles_ = f32_gemm_m_tiles(v, s.m) * f32_gemm_n_panels(v, s.n);
  }

  void run(const float* a, float* c) {
    args_.a = a;
    args_.c = c;
    f32_gemm_tiles(v_, args_, 0, tiles_);
    benchmark::DoNotOptimize(c);
    benchmark::ClobberMemory();
  }

  // A given indirectly: row i is `run_count` runs, run r at runs[i * run_count + r].
  void run_indirect(const float* const* runs, size_t run_count, float* c) {
    args_.a_runs = runs;
    args_.a_run_count = run_count;
    args_.c = c;
    f32_gemm_tiles(v_, args_, 0, tiles_);
    args_.a_runs = nullptr;
    benchmark::DoNotOptimize(c);
    benchmark::ClobberMemory();
  }

 private:
  const F32GemmVariant& v_;
  std::unique_ptr<float, decltype(&std::free)> packed_;
  F32GemmArgs args_;
  size_t tiles_ = 0;
};

inline std::string shape_name(const Shape& s) {
  return "M" + std::to_string(s.m) + "_K" + std::to_string(s.k) + "_N" + std::to_string(s.n);
}

}  // namespace pare::rt::kernels::bench
