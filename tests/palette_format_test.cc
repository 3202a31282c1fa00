// Palette weights in .pare files: exact round trips through the encoder, writer, loader and
// densify; the writer's choice of the smallest encoding; clustered models that run bit for bit
// as dense; and a loader that rejects every damaged piece of palette metadata and indices.
#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "calibration/npy.h"
#include "formats/onnx/importer.h"
#include "formats/pare/palette_encoding.h"
#include "runtime/kernels/lutgemm/lutgemm.h"
#include "formats/pare/reader.h"
#include "formats/pare/sparse_encoding.h"
#include "formats/pare/writer.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"
#include "passes/pass.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "runtime/palette.h"
#include "runtime/sparse.h"
#include "tests/support/graph_builder.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

using rt::Model;
using rt::Status;

// Bytes of a [rows, cols] matrix whose row r draws from `distinct(r)` values (a table of its
// own, or with `shared` one table for all rows); every table value appears. Float tables
// hold 0.0f and -0.0f when they have 2 or more values; int8 tables are distinct bytes.
template <typename DistinctFn>
std::vector<uint8_t> clustered(DType dtype, int64_t rows, int64_t cols, const DistinctFn& distinct, bool shared,
                               uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t esize = dtype_size(dtype);
  std::vector<uint8_t> out(static_cast<size_t>(rows * cols) * esize);
  std::vector<uint8_t> table;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t d = std::max<int64_t>(1, distinct(r));
    if (r == 0 || !shared) {
      table.assign(static_cast<size_t>(d) * esize, 0);
      std::vector<int> bytes(256);
      for (int i = 0; i < 256; ++i) bytes[static_cast<size_t>(i)] = i;
      std::shuffle(bytes.begin(), bytes.end(), rng);
      for (int64_t k = 0; k < d; ++k) {
        if (esize == 1) {
          table[static_cast<size_t>(k)] = static_cast<uint8_t>(bytes[static_cast<size_t>(k)]);
          continue;
        }
        float v = std::uniform_real_distribution<float>(-2.f, 2.f)(rng);
        if (d >= 2 && k < 2) v = k == 0 ? 0.f : -0.f;
        std::memcpy(&table[static_cast<size_t>(k) * 4], &v, 4);
      }
    }
    const int64_t n = static_cast<int64_t>(table.size() / esize);
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t k = c < n ? c : static_cast<int64_t>(rng() % static_cast<uint32_t>(n));
      std::memcpy(&out[static_cast<size_t>((r * cols + c)) * esize], &table[static_cast<size_t>(k) * esize], esize);
    }
  }
  return out;
}

// Reference: distinct values by bit pattern, most over the rows, the columns or of the tensor.
int64_t reference_entries(const std::vector<uint8_t>& bytes, size_t esize, int64_t rows, int64_t cols,
                          format::PaletteTables tables) {
  const bool by_column = tables == format::PaletteTables::kPerColumn;
  std::set<std::vector<uint8_t>> values;
  size_t most = 0;
  for (int64_t s = 0; s < (by_column ? cols : rows); ++s) {
    if (tables != format::PaletteTables::kPerTensor) values.clear();
    for (int64_t p = 0; p < (by_column ? rows : cols); ++p) {
      const auto* e = &bytes[static_cast<size_t>(by_column ? p * cols + s : s * cols + p) * esize];
      values.emplace(e, e + esize);
    }
    most = std::max(most, values.size());
  }
  return static_cast<int64_t>(most);
}

constexpr format::PaletteTables kAllTables[] = {format::PaletteTables::kPerRow, format::PaletteTables::kPerColumn,
                                                format::PaletteTables::kPerTensor};
constexpr rt::PaletteCoding kAllCodings[] = {rt::PaletteCoding::kPacked, rt::PaletteCoding::kHuffman};

TEST(PaletteFormat, EncoderRoundTripsAreExact) {
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 1}, {1, 7}, {3, 5}, {4, 9}, {7, 13}, {16, 64}, {33, 17}, {5, 300}};
  int checked = 0;
  for (DType dtype : {DType::kFloat32, DType::kInt8})
    for (int bits = 2; bits <= 8; ++bits)
      for (bool shared : {false, true})
        for (const auto& [rows, cols] : shapes) {
          SCOPED_TRACE(std::string(dtype_name(dtype)) + " bits " + std::to_string(bits) + " shared " +
                       std::to_string(shared) + " " + std::to_string(rows) + "x" + std::to_string(cols));
          const int64_t top = int64_t{1} << bits;
          // Row 1 holds one value; the others need `bits` bits (when they have the columns).
          auto distinct = [&](int64_t r) { return r == 1 ? int64_t{1} : top / 2 + 1 + (r * 7) % (top / 2); };
          const std::vector<uint8_t> bytes = clustered(dtype, rows, cols, distinct, shared, static_cast<uint32_t>(bits * 100 + rows));
          const size_t esize = dtype_size(dtype);
          for (format::PaletteTables tables : kAllTables)
          for (rt::PaletteCoding coding : kAllCodings) {
            const int64_t entries = reference_entries(bytes, esize, rows, cols, tables);
            const std::optional<rt::PaletteView> layout = format::palette_layout(bytes.data(), dtype, rows, cols, tables, coding);
            if (entries > 256) {
              EXPECT_FALSE(layout);
              continue;
            }
            ASSERT_TRUE(layout);
            EXPECT_EQ(layout->entries, entries);
            EXPECT_EQ(layout->bits, std::max(2, static_cast<int>(std::ceil(std::log2(static_cast<double>(entries))))));
            EXPECT_EQ(layout->per_row, tables == format::PaletteTables::kPerRow);
            EXPECT_EQ(layout->per_column, tables == format::PaletteTables::kPerColumn);
            EXPECT_EQ(layout->coding, coding);
            std::vector<uint8_t> stored = format::encode_palette(bytes.data(), *layout);
            const rt::PaletteParts parts = rt::palette_parts(*layout, esize);
            ASSERT_EQ(stored.size(), parts.total);
            EXPECT_EQ(parts.indices % 16, 0u);
            if (coding == rt::PaletteCoding::kPacked)
              EXPECT_EQ(parts.indices_bytes, static_cast<uint64_t>(rows * ((cols * layout->bits + 7) / 8)));
            else
              EXPECT_EQ(parts.indices_bytes, static_cast<uint64_t>((layout->stream_bits + 7) / 8));
            rt::PaletteView v = *layout;
            rt::bind_palette_parts(&v, parts, stored.data());
            std::string problem;
            EXPECT_TRUE(rt::check_palette_indices(v, &problem)) << problem;
            std::vector<uint8_t> dense(bytes.size(), 0xAB);
            rt::kernels::palette_densify(v, dense.data());
            EXPECT_EQ(dense, bytes);
            ++checked;
          }
        }
  EXPECT_GT(checked, 1200);
}

// x[3, rows] -> MatMul (w [rows, cols] of `dtype`, through DequantizeLinear for int8) -> y.
ir::Graph one_weight_graph(DType dtype, int64_t rows, int64_t cols, const std::vector<uint8_t>& bytes) {
  test::GraphBuilder b;
  const ir::TensorId x = b.input("x", {3, rows});
  ir::TensorId w;
  if (dtype == DType::kFloat32) {
    std::vector<float> f(bytes.size() / 4);
    std::memcpy(f.data(), bytes.data(), bytes.size());
    w = b.floats("w", {rows, cols}, f);
  } else {
    std::vector<int8_t> q(bytes.begin(), bytes.end());
    const ir::TensorId qi = ir::add_constant<int8_t>(b.g, "w", DType::kInt8, {rows, cols}, q);
    w = b.apply(ir::OpKind::kDequantizeLinear, "dequant", {qi, b.floats("w_scale", {}, {0.05f})});
  }
  b.output(b.apply(ir::OpKind::kMatMul, "fc", {x, w}));
  for (ir::NodeId n : b.g.nodes()) ir::infer_node(b.g, n);
  return b.g;
}

format::WriteOptions write_options(bool palettes = true, bool encodings = true) {
  format::WriteOptions o;
  o.producer_version = "0.1.0";
  o.sparse_weights = encodings;
  o.palette_weights = palettes;
  return o;
}

std::shared_ptr<const Model> load(const std::vector<uint8_t>& bytes, const std::string& name = "palette.pare") {
  auto r = Model::load_buffer(bytes.data(), bytes.size(), name);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? r.value() : nullptr;
}

size_t tensor_index(const Model& m, const std::string& name) {
  for (size_t i = 0; i < m.tensors().size(); ++i)
    if (m.tensors()[i].desc.name == name) return i;
  ADD_FAILURE() << "no tensor " << name;
  return 0;
}

// Prepares the model and runs it once on fixed inputs; the outputs' bytes, or a failed status.
rt::Result<std::vector<std::vector<uint8_t>>> run_once(std::shared_ptr<const Model> m) {
  auto created = rt::Interpreter::create(std::move(m));
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

TEST(PaletteFormat, WriterLoaderAndDensifyGiveTheOriginalBytes) {
  int palettes = 0;
  for (DType dtype : {DType::kFloat32, DType::kInt8})
    for (int bits = 2; bits <= 8; ++bits)
      for (bool shared : {false, true}) {
        const int64_t rows = 24, cols = 300;
        const int64_t top = int64_t{1} << bits;
        auto distinct = [&](int64_t r) { return r == 1 ? int64_t{1} : top / 2 + 1 + (r * 5) % (top / 2); };
        const std::vector<uint8_t> bytes = clustered(dtype, rows, cols, distinct, shared, static_cast<uint32_t>(bits));
        const ir::Graph g = one_weight_graph(dtype, rows, cols, bytes);
        const std::vector<uint8_t> file = format::serialize(g, write_options());
        auto m = load(file);
        auto dense = load(format::serialize(g, write_options(false, false)));
        ASSERT_TRUE(m && dense);
        const rt::ModelTensor& t = m->tensors()[tensor_index(*m, "w")];
        std::vector<uint8_t> back(bytes.size());
        rt::densify(t.desc, back.data());
        EXPECT_EQ(back, bytes) << bits;
        if (t.desc.encoding == Encoding::kPalette) {
          ++palettes;
          EXPECT_EQ(m->metadata().schema_version, format::kEncodingSchemaVersion);
          EXPECT_EQ(t.desc.palette.per_row || t.desc.palette.per_column, !shared) << bits;  // shared: one table is smaller
          EXPECT_EQ(t.desc.palette.dtype, dtype);
        }
        auto a = run_once(m), b = run_once(dense);
        ASSERT_TRUE(a.is_ok() && b.is_ok());
        EXPECT_EQ(a.value(), b.value());
        // The reader hands the IR dense constants.
        test::TempDir dir;
        test::write_file(dir.file("m.pare"), std::string(file.begin(), file.end()));
        const ir::Graph read = format::read_graph(dir.file("m.pare"));
        for (size_t i = 0; i < read.tensor_capacity(); ++i)
          if (read.tensor(static_cast<ir::TensorId>(i)).name == "w") {
            EXPECT_EQ(read.tensor(static_cast<ir::TensorId>(i)).data->bytes, bytes);
          }
      }
  EXPECT_GE(palettes, 20);  // int8 rows of 256 values stay dense
}

// The writer's choice against sizes computed here from every candidate.
TEST(PaletteFormat, WriterStoresTheSmallestEncoding) {
  struct Case {
    std::string what;
    DType dtype;
    int64_t rows, cols;
    std::vector<uint8_t> bytes;
    Encoding expected;
  };
  std::vector<Case> cases;
  auto floats_bytes = [](const std::vector<float>& f) {
    std::vector<uint8_t> b(f.size() * 4);
    std::memcpy(b.data(), f.data(), b.size());
    return b;
  };
  cases.push_back({"random", DType::kFloat32, 64, 64, floats_bytes(test::random_floats(64 * 64, 3)), Encoding::kDense});
  std::vector<float> sparse = test::random_floats(64 * 128, 4);
  for (size_t i = 0; i < sparse.size(); ++i)
    if (i % 23) sparse[i] = 0.f;
  cases.push_back({"95% zeros", DType::kFloat32, 64, 128, floats_bytes(sparse), Encoding::kSparse});
  auto sixteen = [](int64_t) { return int64_t{16}; };
  cases.push_back({"16 per row", DType::kFloat32, 64, 128, clustered(DType::kFloat32, 64, 128, sixteen, false, 5), Encoding::kPalette});
  cases.push_back({"16 shared", DType::kFloat32, 64, 128, clustered(DType::kFloat32, 64, 128, sixteen, true, 6), Encoding::kPalette});
  cases.push_back({"int8 16 per row", DType::kInt8, 32, 256, clustered(DType::kInt8, 32, 256, sixteen, false, 7), Encoding::kPalette});
  cases.push_back({"int8 all values", DType::kInt8, 32, 256, clustered(DType::kInt8, 32, 256, [](int64_t) { return int64_t{256}; }, false, 8), Encoding::kDense});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const size_t esize = dtype_size(c.dtype);
    uint64_t best = c.bytes.size();
    Encoding best_encoding = Encoding::kDense;
    for (const auto& [f, block] : {std::pair{SparseFormat::kBlockRows, 1}, std::pair{SparseFormat::kBlockRows, 4},
                                   std::pair{SparseFormat::kGaps, 1}}) {
      const uint64_t size = format::encode_sparse(c.bytes, c.dtype, c.rows, c.cols, f, block).bytes.size();
      if (size < best) best = size, best_encoding = Encoding::kSparse;
    }
    for (rt::PaletteCoding coding : kAllCodings)
      for (format::PaletteTables tables : kAllTables)
        if (auto p = format::palette_layout(c.bytes.data(), c.dtype, c.rows, c.cols, tables, coding)) {
          const uint64_t size = rt::palette_parts(*p, esize).total;
          if (size < best) best = size, best_encoding = Encoding::kPalette;
        }
    EXPECT_EQ(best_encoding, c.expected);
    const ir::Graph g = one_weight_graph(c.dtype, c.rows, c.cols, c.bytes);
    auto m = load(format::serialize(g, write_options()));
    ASSERT_TRUE(m);
    const rt::ModelTensor& t = m->tensors()[tensor_index(*m, "w")];
    EXPECT_EQ(t.desc.encoding, best_encoding);
    EXPECT_EQ(t.stored_bytes, best);
    for (size_t i = 0; i < g.tensor_capacity(); ++i)
      if (g.tensor(static_cast<ir::TensorId>(i)).name == "w") {
        EXPECT_EQ(format::stored_bytes(g.tensor(static_cast<ir::TensorId>(i))), best);
      }
  }
}

TEST(PaletteFormat, RandomFloatsAreRuledOutAfterOneRow) {
  const int64_t rows = 2048, cols = 2048;
  const std::vector<float> f = test::random_floats(static_cast<size_t>(rows * cols), 5);
  const auto* data = reinterpret_cast<const uint8_t*>(f.data());
  std::vector<double> ms;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(format::palette_layout(data, DType::kFloat32, rows, cols, UINT64_MAX, UINT64_MAX));
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  // Reported, not asserted (sanitizer builds run many times slower): well under a
  // millisecond here, where counting all 4M values takes tens.
  std::printf("2048x2048 random floats ruled out in %.3f ms (median of 5)\n", ms[2]);
}

// ---- clustered trained models ---------------------------------------------------------------

const npy::Array& calibration_images() {
  static const npy::Array a = npy::read_npy(test::testdata_dir() + "/data/fmnist_calib_500.npy");
  return a;
}

// Samples of the calibration images, fed to the single input.
class ArrayData final : public passes::CalibrationData {
 public:
  size_t size() const override { return static_cast<size_t>(calibration_images().shape[0]); }
  void fill(size_t sample, size_t input, float* out, size_t count) const override {
    EXPECT_EQ(input, 0u);
    std::memcpy(out, calibration_images().as<float>() + sample * count, count * sizeof(float));
  }
};

// Rounds each row of every float Conv/Gemm/MatMul weight to `levels` evenly spaced values
// between the row's minimum and maximum: what a cluster pass leaves, without one.
void cluster_by_hand(ir::Graph& g, int levels) {
  for (ir::NodeId id : g.nodes()) {
    const ir::Node& n = g.node(id);
    if (n.op != ir::OpKind::kConv && n.op != ir::OpKind::kGemm && n.op != ir::OpKind::kMatMul) continue;
    if (n.inputs.size() < 2 || n.inputs[1] == ir::kNoTensor) continue;
    ir::Tensor& w = g.tensor(n.inputs[1]);
    if (!w.is_constant() || w.dtype != DType::kFloat32 || w.shape.rank() < 2) continue;
    auto rounded = std::make_shared<ir::Buffer>(*w.data);
    auto* f = reinterpret_cast<float*>(rounded->bytes.data());
    const int64_t rows = w.shape.dims[0].value, cols = w.shape.num_elements() / rows;
    for (int64_t r = 0; r < rows; ++r) {
      float* row = f + r * cols;
      const float lo = *std::min_element(row, row + cols), hi = *std::max_element(row, row + cols);
      const float step = (hi - lo) / static_cast<float>(levels - 1);
      for (int64_t c = 0; c < cols; ++c)
        row[c] = step > 0 ? lo + step * std::round((row[c] - lo) / step) : lo;
    }
    w.data = std::move(rounded);
  }
}

// Logits of the first calibration images, one image after another.
std::vector<float> logits(std::shared_ptr<const Model> m, int count) {
  auto created = rt::Interpreter::create(std::move(m));
  EXPECT_TRUE(created.is_ok()) << created.status().message();
  if (!created.is_ok()) return {};
  rt::Interpreter& it = *created.value();
  std::vector<float> out;
  for (int i = 0; i < count; ++i) {
    std::memcpy(it.input_data(0), calibration_images().as<float>() + i * 784, 784 * sizeof(float));
    const rt::Status st = it.invoke();
    EXPECT_TRUE(st.is_ok()) << st.message();
    if (!st.is_ok()) return {};  // the outputs were not written
    const auto* p = static_cast<const float*>(it.output_data(0));
    out.insert(out.end(), p, p + it.output(0).num_elements());
  }
  return out;
}

size_t palette_tensors(const Model& m, DType dtype) {
  size_t n = 0;
  for (const rt::ModelTensor& t : m.tensors()) n += t.desc.encoding == Encoding::kPalette && t.desc.dtype == dtype;
  return n;
}

TEST(PaletteFormat, ClusteredModelsRunBitForBitAsDenseAndAreSmaller) {
  const ArrayData data;
  for (const char* name : {"fmnist_cnn", "fmnist_mlp", "fmnist_mobilenet_v3_small"}) {
    SCOPED_TRACE(name);
    ir::Graph g = onnx_import::import_model(test::testdata_dir() + "/models/" + name + ".onnx");
    passes::PassContext ctx;
    ctx.calibration = &data;
    ASSERT_TRUE(passes::run_pipeline(g, "fold,fold_batchnorm,fuse_activation,remove_identity,nhwc,dce", ctx).is_ok());
    cluster_by_hand(g, 16);
    g.compact();
    auto palette = load(format::serialize(g, write_options()));
    auto dense = load(format::serialize(g, write_options(false, false)));
    ASSERT_TRUE(palette && dense);
    EXPECT_GT(palette_tensors(*palette, DType::kFloat32), 1u);
    EXPECT_LT(palette->file_bytes(), dense->file_bytes() * 6 / 10);
    EXPECT_EQ(logits(palette, 10), logits(dense, 10));

    // int8 after clustering: per-channel scales keep 16 values per row, an int8 palette.
    ASSERT_TRUE(passes::run_pipeline(g, "quantize,dce", ctx).is_ok()) << name;
    g.compact();
    auto q_palette = load(format::serialize(g, write_options()));
    auto q_dense = load(format::serialize(g, write_options(false, false)));
    ASSERT_TRUE(q_palette && q_dense);
    EXPECT_GT(palette_tensors(*q_palette, DType::kInt8), 1u);
    EXPECT_LT(q_palette->file_bytes(), q_dense->file_bytes() * 8 / 10);
    EXPECT_EQ(logits(q_palette, 10), logits(q_dense, 10));
    std::printf("%s, 16 values per row: float32 %zu -> %zu bytes, int8 %zu -> %zu bytes\n", name,
                static_cast<size_t>(dense->file_bytes()), static_cast<size_t>(palette->file_bytes()),
                static_cast<size_t>(q_dense->file_bytes()), static_cast<size_t>(q_palette->file_bytes()));
  }
}

// ---- damaged palette files --------------------------------------------------------------------

// Field ids of the schema (4 + 2 * field index).
enum : flatbuffers::voffset_t { kModelVersion = 4, kModelTensors = 6, kModelWeightsOffset = 16 };
enum : flatbuffers::voffset_t {
  kTensorDataOffset = 12, kTensorDataSize = 14, kTensorEncoding = 20, kTensorPalette = 24
};
enum : flatbuffers::voffset_t {
  kPaletteRows = 4, kPaletteCols = 6, kPaletteBits = 8, kPaletteEntries = 10, kPalettePerRow = 12, kPaletteDType = 14
};

struct PaletteFile {
  std::vector<uint8_t> bytes;
  size_t tensor_index = 0;
  rt::PaletteView view;      // metadata as loaded
  rt::PaletteParts parts;
  uint64_t data_offset = 0;  // absolute, in the file
  uint64_t weights_offset = 0;
};

// x[3, 16] -> MatMul (w [16, 41]: 4-bit rows of 9 values, so half of each row's last index byte
// is unused) -> y, and an int8 q [8, 64] of 5 values shared by its rows.
void make_palette_file(PaletteFile* out, const std::string& name) {
  test::GraphBuilder b;
  auto nine = [](int64_t) { return int64_t{9}; };
  std::vector<uint8_t> wb = clustered(DType::kFloat32, 16, 41, nine, false, 21);
  std::vector<float> w(wb.size() / 4);
  std::memcpy(w.data(), wb.data(), wb.size());
  const ir::TensorId x = b.input("x", {3, 16});
  b.output(b.apply(ir::OpKind::kMatMul, "fc", {x, b.floats("w", {16, 41}, w)}));
  std::vector<uint8_t> qb = clustered(DType::kInt8, 8, 64, [](int64_t) { return int64_t{5}; }, true, 22);
  const ir::TensorId qi = ir::add_constant<int8_t>(b.g, "q", DType::kInt8, {8, 64}, std::vector<int8_t>(qb.begin(), qb.end()));
  const ir::TensorId deq = b.apply(ir::OpKind::kDequantizeLinear, "dequant", {qi, b.floats("q_scale", {}, {0.05f})});
  b.output(b.apply(ir::OpKind::kMatMul, "fc2", {b.input("x2", {3, 8}), deq}));
  for (ir::NodeId n : b.g.nodes()) ir::infer_node(b.g, n);

  PaletteFile& f = *out;
  format::WriteOptions options = write_options();
  options.palette_huffman = false;  // packed indices: palette_coding_test damages coded ones
  f.bytes = format::serialize(b.g, options);
  auto m = load(f.bytes);
  ASSERT_TRUE(m);
  f.tensor_index = tensor_index(*m, name);
  const rt::TensorDesc& d = m->tensors()[f.tensor_index].desc;
  EXPECT_EQ(d.encoding, Encoding::kPalette);
  f.view = d.palette;
  f.parts = rt::palette_parts(d.palette, dtype_size(d.dtype));
  const auto* root = flatbuffers::GetRoot<flatbuffers::Table>(f.bytes.data() + 4);
  f.weights_offset = root->GetField<uint64_t>(kModelWeightsOffset, 0);
  using Vec = flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>;
  const auto* t = root->GetPointer<const Vec*>(kModelTensors)->Get(static_cast<flatbuffers::uoffset_t>(f.tensor_index));
  f.data_offset = f.weights_offset + t->GetField<uint64_t>(kTensorDataOffset, 0);
  EXPECT_EQ(std::memcmp(f.bytes.data() + f.data_offset + f.parts.indices, d.palette.indices, f.parts.indices_bytes), 0);
}

flatbuffers::Table* tensor_table(std::vector<uint8_t>& bytes, size_t i) {
  auto* root = flatbuffers::GetMutableRoot<flatbuffers::Table>(bytes.data() + 4);
  using Vec = flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>;
  return root->GetPointer<Vec*>(kModelTensors)->GetMutableObject(static_cast<flatbuffers::uoffset_t>(i));
}

// A damaged file either fails to load with a message naming it (and `fragment`), or loads and
// then prepares and runs once without reading outside the file.
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

// Sets a field of the tensor's Palette table and expects the file rejected; false when the
// field is at its default (not stored, so not patchable in this file).
template <typename T>
bool patch_palette_field(const PaletteFile& f, flatbuffers::voffset_t field, T value, const std::string& fragment) {
  std::vector<uint8_t> bytes = f.bytes;
  flatbuffers::Table* p = tensor_table(bytes, f.tensor_index)->GetPointer<flatbuffers::Table*>(kTensorPalette);
  if (!p->CheckField(field)) return false;
  EXPECT_TRUE(p->SetField<T>(field, value, T{}));
  expect_rejected(bytes, fragment);
  return true;
}

TEST(PaletteFormat, EveryMetadataFieldIsChecked) {
  int patched = 0;
  for (const char* name : {"w", "q"}) {
    SCOPED_TRACE(name);
    PaletteFile f;
    ASSERT_NO_FATAL_FAILURE(make_palette_file(&f, name));
    const std::string where = std::string("'") + name + "'";
    EXPECT_EQ(f.view.per_row, std::string(name) == "w");
    for (int64_t rows : {int64_t{0}, int64_t{-4}, f.view.rows + 1, int64_t{1} << 40})
      patched += patch_palette_field<int64_t>(f, kPaletteRows, rows, "palette rows");
    for (int64_t cols : {int64_t{0}, int64_t{-1}, f.view.cols - 1, int64_t{1} << 40})
      patched += patch_palette_field<int64_t>(f, kPaletteCols, cols, "palette rows");
    for (int32_t bits : {0, 1, 9, -3, 1 << 30})
      patched += patch_palette_field<int32_t>(f, kPaletteBits, bits, "palette bits");
    patched += patch_palette_field<int32_t>(f, kPaletteBits, f.view.bits + 1, "palette metadata needs");
    for (int32_t entries : {0, -1, (1 << f.view.bits) + 1, 1 << 30})
      patched += patch_palette_field<int32_t>(f, kPaletteEntries, entries, "palette entries");
    if (f.view.per_row)  // one more entry per row changes the size; one table may keep it (padding)
      patched += patch_palette_field<int32_t>(f, kPaletteEntries, f.view.entries + 1, "palette metadata needs");
    patched += patch_palette_field<uint8_t>(f, kPalettePerRow, 0, "palette metadata needs");
    for (int32_t dtype : {2, 6, 99})
      patched += patch_palette_field<int32_t>(f, kPaletteDType, dtype, "palette entries of dtype");
    if (f.view.entries > 1 && f.view.entries < (1 << f.view.bits))  // fewer entries: an index is past them
      patched += patch_palette_field<int32_t>(f, kPaletteEntries, f.view.entries - 1, where);

    for (int32_t encoding : {0, 1, 9}) {
      std::vector<uint8_t> bytes = f.bytes;
      ASSERT_TRUE(tensor_table(bytes, f.tensor_index)->SetField<int32_t>(kTensorEncoding, encoding, 0));
      expect_rejected(bytes, encoding == 1 ? "sparse" : "invalid encoding");
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
  EXPECT_GT(patched, 25);
}

TEST(PaletteFormat, DamagedIndicesAreRejected) {
  PaletteFile f;  // 9 entries of 4 bits; 41 columns: 21 bytes a row
  ASSERT_NO_FATAL_FAILURE(make_palette_file(&f, "w"));
  ASSERT_EQ(f.view.bits, 4);
  ASSERT_EQ(f.view.entries, 9);
  const uint64_t indices = f.data_offset + f.parts.indices;
  const int64_t row_bytes = f.view.row_bytes;
  ASSERT_EQ(row_bytes, 21);
  for (int64_t row : {int64_t{0}, int64_t{7}, f.view.rows - 1}) {
    std::vector<uint8_t> b = f.bytes;
    b[indices + static_cast<uint64_t>(row * row_bytes + 3)] = 0x9f;  // index 15, then 9
    expect_rejected(b, "is not below the 9 entries");
    b = f.bytes;
    b[indices + static_cast<uint64_t>(row * row_bytes + 3)] = 0x29;  // index 9, then 2
    expect_rejected(b, "row " + std::to_string(row) + " col 6");
    b = f.bytes;
    b[indices + static_cast<uint64_t>(row * row_bytes + row_bytes - 1)] |= 0x10;
    expect_rejected(b, "unused high bits of row " + std::to_string(row));
  }
}

TEST(PaletteFormat, EveryMetadataAndIndexByteDamagedNeverCrashes) {
  size_t loaded = 0;
  for (const char* name : {"w", "q"}) {
    PaletteFile f;
    ASSERT_NO_FATAL_FAILURE(make_palette_file(&f, name));
    // Every byte of the flatbuffer (all the metadata) and of the palette's data range.
    std::vector<uint64_t> offsets;
    for (uint64_t o = 0; o < f.weights_offset; ++o) offsets.push_back(o);
    for (uint64_t o = f.data_offset; o < f.data_offset + f.parts.total; ++o) offsets.push_back(o);
    for (uint64_t o : offsets)
      for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
        std::vector<uint8_t> b = f.bytes;
        b[o] ^= flip;
        check_damaged(b, "damaged.pare", &loaded);
      }
    for (size_t len = 0; len < f.bytes.size(); len += 5) {
      std::vector<uint8_t> cut(f.bytes.begin(), f.bytes.begin() + static_cast<std::ptrdiff_t>(len));
      expect_rejected(cut, "damaged.pare");
    }
    std::mt19937 rng(name[0]);
    std::uniform_int_distribution<uint64_t> in_data(f.data_offset, f.data_offset + f.parts.total - 1);
    std::uniform_int_distribution<uint64_t> anywhere(0, f.bytes.size() - 1);
    std::uniform_int_distribution<int> byte(0, 255);
    for (int iter = 0; iter < 600; ++iter) {
      std::vector<uint8_t> b = f.bytes;
      for (int e = 0; e < 1 + iter % 3; ++e) b[iter % 2 ? in_data(rng) : anywhere(rng)] = static_cast<uint8_t>(byte(rng));
      check_damaged(b, "damaged.pare", &loaded);
    }
  }
  EXPECT_GT(loaded, 100u);  // damage to table values and names still loads, and runs
}

TEST(PaletteFormat, CliRejectsDamagedPaletteFilesAndInspectReportsLayers) {
  test::TempDir dir;
  PaletteFile f;
  ASSERT_NO_FATAL_FAILURE(make_palette_file(&f, "w"));
  const std::string good = dir.file("good.pare");
  test::write_file(good, std::string(f.bytes.begin(), f.bytes.end()));
  std::vector<uint8_t> b = f.bytes;
  b[f.data_offset + f.parts.indices] = 0xff;
  const std::string bad = dir.file("bad.pare");
  test::write_file(bad, std::string(b.begin(), b.end()));
  for (const char* cmd : {"inspect", "export-onnx"}) {
    std::vector<std::string> args = {cmd, bad};
    if (std::string(cmd) == "export-onnx") args.insert(args.end(), {"-o", dir.file("bad.onnx")});
    const test::CommandResult r = test::run_pare(args);
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.err;
    EXPECT_NE(r.err.find("bad.pare"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("'w'"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(test::file_exists(dir.file("bad.onnx")));

  const test::CommandResult r = test::run_pare({"inspect", good});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("palette4_per_row_float32"), std::string::npos) << r.out;
  const test::CommandResult js = test::run_pare({"inspect", good, "--json"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  const nlohmann::json j = nlohmann::json::parse(js.out);
  ASSERT_EQ(j["layers"].size(), 1u);  // fc2's weight comes through DequantizeLinear
  const nlohmann::json& fc = j["layers"][0];
  EXPECT_EQ(fc["encoding"], "palette4_per_row_float32");
  EXPECT_EQ(fc["palette"]["bits"], 4);
  EXPECT_EQ(fc["palette"]["entries"], 9);
  EXPECT_EQ(fc["palette"]["kind"], "per_row");
  EXPECT_EQ(fc["palette"]["dtype"], "float32");
  EXPECT_EQ(fc["stored_bytes"], f.parts.total);
  EXPECT_EQ(fc["dense_bytes"], 16 * 41 * 4);

  // export-onnx writes the weights dense: importing it back gives the original bytes.
  const test::CommandResult e = test::run_pare({"export-onnx", good, "-o", dir.file("good.onnx")});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const ir::Graph exported = onnx_import::import_model(dir.file("good.onnx"));
  const ir::Graph read = format::read_graph(good);
  size_t compared = 0;
  for (size_t i = 0; i < exported.tensor_capacity(); ++i) {
    const ir::Tensor& t = exported.tensor(static_cast<ir::TensorId>(i));
    if (t.name != "w") continue;
    for (size_t k = 0; k < read.tensor_capacity(); ++k)
      if (read.tensor(static_cast<ir::TensorId>(k)).name == "w") {
        EXPECT_EQ(t.data->bytes, read.tensor(static_cast<ir::TensorId>(k)).data->bytes);
        ++compared;
      }
  }
  EXPECT_EQ(compared, 1u);
}

}  // namespace
}  // namespace pare
