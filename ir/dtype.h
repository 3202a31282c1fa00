// Element types. Values follow onnx::TensorProto::DataType so that importers
// and the .pare format can map them without a table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pare::ir {

enum class DType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
  kFloat64 = 11,
};

size_t dtype_size(DType t);           // bytes per element; 0 for kUndefined
const char* dtype_name(DType t);      // "float32", "int64", ...
bool dtype_from_onnx(int32_t onnx_type, DType* out);  // false when unsupported
std::string onnx_type_name(int32_t onnx_type);         // for messages about unsupported types

}  // namespace pare::ir
