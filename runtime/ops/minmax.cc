// Max and Min: any number of inputs of one dtype, numpy broadcasting.
//
// The output starts as input 0 broadcast, then each further input is combined into it; every
// input walks its own simplified strided layout over the output, so a same-shape or scalar
// input runs as one row.
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

// Calls row(y offset, x offset, n, y step, x step) for each innermost row of `layout`
// (operand 0: the output, operand 1: the input).
template <typename F>
void for_each_row(const StridedLayout& layout, F row) {
  const size_t rank = layout.dims.size();
  const int64_t n = layout.dims.back();
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < rank; ++d) rows *= layout.dims[d];
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rest = r, y = 0, x = 0;
    for (size_t d = rank - 1; d-- > 0;) {
      const int64_t i = rest % layout.dims[d];
      rest /= layout.dims[d];
      y += i * layout.strides[0][d];
      x += i * layout.strides[1][d];
    }
    row(y, x, n, layout.strides[0].back(), layout.strides[1].back());
  }
}

template <typename T, bool kMax>
std::unique_ptr<OpKernel> minmax_kernel(std::string name, std::vector<StridedLayout> layouts, bool empty) {
  return make_kernel(std::move(name), [layouts = std::move(layouts), empty](const ExecContext& ec) {
    if (empty) return;
    T* y = static_cast<T*>(ec.outputs[0]);
    for (size_t k = 0; k < layouts.size(); ++k) {
      const T* x = static_cast<const T*>(ec.inputs[k]);
      for_each_row(layouts[k], [&](int64_t yo, int64_t xo, int64_t n, int64_t ys, int64_t xs) {
        for (int64_t i = 0; i < n; ++i) {
          const T v = x[xo + i * xs];
          T& out = y[yo + i * ys];
          if (k == 0) {
            out = v;
            continue;
          }
          bool take = kMax ? v > out : v < out;
          if constexpr (std::is_floating_point_v<T>) take = take || std::isnan(v);  // NaN propagates
          if (take) out = v;
        }
      });
    }
  });
}

template <bool kMax>
Result<std::unique_ptr<OpKernel>> prepare_minmax(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, SIZE_MAX, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const DType dtype = ctx.inputs[0]->dtype;
  std::vector<int64_t> out_shape = ctx.inputs[0]->shape;
  for (size_t k = 0; k < ctx.inputs.size(); ++k) {
    const TensorDesc* t = ctx.inputs[k];
    if (t == nullptr) return ctx.error(Status::kBadModel, "input " + std::to_string(k) + " is missing");
    PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *t, "input", {DType::kFloat32, DType::kInt64, DType::kInt32,
                                                           DType::kInt8, DType::kUInt8}));
    if (t->dtype != dtype) return ctx.error(Status::kBadModel, "inputs must have one dtype");
    if (!broadcast_shapes(out_shape, t->shape, &out_shape))
      return ctx.error(Status::kBadModel, "input " + std::to_string(k) + " shape " + shape_str(t->shape) +
                                              " does not broadcast to " + shape_str(out_shape));
  }
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, dtype, out_shape));
  std::vector<StridedLayout> layouts;
  for (const TensorDesc* t : ctx.inputs) {
    StridedLayout layout{out_shape, {contiguous_strides(out_shape), broadcast_strides(t->shape, out_shape)}};
    simplify_layout(&layout);
    layouts.push_back(std::move(layout));
  }
  const bool empty = num_elements(out_shape) == 0;
  std::string name = std::string(dtype_tag(dtype)) + (kMax ? "_max" : "_min") + "_ref__scalar";
  switch (dtype) {
    case DType::kFloat32: return minmax_kernel<float, kMax>(std::move(name), std::move(layouts), empty);
    case DType::kInt64: return minmax_kernel<int64_t, kMax>(std::move(name), std::move(layouts), empty);
    case DType::kInt32: return minmax_kernel<int32_t, kMax>(std::move(name), std::move(layouts), empty);
    case DType::kInt8: return minmax_kernel<int8_t, kMax>(std::move(name), std::move(layouts), empty);
    default: return minmax_kernel<uint8_t, kMax>(std::move(name), std::move(layouts), empty);
  }
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_Max(const PrepareContext& ctx) { return prepare_minmax<true>(ctx); }

Result<std::unique_ptr<OpKernel>> prepare_Min(const PrepareContext& ctx) { return prepare_minmax<false>(ctx); }

}  // namespace pare::rt::ops
