#include "ir/op_table.h"

#include "ir/status.h"

namespace pare::ir {
namespace {

using A = AttrType;
using L = LayoutClass;
using Q = Int8Class;
constexpr bool kRequired = true;

// The window attributes of Conv, ConvTranspose and the pools; `layout` is set by the nhwc pass.
std::vector<AttrSpec> window_attrs(std::vector<AttrSpec> more) {
  std::vector<AttrSpec> attrs = {{"auto_pad", A::kString}, {"dilations", A::kInts}, {"pads", A::kInts},
                                 {"strides", A::kInts}, {"layout", A::kString}};
  attrs.insert(attrs.end(), more.begin(), more.end());
  return attrs;
}

// One row per op, in OpKind order (op_info checks it).
// op, inputs min..max, outputs min..max, first opset, layout class, int8 class, flags, attributes.
std::vector<OpInfo> make_table() {
  return {
      {OpKind::kAbs, 1, 1, 1, 1, 6, L::kElementwise, Q::kFloat, 0, {}},
      {OpKind::kAdd, 2, 2, 1, 1, 7, L::kEveryInput, Q::kRequantizeAll, kInt8Constants, {}},
      {OpKind::kAnd, 2, 2, 1, 1, 7, L::kEveryInput, Q::kFloat, 0, {}},
      {OpKind::kArgMax, 1, 1, 1, 1, 11, L::kNchwOnly, Q::kFloat, 0,
       {{"axis", A::kInt}, {"keepdims", A::kInt}, {"select_last_index", A::kInt}}},
      {OpKind::kAveragePool, 1, 1, 1, 1, 1, L::kNhwcCapable, Q::kRequantize, 0,
       window_attrs({{"kernel_shape", A::kInts, kRequired}, {"ceil_mode", A::kInt}, {"count_include_pad", A::kInt}})},
      {OpKind::kBatchNormalization, 5, 5, 1, 1, 7, L::kNchwOnly, Q::kFloat, 0,
       {{"epsilon", A::kFloat}, {"momentum", A::kFloat}, {"training_mode", A::kInt}, {"spatial", A::kInt},
        {"is_test", A::kInt}}},
      {OpKind::kCast, 1, 1, 1, 1, 6, L::kElementwise, Q::kFloat, 0, {{"to", A::kInt, kRequired}}},
      // min/max were attributes before opset 11.
      {OpKind::kClip, 1, 3, 1, 1, 6, L::kElementwise, Q::kRequantize, 0, {{"min", A::kFloat}, {"max", A::kFloat}}},
      {OpKind::kConcat, 1, kAnyCount, 1, 1, 4, L::kEveryInput, Q::kRequantizeAll, kInt8Constants,
       {{"axis", A::kInt, kRequired}}},
      // The importer turns Constant nodes into constant tensors.
      {OpKind::kConstant, 0, 0, 1, 1, 1, L::kNchwOnly, Q::kFloat, kFoldedAway,
       {{"value", A::kTensor}, {"value_float", A::kFloat}, {"value_floats", A::kFloats}, {"value_int", A::kInt},
        {"value_ints", A::kInts}}},
      // The importer reads the ONNX tensor `value` into the IR's `dtype` and `value` attributes.
      {OpKind::kConstantOfShape, 1, 1, 1, 1, 9, L::kNchwOnly, Q::kFloat, 0, {{"value", A::kTensor}}},
      {OpKind::kConv, 2, 3, 1, 1, 1, L::kNhwcCapable, Q::kWeighted, kFusesActivation,
       window_attrs({{"kernel_shape", A::kInts}, {"group", A::kInt}})},
      {OpKind::kConvTranspose, 2, 3, 1, 1, 1, L::kNchwOnly, Q::kFloat, kFusesActivation,
       window_attrs({{"kernel_shape", A::kInts}, {"group", A::kInt}, {"output_padding", A::kInts},
                     {"output_shape", A::kInts}})},
      {OpKind::kCos, 1, 1, 1, 1, 7, L::kElementwise, Q::kFloat, 0, {}},
      // axis is an input.
      {OpKind::kCumSum, 2, 2, 1, 1, 11, L::kNchwOnly, Q::kFloat, 0, {{"exclusive", A::kInt}, {"reverse", A::kInt}}},
      // Per-axis (the axis attribute) from opset 13: the same form.
      {OpKind::kDequantizeLinear, 1, 3, 1, 1, 10, L::kNchwOnly, Q::kFloat, 0, {{"axis", A::kInt}}},
      {OpKind::kDiv, 2, 2, 1, 1, 7, L::kEveryInput, Q::kFloat, kInt8Constants, {}},
      {OpKind::kEinsum, 1, kAnyCount, 1, 1, 12, L::kNchwOnly, Q::kFloat, 0, {{"equation", A::kString, kRequired}}},
      {OpKind::kEqual, 2, 2, 1, 1, 7, L::kEveryInput, Q::kFloat, 0, {}},
      {OpKind::kErf, 1, 1, 1, 1, 9, L::kElementwise, Q::kFloat, 0, {}},
      {OpKind::kExp, 1, 1, 1, 1, 6, L::kElementwise, Q::kFloat, 0, {}},
      {OpKind::kExpand, 2, 2, 1, 1, 8, L::kAxes, Q::kFloat, 0, {}},
      {OpKind::kFlatten, 1, 1, 1, 1, 1, L::kReshape, Q::kCopy, 0, {{"axis", A::kInt}}},
      {OpKind::kGather, 2, 2, 1, 1, 1, L::kNchwOnly, Q::kFloat, 0, {{"axis", A::kInt}}},
      {OpKind::kGatherElements, 2, 2, 1, 1, 11, L::kNchwOnly, Q::kFloat, 0, {{"axis", A::kInt}}},
      // An opset-20 op; its definition is unambiguous, so earlier opsets may use it.
      {OpKind::kGelu, 1, 1, 1, 1, 1, L::kElementwise, Q::kRequantize, 0, {{"approximate", A::kString}}},
      {OpKind::kGemm, 2, 3, 1, 1, 7, L::kNchwOnly, Q::kWeighted, kFusesActivation,
       {{"alpha", A::kFloat}, {"beta", A::kFloat}, {"transA", A::kInt}, {"transB", A::kInt}}},
      {OpKind::kGlobalAveragePool, 1, 1, 1, 1, 1, L::kNhwcCapable, Q::kRequantize, 0, {{"layout", A::kString}}},
      {OpKind::kGreater, 2, 2, 1, 1, 7, L::kEveryInput, Q::kFloat, 0, {}},
      {OpKind::kGreaterOrEqual, 2, 2, 1, 1, 12, L::kEveryInput, Q::kFloat, 0, {}},
      {OpKind::kHardSigmoid, 1, 1, 1, 1, 6, L::kElementwise, Q::kRequantize, 0,
       {{"alpha", A::kFloat}, {"beta", A::kFloat}}},
      {OpKind::kHardSwish, 1, 1, 1, 1, 14, L::kElementwise, Q::kRequantize, 0, {}},
      {OpKind::kIdentity, 1, 1, 1, 1, 1, L::kElementwise, Q::kFloat, 0, {}},
      {OpKind::kIsInf, 1, 1, 1, 1, 10, L::kElementwise, Q::kFloat, 0,
       {{"detect_negative", A::kInt}, {"detect_positive", A::kInt}}},
      {OpKind::kIsNaN, 1, 1, 1, 1, 9, L::kElementwise, Q::kFloat, 0, {}},
      {OpKind::kLayerNormalization, 2, 3, 1, 3, 17, L::kNchwOnly, Q::kFloat, kInt8Constants,
       {{"axis", A::kInt}, {"epsilon", A::kFloat}, {"stash_type", A::kInt}}},
      {OpKind::kLeakyRelu, 1, 1, 1, 1, 6, L::kElementwise, Q::kFloat, 0, {{"alpha", A::kFloat}}},
      {OpKind::kLess, 2, 2, 1, 1, 7, L::kEveryInput, Q::kFloat, 0, {}},
      {OpKind::kLessOrEqual, 2, 2, 1, 1, 12, L::kEveryInput, Q::kFloat, 0, {}},
      {OpKind::kLog, 1, 1, 1, 1, 6, L::kElementwise, Q::kFloat, 0, {}},
      {OpKind::kMatMul, 2, 2, 1, 1, 1, L::kNchwOnly, Q::kWeighted, kFusesActivation, {}},
      // Variadic with numpy broadcasting from opset 8.
      {OpKind::kMax, 1, kAnyCount, 1, 1, 8, L::kEveryInput, Q::kFloat, 0, {}},
      {OpKind::kMaxPool, 1, 1, 1, 1, 1, L::kNhwcCapable, Q::kCopy, 0,
       window_attrs({{"kernel_shape", A::kInts, kRequired}, {"ceil_mode", A::kInt}, {"storage_order", A::kInt}})},
      {OpKind::kMin, 1, kAnyCount, 1, 1, 8, L::kEveryInput, Q::kFloat, 0, {}},
      {OpKind::kMod, 2, 2, 1, 1, 10, L::kEveryInput, Q::kFloat, 0, {{"fmod", A::kInt}}},
      {OpKind::kMul, 2, 2, 1, 1, 7, L::kEveryInput, Q::kRequantizeAll, kInt8Constants, {}},
      // pads/value were attributes before opset 11.
      {OpKind::kNeg, 1, 1, 1, 1, 6, L::kElementwise, Q::kFloat, 0, {}},
      {OpKind::kNot, 1, 1, 1, 1, 1, L::kElementwise, Q::kFloat, 0, {}},
      {OpKind::kOr, 2, 2, 1, 1, 7, L::kEveryInput, Q::kFloat, 0, {}},
      {OpKind::kPad, 2, 4, 1, 1, 2, L::kAxes, Q::kFloat, 0,
       {{"mode", A::kString}, {"pads", A::kInts}, {"value", A::kFloat}}},
      {OpKind::kPow, 2, 2, 1, 1, 7, L::kEveryInput, Q::kFloat, 0, {}},
      {OpKind::kPRelu, 2, 2, 1, 1, 7, L::kEveryInput, Q::kFloat, kInt8Constants, {}},
      {OpKind::kQuantizeLinear, 1, 3, 1, 1, 10, L::kNchwOnly, Q::kFloat, 0, {{"axis", A::kInt}}},
      {OpKind::kRange, 3, 3, 1, 1, 11, L::kNchwOnly, Q::kFloat, 0, {}},
      // axes was an attribute before opset 18 (ReduceL2, ReduceMax, ReduceMin, ReduceProd, ReduceMean).
      {OpKind::kReduceL2, 1, 2, 1, 1, 11, L::kAxes, Q::kFloat, 0,
       {{"axes", A::kInts}, {"keepdims", A::kInt}, {"noop_with_empty_axes", A::kInt}}},
      {OpKind::kReduceMax, 1, 2, 1, 1, 11, L::kAxes, Q::kFloat, 0,
       {{"axes", A::kInts}, {"keepdims", A::kInt}, {"noop_with_empty_axes", A::kInt}}},
      {OpKind::kReduceMean, 1, 2, 1, 1, 1, L::kAxes, Q::kFloat, 0,
       {{"axes", A::kInts}, {"keepdims", A::kInt}, {"noop_with_empty_axes", A::kInt}}},
      {OpKind::kReduceMin, 1, 2, 1, 1, 11, L::kAxes, Q::kFloat, 0,
       {{"axes", A::kInts}, {"keepdims", A::kInt}, {"noop_with_empty_axes", A::kInt}}},
      {OpKind::kReduceProd, 1, 2, 1, 1, 11, L::kAxes, Q::kFloat, 0,
       {{"axes", A::kInts}, {"keepdims", A::kInt}, {"noop_with_empty_axes", A::kInt}}},
      // axes was an attribute before opset 13.
      {OpKind::kReduceSum, 1, 2, 1, 1, 1, L::kAxes, Q::kFloat, 0,
       {{"axes", A::kInts}, {"keepdims", A::kInt}, {"noop_with_empty_axes", A::kInt}}},
      {OpKind::kRelu, 1, 1, 1, 1, 6, L::kElementwise, Q::kRequantize, 0, {}},
      {OpKind::kReshape, 2, 2, 1, 1, 5, L::kReshape, Q::kCopy, 0, {{"allowzero", A::kInt}}},
      {OpKind::kResize, 1, 4, 1, 1, 10, L::kAxes, Q::kCopy, 0,
       {{"antialias", A::kInt}, {"axes", A::kInts}, {"coordinate_transformation_mode", A::kString},
        {"cubic_coeff_a", A::kFloat}, {"exclude_outside", A::kInt}, {"extrapolation_value", A::kFloat},
        {"keep_aspect_ratio_policy", A::kString}, {"mode", A::kString}, {"nearest_mode", A::kString}}},
      {OpKind::kScatterND, 3, 3, 1, 1, 11, L::kNchwOnly, Q::kFloat, 0, {{"reduction", A::kString}}},
      {OpKind::kShape, 1, 1, 1, 1, 1, L::kNchwOnly, Q::kFloat, 0, {{"start", A::kInt}, {"end", A::kInt}}},
      {OpKind::kSigmoid, 1, 1, 1, 1, 6, L::kElementwise, Q::kRequantize, 0, {}},
      {OpKind::kSin, 1, 1, 1, 1, 7, L::kElementwise, Q::kFloat, 0, {}},
      // starts/ends/axes were attributes before opset 10.
      {OpKind::kSlice, 3, 5, 1, 1, 1, L::kAxes, Q::kFloat, 0,
       {{"starts", A::kInts}, {"ends", A::kInts}, {"axes", A::kInts}}},
      {OpKind::kSoftmax, 1, 1, 1, 1, 1, L::kAxes, Q::kFloat, 0, {{"axis", A::kInt}}},
      // split was an attribute before opset 13.
      {OpKind::kSplit, 1, 2, 1, kAnyCount, 2, L::kAxes, Q::kFloat, 0,
       {{"axis", A::kInt}, {"num_outputs", A::kInt}, {"split", A::kInts}}},
      {OpKind::kSqrt, 1, 1, 1, 1, 6, L::kElementwise, Q::kFloat, 0, {}},
      // axes was an attribute before opset 13.
      {OpKind::kSqueeze, 1, 2, 1, 1, 1, L::kReshape, Q::kCopy, 0, {{"axes", A::kInts}}},
      {OpKind::kSub, 2, 2, 1, 1, 7, L::kEveryInput, Q::kFloat, kInt8Constants, {}},
      {OpKind::kTanh, 1, 1, 1, 1, 6, L::kElementwise, Q::kFloat, 0, {}},
      // repeats is an input from opset 6.
      {OpKind::kTile, 2, 2, 1, 1, 6, L::kNchwOnly, Q::kFloat, 0, {}},
      // k is an input from opset 10; largest and sorted from 11. Outputs values and int64 indices.
      {OpKind::kTopK, 2, 2, 2, 2, 11, L::kNchwOnly, Q::kFloat, 0,
       {{"axis", A::kInt}, {"largest", A::kInt}, {"sorted", A::kInt}}},
      {OpKind::kTranspose, 1, 1, 1, 1, 1, L::kNchwOnly, Q::kCopy, 0, {{"perm", A::kInts}}},
      {OpKind::kUnsqueeze, 2, 2, 1, 1, 1, L::kReshape, Q::kCopy, 0, {{"axes", A::kInts}}},
      {OpKind::kWhere, 3, 3, 1, 1, 9, L::kEveryInput, Q::kFloat, 0, {}},
  };
}

const std::vector<OpInfo>& table() {
  static const std::vector<OpInfo> rows = [] {
    std::vector<OpInfo> t = make_table();
    if (t.size() != static_cast<size_t>(OpKind::kCount)) throw_internal("op table: one row per op expected");
    for (size_t i = 0; i < t.size(); ++i)
      if (t[i].op != static_cast<OpKind>(i))
        throw_internal(std::string("op table: row ") + std::to_string(i) + " is " + op_name(t[i].op) +
                       ", expected " + op_name(static_cast<OpKind>(i)));
    return t;
  }();
  return rows;
}

}  // namespace

const AttrSpec* OpInfo::find_attr(const std::string& name) const {
  for (const AttrSpec& a : attrs)
    if (name == a.name) return &a;
  return nullptr;
}

const OpInfo& op_info(OpKind op) {
  const std::vector<OpInfo>& t = table();
  size_t i = static_cast<size_t>(op);
  if (i >= t.size()) throw_internal("op_info: invalid op " + std::to_string(static_cast<int>(op)));
  return t[i];
}

const char* attr_type_name(AttrType type) {
  switch (type) {
    case AttrType::kInt: return "int";
    case AttrType::kFloat: return "float";
    case AttrType::kString: return "string";
    case AttrType::kInts: return "ints";
    case AttrType::kFloats: return "floats";
    case AttrType::kTensor: return "tensor";
  }
  return "?";
}

std::string count_range(size_t lo, size_t hi) {
  if (lo == hi) return std::to_string(lo);
  if (hi == kAnyCount) return "at least " + std::to_string(lo);
  return std::to_string(lo) + " to " + std::to_string(hi);
}

}  // namespace pare::ir
