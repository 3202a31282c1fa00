// BatchNormalization (inference) and LayerNormalization (Y and the optional Mean and
// InvStdDev outputs), float32.
#include <string>
#include <vector>

#include "runtime/kernels/normalization/normalization.h"
#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"
#include "runtime/ops/parallel.h"

namespace pare::rt::ops {

namespace {

class BatchNormKernel final : public OpKernel {
 public:
  BatchNormKernel(int64_t planes, int64_t channels, int64_t spatial, float epsilon)
      : planes_(planes), channels_(channels), spatial_(spatial), epsilon_(epsilon) {}

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    const auto* scale = static_cast<const float*>(ctx.inputs[1]);
    const auto* bias = static_cast<const float*>(ctx.inputs[2]);
    const auto* mean = static_cast<const float*>(ctx.inputs[3]);
    const auto* var = static_cast<const float*>(ctx.inputs[4]);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    parallel_for(ctx.pool, static_cast<size_t>(planes_), [&](size_t begin, size_t end) {
      kernels::f32_batchnorm_ref__scalar(channels_, spatial_, x, scale, bias, mean, var, epsilon_, y,
                                         static_cast<int64_t>(begin), static_cast<int64_t>(end));
    });
  }

  const char* kernel_name() const override { return "f32_batchnorm_ref__scalar"; }

 private:
  int64_t planes_, channels_, spatial_;
  float epsilon_;
};

class LayerNormKernel final : public OpKernel {
 public:
  LayerNormKernel(kernels::F32LayerNormFn fn, const char* name, int64_t rows, int64_t cols,
                  bool has_bias, bool has_mean, bool has_inv_std, float epsilon)
      : fn_(fn), name_(name), rows_(rows), cols_(cols), has_bias_(has_bias), has_mean_(has_mean),
        has_inv_std_(has_inv_std), epsilon_(epsilon) {}

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    const auto* scale = static_cast<const float*>(ctx.inputs[1]);
    const auto* bias = has_bias_ ? static_cast<const float*>(ctx.inputs[2]) : nullptr;
    auto* y = static_cast<float*>(ctx.outputs[0]);
    auto* mean = has_mean_ ? static_cast<float*>(ctx.outputs[1]) : nullptr;
    auto* inv_std = has_inv_std_ ? static_cast<float*>(ctx.outputs[2]) : nullptr;
    // Below this many elements, waking the pool costs more than the rows do.
    constexpr int64_t kMinParallelElements = 16384;
    ThreadPool* pool = rows_ * cols_ >= kMinParallelElements ? ctx.pool : nullptr;
    parallel_for(pool, static_cast<size_t>(rows_), [&](size_t begin, size_t end) {
      fn_(cols_, x, scale, bias, epsilon_, y, mean, inv_std, static_cast<int64_t>(begin),
          static_cast<int64_t>(end));
    });
  }

  const char* kernel_name() const override { return name_; }

 private:
  kernels::F32LayerNormFn fn_;
  const char* name_;
  int64_t rows_, cols_;
  bool has_bias_, has_mean_, has_inv_std_;
  float epsilon_;
};

std::vector<int64_t> strip_leading_ones(std::vector<int64_t> shape) {
  size_t i = 0;
  while (i < shape.size() && shape[i] == 1) ++i;
  shape.erase(shape.begin(), shape.begin() + static_cast<std::ptrdiff_t>(i));
  return shape;
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_BatchNormalization(const PrepareContext& ctx) {
  if (ctx.attrs->get_int("training_mode", 0) != 0)
    return ctx.error(Status::kUnsupported, "training_mode=1 is not supported (inference only)");
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 5, 5, 1, 1));
  static const char* const kRoles[] = {"input", "scale", "bias", "mean", "var"};
  for (size_t i = 0; i < 5; ++i)
    PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *ctx.inputs[i], kRoles[i], {DType::kFloat32}));
  const TensorDesc& x = *ctx.inputs[0];
  if (x.rank() < 2)
    return ctx.error(Status::kBadModel, "input '" + x.name + "' has shape " + shape_str(x.shape) +
                                            ", expected rank >= 2 (N, C, ...)");
  const int64_t channels = x.shape[1];
  for (size_t i = 1; i < 5; ++i)
    if (ctx.inputs[i]->shape != std::vector<int64_t>{channels})
      return ctx.error(Status::kBadModel, std::string(kRoles[i]) + " '" + ctx.inputs[i]->name + "' has shape " +
                                              shape_str(ctx.inputs[i]->shape) + ", expected [" +
                                              std::to_string(channels) + "]");
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, DType::kFloat32, x.shape));
  int64_t spatial = 1;
  for (size_t i = 2; i < x.rank(); ++i) spatial *= x.shape[i];
  return std::unique_ptr<OpKernel>(new BatchNormKernel(x.shape[0] * channels, channels, spatial,
                                                       ctx.attrs->get_float("epsilon", 1e-5f)));
}

Result<std::unique_ptr<OpKernel>> prepare_LayerNormalization(const PrepareContext& ctx) {
  // Outputs Y[, Mean[, InvStdDev]].
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 3, 1, 3));
  for (const TensorDesc* t : ctx.inputs)
    if (t) PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *t, "input", {DType::kFloat32}));
  const TensorDesc& x = *ctx.inputs[0];
  int64_t axis = 0;
  PARE_RT_RETURN_IF_ERROR(
      normalize_axis(ctx, ctx.attrs->get_int("axis", -1), static_cast<int64_t>(x.rank()), &axis));
  const std::vector<int64_t> normalized(x.shape.begin() + axis, x.shape.end());
  int64_t rows = 1, cols = 1;
  for (int64_t i = 0; i < axis; ++i) rows *= x.shape[static_cast<size_t>(i)];
  for (int64_t d : normalized) cols *= d;
  // Scale and B must cover the normalized dims element for element (no broadcasting).
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {
    const TensorDesc* t = ctx.inputs[i];
    if (t && strip_leading_ones(t->shape) != strip_leading_ones(normalized))
      return ctx.error(Status::kUnsupported, std::string(i == 1 ? "Scale" : "B") + " '" + t->name +
                                                 "' has shape " + shape_str(t->shape) + ", expected " +
                                                 shape_str(normalized) + " (broadcasting is not supported)");
  }
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, DType::kFloat32, x.shape));
  // Mean and InvStdDev keep the leading dims and have 1 for each normalized dim.
  std::vector<int64_t> stats_shape = x.shape;
  for (size_t i = static_cast<size_t>(axis); i < stats_shape.size(); ++i) stats_shape[i] = 1;
  for (size_t i = 1; i < ctx.outputs.size(); ++i)
    PARE_RT_RETURN_IF_ERROR(check_output(ctx, i, DType::kFloat32, stats_shape));
  if (cols == 0) return ctx.error(Status::kBadModel, "the normalized dims " + shape_str(normalized) + " are empty");
  const bool has_mean = ctx.outputs.size() > 1, has_inv_std = ctx.outputs.size() > 2;
  kernels::F32LayerNormFn fn = kernels::f32_layernorm_ref__scalar;
  const char* name = "f32_layernorm_ref__scalar";
  if (const kernels::F32LayerNormVariant* v = kernels::select_f32_layernorm(ctx.isa)) {
    fn = v->fn;
    name = v->name;
  }
  return std::unique_ptr<OpKernel>(new LayerNormKernel(fn, name, rows, cols,
                                                       optional_input(ctx, 2) != nullptr, has_mean,
                                                       has_inv_std,
                                                       ctx.attrs->get_float("epsilon", 1e-5f)));
}

}  // namespace pare::rt::ops
