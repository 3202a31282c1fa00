// The element types and fused activations, defined once for the IR, the runtime, its
// kernels and (tied by static_asserts where the file is read and written) the .pare schema.
// Dependency-free: apps embed it with the runtime, and the toolchain includes it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pare {

// Numbered as onnx::TensorProto::DataType, so importers map ONNX types without a table.
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

// Bytes per element; 0 for kUndefined.
constexpr size_t dtype_size(DType t) {
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

// "float32", "int64", ...
constexpr const char* dtype_name(DType t) {
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

// A dtype a tensor may have: one of the enumerators, except kUndefined.
constexpr bool dtype_valid(int32_t value) {
  switch (value) {
    case 1: case 2: case 3: case 6: case 7: case 9: case 11:
      return true;
    default:
      return false;
  }
}

// An activation a Conv/ConvTranspose/Gemm/MatMul applies to its output in place.
enum class ActivationKind : int32_t {
  kNone = 0,
  kRelu = 1,
  kClip = 2,         // p0 = min, p1 = max (ReLU6 is Clip(0, 6))
  kSigmoid = 3,
  kHardSigmoid = 4,  // p0 = alpha, p1 = beta
  kHardSwish = 5,
  kLeakyRelu = 6,    // p0 = alpha
};
constexpr int32_t kActivationKindCount = 7;

// A fused activation with its parameters, as kernels take it.
struct FusedActivation {
  ActivationKind kind = ActivationKind::kNone;
  float p0 = 0.f;  // Clip: min; HardSigmoid: alpha; LeakyRelu: alpha
  float p1 = 0.f;  // Clip: max; HardSigmoid: beta
};

}  // namespace pare
