// CumSum: running sums along one axis (a constant input), optionally exclusive (each output
// leaves out its own element) and reversed (summing from the end).
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

// a + b in T; integers wrap around (in unsigned arithmetic: signed overflow is undefined).
template <typename T>
T add(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a + b;
  } else {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  }
}

// x viewed as [outer, dim, inner]; sums in T, as ONNX defines them.
template <typename T>
std::unique_ptr<OpKernel> cumsum_kernel(std::string name, size_t outer, size_t dim, size_t inner, bool exclusive,
                                        bool reverse) {
  return make_kernel(std::move(name), [=](const ExecContext& ec) {
    const T* x = static_cast<const T*>(ec.inputs[0]);
    T* y = static_cast<T*>(ec.outputs[0]);
    for (size_t o = 0; o < outer; ++o) {
      for (size_t i = 0; i < inner; ++i) {
        const size_t base = o * dim * inner + i;
        T sum = 0;
        for (size_t s = 0; s < dim; ++s) {
          const size_t at = base + (reverse ? dim - 1 - s : s) * inner;
          if (exclusive) {
            y[at] = sum;
            sum = add(sum, x[at]);
          } else {
            sum = add(sum, x[at]);
            y[at] = sum;
          }
        }
      }
    }
  });
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_CumSum(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input 0", {DType::kFloat32, DType::kInt64, DType::kInt32}));
  std::vector<int64_t> axis_values;
  PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 1, "axis", &axis_values));
  if (axis_values.size() != 1) return ctx.error(Status::kBadModel, "axis must hold one value");
  int64_t axis = 0, exclusive = 0, reverse = 0;
  PARE_RT_RETURN_IF_ERROR(normalize_axis(ctx, axis_values[0], static_cast<int64_t>(x.rank()), &axis));
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "exclusive", 0, &exclusive));
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "reverse", 0, &reverse));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, x.shape));
  const auto a = static_cast<size_t>(axis);
  const auto outer = static_cast<size_t>(num_elements({x.shape.begin(), x.shape.begin() + axis}));
  const auto inner = static_cast<size_t>(num_elements({x.shape.begin() + axis + 1, x.shape.end()}));
  const auto dim = static_cast<size_t>(x.shape[a]);
  std::string name = std::string(dtype_tag(x.dtype)) + "_cumsum_ref__scalar";
  if (x.dtype == DType::kFloat32)
    return cumsum_kernel<float>(std::move(name), outer, dim, inner, exclusive != 0, reverse != 0);
  if (x.dtype == DType::kInt32)
    return cumsum_kernel<int32_t>(std::move(name), outer, dim, inner, exclusive != 0, reverse != 0);
  return cumsum_kernel<int64_t>(std::move(name), outer, dim, inner, exclusive != 0, reverse != 0);
}

}  // namespace pare::rt::ops
