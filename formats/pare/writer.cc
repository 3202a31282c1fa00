#include "formats/pare/writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <tuple>

#include "formats/pare/schema_generated.h"
#include "formats/pare/schema_types.h"
#include "formats/pare/sparse_encoding.h"
#include "ir/status.h"
#include "runtime/memory_planner.h"
#include "runtime/model.h"
#include "runtime/sha256.h"

namespace pare::format {

namespace {

constexpr size_t kWeightAlignment = 64;
constexpr size_t kSmallWeightAlignment = 16;  // constants under 64 bytes

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

std::string q(const std::string& s) { return "'" + s + "'"; }

// Every graph output must be written by a node so that it has an arena slot the
// caller can read; a constant or graph input listed as an output gets an Identity.
void route_outputs_through_nodes(ir::Graph& g) {
  std::map<ir::TensorId, ir::TensorId> copies;
  const ir::UseIndex uses(g);
  for (ir::TensorId& out : g.outputs) {
    const ir::Tensor& src = g.tensor(out);
    const bool is_input = uses.is_graph_input(out);
    if (!src.is_constant() && !is_input) continue;
    auto it = copies.find(out);
    if (it == copies.end()) {
      ir::Tensor copy;
      copy.name = src.name;  // the signature keeps the name the source model gave the output
      copy.dtype = src.dtype;
      copy.shape = src.shape;
      copy.quant = src.quant;
      const ir::TensorId copy_id = g.add_tensor(std::move(copy));
      ir::Node node;
      node.op = ir::OpKind::kIdentity;
      node.name = g.tensor(out).name;
      node.inputs = {out};
      node.outputs = {copy_id};
      g.add_node(std::move(node));
      it = copies.emplace(out, copy_id).first;
    }
    out = it->second;
  }
}

void check_writable(const ir::Graph& g) {
  for (size_t i = 0; i < g.tensor_capacity(); ++i) {
    const ir::Tensor& t = g.tensor(static_cast<ir::TensorId>(i));
    if (t.dtype == ir::DType::kUndefined || ir::dtype_size(t.dtype) == 0)
      throw Error(Status::kInvalidInput, "tensor " + q(t.name) + " has an unknown dtype");
    if (!t.shape.is_static())
      throw Error(Status::kInvalidInput,
                  "tensor " + q(t.name) + " has shape " + t.shape.str() +
                      ", not static: fix the input shapes (e.g. --input-shape) before writing");
    // A size from the source (an input dim of 2^40) that no runtime can hold is the input's
    // fault: refused here with the sizes, not by the loader after writing. The loader bounds
    // the bytes the non-zero dims span, even in an empty tensor ([0, 2^40]), whose strides
    // come from them; so does this.
    uint64_t bytes = ir::dtype_size(t.dtype);
    bool empty = false;
    for (int64_t d : t.shape.sizes()) {
      if (d == 0) empty = true;
      else if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) bytes = UINT64_MAX;
    }
    if (bytes > rt::kMaxTensorBytes)
      throw Error(Status::kInvalidInput,
                  "tensor " + q(t.name) + " of shape " + t.shape.str() + (empty ? " spans " : " needs ") +
                      (bytes == UINT64_MAX ? std::string("more than 2^64") : std::to_string(bytes)) +
                      (empty ? " bytes in its non-zero dims" : " bytes") + "; pare's limit is " +
                      std::to_string(rt::kMaxTensorBytes) + " bytes (64 GiB)");
    if (t.is_constant()) {
      const size_t expected = static_cast<size_t>(t.shape.num_elements()) * ir::dtype_size(t.dtype);
      if (t.data->bytes.size() != expected)
        throw Error(Status::kInvalidInput, "constant " + q(t.name) + " holds " +
                                               std::to_string(t.data->bytes.size()) +
                                               " bytes, its shape " + t.shape.str() + " and dtype " +
                                               ir::dtype_name(t.dtype) + " need " +
                                               std::to_string(expected));
    }
  }
  for (ir::TensorId in : g.inputs)
    if (g.tensor(in).is_constant())
      throw Error(Status::kInvalidInput, "graph input " + q(g.tensor(in).name) + " is a constant");
}

struct Layout {
  std::vector<int64_t> arena_offset;    // per tensor; -1 for constants
  std::vector<uint64_t> data_offset;    // per tensor, inside the weight segment
  std::vector<const EncodedConstant*> encoded;  // per tensor; null unless stored sparse or palette
  std::vector<const std::vector<uint8_t>*> weight_blocks;  // distinct stored bytes in placement order
  std::vector<uint64_t> weight_block_offsets;
  // Encodings by (buffer, dtype, rows): tensors sharing a buffer share its encoding.
  std::map<std::tuple<const ir::Buffer*, ir::DType, int64_t>, EncodedConstant> encodings;
  size_t arena_bytes = 0;
  size_t weights_bytes = 0;
  bool any_encoded = false;
};

// The bytes a constant is stored as: its own buffer, or a sparse or palette encoding of it.
const std::vector<uint8_t>& stored_bytes(const ir::Tensor& t, Layout& layout, size_t index,
                                         const WriteOptions& options) {
  if (!options.sparse_weights) return t.data->bytes;
  const int64_t rows = t.shape.rank() >= 2 ? t.shape.dims[0].value : -1;
  auto key = std::make_tuple(t.data.get(), t.dtype, rows);
  auto it = layout.encodings.find(key);
  if (it == layout.encodings.end())
    it = layout.encodings.emplace(key, encode_constant(t, options.sparse_gaps, options.palette_weights, options.palette_huffman)).first;
  if (it->second.encoding == Encoding::kDense) return t.data->bytes;
  layout.encoded[index] = &it->second;
  layout.any_encoded = true;
  return it->second.bytes;
}

// Whether `consumer` reads `producer`'s one output as its first input, and nothing else
// reads it or sees it (a graph output). readers: per tensor, the nodes that read it plus one
// if it is a graph output.
bool sole_reader(const ir::Node& producer, const ir::Node& consumer, const std::vector<int32_t>& readers) {
  if (producer.outputs.size() != 1 || consumer.inputs.empty()) return false;
  const ir::TensorId t = producer.outputs[0];
  return consumer.inputs[0] == t && readers[static_cast<size_t>(t)] == 1;
}

// The Convs of a chain the runtime may run as one kernel (fuse_with_producer in
// runtime/op.h): a one-group Conv (pointwise, or a stem), the depthwise Conv that alone
// reads its output, and the pointwise Conv that alone reads that; then a residual Add.
enum class ChainConv { kOneGroup, kDepthwise, kPointwise };

bool conv_of_kind(const ir::Graph& g, const ir::Node& node, ChainConv kind) {
  if (node.op != ir::OpKind::kConv || node.inputs.size() < 2 || node.inputs[1] < 0) return false;
  const ir::Shape& w = g.tensor(node.inputs[1]).shape;
  if (w.rank() != 4) return false;
  const int64_t group = node.attrs.get_int("group", 1);
  switch (kind) {
    case ChainConv::kOneGroup: return group == 1;
    case ChainConv::kDepthwise: return w.dims[1].value == 1 && group == w.dims[0].value;
    case ChainConv::kPointwise: return group == 1 && w.dims[2].value == 1 && w.dims[3].value == 1;
  }
  return false;
}

// The other operand of `consumer` when it is an Add that alone reads `producer`'s one
// output (at either input) and nothing else sees that output (a graph output);
// ir::kNoTensor otherwise.
ir::TensorId add_operand_beside(const ir::Node& producer, const ir::Node& consumer,
                                const std::vector<int32_t>& readers) {
  if (consumer.op != ir::OpKind::kAdd || consumer.inputs.size() != 2 || producer.outputs.size() != 1) return ir::kNoTensor;
  const ir::TensorId t = producer.outputs[0];
  if (consumer.inputs[0] != t && consumer.inputs[1] != t) return ir::kNoTensor;
  const ir::TensorId other = consumer.inputs[0] == t ? consumer.inputs[1] : consumer.inputs[0];
  if (other < 0 || other == t || readers[static_cast<size_t>(t)] != 1) return ir::kNoTensor;
  return other;
}

// A residual connection the runtime may add in a conv's output tiles: an Add (as above) of
// the conv's output and a tensor of the same shape.
bool residual_add_of(const ir::Graph& g, const ir::Node& producer, const ir::Node& consumer,
                     const std::vector<int32_t>& readers) {
  const ir::TensorId other = add_operand_beside(producer, consumer, readers);
  return other >= 0 && g.tensor(other).shape == g.tensor(producer.outputs[0]).shape;
}

// A bias the runtime may add in a product's output tiles: an Add (as above) of the output of
// a MatMul or Gemm with a constant B and a constant.
bool bias_add_of(const ir::Graph& g, const ir::Node& producer, const ir::Node& consumer,
                 const std::vector<int32_t>& readers) {
  if ((producer.op != ir::OpKind::kMatMul && producer.op != ir::OpKind::kGemm) || producer.inputs.size() < 2 ||
      producer.inputs[1] < 0 || !g.tensor(producer.inputs[1]).is_constant())
    return false;
  const ir::TensorId other = add_operand_beside(producer, consumer, readers);
  return other >= 0 && g.tensor(other).is_constant();
}

// The last node of the chain that starts at order[first]; `first` when there is none. A
// one-group conv, alone or as the projection of a chain, takes the residual Add after it; a
// MatMul or Gemm, the Add of its bias.
size_t fusable_chain_end(const ir::Graph& g, const std::vector<ir::NodeId>& order, size_t first,
                         const std::vector<int32_t>& readers) {
  const ChainConv chain[3] = {ChainConv::kOneGroup, ChainConv::kDepthwise, ChainConv::kPointwise};
  if (first + 1 < order.size() && bias_add_of(g, g.node(order[first]), g.node(order[first + 1]), readers))
    return first + 1;
  size_t n = first;
  while (n + 1 < order.size() && n - first < 2) {
    const ir::Node& producer = g.node(order[n]);
    const ir::Node& consumer = g.node(order[n + 1]);
    if (!conv_of_kind(g, producer, chain[n - first]) || !conv_of_kind(g, consumer, chain[n + 1 - first]) ||
        !sole_reader(producer, consumer, readers))
      break;
    ++n;
  }
  if (n + 1 < order.size() && n - first != 1 && conv_of_kind(g, g.node(order[n]), ChainConv::kOneGroup) &&
      residual_add_of(g, g.node(order[n]), g.node(order[n + 1]), readers))
    ++n;
  return n;
}

// Lifetimes in node order (the loader derives the same ones to check the plan), then the
// memory plan and the weight placement. A chain the runtime may fuse keeps its first input
// live through the chain's last node, whose output the fused kernel writes while it still
// reads that input (a longer lifetime only adds constraints: the loader's check of the
// plan still holds).
Layout plan_layout(const ir::Graph& g, const std::vector<ir::NodeId>& order, const WriteOptions& options) {
  const size_t num_tensors = g.tensor_capacity();
  Layout layout;
  layout.arena_offset.assign(num_tensors, -1);
  layout.data_offset.assign(num_tensors, 0);

  std::vector<int32_t> first_use(num_tensors, INT32_MIN), last_use(num_tensors, -1);
  for (ir::TensorId in : g.inputs) first_use[static_cast<size_t>(in)] = -1;
  for (size_t n = 0; n < order.size(); ++n) {
    const ir::Node& node = g.node(order[n]);
    const int32_t step = static_cast<int32_t>(n);
    for (ir::TensorId in : node.inputs) {
      if (in < 0 || g.tensor(in).is_constant()) continue;
      if (first_use[static_cast<size_t>(in)] == INT32_MIN)
        throw Error(Status::kInvalidInput, "node " + q(node.name) + " (" + ir::op_name(node.op) +
                                               ") reads tensor " + q(g.tensor(in).name) +
                                               " before any node writes it");
      last_use[static_cast<size_t>(in)] = step;
    }
    for (ir::TensorId out : node.outputs) {
      if (out < 0) throw Error(Status::kInvalidInput, "node " + q(node.name) + " has an omitted output");
      if (g.tensor(out).is_constant() || first_use[static_cast<size_t>(out)] != INT32_MIN)
        throw Error(Status::kInvalidInput, "node " + q(node.name) + " writes tensor " +
                                               q(g.tensor(out).name) +
                                               ", which is a constant, a graph input or written twice");
      first_use[static_cast<size_t>(out)] = step;
    }
  }
  // Per tensor, its readers and one more for a graph output (which the caller reads).
  const ir::UseIndex uses(g);
  std::vector<int32_t> readers(num_tensors, 0);
  for (ir::NodeId id : order)
    for (ir::TensorId in : g.node(id).inputs)
      if (in >= 0) ++readers[static_cast<size_t>(in)];
  for (size_t t = 0; t < num_tensors; ++t)
    if (uses.is_graph_output(static_cast<ir::TensorId>(t))) ++readers[t];
  const auto keep_until = [&](size_t node, size_t last) {
    const ir::TensorId x = g.node(order[node]).inputs.empty() ? -1 : g.node(order[node]).inputs[0];
    if (x >= 0 && !g.tensor(x).is_constant())
      last_use[static_cast<size_t>(x)] = std::max(last_use[static_cast<size_t>(x)], static_cast<int32_t>(last));
  };
  for (size_t first = 0; first < order.size();) {
    const size_t last = fusable_chain_end(g, order, first, readers);
    if (last > first) keep_until(first, last);
    // The runtime may fuse only the projection and the Add (an expanded tensor too small
    // for the whole chain): the projection's input stays live through the Add too.
    if (last == first + 3) keep_until(first + 2, last);
    first = last + 1;
  }
  // The readers of a Reshape, Flatten, Squeeze or Unsqueeze may read its input in place
  // (keep_bytes_in_place in runtime/interpreter.cc): the input stays live as long as the
  // output. Last node first, so that a chain of them keeps the first input live to the end.
  for (size_t n = order.size(); n-- > 0;) {
    const ir::Node& node = g.node(order[n]);
    const bool keeps_bytes = node.op == ir::OpKind::kReshape || node.op == ir::OpKind::kFlatten ||
                             node.op == ir::OpKind::kSqueeze || node.op == ir::OpKind::kUnsqueeze;
    if (!keeps_bytes || node.outputs.size() != 1 || uses.is_graph_output(node.outputs[0])) continue;
    keep_until(n, static_cast<size_t>(std::max(last_use[static_cast<size_t>(node.outputs[0])], static_cast<int32_t>(n))));
  }

  std::vector<ir::TensorId> planned;
  std::vector<rt::BufferLifetime> lifetimes;
  for (size_t i = 0; i < num_tensors; ++i) {
    const ir::Tensor& t = g.tensor(static_cast<ir::TensorId>(i));
    if (t.is_constant()) continue;
    if (first_use[i] == INT32_MIN)
      throw Error(Status::kInvalidInput, "tensor " + q(t.name) +
                                             " is neither a constant, a graph input nor written by a node");
    rt::BufferLifetime lt;
    lt.bytes = static_cast<size_t>(t.shape.num_elements()) * ir::dtype_size(t.dtype);
    lt.first_use = first_use[i];
    lt.last_use = uses.is_graph_output(static_cast<ir::TensorId>(i)) ? INT32_MAX
                                                                   : std::max(first_use[i], last_use[i]);
    planned.push_back(static_cast<ir::TensorId>(i));
    lifetimes.push_back(lt);
  }
  const rt::MemoryPlan plan = rt::plan_memory(lifetimes);
  for (size_t k = 0; k < planned.size(); ++k)
    layout.arena_offset[static_cast<size_t>(planned[k])] = static_cast<int64_t>(plan.offsets[k]);
  layout.arena_bytes = plan.arena_bytes;

  // Tensors that share stored bytes (one ir::Buffer, or its one encoding) share
  // them in the file.
  layout.encoded.assign(num_tensors, nullptr);
  std::map<const std::vector<uint8_t>*, uint64_t> placed;
  size_t end = 0;
  for (size_t i = 0; i < num_tensors; ++i) {
    const ir::Tensor& t = g.tensor(static_cast<ir::TensorId>(i));
    if (!t.is_constant()) continue;
    const std::vector<uint8_t>& bytes = stored_bytes(t, layout, i, options);
    auto it = placed.find(&bytes);
    if (it == placed.end()) {
      // Small constants (scales, zero points, shapes) need no vector alignment: 16 bytes
      // keeps any element type aligned without 64-byte padding each.
      const size_t offset = align_up(end, bytes.size() < kWeightAlignment ? kSmallWeightAlignment
                                                                          : kWeightAlignment);
      end = offset + bytes.size();
      it = placed.emplace(&bytes, offset).first;
      layout.weight_blocks.push_back(&bytes);
      layout.weight_block_offsets.push_back(offset);
    }
    layout.data_offset[i] = it->second;
  }
  layout.weights_bytes = end;
  return layout;
}

fb::AttrType attr_type(const ir::AttrValue& v) {
  switch (v.index()) {
    case 0: return fb::AttrType::INT;
    case 1: return fb::AttrType::FLOAT;
    case 2: return fb::AttrType::STRING;
    case 3: return fb::AttrType::INTS;
    default: return fb::AttrType::FLOATS;
  }
}

// The model table with the given weight segment offset, size-prefixed.
flatbuffers::DetachedBuffer build_table(const ir::Graph& g, const std::vector<ir::NodeId>& order,
                                        const Layout& layout, const WriteOptions& options,
                                        uint64_t weights_offset) {
  flatbuffers::FlatBufferBuilder fbb(4096);
  std::vector<flatbuffers::Offset<fb::Tensor>> tensors;
  const ir::UseIndex uses(g);
  for (size_t i = 0; i < g.tensor_capacity(); ++i) {
    const ir::Tensor& t = g.tensor(static_cast<ir::TensorId>(i));
    const bool signature = uses.is_graph_input(static_cast<ir::TensorId>(i)) || uses.is_graph_output(static_cast<ir::TensorId>(i));
    auto name = fbb.CreateString(options.strip_tensor_names && !signature ? std::string() : t.name);
    auto shape = fbb.CreateVector(t.shape.sizes());
    flatbuffers::Offset<fb::Quantization> quant = 0;
    if (t.quant) {
      // All-zero zero points (symmetric weights, biases) are left out: absent means zeros.
      const auto& zp = t.quant->zero_points;
      const bool zeros = std::all_of(zp.begin(), zp.end(), [](int64_t z) { return z == 0; });
      quant = fb::CreateQuantization(fbb, fbb.CreateVector(t.quant->scales),
                                     zeros ? 0 : fbb.CreateVector(zp), t.quant->axis);
    }
    const bool constant = t.is_constant();
    const EncodedConstant* encoded = layout.encoded[i];
    const Encoding encoding = encoded ? encoded->encoding : Encoding::kDense;
    flatbuffers::Offset<fb::Sparse> sparse_table = 0;
    flatbuffers::Offset<fb::Palette> palette_table = 0;
    if (encoding == Encoding::kSparse) {
      const rt::SparseView& v = encoded->sparse;
      sparse_table = fb::CreateSparse(fbb, static_cast<fb::SparseFormat>(v.format), v.rows, v.cols,
                                      v.block_rows, v.entries, v.column_bytes, v.codes);
    } else if (encoding == Encoding::kPalette) {
      const rt::PaletteView& v = encoded->palette;
      palette_table = fb::CreatePalette(fbb, v.rows, v.cols, v.bits, v.entries, v.per_row,
                                        static_cast<fb::DType>(v.dtype), v.per_column,
                                        static_cast<fb::PaletteCoding>(v.coding), v.stream_bits);
    }
    const uint64_t data_size = encoded ? encoded->bytes.size() : constant ? t.data->bytes.size() : 0;
    tensors.push_back(fb::CreateTensor(fbb, name, static_cast<fb::DType>(t.dtype), shape, constant,
                                       constant ? layout.data_offset[i] : 0, data_size,
                                       layout.arena_offset[i], quant, static_cast<fb::Encoding>(encoding),
                                       sparse_table, palette_table));
  }
  auto tensors_vec = fbb.CreateVector(tensors);

  std::vector<flatbuffers::Offset<fb::Node>> nodes;
  for (ir::NodeId id : order) {
    const ir::Node& node = g.node(id);
    std::vector<flatbuffers::Offset<fb::Attribute>> attrs;
    for (const auto& [attr_name, value] : node.attrs.all()) {  // sorted by name
      auto name = fbb.CreateString(attr_name);
      flatbuffers::Offset<flatbuffers::String> s = 0;
      flatbuffers::Offset<flatbuffers::Vector<int64_t>> ints = 0;
      flatbuffers::Offset<flatbuffers::Vector<float>> floats = 0;
      int64_t i = 0;
      float f = 0.f;
      switch (value.index()) {
        case 0: i = std::get<int64_t>(value); break;
        case 1: f = std::get<float>(value); break;
        case 2: s = fbb.CreateString(std::get<std::string>(value)); break;
        case 3: ints = fbb.CreateVector(std::get<std::vector<int64_t>>(value)); break;
        default: floats = fbb.CreateVector(std::get<std::vector<float>>(value)); break;
      }
      attrs.push_back(fb::CreateAttribute(fbb, name, attr_type(value), i, f, s, ints, floats));
    }
    auto op = fbb.CreateString(ir::op_name(node.op));
    auto name = fbb.CreateString(node.name);
    auto inputs = fbb.CreateVector(node.inputs);
    auto outputs = fbb.CreateVector(node.outputs);
    auto attrs_vec = fbb.CreateVector(attrs);
    flatbuffers::Offset<flatbuffers::Vector<float>> params = 0;
    if (const size_t count = activation_param_count(node.activation.kind)) {
      const float values[] = {node.activation.p0, node.activation.p1};
      params = fbb.CreateVector(values, count);
    }
    nodes.push_back(fb::CreateNode(fbb, op, name, inputs, outputs, attrs_vec,
                                   static_cast<fb::Activation>(node.activation.kind), params));
  }
  auto nodes_vec = fbb.CreateVector(nodes);
  auto inputs_vec = fbb.CreateVector(g.inputs);
  auto outputs_vec = fbb.CreateVector(g.outputs);
  auto metadata = fb::CreateMetadata(
      fbb, fbb.CreateString("pare"), fbb.CreateString(options.producer_version),
      fbb.CreateString(options.pipeline), fbb.CreateString(options.source_file),
      fbb.CreateString(options.source_hash), fbb.CreateString(options.report_summary));
  uint32_t version = layout.any_encoded ? kEncodingSchemaVersion : kSchemaVersion;
  for (ir::NodeId id : g.nodes())
    if (g.node(id).activation.kind == ActivationKind::kSilu) version = std::max(version, kSiluSchemaVersion);
  // The content hash is written as zeros here and filled in once the whole file exists.
  const uint8_t zeros[rt::kContentHashBytes] = {};
  auto content_hash = fbb.CreateVector(zeros, rt::kContentHashBytes);
  auto model = fb::CreateModel(fbb, version, tensors_vec, nodes_vec, inputs_vec, outputs_vec,
                               layout.arena_bytes, weights_offset, layout.weights_bytes, metadata,
                               content_hash);
  fb::FinishSizePrefixedModelBuffer(fbb, model);
  return fbb.Release();
}

[[noreturn]] void throw_io(const std::string& what, const std::string& path, int err) {
  throw Error(Status::kInvalidInput, "cannot " + what + " " + q(path) + ": " + std::strerror(err));
}

}  // namespace

std::vector<uint8_t> serialize(const ir::Graph& graph, const WriteOptions& options) {
  ir::Graph g = graph;
  g.compact();
  check_writable(g);
  route_outputs_through_nodes(g);
  const std::vector<ir::NodeId> order = g.nodes();  // topological after compact(); copies come last
  const Layout layout = plan_layout(g, order, options);

  // The weight segment starts at the first 64-byte boundary after the table, whose size
  // depends on nothing but the field being present: build once with a guess (non-zero,
  // so the field is stored), then with the final value.
  uint64_t weights_offset = kWeightAlignment;
  flatbuffers::DetachedBuffer table;
  for (int attempt = 0;; ++attempt) {
    table = build_table(g, order, layout, options, weights_offset);
    const uint64_t needed = align_up(table.size(), kWeightAlignment);
    if (needed == weights_offset) break;
    if (attempt == 3) throw_internal("the .pare model table size does not settle");
    weights_offset = needed;
  }

  std::vector<uint8_t> file(weights_offset + layout.weights_bytes, 0);
  std::memcpy(file.data(), table.data(), table.size());
  for (size_t k = 0; k < layout.weight_blocks.size(); ++k) {
    const std::vector<uint8_t>& bytes = *layout.weight_blocks[k];
    if (!bytes.empty())
      std::memcpy(file.data() + weights_offset + layout.weight_block_offsets[k], bytes.data(),
                  bytes.size());
  }
  if (!options.content_hash) return file;
  // SHA-256 of the file with the hash field still zero, stored in that field.
  const auto* hash_field = fb::GetSizePrefixedModel(file.data())->content_sha256();
  const size_t hash_offset = static_cast<size_t>(hash_field->data() - file.data());
  rt::Sha256 sha;
  sha.update(file.data(), file.size());
  const std::array<uint8_t, 32> digest = sha.finish();
  std::memcpy(file.data() + hash_offset, digest.data(), digest.size());
  return file;
}

void write_file(const ir::Graph& graph, const std::string& path, const WriteOptions& options) {
  const std::vector<uint8_t> bytes = serialize(graph, options);
  write_file_atomic(path, bytes.data(), bytes.size());
}

void write_file_atomic(const std::string& path, const void* data, size_t size) {
  std::string tmp = path + ".tmp-XXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0) throw_io("create a temporary file for", path, errno);
  auto fail = [&](const char* what) {
    const int err = errno;
    close(fd);
    unlink(tmp.c_str());
    throw_io(what, path, err);
  };
  // mkstemp creates the file 0600; an output file gets the usual permissions.
  if (fchmod(fd, 0644) != 0) fail("set permissions of");
  const uint8_t* p = static_cast<const uint8_t*>(data);
  size_t left = size;
  while (left > 0) {
    const ssize_t n = write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) fail("flush");
  if (close(fd) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    throw_io("write", path, err);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    throw_io("write", path, err);
  }
}

std::string sha256_file(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io("open", path, errno);
  rt::Sha256 sha;
  std::vector<uint8_t> chunk(1 << 16);
  for (;;) {
    const ssize_t n = read(fd, chunk.data(), chunk.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      throw_io("read", path, err);
    }
    sha.update(chunk.data(), static_cast<size_t>(n));
  }
  close(fd);
  return rt::Sha256::hex(sha.finish());
}

}  // namespace pare::format
