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

// True when pare was built with LibTorch and reads TorchScript files.
bool torchscript_available();

// True when `path` is named like a PyTorch file (.pt, .pth, .ts, .torchscript) or is a zip
// archive (what torch.jit.save writes); otherwise pare reads it as ONNX.
bool is_torchscript(const std::string& path);

// Imports a model; errors are pare::Error naming the file (see the format's importer).
ir::Graph import_model(const std::string& path, const InputShapes& input_shapes = {});

}  // namespace pare::model_import
