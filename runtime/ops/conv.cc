// Conv and ConvTranspose (1-D to 3-D, grouped, fused activation), float32.
#include <string>
#include <utility>

#include "runtime/kernels/conv/conv.h"
#include "runtime/ops/nn_util.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

using kernels::ConvGeometry;
using ConvFn = void (*)(const ConvGeometry&, const float*, const float*, const float*, float*,
                        int64_t, int64_t);

class ConvKernel final : public OpKernel {
 public:
  ConvKernel(ConvFn fn, const ConvGeometry& g, bool has_bias, FusedActivation act, std::string name)
      : fn_(fn), g_(g), has_bias_(has_bias), act_(act), name_(std::move(name)) {}

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    const auto* w = static_cast<const float*>(ctx.inputs[1]);
    const auto* bias = has_bias_ ? static_cast<const float*>(ctx.inputs[2]) : nullptr;
    auto* y = static_cast<float*>(ctx.outputs[0]);
    const int64_t out_plane = g_.out_size[0] * g_.out_size[1] * g_.out_size[2];
    const size_t planes = static_cast<size_t>(g_.batch * g_.out_channels);
    nn::parallel_for(ctx.pool, planes, [&](size_t begin, size_t end) {
      fn_(g_, x, w, bias, y, static_cast<int64_t>(begin), static_cast<int64_t>(end));
      apply_activation(act_, y + static_cast<int64_t>(begin) * out_plane,
                       (end - begin) * static_cast<size_t>(out_plane));
    });
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  ConvFn fn_;
  ConvGeometry g_;
  bool has_bias_;
  FusedActivation act_;
  std::string name_;
};

// Checks X, W and the optional B of either op: float32, X of rank 3 to 5, W of X's rank,
// B of shape [bias_size].
Status check_conv_inputs(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(nn::check_arity(ctx, 2, 3, 1));
  const TensorDesc& x = *ctx.inputs[0];
  const TensorDesc& w = *ctx.inputs[1];
  PARE_RT_RETURN_IF_ERROR(nn::check_dtype(ctx, x, DType::kFloat32, "input"));
  PARE_RT_RETURN_IF_ERROR(nn::check_dtype(ctx, w, DType::kFloat32, "weight"));
  if (x.rank() < 3 || x.rank() > 5)
    return ctx.error(Status::kUnsupported, "input '" + x.name + "' has shape " + shape_str(x.shape) +
                                               ": only 1-D to 3-D convolutions (rank 3 to 5) are supported");
  if (w.rank() != x.rank())
    return ctx.error(Status::kBadModel, "weight '" + w.name + "' has shape " + shape_str(w.shape) +
                                            ", expected rank " + std::to_string(x.rank()));
  if (const TensorDesc* b = nn::input_at(ctx, 2))
    PARE_RT_RETURN_IF_ERROR(nn::check_dtype(ctx, *b, DType::kFloat32, "bias"));
  if (ctx.attrs->has("kernel_shape")) {
    std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
    if (ctx.attrs->get_ints("kernel_shape") != kernel)
      return ctx.error(Status::kBadModel, "kernel_shape " + shape_str(ctx.attrs->get_ints("kernel_shape")) +
                                              " does not match weight shape " + shape_str(w.shape));
  }
  return nn::check_activation(ctx);
}

Status check_bias(const PrepareContext& ctx, int64_t channels) {
  const TensorDesc* b = nn::input_at(ctx, 2);
  if (b && b->shape != std::vector<int64_t>{channels})
    return ctx.error(Status::kBadModel, "bias '" + b->name + "' has shape " + shape_str(b->shape) +
                                            ", expected [" + std::to_string(channels) + "]");
  return Status::ok();
}

// Floor division (rounds toward minus infinity, like Python's //).
int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_Conv(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_conv_inputs(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  const TensorDesc& w = *ctx.inputs[1];
  const int64_t group = ctx.attrs->get_int("group", 1);
  const int64_t channels = x.shape[1], out_channels = w.shape[0];
  if (group < 1 || channels % group != 0 || out_channels % group != 0)
    return ctx.error(Status::kBadModel, "group " + std::to_string(group) + " must divide the " +
                                            std::to_string(channels) + " input and " +
                                            std::to_string(out_channels) + " output channels");
  if (w.shape[1] != channels / group)
    return ctx.error(Status::kBadModel, "weight '" + w.name + "' has shape " + shape_str(w.shape) +
                                            ": dim 1 should be " + std::to_string(channels / group) +
                                            " (input channels / group)");
  PARE_RT_RETURN_IF_ERROR(check_bias(ctx, out_channels));

  std::vector<int64_t> in(x.shape.begin() + 2, x.shape.end());
  std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  nn::Window win;
  PARE_RT_RETURN_IF_ERROR(nn::resolve_window(ctx, in, kernel, false, &win));

  std::vector<int64_t> out_shape = {x.shape[0], out_channels};
  out_shape.insert(out_shape.end(), win.out.begin(), win.out.end());
  PARE_RT_RETURN_IF_ERROR(nn::check_output(ctx, 0, DType::kFloat32, out_shape));

  ConvGeometry g;
  g.batch = x.shape[0];
  g.groups = group;
  g.in_channels = channels;
  g.out_channels = out_channels;
  nn::right_align3(in, g.in_size);
  nn::right_align3(win.out, g.out_size);
  nn::right_align3(win.kernel, g.kernel);
  nn::right_align3(win.strides, g.stride);
  nn::right_align3(win.dilations, g.dilation);
  nn::right_align3(win.pad_begin, g.pad_begin);
  return std::unique_ptr<OpKernel>(new ConvKernel(kernels::f32_conv_ref__scalar, g,
                                                  nn::input_at(ctx, 2) != nullptr, ctx.activation,
                                                  nn::kernel_name("f32_conv", ctx.activation, "ref__scalar")));
}

Result<std::unique_ptr<OpKernel>> prepare_ConvTranspose(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_conv_inputs(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  const TensorDesc& w = *ctx.inputs[1];
  const int64_t group = ctx.attrs->get_int("group", 1);
  const int64_t channels = x.shape[1];
  if (w.shape[0] != channels)
    return ctx.error(Status::kBadModel, "weight '" + w.name + "' has shape " + shape_str(w.shape) +
                                            ": dim 0 should be " + std::to_string(channels) +
                                            " (input channels)");
  if (group < 1 || channels % group != 0)
    return ctx.error(Status::kBadModel, "group " + std::to_string(group) + " must divide the " +
                                            std::to_string(channels) + " input channels");
  const int64_t out_channels = w.shape[1] * group;
  PARE_RT_RETURN_IF_ERROR(check_bias(ctx, out_channels));

  const size_t n = x.rank() - 2;
  const std::vector<int64_t> in(x.shape.begin() + 2, x.shape.end());
  const std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  const std::vector<int64_t> strides = ctx.attrs->get_ints("strides", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> dilations = ctx.attrs->get_ints("dilations", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> output_padding =
      ctx.attrs->get_ints("output_padding", std::vector<int64_t>(n, 0));
  const std::vector<int64_t> pads = ctx.attrs->get_ints("pads", std::vector<int64_t>(2 * n, 0));
  std::vector<int64_t> output_shape = ctx.attrs->get_ints("output_shape");
  const std::string auto_pad = ctx.attrs->get_string("auto_pad", "NOTSET");

  if (strides.size() != n || dilations.size() != n || output_padding.size() != n || pads.size() != 2 * n)
    return ctx.error(Status::kBadModel, "strides, dilations, output_padding and pads must have one value per "
                                        "spatial dim (pads two)");
  // output_shape may list the batch and channel dims too.
  if (output_shape.size() == n + 2) output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  if (!output_shape.empty() && output_shape.size() != n)
    return ctx.error(Status::kBadModel, "output_shape " + shape_str(output_shape) + " does not match " +
                                            std::to_string(n) + " spatial dims");
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER")
    return ctx.error(Status::kBadModel, "unknown auto_pad '" + auto_pad + "'");

  std::vector<int64_t> out(n), pad_begin(n);
  for (size_t i = 0; i < n; ++i) {
    if (kernel[i] < 1 || strides[i] < 1 || dilations[i] < 1)
      return ctx.error(Status::kBadModel, "kernel dims, strides and dilations must be positive");
    if (output_padding[i] < 0 || pads[i] < 0 || pads[n + i] < 0)
      return ctx.error(Status::kBadModel, "pads and output_padding must be >= 0");
    // The full (unpadded) output extent of the scatter.
    const int64_t full = strides[i] * (in[i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1;
    if (!output_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      // Pads follow from the output size; a negative total pads the end with zeros.
      out[i] = !output_shape.empty() ? output_shape[i] : in[i] * strides[i];
      const int64_t total = full - out[i];
      pad_begin[i] = auto_pad == "SAME_UPPER" ? floor_div(total, 2) : total - floor_div(total, 2);
    } else if (auto_pad == "VALID") {
      out[i] = full;
      pad_begin[i] = 0;
    } else {
      out[i] = full - pads[i] - pads[n + i];
      pad_begin[i] = pads[i];
    }
    if (out[i] < 1)
      return ctx.error(Status::kBadModel, "output spatial dims " + shape_str(out) + " must be positive");
  }

  std::vector<int64_t> out_shape = {x.shape[0], out_channels};
  out_shape.insert(out_shape.end(), out.begin(), out.end());
  PARE_RT_RETURN_IF_ERROR(nn::check_output(ctx, 0, DType::kFloat32, out_shape));

  ConvGeometry g;
  g.batch = x.shape[0];
  g.groups = group;
  g.in_channels = channels;
  g.out_channels = out_channels;
  nn::right_align3(in, g.in_size);
  nn::right_align3(out, g.out_size);
  nn::right_align3(kernel, g.kernel);
  nn::right_align3(strides, g.stride);
  nn::right_align3(dilations, g.dilation);
  nn::right_align3(pad_begin, g.pad_begin);
  return std::unique_ptr<OpKernel>(
      new ConvKernel(kernels::f32_convtranspose_ref__scalar, g, nn::input_at(ctx, 2) != nullptr,
                     ctx.activation, nn::kernel_name("f32_convtranspose", ctx.activation, "ref__scalar")));
}

}  // namespace pare::rt::ops
