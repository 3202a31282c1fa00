#include <algorithm>
#include <cstring>

#include "runtime/op.h"
#include "runtime/ops/ops.h"

namespace pare::rt {

namespace {
struct OpEntry {
  const char* name;
  OpFactory factory;
  // Prepare reads sparse constant inputs through TensorDesc::sparse; for other ops the
  // interpreter densifies them first.
  bool reads_sparse = false;
  // Likewise for palette constants through TensorDesc::palette.
  bool reads_palette = false;
};

// Sorted by name: find_op does a binary search.
constexpr OpEntry kOps[] = {
    {"Abs", ops::prepare_Abs},
    {"Add", ops::prepare_Add},
    {"And", ops::prepare_And},
    {"ArgMax", ops::prepare_ArgMax},
    {"AveragePool", ops::prepare_AveragePool},
    {"BatchNormalization", ops::prepare_BatchNormalization},
    {"Cast", ops::prepare_Cast},
    {"Clip", ops::prepare_Clip},
    {"Concat", ops::prepare_Concat},
    {"ConstantOfShape", ops::prepare_ConstantOfShape},
    {"Conv", ops::prepare_Conv, /*reads_sparse=*/true, /*reads_palette=*/true},
    {"ConvTranspose", ops::prepare_ConvTranspose},
    {"Cos", ops::prepare_Cos},
    {"CumSum", ops::prepare_CumSum},
    {"DequantizeLinear", ops::prepare_DequantizeLinear},
    {"Div", ops::prepare_Div},
    {"Einsum", ops::prepare_Einsum},
    {"Equal", ops::prepare_Equal},
    {"Erf", ops::prepare_Erf},
    {"Exp", ops::prepare_Exp},
    {"Expand", ops::prepare_Expand},
    {"Flatten", ops::prepare_Flatten},
    {"Gather", ops::prepare_Gather},
    {"GatherElements", ops::prepare_GatherElements},
    {"Gelu", ops::prepare_Gelu},
    {"Gemm", ops::prepare_Gemm, /*reads_sparse=*/true, /*reads_palette=*/true},
    {"GlobalAveragePool", ops::prepare_GlobalAveragePool},
    {"Greater", ops::prepare_Greater},
    {"GreaterOrEqual", ops::prepare_GreaterOrEqual},
    {"HardSigmoid", ops::prepare_HardSigmoid},
    {"HardSwish", ops::prepare_HardSwish},
    {"Identity", ops::prepare_Identity},
    {"IsInf", ops::prepare_IsInf},
    {"IsNaN", ops::prepare_IsNaN},
    {"LayerNormalization", ops::prepare_LayerNormalization},
    {"LeakyRelu", ops::prepare_LeakyRelu},
    {"Less", ops::prepare_Less},
    {"LessOrEqual", ops::prepare_LessOrEqual},
    {"Log", ops::prepare_Log},
    {"MatMul", ops::prepare_MatMul, /*reads_sparse=*/true, /*reads_palette=*/true},
    {"Max", ops::prepare_Max},
    {"MaxPool", ops::prepare_MaxPool},
    {"Min", ops::prepare_Min},
    {"Mod", ops::prepare_Mod},
    {"Mul", ops::prepare_Mul},
    {"Neg", ops::prepare_Neg},
    {"Not", ops::prepare_Not},
    {"Or", ops::prepare_Or},
    {"PRelu", ops::prepare_PRelu},
    {"Pad", ops::prepare_Pad},
    {"Pow", ops::prepare_Pow},
    {"QuantizeLinear", ops::prepare_QuantizeLinear},
    {"Range", ops::prepare_Range},
    {"ReduceL2", ops::prepare_ReduceL2},
    {"ReduceMax", ops::prepare_ReduceMax},
    {"ReduceMean", ops::prepare_ReduceMean},
    {"ReduceMin", ops::prepare_ReduceMin},
    {"ReduceProd", ops::prepare_ReduceProd},
    {"ReduceSum", ops::prepare_ReduceSum},
    {"Relu", ops::prepare_Relu},
    {"Reshape", ops::prepare_Reshape},
    {"Resize", ops::prepare_Resize},
    {"ScatterND", ops::prepare_ScatterND},
    {"Shape", ops::prepare_Shape},
    {"Sigmoid", ops::prepare_Sigmoid},
    {"Sin", ops::prepare_Sin},
    {"Slice", ops::prepare_Slice},
    {"Softmax", ops::prepare_Softmax},
    {"Split", ops::prepare_Split},
    {"Sqrt", ops::prepare_Sqrt},
    {"Squeeze", ops::prepare_Squeeze},
    {"Sub", ops::prepare_Sub},
    {"Tanh", ops::prepare_Tanh},
    {"Tile", ops::prepare_Tile},
    {"TopK", ops::prepare_TopK},
    {"Transpose", ops::prepare_Transpose},
    {"Unsqueeze", ops::prepare_Unsqueeze},
    {"Where", ops::prepare_Where},
};

const OpEntry* find_entry(const std::string& op) {
  const OpEntry* end = kOps + sizeof(kOps) / sizeof(kOps[0]);
  const OpEntry* it = std::lower_bound(kOps, end, op, [](const OpEntry& e, const std::string& name) {
    return std::strcmp(e.name, name.c_str()) < 0;
  });
  return it != end && op == it->name ? it : nullptr;
}
}  // namespace

OpFactory find_op(const std::string& op) {
  const OpEntry* e = find_entry(op);
  return e ? e->factory : nullptr;
}

bool op_reads_sparse(const std::string& op) {
  const OpEntry* e = find_entry(op);
  return e && e->reads_sparse;
}

bool op_reads_palette(const std::string& op) {
  const OpEntry* e = find_entry(op);
  return e && e->reads_palette;
}

std::vector<std::string> registered_ops() {
  std::vector<std::string> names;
  for (const OpEntry& e : kOps) names.emplace_back(e.name);
  return names;
}

}  // namespace pare::rt
