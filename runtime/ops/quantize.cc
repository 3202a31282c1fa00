// QuantizeLinear and DequantizeLinear (ONNX opset 13 semantics), and the helpers the int8
// forms of the other ops share (per-tensor quantization, 256-entry tables).
//
// Scale and zero point are scalars (per tensor) or 1-D along `axis` (per axis). Constant ones
// become kernel parameters at prepare; runtime ones are read at every run.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/kernels/qeltwise/qeltwise.h"
#include "runtime/kernels/quant/requant.h"
#include "runtime/ops/common.h"
#include "runtime/ops/parallel.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

using kernels::Q8EltwiseVariant;
using kernels::Q8QuantizeParams;

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

// x viewed as [outer, channels, inner] around the quantization axis (channels 1 per tensor).
struct AxisSplit {
  size_t outer = 1, channels = 1, inner = 1;
};

// Validates scale (input 1) and zero point (input 2, optional; dtype `zp_dtype`) against x
// and fills the split. Blocked quantization (opset 21 block_size) is not supported.
Status quant_axis(const PrepareContext& ctx, const TensorDesc& x, AxisSplit* split) {
  const TensorDesc& scale = *ctx.inputs[1];
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, scale, "scale", {DType::kFloat32}));
  int64_t block_size = 0;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "block_size", 0, &block_size));
  if (block_size != 0 || scale.rank() > 1)
    return ctx.error(Status::kUnsupported, "blocked quantization (scale of shape " + shape_str(scale.shape) +
                                               ") is not supported");
  const TensorDesc* zp = optional_input(ctx, 2);
  if (zp != nullptr && zp->num_elements() != scale.num_elements())
    return ctx.error(Status::kBadModel, "zero point shape " + shape_str(zp->shape) + " differs from scale shape " +
                                            shape_str(scale.shape));
  split->outer = static_cast<size_t>(x.num_elements());
  if (scale.rank() == 0 || (scale.num_elements() == 1 && x.rank() == 0)) return Status::ok();
  int64_t axis = 1;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "axis", 1, &axis));
  PARE_RT_RETURN_IF_ERROR(normalize_axis(ctx, axis, static_cast<int64_t>(x.rank()), &axis));
  const int64_t c = x.shape[static_cast<size_t>(axis)];
  if (scale.num_elements() == 1 && c != 1) return Status::ok();  // [1]: one scale for all
  if (scale.num_elements() != c)
    return ctx.error(Status::kBadModel, "scale shape " + shape_str(scale.shape) + " does not match axis " +
                                            std::to_string(axis) + " of " + shape_str(x.shape));
  split->outer = split->channels = split->inner = 1;
  for (int64_t d = 0; d < axis; ++d) split->outer *= static_cast<size_t>(x.shape[static_cast<size_t>(d)]);
  split->channels = static_cast<size_t>(c);
  for (size_t d = static_cast<size_t>(axis) + 1; d < x.rank(); ++d) split->inner *= static_cast<size_t>(x.shape[d]);
  return Status::ok();
}

int32_t zero_point_at(const void* zp, DType t, size_t i) {
  if (zp == nullptr) return 0;
  switch (t) {
    case DType::kUInt8: return static_cast<const uint8_t*>(zp)[i];
    case DType::kInt8: return static_cast<const int8_t*>(zp)[i];
    default: {
      int32_t v;
      std::memcpy(&v, static_cast<const uint8_t*>(zp) + i * sizeof(int32_t), sizeof(v));
      return v;
    }
  }
}

// Scale and zero point of each channel, from constants at prepare or from the run's inputs.
struct ChannelParams {
  size_t channels = 1;
  DType zp_dtype = DType::kUInt8;
  bool constant = false;
  bool has_zero_point = false;
  std::vector<float> scales;
  std::vector<int32_t> zero_points;

  void init(const PrepareContext& ctx, size_t c) {
    channels = c;
    const TensorDesc* zp = optional_input(ctx, 2);
    has_zero_point = zp != nullptr;
    if (zp != nullptr) zp_dtype = zp->dtype;
    constant = ctx.inputs[1]->constant != nullptr && (zp == nullptr || zp->constant != nullptr);
    scales.resize(channels);  // sized here: runs must not allocate
    zero_points.resize(channels);
    if (constant) read(ctx.inputs[1]->constant, zp ? zp->constant : nullptr);
  }
  void read(const void* scale, const void* zp) {
    for (size_t c = 0; c < channels; ++c) {
      std::memcpy(&scales[c], static_cast<const float*>(scale) + c, sizeof(float));
      zero_points[c] = zero_point_at(zp, zp_dtype, c);
    }
  }
};

// pare's short form: no scale input; the 8-bit tensor (Quantize's output, Dequantize's input)
// carries scale, zero point and axis in its quantization (docs/quantization.md).
Status params_from_quantization(const PrepareContext& ctx, const TensorDesc& x, const TensorDesc& q8,
                                AxisSplit* split, ChannelParams* params) {
  if (optional_input(ctx, 2) != nullptr)
    return ctx.error(Status::kBadModel, "a zero point without a scale");
  if (!q8.quantized)
    return ctx.error(Status::kBadModel, "no scale input, and '" + q8.name + "' has no quantization");
  const QuantParams& q = q8.quant;
  split->outer = static_cast<size_t>(x.num_elements());
  split->channels = split->inner = 1;
  if (q.axis >= 0) {
    split->outer = 1;
    for (int32_t d = 0; d < q.axis; ++d) split->outer *= static_cast<size_t>(x.shape[static_cast<size_t>(d)]);
    split->channels = static_cast<size_t>(x.shape[static_cast<size_t>(q.axis)]);
    for (size_t d = static_cast<size_t>(q.axis) + 1; d < x.rank(); ++d) split->inner *= static_cast<size_t>(x.shape[d]);
  }
  params->channels = split->channels;
  params->zp_dtype = q8.dtype;
  params->constant = true;
  params->has_zero_point = true;
  params->scales.assign(q.scales.begin(), q.scales.end());
  params->zero_points.assign(q.zero_points.begin(), q.zero_points.end());
  if (params->scales.size() != split->channels)
    return ctx.error(Status::kBadModel, "'" + q8.name + "' has " + std::to_string(params->scales.size()) +
                                            " scales for " + std::to_string(split->channels) + " channels");
  return Status::ok();
}

// Runs fn(channel, row_begin_element, count) over the rows of a split; a per-tensor split is
// one row cut into element blocks for the threads.
template <typename F>
void for_rows(ThreadPool* pool, const AxisSplit& s, const F& fn) {
  if (s.channels == 1 && s.inner == 1) {
    split_elements(pool, s.outer, kEltwiseParallelMin, [&](size_t b, size_t e) { fn(0, b, e - b); });
    return;
  }
  const size_t rows = s.outer * s.channels;
  ThreadPool* p = rows * s.inner >= kEltwiseParallelMin ? pool : nullptr;
  parallel_for(p, rows, [&](size_t b, size_t e) {
    for (size_t r = b; r < e; ++r) fn(r % s.channels, r * s.inner, s.inner);
  });
}

class QuantizeKernel final : public OpKernel {
 public:
  QuantizeKernel(std::string name, kernels::Q8QuantizeFn fn, AxisSplit split, ChannelParams params, bool is_signed)
      : name_(std::move(name)), fn_(fn), split_(split), params_(std::move(params)), is_signed_(is_signed) {}

  void run(const ExecContext& ctx) override {
    if (!params_.constant) params_.read(ctx.inputs[1], params_.has_zero_point ? ctx.inputs[2] : nullptr);
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    auto* y = static_cast<uint8_t*>(ctx.outputs[0]);
    for_rows(ctx.pool, split_, [&](size_t c, size_t begin, size_t n) {
      Q8QuantizeParams p;
      p.scale = params_.scales[c];
      p.zero_point = params_.zero_points[c];
      p.lo = kernels::q8_min(is_signed_);
      p.hi = kernels::q8_max(is_signed_);
      fn_(n, x + begin, p, y + begin);
    });
  }
  const char* kernel_name() const override { return name_.c_str(); }

 private:
  std::string name_;
  kernels::Q8QuantizeFn fn_;
  AxisSplit split_;
  ChannelParams params_;  // runtime scales are read into it (a kernel runs one call at a time)
  bool is_signed_;
};

class DequantizeKernel final : public OpKernel {
 public:
  DequantizeKernel(std::string name, kernels::Q8DequantizeFn fn, DType x_dtype, AxisSplit split, ChannelParams params)
      : name_(std::move(name)), fn_(fn), x_dtype_(x_dtype), split_(split), params_(std::move(params)) {}

  void run(const ExecContext& ctx) override {
    if (!params_.constant) params_.read(ctx.inputs[1], params_.has_zero_point ? ctx.inputs[2] : nullptr);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    for_rows(ctx.pool, split_, [&](size_t c, size_t begin, size_t n) {
      const float scale = params_.scales[c];
      const int32_t zp = params_.zero_points[c];
      if (x_dtype_ == DType::kInt32) {
        const auto* x = static_cast<const int32_t*>(ctx.inputs[0]) + begin;
        for (size_t i = 0; i < n; ++i) y[begin + i] = static_cast<float>(int64_t{x[i]} - zp) * scale;
        return;
      }
      fn_(n, static_cast<const uint8_t*>(ctx.inputs[0]) + begin, x_dtype_ == DType::kInt8, zp, scale, y + begin);
    });
  }
  const char* kernel_name() const override { return name_.c_str(); }

 private:
  std::string name_;
  kernels::Q8DequantizeFn fn_;
  DType x_dtype_;
  AxisSplit split_;
  ChannelParams params_;
};

}  // namespace

bool is_q8_tensor(const TensorDesc* t) { return t != nullptr && t->quantized && is_8bit(t->dtype); }

Status q8_per_tensor(const PrepareContext& ctx, const TensorDesc& t, const char* what, Q8Quant* out) {
  if (!is_q8_tensor(&t))
    return ctx.error(Status::kBadModel, std::string(what) + " '" + t.name + "' must be a quantized uint8/int8 tensor");
  if (t.quant.scales.size() != 1 || t.quant.zero_points.size() != 1)
    return ctx.error(Status::kUnsupported, std::string(what) + " '" + t.name +
                                               "' is quantized per axis; only per-tensor quantization is supported");
  out->is_signed = t.dtype == DType::kInt8;
  out->scale = t.quant.scales[0];
  const int64_t zp = t.quant.zero_points[0];
  if (!std::isfinite(out->scale) || out->scale <= 0.f)
    return ctx.error(Status::kBadModel, std::string(what) + " '" + t.name + "' has scale " +
                                            std::to_string(out->scale) + " (must be finite and positive)");
  if (zp < kernels::q8_min(out->is_signed) || zp > kernels::q8_max(out->is_signed))
    return ctx.error(Status::kBadModel, std::string(what) + " '" + t.name + "' has zero point " +
                                            std::to_string(zp) + " outside its dtype's range");
  out->zero_point = static_cast<int32_t>(zp);
  return Status::ok();
}

Result<std::unique_ptr<OpKernel>> prepare_q8_table(
    const PrepareContext& ctx, const char* op, const std::function<void(size_t n, const float* x, float* y)>& f) {
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  Q8Quant qx, qy;
  PARE_RT_RETURN_IF_ERROR(q8_per_tensor(ctx, x, "input", &qx));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, ctx.outputs[0]->dtype, x.shape));
  PARE_RT_RETURN_IF_ERROR(q8_per_tensor(ctx, *ctx.outputs[0], "output", &qy));
  // Every byte value, read in x's dtype, through the float function.
  uint8_t bytes[256];
  for (int i = 0; i < 256; ++i) bytes[i] = static_cast<uint8_t>(i);
  float real[256], mapped[256];
  kernels::q8_dequantize_ref(256, bytes, qx.is_signed, qx.zero_point, qx.scale, real);
  f(256, real, mapped);
  Q8QuantizeParams p;
  p.scale = qy.scale;
  p.zero_point = qy.zero_point;
  p.lo = kernels::q8_min(qy.is_signed);
  p.hi = kernels::q8_max(qy.is_signed);
  uint8_t table[256];
  kernels::q8_quantize_ref(256, mapped, p, table);
  const Q8EltwiseVariant& v = kernels::select_q8_eltwise(ctx.isa);
  std::string name = std::string(dtype_tag(x.dtype)) + "_" + op + "_lut__" + v.isa_name;
  return std::unique_ptr<OpKernel>(
      std::make_unique<Q8TableKernel>(std::move(name), table, static_cast<size_t>(x.num_elements()), v.lookup));
}

const char Q8TableKernel::kTag = 't';

Q8TableKernel::Q8TableKernel(std::string name, const uint8_t (&table)[256], size_t n, kernels::Q8LookupFn lookup)
    : name_(std::move(name)), n_(n), lookup_(lookup) {
  std::memcpy(table_, table, sizeof(table_));
}

void Q8TableKernel::run(const ExecContext& ec) {
  const auto* in = static_cast<const uint8_t*>(ec.inputs[0]);
  auto* out = static_cast<uint8_t*>(ec.outputs[0]);
  split_elements(ec.pool, n_, kEltwiseParallelMin, [&](size_t b, size_t e) { lookup_(e - b, in + b, table_, out + b); });
}

Result<std::unique_ptr<OpKernel>> prepare_QuantizeLinear(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 3, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input", {DType::kFloat32}));
  const bool short_form = optional_input(ctx, 1) == nullptr;
  const DType y_dtype = ctx.outputs[0]->dtype;
  if (!is_8bit(y_dtype))
    return ctx.error(Status::kUnsupported, std::string("quantizing to ") + dtype_label(static_cast<int32_t>(y_dtype)) +
                                               " is not supported (uint8, int8)");
  const TensorDesc* zp = optional_input(ctx, 2);
  if (zp != nullptr && zp->dtype != y_dtype)
    return ctx.error(Status::kBadModel, std::string("zero point dtype ") + dtype_name(zp->dtype) +
                                            " differs from the output's " + dtype_name(y_dtype));
  AxisSplit split;
  ChannelParams params;
  if (short_form) {
    PARE_RT_RETURN_IF_ERROR(params_from_quantization(ctx, x, *ctx.outputs[0], &split, &params));
  } else {
    PARE_RT_RETURN_IF_ERROR(quant_axis(ctx, x, &split));
    params.init(ctx, split.channels);
  }
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, y_dtype, x.shape));
  const Q8EltwiseVariant& v = kernels::select_q8_eltwise(ctx.isa);
  std::string name = std::string("f32_") + dtype_tag(y_dtype) + "_quantize__" + v.isa_name;
  return std::unique_ptr<OpKernel>(
      new QuantizeKernel(std::move(name), v.quantize, split, std::move(params), y_dtype == DType::kInt8));
}

Result<std::unique_ptr<OpKernel>> prepare_DequantizeLinear(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 3, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  const bool short_form = optional_input(ctx, 1) == nullptr;
  if (!is_8bit(x.dtype) && x.dtype != DType::kInt32)
    return ctx.error(Status::kUnsupported, std::string("dequantizing ") + dtype_label(static_cast<int32_t>(x.dtype)) +
                                               " is not supported (uint8, int8, int32)");
  const TensorDesc* zp = optional_input(ctx, 2);
  if (zp != nullptr && zp->dtype != x.dtype)
    return ctx.error(Status::kBadModel, std::string("zero point dtype ") + dtype_name(zp->dtype) +
                                            " differs from the input's " + dtype_name(x.dtype));
  AxisSplit split;
  ChannelParams params;
  if (short_form) {
    PARE_RT_RETURN_IF_ERROR(params_from_quantization(ctx, x, x, &split, &params));
  } else {
    PARE_RT_RETURN_IF_ERROR(quant_axis(ctx, x, &split));
    params.init(ctx, split.channels);
  }
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, DType::kFloat32, x.shape));
  const Q8EltwiseVariant& v = kernels::select_q8_eltwise(ctx.isa);
  std::string name = std::string(dtype_tag(x.dtype)) + "_f32_dequantize__" +
                     (x.dtype == DType::kInt32 ? "scalar" : v.isa_name);
  return std::unique_ptr<OpKernel>(new DequantizeKernel(std::move(name), v.dequantize, x.dtype, split, std::move(params)));
}

}  // namespace pare::rt::ops
