// What only the NN ops (conv, gemm, pool and their int8 forms) share: kernel names with a
// fused activation, the sliding-window geometry and data layouts, and the int8 entry points.
// The checks, attribute and constant readers, aligned arrays and threading helpers every op
// uses are in runtime/ops/common.h and runtime/ops/parallel.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/op.h"
#include "runtime/ops/common.h"

namespace pare::rt::kernels {
struct ConvGeometry;
struct Requant;
}  // namespace pare::rt::kernels

namespace pare::rt::ops::nn {

// Output channels per group from which a grouped Conv (not depthwise) runs as one packed
// GEMM per group, float32 and int8: a group's panel is padded to the tile's width (32
// columns on AVX-512), so fewer would multiply the packed weights by more than 8 for little
// gain over the direct loop.
constexpr int64_t kMinGroupedOutChannels = 4;

inline const char* activation_suffix(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::kNone: return "";
    case ActivationKind::kRelu: return "_relu";
    case ActivationKind::kClip: return "_clip";
    case ActivationKind::kSigmoid: return "_sigmoid";
    case ActivationKind::kHardSigmoid: return "_hardsigmoid";
    case ActivationKind::kHardSwish: return "_hardswish";
    case ActivationKind::kLeakyRelu: return "_leakyrelu";
    case ActivationKind::kSilu: return "_silu";
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
    case ActivationKind::kHardSwish: case ActivationKind::kLeakyRelu: case ActivationKind::kSilu:
      return Status::ok();
  }
  return ctx.error(Status::kUnsupported, "unknown fused activation " +
                                             std::to_string(static_cast<int>(ctx.activation.kind)));
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
  CheckedMath m;
  for (size_t i = 0; i < n; ++i) {
    const int64_t extent = m.add(m.mul(w->kernel[i] - 1, w->dilations[i]), 1);
    const int64_t s = w->strides[i];
    if (auto_pad == "NOTSET") {
      const int64_t span = m.sub(m.add(m.add(in[i], w->pad_begin[i]), w->pad_end[i]), extent);
      if (m.overflow) break;
      if (span < 0)
        return ctx.error(Status::kBadModel, "the window (extent " + std::to_string(extent) +
                                                ") is larger than the padded input " + shape_str(in));
      int64_t out = span / s + (ceil_mode && span % s != 0 ? 1 : 0) + 1;
      // A window that would start in the end padding is dropped.
      if (ceil_mode && m.mul(out - 1, s) >= m.add(in[i], w->pad_begin[i])) --out;
      w->out[i] = out;
    } else if (auto_pad == "VALID") {
      if (m.overflow) break;
      if (in[i] < extent)
        return ctx.error(Status::kBadModel, "the window (extent " + std::to_string(extent) +
                                                ") is larger than the input " + shape_str(in));
      w->pad_begin[i] = w->pad_end[i] = 0;
      w->out[i] = (in[i] - extent) / s + 1;
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      w->out[i] = in[i] / s + (in[i] % s != 0 ? 1 : 0);
      const int64_t total = std::max<int64_t>(0, m.sub(m.add(m.mul(w->out[i] - 1, s), extent), in[i]));
      const int64_t small = total / 2, large = total - total / 2;
      w->pad_begin[i] = auto_pad == "SAME_UPPER" ? small : large;
      w->pad_end[i] = auto_pad == "SAME_UPPER" ? large : small;
    } else {
      return ctx.error(Status::kBadModel, "unknown auto_pad '" + auto_pad + "'");
    }
  }
  if (m.overflow)
    return ctx.error(Status::kBadModel, "kernel_shape " + shape_str(w->kernel) + ", strides " + shape_str(w->strides) +
                                            ", dilations " + shape_str(w->dilations) + " and pads " + shape_str(pads) +
                                            " overflow 64-bit sizes");
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

}  // namespace pare::rt::ops::nn
