// Temporary: ops not implemented yet answer "unsupported" at prepare time.
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

Result<std::unique_ptr<OpKernel>> prepare_Add(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Sub(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Mul(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Div(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Pow(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Equal(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Where(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_PRelu(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Relu(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_LeakyRelu(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Clip(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Sigmoid(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_HardSigmoid(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_HardSwish(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Tanh(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Erf(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Gelu(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Sqrt(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_ReduceMean(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_ReduceSum(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Flatten(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Reshape(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Squeeze(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Unsqueeze(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Identity(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Shape(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_ConstantOfShape(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Expand(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Cast(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Transpose(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Concat(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Split(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Slice(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Gather(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}

}  // namespace pare::rt::ops
