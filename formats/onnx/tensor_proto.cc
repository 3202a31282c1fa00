#include "formats/onnx/tensor_proto.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <vector>

#include "ir/status.h"

namespace pare::onnx_import {
namespace {

// ONNX stores raw_data and external data little-endian; like the rest of pare, this
// assumes a little-endian host (x86-64, AArch64), so the bytes are copied as they are.

template <typename Dst, typename Src>
void convert_values(const Src& values, std::vector<uint8_t>& bytes) {
  bytes.resize(static_cast<size_t>(values.size()) * sizeof(Dst));
  Dst* out = reinterpret_cast<Dst*>(bytes.data());
  for (int i = 0; i < values.size(); ++i) out[i] = static_cast<Dst>(values.Get(i));
}

std::vector<uint8_t> read_external(const onnx::TensorProto& proto, const std::string& model_dir,
                                   const std::string& what, size_t expected_bytes) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& entry : proto.external_data()) {
    try {
      if (entry.key() == "location")
        location = entry.value();
      else if (entry.key() == "offset")
        offset = std::stoll(entry.value());
      else if (entry.key() == "length")
        length = std::stoll(entry.value());
    } catch (const std::exception&) {
      throw_invalid(what + ": external data '" + entry.key() + "' is not a number: '" + entry.value() + "'");
    }
  }
  if (location.empty()) throw_invalid(what + ": external data has no location");
  // Data files must stay inside the model's folder: a model must not read arbitrary files.
  std::filesystem::path rel(location);
  if (rel.is_absolute())
    throw_invalid(what + ": external data location '" + location +
                  "' must be relative to the model's folder");
  for (const auto& part : rel)
    if (part == "..")
      throw_invalid(what + ": external data location '" + location + "' leaves the model's folder");
  std::string path = (std::filesystem::path(model_dir) / rel).string();

  std::ifstream file(path, std::ios::binary);
  if (!file) throw_invalid(what + ": cannot open external data file '" + path + "': " + std::strerror(errno));
  std::error_code ec;
  uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) throw_invalid(what + ": cannot read external data file '" + path + "': " + ec.message());
  if (offset < 0 || static_cast<uint64_t>(offset) > file_size)
    throw_invalid(what + ": external data offset " + std::to_string(offset) + " is beyond the end of '" +
                  path + "' (" + std::to_string(file_size) + " bytes)");
  uint64_t available = file_size - static_cast<uint64_t>(offset);
  uint64_t size = length < 0 ? available : static_cast<uint64_t>(length);
  if (size > available)
    throw_invalid(what + ": external data [" + std::to_string(offset) + ", +" + std::to_string(size) +
                  ") runs past the end of '" + path + "' (" + std::to_string(file_size) + " bytes)");
  if (size != expected_bytes)
    throw_invalid(what + ": external data holds " + std::to_string(size) +
                  " bytes, its shape and dtype need " + std::to_string(expected_bytes));
  std::vector<uint8_t> bytes(expected_bytes);
  file.seekg(offset);
  if (!file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
    throw_invalid(what + ": reading external data from '" + path + "' failed");
  return bytes;
}

}  // namespace

ir::Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& model_dir,
                             const std::string& what) {
  ir::Tensor t;
  t.name = proto.name();
  if (!ir::dtype_from_onnx(proto.data_type(), &t.dtype))
    throw_unsupported(what + " has type " + ir::onnx_type_name(proto.data_type()) +
                      ", which pare does not support");
  if (proto.has_segment()) throw_unsupported(what + " is segmented, which pare does not support");

  std::vector<int64_t> dims(proto.dims().begin(), proto.dims().end());
  // The non-zero dims' product (which an empty tensor's strides still reach) is kept
  // below 2^52, so that count * 8 bytes is representable; no real weight comes close.
  uint64_t count = 1, extent = 1;
  for (int64_t d : dims) {
    if (d < 0) throw_invalid(what + " has a negative dim in " + ir::Shape(dims).str());
    if (d > 0 && extent > (uint64_t{1} << 52) / static_cast<uint64_t>(d))
      throw_invalid(what + " has an impossible size " + ir::Shape(dims).str());
    if (d > 0) extent *= static_cast<uint64_t>(d);
    count *= static_cast<uint64_t>(d);
  }
  t.shape = ir::Shape(dims);
  size_t n = static_cast<size_t>(count);
  size_t bytes_needed = n * ir::dtype_size(t.dtype);

  auto buffer = std::make_shared<ir::Buffer>();
  std::vector<uint8_t>& bytes = buffer->bytes;
  auto check_count = [&](int values) {
    if (static_cast<size_t>(values) != n)
      throw_invalid(what + " holds " + std::to_string(values) + " values; its shape " + t.shape.str() +
                    " needs " + std::to_string(n));
  };

  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    bytes = read_external(proto, model_dir, what, bytes_needed);
  } else if (proto.has_raw_data()) {
    if (proto.raw_data().size() != bytes_needed)
      throw_invalid(what + " holds " + std::to_string(proto.raw_data().size()) + " bytes; " +
                    ir::dtype_name(t.dtype) + " " + t.shape.str() + " needs " + std::to_string(bytes_needed));
    bytes.assign(proto.raw_data().begin(), proto.raw_data().end());
  } else {
    switch (t.dtype) {
      case ir::DType::kFloat32:
        check_count(proto.float_data_size());
        convert_values<float>(proto.float_data(), bytes);
        break;
      case ir::DType::kFloat64:
        check_count(proto.double_data_size());
        convert_values<double>(proto.double_data(), bytes);
        break;
      case ir::DType::kInt64:
        check_count(proto.int64_data_size());
        convert_values<int64_t>(proto.int64_data(), bytes);
        break;
      case ir::DType::kInt32:
        check_count(proto.int32_data_size());
        convert_values<int32_t>(proto.int32_data(), bytes);
        break;
      case ir::DType::kInt8:
        check_count(proto.int32_data_size());
        convert_values<int8_t>(proto.int32_data(), bytes);
        break;
      case ir::DType::kUInt8:
        check_count(proto.int32_data_size());
        convert_values<uint8_t>(proto.int32_data(), bytes);
        break;
      case ir::DType::kBool:
        check_count(proto.int32_data_size());
        bytes.resize(n);
        for (size_t i = 0; i < n; ++i) bytes[i] = proto.int32_data(static_cast<int>(i)) != 0;
        break;
      case ir::DType::kUndefined: break;
    }
  }
  t.data = std::move(buffer);
  return t;
}

}  // namespace pare::onnx_import
