// One entry point for every model format pare reads: ONNX (.onnx) and TorchScript (.pt,
// .pth, .ts, or any zip archive). The CLI and the teacher loader call this.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pare::model_import {

// Input shapes by name (--input-shape NAME:1x3x224x224).
using InputShapes = std::map<std::string, std::vector<int64_t>>;
// Input dtypes by name (--input-type NAME:int64): TorchScript records none (pare assumes
// float32, int64 for token ids read by an embedding); an ONNX model's must match.
using InputTypes = std::map<std::string, ir::DType>;

// --input-shape NAME:DIMS options, each input at most once (throws kInvalidInput).
InputShapes parse_input_shapes(const std::vector<std::string>& specs);

// "float32", "int64", "int32", "bool", "uint8", "int8" (throws kInvalidInput otherwise).
ir::DType parse_input_type(const std::string& name);

// True when pare was built with LibTorch and reads TorchScript files.
bool torchscript_available();

// True when `path` is named like a PyTorch file (.pt, .pth, .ts, .torchscript) or is a zip
// archive (what torch.jit.save writes); otherwise pare reads it as ONNX.
bool is_torchscript(const std::string& path);

// Imports a model; errors are pare::Error naming the file (see the format's importer).
ir::Graph import_model(const std::string& path, const InputShapes& input_shapes = {},
                       const InputTypes& input_types = {});

}  // namespace pare::model_import
