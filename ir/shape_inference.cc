#include "ir/shape_inference.h"

#include "ir/op_table.h"
#include "ir/shape_inference_rules.h"

namespace pare::ir {

using namespace shape_rules;

void infer_node(Graph& graph, NodeId id) {
  NodeContext c(graph, id);
  const OpKind op = graph.node(id).op;
  if (static_cast<int>(op) < 0 || op >= OpKind::kCount) c.fail("invalid op");
  for (const AttrSpec& a : op_info(op).attrs)
    if (a.required && !c.attrs().has(a.name)) c.fail(std::string("attribute '") + a.name + "' is missing");
  switch (op) {
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kDiv:
    case OpKind::kMod: infer_binary(c, true, DType::kUndefined); break;
    case OpKind::kPow: infer_binary(c, false, DType::kUndefined); break;
    case OpKind::kEqual:
    case OpKind::kGreater:
    case OpKind::kGreaterOrEqual:
    case OpKind::kLess:
    case OpKind::kLessOrEqual: infer_binary(c, true, DType::kBool); break;
    case OpKind::kAnd:
    case OpKind::kOr: infer_logical(c); break;
    case OpKind::kNot: infer_not(c); break;
    case OpKind::kIsInf:
    case OpKind::kIsNaN: infer_float_test(c); break;
    case OpKind::kMax:
    case OpKind::kMin: infer_variadic(c); break;
    case OpKind::kPRelu: infer_prelu(c); break;
    case OpKind::kWhere: infer_where(c); break;
    case OpKind::kAbs:
    case OpKind::kClip:
    case OpKind::kCos:
    case OpKind::kErf:
    case OpKind::kExp:
    case OpKind::kLog:
    case OpKind::kNeg:
    case OpKind::kSin:
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
    case OpKind::kEinsum: infer_einsum(c); break;
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
    case OpKind::kScatterND: same_as_input(c); break;
    case OpKind::kExpand: infer_expand(c); break;
    case OpKind::kConstantOfShape: infer_constant_of_shape(c); break;
    case OpKind::kPad: infer_pad(c); break;
    case OpKind::kReduceL2:
    case OpKind::kReduceMax:
    case OpKind::kReduceMean:
    case OpKind::kReduceMin:
    case OpKind::kReduceProd:
    case OpKind::kReduceSum: infer_reduce(c); break;
    case OpKind::kArgMax: infer_arg_reduce(c); break;
    case OpKind::kCumSum: infer_cumsum(c); break;
    case OpKind::kGatherElements: infer_gather_elements(c); break;
    case OpKind::kRange: infer_range(c); break;
    case OpKind::kTile: infer_tile(c); break;
    case OpKind::kTopK: infer_topk(c); break;
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
