// Writes an ir::Graph as a .pare file: the size-prefixed flatbuffer, then the weights in
// one 64-byte-aligned segment, plus the memory plan (runtime/memory_planner), the
// signature, per-node source names and metadata. Output is deterministic: the same
// graph and options give the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pare::format {

// The writer stamps the lowest version a file needs: 1 unless a constant is stored sparse or
// as a palette (both came with version 2) or a node carries a Silu activation (version 3).
constexpr uint32_t kSchemaVersion = 1;
constexpr uint32_t kEncodingSchemaVersion = 2;
constexpr uint32_t kSiluSchemaVersion = 3;

struct WriteOptions {
  std::string producer_version;  // e.g. "0.1.0"
  std::string pipeline;          // the pass pipeline that produced the graph
  std::string source_file;       // base name of the source model
  std::string source_hash;       // SHA-256 (hex) of the source model file
  std::string report_summary;
  // Leave out the names of tensors other than the graph's inputs and outputs (node names,
  // which profiles and reports use, stay): a few percent of a small int8 model's file.
  bool strip_tensor_names = false;
  // Store weights sparse or as a palette where that is smaller (docs/format.md); false
  // writes every constant dense (a schema version 1 file), e.g. to compare the two.
  bool sparse_weights = true;
  // Consider the gap layout (SparseFormat::kGaps); false keeps to the block and 2:4 layouts,
  // e.g. to compare sizes or to test those layouts.
  bool sparse_gaps = true;
  // Consider palettes (Encoding::kPalette); false keeps to dense and sparse.
  bool palette_weights = true;
  // Consider entropy-coded palette indices (PaletteCoding::kHuffman); false keeps to packed
  // indices, e.g. to compare sizes.
  bool palette_huffman = true;
  // Store the SHA-256 of the file in its header (pare verify, verify_content_hash); false
  // leaves the field zero, for bytes loaded straight back in memory (the passes' runners).
  bool content_hash = true;
};

// Serialises the graph (it must be verified, static-shaped and in topological order
// after Graph::compact()). Throws pare::Error on graphs it cannot write.
std::vector<uint8_t> serialize(const ir::Graph& graph, const WriteOptions& options);

// serialize() then write to `path` through a temporary file in the same folder and a
// rename, so a failure never leaves a partial file.
void write_file(const ir::Graph& graph, const std::string& path, const WriteOptions& options);

// Atomic write of raw bytes (temporary file + rename); used for every output file.
void write_file_atomic(const std::string& path, const void* data, size_t size);

// Hex SHA-256 of a file's bytes (for WriteOptions::source_hash).
std::string sha256_file(const std::string& path);

}  // namespace pare::format
