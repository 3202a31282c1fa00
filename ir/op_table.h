// The facts about each IR op that are data rather than code, one row per op: arity, the
// attributes the importer accepts, the first ONNX opset it reads the op from, and how the
// nhwc and quantize passes treat it. The verifier, shape inference, the ONNX importer and
// those passes read them here; the rules that are genuinely per op (shapes, opset rewrites,
// kernels) stay with their code. docs/architecture.md ("Adding an op") lists the rest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ir/op.h"

namespace pare::ir {

// An input or output count without an upper bound (Concat's inputs, Split's outputs).
constexpr size_t kAnyCount = std::numeric_limits<size_t>::max();

enum class AttrType { kInt, kFloat, kString, kInts, kFloats, kTensor };

struct AttrSpec {
  const char* name;
  AttrType type;
  bool required = false;  // shape inference refuses a node without it
};

// How the nhwc pass treats an op.
enum class LayoutClass {
  kNchwOnly,     // runs channels-first only: NHWC data is transposed back before it
  kNhwcCapable,  // Conv and the pools: run channels-last through their `layout` attribute
  kElementwise,  // layout-free; input 0 carries the layout, other inputs are scalars (Clip's bounds)
  kEveryInput,   // layout-free; every input carries the layout (broadcasting ops, Concat)
  kAxes,         // layout-free once its axes or per-axis constant inputs are remapped
  kReshape,      // channels-first only, but absorbs a Transpose that moves size-1 dims only
};

// How the quantize pass treats an op.
enum class Int8Class {
  kFloat,          // stays float
  kWeighted,       // int8 kernels when the weights are constant (Conv, Gemm, MatMul)
  kCopy,           // follows int8 inputs and moves bytes: its output keeps input 0's quantization
  kRequantize,     // follows an int8 input 0 and writes an output of its own quantization
  kRequantizeAll,  // as kRequantize, reading every input as int8 data (Add, Mul, Concat)
};

enum OpFlag : uint32_t {
  kFusesActivation = 1u << 0,  // may carry a fused activation (Node::activation)
  kFoldedAway = 1u << 1,       // never reaches the runtime: the toolchain always folds it away
  kInt8Constants = 1u << 2,    // the quantize pass stores its large float constant inputs as int8
};

struct OpInfo {
  OpKind op;
  size_t min_inputs, max_inputs;  // inputs [0, min_inputs) are required, the rest optional
  size_t min_outputs, max_outputs;
  int64_t min_opset;  // the first default-domain ONNX opset whose form the importer reads
  LayoutClass layout;
  Int8Class int8;
  uint32_t flags;
  // ONNX attributes the importer reads (including older-opset forms it rewrites into inputs)
  // and pare's own (`layout`).
  std::vector<AttrSpec> attrs;

  bool has(OpFlag f) const { return (flags & f) != 0; }
  const AttrSpec* find_attr(const std::string& name) const;
};

const OpInfo& op_info(OpKind op);  // op must be a valid OpKind (not kCount)
// An input or output count range as messages give it: "1", "2 to 3", "at least 1".
std::string count_range(size_t lo, size_t hi);

const char* attr_type_name(AttrType type);  // "int", "floats", ...

}  // namespace pare::ir
