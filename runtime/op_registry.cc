#include <algorithm>
#include <cstring>

#include "runtime/op.h"
#include "runtime/ops/ops.h"
#include "runtime/kernel_selection.h"

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

// A selective build (cmake -DPARE_OPS=FILE) lists the op types to keep; the others get no
// factory, so nothing references their code and the linker's --gc-sections drops it with
// the kernels only they use.
constexpr bool selected(const char* op) {
  if (!kSelectiveBuild) return true;
  for (const char* s : kSelectedOps)
    if (same_name(s, op)) return true;
  return false;
}
#define PARE_OP(name, ...) {#name, selected(#name) ? ops::prepare_##name : nullptr, __VA_ARGS__}

// Sorted by name: find_op does a binary search.
constexpr OpEntry kOps[] = {
    PARE_OP(Abs),
    PARE_OP(Add),
    PARE_OP(And),
    PARE_OP(ArgMax),
    PARE_OP(AveragePool),
    PARE_OP(BatchNormalization),
    PARE_OP(Cast),
    PARE_OP(Clip),
    PARE_OP(Concat),
    PARE_OP(ConstantOfShape),
    PARE_OP(Conv, /*reads_sparse=*/true, /*reads_palette=*/true),
    PARE_OP(ConvTranspose),
    PARE_OP(Cos),
    PARE_OP(CumSum),
    PARE_OP(DequantizeLinear),
    PARE_OP(Div),
    PARE_OP(Einsum),
    PARE_OP(Equal),
    PARE_OP(Erf),
    PARE_OP(Exp),
    PARE_OP(Expand),
    PARE_OP(Flatten),
    PARE_OP(Gather),
    PARE_OP(GatherElements),
    PARE_OP(Gelu),
    PARE_OP(Gemm, /*reads_sparse=*/true, /*reads_palette=*/true),
    PARE_OP(GlobalAveragePool),
    PARE_OP(Greater),
    PARE_OP(GreaterOrEqual),
    PARE_OP(HardSigmoid),
    PARE_OP(HardSwish),
    PARE_OP(Identity),
    PARE_OP(IsInf),
    PARE_OP(IsNaN),
    PARE_OP(LayerNormalization),
    PARE_OP(LeakyRelu),
    PARE_OP(Less),
    PARE_OP(LessOrEqual),
    PARE_OP(Log),
    PARE_OP(MatMul, /*reads_sparse=*/true, /*reads_palette=*/true),
    PARE_OP(Max),
    PARE_OP(MaxPool),
    PARE_OP(Min),
    PARE_OP(Mod),
    PARE_OP(Mul),
    PARE_OP(Neg),
    PARE_OP(Not),
    PARE_OP(Or),
    PARE_OP(PRelu),
    PARE_OP(Pad),
    PARE_OP(Pow),
    PARE_OP(QuantizeLinear),
    PARE_OP(Range),
    PARE_OP(ReduceL2),
    PARE_OP(ReduceMax),
    PARE_OP(ReduceMean),
    PARE_OP(ReduceMin),
    PARE_OP(ReduceProd),
    PARE_OP(ReduceSum),
    PARE_OP(Relu),
    PARE_OP(Reshape),
    PARE_OP(Resize),
    PARE_OP(ScatterND),
    PARE_OP(Shape),
    PARE_OP(Sigmoid),
    PARE_OP(Sin),
    PARE_OP(Slice),
    PARE_OP(Softmax),
    PARE_OP(Split),
    PARE_OP(Sqrt),
    PARE_OP(Squeeze),
    PARE_OP(Sub),
    PARE_OP(Tanh),
    PARE_OP(Tile),
    PARE_OP(TopK),
    PARE_OP(Transpose),
    PARE_OP(Unsqueeze),
    PARE_OP(Where),
};

constexpr bool selected_ops_known() {
  for (const char* s : kSelectedOps) {
    bool known = !kSelectiveBuild;
    for (const OpEntry& e : kOps) known = known || same_name(e.name, s);
    if (!known) return false;
  }
  return true;
}
static_assert(selected_ops_known(), "PARE_OPS names an op type this runtime does not implement");
static_assert(selected_kernel_families_known(), "PARE_OPS names a kernel family this runtime does not have");

const OpEntry* find_entry(const std::string& op) {
  const OpEntry* end = kOps + sizeof(kOps) / sizeof(kOps[0]);
  const OpEntry* it = std::lower_bound(kOps, end, op, [](const OpEntry& e, const std::string& name) {
    return std::strcmp(e.name, name.c_str()) < 0;
  });
  return it != end && op == it->name && it->factory ? it : nullptr;
}
}  // namespace

OpFactory find_op(const std::string& op) {
  const OpEntry* e = find_entry(op);
  return e ? e->factory : nullptr;
}

std::unique_ptr<OpKernel> fuse_with_producer(std::unique_ptr<OpKernel>& producer,
                                             std::unique_ptr<OpKernel>& consumer, size_t slot,
                                             bool other_input_is_producer_input) {
  // A selective build keeps the code only of the fusions of the ops it has.
  if constexpr (selected("Conv")) {
    if (std::unique_ptr<OpKernel> fused = ops::fuse_conv_chain(producer, consumer, slot)) return fused;
  }
  if constexpr (selected("Mul")) {
    if (std::unique_ptr<OpKernel> fused = ops::fuse_q8_table_mul(producer, consumer, slot, other_input_is_producer_input))
      return fused;
  }
  if constexpr (selected("Gemm") || selected("MatMul")) return ops::fuse_gemm_bias(producer, consumer, slot);
  return nullptr;
}

bool op_reads_sparse(const std::string& op) {
  const OpEntry* e = find_entry(op);
  return e && e->reads_sparse;
}

bool op_reads_palette(const std::string& op) {
  const OpEntry* e = find_entry(op);
  return e && e->reads_palette;
}

bool selective_build() { return kSelectiveBuild; }

std::vector<std::string> registered_ops() {
  std::vector<std::string> names;
  for (const OpEntry& e : kOps)
    if (e.factory) names.emplace_back(e.name);
  return names;
}

}  // namespace pare::rt
