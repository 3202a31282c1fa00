// Channels-last pooling kernels, every variant usable on this CPU (the scalar reference
// included), one image, one thread: 2x2 stride-2 max pooling as in fmnist_cnn and VGG-style
// nets, 3x3 stride-2 padded max pooling (ResNet stem), 3x3 stride-1 average pooling with pads
// (Inception), and global average pooling of a MobileNet head. Counter: GB/s (input read
// once plus output written once).
//   kernel_pool_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/pool/pool.h"

namespace pare::rt::kernels {
namespace {

enum class Kind { kMax, kAvg, kGlobalAvg };

struct Layer {
  const char* name;
  Kind kind;
  int64_t size, channels, kernel, stride, pad;
};

constexpr Layer kLayers[] = {
    {"max2x2s2_28x28x32", Kind::kMax, 28, 32, 2, 2, 0},
    {"max2x2s2_14x14x64", Kind::kMax, 14, 64, 2, 2, 0},
    {"max3x3s2p1_112x112x64", Kind::kMax, 112, 64, 3, 2, 1},
    {"avg3x3s1p1_35x35x192", Kind::kAvg, 35, 192, 3, 1, 1},
    {"global_avg_7x7x576", Kind::kGlobalAvg, 7, 576, 7, 1, 0},
    {"global_avg_112x112x32", Kind::kGlobalAvg, 112, 32, 112, 1, 0},
    {"global_avg_14x14x672", Kind::kGlobalAvg, 14, 672, 14, 1, 0},
};

std::vector<float> random_floats(size_t n) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void run_layer(benchmark::State& state, const PoolNhwcVariant& v, const Layer& l) {
  PoolGeometry g;
  g.in_size[1] = g.in_size[2] = l.size;
  g.kernel[1] = g.kernel[2] = l.kernel;
  g.stride[1] = g.stride[2] = l.stride;
  g.pad_begin[1] = g.pad_begin[2] = g.pad_end[1] = g.pad_end[2] = l.pad;
  g.out_size[1] = g.out_size[2] = (l.size + 2 * l.pad - l.kernel) / l.stride + 1;
  const int64_t out_pixels = g.out_size[1] * g.out_size[2];
  const std::vector<float> x = random_floats(static_cast<size_t>(l.size * l.size * l.channels));
  std::vector<float> y(static_cast<size_t>(out_pixels * l.channels));
  for (auto _ : state) {
    switch (l.kind) {
      case Kind::kMax: v.maxpool(g, l.channels, x.data(), y.data(), 0, out_pixels); break;
      case Kind::kAvg: v.avgpool(g, l.channels, false, x.data(), y.data(), 0, out_pixels); break;
      case Kind::kGlobalAvg:
        v.global_avgpool(l.size * l.size, l.channels, x.data(), y.data(), 0, l.channels);
        break;
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>((x.size() + y.size()) * sizeof(float));
  state.counters["GB/s"] = benchmark::Counter(bytes * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

const char* kernel_name(const PoolNhwcVariant& v, Kind kind) {
  switch (kind) {
    case Kind::kMax: return v.maxpool_name;
    case Kind::kAvg: return v.avgpool_name;
    case Kind::kGlobalAvg: return v.global_avgpool_name;
  }
  return "";
}

void register_benchmarks() {
  size_t count = 0;
  const PoolNhwcVariant* variants = pool_nhwc_variants(&count);
  for (size_t i = 0; i < count; ++i) {
    const PoolNhwcVariant& v = variants[i];
    if (!isa_usable(v.isa, v.isa)) continue;
    for (const Layer& l : kLayers)
      benchmark::RegisterBenchmark((std::string(kernel_name(v, l.kind)) + "/" + l.name).c_str(),
                                   [&v, &l](benchmark::State& s) { run_layer(s, v, l); })
          ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace
}  // namespace pare::rt::kernels

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  pare::rt::kernels::register_benchmarks();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
