// Float32 row softmax: the reference and each vector kernel usable here over 64 rows of
// 65 (ViT attention rows) and 16 rows of 1000 (classifier rows).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/softmax/softmax.h"

namespace pare::rt::kernels {
namespace {

void f32_softmax_rows_ref(int64_t cols, const float* x, float* y, int64_t row_begin,
                          int64_t row_end) {
  f32_softmax_ref__scalar(cols, 1, x, y, row_begin, row_end);
}

void run(benchmark::State& state, F32SoftmaxRowsFn fn, int64_t rows, int64_t cols) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-6.f, 6.f);
  std::vector<float> x(static_cast<size_t>(rows * cols)), y(x.size());
  for (float& e : x) e = dist(rng);
  for (auto _ : state) {
    fn(cols, x.data(), y.data(), 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["elements/s"] = benchmark::Counter(static_cast<double>(rows * cols),
                                                    benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  struct Shape {
    int64_t rows, cols;
  };
  const Shape shapes[] = {{64, 65}, {16, 1000}};
  for (const Shape& s : shapes) {
    const std::string dims = "/" + std::to_string(s.rows) + "x" + std::to_string(s.cols);
    benchmark::RegisterBenchmark(("f32_softmax_ref__scalar" + dims).c_str(), run,
                                 f32_softmax_rows_ref, s.rows, s.cols);
    size_t count = 0;
    const F32SoftmaxRowsVariant* all = f32_softmax_rows_variants(&count);
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
