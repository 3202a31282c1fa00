// ONNX import through libonnx's protobuf classes: opsets 11 to 18 (older opsets op by op,
// see min_opset in importer.cc), initializers (also in external data files next to the
// model), Constant nodes as constant tensors. Old attribute forms are normalised to the
// opset-18 form (e.g. Squeeze axes become a constant input). Shapes of intermediate
// tensors are left to shape inference (passes::infer_and_fold), which runs right after
// import.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pare::onnx_import {

struct ImportOptions {
  // Fixes the dims of named inputs (--input-shape NAME:1x3x224x224).
  std::map<std::string, std::vector<int64_t>> input_shapes;
};

// Throws pare::Error with a message naming the file and, where it applies, the node
// (name and op type) and the opset: missing or unreadable file (kInvalidInput), not an
// ONNX model, truncated, unsupported op or dtype (kUnsupported), a symbolic input dim
// left unset (says which input and how to set it with --input-shape).
ir::Graph import_model(const std::string& path, const ImportOptions& options = {});
// The same from a model file's bytes; `path` names it in messages and locates external data.
ir::Graph import_model_bytes(const std::string& bytes, const std::string& path, const ImportOptions& options = {});

// Parses "NAME:1x3x224x224" (throws kInvalidInput with the expected form).
std::pair<std::string, std::vector<int64_t>> parse_input_shape(const std::string& spec);

}  // namespace pare::onnx_import
