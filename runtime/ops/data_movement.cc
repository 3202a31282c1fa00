// Ops that move elements without looking at them: Transpose, Concat, Split, Slice, Gather,
// GatherElements, Tile.
// Kernels work per element size, so every dtype is supported.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/kernels/transpose/transpose.h"
#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"
#include "runtime/ops/parallel.h"

namespace pare::rt::ops {

namespace {

// Concat and Split copy rows at several bytes per nanosecond: below this a pool dispatch
// (0.7 us) costs more than it saves.
constexpr size_t kCopyParallelMinBytes = size_t{1} << 18;

int64_t product(const std::vector<int64_t>& shape, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t d = begin; d < end; ++d) p *= shape[d];
  return p;
}

std::string kernel_name(const TensorDesc& x, const char* op) {
  return std::string(size_tag(dtype_size(x.dtype))) + "_" + op + "_ref__scalar";
}

// GatherElements on elements of T (any dtype of that size) with indices of I: walks the
// output (the indices' shape) in row-major order. An index out of range stops the run with
// an error in ec.status, as indices are data only known when running.
template <typename T, typename I>
std::unique_ptr<OpKernel> gather_elements_kernel(std::string name, std::string where, std::vector<int64_t> shape,
                                                 std::vector<int64_t> data_strides, size_t axis, int64_t dim) {
  return make_kernel(std::move(name), [=](const ExecContext& ec) {
    const T* x = static_cast<const T*>(ec.inputs[0]);
    const I* indices = static_cast<const I*>(ec.inputs[1]);
    T* y = static_cast<T*>(ec.outputs[0]);
    const int64_t n = num_elements(shape);
    for (int64_t k = 0; k < n; ++k) {
      int64_t index = indices[k];
      if (index < -dim || index >= dim) {
        if (ec.status)
          *ec.status = Status(Status::kInvalidArgument, where + ": index " + std::to_string(index) +
                                                            " is out of range for axis " + std::to_string(axis) +
                                                            " of size " + std::to_string(dim));
        return;
      }
      if (index < 0) index += dim;
      int64_t at = 0, rest = k;
      for (size_t d = shape.size(); d-- > 0;) {
        at += (d == axis ? index : rest % shape[d]) * data_strides[d];
        rest /= shape[d];
      }
      y[k] = x[at];
    }
  });
}

template <typename T>
Result<std::unique_ptr<OpKernel>> gather_elements_for(const PrepareContext& ctx, std::string name, size_t axis) {
  const TensorDesc& x = *ctx.inputs[0];
  const TensorDesc& indices = *ctx.inputs[1];
  std::string where = ctx.op + " '" + ctx.node_name + "'";
  std::vector<int64_t> strides = contiguous_strides(x.shape);
  if (indices.dtype == DType::kInt64)
    return gather_elements_kernel<T, int64_t>(std::move(name), std::move(where), indices.shape, std::move(strides),
                                              axis, x.shape[axis]);
  return gather_elements_kernel<T, int32_t>(std::move(name), std::move(where), indices.shape, std::move(strides),
                                            axis, x.shape[axis]);
}

// Slice bounds along one axis: the first index and the count visited with `step`, after
// ONNX's rules (negative values count from the end, then clamp to the axis).
void slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t* first,
                int64_t* count) {
  if (dim == 0) {
    *first = 0;
    *count = 0;
    return;
  }
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    *count = end > start ? (end - start - 1) / step + 1 : 0;
  } else {
    // Walking backwards the first index is at most dim - 1 and the end may be -1
    // (one before index 0). -INT64_MIN does not exist; INT64_MAX divides alike here.
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    const int64_t back = step == INT64_MIN ? INT64_MAX : -step;
    *count = start > end ? (start - end - 1) / back + 1 : 0;
  }
  *first = start;
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_Transpose(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 1, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_known_dtype(ctx, x, "input 0"));
  bool has_perm = false;
  std::vector<int64_t> perm;
  PARE_RT_RETURN_IF_ERROR(ints_attr(ctx, "perm", &has_perm, &perm));
  if (!has_perm) {
    for (size_t d = x.rank(); d-- > 0;) perm.push_back(static_cast<int64_t>(d));
  }
  std::vector<bool> seen(x.rank(), false);
  bool valid = perm.size() == x.rank();
  for (size_t i = 0; valid && i < perm.size(); ++i) {
    valid = perm[i] >= 0 && perm[i] < static_cast<int64_t>(x.rank()) &&
            !seen[static_cast<size_t>(perm[i])];
    if (valid) seen[static_cast<size_t>(perm[i])] = true;
  }
  if (!valid)
    return ctx.error(Status::kBadModel, "perm " + shape_str(perm) +
                                            " is not a permutation of the dims of rank " +
                                            std::to_string(x.rank()));
  const std::vector<int64_t> strides = contiguous_strides(x.shape);
  StridedLayout layout;
  layout.strides.resize(1);
  for (int64_t p : perm) {
    layout.dims.push_back(x.shape[static_cast<size_t>(p)]);
    layout.strides[0].push_back(strides[static_cast<size_t>(p)]);
  }
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, layout.dims));
  const bool empty = x.num_elements() == 0;
  simplify_layout(&layout);
  return make_strided_copy(ctx, "transpose", std::move(layout), 0, empty);
}

Result<std::unique_ptr<OpKernel>> prepare_Slice(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 3, 5, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_known_dtype(ctx, x, "input 0"));
  const auto rank = static_cast<int64_t>(x.rank());
  std::vector<int64_t> starts, ends, raw_axes, axes, steps;
  PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 1, "starts", &starts));
  PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 2, "ends", &ends));
  if (optional_input(ctx, 3) != nullptr) {
    PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 3, "axes", &raw_axes));
  } else {
    for (size_t i = 0; i < starts.size(); ++i) raw_axes.push_back(static_cast<int64_t>(i));
  }
  if (optional_input(ctx, 4) != nullptr) {
    PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 4, "steps", &steps));
  } else {
    steps.assign(starts.size(), 1);
  }
  if (ends.size() != starts.size() || raw_axes.size() != starts.size() ||
      steps.size() != starts.size())
    return ctx.error(Status::kBadModel,
                     "starts, ends, axes and steps must have the same length, got " +
                         std::to_string(starts.size()) + ", " + std::to_string(ends.size()) + ", " +
                         std::to_string(raw_axes.size()) + ", " + std::to_string(steps.size()));
  PARE_RT_RETURN_IF_ERROR(normalize_axes(ctx, raw_axes, rank, &axes));

  const std::vector<int64_t> strides = contiguous_strides(x.shape);
  StridedLayout layout;
  layout.dims = x.shape;
  layout.strides.push_back(strides);
  int64_t offset = 0;
  for (size_t i = 0; i < axes.size(); ++i) {
    if (steps[i] == 0) return ctx.error(Status::kBadModel, "steps must not be 0");
    const auto a = static_cast<size_t>(axes[i]);
    int64_t first = 0, count = 0;
    slice_axis(x.shape[a], starts[i], ends[i], steps[i], &first, &count);
    layout.dims[a] = count;
    // Two or more elements: |step| < dim, so the product stays within the tensor's size.
    layout.strides[0][a] = count > 1 ? strides[a] * steps[i] : 0;
    if (count > 0) offset += first * strides[a];
  }
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, layout.dims));
  const bool empty = num_elements(layout.dims) == 0;
  simplify_layout(&layout);
  return make_strided_copy(ctx, "slice", std::move(layout), offset, empty);
}

Result<std::unique_ptr<OpKernel>> prepare_Concat(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, SIZE_MAX, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& first = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_known_dtype(ctx, first, "input 0"));
  if (ctx.attrs == nullptr || !ctx.attrs->has("axis"))
    return ctx.error(Status::kBadModel, "attribute 'axis' is required");
  int64_t axis = 0;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "axis", 0, &axis));
  PARE_RT_RETURN_IF_ERROR(normalize_axis(ctx, axis, static_cast<int64_t>(first.rank()), &axis));
  const auto a = static_cast<size_t>(axis);

  std::vector<int64_t> shape = first.shape;
  shape[a] = 0;
  CheckedMath m;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const TensorDesc* in = ctx.inputs[i];
    if (in == nullptr)
      return ctx.error(Status::kBadModel, "input " + std::to_string(i) + " is missing");
    bool match = in->dtype == first.dtype && in->rank() == first.rank();
    for (size_t d = 0; match && d < first.rank(); ++d)
      match = d == a || in->shape[d] == first.shape[d];
    if (!match)
      return ctx.error(Status::kBadModel,
                       "input " + std::to_string(i) + " (" + dtype_name(in->dtype) + " " +
                           shape_str(in->shape) + ") does not match input 0 (" +
                           dtype_name(first.dtype) + " " + shape_str(first.shape) +
                           ") outside axis " + std::to_string(axis));
    shape[a] = m.add(shape[a], in->shape[a]);
  }
  if (m.overflow) return ctx.error(Status::kBadModel, "the concatenated axis overflows 64-bit sizes");
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, first.dtype, shape));

  const size_t element = dtype_size(first.dtype);
  const auto outer = static_cast<size_t>(product(shape, 0, a));
  const auto inner = static_cast<size_t>(product(shape, a + 1, shape.size())) * element;
  std::vector<size_t> row_bytes;  // per input: its slab of one outer row
  for (const TensorDesc* in : ctx.inputs)
    row_bytes.push_back(static_cast<size_t>(in->shape[a]) * inner);
  const size_t out_row = static_cast<size_t>(shape[a]) * inner;
  // Large ones split their outer rows among the threads: each copies the rows of every input
  // that the convs before wrote on its own core (SqueezeNet's and GoogLeNet's channel
  // concats: one thread took longer at two threads than alone, reading half from the other
  // core's cache).
  const bool split = outer > 1 && outer * out_row >= kCopyParallelMinBytes;
  return make_kernel(kernel_name(first, "concat"),
                     [outer, row_bytes, out_row, split](const ExecContext& ec) {
                       parallel_for(split ? ec.pool : nullptr, outer, [&](size_t r0, size_t r1) {
                         size_t at = 0;
                         for (size_t i = 0; i < row_bytes.size(); ++i) {
                           if (row_bytes[i] == 0) continue;
                           kernels::copy_rows_ref(r1 - r0, row_bytes[i],
                                                  static_cast<const uint8_t*>(ec.inputs[i]) + r0 * row_bytes[i],
                                                  row_bytes[i], static_cast<uint8_t*>(ec.outputs[0]) + r0 * out_row + at,
                                                  out_row);
                           at += row_bytes[i];
                         }
                       });
                     });
}

Result<std::unique_ptr<OpKernel>> prepare_Split(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 2, 1, SIZE_MAX));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_known_dtype(ctx, x, "input 0"));
  int64_t axis = 0;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "axis", 0, &axis));
  PARE_RT_RETURN_IF_ERROR(normalize_axis(ctx, axis, static_cast<int64_t>(x.rank()), &axis));
  const auto a = static_cast<size_t>(axis);
  const int64_t dim = x.shape[a];
  const size_t n = ctx.outputs.size();
  const bool has_num_outputs = ctx.attrs != nullptr && ctx.attrs->has("num_outputs");
  int64_t num_outputs = 0;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "num_outputs", 0, &num_outputs));

  std::vector<int64_t> sizes;
  if (optional_input(ctx, 1) != nullptr) {
    if (has_num_outputs)
      return ctx.error(Status::kBadModel, "takes either a split input or 'num_outputs', not both");
    PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 1, "split", &sizes));
    CheckedMath m;
    int64_t sum = 0;
    for (int64_t s : sizes) {
      if (s < 0)
        return ctx.error(Status::kBadModel, "split " + shape_str(sizes) + " has a negative size");
      sum = m.add(sum, s);
    }
    if (sizes.size() != n || sum != dim || m.overflow)
      return ctx.error(Status::kBadModel, "split " + shape_str(sizes) + " does not cut axis " +
                                              std::to_string(axis) + " of size " +
                                              std::to_string(dim) + " into " + std::to_string(n) +
                                              " outputs");
  } else {
    if (has_num_outputs && num_outputs != static_cast<int64_t>(n))
      return ctx.error(Status::kBadModel, "num_outputs is " + std::to_string(num_outputs) +
                                              " but the node has " + std::to_string(n) +
                                              " outputs");
    // Opset 18: chunks of ceil(dim / n), the last one smaller when n does not divide dim.
    const auto parts = static_cast<int64_t>(n);
    const int64_t chunk = (dim + parts - 1) / parts;
    int64_t left = dim;
    for (size_t i = 0; i < n; ++i) {
      sizes.push_back(std::min(chunk, left));
      left -= sizes.back();
    }
  }

  std::vector<int64_t> shape = x.shape;
  for (size_t i = 0; i < n; ++i) {
    shape[a] = sizes[i];
    PARE_RT_RETURN_IF_ERROR(check_output(ctx, i, x.dtype, shape));
  }
  const size_t element = dtype_size(x.dtype);
  const auto outer = static_cast<size_t>(product(x.shape, 0, a));
  const auto inner = static_cast<size_t>(product(x.shape, a + 1, x.rank())) * element;
  std::vector<size_t> row_bytes;
  for (int64_t s : sizes) row_bytes.push_back(static_cast<size_t>(s) * inner);
  const size_t in_row = static_cast<size_t>(dim) * inner;
  const bool split = outer > 1 && outer * in_row >= kCopyParallelMinBytes;  // as Concat's
  return make_kernel(kernel_name(x, "split"), [outer, row_bytes, in_row, split](const ExecContext& ec) {
    parallel_for(split ? ec.pool : nullptr, outer, [&](size_t r0, size_t r1) {
      size_t at = 0;
      for (size_t i = 0; i < row_bytes.size(); ++i) {
        if (row_bytes[i] == 0) continue;
        kernels::copy_rows_ref(r1 - r0, row_bytes[i], static_cast<const uint8_t*>(ec.inputs[0]) + r0 * in_row + at,
                               in_row, static_cast<uint8_t*>(ec.outputs[i]) + r0 * row_bytes[i], row_bytes[i]);
        at += row_bytes[i];
      }
    });
  });
}

Result<std::unique_ptr<OpKernel>> prepare_Gather(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  const TensorDesc& indices = *ctx.inputs[1];
  PARE_RT_RETURN_IF_ERROR(check_known_dtype(ctx, x, "input 0"));
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, indices, "indices", {DType::kInt64, DType::kInt32}));
  int64_t axis = 0;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "axis", 0, &axis));
  PARE_RT_RETURN_IF_ERROR(normalize_axis(ctx, axis, static_cast<int64_t>(x.rank()), &axis));
  const auto a = static_cast<size_t>(axis);
  const int64_t dim = x.shape[a];

  // Constant indices are checked now; others (token ids from an input) when running: an
  // index out of range stops the run with an error naming it.
  if (indices.constant != nullptr) {
    for (int64_t v : const_int_values(indices))
      if (v < -dim || v >= dim)
        return ctx.error(Status::kBadModel,
                         "index " + std::to_string(v) + " is out of range for axis " +
                             std::to_string(axis) + " of size " + std::to_string(dim));
  }

  std::vector<int64_t> shape(x.shape.begin(), x.shape.begin() + axis);
  shape.insert(shape.end(), indices.shape.begin(), indices.shape.end());
  shape.insert(shape.end(), x.shape.begin() + axis + 1, x.shape.end());
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, shape));

  const auto outer = static_cast<size_t>(product(x.shape, 0, a));
  const auto inner = static_cast<size_t>(product(x.shape, a + 1, x.rank())) * dtype_size(x.dtype);
  const auto count = static_cast<size_t>(indices.num_elements());
  const bool empty = num_elements(shape) == 0;
  const bool checked = indices.constant == nullptr;
  const std::string where = ctx.op + " '" + ctx.node_name + "'";
  auto run = [=](const ExecContext& ec, auto* idx) {
    if (empty) return;
    if (checked)
      for (size_t i = 0; i < count; ++i)
        if (idx[i] < -dim || idx[i] >= dim) {
          if (ec.status)
            *ec.status = Status(Status::kInvalidArgument, where + ": index " + std::to_string(idx[i]) +
                                                              " is out of range for axis " + std::to_string(a) +
                                                              " of size " + std::to_string(dim));
          return;
        }
    kernels::gather_ref(outer, dim, inner, ec.inputs[0], idx, count, ec.outputs[0]);
  };
  if (indices.dtype == DType::kInt64)
    return make_kernel(kernel_name(x, "gather"), [run](const ExecContext& ec) {
      run(ec, static_cast<const int64_t*>(ec.inputs[1]));
    });
  return make_kernel(kernel_name(x, "gather"), [run](const ExecContext& ec) {
    run(ec, static_cast<const int32_t*>(ec.inputs[1]));
  });
}

Result<std::unique_ptr<OpKernel>> prepare_GatherElements(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  const TensorDesc& indices = *ctx.inputs[1];
  PARE_RT_RETURN_IF_ERROR(check_known_dtype(ctx, x, "input 0"));
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, indices, "indices", {DType::kInt64, DType::kInt32}));
  if (x.rank() == 0 || indices.rank() != x.rank())
    return ctx.error(Status::kBadModel, "data " + shape_str(x.shape) + " and indices " + shape_str(indices.shape) +
                                            " must have one rank >= 1");
  int64_t axis = 0;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "axis", 0, &axis));
  PARE_RT_RETURN_IF_ERROR(normalize_axis(ctx, axis, static_cast<int64_t>(x.rank()), &axis));
  const auto a = static_cast<size_t>(axis);
  for (size_t d = 0; d < x.rank(); ++d)
    if (d != a && indices.shape[d] > x.shape[d])
      return ctx.error(Status::kBadModel, "indices " + shape_str(indices.shape) + " are larger than data " +
                                              shape_str(x.shape) + " at axis " + std::to_string(d));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, indices.shape));
  std::string name = kernel_name(x, "gather_elements");
  switch (dtype_size(x.dtype)) {
    case 1: return gather_elements_for<uint8_t>(ctx, std::move(name), a);
    case 4: return gather_elements_for<uint32_t>(ctx, std::move(name), a);
    default: return gather_elements_for<uint64_t>(ctx, std::move(name), a);
  }
}

// Tile is a strided view of its input: output axis i, of size r_i * d_i, is the pair
// (repeat, element) with strides (0, input stride).
Result<std::unique_ptr<OpKernel>> prepare_Tile(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_known_dtype(ctx, x, "input 0"));
  std::vector<int64_t> repeats;
  PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 1, "repeats", &repeats));
  if (repeats.size() != x.rank())
    return ctx.error(Status::kBadModel, "repeats has " + std::to_string(repeats.size()) + " values for rank " +
                                            std::to_string(x.rank()));
  const std::vector<int64_t> strides = contiguous_strides(x.shape);
  std::vector<int64_t> out_shape;
  StridedLayout layout;
  layout.strides.resize(1);
  for (size_t d = 0; d < x.rank(); ++d) {
    int64_t size = 0;
    if (repeats[d] < 0 || __builtin_mul_overflow(x.shape[d], repeats[d], &size))
      return ctx.error(Status::kBadModel, "repeats value " + std::to_string(repeats[d]) + " for axis " +
                                              std::to_string(d) + " is negative or too large");
    out_shape.push_back(size);
    layout.dims.insert(layout.dims.end(), {repeats[d], x.shape[d]});
    layout.strides[0].insert(layout.strides[0].end(), {0, strides[d]});
  }
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, out_shape));
  const bool empty = num_elements(out_shape) == 0;
  simplify_layout(&layout);
  return make_strided_copy(ctx, "tile", std::move(layout), 0, empty);
}

}  // namespace pare::rt::ops
