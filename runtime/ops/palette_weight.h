// Ops that read a palette constant (TensorDesc::encoding == kPalette, weight clustering):
// Conv (1x1, NHWC) and Gemm/MatMul with a constant B, float32, and int8 Conv (1x1, NHWC,
// uint8 activations). Where the palette has at most 16 entries and the LUT kernel of the ISA
// measures at least as fast as the dense GEMM for the layer's shape (kernels::
// f32_lutgemm_pays, q8_lutgemm_pays) they run runtime/kernels/lutgemm on the packed indices;
// otherwise, and for every other form of the op, the palette inputs are expanded at prepare
// and the op prepares as for a dense model, its kernel named "<dense kernel>_expanded"
// (runtime/ops/dense_copies.h).
#pragma once

#include <memory>

#include "runtime/op.h"

namespace pare::rt::ops {

// Whether any input of the node is stored as a palette.
bool has_palette_input(const PrepareContext& ctx);

// Whether input `i` is the node's only palette input, float32, packable (kernels::
// lutgemm_packable) and of a shape where the LUT kernel pays on this ISA; `transposed`:
// the view is [K, N] rather than [N, K].
bool palette_kernel_pays(const PrepareContext& ctx, size_t i, bool transposed);

// Y [m, N] = act(bias + X [m, K] W^T) on the rows of input 0 into output 0, W the palette
// input `i` viewed as [N, K], or as [K, N] when `transposed`, scaled by alpha. bias: [N] or
// null (copied). Named "f32_lutgemm[_<activation>]_<tile>__<isa>".
std::unique_ptr<OpKernel> make_lutgemm_kernel(const PrepareContext& ctx, size_t i, bool transposed,
                                              const float* bias, float alpha, size_t m);

// An int8 Conv already known to be 1x1 NHWC over `pixels` output pixels, with uint8
// activations, whose weight (input 1) is the node's only palette input, int8, packable, and
// of a shape where kernels::q8_lutgemm_pays: the int8 LUT kernel, named
// "q8_lutgemm[_<activation>]_<tile>__<isa>" (the tile of the qgemm microkernel it runs).
// Null where any of that does not hold: the caller then expands the palette.
std::unique_ptr<OpKernel> make_q8_lutgemm_conv_kernel(const PrepareContext& ctx, size_t pixels);

}  // namespace pare::rt::ops
