// ReduceSum and ReduceMean (opset 18: axes is an optional constant input).
//
// Prepare splits the input's dims into kept and reduced ones, dropping dims of size 1 and
// merging neighbours of the same kind, and hands both strided views to the kernel.
#include "runtime/kernels/reduce/reduce.h"

#include <algorithm>
#include <string>
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

template <typename T>
std::unique_ptr<OpKernel> reduce_kernel(std::string name, ReducePlan plan) {
  return make_kernel(std::move(name), [plan](const ExecContext& ec) {
    if (plan.empty_output) return;
    const kernels::StridedDims kept{plan.kept_dims.size(), plan.kept_dims.data(),
                                    plan.kept_strides.data()};
    const kernels::StridedDims reduced{plan.reduced_dims.size(), plan.reduced_dims.data(),
                                       plan.reduced_strides.data()};
    kernels::reduce_sum_ref<T>(kept, reduced, static_cast<const T*>(ec.inputs[0]),
                               static_cast<T*>(ec.outputs[0]), plan.divisor);
  });
}

Result<std::unique_ptr<OpKernel>> prepare_reduce(const PrepareContext& ctx, bool mean) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 2, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input 0", {DType::kFloat32, DType::kInt64}));
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

  plan.divisor = mean ? count : 1;
  plan.empty_output = num_elements(out_shape) == 0;
  std::string name =
      std::string(dtype_tag(x.dtype)) + (mean ? "_reduce_mean" : "_reduce_sum") + "_ref__scalar";
  if (x.dtype == DType::kFloat32) return reduce_kernel<float>(std::move(name), std::move(plan));
  return reduce_kernel<int64_t>(std::move(name), std::move(plan));
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_ReduceMean(const PrepareContext& ctx) {
  return prepare_reduce(ctx, /*mean=*/true);
}

Result<std::unique_ptr<OpKernel>> prepare_ReduceSum(const PrepareContext& ctx) {
  return prepare_reduce(ctx, /*mean=*/false);
}

}  // namespace pare::rt::ops
