// Float32 LayerNormalization: the reference and each vector kernel usable here over 65 rows
// of 64 (ViT tokens) and 16 rows of 1000.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/normalization/normalization.h"

namespace pare::rt::kernels {
namespace {

void run(benchmark::State& state, F32LayerNormFn fn, int64_t rows, int64_t cols) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-2.f, 2.f);
  std::vector<float> x(static_cast<size_t>(rows * cols)), y(x.size());
  std::vector<float> scale(static_cast<size_t>(cols)), bias(scale.size());
  for (float& e : x) e = dist(rng);
  for (float& e : scale) e = dist(rng);
  for (float& e : bias) e = dist(rng);
  for (auto _ : state) {
    fn(cols, x.data(), scale.data(), bias.data(), 1e-5f, y.data(), nullptr, nullptr, 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["elements/s"] = benchmark::Counter(static_cast<double>(rows * cols),
                                                    benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  struct Shape {
    int64_t rows, cols;
  };
  const Shape shapes[] = {{65, 64}, {16, 1000}};
  for (const Shape& s : shapes) {
    const std::string dims = "/" + std::to_string(s.rows) + "x" + std::to_string(s.cols);
    benchmark::RegisterBenchmark(("f32_layernorm_ref__scalar" + dims).c_str(), run,
                                 f32_layernorm_ref__scalar, s.rows, s.cols);
    size_t count = 0;
    const F32LayerNormVariant* all = f32_layernorm_variants(&count);
    for (size_t i = 0; i < count; ++i)
      if (isa_usable(all[i].isa, all[i].isa))
        benchmark::RegisterBenchmark((all[i].name + dims).c_str(), run, all[i].fn, s.rows, s.cols);
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
