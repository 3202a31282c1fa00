// Factories of the runtime ops, one per op type (runtime/ops/<group>.cc).
// Each validates its node at prepare time and returns the kernel that runs it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "runtime/op.h"

namespace pare::rt::ops {

Result<std::unique_ptr<OpKernel>> prepare_Add(const PrepareContext& ctx);

// Channels-last Conv fusion (conv.cc), consumer reading the producer's output as its input
// `slot`: (pointwise or other one-group conv, depthwise reading its output) -> one kernel;
// (that kernel, pointwise reading its output) -> the same kernel, now with the projection;
// (one-group conv, or that kernel with its projection; a float32 Add of two same-shape
// inputs reading its output at slot 0 or 1) -> the producer, adding the Add's other input
// to its output tiles. nullptr, and both left as they are, for any other pair.
struct PointwiseDepthwiseFusion {
  // Smaller expanded tensors stay in L2 between the two kernels anyway, and the GEMM run
  // whole keeps its panel-major tile order: fusing them measured no faster (MobileNetV2's
  // 14x14 and 7x7 blocks were 2-8% slower).
  size_t min_expanded_bytes = size_t{1} << 20;
  // About the expanded rows each worker holds: a band stays in L2 between the GEMM and the
  // depthwise kernel. 256 KiB to 1 MiB measured the same on MobileNetV2-224.
  size_t band_bytes = 256 * 1024;
};
// Gemm and MatMul with a constant B (gemm.cc), and the float32 Add of a bias row that reads
// the product at input `slot`: the product's kernel, adding the row to its output tiles.
// nullptr, and both left as they are, for any other pair.
std::unique_ptr<OpKernel> fuse_gemm_bias(std::unique_ptr<OpKernel>& producer, std::unique_ptr<OpKernel>& consumer,
                                         size_t slot);
// An 8-bit table kernel (prepare_q8_table: Sigmoid, Tanh, ...) and the 8-bit Mul after it
// that reads, beside the table's output at `slot`, the table's own input
// (other_input_is_producer_input), both of one shape: SiLU as int8 models run it,
// x * Sigmoid(x). y depends on x's byte alone, so one table, built by the Mul's kernel
// over the 256 bytes and the first table, gives the bytes of both. nullptr otherwise.
std::unique_ptr<OpKernel> fuse_q8_table_mul(std::unique_ptr<OpKernel>& producer, std::unique_ptr<OpKernel>& consumer,
                                            size_t slot, bool other_input_is_producer_input);
std::unique_ptr<OpKernel> fuse_conv_chain(std::unique_ptr<OpKernel>& producer, std::unique_ptr<OpKernel>& consumer,
                                          size_t slot = 0, const PointwiseDepthwiseFusion& tuning = {});

Result<std::unique_ptr<OpKernel>> prepare_AveragePool(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_BatchNormalization(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Cast(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Clip(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Concat(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_ConstantOfShape(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Conv(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_ConvTranspose(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_DequantizeLinear(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Div(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_ArgMax(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_CumSum(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Einsum(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_GatherElements(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Max(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Min(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Range(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_ReduceL2(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_ReduceMax(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_ReduceMin(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_ReduceProd(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Tile(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_TopK(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Equal(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Abs(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_And(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Cos(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Exp(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Greater(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_GreaterOrEqual(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_IsInf(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_IsNaN(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Less(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_LessOrEqual(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Log(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Neg(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Not(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Or(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Sin(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Erf(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Expand(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Flatten(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Gather(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Gelu(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Gemm(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_GlobalAveragePool(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_HardSigmoid(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_HardSwish(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Identity(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_LayerNormalization(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_LeakyRelu(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_MatMul(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_MaxPool(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Mul(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_PRelu(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Pad(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Pow(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Mod(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_ScatterND(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_QuantizeLinear(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_ReduceMean(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_ReduceSum(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Relu(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Reshape(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Resize(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Shape(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Sigmoid(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Slice(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Softmax(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Split(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Sqrt(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Squeeze(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Sub(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Tanh(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Transpose(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Unsqueeze(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Where(const PrepareContext& ctx);

// ---- int8 helpers (runtime/ops/quantize.cc) ------------------------------------------

// Per-tensor quantization of an 8-bit tensor.
struct Q8Quant {
  bool is_signed = false;
  float scale = 1.f;
  int32_t zero_point = 0;
};

// True when t is a quantized uint8 or int8 tensor (the op runs its int8 form).
bool is_q8_tensor(const TensorDesc* t);

// Reads the per-tensor quantization of t (`what` names it in messages): t must be a quantized
// uint8/int8 tensor with one finite positive scale and a zero point in its dtype's range.
Status q8_per_tensor(const PrepareContext& ctx, const TensorDesc& t, const char* what, Q8Quant* out);

// The int8 form of a one-input elementwise op: checks that input 0 and output 0 are quantized
// 8-bit tensors of one shape and runs a 256-entry table built from the float function f
// (y[i] = f(x[i]) over n floats): table[q] = quantize_y(f(dequantize_x(q))). Named
// "<u8|s8>_<op>_lut__<isa>".
Result<std::unique_ptr<OpKernel>> prepare_q8_table(
    const PrepareContext& ctx, const char* op, const std::function<void(size_t n, const float* x, float* y)>& f);

}  // namespace pare::rt::ops
