#include "runtime/model.h"

#include <cmath>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "formats/pare/schema_generated.h"
#include "formats/pare/schema_types.h"
#include "runtime/memory_planner.h"
#include "runtime/palette.h"
#include "runtime/sha256.h"
#include "runtime/sparse.h"

namespace pare::rt {

namespace {

constexpr uint32_t kMaxSchemaVersion = 3;  // 3: the Silu activation
// The first schema version with Tensor.encoding (sparse and palette constants).
constexpr uint32_t kEncodingSchemaVersion = 2;
constexpr size_t kWeightAlignment = 64;
// Size prefix, root offset and file identifier.
constexpr size_t kMinFileBytes = 12;

std::string q(const std::string& s) { return "'" + s + "'"; }

std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

template <typename T>
flatbuffers::uoffset_t count(const flatbuffers::Vector<T>* v) {
  return v ? v->size() : 0;
}

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

// The FlatBuffers verifier checks a vector's length field (4-byte aligned), not that its
// 8-byte elements are 8-byte aligned; reading them misaligned would be undefined. An empty
// vector has nothing to read (and FlatBuffers does not align it).
template <typename T>
bool elements_aligned(const flatbuffers::Vector<T>* v) {
  return !v || v->size() == 0 || reinterpret_cast<uintptr_t>(v->Data()) % alignof(T) == 0;
}

// Checks every field of a palette constant's metadata against its shape, dtype and data
// size, then binds desc->palette to `data` and checks the indices.
Status parse_palette(const fb::Tensor* t, const uint8_t* data, TensorDesc* desc) {
  auto bad = [](const std::string& msg) { return Status(Status::kBadModel, msg); };
  const fb::Palette* fp = t->palette();
  if (!fp) return bad("is palette but has no palette metadata");
  if (t->sparse()) return bad("is palette but has sparse metadata");
  if (desc->dtype != DType::kFloat32 && desc->dtype != DType::kInt8)
    return bad("is palette with dtype " + std::string(dtype_name(desc->dtype)) + " (float32 or int8 only)");
  if (static_cast<int32_t>(fp->dtype()) != static_cast<int32_t>(desc->dtype))
    return bad("has palette entries of dtype " + std::to_string(static_cast<int32_t>(fp->dtype())) +
               ", not the tensor's " + dtype_name(desc->dtype));
  if (desc->shape.size() < 2) return bad("is palette with rank " + std::to_string(desc->shape.size()) + " (2 or more)");
  PaletteView& v = desc->palette;
  const int64_t elements = desc->num_elements();
  v.rows = fp->rows();
  v.cols = fp->cols();
  if (v.rows != desc->shape[0] || v.rows <= 0 || v.cols <= 0 || v.cols != elements / v.rows ||
      v.rows * v.cols != elements)
    return bad("has palette rows " + std::to_string(v.rows) + " x cols " + std::to_string(v.cols) +
               ", its shape " + shape_str(desc->shape) + " needs rows = shape[0] and rows x cols = " +
               std::to_string(elements));
  v.bits = fp->bits();
  if (v.bits < kMinPaletteBits || v.bits > kMaxPaletteBits)
    return bad("has palette bits " + std::to_string(v.bits) + " (2 to 8)");
  v.entries = fp->entries();
  if (v.entries < 1 || v.entries > (1 << v.bits))
    return bad("has " + std::to_string(v.entries) + " palette entries, outside [1, " +
               std::to_string(1 << v.bits) + "] for " + std::to_string(v.bits) + " bits");
  v.per_row = fp->per_row();
  v.per_column = fp->per_column();
  if (v.per_row && v.per_column) return bad("has palette tables both per row and per column");
  v.dtype = desc->dtype;
  const auto coding = static_cast<int32_t>(fp->coding());
  if (coding != static_cast<int32_t>(PaletteCoding::kPacked) && coding != static_cast<int32_t>(PaletteCoding::kHuffman))
    return bad("has invalid palette coding " + std::to_string(coding));
  v.coding = static_cast<PaletteCoding>(coding);
  v.stream_bits = fp->stream_bits();
  // A code is 1 to 15 bits: the stream of rows x cols indices is within these bounds.
  const bool huffman = v.coding == PaletteCoding::kHuffman;
  if (huffman ? v.stream_bits < elements || (v.stream_bits - 1) / kMaxPaletteCodeLength >= elements : v.stream_bits != 0)
    return bad("has palette stream_bits " + std::to_string(v.stream_bits) +
               (huffman ? " for " + std::to_string(elements) + " indices of 1 to 15 bits" : " with packed indices"));
  const PaletteParts parts = palette_parts(v, dtype_size(desc->dtype));
  if (parts.total != t->data_size())
    return bad("holds " + std::to_string(t->data_size()) + " bytes but its palette metadata needs " +
               std::to_string(parts.total) + " (" + std::to_string(palette_tables(v)) + " tables" +
               (huffman ? ", a " + std::to_string(v.stream_bits) + "-bit stream)" : ")"));
  bind_palette_parts(&v, parts, data);
  std::string problem;
  if (!check_palette_indices(v, &problem)) return bad("has invalid palette indices: " + problem);
  desc->encoding = Encoding::kPalette;
  desc->constant = nullptr;
  return Status::ok();
}

// Reads a constant's encoding and, for a sparse one (a palette one: parse_palette), checks every field of its metadata
// against the shape, dtype and data size before binding desc->sparse to `data` and checking
// the indices. Messages continue "tensor N 'name' ...".
Status parse_encoding(const fb::Tensor* t, uint32_t schema_version, const uint8_t* data,
                      TensorDesc* desc) {
  auto bad = [](const std::string& msg) { return Status(Status::kBadModel, msg); };
  const int32_t encoding = static_cast<int32_t>(t->encoding());
  if (encoding != static_cast<int32_t>(Encoding::kSparse) && encoding != static_cast<int32_t>(Encoding::kPalette))
    return bad("has invalid encoding " + std::to_string(encoding) +
               (encoding == 0 ? " (dense with sparse or palette metadata)" : ""));
  if (schema_version < kEncodingSchemaVersion)
    return bad(std::string(encoding == static_cast<int32_t>(Encoding::kPalette) ? "is palette" : "is sparse") +
               " in a file of schema version " + std::to_string(schema_version) + ", which has no encodings");
  if (encoding == static_cast<int32_t>(Encoding::kPalette)) return parse_palette(t, data, desc);
  if (t->palette()) return bad("is sparse but has palette metadata");
  const fb::Sparse* fs = t->sparse();
  if (!fs) return bad("is sparse but has no sparse metadata");
  if (desc->dtype != DType::kFloat32 && desc->dtype != DType::kInt8 && desc->dtype != DType::kUInt8)
    return bad("is sparse with dtype " + std::string(dtype_name(desc->dtype)) +
               " (float32, int8 or uint8 only)");
  if (desc->shape.size() < 2) return bad("is sparse with rank " + std::to_string(desc->shape.size()) + " (2 or more)");

  SparseView& v = desc->sparse;
  const int32_t format = static_cast<int32_t>(fs->format());
  if (format != static_cast<int32_t>(SparseFormat::kBlockRows) &&
      format != static_cast<int32_t>(SparseFormat::kTwoOfFour) &&
      format != static_cast<int32_t>(SparseFormat::kGaps))
    return bad("has invalid sparse format " + std::to_string(format));
  v.format = static_cast<SparseFormat>(format);
  const int64_t elements = desc->num_elements();
  v.rows = fs->rows();
  v.cols = fs->cols();
  if (v.rows != desc->shape[0] || v.rows <= 0 || v.cols <= 0 || v.cols != elements / v.rows ||
      v.rows * v.cols != elements)
    return bad("has sparse rows " + std::to_string(v.rows) + " x cols " + std::to_string(v.cols) +
               ", its shape " + shape_str(desc->shape) + " needs rows = shape[0] and rows x cols = " +
               std::to_string(elements));
  v.block_rows = fs->block_rows();
  v.entries = fs->entries();
  v.column_bytes = fs->column_bytes();
  v.codes = fs->codes();
  if (v.format != SparseFormat::kGaps && v.codes != 0)
    return bad("sets gap codes " + std::to_string(v.codes) + " in a layout that has none");
  if (v.format == SparseFormat::kGaps) {
    if (v.block_rows != 1 || v.column_bytes != 0)
      return bad("is gap sparse but sets block_rows or column_bytes");
    if (v.entries < 0 || v.entries > elements)
      return bad("has " + std::to_string(v.entries) + " sparse values, outside [0, " +
                 std::to_string(elements) + "]");
    // Every value takes one code and every 15 zeros at most one more.
    const int64_t most_codes = v.entries + elements / kSparseGapSkip;
    if (v.codes < v.entries || v.codes > most_codes)
      return bad("has " + std::to_string(v.codes) + " gap codes, outside [" + std::to_string(v.entries) +
                 ", " + std::to_string(most_codes) + "] for its values and elements");
  } else if (v.format == SparseFormat::kTwoOfFour) {
    if (v.cols % 4 != 0) return bad("is 2:4 sparse with cols " + std::to_string(v.cols) + ", not a multiple of 4");
    if (v.block_rows != 1 || v.entries != 0 || v.column_bytes != 0)
      return bad("is 2:4 sparse but sets block_rows, entries or column_bytes");
  } else {
    if (v.block_rows <= 0 || v.rows % v.block_rows != 0)
      return bad("has block_rows " + std::to_string(v.block_rows) + ", which does not divide rows " +
                 std::to_string(v.rows));
    if (v.column_bytes != 2 && v.column_bytes != 4)
      return bad("has column_bytes " + std::to_string(v.column_bytes) + " (2 or 4)");
    if (v.column_bytes == 2 && v.cols > 65536)
      return bad("has 16-bit column indices for " + std::to_string(v.cols) + " columns");
    const int64_t most = v.rows / v.block_rows * v.cols;
    if (v.entries < 0 || v.entries > most)
      return bad("has " + std::to_string(v.entries) + " sparse entries, outside [0, " +
                 std::to_string(most) + "]");
    if (v.entries > INT64_C(0xffffffff))
      return bad("has more sparse entries than 32-bit block starts address");
  }
  const SparseParts parts = sparse_parts(v, dtype_size(desc->dtype));
  if (parts.total != t->data_size())
    return bad("holds " + std::to_string(t->data_size()) + " bytes but its sparse metadata needs " +
               std::to_string(parts.total));
  bind_sparse_parts(&v, parts, data);
  std::string problem;
  if (!check_sparse_indices(v, &problem)) return bad("has invalid sparse indices: " + problem);
  desc->encoding = Encoding::kSparse;
  desc->constant = nullptr;
  return Status::ok();
}

}  // namespace

Model::~Model() {
  if (mapped_ && data_) munmap(const_cast<uint8_t*>(data_), size_);
}

Result<std::shared_ptr<const Model>> Model::load_file(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status(Status::kIoError, "cannot open " + q(path) + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return Status(Status::kIoError, "cannot stat " + q(path) + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return Status(Status::kIoError, q(path) + " is not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < kMinFileBytes) {
    close(fd);
    return Status(Status::kBadFile, q(path) + ": not a .pare file (" + std::to_string(size) +
                                        " bytes, truncated or empty)");
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  close(fd);  // the mapping stays valid without the descriptor
  if (map == MAP_FAILED)
    return Status(Status::kIoError, "cannot map " + q(path) + ": " + std::strerror(map_err));

  std::shared_ptr<Model> model(new Model());
  model->data_ = static_cast<const uint8_t*>(map);
  model->size_ = size;
  model->mapped_ = true;
  PARE_RT_RETURN_IF_ERROR(model->parse(path));
  return std::shared_ptr<const Model>(std::move(model));
}

Result<std::shared_ptr<const Model>> Model::load_buffer(const void* data, size_t size,
                                                        const std::string& name) {
  std::shared_ptr<Model> model(new Model());
  // Over-allocate so the image can start on a 64-byte boundary, as in a mapping: the
  // weight offsets in the file are 64-byte aligned relative to its start.
  model->owned_.resize(size + kWeightAlignment);
  const uintptr_t addr = reinterpret_cast<uintptr_t>(model->owned_.data());
  model->owned_shift_ = (kWeightAlignment - addr % kWeightAlignment) % kWeightAlignment;
  uint8_t* dst = model->owned_.data() + model->owned_shift_;
  if (size) std::memcpy(dst, data, size);
  model->data_ = dst;
  model->size_ = size;
  PARE_RT_RETURN_IF_ERROR(model->parse(name));
  return std::shared_ptr<const Model>(std::move(model));
}

Result<std::shared_ptr<const Model>> Model::load_memory(const void* data, size_t size,
                                                        const std::string& name) {
  if (data == nullptr || reinterpret_cast<uintptr_t>(data) % kWeightAlignment != 0)
    return load_buffer(data, size, name);
  std::shared_ptr<Model> model(new Model());
  model->data_ = static_cast<const uint8_t*>(data);
  model->size_ = size;
  PARE_RT_RETURN_IF_ERROR(model->parse(name));
  return std::shared_ptr<const Model>(std::move(model));
}

Status Model::parse(const std::string& name) {
  name_ = name;
  auto bad_file = [&](const std::string& msg) { return Status(Status::kBadFile, q(name) + ": " + msg); };
  auto bad_model = [&](const std::string& msg) { return Status(Status::kBadModel, q(name) + ": " + msg); };

  // --- Structure: size prefix, identifier, FlatBuffers verifier.
  if (size_ < kMinFileBytes)
    return bad_file("not a .pare file (" + std::to_string(size_) + " bytes, truncated or empty)");
  const uint64_t fb_bytes =
      uint64_t{flatbuffers::ReadScalar<flatbuffers::uoffset_t>(data_)} + sizeof(flatbuffers::uoffset_t);
  if (!flatbuffers::BufferHasIdentifier(data_, fb::ModelIdentifier(), /*size_prefixed=*/true))
    return bad_file("not a .pare file (file identifier is not \"PARE\")");
  if (fb_bytes > size_)
    return bad_file("truncated: the model table needs " + std::to_string(fb_bytes) +
                    " bytes, the file has " + std::to_string(size_));
  if (fb_bytes >= FLATBUFFERS_MAX_BUFFER_SIZE) return bad_file("model table larger than 2 GiB");
  flatbuffers::Verifier verifier(data_, static_cast<size_t>(fb_bytes));
  if (!fb::VerifySizePrefixedModelBuffer(verifier))
    return bad_file("corrupt model table (FlatBuffers verification failed)");
  const fb::Model* m = fb::GetSizePrefixedModel(data_);

  metadata_.schema_version = m->schema_version();
  if (m->schema_version() > kMaxSchemaVersion)
    return bad_file("schema version " + std::to_string(m->schema_version()) +
                    " is newer than this runtime reads (" + std::to_string(kMaxSchemaVersion) +
                    "): update the runtime");
  if (const auto* hash = m->content_sha256()) {
    if (hash->size() != kContentHashBytes)
      return bad_file("content hash of " + std::to_string(hash->size()) + " bytes (SHA-256 has 32)");
    content_hash_offset_ = static_cast<size_t>(hash->data() - data_);
  }
  if (const fb::Metadata* md = m->metadata()) {
    metadata_.producer = str(md->producer());
    metadata_.producer_version = str(md->producer_version());
    metadata_.pipeline = str(md->pipeline());
    metadata_.source_file = str(md->source_file());
    metadata_.source_hash = str(md->source_hash());
    metadata_.report_summary = str(md->report_summary());
  }

  // --- Weight segment: aligned, after the model table, inside the file.
  const uint64_t w_off = m->weights_offset(), w_size = m->weights_size();
  if (w_off % kWeightAlignment != 0)
    return bad_file("weight segment offset " + std::to_string(w_off) + " is not 64-byte aligned");
  if (w_off < fb_bytes)
    return bad_file("weight segment (offset " + std::to_string(w_off) +
                    ") overlaps the model table");
  if (w_off > size_ || w_size > size_ - w_off)
    return bad_file("truncated: the weight segment needs bytes [" + std::to_string(w_off) + ", " +
                    std::to_string(w_off) + "+" + std::to_string(w_size) + "), the file has " +
                    std::to_string(size_));
  weights_bytes_ = static_cast<size_t>(w_size);
  const uint8_t* weights = data_ + w_off;

  // --- Tensors.
  const flatbuffers::uoffset_t num_tensors = count(m->tensors());
  if (num_tensors > static_cast<flatbuffers::uoffset_t>(INT32_MAX))
    return bad_model("too many tensors");
  tensors_.resize(num_tensors);
  const uint64_t arena_size = m->arena_size();
  for (flatbuffers::uoffset_t i = 0; i < num_tensors; ++i) {
    const fb::Tensor* t = m->tensors()->Get(i);
    ModelTensor& mt = tensors_[i];
    mt.desc.name = str(t->name());
    const std::string where = "tensor " + std::to_string(i) + " " + q(mt.desc.name);
    const int32_t dtype = static_cast<int32_t>(t->dtype());
    if (!dtype_valid(dtype)) return bad_model(where + " has invalid dtype " + std::to_string(dtype));
    mt.desc.dtype = static_cast<DType>(dtype);
    if (!elements_aligned(t->shape()) ||
        (t->quantization() && !elements_aligned(t->quantization()->zero_points())))
      return bad_file(where + " has a misaligned vector");
    const uint64_t elem_bytes = dtype_size(mt.desc.dtype);
    // The bytes the non-zero dims span: within the limit even for an empty tensor, whose
    // strides are still computed from them.
    uint64_t extent = elem_bytes;
    bool empty = false;
    for (flatbuffers::uoffset_t d = 0; d < count(t->shape()); ++d) {
      const int64_t dim = t->shape()->Get(d);
      if (dim < 0) return bad_model(where + " has a negative dimension " + std::to_string(dim));
      if (dim != 0 && (static_cast<uint64_t>(dim) > kMaxTensorBytes ||
                       extent > kMaxTensorBytes / static_cast<uint64_t>(dim)))
        return bad_model(where + " is too large");
      if (dim != 0) extent *= static_cast<uint64_t>(dim);
      empty = empty || dim == 0;
      mt.desc.shape.push_back(dim);
    }
    const uint64_t bytes = empty ? 0 : extent;

    if (t->constant()) {
      const uint64_t off = t->data_offset(), size = t->data_size();
      // 64-byte aligned; constants under 64 bytes 16-byte aligned (docs/format.md).
      const uint64_t alignment = size < kWeightAlignment ? 16 : kWeightAlignment;
      if (off % alignment != 0)
        return bad_model(where + " data offset " + std::to_string(off) + " is not " +
                         std::to_string(alignment) + "-byte aligned");
      if (off > w_size || size > w_size - off)
        return bad_model(where + " data [" + std::to_string(off) + ", +" + std::to_string(size) +
                         ") lies outside the weight segment of " + std::to_string(w_size) + " bytes");
      mt.arena_offset = -1;
      mt.stored_bytes = size;
      const int32_t encoding = static_cast<int32_t>(t->encoding());
      if (encoding != static_cast<int32_t>(Encoding::kDense) || t->sparse() || t->palette()) {
        const Status st = parse_encoding(t, m->schema_version(), weights + off, &mt.desc);
        if (!st.is_ok()) return bad_model(where + " " + st.message());
      } else if (size != bytes) {
        return bad_model(where + " holds " + std::to_string(size) + " bytes but its shape " +
                         shape_str(mt.desc.shape) + " and dtype " + dtype_name(mt.desc.dtype) +
                         " need " + std::to_string(bytes));
      } else {
        mt.desc.constant = weights + off;
      }
    } else {
      if (t->encoding() != fb::Encoding::DENSE || t->sparse() || t->palette())
        return bad_model(where + " is not a constant but has an encoding");
      const int64_t off = t->arena_offset();
      if (off < 0 || static_cast<uint64_t>(off) % kArenaAlignment != 0)
        return bad_model(where + " has an invalid arena offset " + std::to_string(off));
      if (static_cast<uint64_t>(off) > arena_size || bytes > arena_size - static_cast<uint64_t>(off))
        return bad_model(where + " (" + std::to_string(bytes) + " bytes at offset " +
                         std::to_string(off) + ") lies outside the arena of " +
                         std::to_string(arena_size) + " bytes");
      mt.arena_offset = off;
    }

    if (const fb::Quantization* fq = t->quantization()) {
      mt.desc.quantized = true;
      QuantParams& qd = mt.desc.quant;
      qd.axis = fq->axis();
      if (fq->scales()) qd.scales.assign(fq->scales()->begin(), fq->scales()->end());
      if (fq->zero_points()) qd.zero_points.assign(fq->zero_points()->begin(), fq->zero_points()->end());
      const int64_t rank = static_cast<int64_t>(mt.desc.shape.size());
      if (qd.axis < -1 || qd.axis >= rank)
        return bad_model(where + " has quantization axis " + std::to_string(qd.axis) +
                         " outside its rank " + std::to_string(rank));
      const uint64_t expected = qd.axis < 0 ? 1 : static_cast<uint64_t>(mt.desc.shape[qd.axis]);
      if (qd.scales.size() != expected)
        return bad_model(where + " has " + std::to_string(qd.scales.size()) +
                         " quantization scales, expected " + std::to_string(expected));
      if (!qd.zero_points.empty() && qd.zero_points.size() != qd.scales.size())
        return bad_model(where + " has " + std::to_string(qd.zero_points.size()) +
                         " zero points for " + std::to_string(qd.scales.size()) + " scales");
      for (float scale : qd.scales)
        if (!(scale > 0) || !std::isfinite(scale))
          return bad_model(where + " has quantization scale " + std::to_string(scale) +
                           " (must be finite and > 0)");
      int64_t zp_min = INT64_MIN, zp_max = INT64_MAX;
      if (mt.desc.dtype == DType::kUInt8) zp_min = 0, zp_max = 255;
      if (mt.desc.dtype == DType::kInt8) zp_min = -128, zp_max = 127;
      if (mt.desc.dtype == DType::kInt32) zp_min = INT32_MIN, zp_max = INT32_MAX;
      for (int64_t zp : qd.zero_points)
        if (zp < zp_min || zp > zp_max)
          return bad_model(where + " has zero point " + std::to_string(zp) + " outside its dtype " +
                           dtype_name(mt.desc.dtype));
      // Absent zero points are zeros.
      if (qd.zero_points.empty()) qd.zero_points.assign(qd.scales.size(), 0);
    }
  }
  auto tensor_in_range = [&](int32_t id) { return id >= 0 && static_cast<uint32_t>(id) < num_tensors; };

  // --- Signature inputs.
  std::vector<uint8_t> is_input(num_tensors, 0);
  for (flatbuffers::uoffset_t k = 0; k < count(m->inputs()); ++k) {
    const int32_t id = m->inputs()->Get(k);
    if (!tensor_in_range(id)) return bad_model("graph input " + std::to_string(k) + " refers to tensor " +
                                               std::to_string(id) + ", out of range");
    const std::string where = "graph input " + q(tensors_[id].desc.name);
    if (tensors_[id].is_constant()) return bad_model(where + " is a constant");
    if (is_input[id]) return bad_model(where + " is listed twice");
    is_input[id] = 1;
    inputs_.push_back(id);
  }

  // --- Nodes, in execution order.
  const flatbuffers::uoffset_t num_nodes = count(m->nodes());
  if (num_nodes >= static_cast<flatbuffers::uoffset_t>(INT32_MAX)) return bad_model("too many nodes");
  std::vector<int32_t> producer(num_tensors, -1);
  std::vector<int32_t> last_reader(num_tensors, -1);
  nodes_.resize(num_nodes);
  for (flatbuffers::uoffset_t n = 0; n < num_nodes; ++n) {
    const fb::Node* fn = m->nodes()->Get(n);
    NodeDesc& nd = nodes_[n];
    nd.op = str(fn->op());
    nd.name = str(fn->name());
    const std::string where = "node " + std::to_string(n) + " " + q(nd.name);
    if (nd.op.empty()) return bad_model(where + " has no op type");
    const std::string whereop = where + " (" + nd.op + ")";

    for (flatbuffers::uoffset_t k = 0; k < count(fn->inputs()); ++k) {
      const int32_t id = fn->inputs()->Get(k);
      nd.inputs.push_back(id);
      if (id == -1) continue;
      if (!tensor_in_range(id))
        return bad_model(whereop + " input " + std::to_string(k) + " refers to tensor " +
                         std::to_string(id) + ", out of range");
      if (!is_input[id] && !tensors_[id].is_constant() && producer[id] < 0)
        return bad_model(whereop + " reads tensor " + q(tensors_[id].desc.name) +
                         " before any node writes it");
      last_reader[id] = static_cast<int32_t>(n);
    }
    if (count(fn->outputs()) == 0) return bad_model(whereop + " has no outputs");
    for (flatbuffers::uoffset_t k = 0; k < count(fn->outputs()); ++k) {
      const int32_t id = fn->outputs()->Get(k);
      if (!tensor_in_range(id))
        return bad_model(whereop + " output " + std::to_string(k) + " refers to tensor " +
                         std::to_string(id) + ", out of range");
      const std::string tname = q(tensors_[id].desc.name);
      if (tensors_[id].is_constant()) return bad_model(whereop + " writes constant tensor " + tname);
      if (is_input[id]) return bad_model(whereop + " writes graph input " + tname);
      if (producer[id] >= 0)
        return bad_model(whereop + " writes tensor " + tname + ", already written by node " +
                         std::to_string(producer[id]));
      producer[id] = static_cast<int32_t>(n);
      nd.outputs.push_back(id);
    }

    for (flatbuffers::uoffset_t k = 0; k < count(fn->attributes()); ++k) {
      const fb::Attribute* fa = fn->attributes()->Get(k);
      Attribute a;
      a.name = str(fa->name());
      if (a.name.empty()) return bad_model(whereop + " has an attribute without a name");
      const int32_t type = static_cast<int32_t>(fa->type());
      if (type < Attribute::kInt || type > Attribute::kFloats)
        return bad_model(whereop + " attribute " + q(a.name) + " has invalid type " + std::to_string(type));
      a.type = static_cast<Attribute::Type>(type);
      a.i = fa->i();
      a.f = fa->f();
      a.s = str(fa->s());
      if (!elements_aligned(fa->ints()))
        return bad_file(whereop + " attribute " + q(a.name) + " has a misaligned vector");
      if (fa->ints()) a.ints.assign(fa->ints()->begin(), fa->ints()->end());
      if (fa->floats()) a.floats.assign(fa->floats()->begin(), fa->floats()->end());
      nd.attrs.add(std::move(a));
    }

    const int32_t act = static_cast<int32_t>(fn->activation());
    if (act < 0 || act >= kActivationKindCount)
      return bad_model(whereop + " has invalid activation " + std::to_string(act));
    nd.activation.kind = static_cast<ActivationKind>(act);
    const size_t params = count(fn->activation_params());
    if (params < activation_param_count(nd.activation.kind))
      return bad_model(whereop + " activation needs " +
                       std::to_string(activation_param_count(nd.activation.kind)) +
                       " parameters, has " + std::to_string(params));
    if (params > 0) nd.activation.p0 = fn->activation_params()->Get(0);
    if (params > 1) nd.activation.p1 = fn->activation_params()->Get(1);
  }

  // --- Signature outputs.
  std::vector<uint8_t> is_output(num_tensors, 0);
  for (flatbuffers::uoffset_t k = 0; k < count(m->outputs()); ++k) {
    const int32_t id = m->outputs()->Get(k);
    if (!tensor_in_range(id)) return bad_model("graph output " + std::to_string(k) + " refers to tensor " +
                                               std::to_string(id) + ", out of range");
    const std::string where = "graph output " + q(tensors_[id].desc.name);
    if (tensors_[id].is_constant()) return bad_model(where + " is a constant");
    if (!is_input[id] && producer[id] < 0) return bad_model(where + " is never written");
    is_output[id] = 1;
    outputs_.push_back(id);
  }

  // --- Memory plan: lifetimes follow from the node order, exactly as the writer derives
  // them. One buffer per tensor so that messages give tensor indices; constants take no
  // arena bytes.
  std::vector<BufferLifetime> lifetimes(num_tensors);
  MemoryPlan plan;
  plan.offsets.assign(num_tensors, 0);
  uint64_t unshared = 0;  // what a plan without any sharing would take
  for (uint32_t i = 0; i < num_tensors; ++i) {
    const ModelTensor& mt = tensors_[i];
    if (mt.is_constant()) continue;
    BufferLifetime& lt = lifetimes[i];
    lt.bytes = mt.desc.byte_size();
    if (is_input[i]) {
      lt.first_use = -1;
    } else if (producer[i] >= 0) {
      lt.first_use = producer[i];
    } else {
      return bad_model("tensor " + std::to_string(i) + " " + q(mt.desc.name) +
                       " is neither a constant, a graph input nor written by a node");
    }
    lt.last_use = is_output[i] ? INT32_MAX : std::max(lt.first_use, last_reader[i]);
    plan.offsets[i] = static_cast<size_t>(mt.arena_offset);
    unshared += align_up(lt.bytes, kArenaAlignment);
  }
  if (arena_size > unshared)
    return bad_model("arena size " + std::to_string(arena_size) +
                     " is larger than all activations together (" + std::to_string(unshared) + ")");
  plan.arena_bytes = static_cast<size_t>(arena_size);
  const Status plan_status = check_memory_plan(lifetimes, plan);
  if (!plan_status.is_ok()) return bad_model("invalid memory plan: " + plan_status.message());
  arena_bytes_ = plan.arena_bytes;
  return Status::ok();
}

std::array<uint8_t, kContentHashBytes> Model::file_sha256() const {
  Sha256 sha;
  sha.update(data_, size_);
  return sha.finish();
}

Status Model::verify_integrity(const std::array<uint8_t, kContentHashBytes>* expected) const {
  auto damaged = [&](const std::string& msg) { return Status(Status::kBadFile, q(name_) + ": " + msg); };
  if (!has_content_hash() && !expected)
    return damaged("the file has no content hash (written by an older pare) and no expected SHA-256 was given");
  if (has_content_hash()) {
    // The stored hash is of the file with its own 32 bytes as zeros.
    const size_t at = content_hash_offset_;
    const uint8_t zeros[kContentHashBytes] = {};
    Sha256 content;
    content.update(data_, at);
    content.update(zeros, kContentHashBytes);
    content.update(data_ + at + kContentHashBytes, size_ - at - kContentHashBytes);
    std::array<uint8_t, kContentHashBytes> stored;
    std::memcpy(stored.data(), data_ + at, kContentHashBytes);
    const std::array<uint8_t, kContentHashBytes> computed = content.finish();
    if (computed != stored)
      return damaged("content hash mismatch: the file is damaged or was modified after it was written (stored " +
                     Sha256::hex(stored) + ", computed " + Sha256::hex(computed) + ")");
  }
  if (expected) {
    const std::array<uint8_t, kContentHashBytes> actual = file_sha256();
    if (actual != *expected)
      return damaged("SHA-256 " + Sha256::hex(actual) + " is not the expected " + Sha256::hex(*expected));
  }
  return Status::ok();
}

}  // namespace pare::rt
