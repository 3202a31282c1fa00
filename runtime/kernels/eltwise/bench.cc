// Float32 elementwise kernels: each set usable here over 64 Ki elements (256 KiB per
// operand, in L2), reporting bytes moved per second.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/eltwise/eltwise.h"

namespace pare::rt::kernels {
namespace {

constexpr size_t kN = 64 * 1024;

std::vector<float> inputs(size_t n) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-6.f, 6.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void run_binary(benchmark::State& state, F32BinaryFn fn, size_t b_step) {
  const std::vector<float> a = inputs(kN), b = inputs(kN);
  std::vector<float> y(kN);
  for (auto _ : state) {
    fn(kN, a.data(), 1, b.data(), b_step, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  const size_t bytes_per_run = kN * sizeof(float) * (b_step != 0 ? 3 : 2);
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes_per_run),
                                              benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}

void run_unary(benchmark::State& state, F32UnaryFn fn) {
  const std::vector<float> x = inputs(kN);
  std::vector<float> y(kN);
  for (auto _ : state) {
    fn(kN, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(kN * sizeof(float) * 2),
                                              benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}

void register_all() {
  size_t count = 0;
  const F32EltwiseVariant* all = f32_eltwise_variants(&count);
  for (size_t i = 0; i < count; ++i) {
    const F32EltwiseVariant& v = all[i];
    if (!isa_usable(v.isa, v.isa)) continue;
    const std::string s = std::string("_") + v.suffix;
    benchmark::RegisterBenchmark(("f32_add" + s).c_str(), run_binary, v.add, size_t{1});
    benchmark::RegisterBenchmark(("f32_mul_scalar" + s).c_str(), run_binary, v.mul, size_t{0});
    benchmark::RegisterBenchmark(("f32_div" + s).c_str(), run_binary, v.div, size_t{1});
    benchmark::RegisterBenchmark(("f32_relu" + s).c_str(), run_unary, v.relu);
    benchmark::RegisterBenchmark(("f32_hard_swish" + s).c_str(), run_unary, v.hard_swish);
    benchmark::RegisterBenchmark(("f32_sigmoid" + s).c_str(), run_unary, v.sigmoid);
    benchmark::RegisterBenchmark(("f32_silu" + s).c_str(), run_unary, v.silu);
    benchmark::RegisterBenchmark(("f32_tanh" + s).c_str(), run_unary, v.tanh);
    benchmark::RegisterBenchmark(("f32_erf" + s).c_str(), run_unary, v.erf);
    benchmark::RegisterBenchmark(("f32_gelu" + s).c_str(), run_unary, v.gelu);
  }
}

}  // namespace
}  // namespace pare::rt::kernels

int main(int argc, char** argv) {
  pare::rt::kernels::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
