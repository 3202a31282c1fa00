#include "ir/dtype.h"

namespace pare::ir {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat32: return 4;
    case DType::kUInt8: return 1;
    case DType::kInt8: return 1;
    case DType::kInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kBool: return 1;
    case DType::kFloat64: return 8;
    case DType::kUndefined: return 0;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kUInt8: return "uint8";
    case DType::kInt8: return "int8";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kBool: return "bool";
    case DType::kFloat64: return "float64";
    case DType::kUndefined: return "undefined";
  }
  return "undefined";
}

bool dtype_from_onnx(int32_t onnx_type, DType* out) {
  switch (onnx_type) {
    case 1: case 2: case 3: case 6: case 7: case 9: case 11:
      *out = static_cast<DType>(onnx_type);
      return true;
    default:
      return false;
  }
}

std::string onnx_type_name(int32_t onnx_type) {
  static const char* names[] = {"UNDEFINED", "FLOAT",  "UINT8",   "INT8",   "UINT16",
                                "INT16",     "INT32",  "INT64",   "STRING", "BOOL",
                                "FLOAT16",   "DOUBLE", "UINT32",  "UINT64", "COMPLEX64",
                                "COMPLEX128", "BFLOAT16"};
  if (onnx_type >= 0 && onnx_type < static_cast<int32_t>(sizeof(names) / sizeof(names[0])))
    return names[onnx_type];
  return "type " + std::to_string(onnx_type);
}

}  // namespace pare::ir
