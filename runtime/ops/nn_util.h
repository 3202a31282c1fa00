// Validation and geometry shared by the NN ops (conv, gemm, pool, normalization, softmax,
// resize, pad).
#pragma once

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/op.h"
#include "runtime/ops/common.h"
#include "runtime/thread_pool.h"

namespace pare::rt::kernels {
struct ConvGeometry;
struct Requant;
}  // namespace pare::rt::kernels

namespace pare::rt::ops::nn {

// Between min_inputs and max_inputs inputs (the first min_inputs present) and exactly
// `outputs` outputs, all present.
inline Status check_arity(const PrepareContext& ctx, size_t min_inputs, size_t max_inputs,
                          size_t outputs) {
  if (ctx.inputs.size() < min_inputs || ctx.inputs.size() > max_inputs) {
    std::string expected = min_inputs == max_inputs
                               ? std::to_string(min_inputs)
                               : std::to_string(min_inputs) + " to " + std::to_string(max_inputs);
    return ctx.error(Status::kBadModel, "expects " + expected + " inputs, has " +
                                            std::to_string(ctx.inputs.size()));
  }
  for (size_t i = 0; i < min_inputs; ++i)
    if (!ctx.inputs[i]) return ctx.error(Status::kBadModel, "input " + std::to_string(i) + " is missing");
  if (ctx.outputs.size() != outputs)
    return ctx.error(outputs < ctx.outputs.size() ? Status::kUnsupported : Status::kBadModel,
                     "expects " + std::to_string(outputs) + " output(s), has " +
                         std::to_string(ctx.outputs.size()));
  for (size_t i = 0; i < outputs; ++i)
    if (!ctx.outputs[i]) return ctx.error(Status::kBadModel, "output " + std::to_string(i) + " is missing");
  return Status::ok();
}

inline Status check_dtype(const PrepareContext& ctx, const TensorDesc& t, DType expected,
                          const char* what) {
  if (t.dtype == expected) return Status::ok();
  return ctx.error(Status::kUnsupported, std::string(what) + " '" + t.name + "' has dtype " +
                                             dtype_name(t.dtype) + ", expected " +
                                             dtype_name(expected));
}

// The planned output i must have the dtype and shape prepare computed (one check for all ops).
using ops::check_output;

// Maps axis in [-rank, rank) to [0, rank); false when out of range.
inline bool normalize_axis(int64_t axis, size_t rank, int64_t* out) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r) return false;
  *out = axis < 0 ? axis + r : axis;
  return true;
}

inline const char* activation_suffix(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::kNone: return "";
    case ActivationKind::kRelu: return "_relu";
    case ActivationKind::kClip: return "_clip";
    case ActivationKind::kSigmoid: return "_sigmoid";
    case ActivationKind::kHardSigmoid: return "_hardsigmoid";
    case ActivationKind::kHardSwish: return "_hardswish";
    case ActivationKind::kLeakyRelu: return "_leakyrelu";
  }
  return "";
}

// "<dtype>_<op>[_<activation>]_<tile>__<isa>", e.g. kernel_name("f32_conv", relu, "ref__scalar").
inline std::string kernel_name(const char* dtype_op, const FusedActivation& act, const char* tile_isa) {
  return std::string(dtype_op) + activation_suffix(act.kind) + "_" + tile_isa;
}

inline Status check_activation(const PrepareContext& ctx) {
  switch (ctx.activation.kind) {
    case ActivationKind::kNone: case ActivationKind::kRelu: case ActivationKind::kClip:
    case ActivationKind::kSigmoid: case ActivationKind::kHardSigmoid:
    case ActivationKind::kHardSwish: case ActivationKind::kLeakyRelu:
      return Status::ok();
  }
  return ctx.error(Status::kUnsupported, "unknown fused activation " +
                                             std::to_string(static_cast<int>(ctx.activation.kind)));
}

// Runs fn(begin, end) over [0, n), on the pool when there is one. The chunking of the
// pool depends only on n and the thread count and every index writes its own outputs,
// so results do not depend on the thread count. No allocation: the pool receives a
// reference wrapper.
template <typename Fn>
void parallel_for(ThreadPool* pool, size_t n, const Fn& fn) {
  if (pool == nullptr || n < 2) {
    fn(size_t{0}, n);
    return;
  }
  pool->parallel_for(n, std::function<void(size_t, size_t)>(std::cref(fn)));
}

// Reads a constant int64 or int32 tensor; false when it is not a constant of those dtypes.
inline bool read_int_constant(const TensorDesc& t, std::vector<int64_t>* values) {
  if (t.constant == nullptr) return false;
  const size_t n = static_cast<size_t>(t.num_elements());
  values->resize(n);
  if (t.dtype == DType::kInt64) {
    std::memcpy(values->data(), t.constant, n * sizeof(int64_t));
    return true;
  }
  if (t.dtype == DType::kInt32) {
    for (size_t i = 0; i < n; ++i) {
      int32_t v;
      std::memcpy(&v, static_cast<const char*>(t.constant) + i * sizeof(v), sizeof(v));
      (*values)[i] = v;
    }
    return true;
  }
  return false;
}

// Sliding-window geometry of Conv and the pools over the spatial dims.
struct Window {
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end, out;
};

// Reads strides, dilations, pads and auto_pad for a window of `kernel` over the spatial
// dims `in`, validates them and computes the output dims (rounding up when ceil_mode).
inline Status resolve_window(const PrepareContext& ctx, const std::vector<int64_t>& in,
                             const std::vector<int64_t>& kernel, bool ceil_mode, Window* w) {
  const size_t n = in.size();
  w->kernel = kernel;
  w->strides = ctx.attrs->get_ints("strides", std::vector<int64_t>(n, 1));
  w->dilations = ctx.attrs->get_ints("dilations", std::vector<int64_t>(n, 1));
  std::vector<int64_t> pads = ctx.attrs->get_ints("pads", std::vector<int64_t>(2 * n, 0));
  const std::string auto_pad = ctx.attrs->get_string("auto_pad", "NOTSET");

  if (w->kernel.size() != n)
    return ctx.error(Status::kBadModel, "kernel_shape " + shape_str(w->kernel) + " does not match " +
                                            std::to_string(n) + " spatial dims");
  if (w->strides.size() != n)
    return ctx.error(Status::kBadModel, "strides " + shape_str(w->strides) + " does not match " +
                                            std::to_string(n) + " spatial dims");
  if (w->dilations.size() != n)
    return ctx.error(Status::kBadModel, "dilations " + shape_str(w->dilations) + " does not match " +
                                            std::to_string(n) + " spatial dims");
  if (pads.size() != 2 * n)
    return ctx.error(Status::kBadModel, "pads " + shape_str(pads) + " should have " +
                                            std::to_string(2 * n) + " values");
  for (size_t i = 0; i < n; ++i) {
    if (w->kernel[i] < 1 || w->strides[i] < 1 || w->dilations[i] < 1)
      return ctx.error(Status::kBadModel, "kernel_shape, strides and dilations must be positive");
    if (pads[i] < 0 || pads[n + i] < 0) return ctx.error(Status::kBadModel, "pads must be >= 0");
  }

  w->pad_begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(n));
  w->pad_end.assign(pads.begin() + static_cast<std::ptrdiff_t>(n), pads.end());
  w->out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t extent = (w->kernel[i] - 1) * w->dilations[i] + 1;
    const int64_t s = w->strides[i];
    if (auto_pad == "NOTSET") {
      const int64_t span = in[i] + w->pad_begin[i] + w->pad_end[i] - extent;
      if (span < 0)
        return ctx.error(Status::kBadModel, "the window (extent " + std::to_string(extent) +
                                                ") is larger than the padded input " + shape_str(in));
      int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
      // A window that would start in the end padding is dropped.
      if (ceil_mode && (out - 1) * s >= in[i] + w->pad_begin[i]) --out;
      w->out[i] = out;
    } else if (auto_pad == "VALID") {
      if (in[i] < extent)
        return ctx.error(Status::kBadModel, "the window (extent " + std::to_string(extent) +
                                                ") is larger than the input " + shape_str(in));
      w->pad_begin[i] = w->pad_end[i] = 0;
      w->out[i] = (in[i] - extent) / s + 1;
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      w->out[i] = (in[i] + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (w->out[i] - 1) * s + extent - in[i]);
      const int64_t small = total / 2, large = total - total / 2;
      w->pad_begin[i] = auto_pad == "SAME_UPPER" ? small : large;
      w->pad_end[i] = auto_pad == "SAME_UPPER" ? large : small;
    } else {
      return ctx.error(Status::kBadModel, "unknown auto_pad '" + auto_pad + "'");
    }
  }
  return Status::ok();
}

// The `layout` attribute of Conv and the pools: absent or "NCHW" (channels first), or
// "NHWC" (channels last), which only 4-D data may use. Sets *nhwc.
inline Status read_layout(const PrepareContext& ctx, size_t rank, bool* nhwc) {
  const std::string layout = ctx.attrs->get_string("layout", "NCHW");
  if (layout != "NCHW" && layout != "NHWC")
    return ctx.error(Status::kBadModel, "unknown layout '" + layout + "' (NCHW or NHWC)");
  *nhwc = layout == "NHWC";
  if (*nhwc && rank != 4)
    return ctx.error(Status::kUnsupported, "layout NHWC needs 4-D data, got rank " + std::to_string(rank));
  return Status::ok();
}

// [N, H, W, C] -> [N, C, H, W] and back.
inline std::vector<int64_t> nhwc_to_nchw(const std::vector<int64_t>& s) { return {s[0], s[3], s[1], s[2]}; }
inline std::vector<int64_t> nchw_to_nhwc(const std::vector<int64_t>& s) { return {s[0], s[2], s[3], s[1]}; }

// Copies per-spatial-dim values right-aligned into a 3-slot array, the leading slots
// keeping their defaults.
inline void right_align3(const std::vector<int64_t>& v, int64_t* dst) {
  const size_t offset = 3 - v.size();
  for (size_t i = 0; i < v.size(); ++i) dst[offset + i] = v[i];
}

// A float array on a 64-byte boundary (packed weights), allocated at prepare; empty until
// resize.
class AlignedFloats {
 public:
  void resize(size_t n) {
    storage_.reset(new float[n + kAlignFloats]());
    const uintptr_t address = reinterpret_cast<uintptr_t>(storage_.get());
    data_ = storage_.get() + (kAlignFloats - (address / sizeof(float)) % kAlignFloats) % kAlignFloats;
  }
  float* data() const { return data_; }
  bool empty() const { return data_ == nullptr; }

 private:
  static constexpr size_t kAlignFloats = 64 / sizeof(float);
  std::unique_ptr<float[]> storage_;
  float* data_ = nullptr;
};

// A byte array on a 64-byte boundary (packed int8 weights), allocated at prepare.
class AlignedBytes {
 public:
  void resize(size_t n) {
    storage_.reset(new uint8_t[n + 64]());
    const uintptr_t address = reinterpret_cast<uintptr_t>(storage_.get());
    data_ = storage_.get() + (64 - address % 64) % 64;
  }
  uint8_t* data() const { return data_; }
  bool empty() const { return data_ == nullptr; }

 private:
  std::unique_ptr<uint8_t[]> storage_;
  uint8_t* data_ = nullptr;
};

// Rows [0, rows) in whole MR-row units, split evenly among `workers` (so that two workers
// differ by at most one unit) and each share cut into blocks of at most `max_block` rows:
// calls fn(worker, r0, r1) for every block. Where the blocks fall does not change any
// output byte; it only keeps each block in cache and the threads evenly loaded.
template <typename Fn>
void for_each_block(ThreadPool* pool, size_t rows, size_t mr, size_t max_block, size_t workers,
                    const Fn& fn) {
  const size_t units = (rows + mr - 1) / mr, block_units = std::max<size_t>(1, max_block / mr);
  workers = std::max<size_t>(1, std::min(workers, units));
  nn::parallel_for(pool, workers, [&](size_t w0, size_t w1) {
    for (size_t w = w0; w < w1; ++w) {
      const size_t u_end = units * (w + 1) / workers;
      for (size_t u = units * w / workers; u < u_end; u += block_units) {
        const size_t r0 = u * mr, r1 = std::min(rows, std::min(u_end, u + block_units) * mr);
        fn(w, r0, r1);
      }
    }
  });
}

// Conv's geometry from the node (shared by the float and the int8 Conv; runtime/ops/conv.cc):
// checks ranks, kernel_shape, group, the bias shape and the window, and sets *nhwc, *g and
// the output shape in the node's layout. Dtypes are the caller's to check.
Status conv_geometry(const PrepareContext& ctx, bool* nhwc, kernels::ConvGeometry* g,
                     std::vector<int64_t>* out_shape);

// The int8 forms of Conv (runtime/ops/qconv.cc), Gemm and MatMul (runtime/ops/qgemm.cc), which
// the float factories call when input 0 is a quantized 8-bit tensor.
Result<std::unique_ptr<OpKernel>> prepare_q8_conv(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_q8_gemm(const PrepareContext& ctx);
Result<std::unique_ptr<OpKernel>> prepare_q8_matmul(const PrepareContext& ctx);

// The int8 output side of Conv, Gemm and MatMul (runtime/ops/qconv.cc): checks that x and y
// are 8-bit of one dtype, quantized per tensor, and w a constant int8 weight quantized per
// tensor or per output channel along w_axis with zero points 0; sets the requantization of
// each of `channels` outputs (s_x * s_w[c] / s_y), the zero points (x's and y's, in their own
// dtypes) and the output clamp [lo, hi] (y's range and a fused Relu/Clip; other fused
// activations are refused).
Status q8_output_params(const PrepareContext& ctx, const TensorDesc& x, const TensorDesc& w, int32_t w_axis,
                        const TensorDesc& y, int64_t channels, std::vector<kernels::Requant>* rq,
                        int32_t* x_zero_point, int32_t* y_zero_point, int32_t* lo, int32_t* hi);

// True when input 0 is a quantized uint8 or int8 tensor (the node runs in int8).
inline bool is_q8_input(const PrepareContext& ctx) {
  const TensorDesc* x = ctx.inputs.empty() ? nullptr : ctx.inputs[0];
  return x && x->quantized && (x->dtype == DType::kUInt8 || x->dtype == DType::kInt8);
}

}  // namespace pare::rt::ops::nn
