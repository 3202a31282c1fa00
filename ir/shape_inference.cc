#include "ir/shape_inference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ir/status.h"

namespace pare::ir {
namespace {

using Sizes = std::vector<int64_t>;

std::string str(const Sizes& s) { return Shape(s).str(); }

// Input sizes are checked to have a representable element count (NodeContext::sizes), so
// products over them do not overflow.
int64_t product(const Sizes& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= s[i];
  return p;
}

int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b > 0 ? 1 : 0); }

// Reads the inputs of one node and writes its outputs; every message names the node.
class NodeContext {
 public:
  NodeContext(Graph& graph, NodeId id) : graph_(graph), node_(graph.node(id)) {}

  std::string where() const { return std::string(op_name(node_.op)) + " '" + node_.name + "'"; }
  [[noreturn]] void fail(const std::string& message) const { throw_invalid(where() + ": " + message); }

  // Size arithmetic on values from attributes and constants, which a bad file can make huge.
  int64_t add(int64_t a, int64_t b) const {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) fail("size arithmetic overflows");
    return r;
  }
  int64_t mul(int64_t a, int64_t b) const {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) fail("size arithmetic overflows");
    return r;
  }
  int64_t elements(const Sizes& s, const std::string& what) const {
    int64_t n = 1;
    for (int64_t d : s) {
      if (d < 0) fail(what + " has a negative size " + str(s));
      if (__builtin_mul_overflow(n, d, &n)) fail(what + " has too many elements " + str(s));
    }
    return n;
  }

  const Attributes& attrs() const { return node_.attrs; }
  size_t num_inputs() const { return node_.inputs.size(); }
  size_t num_outputs() const { return node_.outputs.size(); }
  bool has_input(size_t i) const { return i < node_.inputs.size() && node_.inputs[i] != kNoTensor; }

  const Tensor& input(size_t i) const {
    if (!has_input(i)) fail("input " + std::to_string(i) + " is missing");
    return graph_.tensor(node_.inputs[i]);
  }
  std::string label(size_t i) const { return "input " + std::to_string(i) + " ('" + input(i).name + "')"; }

  // The static sizes of input i (shapes of all inputs must be known before inference).
  Sizes sizes(size_t i) const {
    const Tensor& t = input(i);
    if (!t.shape.is_static()) fail(label(i) + " has no static shape (" + t.shape.str() + ")");
    Sizes s = t.shape.sizes();
    elements(s, label(i));
    return s;
  }
  DType dtype(size_t i) const {
    const Tensor& t = input(i);
    if (t.dtype == DType::kUndefined) fail(label(i) + " has no known dtype");
    return t.dtype;
  }

  // Values of a constant input the output shape depends on.
  std::vector<int64_t> const_ints(size_t i) const {
    const Tensor& t = require_constant(i);
    if (t.dtype == DType::kFloat32 || t.dtype == DType::kFloat64)
      fail(label(i) + " must hold integers, not " + dtype_name(t.dtype));
    return t.int_values();
  }
  std::vector<double> const_floats(size_t i) const { return require_constant(i).float_values(); }
  bool is_empty_constant(size_t i) const {
    const Tensor& t = input(i);
    return t.is_constant() && t.data->bytes.empty();
  }

  // Normalises a possibly negative axis into [0, rank).
  int64_t axis(int64_t a, size_t rank, const char* what = "axis") const {
    int64_t r = static_cast<int64_t>(rank);
    if (a < -r || a >= r)
      fail(std::string(what) + " " + std::to_string(a) + " is out of range for rank " + std::to_string(r));
    return a < 0 ? a + r : a;
  }
  // Normalises a list of axes, rejecting duplicates.
  std::vector<int64_t> axes(const std::vector<int64_t>& raw, size_t rank) const {
    std::vector<int64_t> out;
    for (int64_t a : raw) {
      int64_t n = axis(a, rank);
      if (std::find(out.begin(), out.end(), n) != out.end())
        fail("axis " + std::to_string(a) + " is repeated");
      out.push_back(n);
    }
    return out;
  }

  void set_output(size_t k, DType dtype, const Sizes& sizes) {
    if (k >= node_.outputs.size() || node_.outputs[k] == kNoTensor)
      fail("output " + std::to_string(k) + " is missing");
    for (int64_t d : sizes)
      if (d < 0) fail("computed a negative output size " + str(sizes));
    elements(sizes, "output " + std::to_string(k));
    Tensor& t = graph_.tensor(node_.outputs[k]);
    t.dtype = dtype;
    t.shape = Shape(sizes);
  }
  void require_outputs(size_t n) const {
    if (node_.outputs.size() != n)
      fail("has " + std::to_string(node_.outputs.size()) + " outputs, expected " + std::to_string(n));
  }
  DType output_dtype(size_t k) const {
    if (k >= node_.outputs.size() || node_.outputs[k] == kNoTensor) fail("output " + std::to_string(k) + " is missing");
    return graph_.tensor(node_.outputs[k]).dtype;
  }
  bool output_is_constant(size_t k) const {
    return k < node_.outputs.size() && node_.outputs[k] != kNoTensor &&
           graph_.tensor(node_.outputs[k]).is_constant();
  }

 private:
  const Tensor& require_constant(size_t i) const {
    const Tensor& t = input(i);
    if (!t.is_constant())
      throw_unsupported(where() + ": " + label(i) + " must be a constant (it determines the output shape)");
    return t;
  }

  Graph& graph_;
  Node& node_;
};

// Numpy (multidirectional) broadcasting.
Sizes broadcast(const NodeContext& c, const Sizes& a, const Sizes& b) {
  size_t rank = std::max(a.size(), b.size());
  Sizes out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) c.fail("shapes " + str(a) + " and " + str(b) + " do not broadcast");
    out[rank - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

void same_as_input(NodeContext& c) { c.set_output(0, c.dtype(0), c.sizes(0)); }

void infer_binary(NodeContext& c, bool same_dtype, DType out_dtype) {
  DType a = c.dtype(0), b = c.dtype(1);
  if (same_dtype && a != b)
    c.fail(std::string("input dtypes differ (") + dtype_name(a) + " vs " + dtype_name(b) + ")");
  c.set_output(0, out_dtype == DType::kUndefined ? a : out_dtype, broadcast(c, c.sizes(0), c.sizes(1)));
}

void infer_prelu(NodeContext& c) {
  Sizes x = c.sizes(0);
  if (broadcast(c, x, c.sizes(1)) != x)
    c.fail("slope " + str(c.sizes(1)) + " does not broadcast to " + str(x));
  c.set_output(0, c.dtype(0), x);
}

void infer_where(NodeContext& c) {
  if (c.dtype(0) != DType::kBool) c.fail(c.label(0) + " must be bool");
  if (c.dtype(1) != c.dtype(2))
    c.fail(std::string("input dtypes differ (") + dtype_name(c.dtype(1)) + " vs " + dtype_name(c.dtype(2)) +
           ")");
  c.set_output(0, c.dtype(1), broadcast(c, broadcast(c, c.sizes(0), c.sizes(1)), c.sizes(2)));
}

void infer_cast(NodeContext& c) {
  if (!c.attrs().has("to")) c.fail("attribute 'to' is missing");
  int64_t to = c.attrs().get_int("to", 0);
  DType out;
  if (!dtype_from_onnx(static_cast<int32_t>(to), &out))
    throw_unsupported(c.where() + ": cast to " + onnx_type_name(static_cast<int32_t>(to)) +
                      " is not supported");
  c.set_output(0, out, c.sizes(0));
}

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

void infer_conv(NodeContext& c) {
  const bool nhwc = is_nhwc(c);
  Sizes x = data_sizes_nchw(c, nhwc), w = c.sizes(1);
  if (x.size() < 3) c.fail(c.label(0) + " must have rank >= 3 (N, C, spatial...), got " + str(x));
  if (w.size() != x.size()) c.fail("weight " + str(w) + " and input " + str(x) + " ranks differ");
  int64_t group = c.attrs().get_int("group", 1);
  if (group < 1) c.fail("group must be >= 1");
  if (x[1] != w[1] * group)
    c.fail("input has " + std::to_string(x[1]) + " channels; weight " + str(w) + " with group " +
           std::to_string(group) + " expects " + std::to_string(w[1] * group));
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
  int64_t out_channels = w[1] * group;
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
  if (!c.attrs().has("kernel_shape")) c.fail("attribute 'kernel_shape' is missing");
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

void infer_gelu(NodeContext& c) {
  std::string approximate = c.attrs().get_string("approximate", "none");
  if (approximate != "none" && approximate != "tanh") c.fail("unknown approximate '" + approximate + "'");
  same_as_input(c);
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
  if (!c.attrs().has("axis")) c.fail("attribute 'axis' is missing");
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

int64_t to_size(const NodeContext& c, double v) {
  if (!(v >= 0 && v < 9.0e15)) c.fail("computed an impossible output size " + std::to_string(v));
  return static_cast<int64_t>(v);
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

}  // namespace

void infer_node(Graph& graph, NodeId id) {
  NodeContext c(graph, id);
  switch (graph.node(id).op) {
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kDiv: infer_binary(c, true, DType::kUndefined); break;
    case OpKind::kPow: infer_binary(c, false, DType::kUndefined); break;
    case OpKind::kEqual: infer_binary(c, true, DType::kBool); break;
    case OpKind::kPRelu: infer_prelu(c); break;
    case OpKind::kWhere: infer_where(c); break;
    case OpKind::kClip:
    case OpKind::kErf:
    case OpKind::kHardSigmoid:
    case OpKind::kHardSwish:
    case OpKind::kIdentity:
    case OpKind::kLeakyRelu:
    case OpKind::kRelu:
    case OpKind::kSigmoid:
    case OpKind::kSqrt:
    case OpKind::kTanh: same_as_input(c); break;
    case OpKind::kGelu: infer_gelu(c); break;
    case OpKind::kCast: infer_cast(c); break;
    case OpKind::kConv: infer_conv(c); break;
    case OpKind::kConvTranspose: infer_conv_transpose(c); break;
    case OpKind::kAveragePool:
    case OpKind::kMaxPool: infer_pool(c); break;
    case OpKind::kGlobalAveragePool: infer_global_pool(c); break;
    case OpKind::kBatchNormalization: infer_batchnorm(c); break;
    case OpKind::kLayerNormalization: infer_layernorm(c); break;
    case OpKind::kSoftmax: infer_softmax(c); break;
    case OpKind::kGemm: infer_gemm(c); break;
    case OpKind::kQuantizeLinear: infer_quantize_linear(c, true); break;
    case OpKind::kDequantizeLinear: infer_quantize_linear(c, false); break;
    case OpKind::kMatMul: infer_matmul(c); break;
    case OpKind::kFlatten: infer_flatten(c); break;
    case OpKind::kReshape: infer_reshape(c); break;
    case OpKind::kSqueeze: infer_squeeze(c); break;
    case OpKind::kUnsqueeze: infer_unsqueeze(c); break;
    case OpKind::kTranspose: infer_transpose(c); break;
    case OpKind::kConcat: infer_concat(c); break;
    case OpKind::kSplit: infer_split(c); break;
    case OpKind::kSlice: infer_slice(c); break;
    case OpKind::kGather: infer_gather(c); break;
    case OpKind::kShape: infer_shape(c); break;
    case OpKind::kExpand: infer_expand(c); break;
    case OpKind::kConstantOfShape: infer_constant_of_shape(c); break;
    case OpKind::kPad: infer_pad(c); break;
    case OpKind::kReduceMean:
    case OpKind::kReduceSum: infer_reduce(c); break;
    case OpKind::kResize: infer_resize(c); break;
    case OpKind::kConstant:
      // The importer turns Constant nodes into constant tensors; one left over must carry its value.
      c.require_outputs(1);
      if (!c.output_is_constant(0)) c.fail("output has no value");
      break;
    case OpKind::kCount: c.fail("invalid op"); break;
  }
}

}  // namespace pare::ir
