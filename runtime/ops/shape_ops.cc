// Ops that change only the shape or the dtype: Flatten, Reshape, Squeeze, Unsqueeze,
// Identity (their data is copied unchanged), Shape, ConstantOfShape, Expand, Cast, and Range
// (constant inputs: its length decides the output shape).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/kernels/eltwise/eltwise.h"
#include "runtime/kernels/transpose/transpose.h"
#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

// Checks that output 0 is input 0 reshaped to `shape`, and returns a copy kernel.
Result<std::unique_ptr<OpKernel>> make_copy(const PrepareContext& ctx,
                                            const std::vector<int64_t>& shape) {
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_known_dtype(ctx, x, "input 0"));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, shape));
  const size_t bytes = x.byte_size();
  return make_kernel(
      std::string(size_tag(dtype_size(x.dtype))) + "_copy_ref__scalar",
      [bytes](const ExecContext& ec) { kernels::copy_ref(bytes, ec.inputs[0], ec.outputs[0]); });
}

Status check_shape_op(const PrepareContext& ctx, size_t min_inputs, size_t max_inputs) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, min_inputs, max_inputs, 1, 1));
  return check_no_activation(ctx);
}

using ElementFn = void (*)(size_t n, const void* x, void* y);

template <typename From, typename To>
void cast_elements(size_t n, const void* x, void* y) {
  kernels::cast_ref<From, To>(n, static_cast<const From*>(x), static_cast<To*>(y));
}

template <typename From>
void cast_to_bool(size_t n, const void* x, void* y) {
  kernels::cast_to_bool_ref<From>(n, static_cast<const From*>(x), static_cast<uint8_t*>(y));
}

template <typename To>
void cast_from_bool(size_t n, const void* x, void* y) {
  kernels::cast_from_bool_ref<To>(n, static_cast<const uint8_t*>(x), static_cast<To*>(y));
}

template <typename From>
ElementFn cast_from(DType to) {
  switch (to) {
    case DType::kFloat32: return cast_elements<From, float>;
    case DType::kFloat64: return cast_elements<From, double>;
    case DType::kInt64: return cast_elements<From, int64_t>;
    case DType::kInt32: return cast_elements<From, int32_t>;
    case DType::kInt8: return cast_elements<From, int8_t>;
    case DType::kUInt8: return cast_elements<From, uint8_t>;
    case DType::kBool: return cast_to_bool<From>;
    case DType::kUndefined: break;
  }
  return nullptr;
}

// The conversion between two different dtypes.
ElementFn cast_fn(DType from, DType to) {
  switch (from) {
    case DType::kFloat32: return cast_from<float>(to);
    case DType::kFloat64: return cast_from<double>(to);
    case DType::kInt64: return cast_from<int64_t>(to);
    case DType::kInt32: return cast_from<int32_t>(to);
    case DType::kInt8: return cast_from<int8_t>(to);
    case DType::kUInt8: return cast_from<uint8_t>(to);
    case DType::kBool:
      switch (to) {
        case DType::kFloat32: return cast_from_bool<float>;
        case DType::kFloat64: return cast_from_bool<double>;
        case DType::kInt64: return cast_from_bool<int64_t>;
        case DType::kInt32: return cast_from_bool<int32_t>;
        case DType::kInt8: return cast_from_bool<int8_t>;
        case DType::kUInt8: return cast_from_bool<uint8_t>;
        default: return nullptr;
      }
    case DType::kUndefined: break;
  }
  return nullptr;
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_Identity(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_shape_op(ctx, 1, 1));
  return make_copy(ctx, ctx.inputs[0]->shape);
}

Result<std::unique_ptr<OpKernel>> prepare_Flatten(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_shape_op(ctx, 1, 1));
  const TensorDesc& x = *ctx.inputs[0];
  const auto rank = static_cast<int64_t>(x.rank());
  int64_t axis = 1;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "axis", 1, &axis));
  // Flatten's axis may also be `rank` (everything goes to the outer dim).
  if (axis < -rank || axis > rank)
    return ctx.error(Status::kBadModel, "axis " + std::to_string(axis) +
                                            " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[static_cast<size_t>(d)];
  int64_t inner = 1;
  for (int64_t d = axis; d < rank; ++d) inner *= x.shape[static_cast<size_t>(d)];
  return make_copy(ctx, {outer, inner});
}

Result<std::unique_ptr<OpKernel>> prepare_Reshape(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_shape_op(ctx, 2, 2));
  const TensorDesc& x = *ctx.inputs[0];
  int64_t allowzero = 0;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "allowzero", 0, &allowzero));
  std::vector<int64_t> shape;
  PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 1, "shape", &shape));

  int64_t infer = -1;  // position of the -1, if any
  int64_t known = 1;   // product of the other dims
  CheckedMath m;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && allowzero == 0) {
      if (i >= x.rank())
        return ctx.error(Status::kBadModel, "shape " + shape_str(shape) + " copies dim " +
                                                std::to_string(i) + " of an input of rank " +
                                                std::to_string(x.rank()));
      shape[i] = x.shape[i];
    } else if (shape[i] == -1) {
      if (infer >= 0)
        return ctx.error(Status::kBadModel, "shape " + shape_str(shape) + " has more than one -1");
      infer = static_cast<int64_t>(i);
      continue;
    } else if (shape[i] < 0) {
      return ctx.error(Status::kBadModel, "shape " + shape_str(shape) + " has a negative dim");
    }
    known = m.mul(known, shape[i]);
  }
  const int64_t total = x.num_elements();
  if (m.overflow)
    return ctx.error(Status::kBadModel, "shape " + shape_str(shape) + " overflows 64-bit sizes");
  if (infer >= 0) {
    if (known == 0 || total % known != 0)
      return ctx.error(Status::kBadModel, "cannot reshape " + shape_str(x.shape) + " to " +
                                              shape_str(shape) + ": -1 has no whole size");
    shape[static_cast<size_t>(infer)] = total / known;
  } else if (known != total) {
    return ctx.error(Status::kBadModel, "cannot reshape " + shape_str(x.shape) + " (" +
                                            std::to_string(total) + " elements) to " +
                                            shape_str(shape));
  }
  return make_copy(ctx, shape);
}

Result<std::unique_ptr<OpKernel>> prepare_Squeeze(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_shape_op(ctx, 1, 2));
  const TensorDesc& x = *ctx.inputs[0];
  const auto rank = static_cast<int64_t>(x.rank());
  std::vector<bool> drop(x.rank(), false);
  if (optional_input(ctx, 1) != nullptr) {
    std::vector<int64_t> raw, axes;
    PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 1, "axes", &raw));
    PARE_RT_RETURN_IF_ERROR(normalize_axes(ctx, raw, rank, &axes));
    for (int64_t a : axes) {
      if (x.shape[static_cast<size_t>(a)] != 1)
        return ctx.error(Status::kBadModel, "cannot squeeze axis " + std::to_string(a) +
                                                " of shape " + shape_str(x.shape) +
                                                ": its size is not 1");
      drop[static_cast<size_t>(a)] = true;
    }
  } else {
    for (size_t d = 0; d < x.rank(); ++d) drop[d] = x.shape[d] == 1;
  }
  std::vector<int64_t> shape;
  for (size_t d = 0; d < x.rank(); ++d)
    if (!drop[d]) shape.push_back(x.shape[d]);
  return make_copy(ctx, shape);
}

Result<std::unique_ptr<OpKernel>> prepare_Unsqueeze(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_shape_op(ctx, 2, 2));
  const TensorDesc& x = *ctx.inputs[0];
  std::vector<int64_t> raw, axes;
  PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 1, "axes", &raw));
  const auto out_rank = static_cast<int64_t>(x.rank() + raw.size());
  PARE_RT_RETURN_IF_ERROR(normalize_axes(ctx, raw, out_rank, &axes));
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : axes) inserted[static_cast<size_t>(a)] = true;
  std::vector<int64_t> shape;
  size_t next = 0;
  for (size_t d = 0; d < inserted.size(); ++d) shape.push_back(inserted[d] ? 1 : x.shape[next++]);
  return make_copy(ctx, shape);
}

Result<std::unique_ptr<OpKernel>> prepare_Shape(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_shape_op(ctx, 1, 1));
  const TensorDesc& x = *ctx.inputs[0];
  const auto rank = static_cast<int64_t>(x.rank());
  int64_t start = 0, end = rank;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "start", 0, &start));
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "end", rank, &end));
  // Negative values count from the end; both clamp to [0, rank].
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  std::vector<int64_t> dims(x.shape.begin() + start, x.shape.begin() + std::max(start, end));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, DType::kInt64, {static_cast<int64_t>(dims.size())}));
  return make_kernel("i64_shape_ref__scalar", [dims](const ExecContext& ec) {
    kernels::copy_ref(dims.size() * sizeof(int64_t), dims.data(), ec.outputs[0]);
  });
}

Result<std::unique_ptr<OpKernel>> prepare_ConstantOfShape(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_shape_op(ctx, 1, 1));
  std::vector<int64_t> shape;
  PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 0, "shape", &shape));
  for (int64_t d : shape)
    if (d < 0)
      return ctx.error(Status::kBadModel, "shape " + shape_str(shape) + " has a negative dim");
  int64_t dtype_attr = 1;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "dtype", 1, &dtype_attr));
  const auto dtype_value = static_cast<int32_t>(dtype_attr);
  if (dtype_value != dtype_attr || !dtype_valid(dtype_value))
    return ctx.error(Status::kUnsupported,
                     "dtype " + dtype_label(dtype_value) + " is not supported");
  const auto dtype = static_cast<DType>(dtype_value);
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, dtype, shape));

  // The fill value as the bit pattern of one element.
  const bool is_float = dtype == DType::kFloat32 || dtype == DType::kFloat64;
  float f = 0.f;
  int64_t i = 0;
  if (is_float) {
    PARE_RT_RETURN_IF_ERROR(float_attr(ctx, "value", 0.f, &f));
  } else {
    PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "value", 0, &i));
  }
  uint64_t bits = 0;
  switch (dtype) {
    case DType::kFloat32: std::memcpy(&bits, &f, sizeof(f)); break;
    case DType::kFloat64: {
      const double d = f;
      std::memcpy(&bits, &d, sizeof(d));
      break;
    }
    case DType::kBool: bits = i != 0 ? 1 : 0; break;
    default: bits = static_cast<uint64_t>(i); break;  // low bytes: two's complement
  }
  const auto n = static_cast<size_t>(num_elements(shape));
  const size_t element_bytes = dtype_size(dtype);
  const std::string name = std::string(size_tag(element_bytes)) + "_fill_ref__scalar";
  switch (element_bytes) {
    case 1:
      return make_kernel(name, [n, bits](const ExecContext& ec) {
        kernels::fill_ref(n, static_cast<uint8_t>(bits), static_cast<uint8_t*>(ec.outputs[0]));
      });
    case 4:
      return make_kernel(name, [n, bits](const ExecContext& ec) {
        kernels::fill_ref(n, static_cast<uint32_t>(bits), static_cast<uint32_t*>(ec.outputs[0]));
      });
    default:
      return make_kernel(name, [n, bits](const ExecContext& ec) {
        kernels::fill_ref(n, bits, static_cast<uint64_t*>(ec.outputs[0]));
      });
  }
}

Result<std::unique_ptr<OpKernel>> prepare_Cast(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_shape_op(ctx, 1, 1));
  const TensorDesc& x = *ctx.inputs[0];
  if (!ctx.attrs || !ctx.attrs->has("to"))
    return ctx.error(Status::kBadModel, "attribute 'to' is required");
  int64_t to_attr = 0;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "to", 0, &to_attr));
  const auto to_value = static_cast<int32_t>(to_attr);
  if (to_value != to_attr || !dtype_valid(to_value))
    return ctx.error(Status::kUnsupported,
                     "cast to " + dtype_label(to_value) + " is not supported");
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input 0",
                                      {DType::kFloat32, DType::kFloat64, DType::kInt64,
                                       DType::kInt32, DType::kInt8, DType::kUInt8, DType::kBool}));
  const auto to = static_cast<DType>(to_value);
  if (to == x.dtype) return make_copy(ctx, x.shape);
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, to, x.shape));
  const ElementFn fn = cast_fn(x.dtype, to);
  if (fn == nullptr)
    return ctx.error(Status::kUnsupported, std::string("cast from ") + dtype_name(x.dtype) +
                                               " to " + dtype_name(to) + " is not supported");
  const auto n = static_cast<size_t>(x.num_elements());
  return make_kernel(std::string(dtype_tag(x.dtype)) + "_" + dtype_tag(to) + "_cast_ref__scalar",
                     [fn, n](const ExecContext& ec) { fn(n, ec.inputs[0], ec.outputs[0]); });
}

Result<std::unique_ptr<OpKernel>> prepare_Expand(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_shape_op(ctx, 2, 2));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_known_dtype(ctx, x, "input 0"));
  std::vector<int64_t> target, shape;
  PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 1, "shape", &target));
  if (!broadcast_shapes(x.shape, target, &shape))
    return ctx.error(Status::kBadModel,
                     "cannot expand shape " + shape_str(x.shape) + " to " + shape_str(target));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, shape));
  StridedLayout layout;
  layout.dims = shape;
  layout.strides.push_back(broadcast_strides(x.shape, shape));
  simplify_layout(&layout);
  return make_strided_copy(ctx, "expand", layout, 0, num_elements(shape) == 0);
}

namespace {

// A scalar constant input of Range as T.
template <typename T>
Status range_value(const PrepareContext& ctx, size_t i, T* out) {
  const TensorDesc& t = *ctx.inputs[i];
  if (t.constant == nullptr)
    return ctx.error(Status::kUnsupported, "input " + std::to_string(i) +
                                               " must be a constant: output shapes are fixed when the model loads");
  if (t.num_elements() != 1) return ctx.error(Status::kBadModel, "input " + std::to_string(i) + " must be a scalar");
  std::memcpy(out, t.constant, sizeof(T));
  return Status::ok();
}

// start + i * delta for i < max(ceil((limit - start) / delta), 0).
template <typename T>
Result<std::unique_ptr<OpKernel>> prepare_range(const PrepareContext& ctx) {
  T start, limit, delta;
  PARE_RT_RETURN_IF_ERROR(range_value(ctx, 0, &start));
  PARE_RT_RETURN_IF_ERROR(range_value(ctx, 1, &limit));
  PARE_RT_RETURN_IF_ERROR(range_value(ctx, 2, &delta));
  if (delta == 0) return ctx.error(Status::kBadModel, "delta is 0");
  int64_t count = 0;
  if constexpr (std::is_floating_point_v<T>) {
    const double n = std::ceil((static_cast<double>(limit) - start) / delta);
    if (!(n < 9.0e15)) return ctx.error(Status::kBadModel, "the range has too many elements");
    count = n > 0 ? static_cast<int64_t>(n) : 0;
  } else {
    const __int128 span = static_cast<__int128>(limit) - start;
    const __int128 n = span / delta + (span % delta != 0 && (span < 0) == (delta < 0) ? 1 : 0);
    if (n > (__int128{1} << 62)) return ctx.error(Status::kBadModel, "the range has too many elements");
    count = n > 0 ? static_cast<int64_t>(n) : 0;
  }
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, ctx.inputs[0]->dtype, {count}));
  return make_kernel(std::string(dtype_tag(ctx.inputs[0]->dtype)) + "_range_ref__scalar",
                     [start, delta, count](const ExecContext& ec) {
                       T* y = static_cast<T*>(ec.outputs[0]);
                       for (int64_t i = 0; i < count; ++i) {
                         // Integers step in 128 bits: i * delta may leave T's range on the way.
                         if constexpr (std::is_floating_point_v<T>)
                           y[i] = start + static_cast<T>(i) * delta;
                         else
                           y[i] = static_cast<T>(static_cast<__int128>(start) + static_cast<__int128>(i) * delta);
                       }
                     });
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_Range(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_shape_op(ctx, 3, 3));
  const DType dtype = ctx.inputs[0]->dtype;
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *ctx.inputs[0], "input 0", {DType::kFloat32, DType::kInt64, DType::kInt32}));
  for (size_t i = 1; i < 3; ++i)
    if (ctx.inputs[i]->dtype != dtype) return ctx.error(Status::kBadModel, "inputs must have one dtype");
  if (dtype == DType::kFloat32) return prepare_range<float>(ctx);
  if (dtype == DType::kInt32) return prepare_range<int32_t>(ctx);
  return prepare_range<int64_t>(ctx);
}

}  // namespace pare::rt::ops
