// Softmax along one axis (opset-13 semantics), float32.
#include <string>

#include "runtime/kernels/softmax/softmax.h"
#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"
#include "runtime/ops/parallel.h"

namespace pare::rt::ops {

namespace {

class SoftmaxKernel final : public OpKernel {
 public:
  SoftmaxKernel(int64_t outer, int64_t axis_size, int64_t inner)
      : outer_(outer), axis_size_(axis_size), inner_(inner) {}

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    parallel_for(ctx.pool, static_cast<size_t>(outer_), [&](size_t begin, size_t end) {
      kernels::f32_softmax_ref__scalar(axis_size_, inner_, x, y, static_cast<int64_t>(begin),
                                       static_cast<int64_t>(end));
    });
  }

  const char* kernel_name() const override { return "f32_softmax_ref__scalar"; }

 private:
  int64_t outer_, axis_size_, inner_;
};

// Softmax over the last axis with a vector row kernel.
class SoftmaxRowsKernel final : public OpKernel {
 public:
  SoftmaxRowsKernel(const kernels::F32SoftmaxRowsVariant& variant, int64_t rows, int64_t cols)
      : variant_(variant), rows_(rows), cols_(cols) {}

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    // An exp per element: split as the other transcendental ops are.
    const bool split = static_cast<size_t>(rows_ * cols_) >= kTranscendentalParallelMin;
    ThreadPool* pool = split ? ctx.pool : nullptr;
    parallel_for(pool, static_cast<size_t>(rows_), [&](size_t begin, size_t end) {
      variant_.fn(cols_, x, y, static_cast<int64_t>(begin), static_cast<int64_t>(end));
    });
  }

  const char* kernel_name() const override { return variant_.name; }

 private:
  const kernels::F32SoftmaxRowsVariant& variant_;
  int64_t rows_, cols_;
};

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_Softmax(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 1, 1, 1));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input", {DType::kFloat32}));
  int64_t axis = 0;
  PARE_RT_RETURN_IF_ERROR(
      normalize_axis(ctx, ctx.attrs->get_int("axis", -1), static_cast<int64_t>(x.rank()), &axis));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, DType::kFloat32, x.shape));
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.shape[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(axis) + 1; i < x.rank(); ++i) inner *= x.shape[i];
  const int64_t axis_size = x.shape[static_cast<size_t>(axis)];
  // An empty softmax axis leaves nothing to compute.
  if (axis_size == 0) outer = 0;
  if (inner == 1 && outer > 0)
    if (const kernels::F32SoftmaxRowsVariant* v = kernels::select_f32_softmax_rows(ctx.isa))
      return std::unique_ptr<OpKernel>(new SoftmaxRowsKernel(*v, outer, axis_size));
  return std::unique_ptr<OpKernel>(new SoftmaxKernel(outer, axis_size, inner));
}

}  // namespace pare::rt::ops
