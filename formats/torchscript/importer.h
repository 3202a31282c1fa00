// TorchScript import through LibTorch: traced and scripted modules are loaded, frozen
// (weights become constants, calls are inlined, conv+batch-norm pairs are folded as
// torch.jit.freeze does), and their aten ops are lowered to pare's IR, the same IR the ONNX
// importer produces, so every pass and the runtime apply unchanged.
//
// A TorchScript file records no input shapes: each forward argument needs one
// (--input-shape NAME:1x3x224x224). With every shape known, sizes, dims and the control
// flow that depends on them are evaluated while lowering, so the IR holds no shape
// arithmetic. Data-dependent control flow is refused.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pare::torchscript_import {

struct ImportOptions {
  // Shapes of the forward arguments, by name; every argument needs one.
  std::map<std::string, std::vector<int64_t>> input_shapes;
  // Dtypes of arguments, by name; the others are float32, or int64 when an embedding reads
  // them as indices.
  std::map<std::string, ir::DType> input_types;
};

// Throws pare::Error naming the file: not TorchScript or unreadable (kInvalidInput), no
// forward method, a missing input shape (says how to give it), an aten op pare does not
// lower (kUnsupported, with the op's schema and the source line TorchScript recorded).
ir::Graph import_model(const std::string& path, const ImportOptions& options);

}  // namespace pare::torchscript_import
