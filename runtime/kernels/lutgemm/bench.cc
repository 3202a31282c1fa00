// LUT GEMM benchmarks: 4-bit palettes (16 entries per output channel) against the dense
// kernels of the same data type on MobileNetV2-224's 1x1 convolutions (as [M = H*W, K = Cin]
// x W [N = Cout, K]): f32 LUT vs the packed f32 GEMM, int8 LUT vs qgemm (VNNI where the CPU
// has it). Each distinct layer alone, and the whole chain, at the network's M and at M = 4,
// 16 and 64 rows (a few pixels or tokens per call). Single thread; rates count the dense
// 2*M*N*K, so they compare directly.
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
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/lutgemm/lutgemm.h"
#include "runtime/kernels/qgemm/qgemm.h"

namespace pare::rt::kernels {
namespace {

using bench::Shape;

// A random 4-bit palette [n, k] with a table per row, and what it points to.
struct RandomPalette {
  RandomPalette(size_t n, size_t k, DType dtype) {
    std::mt19937 rng(static_cast<uint32_t>(n * 31 + k));
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> value(-0.5f, 0.5f);
    view.rows = static_cast<int64_t>(n);
    view.cols = static_cast<int64_t>(k);
    view.bits = 4;
    view.entries = 16;
    view.dtype = dtype;
    view.row_bytes = static_cast<int64_t>((k + 1) / 2);
    indices.resize(n * static_cast<size_t>(view.row_bytes));
    for (uint8_t& b : indices) b = static_cast<uint8_t>(byte(rng));
    for (size_t e = 0; e < n * 16; ++e) {
      f32.push_back(value(rng));
      s8.push_back(static_cast<int8_t>(byte(rng) - 128));
    }
    view.palette = dtype == DType::kFloat32 ? static_cast<const void*>(f32.data()) : s8.data();
    view.indices = indices.data();
  }
  std::vector<uint8_t> indices;
  std::vector<float> f32;
  std::vector<int8_t> s8;
  PaletteView view;
};

std::vector<Requant> scales(const Shape& s) {
  std::vector<Requant> rq(s.n);
  for (size_t j = 0; j < s.n; ++j)
    requant_from_scale(1.0 / (64.0 * std::sqrt(static_cast<double>(s.k)) * (1 + j % 7)), &rq[j]);
  return rq;
}

std::vector<int32_t> int_bias(const Shape& s) {
  std::vector<int32_t> bias(s.n);
  for (size_t j = 0; j < s.n; ++j) bias[j] = static_cast<int32_t>(j * 37) - 1000;
  return bias;
}

// One layer of a chain: reads M x K values from `in`, writes M x N to `out` (floats or bytes).
struct Layer {
  virtual ~Layer() = default;
  virtual void run(const void* in, void* out) = 0;
};

struct F32Dense final : Layer {
  F32Dense(const F32GemmVariant& v, const Shape& s) : gemm(v, s) {}
  void run(const void* in, void* out) override { gemm.run(static_cast<const float*>(in), static_cast<float*>(out)); }
  bench::PackedGemm gemm;
};

struct F32Lut final : Layer {
  F32Lut(const F32LutVariant& v, const Shape& s) : v(v), m(s.m) {
    const RandomPalette p(s.n, s.k, DType::kFloat32);
    w = f32_lutgemm_pack(p.view, false, bench::random_values(s.n).data(), 1.f, v.half);
    args.w = &w;
    args.x_stride = s.k;
    args.y_stride = s.n;
    args.min = 0.f;
    args.max = 6.f;
  }
  void run(const void* in, void* out) override {
    args.x = static_cast<const float*>(in);
    args.y = static_cast<float*>(out);
    f32_lutgemm(v, args, 0, m);
    benchmark::DoNotOptimize(args.y);
    benchmark::ClobberMemory();
  }
  const F32LutVariant& v;
  size_t m;
  F32LutPacked w;
  F32LutArgs args;
};

struct Q8Dense final : Layer {
  Q8Dense(const QGemmVariant& v, const Shape& s)
      : v(v), packed(static_cast<uint8_t*>(std::aligned_alloc(64, (qgemm_packed_b_bytes(v, s.n, s.k) + 63) / 64 * 64)),
                     &std::free) {
    const RandomPalette p(s.n, s.k, DType::kInt8);
    std::vector<int8_t> w(s.n * s.k);
    palette_densify(p.view, w.data());
    const std::vector<int32_t> bias = int_bias(s);
    const std::vector<Requant> rq = scales(s);
    qgemm_pack_b(v, s.n, s.k, w.data(), s.k, 1, bias.data(), 128, rq.data(), packed.get());
    args.m = s.m;
    args.n = s.n;
    args.k = s.k;
    args.a_stride = s.k;
    args.packed_b = packed.get();
    args.c_stride = s.n;
    args.hi = 200;
    tiles = qgemm_m_tiles(v, s.m) * qgemm_n_panels(v, s.n);
  }
  void run(const void* in, void* out) override {
    args.a = static_cast<const uint8_t*>(in);
    args.c = static_cast<uint8_t*>(out);
    qgemm_tiles(v, args, 0, tiles);
    benchmark::DoNotOptimize(args.c);
    benchmark::ClobberMemory();
  }
  const QGemmVariant& v;
  std::unique_ptr<uint8_t, decltype(&std::free)> packed;
  QGemmArgs args;
  size_t tiles = 0;
};

struct Q8Lut final : Layer {
  Q8Lut(const Q8LutVariant& v, const Shape& s) : v(v), m(s.m) {
    const RandomPalette p(s.n, s.k, DType::kInt8);
    const std::vector<int32_t> bias = int_bias(s);
    const std::vector<Requant> rq = scales(s);
    w = q8_lutgemm_pack(v, p.view, bias.data(), 128, rq.data());
    panel.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (q8_lutgemm_scratch_bytes(v, s.k) + 63) / 64 * 64)));
    args.w = &w;
    args.panel = panel.get();
    args.a_stride = s.k;
    args.c_stride = s.n;
    args.hi = 200;
  }
  void run(const void* in, void* out) override {
    args.a = static_cast<const uint8_t*>(in);
    args.c = static_cast<uint8_t*>(out);
    q8_lutgemm(v, args, 0, m, 0, q8_lutgemm_panels(w));
    benchmark::DoNotOptimize(args.c);
    benchmark::ClobberMemory();
  }
  const Q8LutVariant& v;
  size_t m;
  Q8LutPacked w;
  std::unique_ptr<uint8_t, decltype(&std::free)> panel{nullptr, &std::free};
  Q8LutArgs args;
};

// The layers one after the other, activations alternating between two buffers.
template <class Make>
void bench_chain(benchmark::State& state, Make make, std::vector<Shape> shapes) {
  std::vector<std::unique_ptr<Layer>> layers;
  size_t largest = 0;
  double total = 0;
  for (const Shape& s : shapes) {
    layers.push_back(make(s));
    largest = std::max({largest, s.m * s.k, s.m * s.n});
    total += bench::flops(s);
  }
  // Floats in [-1, 1] read as bytes are fine activations too.
  std::vector<float> ping = bench::random_values(largest), pong(largest);
  for (auto _ : state)
    for (size_t i = 0; i < layers.size(); ++i)
      layers[i]->run(i % 2 ? pong.data() : ping.data(), i % 2 ? ping.data() : pong.data());
  bench::set_rate(state, total);
}

std::vector<Shape> with_rows(std::vector<Shape> shapes, size_t m) {
  for (Shape& s : shapes) s.m = m;
  return shapes;
}

template <class Make>
void register_family(const std::string& name, Make make, const std::vector<Shape>& chain,
                     const std::vector<Shape>& distinct) {
  for (size_t m : {size_t{0}, size_t{4}, size_t{16}, size_t{64}}) {
    const std::string rows = m ? "_m" + std::to_string(m) : "";
    benchmark::RegisterBenchmark((name + "/mobilenet_v2_pointwise" + rows).c_str(),
                                 [=](benchmark::State& st) { bench_chain(st, make, m ? with_rows(chain, m) : chain); });
    for (const Shape& s : m ? with_rows(distinct, m) : distinct)
      benchmark::RegisterBenchmark((name + "/" + bench::shape_name(s)).c_str(),
                                   [=](benchmark::State& st) { bench_chain(st, make, std::vector<Shape>{s}); });
  }
}

void register_benchmarks() {
  const std::vector<Shape> chain(std::begin(bench::kMobileNetV2Pointwise), std::end(bench::kMobileNetV2Pointwise));
  std::vector<Shape> distinct;
  for (const Shape& s : chain)
    if (std::none_of(distinct.begin(), distinct.end(),
                     [&](const Shape& d) { return d.m == s.m && d.k == s.k && d.n == s.n; }))
      distinct.push_back(s);
  // The fastest variant of each kind on each ISA this CPU runs (the portable ones are left out).
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512Vnni, Isa::kNeon, Isa::kNeonDot}) {
    if (!isa_usable(isa, isa)) continue;
    const F32GemmVariant& fd = select_f32_gemm(isa);
    const F32LutVariant& fl = select_f32_lutgemm(isa);
    const QGemmVariant& qd = select_qgemm(isa);
    const Q8LutVariant& ql = select_q8_lutgemm(isa);
    register_family(fd.name, [&fd](const Shape& s) -> std::unique_ptr<Layer> { return std::make_unique<F32Dense>(fd, s); },
                    chain, distinct);
    register_family(fl.name, [&fl](const Shape& s) -> std::unique_ptr<Layer> { return std::make_unique<F32Lut>(fl, s); },
                    chain, distinct);
    register_family(qd.name, [&qd](const Shape& s) -> std::unique_ptr<Layer> { return std::make_unique<Q8Dense>(qd, s); },
                    chain, distinct);
    register_family(ql.name, [&ql](const Shape& s) -> std::unique_ptr<Layer> { return std::make_unique<Q8Lut>(ql, s); },
                    chain, distinct);
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
