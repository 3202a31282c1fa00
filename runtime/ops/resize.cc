// Resize, float32: nearest and (multi)linear modes, every coordinate transformation
// mode but half_pixel_symmetric, scales or sizes (constants), optional axes.
//
// Coordinates follow the ONNX reference: along an axis of input length L resized with
// scale s (given, or output/input when sizes are given), output coordinate x maps to
// x_original (e.g. (x + 0.5) / s - 0.5 for half_pixel); nearest rounds it by
// nearest_mode, linear blends its two neighbours; indices outside the input clamp to the
// edge, except for tf_crop_and_resize, where the element becomes extrapolation_value.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/resize/resize.h"
#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

using kernels::LinearAxis;

class ResizeNearestKernel final : public OpKernel {
 public:
  ResizeNearestKernel(std::vector<int64_t> out_shape, std::vector<int64_t> in_strides,
                      std::vector<std::vector<int64_t>> index, bool bytes)
      : out_shape_(std::move(out_shape)), in_strides_(std::move(in_strides)), index_(std::move(index)), bytes_(bytes) {
    for (const auto& t : index_) index_ptrs_.push_back(t.data());
  }

  void run(const ExecContext& ctx) override {
    if (bytes_) {
      kernels::x8_resize_nearest_ref__scalar(out_shape_.size(), out_shape_.data(), in_strides_.data(),
                                             index_ptrs_.data(), static_cast<const uint8_t*>(ctx.inputs[0]),
                                             static_cast<uint8_t*>(ctx.outputs[0]));
      return;
    }
    kernels::f32_resize_nearest_ref__scalar(out_shape_.size(), out_shape_.data(), in_strides_.data(),
                                            index_ptrs_.data(), static_cast<const float*>(ctx.inputs[0]),
                                            static_cast<float*>(ctx.outputs[0]));
  }

  const char* kernel_name() const override {
    return bytes_ ? "x8_resize_nearest_ref__scalar" : "f32_resize_nearest_ref__scalar";
  }

 private:
  std::vector<int64_t> out_shape_, in_strides_;
  std::vector<std::vector<int64_t>> index_;
  bool bytes_ = false;
  std::vector<const int64_t*> index_ptrs_;
};

struct LinearTable {
  std::vector<int64_t> lo, hi;
  std::vector<float> weight;
  bool interpolate = false;
};

class ResizeLinearKernel final : public OpKernel {
 public:
  ResizeLinearKernel(std::vector<int64_t> out_shape, std::vector<int64_t> in_strides,
                     std::vector<LinearTable> tables, float extrapolation)
      : out_shape_(std::move(out_shape)), in_strides_(std::move(in_strides)), tables_(std::move(tables)),
        extrapolation_(extrapolation) {
    for (const LinearTable& t : tables_) {
      LinearAxis a;
      a.lo = t.lo.data();
      a.hi = t.hi.data();
      a.weight = t.weight.data();
      a.interpolate = t.interpolate;
      axes_.push_back(a);
    }
    bilinear_ = kernels::f32_resize_bilinear_applies(out_shape_.size(), out_shape_.data(), in_strides_.data(),
                                                     axes_.data());
  }

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    if (bilinear_) {
      kernels::f32_resize_bilinear__scalar(out_shape_.size(), out_shape_.data(), in_strides_.data(), axes_.data(),
                                           x, y);
      return;
    }
    kernels::f32_resize_linear_ref__scalar(out_shape_.size(), out_shape_.data(), in_strides_.data(),
                                           axes_.data(), extrapolation_, x, y);
  }

  const char* kernel_name() const override {
    return bilinear_ ? "f32_resize_bilinear__scalar" : "f32_resize_linear_ref__scalar";
  }

 private:
  std::vector<int64_t> out_shape_, in_strides_;
  std::vector<LinearTable> tables_;
  std::vector<LinearAxis> axes_;
  float extrapolation_;
  bool bilinear_ = false;
};

// A present input with at least one element (opset 11-12 exporters pass empty tensors
// for "absent").
const TensorDesc* nonempty_input(const PrepareContext& ctx, size_t i) {
  const TensorDesc* t = optional_input(ctx, i);
  return t && t->num_elements() > 0 ? t : nullptr;
}

// The per-axis coordinate transformation of one resized axis.
struct AxisMapping {
  std::string mode;  // coordinate_transformation_mode
  int64_t in = 0, out = 0;
  double scale = 1.0;
  double roi_start = 0.0, roi_end = 1.0;

  // x_original of output coordinate x; *outside when tf_crop_and_resize leaves the input.
  double original(int64_t x, bool* outside) const {
    *outside = false;
    const double resized_length = scale * static_cast<double>(in);
    const double xr = static_cast<double>(x);
    if (mode == "half_pixel") return (xr + 0.5) / scale - 0.5;
    if (mode == "pytorch_half_pixel") return out > 1 ? (xr + 0.5) / scale - 0.5 : 0.0;
    if (mode == "asymmetric") return xr / scale;
    if (mode == "tf_half_pixel_for_nn") return (xr + 0.5) / scale;
    if (mode == "align_corners")
      return resized_length == 1.0 ? 0.0 : xr * static_cast<double>(in - 1) / (resized_length - 1.0);
    // tf_crop_and_resize
    const double span = (roi_end - roi_start) * static_cast<double>(in - 1);
    const double xo = roi_start * static_cast<double>(in - 1) +
                      (resized_length == 1.0 ? span / 2.0 : xr * span / (resized_length - 1.0));
    *outside = xo < 0.0 || xo > static_cast<double>(in - 1);
    return xo;
  }
};

int64_t clamp_index(double i, int64_t size) {
  return std::min<int64_t>(std::max<int64_t>(static_cast<int64_t>(i), 0), size - 1);
}

int64_t round_nearest(double x, const std::string& nearest_mode) {
  const double lower = std::floor(x);
  const double frac = x - lower;
  if (frac == 0.0) return static_cast<int64_t>(lower);
  if (nearest_mode == "floor") return static_cast<int64_t>(lower);
  if (nearest_mode == "ceil") return static_cast<int64_t>(lower) + 1;
  if (nearest_mode == "round_prefer_ceil") return static_cast<int64_t>(lower) + (frac >= 0.5 ? 1 : 0);
  return static_cast<int64_t>(lower) + (frac > 0.5 ? 1 : 0);  // round_prefer_floor
}

bool one_of(const std::string& s, std::initializer_list<const char*> options) {
  for (const char* o : options)
    if (s == o) return true;
  return false;
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_Resize(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 4, 1, 1));
  const TensorDesc& x = *ctx.inputs[0];
  // 8-bit data (quantized, the output keeping the input's quantization) in nearest mode only.
  const bool bytes = x.dtype == DType::kUInt8 || x.dtype == DType::kInt8;
  if (!bytes) PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input", {DType::kFloat32}));
  const size_t rank = x.rank();
  if (rank < 1 || rank > kernels::kResizeMaxRank)
    return ctx.error(Status::kUnsupported, "input '" + x.name + "' has shape " + shape_str(x.shape) +
                                               ": rank 1 to " + std::to_string(kernels::kResizeMaxRank) +
                                               " is supported");

  const std::string mode = ctx.attrs->get_string("mode", "nearest");
  const std::string coord_mode = ctx.attrs->get_string("coordinate_transformation_mode", "half_pixel");
  const std::string nearest_mode = ctx.attrs->get_string("nearest_mode", "round_prefer_floor");
  const std::string aspect = ctx.attrs->get_string("keep_aspect_ratio_policy", "stretch");
  if (mode == "cubic")
    return ctx.error(Status::kUnsupported, "mode 'cubic' is not supported (nearest and linear are)");
  if (mode != "nearest" && mode != "linear") return ctx.error(Status::kBadModel, "unknown mode '" + mode + "'");
  if (!one_of(coord_mode, {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                           "tf_half_pixel_for_nn", "tf_crop_and_resize"}))
    return ctx.error(Status::kUnsupported, "coordinate_transformation_mode '" + coord_mode + "' is not supported");
  if (!one_of(nearest_mode, {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}))
    return ctx.error(Status::kBadModel, "unknown nearest_mode '" + nearest_mode + "'");
  if (ctx.attrs->get_int("antialias", 0) != 0)
    return ctx.error(Status::kUnsupported, "antialias is not supported");

  // The resized axes: all, or the `axes` attribute (opset 18).
  std::vector<int64_t> axes;
  if (ctx.attrs->has("axes")) {
    PARE_RT_RETURN_IF_ERROR(normalize_axes(ctx, ctx.attrs->get_ints("axes"), static_cast<int64_t>(rank), &axes));
  } else {
    for (size_t i = 0; i < rank; ++i) axes.push_back(static_cast<int64_t>(i));
  }

  std::vector<AxisMapping> map(rank);
  for (size_t i = 0; i < rank; ++i) {
    map[i].mode = coord_mode;
    map[i].in = map[i].out = x.shape[i];
  }

  const TensorDesc* scales = nonempty_input(ctx, 2);
  const TensorDesc* sizes = nonempty_input(ctx, 3);
  if ((scales == nullptr) == (sizes == nullptr))
    return ctx.error(Status::kBadModel, "exactly one of scales and sizes must be given");
  if (scales) {
    if (scales->constant == nullptr)
      return ctx.error(Status::kUnsupported, "scales '" + scales->name + "' must be a constant");
    PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *scales, "scales", {DType::kFloat32}));
    if (scales->num_elements() != static_cast<int64_t>(axes.size()))
      return ctx.error(Status::kBadModel, "scales '" + scales->name + "' has " +
                                              std::to_string(scales->num_elements()) + " values for " +
                                              std::to_string(axes.size()) + " axes");
    for (size_t j = 0; j < axes.size(); ++j) {
      float s;
      std::memcpy(&s, static_cast<const char*>(scales->constant) + j * sizeof(float), sizeof(float));
      if (!(s > 0.f) || !std::isfinite(s))
        return ctx.error(Status::kBadModel, "scales must be positive and finite, got " + std::to_string(s));
      AxisMapping& m = map[static_cast<size_t>(axes[j])];
      m.scale = s;
      // Checked before the conversion: a resized length past 2^62 is no tensor this runtime holds.
      const double length = std::floor(static_cast<double>(m.in) * m.scale);
      if (!(length < 4.6e18))
        return ctx.error(Status::kBadModel, "scale " + std::to_string(s) + " makes axis " + std::to_string(axes[j]) +
                                                " " + std::to_string(length) + " long");
      m.out = static_cast<int64_t>(length);
    }
  } else {
    if (aspect != "stretch")
      return ctx.error(Status::kUnsupported, "keep_aspect_ratio_policy '" + aspect + "' is not supported");
    std::vector<int64_t> values;
    PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 3, "sizes", &values));
    if (values.size() != axes.size())
      return ctx.error(Status::kBadModel, "sizes '" + sizes->name + "' has " + std::to_string(values.size()) +
                                              " values for " + std::to_string(axes.size()) + " axes");
    for (size_t j = 0; j < axes.size(); ++j) {
      AxisMapping& m = map[static_cast<size_t>(axes[j])];
      if (values[j] < 1 || m.in < 1)
        return ctx.error(Status::kBadModel, "sizes and the resized input dims must be positive");
      m.out = values[j];
      m.scale = static_cast<double>(m.out) / static_cast<double>(m.in);
    }
  }

  if (coord_mode == "tf_crop_and_resize") {
    const TensorDesc* roi = nonempty_input(ctx, 1);
    if (roi == nullptr) return ctx.error(Status::kBadModel, "tf_crop_and_resize needs roi");
    if (roi->constant == nullptr)
      return ctx.error(Status::kUnsupported, "roi '" + roi->name + "' must be a constant");
    if (roi->dtype != DType::kFloat32 && roi->dtype != DType::kFloat64)
      return ctx.error(Status::kUnsupported, "roi '" + roi->name + "' must be float32 or float64");
    if (roi->num_elements() != 2 * static_cast<int64_t>(axes.size()))
      return ctx.error(Status::kBadModel, "roi '" + roi->name + "' must have 2 values per resized axis");
    auto roi_at = [&](size_t i) {
      if (roi->dtype == DType::kFloat64) {
        double v;
        std::memcpy(&v, static_cast<const char*>(roi->constant) + i * sizeof(v), sizeof(v));
        return v;
      }
      float v;
      std::memcpy(&v, static_cast<const char*>(roi->constant) + i * sizeof(v), sizeof(v));
      return static_cast<double>(v);
    };
    for (size_t j = 0; j < axes.size(); ++j) {
      map[static_cast<size_t>(axes[j])].roi_start = roi_at(j);
      map[static_cast<size_t>(axes[j])].roi_end = roi_at(axes.size() + j);
    }
  }

  std::vector<int64_t> out_shape(rank), in_strides(rank);
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    out_shape[i] = map[i].out;
    in_strides[i] = stride;
    stride *= x.shape[i];
  }
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, out_shape));
  for (size_t i = 0; i < rank; ++i)
    if (map[i].in == 0 && map[i].out > 0)
      return ctx.error(Status::kBadModel, "cannot resize the empty input " + shape_str(x.shape));

  const float extrapolation = ctx.attrs->get_float("extrapolation_value", 0.f);
  const bool crop = coord_mode == "tf_crop_and_resize";
  if (mode == "nearest" && !crop) {
    std::vector<std::vector<int64_t>> index(rank);
    for (size_t i = 0; i < rank; ++i) {
      for (int64_t o = 0; o < map[i].out; ++o) {
        bool outside;
        const double xo = map[i].original(o, &outside);
        index[i].push_back(clamp_index(static_cast<double>(round_nearest(xo, nearest_mode)), map[i].in));
      }
    }
    return std::unique_ptr<OpKernel>(new ResizeNearestKernel(out_shape, in_strides, std::move(index), bytes));
  }
  if (bytes)
    return ctx.error(Status::kUnsupported, "8-bit input '" + x.name + "': only mode 'nearest' runs on 8-bit data");

  // Linear, and nearest with tf_crop_and_resize (which needs the extrapolation value):
  // nearest reads only `lo`.
  std::vector<LinearTable> tables(rank);
  for (size_t i = 0; i < rank; ++i) {
    LinearTable& t = tables[i];
    for (int64_t o = 0; o < map[i].out; ++o) {
      bool outside;
      const double xo = map[i].original(o, &outside);
      if (outside) {
        t.lo.push_back(-1);
        t.hi.push_back(-1);
        t.weight.push_back(0.f);
      } else if (mode == "nearest") {
        t.lo.push_back(clamp_index(static_cast<double>(round_nearest(xo, nearest_mode)), map[i].in));
        t.hi.push_back(t.lo.back());
        t.weight.push_back(0.f);
      } else {
        const double lower = std::floor(xo);
        t.lo.push_back(clamp_index(lower, map[i].in));
        t.hi.push_back(clamp_index(lower + 1.0, map[i].in));
        t.weight.push_back(static_cast<float>(xo - lower));
      }
      t.interpolate = t.interpolate || (t.weight.back() != 0.f && t.hi.back() != t.lo.back());
    }
  }
  return std::unique_ptr<OpKernel>(new ResizeLinearKernel(out_shape, in_strides, std::move(tables), extrapolation));
}

}  // namespace pare::rt::ops
