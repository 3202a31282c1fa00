// Factories of the runtime ops, one per op type (runtime/ops/<group>.cc).
// Each validates its node at prepare time and returns the kernel that runs it.
#pragma once

#include <memory>

#include "runtime/op.h"

namespace pare::rt::ops {

Result<std::unique_ptr<OpKernel>> prepare_Add(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_AveragePool(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_BatchNormalization(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Cast(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Clip(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Concat(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_ConstantOfShape(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Conv(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_ConvTranspose(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Div(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_Equal(const PrepareContext& ctx);
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

}  // namespace pare::rt::ops
