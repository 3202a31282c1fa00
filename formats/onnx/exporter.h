// ir::Graph -> ONNX (default domain, opset 17), through libonnx's protobuf classes.
//
// - Float nodes become the same ONNX op; a fused activation becomes its own node after it.
//   Gelu (opset 20 in ONNX) is written decomposed with Erf (or Tanh for approximate="tanh").
// - Channels-last nodes (layout="NHWC") become the NCHW op between Transpose(0,3,1,2) and
//   Transpose(0,2,3,1); ONNX Runtime's transpose optimizer cancels consecutive pairs.
// - Int8 nodes (docs/quantization.md) become QDQ: DequantizeLinear on each quantized input
//   (8-bit activations per tensor, int8 weights and int32 bias per axis), the float op,
//   the fused Relu/Clip, QuantizeLinear with the output's scale and zero point. Weights
//   stay int8 in the file (or uint8, ExportOptions::uint8_weights). QuantizeLinear/
//   DequantizeLinear nodes are written as they are.
// - Graph inputs and outputs keep their names, dtypes and shapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ir/graph.h"

namespace pare::onnx_export {

struct ExportOptions {
  int64_t opset = 17;  // default domain
  // Int8 weights written as uint8 with their zero points moved by 128: the same real values.
  // ONNX Runtime's int8-weight kernels on x86-64 CPUs without VNNI (AVX2, AVX-512F) sum
  // pairs of products in saturating int16 (vpmaddubsw), so their results differ from the
  // model's; with uint8 weights it takes its exact uint8 x uint8 path.
  bool uint8_weights = false;
};

struct ExportStats {
  size_t nodes = 0;         // ONNX nodes written
  size_t initializers = 0;
  size_t bytes = 0;         // size of the serialized model
};

// Serialized onnx::ModelProto. Throws pare::Error(kUnsupported) for a node that has no
// ONNX form at the chosen opset (naming the node and op).
std::string export_model(const ir::Graph& graph, const ExportOptions& options = {},
                         ExportStats* stats = nullptr);

// export_model() then an atomic write to `path` (temporary file + rename).
ExportStats export_file(const ir::Graph& graph, const std::string& path, const ExportOptions& options = {});

}  // namespace pare::onnx_export
