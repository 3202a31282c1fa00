#include "ir/shape_inference_rules.h"

#include <map>

#include "runtime/einsum_equation.h"

namespace pare::ir::shape_rules {
namespace {

// Strides, dilations, pads and auto_pad of a Conv/ConvTranspose/pool node over `k` spatial axes.
struct Window {
  Sizes kernel, strides, dilations, pads;  // pads: begins then ends
  std::string auto_pad;
  bool same() const { return auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER"; }
  int64_t extent(const NodeContext& c, size_t i) const {
    return c.add(c.mul(kernel[i] - 1, dilations[i]), 1);
  }
};

Window read_window(const NodeContext& c, const Sizes& kernel) {
  size_t k = kernel.size();
  Window w;
  w.kernel = kernel;
  w.strides = c.attrs().get_ints("strides", Sizes(k, 1));
  w.dilations = c.attrs().get_ints("dilations", Sizes(k, 1));
  w.pads = c.attrs().get_ints("pads", Sizes(2 * k, 0));
  w.auto_pad = c.attrs().get_string("auto_pad", "NOTSET");
  if (w.strides.size() != k)
    c.fail("'strides' has " + std::to_string(w.strides.size()) + " values, expected " + std::to_string(k));
  if (w.dilations.size() != k)
    c.fail("'dilations' has " + std::to_string(w.dilations.size()) + " values, expected " +
           std::to_string(k));
  if (w.pads.size() != 2 * k)
    c.fail("'pads' has " + std::to_string(w.pads.size()) + " values, expected " + std::to_string(2 * k));
  for (size_t i = 0; i < k; ++i) {
    if (w.kernel[i] < 1) c.fail("kernel size " + std::to_string(w.kernel[i]) + " must be >= 1");
    if (w.strides[i] < 1) c.fail("stride " + std::to_string(w.strides[i]) + " must be >= 1");
    if (w.dilations[i] < 1) c.fail("dilation " + std::to_string(w.dilations[i]) + " must be >= 1");
  }
  for (int64_t p : w.pads)
    if (p < 0) c.fail("pads must be >= 0");
  if (w.auto_pad != "NOTSET" && w.auto_pad != "VALID" && !w.same())
    c.fail("unknown auto_pad '" + w.auto_pad + "'");
  if (w.auto_pad == "VALID") std::fill(w.pads.begin(), w.pads.end(), 0);
  return w;
}

// Output size of a sliding window (Conv, pools) along spatial axis i.
int64_t window_output(const NodeContext& c, const Window& w, size_t i, int64_t in, bool ceil_mode) {
  int64_t s = w.strides[i];
  if (w.same()) return ceil_div(in, s);
  int64_t pad_begin = w.pads[i], pad_end = w.pads[i + w.kernel.size()];
  int64_t padded = c.add(c.add(in, pad_begin), pad_end);
  int64_t span = padded - w.extent(c, i);
  if (span < 0)
    c.fail("window of extent " + std::to_string(w.extent(c, i)) + " does not fit in padded input size " +
           std::to_string(padded) + " at spatial axis " + std::to_string(i));
  int64_t out = (ceil_mode ? ceil_div(span, s) : span / s) + 1;
  // With ceil_mode the last window must start inside the input or its begin padding
  // (as PyTorch and ONNX Runtime do).
  if (ceil_mode && (out - 1) * s >= in + pad_begin) --out;
  return out;
}

// The `layout` attribute of Conv and the pools: absent or "NCHW" (channels first), or
// "NHWC" (channels last, 4-D data only: the `nhwc` pass sets it).
bool is_nhwc(const NodeContext& c) {
  std::string layout = c.attrs().get_string("layout", "NCHW");
  if (layout == "NCHW") return false;
  if (layout != "NHWC") c.fail("unknown layout '" + layout + "' (NCHW or NHWC)");
  return true;
}

// The data input in NCHW order: with layout NHWC it is [N, H, W, C].
Sizes data_sizes_nchw(const NodeContext& c, bool nhwc) {
  Sizes x = c.sizes(0);
  if (!nhwc) return x;
  if (x.size() != 4) c.fail("layout NHWC needs a 4-D input, got " + str(x));
  return {x[0], x[3], x[1], x[2]};
}

// Writes output 0 computed in NCHW order in the node's layout.
void set_data_output(NodeContext& c, bool nhwc, const Sizes& nchw) {
  c.set_output(0, c.dtype(0), nhwc ? Sizes{nchw[0], nchw[2], nchw[3], nchw[1]} : nchw);
}

}  // namespace

void infer_conv(NodeContext& c) {
  const bool nhwc = is_nhwc(c);
  Sizes x = data_sizes_nchw(c, nhwc), w = c.sizes(1);
  if (x.size() < 3) c.fail(c.label(0) + " must have rank >= 3 (N, C, spatial...), got " + str(x));
  if (w.size() != x.size()) c.fail("weight " + str(w) + " and input " + str(x) + " ranks differ");
  int64_t group = c.attrs().get_int("group", 1);
  if (group < 1) c.fail("group must be >= 1");
  const int64_t expected_channels = c.mul(w[1], group);
  if (x[1] != expected_channels)
    c.fail("input has " + std::to_string(x[1]) + " channels; weight " + str(w) + " with group " +
           std::to_string(group) + " expects " + std::to_string(expected_channels));
  if (w[0] % group != 0) c.fail("output channels " + std::to_string(w[0]) + " not divisible by group");
  if (c.has_input(2) && c.sizes(2) != Sizes{w[0]})
    c.fail("bias " + str(c.sizes(2)) + " does not match " + std::to_string(w[0]) + " output channels");
  Sizes weight_kernel(w.begin() + 2, w.end());
  Sizes kernel = c.attrs().get_ints("kernel_shape", weight_kernel);
  if (kernel != weight_kernel) c.fail("kernel_shape " + str(kernel) + " does not match weight " + str(w));
  Window win = read_window(c, kernel);
  Sizes out = {x[0], w[0]};
  for (size_t i = 0; i < kernel.size(); ++i) out.push_back(window_output(c, win, i, x[i + 2], false));
  set_data_output(c, nhwc, out);
}

void infer_conv_transpose(NodeContext& c) {
  Sizes x = c.sizes(0), w = c.sizes(1);
  if (x.size() < 3) c.fail(c.label(0) + " must have rank >= 3 (N, C, spatial...), got " + str(x));
  if (w.size() != x.size()) c.fail("weight " + str(w) + " and input " + str(x) + " ranks differ");
  int64_t group = c.attrs().get_int("group", 1);
  if (group < 1) c.fail("group must be >= 1");
  if (x[1] != w[0])
    c.fail("input has " + std::to_string(x[1]) + " channels; weight " + str(w) + " expects " +
           std::to_string(w[0]));
  if (w[0] % group != 0) c.fail("input channels not divisible by group");
  int64_t out_channels = c.mul(w[1], group);
  if (c.has_input(2) && c.sizes(2) != Sizes{out_channels})
    c.fail("bias " + str(c.sizes(2)) + " does not match " + std::to_string(out_channels) +
           " output channels");
  Sizes weight_kernel(w.begin() + 2, w.end());
  Sizes kernel = c.attrs().get_ints("kernel_shape", weight_kernel);
  if (kernel != weight_kernel) c.fail("kernel_shape " + str(kernel) + " does not match weight " + str(w));
  size_t k = kernel.size();
  Window win = read_window(c, kernel);
  Sizes output_padding = c.attrs().get_ints("output_padding", Sizes(k, 0));
  if (output_padding.size() != k) c.fail("'output_padding' must have " + std::to_string(k) + " values");
  Sizes out = {x[0], out_channels};
  if (c.attrs().has("output_shape")) {
    // Spatial sizes; some exporters also write N and C in front.
    Sizes shape = c.attrs().get_ints("output_shape");
    if (shape.size() < k) c.fail("'output_shape' must have " + std::to_string(k) + " values");
    out.insert(out.end(), shape.end() - static_cast<std::ptrdiff_t>(k), shape.end());
  } else {
    for (size_t i = 0; i < k; ++i) {
      int64_t size = win.same() ? c.mul(x[i + 2], win.strides[i])
                                : c.add(c.add(c.mul(win.strides[i], x[i + 2] - 1), output_padding[i]),
                                        win.extent(c, i)) -
                                      c.add(win.pads[i], win.pads[i + k]);
      out.push_back(size);
    }
  }
  c.set_output(0, c.dtype(0), out);
}

void infer_pool(NodeContext& c) {
  const bool nhwc = is_nhwc(c);
  Sizes x = data_sizes_nchw(c, nhwc);
  if (x.size() < 3) c.fail(c.label(0) + " must have rank >= 3 (N, C, spatial...), got " + str(x));
  Sizes kernel = c.attrs().get_ints("kernel_shape");
  if (kernel.size() != x.size() - 2)
    c.fail("kernel_shape " + str(kernel) + " does not match input " + str(x));
  Window win = read_window(c, kernel);
  bool ceil_mode = c.attrs().get_int("ceil_mode", 0) != 0;
  Sizes out = {x[0], x[1]};
  for (size_t i = 0; i < kernel.size(); ++i) out.push_back(window_output(c, win, i, x[i + 2], ceil_mode));
  set_data_output(c, nhwc, out);
}

void infer_global_pool(NodeContext& c) {
  const bool nhwc = is_nhwc(c);
  Sizes x = data_sizes_nchw(c, nhwc);
  if (x.size() < 3) c.fail(c.label(0) + " must have rank >= 3 (N, C, spatial...), got " + str(x));
  Sizes out(x.size(), 1);
  out[0] = x[0];
  out[1] = x[1];
  set_data_output(c, nhwc, out);
}

void infer_batchnorm(NodeContext& c) {
  Sizes x = c.sizes(0);
  if (x.size() < 2) c.fail(c.label(0) + " must have rank >= 2, got " + str(x));
  for (size_t i = 1; i < 5; ++i)
    if (c.sizes(i) != Sizes{x[1]})
      c.fail(c.label(i) + " has shape " + str(c.sizes(i)) + ", expected [" + std::to_string(x[1]) + "]");
  c.set_output(0, c.dtype(0), x);
}

void infer_layernorm(NodeContext& c) {
  Sizes x = c.sizes(0);
  int64_t axis = c.axis(c.attrs().get_int("axis", -1), x.size());
  Sizes normalized(x.begin() + axis, x.end());
  for (size_t i = 1; i < 3; ++i) {
    if (!c.has_input(i)) continue;
    if (broadcast(c, normalized, c.sizes(i)) != normalized)
      c.fail(c.label(i) + " " + str(c.sizes(i)) + " does not broadcast to " + str(normalized));
  }
  c.set_output(0, c.dtype(0), x);
  // Optional Mean and InvStdDev (float32, stash_type 1): 1 for each normalized dim.
  Sizes stats = x;
  for (size_t i = static_cast<size_t>(axis); i < stats.size(); ++i) stats[i] = 1;
  for (size_t i = 1; i < c.num_outputs(); ++i) c.set_output(i, DType::kFloat32, stats);
}

void infer_softmax(NodeContext& c) {
  Sizes x = c.sizes(0);
  c.axis(c.attrs().get_int("axis", -1), x.size());
  c.set_output(0, c.dtype(0), x);
}

// QuantizeLinear / DequantizeLinear (opset 13): scale and zero point are scalars (per tensor)
// or 1-D along `axis` (per axis); Quantize's output dtype is the zero point's (uint8 without).
void infer_quantize_linear(NodeContext& c, bool quantize) {
  if (!c.has_input(1)) {
    // pare's short form: the 8-bit tensor's quantization holds scale and zero point.
    if (c.has_input(2)) c.fail("has a zero point but no scale");
    if (quantize) {
      const DType y = c.output_dtype(0);
      if (y != DType::kUInt8 && y != DType::kInt8) c.fail("without a scale input, the output must be 8-bit and quantized");
      if (c.dtype(0) != DType::kFloat32) c.fail("input must be float32, not " + std::string(dtype_name(c.dtype(0))));
      c.set_output(0, y, c.sizes(0));
    } else {
      const DType xd = c.dtype(0);
      if ((xd != DType::kUInt8 && xd != DType::kInt8 && xd != DType::kInt32) || !c.input(0).quant)
        c.fail("without a scale input, the input must be an 8-bit or int32 quantized tensor");
      c.set_output(0, DType::kFloat32, c.sizes(0));
    }
    return;
  }
  const Sizes x = c.sizes(0), scale = c.sizes(1);
  if (scale.size() > 1) c.fail("scale must be a scalar or 1-D, got " + str(scale));
  if (scale.size() == 1 && !x.empty()) {
    const int64_t a = c.axis(c.attrs().get_int("axis", 1), x.size());
    if (scale[0] != x[static_cast<size_t>(a)] && scale[0] != 1)
      c.fail("scale " + str(scale) + " does not match axis " + std::to_string(a) + " of " + str(x));
  }
  if (c.dtype(1) != DType::kFloat32) c.fail("scale must be float32, not " + std::string(dtype_name(c.dtype(1))));
  DType zp = DType::kUInt8;
  if (c.has_input(2)) {
    if (c.sizes(2) != scale) c.fail("zero point " + str(c.sizes(2)) + " and scale " + str(scale) + " differ in shape");
    zp = c.dtype(2);
    if (zp != DType::kUInt8 && zp != DType::kInt8 && (quantize || zp != DType::kInt32))
      c.fail("zero point dtype " + std::string(dtype_name(zp)) + " is not supported");
  }
  if (quantize) {
    if (c.dtype(0) != DType::kFloat32) c.fail("input must be float32, not " + std::string(dtype_name(c.dtype(0))));
    c.set_output(0, zp, x);
  } else {
    const DType xd = c.dtype(0);
    if (!c.has_input(2) && xd != DType::kUInt8 && xd != DType::kInt8 && xd != DType::kInt32)
      c.fail("input dtype " + std::string(dtype_name(xd)) + " cannot be dequantized");
    if (c.has_input(2) && xd != zp) c.fail("input dtype " + std::string(dtype_name(xd)) + " differs from the zero point's");
    c.set_output(0, DType::kFloat32, x);
  }
}

void infer_gemm(NodeContext& c) {
  Sizes a = c.sizes(0), b = c.sizes(1);
  if (a.size() != 2 || b.size() != 2) c.fail("inputs must be 2-D, got " + str(a) + " and " + str(b));
  bool ta = c.attrs().get_int("transA", 0) != 0, tb = c.attrs().get_int("transB", 0) != 0;
  int64_t m = ta ? a[1] : a[0], ka = ta ? a[0] : a[1];
  int64_t kb = tb ? b[1] : b[0], n = tb ? b[0] : b[1];
  if (ka != kb) c.fail("inner dimensions differ: A " + str(a) + " and B " + str(b));
  Sizes out = {m, n};
  if (c.has_input(2) && broadcast(c, out, c.sizes(2)) != out)
    c.fail("C " + str(c.sizes(2)) + " does not broadcast to " + str(out));
  c.set_output(0, c.dtype(0), out);
}

void infer_matmul(NodeContext& c) {
  Sizes a = c.sizes(0), b = c.sizes(1);
  if (a.empty() || b.empty()) c.fail("inputs must have rank >= 1");
  bool a_vector = a.size() == 1, b_vector = b.size() == 1;
  if (a_vector) a.insert(a.begin(), 1);
  if (b_vector) b.push_back(1);
  if (a.back() != b[b.size() - 2])
    c.fail("inner dimensions differ: " + str(c.sizes(0)) + " and " + str(c.sizes(1)));
  Sizes out = broadcast(c, Sizes(a.begin(), a.end() - 2), Sizes(b.begin(), b.end() - 2));
  if (!a_vector) out.push_back(a[a.size() - 2]);
  if (!b_vector) out.push_back(b.back());
  c.set_output(0, c.dtype(0), out);
}

// Einsum in the forms runtime/einsum_equation.h reads.
void infer_einsum(NodeContext& c) {
  const std::string equation = c.attrs().get_string("equation", "");
  std::vector<std::vector<int64_t>> shapes;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    if (c.dtype(i) != c.dtype(0)) c.fail("inputs must have one dtype");
    shapes.push_back(c.sizes(i));
  }
  EinsumEquation e;
  std::string why;
  switch (parse_einsum(equation, shapes, &e, &why)) {
    case EinsumParse::kOk: break;
    case EinsumParse::kUnsupported: throw_unsupported(c.where() + ": " + why);
    case EinsumParse::kBad: c.fail(why);
  }
  Sizes y;
  for (char l : e.output) y.push_back(e.sizes.at(l));
  c.set_output(0, c.dtype(0), y);
}

}  // namespace pare::ir::shape_rules
