// ScatterND: the output is the data with slices replaced (or combined with `reduction`) by
// the updates at the index tuples. Exporters write it for in-place writes into tensors
// (attention masks built slice by slice); on constants it folds away at conversion.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

template <typename T>
T combine(Reduction r, T a, T b) {
  switch (r) {
    case Reduction::kAdd: return static_cast<T>(a + b);
    case Reduction::kMul: return static_cast<T>(a * b);
    case Reduction::kMax: return std::max(a, b);
    case Reduction::kMin: return std::min(a, b);
    case Reduction::kNone: break;
  }
  return b;
}

// T: the element type (any dtype of its size for kNone). Index tuples out of range stop the
// run with an error, as indices are data only known when running.
template <typename T>
std::unique_ptr<OpKernel> scatter_nd_kernel(std::string name, std::string where, std::vector<int64_t> data_shape,
                                            int64_t tuples, size_t k, Reduction reduction) {
  int64_t slice = 1;
  for (size_t d = k; d < data_shape.size(); ++d) slice *= data_shape[d];
  int64_t total = slice;
  for (size_t d = 0; d < k; ++d) total *= data_shape[d];
  return make_kernel(std::move(name), [=](const ExecContext& ec) {
    const T* x = static_cast<const T*>(ec.inputs[0]);
    const int64_t* indices = static_cast<const int64_t*>(ec.inputs[1]);
    const T* updates = static_cast<const T*>(ec.inputs[2]);
    T* y = static_cast<T*>(ec.outputs[0]);
    if (y != x) std::memcpy(y, x, static_cast<size_t>(total) * sizeof(T));
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t at = 0;
      for (size_t d = 0; d < k; ++d) {
        int64_t i = indices[t * static_cast<int64_t>(k) + static_cast<int64_t>(d)];
        const int64_t dim = data_shape[d];
        if (i < -dim || i >= dim) {
          if (ec.status)
            *ec.status = Status(Status::kInvalidArgument, where + ": index " + std::to_string(i) +
                                                              " is out of range for axis " + std::to_string(d) +
                                                              " of size " + std::to_string(dim));
          return;
        }
        at = at * dim + (i < 0 ? i + dim : i);
      }
      T* dst = y + at * slice;
      const T* src = updates + t * slice;
      if (reduction == Reduction::kNone) {
        std::memcpy(dst, src, static_cast<size_t>(slice) * sizeof(T));
      } else {
        for (int64_t e = 0; e < slice; ++e) dst[e] = combine(reduction, dst[e], src[e]);
      }
    }
  });
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_ScatterND(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 3, 3, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  const TensorDesc& indices = *ctx.inputs[1];
  const TensorDesc& updates = *ctx.inputs[2];
  PARE_RT_RETURN_IF_ERROR(check_known_dtype(ctx, x, "data"));
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, indices, "indices", {DType::kInt64}));
  if (updates.dtype != x.dtype)
    return ctx.error(Status::kBadModel, std::string("updates are ") + dtype_name(updates.dtype) + ", data " +
                                            dtype_name(x.dtype));
  if (x.rank() == 0 || indices.rank() == 0)
    return ctx.error(Status::kBadModel, "data and indices must have rank >= 1");
  const auto k = static_cast<size_t>(indices.shape.back());
  if (k < 1 || k > x.rank())
    return ctx.error(Status::kBadModel, "index tuples of " + std::to_string(k) + " values for data of rank " +
                                            std::to_string(x.rank()));
  // updates = indices.shape[:-1] + data.shape[k:]
  std::vector<int64_t> want(indices.shape.begin(), indices.shape.end() - 1);
  want.insert(want.end(), x.shape.begin() + static_cast<std::ptrdiff_t>(k), x.shape.end());
  if (updates.shape != want)
    return ctx.error(Status::kBadModel, "updates " + shape_str(updates.shape) + " must be " + shape_str(want));
  std::string r;
  PARE_RT_RETURN_IF_ERROR(string_attr(ctx, "reduction", "none", &r));
  Reduction reduction = Reduction::kNone;
  if (r == "add") reduction = Reduction::kAdd;
  else if (r == "mul") reduction = Reduction::kMul;
  else if (r == "max") reduction = Reduction::kMax;
  else if (r == "min") reduction = Reduction::kMin;
  else if (r != "none") return ctx.error(Status::kUnsupported, "reduction '" + r + "' is not supported");
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, x.shape));
  const int64_t tuples = num_elements(indices.shape) / static_cast<int64_t>(k);
  std::string where = ctx.op + " '" + ctx.node_name + "'";
  std::string name = std::string(dtype_tag(x.dtype)) + "_scatter_nd" + (r == "none" ? "" : "_" + r) + "_ref__scalar";
  if (reduction == Reduction::kNone) {
    switch (dtype_size(x.dtype)) {
      case 1: return scatter_nd_kernel<uint8_t>(std::move(name), std::move(where), x.shape, tuples, k, reduction);
      case 4: return scatter_nd_kernel<uint32_t>(std::move(name), std::move(where), x.shape, tuples, k, reduction);
      default: return scatter_nd_kernel<uint64_t>(std::move(name), std::move(where), x.shape, tuples, k, reduction);
    }
  }
  switch (x.dtype) {
    case DType::kFloat32: return scatter_nd_kernel<float>(std::move(name), std::move(where), x.shape, tuples, k, reduction);
    case DType::kInt32: return scatter_nd_kernel<int32_t>(std::move(name), std::move(where), x.shape, tuples, k, reduction);
    case DType::kInt64: return scatter_nd_kernel<int64_t>(std::move(name), std::move(where), x.shape, tuples, k, reduction);
    default: return ctx.error(Status::kUnsupported, "reduction '" + r + "' on " + dtype_name(x.dtype));
  }
}

}  // namespace pare::rt::ops
