#include "ir/dtype.h"

namespace pare::ir {

bool dtype_from_onnx(int32_t onnx_type, DType* out) {
  if (!dtype_valid(onnx_type)) return false;
  *out = static_cast<DType>(onnx_type);  // DType follows ONNX's numbering
  return true;
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
