// The op set of the IR. One enum, one name per op (the ONNX op type).
// Fusion is an attribute of a node (Node::activation), never a new op.
#pragma once

#include <string>

#include "runtime/types.h"

namespace pare::ir {

#define PARE_IR_OPS(X)                                                                         \
  X(Abs) X(Add) X(And) X(ArgMax) X(AveragePool) X(BatchNormalization) X(Cast) X(Clip)          \
  X(Concat) X(Constant) X(ConstantOfShape) X(Conv) X(ConvTranspose) X(Cos) X(CumSum)           \
  X(DequantizeLinear) X(Div) X(Einsum) X(Equal) X(Erf) X(Exp) X(Expand) X(Flatten) X(Gather)   \
  X(GatherElements) X(Gelu) X(Gemm) X(GlobalAveragePool) X(Greater) X(GreaterOrEqual)          \
  X(HardSigmoid) X(HardSwish) X(Identity) X(IsInf) X(IsNaN) X(LayerNormalization) X(LeakyRelu) \
  X(Less) X(LessOrEqual) X(Log) X(MatMul) X(Max) X(MaxPool) X(Min) X(Mod) X(Mul) X(Neg) X(Not) X(Or)  \
  X(Pad) X(Pow) X(PRelu) X(QuantizeLinear) X(Range) X(ReduceL2) X(ReduceMax) X(ReduceMean)     \
  X(ReduceMin) X(ReduceProd) X(ReduceSum) X(Relu) X(Reshape) X(Resize) X(ScatterND) X(Shape) X(Sigmoid)     \
  X(Sin) X(Slice) X(Softmax) X(Split) X(Sqrt) X(Squeeze) X(Sub) X(Tanh) X(Tile) X(TopK)        \
  X(Transpose) X(Unsqueeze) X(Where)

enum class OpKind : int {
#define PARE_OP_ENUM(name) k##name,
  PARE_IR_OPS(PARE_OP_ENUM)
#undef PARE_OP_ENUM
      kCount
};

const char* op_name(OpKind op);                       // "Conv"
bool op_from_name(const std::string& name, OpKind* out);

// Fused activations are the one pare::ActivationKind/FusedActivation of runtime/types.h;
// these are the names reports and the inspector show.
using ::pare::ActivationKind;
using ::pare::FusedActivation;

const char* activation_name(ActivationKind a);  // "none", "Relu", "Clip", ...
bool activation_from_name(const std::string& name, ActivationKind* out);

}  // namespace pare::ir
