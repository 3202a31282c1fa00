// Conv, Gemm and MatMul with a sparse constant weight (TensorDesc::encoding == kSparse, as
// the loader describes one): the output must match the same op on the dense weight, the
// sparse kernel must be chosen above the ISA's crossover and the dense path below it, and
// every other form of the op must run on the densified weight.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "runtime/kernels/spmm/random_sparse.h"
#include "runtime/kernels/spmm/spmm.h"
#include "runtime/op.h"
#include "runtime/ops/ops.h"
#include "runtime/thread_pool.h"
#include "tests/runtime/op_harness.h"

namespace pare::rt {
namespace {

using namespace op_harness;
using kernels::spmm_testing::make_sparse;
using kernels::spmm_testing::Pattern;
using kernels::spmm_testing::SparseMatrix;

// The weight as the op sees a sparse constant: no dense bytes, the view in `sparse`.
Tensor sparse_tensor(const Shape& shape, const SparseMatrix& w) {
  Tensor t;
  t.desc.dtype = DType::kFloat32;
  t.desc.shape = shape;
  t.desc.encoding = Encoding::kSparse;
  t.desc.sparse = w.view;
  return t;
}

bool sparse_kernel_expected(const SparseMatrix& w, size_t k, Isa cap) {
  const size_t n = static_cast<size_t>(w.view.rows * w.view.cols) / k;
  return kernels::f32_spmm_pays(cap, kernels::f32_spmm_sparsity(w.view), n, k);
}

// Runs `make(weight)` with the dense and the sparse weight under every cap, with and without
// threads; `sparse_path` says whether the sparse kernel may run at all for this node.
template <typename MakeNode>
void expect_same_as_dense(const MakeNode& make_node, const Shape& w_shape, const SparseMatrix& w, size_t k,
                          bool sparse_path, const std::string& what) {
  ThreadPool pool(3);
  for (Isa cap : usable_caps()) {
    Node dense = make_node(constant<float>(w_shape, w.dense), cap);
    const std::vector<float> want = dense.run();
    Node sparse = make_node(sparse_tensor(w_shape, w), cap);
    std::string kernel;
    const std::vector<uint8_t> bytes = sparse.run_bytes(nullptr, &kernel);
    std::vector<float> got(bytes.size() / sizeof(float));
    std::memcpy(got.data(), bytes.data(), bytes.size());
    SCOPED_TRACE(what + " cap " + std::to_string(static_cast<int>(cap)) + " kernel " + kernel);
    expect_near_all(got, want, 1e-5f);
    const bool spmm = sparse_path && sparse_kernel_expected(w, k, cap);
    EXPECT_EQ(kernel.rfind("f32_spmm", 0) == 0, spmm);
    Node threaded = make_node(sparse_tensor(w_shape, w), cap);
    EXPECT_EQ(threaded.run_bytes(&pool), bytes) << "thread count changed the bytes";
  }
}

TEST(SparseWeights, PointwiseNhwcConv) {
  const int64_t cin = 36, cout = 20;
  const Shape x_shape = {2, 5, 7, cin};  // NHWC, 70 pixels
  const auto x = random_floats(static_cast<size_t>(numel(x_shape)), 3);
  const auto bias = random_floats(cout, 4);
  for (Pattern pattern : {Pattern::kRows1, Pattern::kRows4, Pattern::kTwoOfFour})
    for (double s : {0.3, 0.8, 0.95, 1.0}) {
      const SparseMatrix w = make_sparse(pattern, cout, cin, s, 11);
      const auto make_node = [&](Tensor weight, Isa cap) {
        Node node(ops::prepare_Conv, "Conv");
        node.in(make<float>(x_shape, x)).in(std::move(weight)).in(constant<float>({cout}, bias));
        node.s("layout", "NHWC").act(ActivationKind::kClip, 0.f, 6.f).out({2, 5, 7, cout}).isa(cap);
        return node;
      };
      expect_same_as_dense(make_node, {cout, cin, 1, 1}, w, cin, true,
                           std::string(kernels::spmm_testing::pattern_name(pattern)) + " " + std::to_string(s));
    }
}

TEST(SparseWeights, OtherConvsRunOnTheDensifiedWeight) {
  const int64_t cin = 8, cout = 12;
  const SparseMatrix w = make_sparse(Pattern::kRows1, cout, cin * 9, 0.9, 12);
  const auto x = random_floats(1 * 6 * 6 * cin, 5);
  const auto nhwc = [&](Tensor weight, Isa cap) {  // 3x3: im2col or Winograd
    Node node(ops::prepare_Conv, "Conv");
    node.in(make<float>({1, 6, 6, cin}, x)).in(std::move(weight)).ints("pads", {1, 1, 1, 1});
    node.s("layout", "NHWC").out({1, 6, 6, cout}).isa(cap);
    return node;
  };
  expect_same_as_dense(nhwc, {cout, cin, 3, 3}, w, 0, false, "nhwc 3x3");
  const auto nchw = [&](Tensor weight, Isa cap) {  // reads the weight at run time
    Node node(ops::prepare_Conv, "Conv");
    node.in(make<float>({1, cin, 6, 6}, x)).in(std::move(weight)).out({1, cout, 4, 4}).isa(cap);
    return node;
  };
  expect_same_as_dense(nchw, {cout, cin, 3, 3}, w, 0, false, "nchw 3x3");
}

TEST(SparseWeights, GemmEveryTransposeAndBias) {
  const int64_t m = 37, k = 24, n = 16;
  const auto a = random_floats(m * k, 6), c = random_floats(n, 7);
  for (int trans_a = 0; trans_a < 2; ++trans_a)
    for (int trans_b = 0; trans_b < 2; ++trans_b)
      for (bool with_c : {false, true}) {
        // The view's rows are B's dim 0: N with transB, K without.
        const SparseMatrix w = trans_b ? make_sparse(Pattern::kRows4, n, k, 0.85, 13)
                                       : make_sparse(Pattern::kRows1, k, n, 0.85, 14);
        const auto make_node = [&](Tensor b, Isa cap) {
          Node node(ops::prepare_Gemm, "Gemm");
          node.in(make<float>(trans_a ? Shape{k, m} : Shape{m, k}, a)).in(std::move(b));
          if (with_c) node.in(constant<float>({n}, c));
          node.i("transA", trans_a).i("transB", trans_b).f("alpha", 0.5f).f("beta", -2.f);
          node.act(ActivationKind::kRelu).out({m, n}).isa(cap);
          return node;
        };
        expect_same_as_dense(make_node, trans_b ? Shape{n, k} : Shape{k, n}, w, k, trans_a == 0,
                             "transA " + std::to_string(trans_a) + " transB " + std::to_string(trans_b));
      }
}

TEST(SparseWeights, MatMulSharedAndBatchedB) {
  const int64_t k = 40, n = 12;
  const auto a = random_floats(3 * 5 * k, 8);
  const SparseMatrix w = make_sparse(Pattern::kRows1, k, n, 0.9, 15);
  const auto make_node = [&](Tensor b, Isa cap) {
    Node node(ops::prepare_MatMul, "MatMul");
    node.in(make<float>({3, 5, k}, a)).in(std::move(b)).act(ActivationKind::kHardSwish).out({3, 5, n}).isa(cap);
    return node;
  };
  expect_same_as_dense(make_node, {k, n}, w, k, true, "shared B");
  const SparseMatrix batched = make_sparse(Pattern::kRows1, 3, k * n, 0.9, 16);
  const auto make_batched_node = [&](Tensor b, Isa cap) {
    Node node(ops::prepare_MatMul, "MatMul");
    node.in(make<float>({3, 5, k}, a)).in(std::move(b)).out({3, 5, n}).isa(cap);
    return node;
  };
  expect_same_as_dense(make_batched_node, {3, k, n}, batched, k, false, "batched B");
}

}  // namespace
}  // namespace pare::rt
