// Depthwise convolution kernels on the depthwise layers of MobileNetV2-224 (3x3, pad 1,
// ReLU6), MobileNetV3-Small-224 (5x5, pad 2, HardSwish) and ConvNeXt-T (7x7, pad 3), plus a
// 7x7 stride-2 layer; every variant usable on this CPU that takes the layer, one image, one
// thread. Counters: GFLOP/s (2 per multiply-add over the whole window, pads included) and
// GB/s (input read once plus output written once).
//   kernel_dwconv_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/dwconv/dwconv.h"

namespace pare::rt::kernels {
namespace {

struct Layer {
  const char* model;
  int64_t size, channels, kernel, stride;
  ActivationKind activation;
};

constexpr Layer kLayers[] = {
    {"mobilenet_v2", 112, 32, 3, 1, ActivationKind::kClip},
    {"mobilenet_v2", 112, 96, 3, 2, ActivationKind::kClip},
    {"mobilenet_v2", 56, 144, 3, 1, ActivationKind::kClip},
    {"mobilenet_v2", 56, 144, 3, 2, ActivationKind::kClip},
    {"mobilenet_v2", 28, 192, 3, 1, ActivationKind::kClip},
    {"mobilenet_v2", 28, 192, 3, 2, ActivationKind::kClip},
    {"mobilenet_v2", 14, 384, 3, 1, ActivationKind::kClip},
    {"mobilenet_v2", 14, 576, 3, 1, ActivationKind::kClip},
    {"mobilenet_v2", 14, 576, 3, 2, ActivationKind::kClip},
    {"mobilenet_v2", 7, 960, 3, 1, ActivationKind::kClip},
    {"mobilenet_v3", 28, 96, 5, 2, ActivationKind::kHardSwish},
    {"mobilenet_v3", 14, 240, 5, 1, ActivationKind::kHardSwish},
    {"mobilenet_v3", 14, 288, 5, 2, ActivationKind::kHardSwish},
    {"mobilenet_v3", 7, 576, 5, 1, ActivationKind::kHardSwish},
    {"convnext", 56, 96, 7, 1, ActivationKind::kNone},
    {"convnext", 14, 384, 7, 1, ActivationKind::kNone},
    {"stride2", 28, 192, 7, 2, ActivationKind::kRelu},
};

// 64-byte aligned, as the runtime's arena and packed weights are.
struct AlignedFloats {
  float* data;
  explicit AlignedFloats(size_t n)
      : data(static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64))) {}
  ~AlignedFloats() { std::free(data); }
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
};

void fill_random(float* data, size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (size_t i = 0; i < n; ++i) data[i] = dist(rng);
}

DwConvParams layer_params(const Layer& layer) {
  DwConvParams p;
  p.channels = layer.channels;
  p.in_h = p.in_w = layer.size;
  p.kernel_h = p.kernel_w = layer.kernel;
  p.stride_h = p.stride_w = layer.stride;
  p.pad_top = p.pad_left = layer.kernel / 2;
  p.out_h = dwconv_output_size(layer.size, layer.kernel, layer.stride, 1, p.pad_top, p.pad_top);
  p.out_w = p.out_h;
  p.in_pixel_stride = p.out_pixel_stride = layer.channels;
  p.activation.kind = layer.activation;
  if (layer.activation == ActivationKind::kClip) p.activation.p1 = 6.f;
  return p;
}

void run_layer(benchmark::State& state, const Layer& layer, const DwConvVariant& variant) {
  const DwConvParams p = layer_params(layer);
  const size_t in_floats = static_cast<size_t>(p.in_h * p.in_w * p.channels);
  const size_t out_floats = static_cast<size_t>(p.out_h * p.out_w * p.channels);
  const size_t taps = static_cast<size_t>(p.kernel_h * p.kernel_w);
  std::vector<float> weight(static_cast<size_t>(p.channels) * taps), bias(p.channels);
  fill_random(weight.data(), weight.size(), 1);
  fill_random(bias.data(), bias.size(), 2);
  AlignedFloats packed(
      dwconv_packed_floats(p.channels, p.kernel_h, p.kernel_w, variant.channel_block));
  dwconv_pack(p.channels, p.kernel_h, p.kernel_w, variant.channel_block, weight.data(), bias.data(),
              packed.data);
  AlignedFloats input(in_floats), output(out_floats);
  fill_random(input.data, in_floats, 3);
  for (auto _ : state) {
    variant.fn(p, input.data, packed.data, output.data, 0, p.out_h);
    benchmark::DoNotOptimize(output.data);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * static_cast<double>(out_floats * taps),
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] =
      benchmark::Counter(1e-9 * static_cast<double>((in_floats + out_floats) * sizeof(float)),
                         benchmark::Counter::kIsIterationInvariantRate);
}

void register_benchmarks() {
  size_t count = 0;
  const DwConvVariant* variants = dwconv_variants(&count);
  for (const Layer& layer : kLayers) {
    const DwConvParams p = layer_params(layer);
    const std::string shape = std::string(layer.model) + "/" + std::to_string(layer.size) + "x" +
                              std::to_string(layer.size) + "x" + std::to_string(layer.channels) +
                              "_k" + std::to_string(layer.kernel) + "s" +
                              std::to_string(layer.stride);
    for (size_t i = 0; i < count; ++i) {
      const DwConvVariant& v = variants[i];
      if (!isa_usable(v.isa, v.isa) || !dwconv_variant_accepts(v, p)) continue;
      benchmark::RegisterBenchmark((shape + "/" + v.name).c_str(), [&layer,
                                                                    &v](benchmark::State& state) {
        run_layer(state, layer, v);
      })->Unit(benchmark::kMicrosecond);
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
