// Int8 elementwise kernels: each variant usable here over 64 Ki elements, reporting elements
// per second.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/qeltwise/qeltwise.h"

namespace pare::rt::kernels {
namespace {

constexpr size_t kN = 64 * 1024;

std::vector<uint8_t> bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

void set_rate(benchmark::State& state) {
  state.counters["Gelem/s"] = benchmark::Counter(static_cast<double>(kN), benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}

void run_quantize(benchmark::State& state, Q8QuantizeFn fn) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-3.f, 3.f);
  std::vector<float> x(kN);
  for (float& v : x) v = dist(rng);
  std::vector<uint8_t> y(kN);
  Q8QuantizeParams p;
  p.scale = 0.025f;
  p.zero_point = 120;
  for (auto _ : state) {
    fn(kN, x.data(), p, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_rate(state);
}

void run_dequantize(benchmark::State& state, Q8DequantizeFn fn) {
  const std::vector<uint8_t> x = bytes(kN, 2);
  std::vector<float> y(kN);
  for (auto _ : state) {
    fn(kN, x.data(), false, 120, 0.025f, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_rate(state);
}

void run_binary(benchmark::State& state, Q8BinaryFn fn, size_t b_step) {
  const std::vector<uint8_t> a = bytes(kN, 3), b = bytes(kN, 4);
  std::vector<uint8_t> y(kN);
  Q8BinaryParams p;
  p.a_zero_point = 120;
  p.b_zero_point = 7;
  p.y_zero_point = 100;
  p.a_multiplier = 0.6f;
  p.b_multiplier = 0.3f;
  for (auto _ : state) {
    fn(kN, a.data(), 1, b.data(), b_step, p, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_rate(state);
}

void run_lookup(benchmark::State& state, Q8LookupFn fn) {
  const std::vector<uint8_t> x = bytes(kN, 5), table = bytes(256, 6);
  std::vector<uint8_t> y(kN);
  for (auto _ : state) {
    fn(kN, x.data(), table.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_rate(state);
}

void register_all() {
  size_t count = 0;
  const Q8EltwiseVariant* all = q8_eltwise_variants(&count);
  for (size_t i = 0; i < count; ++i) {
    const Q8EltwiseVariant& v = all[i];
    if (!isa_usable(v.isa, v.isa)) continue;
    const std::string s = std::string("__") + v.isa_name;
    benchmark::RegisterBenchmark(("q8_quantize" + s).c_str(), run_quantize, v.quantize);
    benchmark::RegisterBenchmark(("q8_dequantize" + s).c_str(), run_dequantize, v.dequantize);
    benchmark::RegisterBenchmark(("q8_add" + s).c_str(), run_binary, v.add, size_t{1});
    benchmark::RegisterBenchmark(("q8_add_bcast" + s).c_str(), run_binary, v.add, size_t{0});
    benchmark::RegisterBenchmark(("q8_mul" + s).c_str(), run_binary, v.mul, size_t{1});
    benchmark::RegisterBenchmark(("q8_lookup" + s).c_str(), run_lookup, v.lookup);
  }
}

}  // namespace
}  // namespace pare::rt::kernels

int main(int argc, char** argv) {
  pare::rt::kernels::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
