#include "formats/pare/layer_weights.h"

namespace pare::format {

namespace {

std::string palette_kind(const rt::PaletteView& v) {
  return v.per_row ? "per_row" : v.per_column ? "per_column" : "per_tensor";
}

bool huffman(const rt::PaletteView& v) { return v.coding == rt::PaletteCoding::kHuffman; }

// Weights equal to zero: 0.0f, or the zero point of their channel for int8/uint8.
uint64_t count_zeros(const rt::TensorDesc& d) {
  if (d.dtype != rt::DType::kFloat32 && d.dtype != rt::DType::kInt8 && d.dtype != rt::DType::kUInt8) return 0;
  std::vector<uint8_t> bytes(d.byte_size());
  rt::densify(d, bytes.data());
  const int64_t n = d.num_elements();
  uint64_t zeros = 0;
  if (d.dtype == rt::DType::kFloat32) {
    const auto* v = reinterpret_cast<const float*>(bytes.data());
    for (int64_t i = 0; i < n; ++i) zeros += v[i] == 0.f ? 1 : 0;
    return zeros;
  }
  const bool per_axis = d.quantized && d.quant.axis >= 0;
  int64_t inner = 1;
  if (per_axis)
    for (size_t k = static_cast<size_t>(d.quant.axis) + 1; k < d.shape.size(); ++k) inner *= d.shape[k];
  for (int64_t i = 0; i < n; ++i) {
    const int64_t value = d.dtype == rt::DType::kInt8 ? static_cast<int8_t>(bytes[i]) : bytes[i];
    int64_t zero_point = 0;
    if (d.quantized) zero_point = d.quant.zero_points[per_axis ? i / inner % d.shape[d.quant.axis] : 0];
    zeros += value == zero_point ? 1 : 0;
  }
  return zeros;
}

// Multiply-accumulates of one run: output elements x the weights each one reads.
uint64_t layer_macs(const rt::NodeDesc& n, const rt::TensorDesc& w, const rt::TensorDesc& out) {
  if (w.shape.empty()) return 0;
  int64_t per_output = 0;
  if (n.op == "Conv")
    per_output = w.shape[0] ? w.num_elements() / w.shape[0] : 0;
  else if (n.op == "Gemm")
    per_output = w.shape.size() == 2 ? w.shape[n.attrs.get_int("transB", 0) ? 1 : 0] : 0;
  else
    per_output = w.shape[w.shape.size() >= 2 ? w.shape.size() - 2 : 0];
  return static_cast<uint64_t>(out.num_elements() * per_output);
}

}  // namespace

std::string encoding_name(const rt::TensorDesc& d) {
  if (d.encoding == rt::Encoding::kPalette)
    return "palette" + std::to_string(d.palette.bits) + "_" + palette_kind(d.palette) + "_" +
           rt::dtype_name(d.palette.dtype) + (huffman(d.palette) ? "_huffman" : "");
  if (d.encoding != rt::Encoding::kSparse) return "dense";
  if (d.sparse.format == rt::SparseFormat::kTwoOfFour) return "sparse_2:4";
  if (d.sparse.format == rt::SparseFormat::kGaps) return "sparse_gaps";
  return d.sparse.block_rows == 1 ? "sparse" : "sparse_block" + std::to_string(d.sparse.block_rows);
}

std::vector<LayerWeights> layer_weights(const rt::Model& model) {
  std::vector<LayerWeights> rows;
  for (const rt::NodeDesc& n : model.nodes()) {
    if ((n.op != "Conv" && n.op != "Gemm" && n.op != "MatMul") || n.inputs.size() < 2 || n.inputs[1] < 0)
      continue;
    const rt::ModelTensor& w = model.tensors()[static_cast<size_t>(n.inputs[1])];
    if (!w.is_constant()) continue;
    LayerWeights row;
    row.name = n.name;
    row.op = n.op;
    row.encoding = encoding_name(w.desc);
    if (w.desc.encoding == rt::Encoding::kPalette) {
      row.palette_bits = w.desc.palette.bits;
      row.palette_entries = w.desc.palette.entries;
      const rt::PaletteView& p = w.desc.palette;
      row.palette_kind = palette_kind(p);
      row.palette_dtype = rt::dtype_name(p.dtype);
      row.palette_coding = huffman(p) ? "huffman" : "packed";
      row.palette_bits_per_index =
          huffman(p) ? static_cast<double>(p.stream_bits) / static_cast<double>(p.rows * p.cols) : p.bits;
    }
    row.weights = static_cast<uint64_t>(w.desc.num_elements());
    row.zeros = count_zeros(w.desc);
    row.sparsity = row.weights ? static_cast<double>(row.zeros) / row.weights : 0.0;
    row.stored_bytes = w.stored_bytes;
    row.dense_bytes = w.desc.byte_size();
    row.macs = layer_macs(n, w.desc, model.tensors()[static_cast<size_t>(n.outputs[0])].desc);
    row.effective_macs = static_cast<uint64_t>(static_cast<double>(row.macs) * (1.0 - row.sparsity) + 0.5);
    rows.push_back(std::move(row));
  }
  return rows;
}

LayerWeights layer_totals(const std::vector<LayerWeights>& rows) {
  LayerWeights t;
  t.name = "total";
  for (const LayerWeights& r : rows) {
    t.weights += r.weights;
    t.zeros += r.zeros;
    t.stored_bytes += r.stored_bytes;
    t.dense_bytes += r.dense_bytes;
    t.macs += r.macs;
    t.effective_macs += r.effective_macs;
  }
  t.sparsity = t.weights ? static_cast<double>(t.zeros) / t.weights : 0.0;
  return t;
}

}  // namespace pare::format
