// Element types: the one pare::DType of runtime/types.h (numbered as ONNX's
// TensorProto::DataType), plus what the importers need to map ONNX types.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/types.h"

namespace pare::ir {

using ::pare::DType;
using ::pare::dtype_name;
using ::pare::dtype_size;

bool dtype_from_onnx(int32_t onnx_type, DType* out);  // false when unsupported
std::string onnx_type_name(int32_t onnx_type);         // for messages about unsupported types

}  // namespace pare::ir
