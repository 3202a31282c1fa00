// Int8 depthwise convolution kernels on the depthwise layers of MobileNetV2-224 (3x3, pad 1,
// Relu6-narrowed clamp) and two 5x5 layers, every variant usable on this CPU that takes the
// layer, one image, one thread. Counters: GOP/s (multiply-adds over the whole window, pads
// included, times 2) and GB/s (input read once plus output written once, one byte each).
// Compare with kernel_dwconv_bench on the same shapes (names match).
//   kernel_qdwconv_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/qdwconv/qdwconv.h"

namespace pare::rt::kernels {
namespace {

struct Layer {
  const char* model;
  int64_t size, channels, kernel, stride;
};

constexpr Layer kLayers[] = {
    {"mobilenet_v2", 112, 32, 3, 1},  {"mobilenet_v2", 112, 96, 3, 2},
    {"mobilenet_v2", 56, 144, 3, 1},  {"mobilenet_v2", 56, 144, 3, 2},
    {"mobilenet_v2", 28, 192, 3, 1},  {"mobilenet_v2", 28, 192, 3, 2},
    {"mobilenet_v2", 14, 384, 3, 1},  {"mobilenet_v2", 14, 576, 3, 1},
    {"mobilenet_v2", 14, 576, 3, 2},  {"mobilenet_v2", 7, 960, 3, 1},
    {"mobilenet_v3", 14, 240, 5, 1},  {"mobilenet_v3", 28, 96, 5, 2},
};

struct Aligned {
  void* data;
  explicit Aligned(size_t n) : data(std::aligned_alloc(64, (n + 63) / 64 * 64)) {}
  ~Aligned() { std::free(data); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
};

QDwConvParams layer_params(const Layer& layer) {
  QDwConvParams p;
  p.channels = layer.channels;
  p.in_h = p.in_w = layer.size;
  p.kernel_h = p.kernel_w = layer.kernel;
  p.stride_h = p.stride_w = layer.stride;
  p.pad_top = p.pad_left = layer.kernel / 2;
  p.out_h = p.out_w = (layer.size + 2 * p.pad_top - layer.kernel) / layer.stride + 1;
  p.in_pixel_stride = p.out_pixel_stride = layer.channels;
  p.x_zero_point = 3;
  p.y_zero_point = 0;
  p.lo = 0;
  p.hi = 180;  // Relu6 at scale 6 / 180
  return p;
}

void run_layer(benchmark::State& state, const Layer& layer, const QDwConvVariant& variant) {
  const QDwConvParams p = layer_params(layer);
  const size_t in_bytes = static_cast<size_t>(p.in_h * p.in_w * p.channels);
  const size_t out_bytes = static_cast<size_t>(p.out_h * p.out_w * p.channels);
  const size_t taps = static_cast<size_t>(p.kernel_h * p.kernel_w);
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<int8_t> weight(static_cast<size_t>(p.channels) * taps);
  for (int8_t& w : weight) w = static_cast<int8_t>(byte(rng) - 128);
  std::vector<int32_t> bias(static_cast<size_t>(p.channels));
  for (int32_t& b : bias) b = byte(rng) * 100 - 12800;
  std::vector<Requant> rq(static_cast<size_t>(p.channels));
  for (Requant& r : rq) requant_from_scale(1e-3 * (1 + byte(rng) / 64.0), &r);
  Aligned packed(qdwconv_packed_bytes(variant, p.channels, p.kernel_h, p.kernel_w));
  qdwconv_pack(variant, p, weight.data(), bias.data(), rq.data(), packed.data);
  Aligned input(in_bytes), output(out_bytes);
  auto* in = static_cast<uint8_t*>(input.data);
  for (size_t i = 0; i < in_bytes; ++i) in[i] = static_cast<uint8_t>(byte(rng));
  for (auto _ : state) {
    variant.fn(p, in, packed.data, static_cast<uint8_t*>(output.data), 0, p.out_h);
    benchmark::DoNotOptimize(output.data);
    benchmark::ClobberMemory();
  }
  state.counters["GOP/s"] = benchmark::Counter(2e-9 * static_cast<double>(out_bytes * taps),
                                               benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(1e-9 * static_cast<double>(in_bytes + out_bytes),
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void register_benchmarks() {
  size_t count = 0;
  const QDwConvVariant* variants = qdwconv_variants(&count);
  for (const Layer& layer : kLayers) {
    const QDwConvParams p = layer_params(layer);
    const std::string shape = std::string(layer.model) + "/" + std::to_string(layer.size) + "x" +
                              std::to_string(layer.size) + "x" + std::to_string(layer.channels) +
                              "_k" + std::to_string(layer.kernel) + "s" +
                              std::to_string(layer.stride);
    for (size_t i = 0; i < count; ++i) {
      const QDwConvVariant& v = variants[i];
      if (!isa_usable(v.isa, v.isa) || !qdwconv_variant_accepts(v, p)) continue;
      benchmark::RegisterBenchmark((shape + "/" + v.name).c_str(),
                                   [&layer, &v](benchmark::State& state) { run_layer(state, layer, v); })
          ->Unit(benchmark::kMicrosecond);
    }
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
