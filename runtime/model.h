// A loaded .pare model: the file mapped read-only, verified (FlatBuffers verifier, then
// semantic checks on every offset, size, shape, dtype and arity), and exposed as plain
// descriptions. Weights are used in place from the mapping.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/attrs.h"
#include "runtime/op.h"
#include "runtime/status.h"
#include "runtime/tensor.h"

namespace pare::rt {

struct NodeDesc {
  std::string op;
  std::string name;
  std::vector<int32_t> inputs;   // -1: omitted optional input
  std::vector<int32_t> outputs;
  Attrs attrs;
  FusedActivation activation;
};

struct ModelTensor {
  TensorDesc desc;              // desc.constant (dense) or desc.sparse points into the mapping
  int64_t arena_offset = -1;    // -1 for constants
  uint64_t stored_bytes = 0;    // constants: bytes in the file (desc.byte_size() when dense)

  bool is_constant() const { return desc.constant != nullptr || desc.encoding != Encoding::kDense; }
};

struct ModelMetadata {
  std::string producer, producer_version, pipeline, source_file, source_hash, report_summary;
  uint32_t schema_version = 0;
};

// The largest tensor a model may hold (64 GiB): larger than any on-device model's, and far
// enough from 2^64 that no size product overflows. The loader refuses larger ones; the
// toolchain refuses to write them.
constexpr uint64_t kMaxTensorBytes = uint64_t{1} << 36;

// Bytes of the content hash a file carries (SHA-256; docs/format.md, "Content hash").
constexpr size_t kContentHashBytes = 32;

class Model {
 public:
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // Maps and verifies a file. The message of a failure names the file.
  static Result<std::shared_ptr<const Model>> load_file(const std::string& path);
  // Verifies a copy of an in-memory file image.
  static Result<std::shared_ptr<const Model>> load_buffer(const void* data, size_t size,
                                                          const std::string& name = "<memory>");
  // Verifies an in-memory file image and uses it in place when it starts on a 64-byte
  // boundary (the weights' alignment): the caller then keeps the bytes alive and unchanged
  // while the model lives. Unaligned images are copied, as by load_buffer.
  static Result<std::shared_ptr<const Model>> load_memory(const void* data, size_t size,
                                                          const std::string& name = "<memory>");

  const std::vector<ModelTensor>& tensors() const { return tensors_; }
  const std::vector<NodeDesc>& nodes() const { return nodes_; }  // execution order
  const std::vector<int32_t>& inputs() const { return inputs_; }
  const std::vector<int32_t>& outputs() const { return outputs_; }
  size_t arena_bytes() const { return arena_bytes_; }
  size_t weights_bytes() const { return weights_bytes_; }
  size_t file_bytes() const { return size_; }
  const ModelMetadata& metadata() const { return metadata_; }

  // Integrity, for apps that download models: load_file has checked the structure; this checks
  // the bytes. The content hash stored in the file must match its bytes; when `expected` is
  // given (the SHA-256 of the whole file as published, e.g. by `sha256sum`), the file's hash
  // must equal it. A file without a content hash passes only with `expected`. Reads every
  // byte of the file (about 2 ms per MB).
  Status verify_integrity(const std::array<uint8_t, kContentHashBytes>* expected = nullptr) const;
  // SHA-256 of the whole file as it is.
  std::array<uint8_t, kContentHashBytes> file_sha256() const;
  bool has_content_hash() const { return content_hash_offset_ != 0; }

 private:
  Model() = default;
  Status parse(const std::string& name);

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> owned_;  // load_buffer's copy (64-byte aligned view into it)
  size_t owned_shift_ = 0;
  std::string name_;                // the path or name given at load, for messages
  size_t content_hash_offset_ = 0;  // where the stored content hash is; 0: none

  std::vector<ModelTensor> tensors_;
  std::vector<NodeDesc> nodes_;
  std::vector<int32_t> inputs_, outputs_;
  size_t arena_bytes_ = 0;
  size_t weights_bytes_ = 0;
  ModelMetadata metadata_;
};

}  // namespace pare::rt
