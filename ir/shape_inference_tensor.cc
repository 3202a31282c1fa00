#include "ir/shape_inference_rules.h"

#include <cmath>
#include <limits>

namespace pare::ir::shape_rules {
namespace {

int64_t to_size(const NodeContext& c, double v) {
  if (!(v >= 0 && v < 9.0e15)) c.fail("computed an impossible output size " + std::to_string(v));
  return static_cast<int64_t>(v);
}

}  // namespace

void infer_flatten(NodeContext& c) {
  Sizes x = c.sizes(0);
  int64_t rank = static_cast<int64_t>(x.size());
  int64_t axis = c.attrs().get_int("axis", 1);
  if (axis < -rank || axis > rank)
    c.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  if (axis < 0) axis += rank;
  size_t split = static_cast<size_t>(axis);
  c.set_output(0, c.dtype(0), {product(x, 0, split), product(x, split, x.size())});
}

void infer_reshape(NodeContext& c) {
  Sizes x = c.sizes(0);
  if (c.sizes(1).size() != 1) c.fail(c.label(1) + " must be 1-D");
  std::vector<int64_t> target = c.const_ints(1);
  bool allowzero = c.attrs().get_int("allowzero", 0) != 0;
  Sizes out(target.size());
  int64_t known = 1;
  int inferred = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t v = target[i];
    if (v == 0 && !allowzero) {
      if (i >= x.size())
        c.fail("shape " + str(target) + " copies dim " + std::to_string(i) + " of " + str(x) +
               ", which has no such dim");
      v = x[i];
    }
    if (v == -1) {
      if (inferred >= 0) c.fail("shape " + str(target) + " has more than one -1");
      inferred = static_cast<int>(i);
      continue;
    }
    if (v < -1) c.fail("shape " + str(target) + " has a negative size");
    out[i] = v;
    known = c.mul(known, v);
  }
  int64_t total = product(x, 0, x.size());
  if (inferred >= 0) {
    if (known == 0 || total % known != 0) c.fail("cannot reshape " + str(x) + " to " + str(target));
    out[static_cast<size_t>(inferred)] = total / known;
  } else if (known != total) {
    c.fail("cannot reshape " + str(x) + " (" + std::to_string(total) + " elements) to " + str(out));
  }
  c.set_output(0, c.dtype(0), out);
}

void infer_squeeze(NodeContext& c) {
  Sizes x = c.sizes(0);
  std::vector<bool> drop(x.size(), false);
  if (c.has_input(1)) {
    for (int64_t a : c.axes(c.const_ints(1), x.size())) {
      if (x[static_cast<size_t>(a)] != 1)
        c.fail("cannot squeeze axis " + std::to_string(a) + " of " + str(x) + " (size is not 1)");
      drop[static_cast<size_t>(a)] = true;
    }
  } else {
    for (size_t i = 0; i < x.size(); ++i) drop[i] = x[i] == 1;
  }
  Sizes out;
  for (size_t i = 0; i < x.size(); ++i)
    if (!drop[i]) out.push_back(x[i]);
  c.set_output(0, c.dtype(0), out);
}

void infer_unsqueeze(NodeContext& c) {
  Sizes x = c.sizes(0);
  std::vector<int64_t> raw = c.const_ints(1);
  size_t rank = x.size() + raw.size();
  std::vector<bool> inserted(rank, false);
  for (int64_t a : c.axes(raw, rank)) inserted[static_cast<size_t>(a)] = true;
  Sizes out;
  size_t next = 0;
  for (size_t i = 0; i < rank; ++i) out.push_back(inserted[i] ? 1 : x[next++]);
  c.set_output(0, c.dtype(0), out);
}

void infer_transpose(NodeContext& c) {
  Sizes x = c.sizes(0);
  Sizes reversed(x.size());
  for (size_t i = 0; i < x.size(); ++i) reversed[i] = static_cast<int64_t>(x.size() - 1 - i);
  Sizes perm = c.attrs().get_ints("perm", reversed);
  if (perm.size() != x.size())
    c.fail("perm " + str(perm) + " does not match rank " + std::to_string(x.size()));
  std::vector<bool> seen(x.size(), false);
  Sizes out;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(x.size()) || seen[static_cast<size_t>(p)])
      c.fail("perm " + str(perm) + " is not a permutation");
    seen[static_cast<size_t>(p)] = true;
    out.push_back(x[static_cast<size_t>(p)]);
  }
  c.set_output(0, c.dtype(0), out);
}

void infer_concat(NodeContext& c) {
  if (c.num_inputs() == 0) c.fail("has no inputs");
  Sizes out = c.sizes(0);
  DType dtype = c.dtype(0);
  if (out.empty()) c.fail("cannot concatenate scalars");
  size_t axis = static_cast<size_t>(c.axis(c.attrs().get_int("axis", 0), out.size()));
  out[axis] = 0;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    Sizes s = c.sizes(i);
    if (c.dtype(i) != dtype)
      c.fail(c.label(i) + " has dtype " + dtype_name(c.dtype(i)) + ", expected " + dtype_name(dtype));
    if (s.size() != out.size())
      c.fail(c.label(i) + " " + str(s) + " has another rank than input 0 " + str(c.sizes(0)));
    for (size_t d = 0; d < s.size(); ++d)
      if (d != axis && s[d] != out[d])
        c.fail(c.label(i) + " " + str(s) + " differs from input 0 " + str(c.sizes(0)) + " outside axis " +
               std::to_string(axis));
    out[axis] = c.add(out[axis], s[axis]);
  }
  c.set_output(0, dtype, out);
}

void infer_split(NodeContext& c) {
  Sizes x = c.sizes(0);
  if (x.empty()) c.fail("cannot split a scalar");
  size_t axis = static_cast<size_t>(c.axis(c.attrs().get_int("axis", 0), x.size()));
  size_t n = c.num_outputs();
  if (n == 0) c.fail("has no outputs");
  Sizes parts;
  if (c.has_input(1)) {
    parts = c.const_ints(1);
    if (parts.size() != n)
      c.fail("split " + str(parts) + " has " + std::to_string(parts.size()) + " sizes for " +
             std::to_string(n) + " outputs");
    int64_t sum = 0;
    for (int64_t p : parts) {
      if (p < 0) c.fail("split " + str(parts) + " has a negative size");
      sum = c.add(sum, p);
    }
    if (sum != x[axis])
      c.fail("split " + str(parts) + " does not add up to dim " + std::to_string(x[axis]) + " of " + str(x));
  } else {
    int64_t num = c.attrs().get_int("num_outputs", static_cast<int64_t>(n));
    if (num != static_cast<int64_t>(n))
      c.fail("num_outputs " + std::to_string(num) + " but " + std::to_string(n) + " outputs");
    // Equal chunks; the last one smaller when the dim does not divide (opset 18).
    int64_t chunk = ceil_div(x[axis], num);
    int64_t last = x[axis] - chunk * (num - 1);
    if (last < 0)
      c.fail("cannot split dim " + std::to_string(x[axis]) + " into " + std::to_string(num) + " parts");
    parts.assign(n, chunk);
    parts.back() = last;
  }
  for (size_t k = 0; k < n; ++k) {
    Sizes out = x;
    out[axis] = parts[k];
    c.set_output(k, c.dtype(0), out);
  }
}

void infer_slice(NodeContext& c) {
  Sizes x = c.sizes(0);
  std::vector<int64_t> starts = c.const_ints(1), ends = c.const_ints(2);
  if (starts.size() != ends.size()) c.fail("starts and ends have different lengths");
  std::vector<int64_t> raw_axes;
  if (c.has_input(3)) {
    raw_axes = c.const_ints(3);
  } else {
    for (size_t i = 0; i < starts.size(); ++i) raw_axes.push_back(static_cast<int64_t>(i));
  }
  std::vector<int64_t> steps = c.has_input(4) ? c.const_ints(4) : std::vector<int64_t>(starts.size(), 1);
  if (raw_axes.size() != starts.size() || steps.size() != starts.size())
    c.fail("starts, ends, axes and steps must have the same length");
  std::vector<int64_t> axes = c.axes(raw_axes, x.size());
  Sizes out = x;
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t dim = x[static_cast<size_t>(axes[i])];
    int64_t step = steps[i];
    if (step == 0) c.fail("step 0 on axis " + std::to_string(axes[i]));
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    int64_t size;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      size = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      int64_t stride =
          step == std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::max() : -step;
      size = start > end ? (start - end - 1) / stride + 1 : 0;
    }
    out[static_cast<size_t>(axes[i])] = size;
  }
  c.set_output(0, c.dtype(0), out);
}

void infer_gather(NodeContext& c) {
  Sizes data = c.sizes(0), indices = c.sizes(1);
  if (data.empty()) c.fail("cannot gather from a scalar");
  DType index_type = c.dtype(1);
  if (index_type != DType::kInt64 && index_type != DType::kInt32)
    c.fail(c.label(1) + " must be int32 or int64, not " + dtype_name(index_type));
  size_t axis = static_cast<size_t>(c.axis(c.attrs().get_int("axis", 0), data.size()));
  if (c.input(1).is_constant()) {
    int64_t dim = data[axis];
    for (int64_t i : c.const_ints(1))
      if (i < -dim || i >= dim)
        c.fail("index " + std::to_string(i) + " is out of range for dim " + std::to_string(dim));
  }
  Sizes out(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(axis));
  out.insert(out.end(), indices.begin(), indices.end());
  out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(axis) + 1, data.end());
  c.set_output(0, c.dtype(0), out);
}

void infer_shape(NodeContext& c) {
  // Only the rank is needed; the values come from folding once the shape is static.
  const Tensor& x = c.input(0);
  if (!x.shape.rank_known) c.fail(c.label(0) + " has no known rank");
  int64_t rank = static_cast<int64_t>(x.shape.rank());
  int64_t start = c.attrs().get_int("start", 0);
  int64_t end = c.attrs().get_int("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  c.set_output(0, DType::kInt64, {std::max<int64_t>(0, end - start)});
}

void infer_expand(NodeContext& c) {
  if (c.sizes(1).size() != 1) c.fail(c.label(1) + " must be 1-D");
  std::vector<int64_t> target = c.const_ints(1);
  for (int64_t d : target)
    if (d < 0) c.fail("shape " + str(target) + " has a negative size");
  c.set_output(0, c.dtype(0), broadcast(c, c.sizes(0), target));
}

void infer_constant_of_shape(NodeContext& c) {
  if (c.sizes(0).size() != 1) c.fail(c.label(0) + " must be 1-D");
  std::vector<int64_t> shape = c.const_ints(0);
  for (int64_t d : shape)
    if (d < 0) c.fail("shape " + str(shape) + " has a negative size");
  int64_t onnx_type = c.attrs().get_int("dtype", 1);
  DType dtype;
  if (!dtype_from_onnx(static_cast<int32_t>(onnx_type), &dtype))
    throw_unsupported(c.where() + ": dtype " + onnx_type_name(static_cast<int32_t>(onnx_type)) +
                      " is not supported");
  c.set_output(0, dtype, shape);
}

void infer_pad(NodeContext& c) {
  Sizes x = c.sizes(0);
  std::vector<int64_t> pads = c.const_ints(1);
  std::vector<int64_t> axes;
  if (c.has_input(3)) {
    axes = c.axes(c.const_ints(3), x.size());
  } else {
    for (size_t i = 0; i < x.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (pads.size() != 2 * axes.size())
    c.fail("pads " + str(pads) + " must have " + std::to_string(2 * axes.size()) + " values");
  if (c.has_input(2) && c.dtype(2) != c.dtype(0))
    c.fail(c.label(2) + " has dtype " + dtype_name(c.dtype(2)) + ", expected " + dtype_name(c.dtype(0)));
  Sizes out = x;
  for (size_t i = 0; i < axes.size(); ++i) {
    size_t a = static_cast<size_t>(axes[i]);
    out[a] = c.add(out[a], c.add(pads[i], pads[i + axes.size()]));
    if (out[a] < 0)
      c.fail("pads " + str(pads) + " remove more than dim " + std::to_string(x[a]) + " of axis " +
             std::to_string(a));
  }
  c.set_output(0, c.dtype(0), out);
}

void infer_reduce(NodeContext& c) {
  Sizes x = c.sizes(0);
  bool keepdims = c.attrs().get_int("keepdims", 1) != 0;
  bool noop_with_empty_axes = c.attrs().get_int("noop_with_empty_axes", 0) != 0;
  std::vector<int64_t> axes;
  if (c.has_input(1)) axes = c.axes(c.const_ints(1), x.size());
  if (axes.empty() && noop_with_empty_axes) {
    c.set_output(0, c.dtype(0), x);
    return;
  }
  std::vector<bool> reduced(x.size(), axes.empty());
  for (int64_t a : axes) reduced[static_cast<size_t>(a)] = true;
  Sizes out;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!reduced[i])
      out.push_back(x[i]);
    else if (keepdims)
      out.push_back(1);
  }
  c.set_output(0, c.dtype(0), out);
}

void infer_arg_reduce(NodeContext& c) {
  Sizes x = c.sizes(0);
  size_t axis = static_cast<size_t>(c.axis(c.attrs().get_int("axis", 0), x.size()));
  if (c.attrs().get_int("keepdims", 1) != 0)
    x[axis] = 1;
  else
    x.erase(x.begin() + static_cast<std::ptrdiff_t>(axis));
  c.set_output(0, DType::kInt64, x);
}

void infer_cumsum(NodeContext& c) {
  Sizes x = c.sizes(0);
  if (x.empty()) c.fail("cannot sum a scalar along an axis");
  if (c.sizes(1).size() > 1 || c.elements(c.sizes(1), c.label(1)) != 1) c.fail(c.label(1) + " must hold one axis");
  if (c.input(1).is_constant()) c.axis(c.const_ints(1)[0], x.size());
  c.set_output(0, c.dtype(0), x);
}

void infer_gather_elements(NodeContext& c) {
  Sizes data = c.sizes(0), indices = c.sizes(1);
  DType index_type = c.dtype(1);
  if (index_type != DType::kInt64 && index_type != DType::kInt32)
    c.fail(c.label(1) + " must be int32 or int64, not " + dtype_name(index_type));
  if (data.empty() || indices.size() != data.size())
    c.fail("data " + str(data) + " and indices " + str(indices) + " must have one rank >= 1");
  size_t axis = static_cast<size_t>(c.axis(c.attrs().get_int("axis", 0), data.size()));
  for (size_t d = 0; d < data.size(); ++d)
    if (d != axis && indices[d] > data[d])
      c.fail("indices " + str(indices) + " are larger than data " + str(data) + " at axis " + std::to_string(d));
  if (c.input(1).is_constant()) {
    int64_t dim = data[axis];
    for (int64_t i : c.const_ints(1))
      if (i < -dim || i >= dim)
        c.fail("index " + std::to_string(i) + " is out of range for dim " + std::to_string(dim));
  }
  c.set_output(0, c.dtype(0), indices);
}

// Range: max(ceil((limit - start) / delta), 0) elements of the dtype of start.
void infer_range(NodeContext& c) {
  DType dtype = c.dtype(0);
  for (size_t i = 0; i < 3; ++i) {
    if (!c.sizes(i).empty() && c.sizes(i) != Sizes{1}) c.fail(c.label(i) + " must be a scalar");
    if (c.dtype(i) != dtype) c.fail("inputs must have one dtype");
  }
  int64_t count = 0;
  if (dtype == DType::kFloat32 || dtype == DType::kFloat64) {
    double start = c.const_floats(0)[0], limit = c.const_floats(1)[0], delta = c.const_floats(2)[0];
    if (delta == 0) c.fail("delta is 0");
    double n = std::ceil((limit - start) / delta);
    count = to_size(c, std::max(n, 0.0));
  } else {
    __int128 start = c.const_ints(0)[0], limit = c.const_ints(1)[0], delta = c.const_ints(2)[0];
    if (delta == 0) c.fail("delta is 0");
    __int128 span = limit - start;
    __int128 n = span / delta + (span % delta != 0 && (span < 0) == (delta < 0) ? 1 : 0);
    count = to_size(c, static_cast<double>(std::max<__int128>(n, 0)));
  }
  c.set_output(0, dtype, {count});
}

void infer_tile(NodeContext& c) {
  Sizes x = c.sizes(0);
  if (c.sizes(1).size() != 1) c.fail(c.label(1) + " must be 1-D");
  std::vector<int64_t> repeats = c.const_ints(1);
  if (repeats.size() != x.size())
    c.fail("repeats " + str(repeats) + " must have one value per dim of " + str(x));
  for (size_t i = 0; i < x.size(); ++i) {
    if (repeats[i] < 0) c.fail("repeats " + str(repeats) + " has a negative value");
    x[i] = c.mul(x[i], repeats[i]);
  }
  c.set_output(0, c.dtype(0), x);
}

void infer_topk(NodeContext& c) {
  Sizes x = c.sizes(0);
  if (x.empty()) c.fail("input 0 must have rank >= 1");
  size_t axis = static_cast<size_t>(c.axis(c.attrs().get_int("axis", -1), x.size()));
  std::vector<int64_t> k = c.const_ints(1);
  if (k.size() != 1 || c.sizes(1).size() > 1) c.fail(c.label(1) + " must hold one value");
  if (k[0] < 0 || k[0] > x[axis])
    c.fail("k " + std::to_string(k[0]) + " is out of range for dim " + std::to_string(x[axis]));
  c.require_outputs(2);
  x[axis] = k[0];
  c.set_output(0, c.dtype(0), x);
  c.set_output(1, DType::kInt64, x);
}

void infer_resize(NodeContext& c) {
  Sizes x = c.sizes(0);
  std::vector<int64_t> axes;
  if (c.attrs().has("axes")) {
    axes = c.axes(c.attrs().get_ints("axes"), x.size());
  } else {
    for (size_t i = 0; i < x.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  // An empty constant stands for an omitted input (opsets 11 and 12 require the slot).
  bool has_scales = c.has_input(2) && !c.is_empty_constant(2);
  bool has_sizes = c.has_input(3) && !c.is_empty_constant(3);
  if (has_scales == has_sizes) c.fail("exactly one of scales and sizes must be given");
  Sizes out = x;
  if (has_scales) {
    std::vector<double> scales = c.const_floats(2);
    if (scales.size() != axes.size())
      c.fail("scales has " + std::to_string(scales.size()) + " values for " + std::to_string(axes.size()) +
             " axes");
    std::vector<double> roi;
    if (c.attrs().get_string("coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize" &&
        c.has_input(1) && !c.is_empty_constant(1)) {
      roi = c.const_floats(1);
      if (roi.size() != 2 * axes.size())
        c.fail("roi must have " + std::to_string(2 * axes.size()) + " values");
    }
    for (size_t i = 0; i < axes.size(); ++i) {
      if (!(scales[i] > 0)) c.fail("scale " + std::to_string(scales[i]) + " must be > 0");
      double extent = roi.empty() ? 1.0 : roi[i + axes.size()] - roi[i];
      size_t a = static_cast<size_t>(axes[i]);
      out[a] = to_size(c, std::floor(static_cast<double>(x[a]) * extent * scales[i]));
    }
  } else {
    std::vector<int64_t> sizes = c.const_ints(3);
    if (sizes.size() != axes.size())
      c.fail("sizes has " + std::to_string(sizes.size()) + " values for " + std::to_string(axes.size()) +
             " axes");
    std::string policy = c.attrs().get_string("keep_aspect_ratio_policy", "stretch");
    if (policy == "stretch") {
      for (size_t i = 0; i < axes.size(); ++i) out[static_cast<size_t>(axes[i])] = sizes[i];
    } else if (policy == "not_larger" || policy == "not_smaller") {
      double scale = policy == "not_larger" ? std::numeric_limits<double>::max() : 0.0;
      for (size_t i = 0; i < axes.size(); ++i) {
        double s = static_cast<double>(sizes[i]) / static_cast<double>(x[static_cast<size_t>(axes[i])]);
        scale = policy == "not_larger" ? std::min(scale, s) : std::max(scale, s);
      }
      for (int64_t a : axes)
        out[static_cast<size_t>(a)] =
            to_size(c, std::floor(scale * static_cast<double>(x[static_cast<size_t>(a)]) + 0.5));
    } else {
      c.fail("unknown keep_aspect_ratio_policy '" + policy + "'");
    }
  }
  c.set_output(0, c.dtype(0), out);
}

}  // namespace pare::ir::shape_rules
