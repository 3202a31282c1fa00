// ONNX TensorProto -> IR constant tensor (initializers, Constant values, attribute tensors).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "ir/graph.h"

namespace pare::onnx_import {

// Converts `proto` into a constant tensor named `proto.name()`. Reads raw_data, the typed
// fields (float_data, int32_data, int64_data, double_data) or external data, whose location
// is relative to `model_dir`. `what` names the tensor in messages ("initializer 'w'").
// Throws pare::Error: kUnsupported for dtypes outside ir::DType, kInvalidInput for payloads
// that do not match the shape and for unreadable or out-of-bounds external data.
ir::Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& model_dir,
                             const std::string& what);

}  // namespace pare::onnx_import
