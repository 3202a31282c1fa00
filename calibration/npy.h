// NumPy .npy and .npz reading and writing (the format is public: numpy's NEP 1).
// .npz files are zip archives of .npy members, stored or deflated (zlib).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pare::npy {

enum class ElemType { kFloat32, kFloat64, kInt64, kInt32, kUInt8, kInt8, kBool };

struct Array {
  ElemType type = ElemType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // C order, little endian

  int64_t size() const;  // number of elements
  size_t elem_size() const;
  template <typename T>
  const T* as() const { return reinterpret_cast<const T*>(data.data()); }
  template <typename T>
  T* as() { return reinterpret_cast<T*>(data.data()); }
};

const char* elem_type_name(ElemType t);  // "float32", ...

// Throw pare::Error(kInvalidInput) naming the file: missing, not .npy, unsupported
// dtype (big endian, object, fortran order...), truncated.
Array read_npy(const std::string& path);
Array parse_npy(const std::string& bytes, const std::string& name);
std::string serialize_npy(const Array& a);
// Atomic (temporary file + rename).
void write_npy(const std::string& path, const Array& a);

// Members in archive order, names without the ".npy" suffix.
std::vector<std::pair<std::string, Array>> read_npz(const std::string& path);
std::vector<std::pair<std::string, Array>> parse_npz(const std::string& bytes, const std::string& name);
void write_npz(const std::string& path, const std::vector<std::pair<std::string, Array>>& arrays);

}  // namespace pare::npy
