#include "runtime/ops/common.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "runtime/kernels/transpose/transpose.h"
#include "runtime/ops/parallel.h"

namespace pare::rt::ops {

namespace {

const char* attr_type_name(Attribute::Type t) {
  switch (t) {
    case Attribute::kInt: return "int";
    case Attribute::kFloat: return "float";
    case Attribute::kString: return "string";
    case Attribute::kInts: return "ints";
    case Attribute::kFloats: return "floats";
  }
  return "unknown";
}

// The attribute `name` if present; an error if it has a type other than `type`.
Status find_attr(const PrepareContext& ctx, const char* name, Attribute::Type type,
                 const Attribute** out) {
  *out = ctx.attrs ? ctx.attrs->find(name) : nullptr;
  if (*out && (*out)->type != type)
    return ctx.error(Status::kBadModel, std::string("attribute '") + name + "' must be " +
                                            attr_type_name(type) + ", got " +
                                            attr_type_name((*out)->type));
  return Status::ok();
}

// "2", "1 to 3" or "at least 1" (SIZE_MAX: no upper bound).
std::string count_range(size_t min, size_t max) {
  if (min == max) return std::to_string(min);
  if (max == SIZE_MAX) return "at least " + std::to_string(min);
  return std::to_string(min) + " to " + std::to_string(max);
}

std::string tensor_label(const TensorDesc& t) {
  return t.name.empty() ? std::string() : " '" + t.name + "'";
}

}  // namespace

const TensorDesc* optional_input(const PrepareContext& ctx, size_t i) {
  return i < ctx.inputs.size() ? ctx.inputs[i] : nullptr;
}

Status check_arity(const PrepareContext& ctx, size_t min_inputs, size_t max_inputs,
                   size_t min_outputs, size_t max_outputs) {
  // Trailing omitted inputs do not count: a list may end with null entries.
  size_t n_inputs = ctx.inputs.size();
  while (n_inputs > 0 && ctx.inputs[n_inputs - 1] == nullptr) --n_inputs;
  if (n_inputs < min_inputs || n_inputs > max_inputs) {
    return ctx.error(Status::kBadModel, "takes " + count_range(min_inputs, max_inputs) +
                                            " inputs, got " + std::to_string(n_inputs));
  }
  for (size_t i = 0; i < min_inputs; ++i)
    if (ctx.inputs[i] == nullptr)
      return ctx.error(Status::kBadModel, "input " + std::to_string(i) + " is required");
  if (ctx.outputs.size() < min_outputs || ctx.outputs.size() > max_outputs) {
    // More outputs than this runtime computes: optional outputs of the ONNX op (MaxPool's
    // Indices, BatchNormalization's training statistics) it does not implement.
    const Status::Code code = ctx.outputs.size() > max_outputs ? Status::kUnsupported : Status::kBadModel;
    return ctx.error(code, "has " + count_range(min_outputs, max_outputs) + " outputs, got " +
                               std::to_string(ctx.outputs.size()));
  }
  for (size_t i = 0; i < ctx.outputs.size(); ++i)
    if (ctx.outputs[i] == nullptr)
      return ctx.error(Status::kBadModel, "output " + std::to_string(i) + " is missing");
  return Status::ok();
}

Status check_dtype(const PrepareContext& ctx, const TensorDesc& t, const char* what,
                   std::initializer_list<DType> allowed) {
  if (std::find(allowed.begin(), allowed.end(), t.dtype) != allowed.end()) return Status::ok();
  std::string list;
  for (DType d : allowed) list += std::string(list.empty() ? "" : ", ") + dtype_name(d);
  return ctx.error(Status::kUnsupported, std::string(what) + tensor_label(t) + " has dtype " +
                                             dtype_label(static_cast<int32_t>(t.dtype)) +
                                             "; supported: " + list);
}

Status check_known_dtype(const PrepareContext& ctx, const TensorDesc& t, const char* what) {
  if (dtype_valid(static_cast<int32_t>(t.dtype))) return Status::ok();
  return ctx.error(Status::kUnsupported, std::string(what) + tensor_label(t) + " has dtype " +
                                             dtype_label(static_cast<int32_t>(t.dtype)));
}

Status check_output(const PrepareContext& ctx, size_t i, DType dtype,
                    const std::vector<int64_t>& shape) {
  const TensorDesc& out = *ctx.outputs[i];
  if (out.dtype == dtype && out.shape == shape) return Status::ok();
  return ctx.error(Status::kBadModel,
                   "output " + std::to_string(i) + tensor_label(out) + " is planned as " +
                       dtype_label(static_cast<int32_t>(out.dtype)) + " " + shape_str(out.shape) +
                       " but the op computes " + dtype_label(static_cast<int32_t>(dtype)) + " " +
                       shape_str(shape));
}

Status check_no_activation(const PrepareContext& ctx) {
  if (ctx.activation.kind == ActivationKind::kNone) return Status::ok();
  return ctx.error(Status::kBadModel, "cannot carry a fused activation");
}

Status int_attr(const PrepareContext& ctx, const char* name, int64_t dflt, int64_t* out) {
  const Attribute* a = nullptr;
  PARE_RT_RETURN_IF_ERROR(find_attr(ctx, name, Attribute::kInt, &a));
  *out = a ? a->i : dflt;
  return Status::ok();
}

Status float_attr(const PrepareContext& ctx, const char* name, float dflt, float* out) {
  const Attribute* a = nullptr;
  PARE_RT_RETURN_IF_ERROR(find_attr(ctx, name, Attribute::kFloat, &a));
  *out = a ? a->f : dflt;
  return Status::ok();
}

Status string_attr(const PrepareContext& ctx, const char* name, const std::string& dflt,
                   std::string* out) {
  const Attribute* a = nullptr;
  PARE_RT_RETURN_IF_ERROR(find_attr(ctx, name, Attribute::kString, &a));
  *out = a ? a->s : dflt;
  return Status::ok();
}

Status ints_attr(const PrepareContext& ctx, const char* name, bool* present,
                 std::vector<int64_t>* out) {
  const Attribute* a = nullptr;
  PARE_RT_RETURN_IF_ERROR(find_attr(ctx, name, Attribute::kInts, &a));
  *present = a != nullptr;
  *out = a ? a->ints : std::vector<int64_t>();
  return Status::ok();
}

Status read_const_ints(const PrepareContext& ctx, size_t i, const char* what,
                       std::vector<int64_t>* out) {
  const TensorDesc* t = optional_input(ctx, i);
  if (t == nullptr) return ctx.error(Status::kBadModel, std::string(what) + " input is missing");
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *t, what, {DType::kInt64, DType::kInt32}));
  // An empty tensor has no values to know (and its buffer may well be null).
  if (t->constant == nullptr && t->num_elements() != 0)
    return ctx.error(Status::kUnsupported,
                     std::string(what) + tensor_label(*t) +
                         " must be a constant: output shapes are fixed when the model loads");
  if (t->rank() > 1)
    return ctx.error(Status::kBadModel, std::string(what) + tensor_label(*t) +
                                            " must be a scalar or 1-D, got shape " +
                                            shape_str(t->shape));
  *out = const_int_values(*t);
  return Status::ok();
}

std::vector<int64_t> const_int_values(const TensorDesc& t) {
  const auto n = static_cast<size_t>(t.num_elements());
  std::vector<int64_t> values(n);
  if (n == 0) return values;
  // memcpy: a caller's constant buffer need not be aligned for int64.
  const auto* bytes = static_cast<const uint8_t*>(t.constant);
  for (size_t k = 0; k < n; ++k) {
    if (t.dtype == DType::kInt64) {
      std::memcpy(&values[k], bytes + k * sizeof(int64_t), sizeof(int64_t));
    } else {
      int32_t v;
      std::memcpy(&v, bytes + k * sizeof(int32_t), sizeof(int32_t));
      values[k] = v;
    }
  }
  return values;
}

std::string dtype_label(int32_t onnx_type) {
  if (dtype_valid(onnx_type)) return dtype_name(static_cast<DType>(onnx_type));
  switch (onnx_type) {
    case 4: return "uint16";
    case 5: return "int16";
    case 8: return "string";
    case 10: return "float16";
    case 12: return "uint32";
    case 13: return "uint64";
    case 14: return "complex64";
    case 15: return "complex128";
    case 16: return "bfloat16";
    default: return "unknown dtype " + std::to_string(onnx_type);
  }
}

Status normalize_axis(const PrepareContext& ctx, int64_t axis, int64_t rank, int64_t* out) {
  if (axis < -rank || axis >= rank)
    return ctx.error(Status::kBadModel, "axis " + std::to_string(axis) +
                                            " is out of range for rank " + std::to_string(rank));
  *out = axis < 0 ? axis + rank : axis;
  return Status::ok();
}

Status normalize_axes(const PrepareContext& ctx, const std::vector<int64_t>& axes, int64_t rank,
                      std::vector<int64_t>* out) {
  std::vector<int64_t> result(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) {
    PARE_RT_RETURN_IF_ERROR(normalize_axis(ctx, axes[i], rank, &result[i]));
    if (std::find(result.begin(), result.begin() + static_cast<std::ptrdiff_t>(i), result[i]) !=
        result.begin() + static_cast<std::ptrdiff_t>(i))
      return ctx.error(Status::kBadModel, "axis " + std::to_string(axes[i]) + " is repeated");
  }
  *out = std::move(result);
  return Status::ok();
}

int64_t num_elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

bool broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                      std::vector<int64_t>* out) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> result(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Right-aligned: missing leading dims act as 1.
    const int64_t da = i + a.size() >= rank ? a[i + a.size() - rank] : 1;
    const int64_t db = i + b.size() >= rank ? b[i + b.size() - rank] : 1;
    if (da == db || db == 1) {
      result[i] = da;
    } else if (da == 1) {
      result[i] = db;
    } else {
      return false;
    }
  }
  *out = std::move(result);
  return true;
}

std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& shape,
                                       const std::vector<int64_t>& out_shape) {
  const std::vector<int64_t> own = contiguous_strides(shape);
  std::vector<int64_t> strides(out_shape.size(), 0);
  const size_t lead = out_shape.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) strides[lead + i] = shape[i] == 1 ? 0 : own[i];
  return strides;
}

void simplify_layout(StridedLayout* layout) {
  const size_t n_ops = layout->strides.size();
  StridedLayout out;
  out.strides.resize(n_ops);
  for (size_t d = 0; d < layout->dims.size(); ++d) {
    const int64_t size = layout->dims[d];
    if (size == 1) continue;  // one position: its strides never apply
    bool merge = !out.dims.empty();
    for (size_t k = 0; merge && k < n_ops; ++k)
      merge = out.strides[k].back() == layout->strides[k][d] * size;
    if (merge) {
      out.dims.back() *= size;
      for (size_t k = 0; k < n_ops; ++k) out.strides[k].back() = layout->strides[k][d];
    } else {
      out.dims.push_back(size);
      for (size_t k = 0; k < n_ops; ++k) out.strides[k].push_back(layout->strides[k][d]);
    }
  }
  if (out.dims.empty()) {
    out.dims.push_back(1);
    for (size_t k = 0; k < n_ops; ++k) out.strides[k].push_back(0);
  }
  *layout = std::move(out);
}

const char kF32ResidualAddTag = 'r';
const char kF32BiasAddTag[2] = {'b', 'B'};
const char kQ8SameShapeMulTag = 'm';

const char* dtype_tag(DType t) {
  switch (t) {
    case DType::kFloat32: return "f32";
    case DType::kFloat64: return "f64";
    case DType::kInt64: return "i64";
    case DType::kInt32: return "i32";
    case DType::kInt8: return "i8";
    case DType::kUInt8: return "u8";
    case DType::kBool: return "b8";
    case DType::kUndefined: break;
  }
  return "undefined";
}

const char* size_tag(size_t element_bytes) {
  switch (element_bytes) {
    case 1: return "x8";
    case 2: return "x16";
    case 4: return "x32";
    case 8: return "x64";
    default: return "x";
  }
}

// Large copies split their outermost dim among the threads: each range of it is a copy of
// the same layout with a shorter first dim, writing its own contiguous part of the output.
// (Layouts are simplified first, so a rank above kMaxSplitRank is rare; it runs whole.)
constexpr size_t kMaxSplitRank = 8;

template <typename T>
void copy_strided(ThreadPool* pool, size_t rank, const int64_t* dims, const int64_t* strides, const T* x, T* y) {
  int64_t elements = 1;
  for (size_t d = 0; d < rank; ++d) elements *= dims[d];
  if (static_cast<size_t>(elements) < kStridedCopyParallelMin || rank == 0 || rank > kMaxSplitRank) {
    kernels::copy_strided_ref<T>(rank, dims, strides, x, y);
    return;
  }
  const int64_t inner = elements / dims[0];
  parallel_for(pool, static_cast<size_t>(dims[0]), [&](size_t begin, size_t end) {
    int64_t part[kMaxSplitRank];
    std::copy(dims, dims + rank, part);
    part[0] = static_cast<int64_t>(end - begin);
    kernels::copy_strided_ref<T>(rank, part, strides, x + static_cast<int64_t>(begin) * strides[0],
                                 y + static_cast<int64_t>(begin) * inner);
  });
}
template void copy_strided<uint8_t>(ThreadPool*, size_t, const int64_t*, const int64_t*, const uint8_t*, uint8_t*);
template void copy_strided<uint32_t>(ThreadPool*, size_t, const int64_t*, const int64_t*, const uint32_t*, uint32_t*);
template void copy_strided<uint64_t>(ThreadPool*, size_t, const int64_t*, const int64_t*, const uint64_t*, uint64_t*);

namespace {

template <typename T>
std::unique_ptr<OpKernel> strided_copy_kernel(std::string name, StridedLayout layout,
                                              int64_t offset, bool empty) {
  return make_kernel(std::move(name), [layout = std::move(layout), offset, empty](const ExecContext& ec) {
    if (empty) return;
    copy_strided(ec.pool, layout.dims.size(), layout.dims.data(), layout.strides[0].data(),
                 static_cast<const T*>(ec.inputs[0]) + offset, static_cast<T*>(ec.outputs[0]));
  });
}

// Three planes into pixels ([N,] P, 3 with strides [sN,] 1, plane: an RGB image's NCHW ->
// NHWC), the first input of every image model converted to channels-last.
bool is_interleave3(const StridedLayout& layout) {
  const size_t rank = layout.dims.size();
  const std::vector<int64_t>& s = layout.strides[0];
  return (rank == 2 || rank == 3) && layout.dims[rank - 1] == 3 && s[rank - 2] == 1 && s[rank - 1] > 0 &&
         (rank == 2 || s[0] >= 0);
}

std::unique_ptr<OpKernel> interleave3_kernel(const kernels::X32Interleave3Variant& v, StridedLayout layout,
                                             int64_t offset) {
  return make_kernel(v.name, [fn = v.fn, layout = std::move(layout), offset](const ExecContext& ec) {
    const size_t rank = layout.dims.size();
    const auto batches = static_cast<size_t>(rank == 3 ? layout.dims[0] : 1);
    const auto pixels = static_cast<size_t>(layout.dims[rank - 2]);
    const auto plane = static_cast<size_t>(layout.strides[0][rank - 1]);
    const auto batch_stride = static_cast<size_t>(rank == 3 ? layout.strides[0][0] : 0);
    const auto* x = static_cast<const uint32_t*>(ec.inputs[0]) + offset;
    auto* y = static_cast<uint32_t*>(ec.outputs[0]);
    for (size_t n = 0; n < batches; ++n) {
      const uint32_t* xn = x + n * batch_stride;
      uint32_t* yn = y + n * pixels * 3;
      if (3 * pixels < kStridedCopyParallelMin)
        fn(plane, xn, yn, 0, pixels);
      else
        parallel_for(ec.pool, pixels, [&](size_t begin, size_t end) { fn(plane, xn, yn, begin, end); });
    }
  });
}

}  // namespace

std::unique_ptr<OpKernel> make_strided_copy(const PrepareContext& ctx, const char* op,
                                            StridedLayout layout, int64_t offset, bool empty) {
  const size_t bytes = dtype_size(ctx.inputs[0]->dtype);
  if (bytes == 4 && !empty && is_interleave3(layout))
    if (const kernels::X32Interleave3Variant* v = kernels::select_x32_interleave3(ctx.isa))
      return interleave3_kernel(*v, std::move(layout), offset);
  std::string name = std::string(size_tag(bytes)) + "_" + op + "_ref__scalar";
  switch (bytes) {
    case 1: return strided_copy_kernel<uint8_t>(std::move(name), std::move(layout), offset, empty);
    case 4: return strided_copy_kernel<uint32_t>(std::move(name), std::move(layout), offset, empty);
    default:
      return strided_copy_kernel<uint64_t>(std::move(name), std::move(layout), offset, empty);
  }
}

}  // namespace pare::rt::ops
