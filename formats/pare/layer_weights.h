// How each weighted layer of a loaded .pare model stores its weight: encoding, palette,
// sparsity, bytes and MACs. `pare inspect` prints these rows; `pare check` puts the encoding
// and bytes next to each layer's error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/model.h"

namespace pare::format {

// A Conv, Gemm or MatMul with a constant weight (input 1): how it is stored and what it costs.
struct LayerWeights {
  std::string name, op, encoding;
  double sparsity = 0;  // fraction of weights that are zero
  uint64_t weights = 0, zeros = 0;
  uint64_t stored_bytes = 0, dense_bytes = 0;
  uint64_t macs = 0;            // dense
  uint64_t effective_macs = 0;  // macs x (1 - sparsity)
  // Palette weights: bits per index, one table per row, per column or for the tensor, the
  // entries' dtype, packed or entropy-coded indices and their average bits.
  int32_t palette_bits = 0, palette_entries = 0;
  std::string palette_kind, palette_dtype, palette_coding;
  double palette_bits_per_index = 0;
};

// e.g. "dense", "sparse_block4", "palette4_per_row_int8", "palette4_per_column_int8_huffman".
std::string encoding_name(const rt::TensorDesc& d);

// One row per weighted layer, in the model's node order.
std::vector<LayerWeights> layer_weights(const rt::Model& model);

// The sums over `rows` (name "total").
LayerWeights layer_totals(const std::vector<LayerWeights>& rows);

}  // namespace pare::format
