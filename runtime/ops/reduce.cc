// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL2 (opset 18: axes is an
// optional constant input) and ArgMax.
//
// Prepare splits the input's dims into kept and reduced ones, dropping dims of size 1 and
// merging neighbours of the same kind, and hands both strided views to the kernel.
#include "runtime/kernels/reduce/reduce.h"

#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/kernels/transpose/transpose.h"
#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

struct ReducePlan {
  std::vector<int64_t> kept_dims, kept_strides, reduced_dims, reduced_strides;
  int64_t divisor = 1;
  bool empty_output = false;
};

enum class Kind { kSum, kMean, kMax, kMin, kProd, kL2 };

template <typename T>
std::unique_ptr<OpKernel> reduce_kernel(std::string name, Kind kind, ReducePlan plan) {
  return make_kernel(std::move(name), [kind, plan](const ExecContext& ec) {
    if (plan.empty_output) return;
    const kernels::StridedDims kept{plan.kept_dims.size(), plan.kept_dims.data(),
                                    plan.kept_strides.data()};
    const kernels::StridedDims reduced{plan.reduced_dims.size(), plan.reduced_dims.data(),
                                       plan.reduced_strides.data()};
    const auto* x = static_cast<const T*>(ec.inputs[0]);
    auto* y = static_cast<T*>(ec.outputs[0]);
    switch (kind) {
      case Kind::kSum:
      case Kind::kMean:
        // Sum and Mean of int32 are refused at prepare (reduce_sum_ref has no int32 form).
        if constexpr (!std::is_same_v<T, int32_t>) kernels::reduce_sum_ref<T>(kept, reduced, x, y, plan.divisor);
        break;
      case Kind::kMax: kernels::reduce_ref<T>(kernels::ReduceOp::kMax, kept, reduced, x, y); break;
      case Kind::kMin: kernels::reduce_ref<T>(kernels::ReduceOp::kMin, kept, reduced, x, y); break;
      case Kind::kProd: kernels::reduce_ref<T>(kernels::ReduceOp::kProd, kept, reduced, x, y); break;
      case Kind::kL2: kernels::reduce_ref<T>(kernels::ReduceOp::kL2, kept, reduced, x, y); break;
    }
  });
}

Result<std::unique_ptr<OpKernel>> prepare_reduce(const PrepareContext& ctx, Kind op, const char* tag) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 2, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  if (op == Kind::kSum || op == Kind::kMean)
    PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input 0", {DType::kFloat32, DType::kInt64}));
  else if (op == Kind::kL2)
    PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input 0", {DType::kFloat32}));
  else
    PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input 0", {DType::kFloat32, DType::kInt64, DType::kInt32}));
  if (ctx.attrs && ctx.attrs->has("axes"))
    return ctx.error(Status::kBadModel, "axes must be an input (opset 18), not an attribute");
  int64_t keepdims = 1, noop_with_empty_axes = 0;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "keepdims", 1, &keepdims));
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "noop_with_empty_axes", 0, &noop_with_empty_axes));

  const auto rank = static_cast<int64_t>(x.rank());
  std::vector<int64_t> axes;
  if (optional_input(ctx, 1) != nullptr) {
    std::vector<int64_t> raw;
    PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 1, "axes", &raw));
    PARE_RT_RETURN_IF_ERROR(normalize_axes(ctx, raw, rank, &axes));
  }
  const auto bytes = x.byte_size();
  if (axes.empty() && noop_with_empty_axes != 0) {
    PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, x.shape));
    return make_kernel(
        std::string(size_tag(dtype_size(x.dtype))) + "_copy_ref__scalar",
        [bytes](const ExecContext& ec) { kernels::copy_ref(bytes, ec.inputs[0], ec.outputs[0]); });
  }
  std::vector<bool> reduced(x.rank(), axes.empty());
  for (int64_t a : axes) reduced[static_cast<size_t>(a)] = true;

  std::vector<int64_t> out_shape;
  int64_t count = 1;
  for (size_t d = 0; d < x.rank(); ++d) {
    if (reduced[d]) count *= x.shape[d];
    if (!reduced[d]) {
      out_shape.push_back(x.shape[d]);
    } else if (keepdims != 0) {
      out_shape.push_back(1);
    }
  }
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, out_shape));

  // Dims of size 1 change nothing; neighbours of one kind are contiguous in the dense input,
  // so they merge into one dim with the inner stride.
  ReducePlan plan;
  const std::vector<int64_t> strides = contiguous_strides(x.shape);
  int last_kind = -1;
  for (size_t d = 0; d < x.rank(); ++d) {
    if (x.shape[d] == 1) continue;
    const int kind = reduced[d] ? 1 : 0;
    std::vector<int64_t>& dims = kind ? plan.reduced_dims : plan.kept_dims;
    std::vector<int64_t>& strd = kind ? plan.reduced_strides : plan.kept_strides;
    if (kind == last_kind) {
      dims.back() *= x.shape[d];
      strd.back() = strides[d];
    } else {
      dims.push_back(x.shape[d]);
      strd.push_back(strides[d]);
    }
    last_kind = kind;
  }

  plan.divisor = op == Kind::kMean ? count : 1;
  plan.empty_output = num_elements(out_shape) == 0;
  // A float mean over the middle of [batch, pixels, channels] (a channels-last image's
  // spatial axes: x.mean([2, 3]) after the nhwc pass) is a global average pooling.
  const size_t kept_rank = plan.kept_dims.size();
  if (op == Kind::kMean && x.dtype == DType::kFloat32 && !plan.empty_output && plan.reduced_dims.size() == 1 &&
      (kept_rank == 1 || kept_rank == 2) && plan.kept_strides.back() == 1 &&
      plan.reduced_strides[0] == plan.kept_dims.back() &&
      (kept_rank == 1 || plan.kept_strides[0] == plan.reduced_dims[0] * plan.kept_dims.back()))
    return f32_global_avgpool_nhwc_kernel(ctx, kept_rank == 2 ? plan.kept_dims[0] : 1, plan.reduced_dims[0],
                                          plan.kept_dims.back());
  std::string name = std::string(dtype_tag(x.dtype)) + "_reduce_" + tag + "_ref__scalar";
  if (x.dtype == DType::kFloat32) return reduce_kernel<float>(std::move(name), op, std::move(plan));
  if (x.dtype == DType::kInt32) return reduce_kernel<int32_t>(std::move(name), op, std::move(plan));
  return reduce_kernel<int64_t>(std::move(name), op, std::move(plan));
}

template <typename T>
std::unique_ptr<OpKernel> argmax_kernel(std::string name, size_t outer, size_t dim, size_t inner, bool last) {
  return make_kernel(std::move(name), [=](const ExecContext& ec) {
    kernels::argmax_ref<T>(outer, dim, inner, static_cast<const T*>(ec.inputs[0]), last,
                           static_cast<int64_t*>(ec.outputs[0]));
  });
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_ReduceMean(const PrepareContext& ctx) {
  return prepare_reduce(ctx, Kind::kMean, "mean");
}

Result<std::unique_ptr<OpKernel>> prepare_ReduceSum(const PrepareContext& ctx) {
  return prepare_reduce(ctx, Kind::kSum, "sum");
}

Result<std::unique_ptr<OpKernel>> prepare_ReduceMax(const PrepareContext& ctx) {
  return prepare_reduce(ctx, Kind::kMax, "max");
}

Result<std::unique_ptr<OpKernel>> prepare_ReduceMin(const PrepareContext& ctx) {
  return prepare_reduce(ctx, Kind::kMin, "min");
}

Result<std::unique_ptr<OpKernel>> prepare_ReduceProd(const PrepareContext& ctx) {
  return prepare_reduce(ctx, Kind::kProd, "prod");
}

Result<std::unique_ptr<OpKernel>> prepare_ReduceL2(const PrepareContext& ctx) {
  return prepare_reduce(ctx, Kind::kL2, "l2");
}

Result<std::unique_ptr<OpKernel>> prepare_ArgMax(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 1, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input 0", {DType::kFloat32, DType::kInt64, DType::kInt32}));
  int64_t axis = 0, keepdims = 1, last = 0;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "axis", 0, &axis));
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "keepdims", 1, &keepdims));
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "select_last_index", 0, &last));
  PARE_RT_RETURN_IF_ERROR(normalize_axis(ctx, axis, static_cast<int64_t>(x.rank()), &axis));
  const auto a = static_cast<size_t>(axis);
  if (x.shape[a] == 0) return ctx.error(Status::kBadModel, "cannot take the argmax of an empty axis");
  std::vector<int64_t> out_shape = x.shape;
  if (keepdims != 0)
    out_shape[a] = 1;
  else
    out_shape.erase(out_shape.begin() + axis);
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, DType::kInt64, out_shape));
  std::vector<int64_t> outer_dims(x.shape.begin(), x.shape.begin() + axis);
  std::vector<int64_t> inner_dims(x.shape.begin() + axis + 1, x.shape.end());
  const auto outer = static_cast<size_t>(num_elements(outer_dims));
  const auto inner = static_cast<size_t>(num_elements(inner_dims));
  const auto dim = static_cast<size_t>(x.shape[a]);
  std::string name = std::string(dtype_tag(x.dtype)) + "_argmax_ref__scalar";
  if (x.dtype == DType::kFloat32) return argmax_kernel<float>(std::move(name), outer, dim, inner, last != 0);
  if (x.dtype == DType::kInt32) return argmax_kernel<int32_t>(std::move(name), outer, dim, inner, last != 0);
  return argmax_kernel<int64_t>(std::move(name), outer, dim, inner, last != 0);
}

}  // namespace pare::rt::ops
