// Sparse weights in .pare files: the writer's choice of encoding, round trips through
// writer -> loader -> interpreter (bit for bit against the dense file), the reader's dense
// copies, and a loader that rejects every damaged piece of sparse metadata.
#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "calibration/npy.h"
#include "formats/onnx/importer.h"
#include "formats/pare/reader.h"
#include "formats/pare/sparse_encoding.h"
#include "formats/pare/writer.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"
#include "passes/pass.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "runtime/sparse.h"
#include "tests/support/graph_builder.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

using rt::Model;
using rt::Status;

enum class Pattern { kNone, kUnstructured, kBlock4, kTwoOfFour };

// Zeroes a [rows, cols] float matrix in place: about 80% unstructured, 80% in blocks of 4
// rows sharing their zero columns, or 2 of every 4 consecutive columns.
void prune(std::vector<float>* w, int64_t rows, int64_t cols, Pattern pattern, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      bool zero = false;
      if (pattern == Pattern::kUnstructured) zero = u(rng) < 0.8f;
      if (pattern == Pattern::kBlock4) zero = ((r / 4) * 7 + c * 3) % 5 != 0;
      if (pattern == Pattern::kTwoOfFour) zero = (c + r) % 4 < 2 || (c % 8 == 7 && r % 3 == 0);
      if (zero) (*w)[static_cast<size_t>(r * cols + c)] = 0.f;
    }
}

// x[1,4,6,6] -> Conv 3x3 (w [8,4,3,3], rows 8 x cols 36) -> Flatten -> MatMul (m [288,16])
// -> Add (a [1,16]) -> y, plus an int8 weight q [16,64] through DequantizeLinear -> MatMul.
ir::Graph pruned_graph(Pattern pattern) {
  test::GraphBuilder b;
  const ir::TensorId x = b.input("x", {1, 4, 6, 6});
  std::vector<float> w = test::random_floats(8 * 36, 11);
  std::vector<float> m = test::random_floats(288 * 16, 12);
  prune(&w, 8, 36, pattern, 1);
  prune(&m, 288, 16, pattern, 2);
  const ir::TensorId conv = b.apply(
      ir::OpKind::kConv, "conv", {x, b.floats("w", {8, 4, 3, 3}, w), b.random("wb", {8})},
      test::make_attrs({{"pads", std::vector<int64_t>{1, 1, 1, 1}}}));
  const ir::TensorId flat = b.apply(ir::OpKind::kFlatten, "flatten", {conv});
  const ir::TensorId mm = b.apply(ir::OpKind::kMatMul, "fc", {flat, b.floats("m", {288, 16}, m)});
  const ir::TensorId y = b.apply(ir::OpKind::kAdd, "add", {mm, b.random("a", {1, 16})});

  std::vector<float> qf(16 * 64);
  for (size_t i = 0; i < qf.size(); ++i) qf[i] = static_cast<float>(static_cast<int>(i * 37 % 255) - 127);
  prune(&qf, 16, 64, pattern, 3);
  std::vector<int8_t> q(qf.begin(), qf.end());
  const ir::TensorId qi = ir::add_constant<int8_t>(b.g, "q", DType::kInt8, {16, 64}, q);
  const ir::TensorId scale = b.floats("q_scale", {}, {0.05f});
  const ir::TensorId deq = b.apply(ir::OpKind::kDequantizeLinear, "dequant", {qi, scale});
  const ir::TensorId x2 = b.input("x2", {3, 16});
  const ir::TensorId y2 = b.apply(ir::OpKind::kMatMul, "fc2", {x2, deq});
  b.output(y);
  b.output(y2);
  for (ir::NodeId n : b.g.nodes()) ir::infer_node(b.g, n);
  return b.g;
}

// Without `gaps` the writer keeps to the block and 2:4 layouts, which most tests here are
// about (sparse_gaps_test.cc covers the gap layout on its own). No palettes: a pruned int8
// weight is often smaller as one with entropy-coded indices (palette_coding_test.cc).
format::WriteOptions write_options(bool sparse = true, bool gaps = false) {
  format::WriteOptions o;
  o.producer_version = "0.1.0";
  o.sparse_weights = sparse;
  o.sparse_gaps = gaps;
  o.palette_weights = false;
  return o;
}

std::shared_ptr<const Model> load(const std::vector<uint8_t>& bytes, const std::string& name = "sparse.pare") {
  auto r = Model::load_buffer(bytes.data(), bytes.size(), name);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? r.value() : nullptr;
}

const rt::ModelTensor& tensor(const Model& m, const std::string& name) {
  for (const rt::ModelTensor& t : m.tensors())
    if (t.desc.name == name) return t;
  ADD_FAILURE() << "no tensor " << name;
  return m.tensors()[0];
}

// Prepares the model and runs it once on fixed inputs; the outputs' bytes, or a failed status.
rt::Result<std::vector<std::vector<uint8_t>>> run_once(std::shared_ptr<const Model> m, int threads = 1) {
  rt::InterpreterOptions opts;
  opts.threads = threads;
  auto created = rt::Interpreter::create(std::move(m), opts);
  if (!created.is_ok()) return created.status();
  rt::Interpreter& it = *created.value();
  for (size_t i = 0; i < it.num_inputs(); ++i) {
    std::vector<float> x = test::random_floats(static_cast<size_t>(it.input(i).num_elements()), 40 + i);
    std::memcpy(it.input_data(i), x.data(), it.input(i).byte_size());
  }
  PARE_RT_RETURN_IF_ERROR(it.invoke());
  std::vector<std::vector<uint8_t>> outs;
  for (size_t o = 0; o < it.num_outputs(); ++o) {
    const auto* p = static_cast<const uint8_t*>(it.output_data(o));
    outs.emplace_back(p, p + it.output(o).byte_size());
  }
  return outs;
}

struct Expected {
  Pattern pattern;
  SparseFormat format;
  int32_t block_rows;
};

TEST(SparseFormat, EachPatternIsStoredSparseAndRunsBitForBitAsDense) {
  // With the gap layout, every pattern of these (random) weights is smallest as gaps.
  for (const Expected& e : {Expected{Pattern::kUnstructured, SparseFormat::kBlockRows, 1},
                            Expected{Pattern::kBlock4, SparseFormat::kBlockRows, 4},
                            Expected{Pattern::kTwoOfFour, SparseFormat::kTwoOfFour, 1},
                            Expected{Pattern::kUnstructured, SparseFormat::kGaps, 1},
                            Expected{Pattern::kBlock4, SparseFormat::kGaps, 1},
                            Expected{Pattern::kTwoOfFour, SparseFormat::kGaps, 1}}) {
    SCOPED_TRACE(static_cast<int>(e.pattern));
    const ir::Graph g = pruned_graph(e.pattern);
    auto sparse = load(format::serialize(g, write_options(true, e.format == SparseFormat::kGaps)));
    auto dense = load(format::serialize(g, write_options(false)));
    ASSERT_TRUE(sparse && dense);
    EXPECT_EQ(sparse->metadata().schema_version, format::kEncodingSchemaVersion);
    EXPECT_EQ(dense->metadata().schema_version, format::kSchemaVersion);
    EXPECT_LT(sparse->file_bytes(), dense->file_bytes());
    for (const char* name : {"w", "m", "q"}) {
      const rt::ModelTensor& t = tensor(*sparse, name);
      ASSERT_EQ(t.desc.encoding, Encoding::kSparse) << name;
      EXPECT_EQ(t.desc.constant, nullptr);
      EXPECT_EQ(t.desc.sparse.format, e.format) << name;
      EXPECT_EQ(t.desc.sparse.block_rows, e.block_rows) << name;
      EXPECT_EQ(t.desc.sparse.rows, t.desc.shape[0]);
      EXPECT_LT(t.stored_bytes, t.desc.byte_size()) << name;
      // The densified view is the dense file's tensor, byte for byte.
      const rt::ModelTensor& d = tensor(*dense, name);
      std::vector<uint8_t> bytes(t.desc.byte_size());
      rt::densify(t.desc, bytes.data());
      EXPECT_EQ(std::memcmp(bytes.data(), d.desc.constant, bytes.size()), 0) << name;
    }
    // Small or dense constants stay dense.
    EXPECT_EQ(tensor(*sparse, "wb").desc.encoding, Encoding::kDense);
    EXPECT_EQ(tensor(*sparse, "a").desc.encoding, Encoding::kDense);
    for (int threads : {1, 2}) {
      auto a = run_once(sparse, threads), b = run_once(dense, threads);
      ASSERT_TRUE(a.is_ok()) << a.status().message();
      ASSERT_TRUE(b.is_ok()) << b.status().message();
      EXPECT_EQ(a.value(), b.value());
    }
  }
}

TEST(SparseFormat, WriterStoresTheSmallestEncodingOnlyWhenSmallerThanDense) {
  for (bool gaps : {false, true}) {
    for (Pattern pattern : {Pattern::kNone, Pattern::kUnstructured, Pattern::kBlock4, Pattern::kTwoOfFour}) {
      const ir::Graph g = pruned_graph(pattern);
      auto m = load(format::serialize(g, write_options(true, gaps)));
      ASSERT_TRUE(m);
      for (const char* name : {"w", "m", "q"}) {
        const ir::Tensor* src = nullptr;
        for (size_t i = 0; i < g.tensor_capacity(); ++i)
          if (g.tensor(static_cast<ir::TensorId>(i)).name == name) src = &g.tensor(static_cast<ir::TensorId>(i));
        ASSERT_TRUE(src);
        const int64_t rows = src->shape.dims[0].value, cols = src->shape.num_elements() / rows;
        uint64_t best = src->data->bytes.size();
        for (int32_t block : {1, 4})
          best = std::min<uint64_t>(best, format::encode_sparse(src->data->bytes, src->dtype, rows, cols,
                                                                SparseFormat::kBlockRows, block).bytes.size());
        if (pattern == Pattern::kTwoOfFour)
          best = std::min<uint64_t>(best, format::encode_sparse(src->data->bytes, src->dtype, rows, cols,
                                                                SparseFormat::kTwoOfFour, 1).bytes.size());
        if (gaps)
          best = std::min<uint64_t>(best, format::encode_sparse(src->data->bytes, src->dtype, rows, cols,
                                                                SparseFormat::kGaps, 1).bytes.size());
        const rt::ModelTensor& t = tensor(*m, name);
        EXPECT_EQ(t.stored_bytes, best) << name;
        EXPECT_EQ(t.desc.encoding == Encoding::kSparse, best < src->data->bytes.size()) << name;
      }
      EXPECT_EQ(m->metadata().schema_version,
                pattern == Pattern::kNone ? format::kSchemaVersion : format::kEncodingSchemaVersion);
    }
  }
}

TEST(SparseFormat, DenseFilesKeepSchemaVersion1AndTheirBytes) {
  const ir::Graph g = pruned_graph(Pattern::kNone);
  const std::vector<uint8_t> a = format::serialize(g, write_options()), b = format::serialize(g, write_options(false));
  EXPECT_EQ(a, b);  // nothing sparse: the file is the one the writer always wrote
  auto m = load(a);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->metadata().schema_version, 1u);
  // Same graph, same bytes, sparse too.
  const ir::Graph p = pruned_graph(Pattern::kUnstructured);
  EXPECT_EQ(format::serialize(p, write_options()), format::serialize(p, write_options()));
}

TEST(SparseFormat, ReaderGivesDenseConstants) {
  for (bool gaps : {false, true}) {
    const ir::Graph g = pruned_graph(Pattern::kBlock4);
    test::TempDir dir;
    const std::string path = dir.file("m.pare");
    format::write_file(g, path, write_options(true, gaps));
    const ir::Graph back = format::read_graph(path);
    size_t compared = 0;
    for (size_t i = 0; i < g.tensor_capacity(); ++i) {
      const ir::Tensor& t = g.tensor(static_cast<ir::TensorId>(i));
      if (!t.is_constant()) continue;
      for (size_t k = 0; k < back.tensor_capacity(); ++k) {
        const ir::Tensor& r = back.tensor(static_cast<ir::TensorId>(k));
        if (r.name != t.name) continue;
        ASSERT_TRUE(r.is_constant()) << t.name;
        EXPECT_EQ(r.data->bytes, t.data->bytes) << t.name;
        ++compared;
      }
    }
    EXPECT_EQ(compared, 6u);
  }
}

// Zeroes the weights of a [rows, cols] matrix with the smallest magnitudes: 80% of each
// matrix (unstructured), 80% of the columns of each block of 4 rows by their L1 norm
// (block4), or the 2 smallest of each group of 4 columns (2:4). Falls back to unstructured
// where the shape does not allow the pattern.
void prune_by_magnitude(float* w, int64_t rows, int64_t cols, Pattern pattern) {
  if (pattern == Pattern::kTwoOfFour && cols % 4 == 0) {
    for (int64_t g = 0; g < rows * cols; g += 4) {
      int order[4] = {0, 1, 2, 3};
      std::sort(order, order + 4, [&](int a, int b) { return std::fabs(w[g + a]) < std::fabs(w[g + b]); });
      w[g + order[0]] = w[g + order[1]] = 0.f;
    }
    return;
  }
  if (pattern == Pattern::kBlock4 && rows % 4 == 0) {
    for (int64_t b = 0; b < rows; b += 4) {
      std::vector<std::pair<float, int64_t>> norms;
      for (int64_t c = 0; c < cols; ++c) {
        float n = 0;
        for (int64_t r = b; r < b + 4; ++r) n += std::fabs(w[r * cols + c]);
        norms.emplace_back(n, c);
      }
      std::sort(norms.begin(), norms.end());
      for (size_t k = 0; k < norms.size() * 4 / 5; ++k)
        for (int64_t r = b; r < b + 4; ++r) w[r * cols + norms[k].second] = 0.f;
    }
    return;
  }
  std::vector<float> mags(w, w + rows * cols);
  for (float& m : mags) m = std::fabs(m);
  std::nth_element(mags.begin(), mags.begin() + static_cast<std::ptrdiff_t>(mags.size() * 4 / 5), mags.end());
  const float threshold = mags[mags.size() * 4 / 5];
  for (int64_t i = 0; i < rows * cols; ++i)
    if (std::fabs(w[i]) < threshold) w[i] = 0.f;
}

// A trained model after the canonical pipeline, its Conv/Gemm/MatMul weights pruned.
ir::Graph pruned_trained_model(const std::string& name, Pattern pattern) {
  ir::Graph g = onnx_import::import_model(test::testdata_dir() + "/models/" + name + ".onnx");
  passes::PassContext ctx;
  const pare::Status st = passes::run_pipeline(g, passes::kCanonicalPipeline, ctx);
  EXPECT_TRUE(st.is_ok()) << st.message();
  for (ir::NodeId id : g.nodes()) {
    const ir::Node& n = g.node(id);
    if (n.op != ir::OpKind::kConv && n.op != ir::OpKind::kGemm && n.op != ir::OpKind::kMatMul) continue;
    if (n.inputs.size() < 2 || n.inputs[1] == ir::kNoTensor) continue;
    ir::Tensor& w = g.tensor(n.inputs[1]);
    if (!w.is_constant() || w.dtype != DType::kFloat32 || w.shape.rank() < 2) continue;
    auto pruned = std::make_shared<ir::Buffer>(*w.data);
    const int64_t rows = w.shape.dims[0].value;
    prune_by_magnitude(reinterpret_cast<float*>(pruned->bytes.data()), rows, w.shape.num_elements() / rows, pattern);
    w.data = std::move(pruned);
  }
  return g;
}

// Runs the first images of the test set; the logits, one image after another.
std::vector<float> logits(std::shared_ptr<const Model> m, const npy::Array& images, int count) {
  auto created = rt::Interpreter::create(std::move(m));
  EXPECT_TRUE(created.is_ok()) << created.status().message();
  if (!created.is_ok()) return {};
  rt::Interpreter& it = *created.value();
  std::vector<float> out;
  for (int i = 0; i < count; ++i) {
    std::memcpy(it.input_data(0), images.as<float>() + i * 784, 784 * sizeof(float));
    const rt::Status st = it.invoke();
    EXPECT_TRUE(st.is_ok()) << st.message();
    if (!st.is_ok()) return {};  // the outputs were not written
    const auto* p = static_cast<const float*>(it.output_data(0));
    out.insert(out.end(), p, p + it.output(0).num_elements());
  }
  return out;
}

TEST(SparseFormat, PrunedTrainedModelsAreSmallerAndRunBitForBitAsDense) {
  const npy::Array images = npy::read_npy(test::testdata_dir() + "/data/fmnist_test_2000.npy");
  test::TempDir dir;
  for (const auto& [name, pattern] :
       {std::pair{"fmnist_mlp", Pattern::kUnstructured}, std::pair{"fmnist_cnn", Pattern::kBlock4},
        std::pair{"fmnist_mobilenet_v2", Pattern::kTwoOfFour},
        std::pair{"fmnist_mobilenet_v3_small", Pattern::kUnstructured},
        std::pair{"fmnist_vit", Pattern::kTwoOfFour}}) {
    SCOPED_TRACE(name);
    const ir::Graph g = pruned_trained_model(name, pattern);
    const std::vector<uint8_t> sparse_bytes = format::serialize(g, write_options());
    auto sparse = load(sparse_bytes), dense = load(format::serialize(g, write_options(false)));
    auto gaps = load(format::serialize(g, write_options(true, true)));
    ASSERT_TRUE(sparse && dense && gaps);
    size_t sparse_tensors = 0;
    for (const rt::ModelTensor& t : sparse->tensors()) sparse_tensors += t.desc.encoding == Encoding::kSparse;
    EXPECT_GT(sparse_tensors, 0u);
    EXPECT_LT(sparse->file_bytes(), dense->file_bytes() * 3 / 4);
    EXPECT_LE(gaps->file_bytes(), sparse->file_bytes());
    const std::vector<float> expected = logits(dense, images, 20);
    EXPECT_EQ(logits(sparse, images, 20), expected);
    EXPECT_EQ(logits(gaps, images, 20), expected);

    // export-onnx writes the weights dense.
    const std::string pare_path = dir.file(std::string(name) + ".pare");
    test::write_file(pare_path, std::string(sparse_bytes.begin(), sparse_bytes.end()));
    const test::CommandResult r = test::run_pare({"export-onnx", pare_path, "-o", dir.file(std::string(name) + ".onnx")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
}

// ---- damaged sparse metadata ------------------------------------------------------------

// Field ids of the schema (4 + 2 * field index).
enum : flatbuffers::voffset_t { kModelVersion = 4, kModelTensors = 6, kModelWeightsOffset = 16 };
enum : flatbuffers::voffset_t {
  kTensorDataOffset = 12, kTensorDataSize = 14, kTensorEncoding = 20, kTensorSparse = 22
};
enum : flatbuffers::voffset_t {
  kSparseFormat = 4, kSparseRows = 6, kSparseCols = 8, kSparseBlockRows = 10, kSparseEntries = 12,
  kSparseColumnBytes = 14, kSparseCodes = 16
};

struct SparseFile {
  std::vector<uint8_t> bytes;
  size_t tensor_index = 0;
  rt::SparseParts parts;
  int64_t codes = 0;         // gap codes
  uint64_t data_offset = 0;  // absolute, in the file
};

// A written file and where the sparse tensor `name` lies in it.
void make_sparse_file(SparseFile* out, Pattern pattern, const std::string& name, bool gaps = false) {
  SparseFile& f = *out;
  f.bytes = format::serialize(pruned_graph(pattern), write_options(true, gaps));
  auto m = load(f.bytes);
  ASSERT_TRUE(m);
  for (size_t i = 0; i < m->tensors().size(); ++i)
    if (m->tensors()[i].desc.name == name) f.tensor_index = i;
  const rt::TensorDesc& d = m->tensors()[f.tensor_index].desc;
  EXPECT_EQ(d.encoding, Encoding::kSparse);
  f.parts = rt::sparse_parts(d.sparse, dtype_size(d.dtype));
  f.codes = d.sparse.codes;
  const uint8_t* image_values = static_cast<const uint8_t*>(d.sparse.values);
  // The loader's copy differs from f.bytes only in its address: find the values in the file.
  const auto* root = flatbuffers::GetRoot<flatbuffers::Table>(f.bytes.data() + 4);
  const uint64_t weights = root->GetField<uint64_t>(kModelWeightsOffset, 0);
  using Vec = flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>;
  const auto* t = root->GetPointer<const Vec*>(kModelTensors)->Get(static_cast<flatbuffers::uoffset_t>(f.tensor_index));
  f.data_offset = weights + t->GetField<uint64_t>(kTensorDataOffset, 0);
  EXPECT_EQ(std::memcmp(f.bytes.data() + f.data_offset, image_values, f.parts.values_bytes), 0);
}

flatbuffers::Table* tensor_table(std::vector<uint8_t>& bytes, size_t i) {
  auto* root = flatbuffers::GetMutableRoot<flatbuffers::Table>(bytes.data() + 4);
  using Vec = flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>;
  return root->GetPointer<Vec*>(kModelTensors)->GetMutableObject(static_cast<flatbuffers::uoffset_t>(i));
}

flatbuffers::Table* sparse_table(std::vector<uint8_t>& bytes, size_t i) {
  return tensor_table(bytes, i)->GetPointer<flatbuffers::Table*>(kTensorSparse);
}

// A damaged file either fails to load with a message naming it (and `fragment`, when given),
// or loads and then prepares and runs once without reading outside the file.
void check_damaged(const std::vector<uint8_t>& bytes, const std::string& fragment, size_t* loaded) {
  auto r = Model::load_buffer(bytes.data(), bytes.size(), "damaged.pare");
  if (!r.is_ok()) {
    const Status::Code code = r.status().code();
    EXPECT_TRUE(code == Status::kBadFile || code == Status::kBadModel) << r.status().message();
    EXPECT_NE(r.status().message().find("damaged.pare"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
    return;
  }
  ++*loaded;
  auto ran = run_once(r.value());
  if (!ran.is_ok()) {
    EXPECT_NE(ran.status().code(), Status::kInternal) << ran.status().message();
  }
}

void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  size_t loaded = 0;
  check_damaged(bytes, fragment, &loaded);
  EXPECT_EQ(loaded, 0u) << "loaded although damaged: " << fragment;
}

// Sets a field of the tensor's Sparse table and expects the file rejected; false when the
// field is at its default (not stored, so not patchable in this file).
template <typename T>
bool patch_sparse_field(const SparseFile& f, flatbuffers::voffset_t field, T value, const std::string& fragment) {
  std::vector<uint8_t> bytes = f.bytes;
  flatbuffers::Table* s = sparse_table(bytes, f.tensor_index);
  if (!s->CheckField(field)) return false;
  EXPECT_TRUE(s->SetField<T>(field, value, T{}));
  expect_rejected(bytes, fragment);
  return true;
}

TEST(SparseFormat, EveryMetadataFieldIsChecked) {
  std::vector<int> patched(18, 0);  // by field id, over all files
  for (const auto& [pattern, gaps] : {std::pair{Pattern::kUnstructured, false}, std::pair{Pattern::kBlock4, false},
                                      std::pair{Pattern::kTwoOfFour, false}, std::pair{Pattern::kUnstructured, true}}) {
    SCOPED_TRACE(static_cast<int>(pattern) + 10 * gaps);
    for (const char* name : {"w", "m", "q"}) {
      SparseFile f;
      ASSERT_NO_FATAL_FAILURE(make_sparse_file(&f, pattern, name, gaps));
      const std::string where = std::string("'") + name + "'";
      EXPECT_TRUE(load(f.bytes, "ok.pare"));
      patched[kSparseFormat] += patch_sparse_field<int32_t>(f, kSparseFormat, 7, "invalid sparse format 7");
      patched[kSparseFormat] += patch_sparse_field<int32_t>(f, kSparseFormat, 0, where);
      for (int64_t rows : {int64_t{0}, int64_t{-4}, int64_t{3}, int64_t{1} << 40})
        patched[kSparseRows] += patch_sparse_field<int64_t>(f, kSparseRows, rows, "sparse rows");
      for (int64_t cols : {int64_t{0}, int64_t{-1}, int64_t{5}, int64_t{1} << 40})
        patched[kSparseCols] += patch_sparse_field<int64_t>(f, kSparseCols, cols, "sparse rows");
      for (int32_t block : {0, -1, 3, 1 << 30})
        patched[kSparseBlockRows] += patch_sparse_field<int32_t>(f, kSparseBlockRows, block, where);
      for (int64_t entries : {int64_t{-1}, int64_t{1}, int64_t{1} << 40}) {
        std::vector<uint8_t> bytes = f.bytes;
        flatbuffers::Table* s = sparse_table(bytes, f.tensor_index);
        if (!s->CheckField(kSparseEntries)) continue;
        ASSERT_TRUE(s->SetField<int64_t>(kSparseEntries, s->GetField<int64_t>(kSparseEntries, 0) + entries, 0));
        expect_rejected(bytes, where);
        ++patched[kSparseEntries];
      }
      for (int32_t cb : {0, 1, 3, 8})
        patched[kSparseColumnBytes] += patch_sparse_field<int32_t>(f, kSparseColumnBytes, cb, "column_bytes");
      if (gaps) {
        for (int64_t bad : {int64_t{-1}, f.codes - 1, f.codes + 2, int64_t{1} << 40})
          patched[kSparseCodes] += patch_sparse_field<int64_t>(f, kSparseCodes, bad, where);
      }

      // The encoding itself, the data size and the schema version.
      for (int32_t encoding : {0, 2, 9}) {
        std::vector<uint8_t> bytes = f.bytes;
        ASSERT_TRUE(tensor_table(bytes, f.tensor_index)->SetField<int32_t>(kTensorEncoding, encoding, 0));
        expect_rejected(bytes, encoding == 2 ? "palette" : "invalid encoding");
      }
      for (int64_t delta : {-1, 1, -16}) {
        std::vector<uint8_t> bytes = f.bytes;
        flatbuffers::Table* t = tensor_table(bytes, f.tensor_index);
        ASSERT_TRUE(t->SetField<uint64_t>(kTensorDataSize, t->GetField<uint64_t>(kTensorDataSize, 0) + delta, 0));
        expect_rejected(bytes, where);
      }
      std::vector<uint8_t> old = f.bytes;
      ASSERT_TRUE(flatbuffers::GetMutableRoot<flatbuffers::Table>(old.data() + 4)->SetField<uint32_t>(kModelVersion, 1, 0));
      expect_rejected(old, "schema version 1");
    }
  }
  for (flatbuffers::voffset_t field : {kSparseFormat, kSparseRows, kSparseCols, kSparseBlockRows,
                                       kSparseEntries, kSparseColumnBytes, kSparseCodes})
    EXPECT_GT(patched[field], 2) << "field " << field;
}

// Writes a uint32 or uint16 into the file at `offset`.
template <typename T>
void poke(std::vector<uint8_t>* bytes, uint64_t offset, T value) {
  std::memcpy(bytes->data() + offset, &value, sizeof(T));
}
template <typename T>
T peek(const std::vector<uint8_t>& bytes, uint64_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof(T));
  return v;
}

TEST(SparseFormat, DamagedIndicesAreRejected) {
  for (Pattern pattern : {Pattern::kUnstructured, Pattern::kBlock4}) {
    SparseFile f;
    ASSERT_NO_FATAL_FAILURE(make_sparse_file(&f, pattern, "m"));
    const uint64_t starts = f.data_offset + f.parts.block_starts;
    const uint64_t columns = f.data_offset + f.parts.columns;
    const uint64_t blocks = f.parts.block_starts_bytes / 4 - 1;
    std::vector<uint8_t> b = f.bytes;
    poke<uint32_t>(&b, starts, 1);
    expect_rejected(b, "block_starts[0] is 1");
    b = f.bytes;
    poke<uint32_t>(&b, starts + blocks * 4, peek<uint32_t>(b, starts + blocks * 4) - 1);
    expect_rejected(b, "block_starts ends at");
    b = f.bytes;  // a start past its successor
    poke<uint32_t>(&b, starts + 4, peek<uint32_t>(b, starts + 8) + 1);
    expect_rejected(b, "decreases");
    b = f.bytes;
    poke<uint32_t>(&b, starts + 4, 0xffffffffu);  // past the entries: the next start is lower
    expect_rejected(b, "decreases");
    b = f.bytes;  // m has 16 columns: 16 is out of range
    poke<uint16_t>(&b, columns, 16);
    expect_rejected(b, "not below cols");
    b = f.bytes;  // the second column of block 0 equal to the first
    ASSERT_GT(peek<uint32_t>(b, starts + 4), 1u);
    poke<uint16_t>(&b, columns + 2, peek<uint16_t>(b, columns));
    expect_rejected(b, "not ascending");
  }
  SparseFile f;
  ASSERT_NO_FATAL_FAILURE(make_sparse_file(&f, Pattern::kTwoOfFour, "m"));
  const uint64_t positions = f.data_offset + f.parts.positions;
  for (uint8_t bad : {uint8_t{0}, uint8_t{1 | 0 << 2}, uint8_t{2 | 1 << 2}, uint8_t{3 | 3 << 2}, uint8_t{0x10 | 1 << 2}}) {
    std::vector<uint8_t> b = f.bytes;
    b[positions + 5] = bad;
    expect_rejected(b, "2:4 position byte");
  }
}

TEST(SparseFormat, TruncatedAndRandomlyDamagedSparsePartsNeverCrash) {
  size_t loaded = 0;
  for (const auto& [pattern, gaps] : {std::pair{Pattern::kUnstructured, false}, std::pair{Pattern::kBlock4, false},
                                      std::pair{Pattern::kTwoOfFour, false}, std::pair{Pattern::kUnstructured, true}}) {
    SparseFile f;
    ASSERT_NO_FATAL_FAILURE(make_sparse_file(&f, pattern, "m", gaps));
    for (size_t len = f.data_offset; len < f.bytes.size(); len += 7) {
      std::vector<uint8_t> cut(f.bytes.begin(), f.bytes.begin() + static_cast<std::ptrdiff_t>(len));
      expect_rejected(cut, "damaged.pare");
    }
    // Random damage inside the sparse parts and anywhere in the file.
    std::mt19937 rng(7 + static_cast<uint32_t>(pattern));
    std::uniform_int_distribution<uint64_t> in_parts(f.data_offset, f.data_offset + f.parts.total - 1);
    std::uniform_int_distribution<uint64_t> anywhere(0, f.bytes.size() - 1);
    std::uniform_int_distribution<int> byte(0, 255);
    for (int iter = 0; iter < 600; ++iter) {
      std::vector<uint8_t> b = f.bytes;
      for (int e = 0; e < 1 + iter % 3; ++e)
        b[iter % 2 ? in_parts(rng) : anywhere(rng)] = static_cast<uint8_t>(byte(rng));
      check_damaged(b, "damaged.pare", &loaded);
    }
  }
  EXPECT_GT(loaded, 0u);  // damage in values and names still loads, and runs
}

TEST(SparseFormat, CliRejectsDamagedSparseFilesAndInspectReportsLayers) {
  test::TempDir dir;
  SparseFile f;
  ASSERT_NO_FATAL_FAILURE(make_sparse_file(&f, Pattern::kBlock4, "m"));
  const std::string good = dir.file("good.pare");
  test::write_file(good, std::string(f.bytes.begin(), f.bytes.end()));
  std::vector<uint8_t> b = f.bytes;
  poke<uint32_t>(&b, f.data_offset + f.parts.block_starts, 3);
  const std::string bad = dir.file("bad.pare");
  test::write_file(bad, std::string(b.begin(), b.end()));
  for (const char* cmd : {"inspect", "export-onnx"}) {
    std::vector<std::string> args = {cmd, bad};
    if (std::string(cmd) == "export-onnx") args.insert(args.end(), {"-o", dir.file("bad.onnx")});
    const test::CommandResult r = test::run_pare(args);
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.err;
    EXPECT_NE(r.err.find("bad.pare"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("'m'"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(test::file_exists(dir.file("bad.onnx")));

  const test::CommandResult r = test::run_pare({"inspect", good});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("sparse_block4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("effective MACs"), std::string::npos) << r.out;

  // Conv [8,4,3,3] over a 6x6 output and MatMul [288,16]; fc2's weight is not a constant.
  const test::CommandResult js = test::run_pare({"inspect", good, "--json"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  const nlohmann::json j = nlohmann::json::parse(js.out);
  ASSERT_EQ(j["layers"].size(), 2u);
  const nlohmann::json& fc = j["layers"][1];
  EXPECT_EQ(fc["name"], "fc");
  EXPECT_EQ(fc["encoding"], "sparse_block4");
  EXPECT_EQ(j["layers"][0]["macs"], 288 * 36);
  EXPECT_EQ(fc["macs"], 16 * 288);
  EXPECT_EQ(fc["dense_bytes"], 288 * 16 * 4);
  EXPECT_EQ(fc["stored_bytes"], f.parts.total);
  const double sparsity = fc["sparsity"].get<double>();
  EXPECT_GT(sparsity, 0.5);
  EXPECT_NEAR(fc["effective_macs"].get<double>(), 16 * 288 * (1 - sparsity), 1.0);
  EXPECT_EQ(j["layer_totals"]["macs"], 288 * 36 + 16 * 288);
  size_t dense_param_bytes = 0;  // param_bytes keeps counting weights at their dense size
  const std::shared_ptr<const Model> model = load(f.bytes);
  ASSERT_TRUE(model);
  for (const rt::ModelTensor& t : model->tensors())
    if (t.is_constant()) dense_param_bytes += t.desc.byte_size();
  EXPECT_EQ(j["param_bytes"], dense_param_bytes);
}

}  // namespace
}  // namespace pare
