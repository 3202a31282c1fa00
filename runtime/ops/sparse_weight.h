// Ops that read a sparse constant (TensorDesc::encoding == kSparse): Conv (1x1, NHWC) and
// Gemm/MatMul with a constant B. Where the spmm cost model of the ISA predicts a gain for the
// layer's sparsity and shape they run the sparse kernel (runtime/kernels/spmm) on the view;
// otherwise, and for every other form of the op, the sparse inputs are densified at
// prepare and the op prepares as for a dense model (runtime/ops/dense_copies.h).
#pragma once

#include <memory>
#include <string>

#include "runtime/op.h"

namespace pare::rt::ops {

// Whether any input of the node is stored sparse.
bool has_sparse_input(const PrepareContext& ctx);

// Whether input `i` is the node's only sparse input, float32, and sparse enough for its
// shape that the sparse kernel beats the dense GEMM on this ISA (kernels::f32_spmm_pays);
// `transposed`: the view is [K, N] rather than [N, K].
bool sparse_kernel_pays(const PrepareContext& ctx, size_t i, bool transposed);

// Y [m, N] = act(bias + X [m, K] W^T) on the rows of input 0 into output 0, W the sparse
// input `i` viewed as [N, K], or as [K, N] when `transposed`, scaled by alpha. bias: [N] or
// null (copied). Named "f32_spmm[_<activation>]_<tile>__<isa>".
std::unique_ptr<OpKernel> make_spmm_kernel(const PrepareContext& ctx, size_t i, bool transposed,
                                           const float* bias, float alpha, size_t m);

}  // namespace pare::rt::ops
