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
#include "runtime/kernels/gemm/bench_util.h"
#include "runtime/kernels/qgemm/qgemm.h"

namespace pare::rt::kernels {
namespace {

using bench::kMobileNetV2Pointwise;
using bench::kShapes;
using bench::Shape;
using bench::shape_name;

std::vector<uint8_t> random_bytes(size_t n) {
  std::mt19937 gen(7);
  std::uniform_int_distribution<int> dist(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(dist(gen));
  return v;
}

double ops(const Shape& s) { return bench::flops(s); }

void set_ops(benchmark::State& state, double ops_per_run) { bench::set_rate(state, ops_per_run, "GOPS"); }

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
