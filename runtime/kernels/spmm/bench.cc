// f32 sparse x dense benchmarks: MobileNetV2-224's 1x1 convolutions (as [M = H*W, K = Cin] x
// W [N = Cout, K]) with the weights pruned to 50-95% (unstructured, blocks of 4 output
// channels, 2:4), each layer alone and the whole chain of them, for every usable variant;
// the chain as the runtime runs it (each layer sparse where f32_spmm_pays, else dense); and
// the dense packed GEMM of the same ISA on the same chain and layers, to read the speed-up
// and the crossover from. Single thread; GFLOP/s count the dense 2*M*N*K, so rates compare directly.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/gemm/bench_util.h"
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/spmm/random_sparse.h"
#include "runtime/kernels/spmm/spmm.h"

namespace pare::rt::kernels {
namespace {

using bench::kMobileNetV2Pointwise;
using bench::Shape;
using spmm_testing::Pattern;

constexpr int kSparsities[] = {50, 60, 70, 80, 90, 95};  // percent

// One pruned layer, packed for a variant, with ReLU6 as the clamp.
class SparseLayer {
 public:
  SparseLayer(const F32SpmmVariant& v, const Shape& s, Pattern pattern, double sparsity)
      : v_(v),
        matrix_(spmm_testing::make_sparse(pattern, static_cast<int64_t>(s.n), static_cast<int64_t>(s.k),
                                          sparsity, static_cast<uint32_t>(s.k * 31 + s.n))),
        packed_(f32_spmm_pack(matrix_.view, false, bench::random_values(s.n).data(), 1.f, v.tile_pixels)) {
    args_.m = s.m;
    args_.w = &packed_;
    args_.x_stride = s.k;
    args_.y_stride = s.n;
    args_.min = 0.f;
    args_.max = 6.f;
  }

  size_t scratch_bytes() const { return f32_spmm_scratch_bytes(v_, packed_.n, packed_.k); }

  void run(const float* x, float* y, float* scratch) {
    args_.x = x;
    args_.y = y;
    f32_spmm(v_, args_, 0, f32_spmm_tiles(v_, args_.m), scratch);
    benchmark::DoNotOptimize(y);
    benchmark::ClobberMemory();
  }

 private:
  const F32SpmmVariant& v_;
  spmm_testing::SparseMatrix matrix_;
  F32SpmmPacked packed_;
  F32SpmmArgs args_;
};

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

// Layers one after the other, activations alternating between two buffers as a planned
// arena reuses memory (ReLU6 keeps the values bounded), as in the GEMM bench's chain.
template <class Layer>
void run_chain(benchmark::State& state, std::vector<std::unique_ptr<Layer>>& layers,
               const std::vector<Shape>& shapes, float* scratch) {
  size_t largest = 0;
  double total = 0;
  for (const Shape& s : shapes) {
    largest = std::max({largest, s.m * s.k, s.m * s.n});
    total += bench::flops(s);
  }
  std::vector<float> ping = bench::random_values(largest), pong(largest);
  for (auto _ : state)
    for (size_t i = 0; i < layers.size(); ++i)
      layers[i]->run(i % 2 ? pong.data() : ping.data(), i % 2 ? ping.data() : pong.data(), scratch);
  bench::set_rate(state, total);
}

void bench_sparse(benchmark::State& state, const F32SpmmVariant* v, std::vector<Shape> shapes,
                  Pattern pattern, double sparsity) {
  std::vector<std::unique_ptr<SparseLayer>> layers;
  size_t scratch_bytes = 64;
  for (const Shape& s : shapes) {
    layers.push_back(std::make_unique<SparseLayer>(*v, s, pattern, sparsity));
    scratch_bytes = std::max(scratch_bytes, layers.back()->scratch_bytes());
  }
  std::unique_ptr<float, FreeDeleter> scratch(
      static_cast<float*>(std::aligned_alloc(64, (scratch_bytes + 63) / 64 * 64)));
  run_chain(state, layers, shapes, scratch.get());
}

// The dense packed GEMM through the same chain driver.
struct DenseLayer {
  explicit DenseLayer(const F32GemmVariant& v, const Shape& s) : gemm(v, s) {}
  void run(const float* a, float* c, float*) { gemm.run(a, c); }
  bench::PackedGemm gemm;
};

void bench_dense(benchmark::State& state, const F32GemmVariant* v, std::vector<Shape> shapes) {
  std::vector<std::unique_ptr<DenseLayer>> layers;
  for (const Shape& s : shapes) layers.push_back(std::make_unique<DenseLayer>(*v, s));
  run_chain(state, layers, shapes, nullptr);
}

// The chain as the runtime runs it: each layer sparse where f32_spmm_pays, dense otherwise.
struct ChosenLayer {
  ChosenLayer(const F32SpmmVariant& sparse_v, const F32GemmVariant& dense_v, const Shape& s, double sparsity) {
    if (f32_spmm_pays(sparse_v.isa, sparsity, s.n, s.k))
      sparse = std::make_unique<SparseLayer>(sparse_v, s, Pattern::kRows1, sparsity);
    else
      dense = std::make_unique<DenseLayer>(dense_v, s);
  }
  void run(const float* x, float* y, float* scratch) {
    if (sparse)
      sparse->run(x, y, scratch);
    else
      dense->run(x, y, scratch);
  }
  std::unique_ptr<SparseLayer> sparse;
  std::unique_ptr<DenseLayer> dense;
};

void bench_chosen(benchmark::State& state, const F32SpmmVariant* v, std::vector<Shape> shapes, double sparsity) {
  const F32GemmVariant& dense_v = select_f32_gemm(v->isa);
  std::vector<std::unique_ptr<ChosenLayer>> layers;
  size_t scratch_bytes = 64;
  for (const Shape& s : shapes) {
    layers.push_back(std::make_unique<ChosenLayer>(*v, dense_v, s, sparsity));
    if (layers.back()->sparse) scratch_bytes = std::max(scratch_bytes, layers.back()->sparse->scratch_bytes());
  }
  std::unique_ptr<float, FreeDeleter> scratch(
      static_cast<float*>(std::aligned_alloc(64, (scratch_bytes + 63) / 64 * 64)));
  run_chain(state, layers, shapes, scratch.get());
}

bool usable(Isa isa) {
  const CpuFeatures& f = cpu_features();
  return isa == Isa::kScalar || (isa == Isa::kAvx2 && f.avx2_fma) || (isa == Isa::kAvx512 && f.avx512) ||
         (isa == Isa::kNeon && f.neon);
}

void register_benchmarks() {
  const std::vector<Shape> chain(std::begin(kMobileNetV2Pointwise), std::end(kMobileNetV2Pointwise));
  std::vector<Shape> distinct;
  for (const Shape& s : chain)
    if (std::none_of(distinct.begin(), distinct.end(),
                     [&](const Shape& d) { return d.m == s.m && d.k == s.k && d.n == s.n; }))
      distinct.push_back(s);
  size_t count = 0;
  const F32GemmVariant* dense = f32_gemm_variants(&count);
  for (size_t i = 0; i < count; ++i)
    if (usable(dense[i].isa)) {
      const std::string name = dense[i].name;
      benchmark::RegisterBenchmark((name + "/mobilenet_v2_pointwise").c_str(), bench_dense, &dense[i], chain);
      for (const Shape& s : distinct)
        benchmark::RegisterBenchmark((name + "/" + bench::shape_name(s)).c_str(), bench_dense, &dense[i],
                                     std::vector<Shape>{s});
    }
  const F32SpmmVariant* sparse = f32_spmm_variants(&count);
  for (size_t i = 0; i < count; ++i) {
    const F32SpmmVariant* v = &sparse[i];
    if (!usable(v->isa)) continue;
    const std::string name = v->name;
    for (int pct : kSparsities) {
      const std::string tag = "/s" + std::to_string(pct);
      benchmark::RegisterBenchmark((name + "/mobilenet_v2_pointwise" + tag).c_str(), bench_sparse, v, chain,
                                   Pattern::kRows1, pct / 100.0);
      benchmark::RegisterBenchmark((name + "/mobilenet_v2_pointwise_block4" + tag).c_str(), bench_sparse, v,
                                   chain, Pattern::kRows4, pct / 100.0);
      benchmark::RegisterBenchmark((name + "/mobilenet_v2_pointwise_chosen" + tag).c_str(), bench_chosen, v, chain,
                                   pct / 100.0);
      for (const Shape& s : distinct)
        benchmark::RegisterBenchmark((name + "/" + bench::shape_name(s) + tag).c_str(), bench_sparse, v,
                                     std::vector<Shape>{s}, Pattern::kRows1, pct / 100.0);
    }
    benchmark::RegisterBenchmark((name + "/mobilenet_v2_pointwise_2of4").c_str(), bench_sparse, v, chain,
                                 Pattern::kTwoOfFour, 0.5);
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
