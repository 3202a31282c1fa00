// The gap layout of sparse constants (SparseFormat::kGaps, docs/format.md): round trips of
// random matrices through writer -> loader -> densify and the spmm packing, the writer's
// choice, and a loader that rejects damaged gap metadata and codes without reading outside
// the file.
#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/pare/palette_encoding.h"
#include "formats/pare/sparse_encoding.h"
#include "formats/pare/writer.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"
#include "runtime/interpreter.h"
#include "runtime/kernels/spmm/spmm.h"
#include "runtime/model.h"
#include "runtime/palette.h"
#include "runtime/sparse.h"
#include "tests/support/graph_builder.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

using rt::Model;
using rt::Status;

// Raw bytes of a [rows, cols] matrix of float32 or int8 with about `sparsity` zero elements,
// the zeros in runs of random length up to `longest_run` (long runs need skip codes), and
// every third row empty when `empty_rows`.
std::vector<uint8_t> random_matrix(DType dtype, int64_t rows, int64_t cols, double sparsity,
                                   int64_t longest_run, bool empty_rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const size_t element = dtype_size(dtype);
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * cols) * element, 0);
  int64_t zeros_left = 0;
  for (int64_t p = 0; p < rows * cols; ++p) {
    if (empty_rows && (p / cols) % 3 == 1) continue;
    if (zeros_left > 0) {
      --zeros_left;
      continue;
    }
    if (u(rng) < sparsity) {
      zeros_left = static_cast<int64_t>(u(rng) * static_cast<double>(longest_run));
      continue;
    }
    if (dtype == DType::kFloat32) {
      // Now and then -0.0f, which is stored (its sign bit is set).
      const float v = rng() % 29 == 0 ? -0.f : static_cast<float>(u(rng) * 2.0 - 1.0) + 1e-3f;
      std::memcpy(&bytes[static_cast<size_t>(p) * 4], &v, 4);
    } else {
      bytes[static_cast<size_t>(p)] = static_cast<uint8_t>(1 + rng() % 255);
    }
  }
  return bytes;
}

// y = Add(x, w) for float32 w; y = DequantizeLinear(w, 0.5) for int8 w.
ir::Graph matrix_graph(const std::vector<uint8_t>& bytes, DType dtype, int64_t rows, int64_t cols) {
  test::GraphBuilder b;
  const ir::TensorId wid = ir::add_constant<uint8_t>(b.g, "w", dtype, {rows, cols}, {});
  b.g.tensor(wid).data = std::make_shared<const ir::Buffer>(ir::Buffer{bytes});
  ir::TensorId y;
  if (dtype == DType::kFloat32) {
    y = b.apply(ir::OpKind::kAdd, "add", {b.input("x", {rows, cols}), wid});
  } else {
    b.input("x", {1});
    y = b.apply(ir::OpKind::kDequantizeLinear, "dequant", {wid, b.floats("scale", {}, {0.5f})});
  }
  b.output(y);
  for (ir::NodeId n : b.g.nodes()) ir::infer_node(b.g, n);
  return b.g;
}

// No palettes: a sparse int8 matrix is often smaller as one with entropy-coded indices
// (palette_coding_test.cc).
format::WriteOptions options(bool gaps = true) {
  format::WriteOptions o;
  o.producer_version = "0.1.0";
  o.sparse_gaps = gaps;
  o.palette_weights = false;
  return o;
}

const rt::ModelTensor& weight(const Model& m) {
  for (const rt::ModelTensor& t : m.tensors())
    if (t.desc.name == "w") return t;
  ADD_FAILURE() << "no weight";
  return m.tensors()[0];
}

// Prepares the model and runs it once on fixed inputs: the first output's bytes, or the status.
rt::Result<std::vector<uint8_t>> run_once(std::shared_ptr<const Model> m) {
  auto created = rt::Interpreter::create(std::move(m));
  if (!created.is_ok()) return created.status();
  rt::Interpreter& it = *created.value();
  std::vector<float> x = test::random_floats(static_cast<size_t>(it.input(0).num_elements()), 5);
  std::memcpy(it.input_data(0), x.data(), it.input(0).byte_size());
  PARE_RT_RETURN_IF_ERROR(it.invoke());
  const auto* p = static_cast<const uint8_t*>(it.output_data(0));
  return std::vector<uint8_t>(p, p + it.output(0).byte_size());
}

// The view of an encoding, bound to its bytes and checked as the loader checks it.
rt::SparseView bound_view(const format::EncodedConstant& enc, DType dtype) {
  rt::SparseView v = enc.sparse;
  rt::bind_sparse_parts(&v, rt::sparse_parts(v, dtype_size(dtype)), enc.bytes.data());
  return v;
}

struct Case {
  int64_t rows, cols;
  double sparsity;
  int64_t longest_run;
  bool empty_rows;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {1, 37}, {3, 5}, {16, 64}, {7, 300}, {40, 129}})
    for (double sparsity : {0.0, 0.3, 0.5, 0.8, 0.9, 0.97, 1.0})
      for (int64_t run : {int64_t{1}, int64_t{40}})
        out.push_back({rows, cols, sparsity, run, (rows + cols) % 2 == 0});
  out.push_back({4, 5000, 0.999, 1, false});  // a few values, gaps of hundreds of columns
  out.push_back({9, 31, 0.6, 200, true});
  return out;
}

TEST(SparseGaps, RandomMatricesRoundTripThroughEncodingAndFile) {
  size_t stored_as_gaps = 0;
  uint32_t seed = 1;
  for (const Case& c : cases())
    for (DType dtype : {DType::kFloat32, DType::kInt8}) {
      SCOPED_TRACE(std::to_string(c.rows) + "x" + std::to_string(c.cols) + " sparsity " +
                   std::to_string(c.sparsity) + " run " + std::to_string(c.longest_run) + " " + dtype_name(dtype));
      const std::vector<uint8_t> bytes =
          random_matrix(dtype, c.rows, c.cols, c.sparsity, c.longest_run, c.empty_rows, seed++);
      // The encoding itself: checked like a file's, and densified to the same bytes.
      const format::EncodedConstant enc =
          format::encode_sparse(bytes, dtype, c.rows, c.cols, SparseFormat::kGaps, 1);
      const rt::SparseView v = bound_view(enc, dtype);
      std::string problem;
      ASSERT_TRUE(rt::check_sparse_indices(v, &problem)) << problem;
      std::vector<uint8_t> dense(bytes.size(), 0xAB);
      rt::kernels::spmm_densify(v, dtype_size(dtype), dense.data());
      EXPECT_EQ(dense, bytes);
      // The row and 4-row block layouts of the same matrix, sized from the same bit counts.
      for (int32_t block : {1, 4}) {
        if (c.rows % block != 0) continue;
        const format::EncodedConstant blocks =
            format::encode_sparse(bytes, dtype, c.rows, c.cols, SparseFormat::kBlockRows, block);
        const rt::SparseView bv = bound_view(blocks, dtype);
        ASSERT_TRUE(rt::check_sparse_indices(bv, &problem)) << problem;
        std::fill(dense.begin(), dense.end(), uint8_t{0xAB});
        rt::kernels::spmm_densify(bv, dtype_size(dtype), dense.data());
        EXPECT_EQ(dense, bytes) << "block rows " << block;
      }

      // Through the file: the stored tensor densifies to the source, the model runs as the
      // dense file does.
      const ir::Graph g = matrix_graph(bytes, dtype, c.rows, c.cols);
      const std::vector<uint8_t> file = format::serialize(g, options());
      auto sparse = Model::load_buffer(file.data(), file.size(), "gaps.pare");
      ASSERT_TRUE(sparse.is_ok()) << sparse.status().message();
      format::WriteOptions dense_options = options();
      dense_options.sparse_weights = false;
      const std::vector<uint8_t> dense_file = format::serialize(g, dense_options);
      auto plain = Model::load_buffer(dense_file.data(), dense_file.size(), "dense.pare");
      ASSERT_TRUE(plain.is_ok());
      const rt::ModelTensor& t = weight(*sparse.value());
      std::vector<uint8_t> back(bytes.size());
      rt::densify(t.desc, back.data());
      EXPECT_EQ(back, bytes);
      stored_as_gaps += t.desc.encoding == Encoding::kSparse && t.desc.sparse.format == SparseFormat::kGaps;
      auto a = run_once(sparse.value()), b = run_once(plain.value());
      ASSERT_TRUE(a.is_ok()) << a.status().message();
      ASSERT_TRUE(b.is_ok());
      EXPECT_EQ(a.value(), b.value());
    }
  EXPECT_GT(stored_as_gaps, cases().size());  // most of the sparse cases, both dtypes
}

TEST(SparseGaps, WriterStoresTheSmallestLayoutAndPassesReportItsSize) {
  uint32_t seed = 100;
  for (const Case& c : cases())
    for (DType dtype : {DType::kFloat32, DType::kInt8}) {
      const std::vector<uint8_t> bytes =
          random_matrix(dtype, c.rows, c.cols, c.sparsity, c.longest_run, c.empty_rows, seed++);
      uint64_t best = bytes.size();
      SparseFormat best_format = SparseFormat::kBlockRows;
      auto consider = [&](SparseFormat f, int32_t block_rows) {
        const uint64_t size = format::encode_sparse(bytes, dtype, c.rows, c.cols, f, block_rows).bytes.size();
        if (size < best) best = size, best_format = f;
      };
      consider(SparseFormat::kBlockRows, 1);
      if (c.rows % 4 == 0) consider(SparseFormat::kBlockRows, 4);
      consider(SparseFormat::kGaps, 1);
      const ir::Graph g = matrix_graph(bytes, dtype, c.rows, c.cols);
      const std::vector<uint8_t> file = format::serialize(g, options());
      auto m = Model::load_buffer(file.data(), file.size(), "gaps.pare");
      ASSERT_TRUE(m.is_ok()) << m.status().message();
      const rt::ModelTensor& t = weight(*m.value());
      EXPECT_EQ(t.stored_bytes, best);
      EXPECT_EQ(t.desc.encoding == Encoding::kSparse, best < bytes.size());
      if (best < bytes.size()) {
        EXPECT_EQ(t.desc.sparse.format, best_format);
      }
      // What the prune passes report: the bytes the default writer stores, a packed palette
      // when strictly smaller, coded indices when smaller than that or, with no packed
      // palette, by a fifth (docs/format.md).
      uint64_t stored = best, coded_limit = best - best / 5;
      if (auto p = format::palette_layout(bytes.data(), dtype, c.rows, c.cols, best, 0))
        stored = coded_limit = rt::palette_parts(*p, dtype_size(dtype)).total;
      if (auto p = format::palette_layout(bytes.data(), dtype, c.rows, c.cols, coded_limit, coded_limit))
        stored = rt::palette_parts(*p, dtype_size(dtype)).total;
      for (size_t i = 0; i < g.tensor_capacity(); ++i) {
        const ir::Tensor& w = g.tensor(static_cast<ir::TensorId>(i));
        if (w.name != "w") continue;
        EXPECT_EQ(format::stored_bytes(w), stored);
      }
    }
}

TEST(SparseGaps, GapsBeatSixteenBitColumnsAtEightyPercent) {
  // Int8 at 80%: about 1 + 0.5 bytes per value instead of 1 + 2.
  const std::vector<uint8_t> bytes = random_matrix(DType::kInt8, 256, 784, 0.8, 1, false, 3);
  const uint64_t gaps = format::encode_sparse(bytes, DType::kInt8, 256, 784, SparseFormat::kGaps, 1).bytes.size();
  const uint64_t csr = format::encode_sparse(bytes, DType::kInt8, 256, 784, SparseFormat::kBlockRows, 1).bytes.size();
  const double values = 256 * 784 * 0.2;
  EXPECT_LT(static_cast<double>(gaps), values * 1.6);
  EXPECT_GT(static_cast<double>(csr), values * 2.9);
}

void expect_same_packing(const rt::kernels::F32SpmmPacked& a, const rt::kernels::F32SpmmPacked& b) {
  EXPECT_EQ(a.n, b.n);
  EXPECT_EQ(a.k, b.k);
  EXPECT_EQ(a.block_rows, b.block_rows);
  EXPECT_EQ(a.bias, b.bias);
  EXPECT_EQ(a.block_starts, b.block_starts);
  EXPECT_EQ(a.offsets, b.offsets);
  EXPECT_EQ(a.values, b.values);
}

TEST(SparseGaps, SpmmPackingMatchesTheRowLayout) {
  for (const Case& c : cases()) {
    if (c.sparsity == 1.0) continue;
    const std::vector<uint8_t> bytes = random_matrix(DType::kFloat32, c.rows, c.cols, c.sparsity, c.longest_run,
                                                     c.empty_rows, 7);
    const format::EncodedConstant gaps =
        format::encode_sparse(bytes, DType::kFloat32, c.rows, c.cols, SparseFormat::kGaps, 1);
    const format::EncodedConstant rows =
        format::encode_sparse(bytes, DType::kFloat32, c.rows, c.cols, SparseFormat::kBlockRows, 1);
    const rt::SparseView g = bound_view(gaps, DType::kFloat32), r = bound_view(rows, DType::kFloat32);
    EXPECT_EQ(rt::kernels::f32_spmm_sparsity(g), rt::kernels::f32_spmm_sparsity(r));
    std::vector<float> bias = test::random_floats(static_cast<size_t>(std::max(c.rows, c.cols)), 9);
    for (bool transposed : {false, true}) {
      // Random rows do not come in 4s with the same columns: one row per block.
      expect_same_packing(rt::kernels::f32_spmm_pack(g, transposed, bias.data(), 0.5f, 8),
                          rt::kernels::f32_spmm_pack(r, transposed, bias.data(), 0.5f, 8));
    }
  }
}

TEST(SparseGaps, SpmmPackingKeepsBlocksOfFourRows) {
  // 12 x 50 with each block of 4 rows keeping its own 20% of the columns (one block none).
  const int64_t rows = 12, cols = 50;
  std::vector<float> w(rows * cols, 0.f);
  std::mt19937 rng(4);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t c = 0; c < cols; ++c)
      if (rng() % 5 == 0)
        for (int64_t r = 4 * b; r < 4 * b + 4; ++r)
          w[static_cast<size_t>(r * cols + c)] = 0.25f + static_cast<float>(r + c);
  std::vector<uint8_t> bytes(w.size() * 4);
  std::memcpy(bytes.data(), w.data(), bytes.size());
  const std::vector<float> bias = test::random_floats(cols, 1);  // enough for W and W^T
  auto pack = [&](const std::vector<uint8_t>& m, SparseFormat f, int32_t block_rows, bool transposed) {
    const format::EncodedConstant enc = format::encode_sparse(m, DType::kFloat32, rows, cols, f, block_rows);
    return rt::kernels::f32_spmm_pack(bound_view(enc, DType::kFloat32), transposed, bias.data(), 2.f, 16);
  };
  const auto grouped = pack(bytes, SparseFormat::kGaps, 1, false);
  EXPECT_EQ(grouped.block_rows, 4u);
  expect_same_packing(grouped, pack(bytes, SparseFormat::kBlockRows, 4, false));
  // Transposed, or one element more in one row: one row per block.
  expect_same_packing(pack(bytes, SparseFormat::kGaps, 1, true), pack(bytes, SparseFormat::kBlockRows, 1, true));
  std::vector<uint8_t> ragged = bytes;
  const float flipped = w[5 * cols + 7] == 0.f ? 3.f : 0.f;  // row 5 differs from rows 4, 6, 7
  std::memcpy(&ragged[static_cast<size_t>(5 * cols + 7) * 4], &flipped, 4);
  const auto one_row = pack(ragged, SparseFormat::kGaps, 1, false);
  EXPECT_EQ(one_row.block_rows, 1u);
  expect_same_packing(one_row, pack(ragged, SparseFormat::kBlockRows, 1, false));
}

// ---- damaged gap metadata and codes ------------------------------------------------------

// Field ids of the schema (4 + 2 * field index).
enum : flatbuffers::voffset_t { kModelTensors = 6, kModelWeightsOffset = 16 };
enum : flatbuffers::voffset_t { kTensorDataOffset = 12, kTensorDataSize = 14, kTensorSparse = 22 };
enum : flatbuffers::voffset_t {
  kSparseFormat = 4, kSparseBlockRows = 10, kSparseEntries = 12, kSparseColumnBytes = 14, kSparseCodes = 16
};

// A file whose weight (int8 or float32 [24, 50], 85% zeros in runs up to 40, the last
// element nonzero) is stored as gaps, and where its parts lie in the file.
struct GapsFile {
  std::vector<uint8_t> bytes;
  size_t tensor_index = 0;
  rt::SparseView view;  // metadata only
  rt::SparseParts parts;
  uint64_t data_offset = 0;  // absolute
};

flatbuffers::Table* tensor_table(std::vector<uint8_t>& bytes, size_t i) {
  auto* root = flatbuffers::GetMutableRoot<flatbuffers::Table>(bytes.data() + 4);
  using Vec = flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>;
  return root->GetPointer<Vec*>(kModelTensors)->GetMutableObject(static_cast<flatbuffers::uoffset_t>(i));
}

flatbuffers::Table* sparse_table(std::vector<uint8_t>& bytes, size_t i) {
  return tensor_table(bytes, i)->GetPointer<flatbuffers::Table*>(kTensorSparse);
}

void make_gaps_file(GapsFile* out, DType dtype) {
  GapsFile& f = *out;
  std::vector<uint8_t> w = random_matrix(dtype, 24, 50, 0.85, 40, true, 11);
  w[w.size() - 1] = 0x3f;  // the top byte of a float32, or an int8: nonzero either way
  f.bytes = format::serialize(matrix_graph(w, dtype, 24, 50), options());
  auto m = Model::load_buffer(f.bytes.data(), f.bytes.size(), "ok.pare");
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  for (size_t i = 0; i < m.value()->tensors().size(); ++i)
    if (m.value()->tensors()[i].desc.name == "w") f.tensor_index = i;
  const rt::TensorDesc& d = m.value()->tensors()[f.tensor_index].desc;
  ASSERT_EQ(d.sparse.format, SparseFormat::kGaps);
  f.view = d.sparse;
  f.parts = rt::sparse_parts(d.sparse, dtype_size(dtype));
  auto* root = flatbuffers::GetMutableRoot<flatbuffers::Table>(f.bytes.data() + 4);
  f.data_offset = root->GetField<uint64_t>(kModelWeightsOffset, 0) +
                  tensor_table(f.bytes, f.tensor_index)->GetField<uint64_t>(kTensorDataOffset, 0);
  EXPECT_EQ(std::memcmp(f.bytes.data() + f.data_offset + f.parts.gaps, d.sparse.gaps, f.parts.gaps_bytes), 0);
}

// A damaged file either fails to load with a message naming the file and the tensor, or
// loads and then prepares and runs once. Returns whether it loaded.
bool check_damaged(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  auto r = Model::load_buffer(bytes.data(), bytes.size(), "damaged.pare");
  if (!r.is_ok()) {
    const Status::Code code = r.status().code();
    EXPECT_TRUE(code == Status::kBadFile || code == Status::kBadModel) << r.status().message();
    EXPECT_NE(r.status().message().find("damaged.pare"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
    return false;
  }
  auto ran = run_once(r.value());
  EXPECT_TRUE(ran.is_ok()) << ran.status().message();
  return true;
}

void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  EXPECT_FALSE(check_damaged(bytes, fragment)) << "loaded although damaged: " << fragment;
}

template <typename T>
std::vector<uint8_t> with_field(const GapsFile& f, flatbuffers::voffset_t field, T value) {
  std::vector<uint8_t> b = f.bytes;
  flatbuffers::Table* s = sparse_table(b, f.tensor_index);
  EXPECT_TRUE(s->CheckField(field)) << field;
  EXPECT_TRUE(s->SetField<T>(field, value, T{}));
  return b;
}

// A view of rows x cols over hand-written codes, for the checks of their contents.
struct HandView {
  std::vector<uint8_t> gaps;
  std::vector<float> values;
  rt::SparseView view;
};

HandView hand_view(int64_t rows, int64_t cols, int64_t entries, const std::vector<uint8_t>& codes) {
  HandView h;
  h.gaps.assign((codes.size() + 1) / 2, 0);
  for (size_t i = 0; i < codes.size(); ++i) h.gaps[i / 2] |= static_cast<uint8_t>(codes[i] << (i % 2 * 4));
  h.values.assign(static_cast<size_t>(entries), 1.f);
  h.view.format = SparseFormat::kGaps;
  h.view.rows = rows;
  h.view.cols = cols;
  h.view.block_rows = 1;
  h.view.column_bytes = 0;
  h.view.entries = entries;
  h.view.codes = static_cast<int64_t>(codes.size());
  h.view.gaps = h.gaps.data();
  h.view.values = h.values.data();
  return h;
}

std::string problem_of(const HandView& h) {
  std::string problem;
  return rt::check_sparse_indices(h.view, &problem) ? "ok" : problem;
}

TEST(SparseGaps, CodeContentsAreChecked) {
  // 2 x 8: codes 0, 3, 2 place values at 0, 4 and 7; a skip and a 1 place one at 16.
  EXPECT_EQ(problem_of(hand_view(2, 8, 3, {0, 3, 2})), "ok");
  EXPECT_EQ(problem_of(hand_view(2, 8, 1, {15, 0})), "ok");  // position 15, the last
  EXPECT_EQ(problem_of(hand_view(2, 8, 0, {})), "ok");
  EXPECT_NE(problem_of(hand_view(2, 8, 1, {15, 1})).find("past the last"), std::string::npos);
  EXPECT_NE(problem_of(hand_view(2, 8, 3, {0, 3, 14})).find("past the last"), std::string::npos);
  EXPECT_NE(problem_of(hand_view(2, 8, 4, {0, 3, 2})).find("hold 3 values, not the 4"), std::string::npos);
  EXPECT_NE(problem_of(hand_view(2, 8, 2, {0, 3, 2})).find("hold 3 values, not the 2"), std::string::npos);
  EXPECT_NE(problem_of(hand_view(2, 8, 3, {0, 3, 2, 15})).find("end with a skip"), std::string::npos);
  EXPECT_NE(problem_of(hand_view(2, 8, 0, {15})).find("end with a skip"), std::string::npos);
  HandView padded = hand_view(2, 8, 3, {0, 3, 2});
  padded.gaps[1] |= 0x70;
  EXPECT_NE(problem_of(padded).find("high nibble"), std::string::npos);
}

TEST(SparseGaps, DamagedMetadataIsRejected) {
  for (DType dtype : {DType::kFloat32, DType::kInt8}) {
    SCOPED_TRACE(dtype_name(dtype));
    GapsFile f;
    ASSERT_NO_FATAL_FAILURE(make_gaps_file(&f, dtype));
    const int64_t entries = f.view.entries, codes = f.view.codes;
    ASSERT_GT(codes, entries);  // the runs of up to 40 zeros need skip codes
    // Too many or too few values for the codes (the data size no longer matches either).
    for (int64_t delta : {-1, 1})
      expect_rejected(with_field<int64_t>(f, kSparseEntries, entries + delta), "'w'");
    for (int64_t bad : {int64_t{-1}, int64_t{1} << 40})
      expect_rejected(with_field<int64_t>(f, kSparseEntries, bad), "sparse values");
    // A code count outside what the values and elements allow, or not the stored bytes.
    for (int64_t bad : {entries - 1, int64_t{-2}, int64_t{1} << 40})
      expect_rejected(with_field<int64_t>(f, kSparseCodes, bad), "gap codes");
    expect_rejected(with_field<int64_t>(f, kSparseCodes, codes + 2), "bytes but its sparse metadata needs");
    // One code fewer: the last value is lost (or, for an odd count, the data size is off).
    expect_rejected(with_field<int64_t>(f, kSparseCodes, codes - 1), "'w'");
    {  // a truncated code stream: the data size one byte short
      std::vector<uint8_t> b = f.bytes;
      flatbuffers::Table* t = tensor_table(b, f.tensor_index);
      ASSERT_TRUE(t->SetField<uint64_t>(kTensorDataSize, t->GetField<uint64_t>(kTensorDataSize, 0) - 1, 0));
      expect_rejected(b, "'w'");
    }
    // A block layout's format on gap metadata.
    expect_rejected(with_field<int32_t>(f, kSparseFormat, 0), "sets gap codes");
    expect_rejected(with_field<int32_t>(f, kSparseFormat, 1), "sets gap codes");
    // One more zero before a value pushes the last value (the last element) out.
    std::vector<uint8_t> b = f.bytes;
    const uint64_t gaps = f.data_offset + f.parts.gaps;
    int64_t i = 0;
    while (i < codes && (b[gaps + i / 2] >> (i % 2 * 4) & 15) >= 14) ++i;
    ASSERT_LT(i, codes);
    b[gaps + i / 2] = static_cast<uint8_t>(b[gaps + i / 2] + (1 << (i % 2 * 4)));
    expect_rejected(b, "past the last");
  }
}

TEST(SparseGaps, MutatedCodeStreamsAreRejectedOrLoadAndRun) {
  size_t loaded = 0, rejected = 0;
  for (DType dtype : {DType::kFloat32, DType::kInt8}) {
    GapsFile f;
    ASSERT_NO_FATAL_FAILURE(make_gaps_file(&f, dtype));
    const uint64_t gaps = f.data_offset + f.parts.gaps;
    // Every byte of the code stream set to a few values (one code or both changed).
    for (uint64_t i = 0; i < f.parts.gaps_bytes; ++i)
      for (uint8_t value : {uint8_t{0x00}, uint8_t{0xff}, uint8_t{0x0f}, uint8_t{0xf0}, uint8_t{0xee},
                            static_cast<uint8_t>(f.bytes[gaps + i] ^ 0x11)}) {
        if (value == f.bytes[gaps + i]) continue;
        std::vector<uint8_t> b = f.bytes;
        b[gaps + i] = value;
        (check_damaged(b, "'w'") ? loaded : rejected) += 1;
      }
    // Random damage anywhere in the tensor's data range, values included.
    std::mt19937 rng(3);
    std::uniform_int_distribution<uint64_t> in_data(f.data_offset, f.data_offset + f.parts.total - 1);
    for (int iter = 0; iter < 300; ++iter) {
      std::vector<uint8_t> b = f.bytes;
      for (int e = 0; e < 1 + iter % 3; ++e) b[in_data(rng)] = static_cast<uint8_t>(rng());
      (check_damaged(b, "damaged.pare") ? loaded : rejected) += 1;
    }
    // Truncated files.
    for (size_t len = f.data_offset; len < f.bytes.size(); len += 5) {
      std::vector<uint8_t> cut(f.bytes.begin(), f.bytes.begin() + static_cast<std::ptrdiff_t>(len));
      expect_rejected(cut, "damaged.pare");
    }
  }
  EXPECT_GT(loaded, 0u);
  EXPECT_GT(rejected, 100u);
}

TEST(SparseGaps, InspectNamesTheLayoutAndTheCliRejectsDamage) {
  // y = x [2, 24] MatMul w [24, 50], w stored as gaps.
  test::GraphBuilder b;
  const std::vector<uint8_t> bytes = random_matrix(DType::kFloat32, 24, 50, 0.85, 40, true, 11);
  const ir::TensorId w = ir::add_constant<uint8_t>(b.g, "w", DType::kFloat32, {24, 50}, {});
  b.g.tensor(w).data = std::make_shared<const ir::Buffer>(ir::Buffer{bytes});
  b.output(b.apply(ir::OpKind::kMatMul, "fc", {b.input("x", {2, 24}), w}));
  for (ir::NodeId n : b.g.nodes()) ir::infer_node(b.g, n);
  std::vector<uint8_t> file = format::serialize(b.g, options());
  auto m = Model::load_buffer(file.data(), file.size(), "fc.pare");
  ASSERT_TRUE(m.is_ok()) << m.status().message();
  const rt::ModelTensor& t = weight(*m.value());
  ASSERT_EQ(t.desc.sparse.format, SparseFormat::kGaps);

  test::TempDir dir;
  const std::string good = dir.file("good.pare"), bad = dir.file("bad.pare");
  test::write_file(good, std::string(file.begin(), file.end()));
  const test::CommandResult r = test::run_pare({"inspect", good, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["layers"].size(), 1u);
  EXPECT_EQ(j["layers"][0]["encoding"], "sparse_gaps");
  EXPECT_EQ(j["layers"][0]["stored_bytes"], t.stored_bytes);

  size_t index = 0;
  while (m.value()->tensors()[index].desc.name != "w") ++index;
  flatbuffers::Table* s = sparse_table(file, index);
  ASSERT_TRUE(s->SetField<int64_t>(kSparseEntries, s->GetField<int64_t>(kSparseEntries, 0) + 1, 0));
  test::write_file(bad, std::string(file.begin(), file.end()));
  const test::CommandResult e = test::run_pare({"inspect", bad});
  EXPECT_EQ(e.exit_code, 2) << e.err;
  EXPECT_NE(e.err.find("bad.pare"), std::string::npos) << e.err;
  EXPECT_NE(e.err.find("'w'"), std::string::npos) << e.err;
}

}  // namespace
}  // namespace pare
