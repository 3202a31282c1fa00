// Int8 GEMM benchmarks: each usable variant on MobileNetV2-224's 1x1 convolutions (as
// [M = H*W, K = Cin] x [K, N = Cout], the same shapes as the f32 GEMM bench) and on 512^3,
// in GOP/s (2*M*N*K per run, multiply and add counted as in GFLOP/s), single thread; and
// the core's peak int8 rate with vpmaddwd + vpaddd (AVX2), vpdpbusd (AVX-512 VNNI) and
// tdpbusd (AMX).
#include <benchmark/benchmark.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

#if defined(__x86_64__)
// 12 independent vpdpbusd chains (more than latency x issue width); operands through
// DoNotOptimize so nothing folds.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void bench_peak_vnni(benchmark::State& state) {
  constexpr int kChains = 12, kSteps = 1024;
  int32_t x = 0x01010101, y = 0x02020202;
  benchmark::DoNotOptimize(x);
  benchmark::DoNotOptimize(y);
  const __m512i vx = _mm512_set1_epi32(x), vy = _mm512_set1_epi32(y);
  __m512i acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_epi32(i);
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], vx, vy);
    }
    for (int i = 0; i < kChains; ++i) benchmark::DoNotOptimize(acc[i]);
  }
  set_ops(state, 2.0 * 64 * kChains * kSteps);
}

// The AVX2 kernels' exact int8 step without VNNI: vpmaddwd on int16 pairs and a vpaddd, 12
// independent chains, each step's vpmaddwd reading the chain (so that none is hoisted out
// of the loop); 16 products (32 ops) per pair.
__attribute__((target("avx2"))) void bench_peak_vpmaddwd(benchmark::State& state) {
  constexpr int kChains = 12, kSteps = 1024;
  int32_t x = 0x00010002, y = 0x00030004;
  benchmark::DoNotOptimize(x);
  benchmark::DoNotOptimize(y);
  const __m256i vx = _mm256_set1_epi32(x), vy = _mm256_set1_epi32(y);
  __m256i acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_epi32(i);
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) acc[i] = _mm256_add_epi32(_mm256_madd_epi16(acc[i], vy), vx);
    }
    for (int i = 0; i < kChains; ++i) benchmark::DoNotOptimize(acc[i]);
  }
  set_ops(state, 2.0 * 16 * kChains * kSteps);
}

// Four 16 x 16 int32 accumulator tiles, each step 16 x 16 x 64 products per tile, on A and
// B tiles loaded once (the unit's rate, not the loads').
__attribute__((target("amx-tile,amx-int8"))) void bench_peak_amx(benchmark::State& state) {
  constexpr int kSteps = 1024;
  struct alignas(64) {
    uint8_t palette = 1, start_row = 0, reserved[14] = {};
    uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
    uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
  } config;
  alignas(64) uint8_t a[16 * 64], b[16 * 64];
  alignas(64) int32_t c[16 * 16];
  for (size_t i = 0; i < sizeof a; ++i) a[i] = b[i] = static_cast<uint8_t>(i);
  _tile_loadconfig(&config);
  _tile_loadd(4, a, 64);
  _tile_loadd(5, a, 64);
  _tile_loadd(6, b, 64);
  _tile_loadd(7, b, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (auto _ : state) {
    for (int s = 0; s < kSteps; ++s) {
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(1, 4, 7);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
  }
  _tile_stored(0, c, 64);
  benchmark::DoNotOptimize(c);
  _tile_release();
  set_ops(state, 2.0 * 4 * 16 * 16 * 64 * kSteps);
}
#endif

void register_benchmarks() {
#if defined(__x86_64__)
  if (isa_usable(Isa::kAvx2, Isa::kAvx2)) benchmark::RegisterBenchmark("peak_vpmaddwd__avx2", bench_peak_vpmaddwd);
  if (isa_usable(Isa::kAvx512Vnni, Isa::kAvx512Vnni)) benchmark::RegisterBenchmark("peak_vpdpbusd__avx512vnni", bench_peak_vnni);
  if (isa_usable(Isa::kAmx, Isa::kAmx)) benchmark::RegisterBenchmark("peak_tdpbusd__amx", bench_peak_amx);
#endif
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
