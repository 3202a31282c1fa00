// Conv, Gemm and MatMul with a palette constant weight (TensorDesc::encoding == kPalette, as
// the loader describes one): the output must match the same op on the expanded weight, the
// LUT kernels must run where kernels::f32_lutgemm_pays / q8_lutgemm_pays say so and the
// expanded dense path elsewhere ("_expanded"), palettes of more than 16 entries included.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/lutgemm/lutgemm.h"
#include "runtime/op.h"
#include "runtime/ops/ops.h"
#include "runtime/ops/palette_weight.h"
#include "runtime/thread_pool.h"
#include "tests/runtime/op_harness.h"

namespace pare::rt {
namespace {

using namespace op_harness;

// A palette [rows, cols] with random indices, packed by hand, and its expansion.
struct Palette {
  Palette(int64_t rows, int64_t cols, int bits, bool per_row, DType dtype, uint32_t seed) {
    std::mt19937 rng(seed);
    view.rows = rows;
    view.cols = cols;
    view.bits = bits;
    view.entries = 1 << bits;
    view.per_row = per_row;
    view.dtype = dtype;
    view.row_bytes = (cols * bits + 7) / 8;
    const int64_t tables = (per_row ? rows : 1) * view.entries;
    std::uniform_real_distribution<float> value(-1.f, 1.f);
    std::uniform_int_distribution<int> s8(-128, 127);
    for (int64_t e = 0; e < tables; ++e) {
      f32.push_back(value(rng));
      i8.push_back(static_cast<int8_t>(s8(rng)));
    }
    indices.assign(static_cast<size_t>(rows * view.row_bytes), 0);
    std::uniform_int_distribution<int> index(0, view.entries - 1);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const int i = index(rng);
        const int64_t t = (per_row ? r : 0) * view.entries + i;
        dense_f32.push_back(f32[t]);
        dense_i8.push_back(i8[t]);
        for (int b = 0; b < bits; ++b)
          if (i >> b & 1) indices[r * view.row_bytes + (c * bits + b) / 8] |= static_cast<uint8_t>(1 << ((c * bits + b) % 8));
      }
    view.palette = dtype == DType::kFloat32 ? static_cast<const void*>(f32.data()) : i8.data();
    view.indices = indices.data();
  }
  // The weight as the op sees a palette constant: no dense bytes, the view in `palette`.
  Tensor tensor(const Shape& shape) const {
    Tensor t;
    t.desc.dtype = view.dtype;
    t.desc.shape = shape;
    t.desc.encoding = Encoding::kPalette;
    t.desc.palette = view;
    return t;
  }
  std::vector<float> f32, dense_f32;
  std::vector<int8_t> i8, dense_i8;
  std::vector<uint8_t> indices;
  PaletteView view;
};

// Runs `make(weight)` with the dense and the palette weight under every cap, with and
// without threads; `lut` says whether the LUT kernel should run at all for this node.
template <typename MakeNode>
void expect_same_as_dense(const MakeNode& make_node, const Shape& w_shape, const Palette& p, size_t n, size_t k,
                          bool lut, const std::string& what) {
  ThreadPool pool(3);
  for (Isa cap : usable_caps()) {
    Node dense = make_node(constant<float>(w_shape, p.dense_f32), cap);
    const std::vector<float> want = dense.run();
    Node palette = make_node(p.tensor(w_shape), cap);
    std::string kernel;
    const std::vector<uint8_t> bytes = palette.run_bytes(nullptr, &kernel);
    std::vector<float> got(bytes.size() / sizeof(float));
    std::memcpy(got.data(), bytes.data(), bytes.size());
    SCOPED_TRACE(what + " cap " + std::to_string(static_cast<int>(cap)) + " kernel " + kernel);
    expect_near_all(got, want, 1e-4f);
    const bool expect_lut = lut && kernels::f32_lutgemm_pays(cap, n, k);
    EXPECT_EQ(kernel.rfind("f32_lutgemm", 0) == 0, expect_lut);
    if (!expect_lut) {
      EXPECT_NE(kernel.find("_expanded"), std::string::npos);
    }
    Node threaded = make_node(p.tensor(w_shape), cap);
    EXPECT_EQ(threaded.run_bytes(&pool), bytes) << "thread count changed the bytes";
  }
}

TEST(PaletteWeights, PointwiseNhwcConv) {
  for (int64_t cin : {20, 150})
    for (int bits : {2, 4, 6})
      for (bool per_row : {true, false}) {
        const int64_t cout = 21;
        const Shape xs = {2, 5, 7, cin};
        const auto x = random_floats(static_cast<size_t>(numel(xs)), 3);
        const auto bias = random_floats(cout, 4);
        const Palette p(cout, cin, bits, per_row, DType::kFloat32, static_cast<uint32_t>(cin + bits));
        const auto make_node = [&](Tensor weight, Isa cap) {
          Node node(ops::prepare_Conv, "Conv");
          node.in(make<float>(xs, x)).in(std::move(weight)).in(constant<float>({cout}, bias));
          node.s("layout", "NHWC").act(ActivationKind::kClip, 0.f, 6.f).out({2, 5, 7, cout}).isa(cap);
          return node;
        };
        expect_same_as_dense(make_node, {cout, cin, 1, 1}, p, cout, cin, bits <= 4,
                             "cin " + std::to_string(cin) + " bits " + std::to_string(bits));
      }
}

TEST(PaletteWeights, ThreeByThreeConvRunsExpanded) {
  const int64_t cin = 8, cout = 12;
  const Palette p(cout, cin * 9, 4, true, DType::kFloat32, 5);
  const auto x = random_floats(6 * 6 * cin, 5);
  const auto make_node = [&](Tensor weight, Isa cap) {
    Node node(ops::prepare_Conv, "Conv");
    node.in(make<float>({1, 6, 6, cin}, x)).in(std::move(weight)).ints("pads", {1, 1, 1, 1});
    node.s("layout", "NHWC").out({1, 6, 6, cout}).isa(cap);
    return node;
  };
  expect_same_as_dense(make_node, {cout, cin, 3, 3}, p, cout, cin * 9, false, "3x3");
}

TEST(PaletteWeights, GemmEveryTranspose) {
  const int64_t m = 37, k = 130, n = 16;
  const auto a = random_floats(m * k, 6), c = random_floats(n, 7);
  for (int trans_a = 0; trans_a < 2; ++trans_a)
    for (int trans_b = 0; trans_b < 2; ++trans_b)
      for (bool per_row : {true, false}) {
        // The view's rows are B's dim 0: N with transB, K without.
        const Palette p = trans_b ? Palette(n, k, 4, per_row, DType::kFloat32, 13) : Palette(k, n, 3, per_row, DType::kFloat32, 14);
        const auto make_node = [&](Tensor b, Isa cap) {
          Node node(ops::prepare_Gemm, "Gemm");
          node.in(make<float>(trans_a ? Shape{k, m} : Shape{m, k}, a)).in(std::move(b)).in(constant<float>({n}, c));
          node.i("transA", trans_a).i("transB", trans_b).f("alpha", 0.5f).f("beta", -2.f);
          node.act(ActivationKind::kRelu).out({m, n}).isa(cap);
          return node;
        };
        // [K, N] with a table per row of K has no LUT form.
        expect_same_as_dense(make_node, trans_b ? Shape{n, k} : Shape{k, n}, p, n, k, trans_a == 0 && (trans_b || !per_row),
                             "transA " + std::to_string(trans_a) + " transB " + std::to_string(trans_b));
      }
}

TEST(PaletteWeights, MatMulSharedB) {
  const int64_t k = 100, n = 12;
  const auto a = random_floats(3 * 5 * k, 8);
  const Palette p(k, n, 4, false, DType::kFloat32, 15);
  const auto make_node = [&](Tensor b, Isa cap) {
    Node node(ops::prepare_MatMul, "MatMul");
    node.in(make<float>({3, 5, k}, a)).in(std::move(b)).act(ActivationKind::kHardSwish).out({3, 5, n}).isa(cap);
    return node;
  };
  expect_same_as_dense(make_node, {k, n}, p, n, k, true, "shared B");
}

// int8 1x1 NHWC convs, uint8 activations: bit-exact with the conv on the expanded weight
// under every cap and thread count, on the int8 LUT kernel where kernels::q8_lutgemm_pays
// for (pixels, N, K), expanded elsewhere (a small and a MobileNetV2-sized layer).
TEST(PaletteWeights, Int8PointwiseConv) {
  struct Case {
    int64_t h, w, cin, cout;
    bool per_row;
  };
  for (const Case& c : {Case{3, 4, 40, 24, true}, Case{32, 32, 144, 40, false}, Case{40, 40, 19, 70, true}}) {
    const Palette p(c.cout, c.cin, 4, c.per_row, DType::kInt8, static_cast<uint32_t>(21 + c.cin));
    std::mt19937 rng(3);
    std::vector<uint8_t> x(static_cast<size_t>(c.h * c.w * c.cin));
    for (uint8_t& v : x) v = static_cast<uint8_t>(rng() % 256);
    std::vector<float> scales(static_cast<size_t>(c.cout));
    for (int64_t j = 0; j < c.cout; ++j) scales[static_cast<size_t>(j)] = 0.01f + 0.001f * static_cast<float>(j);
    std::vector<int32_t> bias(static_cast<size_t>(c.cout));
    for (int64_t j = 0; j < c.cout; ++j) bias[static_cast<size_t>(j)] = static_cast<int32_t>(j * 97) - 1500;
    const auto run = [&](Tensor w, Isa cap, ThreadPool* pool, std::string* kernel) {
      quantize(&w.desc, scales, std::vector<int64_t>(scales.size(), 0), 0);
      Tensor xt = make<uint8_t>({1, c.h, c.w, c.cin}, x, DType::kUInt8);
      quantize(&xt.desc, {0.05f}, {128});
      TensorDesc y = out(DType::kUInt8, {1, c.h, c.w, c.cout});
      y.quantized = true;
      y.quant.scales = {0.2f};
      y.quant.zero_points = {10};
      Node node(ops::prepare_Conv, "Conv");
      node.in(std::move(xt)).in(std::move(w)).in(constant<int32_t>({c.cout}, bias, DType::kInt32));
      node.s("layout", "NHWC").act(ActivationKind::kRelu).out(y).isa(cap);
      return node.run_bytes(pool, kernel);
    };
    ThreadPool pool(3);
    for (Isa cap : usable_caps()) {
      std::string dense_kernel, palette_kernel;
      const std::vector<uint8_t> want =
          run(constant<int8_t>({c.cout, c.cin, 1, 1}, p.dense_i8, DType::kInt8), cap, nullptr, &dense_kernel);
      SCOPED_TRACE(std::to_string(c.h) + "x" + std::to_string(c.w) + " K" + std::to_string(c.cin) + " N" +
                   std::to_string(c.cout) + " cap " + std::to_string(static_cast<int>(cap)));
      EXPECT_EQ(run(p.tensor({c.cout, c.cin, 1, 1}), cap, nullptr, &palette_kernel), want);
      const bool lut = kernels::q8_lutgemm_pays(cap, static_cast<size_t>(c.h * c.w), static_cast<size_t>(c.cout),
                                                static_cast<size_t>(c.cin));
      if (lut) {
        EXPECT_EQ(palette_kernel.rfind("q8_lutgemm_relu_", 0), 0u) << palette_kernel;
      } else {
        EXPECT_EQ(palette_kernel, dense_kernel + "_expanded");
      }
      EXPECT_EQ(run(p.tensor({c.cout, c.cin, 1, 1}), cap, &pool, nullptr), want) << "thread count changed the bytes";
    }
  }
}

// The LUT kernel the ops make where it pays (no shape does yet on the measured CPUs, so the
// op tests above see "_expanded"): called directly, against the op on the expanded weight.
TEST(PaletteWeights, LutGemmKernelMatchesExpanded) {
  const int64_t m = 29, k = 70, n = 13;
  const Palette p(n, k, 4, true, DType::kFloat32, 31);
  const auto x = random_floats(static_cast<size_t>(m * k), 32), bias = random_floats(static_cast<size_t>(n), 33);
  for (Isa cap : usable_caps()) {
    Node dense(ops::prepare_Gemm, "Gemm");
    dense.in(make<float>({m, k}, x)).in(constant<float>({n, k}, p.dense_f32)).in(constant<float>({n}, bias));
    dense.i("transB", 1).f("alpha", 0.5f).act(ActivationKind::kClip, -1.f, 1.f).out({m, n}).isa(cap);
    const std::vector<float> want = dense.run();
    const Tensor w = p.tensor({n, k});
    PrepareContext ctx;
    ctx.op = "Gemm";
    ctx.inputs = {nullptr, &w.desc};
    ctx.activation = FusedActivation{ActivationKind::kClip, -1.f, 1.f};
    ctx.isa = cap;
    const std::unique_ptr<OpKernel> kernel =
        ops::make_lutgemm_kernel(ctx, 1, false, bias.data(), 0.5f, static_cast<size_t>(m));
    EXPECT_EQ(std::string(kernel->kernel_name()).rfind("f32_lutgemm_clip_", 0), 0u) << kernel->kernel_name();
    for (int threads : {1, 3}) {
      ThreadPool pool(threads);
      std::vector<float> y(static_cast<size_t>(m * n), 777.f);
      const void* inputs[2] = {x.data(), nullptr};
      void* outputs[1] = {y.data()};
      ExecContext exec;
      exec.inputs = inputs;
      exec.outputs = outputs;
      exec.pool = threads > 1 ? &pool : nullptr;
      kernel->run(exec);
      SCOPED_TRACE("cap " + std::to_string(static_cast<int>(cap)) + " threads " + std::to_string(threads));
      expect_near_all(y, want, 1e-4f);
    }
  }
}

}  // namespace
}  // namespace pare::rt
