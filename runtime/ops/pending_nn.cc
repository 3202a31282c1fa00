// Temporary: ops not implemented yet answer "unsupported" at prepare time.
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

Result<std::unique_ptr<OpKernel>> prepare_Conv(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_ConvTranspose(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Gemm(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_MatMul(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_MaxPool(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_AveragePool(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_GlobalAveragePool(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_BatchNormalization(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_LayerNormalization(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Softmax(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Resize(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}
Result<std::unique_ptr<OpKernel>> prepare_Pad(const PrepareContext& ctx) {
  return ctx.error(Status::kUnsupported, "not implemented yet");
}

}  // namespace pare::rt::ops
