#include "ir/shape_inference_rules.h"

namespace pare::ir::shape_rules {

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

void infer_variadic(NodeContext& c) {
  DType dtype = c.dtype(0);
  Sizes out = c.sizes(0);
  for (size_t i = 1; i < c.num_inputs(); ++i) {
    if (c.dtype(i) != dtype)
      c.fail(c.label(i) + " has dtype " + dtype_name(c.dtype(i)) + ", input 0 " + dtype_name(dtype));
    out = broadcast(c, out, c.sizes(i));
  }
  c.set_output(0, dtype, out);
}

void infer_logical(NodeContext& c) {
  for (size_t i = 0; i < 2; ++i)
    if (c.dtype(i) != DType::kBool) c.fail(c.label(i) + " must be bool");
  infer_binary(c, true, DType::kBool);
}

void infer_not(NodeContext& c) {
  if (c.dtype(0) != DType::kBool) c.fail(c.label(0) + " must be bool");
  same_as_input(c);
}

void infer_float_test(NodeContext& c) {
  if (c.dtype(0) != DType::kFloat32 && c.dtype(0) != DType::kFloat64) c.fail(c.label(0) + " must be float");
  c.set_output(0, DType::kBool, c.sizes(0));
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
  int64_t to = c.attrs().get_int("to", 0);
  DType out;
  if (!dtype_from_onnx(static_cast<int32_t>(to), &out))
    throw_unsupported(c.where() + ": cast to " + onnx_type_name(static_cast<int32_t>(to)) +
                      " is not supported");
  c.set_output(0, out, c.sizes(0));
}

void infer_gelu(NodeContext& c) {
  std::string approximate = c.attrs().get_string("approximate", "none");
  if (approximate != "none" && approximate != "tanh") c.fail("unknown approximate '" + approximate + "'");
  same_as_input(c);
}

}  // namespace pare::ir::shape_rules
