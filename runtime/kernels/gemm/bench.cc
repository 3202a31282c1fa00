// f32 GEMM benchmarks: each usable variant on MobileNetV2-224's 1x1 convolutions (as
// [M = H*W, K = Cin] x [K, N = Cout]) and on a square 512^3, in GFLOP/s (2*M*N*K per run);
// the strided reference on the same shapes; and the core's peak FMA rate for AVX2 and
// AVX-512, to compare the kernels against.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/gemm/bench_util.h"
#include "runtime/kernels/gemm/gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace pare::rt::kernels {
namespace {

using bench::flops;
using bench::kMobileNetV2Pointwise;
using bench::kShapes;
using bench::PackedGemm;
using bench::random_values;
using bench::Shape;
using bench::shape_name;

void set_flops(benchmark::State& state, double flops_per_run) { bench::set_rate(state, flops_per_run); }

void bench_variant(benchmark::State& state, const F32GemmVariant* v, Shape s) {
  PackedGemm gemm(*v, s);
  const std::vector<float> a = random_values(s.m * s.k);
  std::vector<float> c(s.m * s.n);
  for (auto _ : state) gemm.run(a.data(), c.data());
  set_flops(state, flops(s));
}

// The same product with A given indirectly, each row as `runs` runs of K / runs floats (a
// KxK conv's kernel rows), pointing into the same rows as the strided case: the indirect
// microkernel's rate against the strided one's on one shape.
struct IndirectShape {
  Shape s;
  size_t runs;
};
constexpr IndirectShape kIndirectShapes[] = {
    {{784, 256, 512}, 1},   // ResNet-50's first strided 1x1 downsample
    {{784, 1152, 128}, 3},  // its 28x28 stride-2 3x3 conv
    {{49, 4608, 512}, 3},   // its 7x7 layers' 3x3 convs
    {{12544, 147, 64}, 7},  // its stem, 7x7 stride 2 on 3 channels
};

void bench_indirect(benchmark::State& state, const F32GemmVariant* v, IndirectShape is) {
  const Shape s = is.s;
  PackedGemm gemm(*v, s);
  const std::vector<float> a = random_values(s.m * s.k);
  std::vector<const float*> runs(s.m * is.runs);
  for (size_t i = 0; i < s.m; ++i)
    for (size_t r = 0; r < is.runs; ++r) runs[i * is.runs + r] = a.data() + i * s.k + r * (s.k / is.runs);
  std::vector<float> c(s.m * s.n);
  for (auto _ : state) gemm.run_indirect(runs.data(), is.runs, c.data());
  set_flops(state, flops(s));
}

// All of MobileNetV2's 1x1 convolutions one after the other. Activations alternate between
// two buffers, each layer reading the previous one's output, as a planned arena reuses
// memory (ReLU6 keeps the values bounded).
void bench_mobilenet_v2_pointwise(benchmark::State& state, const F32GemmVariant* v) {
  std::vector<std::unique_ptr<PackedGemm>> layers;
  size_t largest = 0;
  double total = 0;
  for (const Shape& s : kMobileNetV2Pointwise) {
    layers.push_back(std::make_unique<PackedGemm>(*v, s));
    largest = std::max({largest, s.m * s.k, s.m * s.n});
    total += flops(s);
  }
  std::vector<float> ping = random_values(largest), pong(largest);
  for (auto _ : state)
    for (size_t i = 0; i < layers.size(); ++i)
      layers[i]->run(i % 2 ? pong.data() : ping.data(), i % 2 ? ping.data() : pong.data());
  set_flops(state, total);
}

// A classifier's matrix-vector product (M = 1, K = 1280, N = 1000: 5 MB of packed weights)
// as a network meets it: the weights were last read an inference ago, so they come from
// memory, not cache. Runs rotate through 16 copies (80 MB, past any L3 here). The
// "stream_read" case reads the same bytes with a plain vector sum: the memory's rate, the
// bound for the product.
constexpr Shape kClassifier{1, 1280, 1000};
constexpr size_t kColdCopies = 16;

void bench_classifier_cold(benchmark::State& state, const F32GemmVariant* v) {
  std::vector<std::unique_ptr<PackedGemm>> copies;
  for (size_t i = 0; i < kColdCopies; ++i) copies.push_back(std::make_unique<PackedGemm>(*v, kClassifier));
  const std::vector<float> a = random_values(kClassifier.k);
  std::vector<float> c(kClassifier.n);
  size_t i = 0;
  for (auto _ : state) copies[i++ % kColdCopies]->run(a.data(), c.data());
  set_flops(state, flops(kClassifier));
}

void bench_stream_read(benchmark::State& state) {
  const size_t n = kClassifier.k * kClassifier.n;
  std::vector<std::vector<float>> copies(kColdCopies, random_values(n));
  size_t i = 0;
  for (auto _ : state) {
    // The bits XORed as integers: a loop the compiler vectorizes, which float sums are not.
    const auto* p = reinterpret_cast<const uint32_t*>(copies[i++ % kColdCopies].data());
    uint32_t x = 0;
    for (size_t j = 0; j < n; ++j) x ^= p[j];
    benchmark::DoNotOptimize(x);
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(n * sizeof(float)),
                                              benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}

void bench_reference(benchmark::State& state, Shape s) {
  const std::vector<float> a = random_values(s.m * s.k), b = random_values(s.k * s.n),
                           bias = random_values(s.n);
  std::vector<float> y(s.m * s.n);
  GemmArgs g;
  g.rows = static_cast<int64_t>(s.m);
  g.cols = static_cast<int64_t>(s.n);
  g.depth = static_cast<int64_t>(s.k);
  g.a = a.data();
  g.a_row_stride = static_cast<int64_t>(s.k);
  g.a_col_stride = 1;
  g.b = b.data();
  g.b_row_stride = static_cast<int64_t>(s.n);
  g.b_col_stride = 1;
  g.c = bias.data();
  g.c_col_stride = 1;
  g.y = y.data();
  for (auto _ : state) {
    f32_gemm_ref__scalar(g);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_flops(state, flops(s));
}

#if defined(__x86_64__)
// Peak: 12 independent chains of FMAs (more than latency x issue width on current cores).
// The multiplier and addend come through DoNotOptimize so nothing folds.
constexpr int kChains = 12;
constexpr int kSteps = 1024;

__attribute__((target("avx2,fma"))) void bench_peak_avx2(benchmark::State& state) {
  float x = 1.f, y = 1e-7f;
  benchmark::DoNotOptimize(x);
  benchmark::DoNotOptimize(y);
  const __m256 vx = _mm256_set1_ps(x), vy = _mm256_set1_ps(y);
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], vx, vy);
    }
    for (int i = 0; i < kChains; ++i) benchmark::DoNotOptimize(acc[i]);
  }
  set_flops(state, 2.0 * 8 * kChains * kSteps);
}

__attribute__((target("avx512f,fma"))) void bench_peak_avx512(benchmark::State& state) {
  float x = 1.f, y = 1e-7f;
  benchmark::DoNotOptimize(x);
  benchmark::DoNotOptimize(y);
  const __m512 vx = _mm512_set1_ps(x), vy = _mm512_set1_ps(y);
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], vx, vy);
    }
    for (int i = 0; i < kChains; ++i) benchmark::DoNotOptimize(acc[i]);
  }
  set_flops(state, 2.0 * 16 * kChains * kSteps);
}
#endif

void register_benchmarks() {
  const CpuFeatures& f = cpu_features();
#if defined(__x86_64__)
  if (f.avx2_fma) benchmark::RegisterBenchmark("peak_fma__avx2", bench_peak_avx2);
  if (f.avx512) benchmark::RegisterBenchmark("peak_fma__avx512", bench_peak_avx512);
#endif
  size_t count = 0;
  const F32GemmVariant* variants = f32_gemm_variants(&count);
  for (size_t i = 0; i < count; ++i) {
    const F32GemmVariant* v = &variants[i];
    const bool usable = v->isa == Isa::kScalar || (v->isa == Isa::kAvx2 && f.avx2_fma) ||
                        (v->isa == Isa::kAvx512 && f.avx512) || (v->isa == Isa::kNeon && f.neon);
    if (!usable) continue;
    for (const Shape& s : kShapes)
      benchmark::RegisterBenchmark((std::string(v->name) + "/" + shape_name(s)).c_str(),
                                   bench_variant, v, s);
    benchmark::RegisterBenchmark((std::string(v->name) + "/mobilenet_v2_pointwise").c_str(),
                                 bench_mobilenet_v2_pointwise, v);
    benchmark::RegisterBenchmark((std::string(v->name) + "/classifier_cold").c_str(), bench_classifier_cold, v);
    if (v->isa == Isa::kScalar) continue;
    for (const IndirectShape& is : kIndirectShapes) {
      const std::string shape = shape_name(is.s);
      benchmark::RegisterBenchmark((std::string(v->name) + "/" + shape).c_str(), bench_variant, v, is.s);
      benchmark::RegisterBenchmark((std::string(v->name) + "/indirect_" + std::to_string(is.runs) + "_runs/" + shape).c_str(),
                                   bench_indirect, v, is);
    }
  }
  benchmark::RegisterBenchmark("stream_read/classifier_cold", bench_stream_read);
  for (const Shape& s : kShapes)
    benchmark::RegisterBenchmark(("f32_gemm_ref__scalar/" + shape_name(s)).c_str(),
                                 bench_reference, s);
}

}  // namespace
}  // namespace pare::rt::kernels

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  pare::rt::kernels::register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
