// Int8 GEMM benchmarks: each usable variant on MobileNetV2-224's 1x1 convolutions (as
// [M = H*W, K = Cin] x [K, N = Cout], the same shapes as the f32 GEMM bench) and on 512^3,
// in GOP/s (2*M*N*K per run, multiply and add counted as in GFLOP/s), single thread.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/qgemm/qgemm.h"

namespace pare::rt::kernels {
namespace {

struct Shape {
  size_t m, k, n;
};

constexpr Shape kShapes[] = {
    {12544, 27, 32}, {12544, 32, 16}, {12544, 16, 96}, {3136, 96, 24},  {3136, 24, 144}, {3136, 144, 24},
    {784, 144, 32},  {784, 32, 192},  {784, 192, 32},  {196, 192, 64},  {196, 64, 384},
    {196, 384, 64},  {196, 384, 96},  {196, 96, 576},  {196, 576, 96},  {49, 576, 160},
    {49, 160, 960},  {49, 960, 160},  {49, 960, 320},  {49, 320, 1280}, {1, 1280, 1000},
    {512, 512, 512},
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

std::vector<uint8_t> random_bytes(size_t n) {
  std::mt19937 gen(7);
  std::uniform_int_distribution<int> dist(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(dist(gen));
  return v;
}

double ops(const Shape& s) { return 2.0 * static_cast<double>(s.m * s.n * s.k); }

void set_ops(benchmark::State& state, double ops_per_run) {
  state.counters["GOPS"] = benchmark::Counter(1e-9 * ops_per_run * static_cast<double>(state.iterations()),
                                              benchmark::Counter::kIsRate);
}

// Packed weights, bias and per-column scales of one product, with a Relu6-like clamp.
class PackedQGemm {
 public:
  PackedQGemm(const QGemmVariant& v, const Shape& s)
      : v_(v),
        packed_(static_cast<uint8_t*>(std::aligned_alloc(64, (qgemm_packed_b_bytes(v, s.n, s.k) + 63) / 64 * 64)),
                &std::free) {
    const std::vector<uint8_t> wb = random_bytes(s.k * s.n);
    std::vector<int8_t> w(wb.begin(), wb.end());
    std::vector<int32_t> bias(s.n);
    std::vector<Requant> rq(s.n);
    for (size_t j = 0; j < s.n; ++j) {
      bias[j] = static_cast<int32_t>(j * 37) - 1000;
      requant_from_scale(1.0 / (64.0 * std::sqrt(static_cast<double>(s.k)) * (1 + j % 7)), &rq[j]);
    }
    qgemm_pack_b(v, s.n, s.k, w.data(), 1, s.n, bias.data(), 128, rq.data(), packed_.get());
    args_.m = s.m;
    args_.n = s.n;
    args_.k = s.k;
    args_.a_stride = s.k;
    args_.packed_b = packed_.get();
    args_.c_stride = s.n;
    args_.c_zero_point = 0;
    args_.lo = 0;
    args_.hi = 200;
    tiles_ = qgemm_m_tiles(v, s.m) * qgemm_n_panels(v, s.n);
  }

  void run(const uint8_t* a, uint8_t* c) {
    args_.a = a;
    args_.c = c;
    qgemm_tiles(v_, args_, 0, tiles_);
    benchmark::DoNotOptimize(c);
    benchmark::ClobberMemory();
  }

 private:
  const QGemmVariant& v_;
  std::unique_ptr<uint8_t, decltype(&std::free)> packed_;
  QGemmArgs args_;
  size_t tiles_ = 0;
};

void bench_variant(benchmark::State& state, const QGemmVariant* v, Shape s) {
  PackedQGemm gemm(*v, s);
  const std::vector<uint8_t> a = random_bytes(s.m * s.k);
  std::vector<uint8_t> c(s.m * s.n);
  for (auto _ : state) gemm.run(a.data(), c.data());
  set_ops(state, ops(s));
}

// All of MobileNetV2's 1x1 convolutions one after the other, activations alternating
// between two buffers.
void bench_mobilenet_v2_pointwise(benchmark::State& state, const QGemmVariant* v) {
  std::vector<std::unique_ptr<PackedQGemm>> layers;
  size_t largest = 0;
  double total = 0;
  for (const Shape& s : kMobileNetV2Pointwise) {
    layers.push_back(std::make_unique<PackedQGemm>(*v, s));
    largest = std::max({largest, s.m * s.k, s.m * s.n});
    total += ops(s);
  }
  std::vector<uint8_t> ping = random_bytes(largest), pong(largest);
  for (auto _ : state)
    for (size_t i = 0; i < layers.size(); ++i)
      layers[i]->run(i % 2 ? pong.data() : ping.data(), i % 2 ? ping.data() : pong.data());
  set_ops(state, total);
}

std::string shape_name(const Shape& s) {
  return "M" + std::to_string(s.m) + "_K" + std::to_string(s.k) + "_N" + std::to_string(s.n);
}

void register_benchmarks() {
  size_t count = 0;
  const QGemmVariant* variants = qgemm_variants(&count);
  for (size_t i = 0; i < count; ++i) {
    const QGemmVariant* v = &variants[i];
    if (!isa_usable(v->isa, v->isa)) continue;
    for (const Shape& s : kShapes)
      benchmark::RegisterBenchmark((std::string(v->name) + "/" + shape_name(s)).c_str(), bench_variant, v, s);
    benchmark::RegisterBenchmark((std::string(v->name) + "/mobilenet_v2_pointwise").c_str(),
                                 bench_mobilenet_v2_pointwise, v);
  }
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
