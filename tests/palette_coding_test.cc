// Palette tables per column and entropy-coded (canonical Huffman) palette indices: the code
// construction, hand-written streams that pin the bit order, exact round trips, the writer's
// choice, the decode speed, and a loader that rejects or survives every damaged part.
#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "formats/pare/palette_encoding.h"
#include "formats/pare/writer.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"
#include "runtime/interpreter.h"
#include "runtime/kernels/lutgemm/lutgemm.h"
#include "runtime/model.h"
#include "runtime/palette.h"
#include "runtime/sparse.h"
#include "tests/support/graph_builder.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

using format::PaletteTables;
using rt::Model;
using rt::PaletteCoding;
using rt::Status;

// ---- the code ----------------------------------------------------------------------------------

// Cost (sum of count x length) and longest code of an unrestricted Huffman code.
std::pair<uint64_t, int> huffman_cost(const std::vector<uint64_t>& counts) {
  using Node = std::pair<uint64_t, int>;  // weight, depth of the subtree
  std::priority_queue<Node, std::vector<Node>, std::greater<>> q;
  for (uint64_t c : counts)
    if (c) q.push({c, 0});
  uint64_t cost = 0;
  while (q.size() > 1) {
    const Node a = q.top();
    q.pop();
    const Node b = q.top();
    q.pop();
    cost += a.first + b.first;
    q.push({a.first + b.first, std::max(a.second, b.second) + 1});
  }
  return {cost, q.empty() ? 0 : q.top().second};
}

uint64_t cost_of(const std::vector<uint64_t>& counts, const std::vector<uint8_t>& lengths) {
  uint64_t cost = 0;
  for (size_t i = 0; i < counts.size(); ++i) cost += counts[i] * lengths[i];
  return cost;
}

// Kraft sum in units of 2^-15.
uint32_t kraft(const std::vector<uint8_t>& lengths) {
  uint32_t sum = 0;
  for (uint8_t l : lengths)
    if (l) sum += 1u << (15 - l);
  return sum;
}

TEST(PaletteCoding, LimitedCodeLengthsAreOptimalWithinFifteenBits) {
  std::mt19937 rng(3);
  int limited = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n = 1 + rng() % 256;
    std::vector<uint64_t> counts(n);
    for (uint64_t& c : counts) c = rng() % 4 == 0 ? 0 : 1 + rng() % (trial % 2 ? 1000000 : 10);
    const std::vector<uint8_t> lengths = format::limited_code_lengths(counts, 15);
    ASSERT_EQ(lengths.size(), n);
    size_t used = 0;
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(lengths[i] == 0, counts[i] == 0);
      EXPECT_LE(lengths[i], 15);
      used += counts[i] != 0;
    }
    if (used == 0) continue;
    EXPECT_LE(kraft(lengths), 1u << 15);
    if (used == 1) continue;
    EXPECT_EQ(kraft(lengths), 1u << 15);  // complete
    // As good as unrestricted Huffman when that needs no code past 15 bits; else close.
    const auto [best, longest] = huffman_cost(counts);
    if (longest <= 15) {
      EXPECT_EQ(cost_of(counts, lengths), best);
    } else {
      ++limited;
      EXPECT_GE(cost_of(counts, lengths), best);
      EXPECT_LE(cost_of(counts, lengths), best + best / 100);
    }
  }
  EXPECT_GE(limited, 1);
  // Fibonacci counts: unrestricted Huffman needs codes of 20+ bits.
  std::vector<uint64_t> fib = {1, 1};
  while (fib.size() < 24) fib.push_back(fib[fib.size() - 1] + fib[fib.size() - 2]);
  const std::vector<uint8_t> lengths = format::limited_code_lengths(fib, 15);
  EXPECT_EQ(*std::max_element(lengths.begin(), lengths.end()), 15);
  EXPECT_EQ(kraft(lengths), 1u << 15);
  EXPECT_GT(huffman_cost(fib).second, 20);
  EXPECT_LE(cost_of(fib, lengths), huffman_cost(fib).first * 101 / 100);  // near optimal
  EXPECT_EQ(format::limited_code_lengths({0, 7, 0}, 15), (std::vector<uint8_t>{0, 1, 0}));
}

// A hand-made kHuffman view of `entries` float tables per row over `data` (tables, code
// lengths, stream at the offsets palette_parts gives).
struct HandStream {
  std::vector<uint8_t> data;
  rt::PaletteView view;
};

HandStream hand_stream(int64_t rows, int64_t cols, const std::vector<uint8_t>& lengths,
                       const std::vector<uint8_t>& stream, int64_t stream_bits) {
  HandStream h;
  rt::PaletteView& v = h.view;
  v.rows = rows;
  v.cols = cols;
  v.entries = static_cast<int32_t>(lengths.size());
  v.bits = std::max(2, static_cast<int>(std::ceil(std::log2(static_cast<double>(v.entries)))));
  v.per_row = false;
  v.coding = PaletteCoding::kHuffman;
  v.stream_bits = stream_bits;
  const rt::PaletteParts parts = rt::palette_parts(v, 4);
  h.data.assign(parts.total, 0);
  for (int32_t e = 0; e < v.entries; ++e) {
    const float f = static_cast<float>(e);
    std::memcpy(&h.data[parts.tables + static_cast<size_t>(e) * 4], &f, 4);
  }
  std::copy(lengths.begin(), lengths.end(), h.data.begin() + static_cast<std::ptrdiff_t>(parts.code_lengths));
  std::copy(stream.begin(), stream.end(), h.data.begin() + static_cast<std::ptrdiff_t>(parts.indices));
  rt::bind_palette_parts(&v, parts, h.data.data());
  return h;
}

std::vector<float> decoded(const HandStream& h) {
  std::vector<float> out(static_cast<size_t>(h.view.rows * h.view.cols), -1.f);
  rt::kernels::palette_densify(h.view, out.data());
  return out;
}

TEST(PaletteCoding, HandWrittenStreamsPinTheBitOrder) {
  // Lengths 1, 2, 2: canonical codes 0 -> 0, 1 -> 10, 2 -> 11 (first bit written first).
  // Indices 0 1 2 0 are the bits 0 10 11 0, filled from each byte's least significant bit:
  // 0b00011010.
  {
    const HandStream h = hand_stream(2, 2, {1, 2, 2}, {0x1A}, 6);
    std::string problem;
    EXPECT_TRUE(rt::check_palette_indices(h.view, &problem)) << problem;
    EXPECT_EQ(decoded(h), (std::vector<float>{0, 1, 2, 0}));
  }
  // Lengths 2, 1, 2 (symbol 1 shortest): 1 -> 0, 0 -> 10, 2 -> 11. Indices 2 2 1 0 1:
  // 11 11 0 10 0 -> bits 0..7 = 1,1,1,1,0,1,0,0 = 0x2F.
  {
    const HandStream h = hand_stream(1, 5, {2, 1, 2}, {0x2F}, 8);
    std::string problem;
    EXPECT_TRUE(rt::check_palette_indices(h.view, &problem)) << problem;
    EXPECT_EQ(decoded(h), (std::vector<float>{2, 2, 1, 0, 1}));
  }
  // Codes past the 10-bit first-level table: lengths 1, 2, .., 11, 12, 12; symbol 12 is
  // twelve 1 bits, symbol 11 eleven 1 bits and a 0, symbol 0 a single 0.
  // Indices 12 0 11: bits 0-11 one, 12 zero, 13-23 one, 24 zero: FF EF FF 00, 25 bits.
  {
    std::vector<uint8_t> lengths;
    for (uint8_t l = 1; l <= 12; ++l) lengths.push_back(l);
    lengths.push_back(12);
    const HandStream h = hand_stream(1, 3, lengths, {0xFF, 0xEF, 0xFF, 0x00}, 25);
    std::string problem;
    EXPECT_TRUE(rt::check_palette_indices(h.view, &problem)) << problem;
    EXPECT_EQ(decoded(h), (std::vector<float>{12, 0, 11}));
  }
  // One used symbol: length 1, code 0 (an incomplete code); the code 1 is unassigned.
  {
    const HandStream ok = hand_stream(1, 3, {0, 1}, {0x00}, 3);
    std::string problem;
    EXPECT_TRUE(rt::check_palette_indices(ok.view, &problem)) << problem;
    EXPECT_EQ(decoded(ok), (std::vector<float>{1, 1, 1}));
    const HandStream bad = hand_stream(1, 3, {0, 1}, {0x02}, 3);
    EXPECT_FALSE(rt::check_palette_indices(bad.view, &problem));
    EXPECT_NE(problem.find("unassigned"), std::string::npos) << problem;
  }
  // What the loader's one pass rejects.
  struct Bad {
    std::vector<uint8_t> lengths, stream;
    int64_t cols, bits;
    const char* fragment;
  };
  for (const Bad& b : std::vector<Bad>{
           {{1, 2, 2}, {0x1A}, 4, 5, "ends past"},                   // the last code needs bit 5
           {{1, 2, 2}, {0x1A}, 3, 6, "end at bit 5"},                 // a bit left over
           {{1, 2, 2}, {0x5A}, 4, 6, "unused high bits"},             // bit 6 set
           {{1, 1, 2}, {0x1A}, 4, 6, "Kraft"},                        // not a prefix code
           {{16, 1, 1}, {0x1A}, 4, 6, "above 15"},
           {{0, 0, 0}, {0x1A}, 4, 6, "no index has a code"},
       }) {
    const HandStream h = hand_stream(1, b.cols, b.lengths, b.stream, b.bits);
    std::string problem;
    EXPECT_FALSE(rt::check_palette_indices(h.view, &problem)) << b.fragment;
    EXPECT_NE(problem.find(b.fragment), std::string::npos) << problem;
  }
}

// ---- round trips and the writer's choice --------------------------------------------------------

// A [rows, cols] matrix of `dtype` whose table (per row, per column or one) holds `values`
// (floats: distinct from other tables')
// distinct values, drawn with weights decaying by `skew` per value (1: each value in turn).
std::vector<uint8_t> drawn(DType dtype, int64_t rows, int64_t cols, PaletteTables tables, int values, double skew,
                           uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<double> weights;
  for (int i = 0; i < values; ++i) weights.push_back(std::pow(skew, -i));
  std::discrete_distribution<int> pick(weights.begin(), weights.end());
  const int64_t count = tables == PaletteTables::kPerRow ? rows : tables == PaletteTables::kPerColumn ? cols : 1;
  std::vector<std::vector<uint8_t>> table_values(static_cast<size_t>(count));
  for (auto& t : table_values) {  // distinct bytes: int8 values, or the high byte of a float
    std::vector<int> bytes(256);
    for (int i = 0; i < 256; ++i) bytes[static_cast<size_t>(i)] = i;
    std::shuffle(bytes.begin(), bytes.end(), rng);
    for (int i = 0; i < values; ++i) t.push_back(static_cast<uint8_t>(bytes[static_cast<size_t>(i)]));
  }
  const size_t esize = dtype_size(dtype);
  std::vector<uint8_t> out(static_cast<size_t>(rows * cols) * esize, 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const auto& t = table_values[static_cast<size_t>(tables == PaletteTables::kPerRow ? r : tables == PaletteTables::kPerColumn ? c : 0)];
      // Every value appears; skew 1: each table's values in turn, equally often.
      const int64_t along = tables == PaletteTables::kPerColumn ? r : c;
      const int i = skew == 1.0 ? static_cast<int>(along % values)
                    : r * cols + c < values ? static_cast<int>(r * cols + c) : pick(rng);
      const uint8_t v = t[static_cast<size_t>(std::min(i, values - 1))];
      if (esize == 1) {
        out[static_cast<size_t>(r * cols + c)] = v;
      } else {
        const float f = static_cast<float>(v) / 16.f + 32.f * static_cast<float>(&t - table_values.data());
        std::memcpy(&out[static_cast<size_t>(r * cols + c) * 4], &f, 4);
      }
    }
  return out;
}

// Encodes `bytes` with `layout`, checks and densifies it as the loader and prepare would.
void expect_round_trip(const std::vector<uint8_t>& bytes, const rt::PaletteView& layout) {
  std::vector<uint8_t> stored = format::encode_palette(bytes.data(), layout);
  const rt::PaletteParts parts = rt::palette_parts(layout, dtype_size(layout.dtype));
  ASSERT_EQ(stored.size(), parts.total);
  rt::PaletteView v = layout;
  rt::bind_palette_parts(&v, parts, stored.data());
  std::string problem;
  ASSERT_TRUE(rt::check_palette_indices(v, &problem)) << problem;
  std::vector<uint8_t> dense(bytes.size(), 0xAB);
  rt::kernels::palette_densify(v, dense.data());
  EXPECT_EQ(dense, bytes);
  if (v.coding == PaletteCoding::kHuffman) {
    EXPECT_NE(v.code_lengths[0], 0);  // index 0 is the most used value: never without a code
    for (int32_t e = 1; e < v.entries; ++e) EXPECT_LE(v.code_lengths[0], std::max<uint8_t>(v.code_lengths[e], 1));
  }
}

TEST(PaletteCoding, RoundTripsAreExact) {
  int checked = 0;
  for (DType dtype : {DType::kFloat32, DType::kInt8})
    for (PaletteTables tables : {PaletteTables::kPerRow, PaletteTables::kPerColumn, PaletteTables::kPerTensor})
      for (int values : {1, 2, 5, 16, 100, 256})
        for (double skew : {1.0, 1.5, 4.0})
          for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {17, 33}, {64, 96}}) {
            SCOPED_TRACE(std::string(dtype_name(dtype)) + " tables " + std::to_string(static_cast<int>(tables)) +
                         " values " + std::to_string(values) + " skew " + std::to_string(skew) + " " +
                         std::to_string(rows) + "x" + std::to_string(cols));
            const std::vector<uint8_t> bytes =
                drawn(dtype, rows, cols, tables, values, skew, static_cast<uint32_t>(values * 7 + rows));
            for (PaletteCoding coding : {PaletteCoding::kPacked, PaletteCoding::kHuffman}) {
              const auto layout = format::palette_layout(bytes.data(), dtype, rows, cols, tables, coding);
              ASSERT_TRUE(layout);
              expect_round_trip(bytes, *layout);
              ++checked;
            }
            // The writer's pick (any size), too.
            if (auto best = format::palette_layout(bytes.data(), dtype, rows, cols, UINT64_MAX, UINT64_MAX)) expect_round_trip(bytes, *best);
          }
  EXPECT_EQ(checked, 2 * 3 * 6 * 3 * 4 * 2);
}

TEST(PaletteCoding, WriterCodesSkewedIndicesAndPacksUniformOnes) {
  const int64_t rows = 64, cols = 256;
  for (DType dtype : {DType::kFloat32, DType::kInt8}) {
    // 16 values per row, each used about as often: 4 bits packed beat any code.
    const std::vector<uint8_t> uniform = drawn(dtype, rows, cols, PaletteTables::kPerRow, 16, 1.0, 1);
    auto u = format::palette_layout(uniform.data(), dtype, rows, cols, UINT64_MAX, UINT64_MAX);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->coding, PaletteCoding::kPacked);
    EXPECT_TRUE(u->per_row);
    // Half or more zeros (pruned and clustered): the code wins.
    const std::vector<uint8_t> skewed = drawn(dtype, rows, cols, PaletteTables::kPerRow, 16, 2.0, 2);
    auto s = format::palette_layout(skewed.data(), dtype, rows, cols, UINT64_MAX, UINT64_MAX);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->coding, PaletteCoding::kHuffman);
    EXPECT_TRUE(s->per_row);
    const auto packed = format::palette_layout(skewed.data(), dtype, rows, cols, PaletteTables::kPerRow, PaletteCoding::kPacked);
    EXPECT_LT(rt::palette_parts(*s, dtype_size(dtype)).total, rt::palette_parts(*packed, dtype_size(dtype)).total * 8 / 10);
    EXPECT_LT(s->stream_bits, rows * cols * 3);  // 2 bits of entropy per index
    EXPECT_EQ(format::palette_layout(skewed.data(), dtype, rows, cols, UINT64_MAX, 0)->coding, PaletteCoding::kPacked);
  }
}

TEST(PaletteCoding, WriterGivesColumnsOfAKxNWeightTheirTables) {
  // int8 [K, N]: each column 16 values of its own, so a row holds about N distinct values.
  const int64_t k = 128, n = 64;
  const std::vector<uint8_t> bytes = drawn(DType::kInt8, k, n, PaletteTables::kPerColumn, 16, 1.0, 9);
  for (bool huffman : {false, true}) {
    auto layout = format::palette_layout(bytes.data(), DType::kInt8, k, n, UINT64_MAX, huffman ? UINT64_MAX : 0);
    ASSERT_TRUE(layout);
    EXPECT_TRUE(layout->per_column);
    EXPECT_FALSE(layout->per_row);
    EXPECT_EQ(layout->entries, 16);
    EXPECT_EQ(layout->coding, PaletteCoding::kPacked);  // uniform: nothing to gain
    expect_round_trip(bytes, *layout);
    rt::PaletteView v = *layout;
    EXPECT_FALSE(rt::kernels::lutgemm_packable(v, true));  // the op gets a dense copy
    EXPECT_FALSE(rt::kernels::lutgemm_packable(v, false));
  }
}

// Checks and densifies a MobileNetV2-sized tensor and prints the times (a timing is reported,
// never asserted: sanitizer builds and busy machines run many times slower).
TEST(PaletteCoding, DecodesAMobileNetSizedTensor) {
  // MobileNetV2-224 holds 3.5M weights; 4-bit clusters of bell-shaped weights, per row.
  const int64_t rows = 1000, cols = 3500;
  const std::vector<uint8_t> bytes = drawn(DType::kFloat32, rows, cols, PaletteTables::kPerRow, 16, 1.4, 5);
  const auto layout = format::palette_layout(bytes.data(), DType::kFloat32, rows, cols, PaletteTables::kPerRow,
                                             PaletteCoding::kHuffman);
  ASSERT_TRUE(layout);
  std::vector<uint8_t> stored = format::encode_palette(bytes.data(), *layout);
  rt::PaletteView v = *layout;
  rt::bind_palette_parts(&v, rt::palette_parts(v, 4), stored.data());
  std::vector<uint8_t> dense(bytes.size());
  std::vector<double> check_ms, densify_ms;
  for (int round = 0; round < 5; ++round) {
    auto start = std::chrono::steady_clock::now();
    std::string problem;
    ASSERT_TRUE(rt::check_palette_indices(v, &problem)) << problem;
    auto mid = std::chrono::steady_clock::now();
    rt::kernels::palette_densify(v, dense.data());
    auto end = std::chrono::steady_clock::now();
    check_ms.push_back(std::chrono::duration<double, std::milli>(mid - start).count());
    densify_ms.push_back(std::chrono::duration<double, std::milli>(end - mid).count());
  }
  EXPECT_EQ(dense, bytes);
  std::sort(check_ms.begin(), check_ms.end());
  std::sort(densify_ms.begin(), densify_ms.end());
  std::printf("3.5M indices, %.2f bits each: check %.2f ms, densify %.2f ms (medians of 5)\n",
              static_cast<double>(v.stream_bits) / static_cast<double>(rows * cols), check_ms[2], densify_ms[2]);
}


// ---- damaged files ------------------------------------------------------------------------------

// Field ids of the schema (4 + 2 * field index).
enum : flatbuffers::voffset_t { kModelTensors = 6, kModelWeightsOffset = 16 };
enum : flatbuffers::voffset_t { kTensorDataOffset = 12, kTensorDataSize = 14, kTensorPalette = 24 };
enum : flatbuffers::voffset_t { kPalettePerRow = 12, kPalettePerColumn = 16, kPaletteCoding = 18, kPaletteStreamBits = 20 };

std::shared_ptr<const Model> load(const std::vector<uint8_t>& bytes) {
  auto r = Model::load_buffer(bytes.data(), bytes.size(), "coded.pare");
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? r.value() : nullptr;
}

// x[3, 24] -> MatMul (w [24, 41]: 16 values a row, skewed: coded indices) -> y, and
// x2[3, 64] -> MatMul (k [64, 32]: 16 values a column, each as often: packed, per column) -> y2.
struct CodedFile {
  std::vector<uint8_t> bytes;
  size_t w = 0, k = 0;  // tensor indices
  uint64_t weights_offset = 0;
};

std::vector<float> as_floats(const std::vector<uint8_t>& b) {
  std::vector<float> f(b.size() / 4);
  std::memcpy(f.data(), b.data(), b.size());
  return f;
}

void make_coded_file(CodedFile* out) {
  test::GraphBuilder b;
  const std::vector<uint8_t> w = drawn(DType::kFloat32, 24, 41, PaletteTables::kPerRow, 16, 1.4, 31);
  const std::vector<uint8_t> k = drawn(DType::kFloat32, 64, 32, PaletteTables::kPerColumn, 16, 1.0, 32);
  b.output(b.apply(ir::OpKind::kMatMul, "fc", {b.input("x", {3, 24}), b.floats("w", {24, 41}, as_floats(w))}));
  b.output(b.apply(ir::OpKind::kMatMul, "fc2", {b.input("x2", {3, 64}), b.floats("k", {64, 32}, as_floats(k))}));
  for (ir::NodeId n : b.g.nodes()) ir::infer_node(b.g, n);
  format::WriteOptions o;
  o.producer_version = "0.1.0";
  CodedFile& f = *out;
  f.bytes = format::serialize(b.g, o);
  auto m = load(f.bytes);
  ASSERT_TRUE(m);
  for (size_t i = 0; i < m->tensors().size(); ++i) {
    if (m->tensors()[i].desc.name == "w") f.w = i;
    if (m->tensors()[i].desc.name == "k") f.k = i;
  }
  const rt::PaletteView& wv = m->tensors()[f.w].desc.palette;
  const rt::PaletteView& kv = m->tensors()[f.k].desc.palette;
  EXPECT_TRUE(wv.per_row && wv.coding == PaletteCoding::kHuffman);
  EXPECT_TRUE(kv.per_column && kv.coding == PaletteCoding::kPacked);
  std::vector<uint8_t> back(24 * 41 * 4);
  rt::densify(m->tensors()[f.w].desc, back.data());
  EXPECT_EQ(back, w);
  f.weights_offset = flatbuffers::GetRoot<flatbuffers::Table>(f.bytes.data() + 4)->GetField<uint64_t>(kModelWeightsOffset, 0);
}

flatbuffers::Table* tensor_table(std::vector<uint8_t>& bytes, size_t i) {
  auto* root = flatbuffers::GetMutableRoot<flatbuffers::Table>(bytes.data() + 4);
  using Vec = flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>;
  return root->GetPointer<Vec*>(kModelTensors)->GetMutableObject(static_cast<flatbuffers::uoffset_t>(i));
}

flatbuffers::Table* palette_table(std::vector<uint8_t>& bytes, size_t i) {
  return tensor_table(bytes, i)->GetPointer<flatbuffers::Table*>(kTensorPalette);
}

// The data range [begin, end) of tensor i in the file.
std::pair<uint64_t, uint64_t> data_range(std::vector<uint8_t> bytes, const CodedFile& f, size_t i) {
  flatbuffers::Table* t = tensor_table(bytes, i);
  const uint64_t begin = f.weights_offset + t->GetField<uint64_t>(kTensorDataOffset, 0);
  return {begin, begin + t->GetField<uint64_t>(kTensorDataSize, 0)};
}

// A damaged file either fails to load with a message naming it (and `fragment`), or loads,
// then prepares and runs once without a crash.
void check_damaged(const std::vector<uint8_t>& bytes, const std::string& fragment, size_t* loaded) {
  auto r = Model::load_buffer(bytes.data(), bytes.size(), "damaged.pare");
  if (!r.is_ok()) {
    EXPECT_TRUE(r.status().code() == Status::kBadFile || r.status().code() == Status::kBadModel) << r.status().message();
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
    return;
  }
  ++*loaded;
  auto created = rt::Interpreter::create(r.value());
  if (!created.is_ok()) return;
  rt::Interpreter& it = *created.value();
  for (size_t i = 0; i < it.num_inputs(); ++i) std::memset(it.input_data(i), 0, it.input(i).byte_size());
  const Status ran = it.invoke();
  EXPECT_NE(ran.code(), Status::kInternal) << ran.message();
}

void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  size_t loaded = 0;
  check_damaged(bytes, fragment, &loaded);
  EXPECT_EQ(loaded, 0u) << "loaded although damaged: " << fragment;
}

TEST(PaletteCoding, DamagedMetadataIsRejected) {
  CodedFile f;
  ASSERT_NO_FATAL_FAILURE(make_coded_file(&f));
  {  // per_column read from per_row's byte: both set.
    std::vector<uint8_t> b = f.bytes;
    flatbuffers::Table* p = palette_table(b, f.w);
    auto* vtable = const_cast<uint8_t*>(p->GetVTable());
    ASSERT_GT(flatbuffers::ReadScalar<flatbuffers::voffset_t>(vtable), kPalettePerColumn);
    flatbuffers::WriteScalar<flatbuffers::voffset_t>(vtable + kPalettePerColumn,
                                                     flatbuffers::ReadScalar<flatbuffers::voffset_t>(vtable + kPalettePerRow));
    expect_rejected(b, "both per row and per column");
  }
  for (int32_t coding : {0, 2, -1}) {
    std::vector<uint8_t> b = f.bytes;
    ASSERT_TRUE(palette_table(b, f.w)->SetField<int32_t>(kPaletteCoding, coding, 0));
    expect_rejected(b, coding == 0 ? "with packed indices" : "invalid palette coding");
  }
  const int64_t bits = palette_table(const_cast<std::vector<uint8_t>&>(f.bytes), f.w)->GetField<int64_t>(kPaletteStreamBits, 0);
  for (int64_t patched : std::vector<int64_t>{0, -1, 24 * 41 - 1, 24 * 41 * 15 + 1, bits - 8, bits + 8, int64_t{1} << 60})
    if (std::vector<uint8_t> b = f.bytes; palette_table(b, f.w)->SetField<int64_t>(kPaletteStreamBits, patched, 0))
      expect_rejected(b, "'w'");
  for (int64_t patched : {bits - 1, bits + 1}) {  // the same bytes, or one more: the stream is checked
    std::vector<uint8_t> b = f.bytes;
    ASSERT_TRUE(palette_table(b, f.w)->SetField<int64_t>(kPaletteStreamBits, patched, 0));
    expect_rejected(b, "'w'");
  }
  // A per-column table with the tensor's one table's size: per_column cleared.
  std::vector<uint8_t> b = f.bytes;
  ASSERT_TRUE(palette_table(b, f.k)->SetField<uint8_t>(kPalettePerColumn, 0, 0));
  expect_rejected(b, "palette metadata needs");
}

TEST(PaletteCoding, EveryDataByteAndTruncationDamagedNeverCrashes) {
  CodedFile f;
  ASSERT_NO_FATAL_FAILURE(make_coded_file(&f));
  size_t loaded = 0, rejected_stream = 0;
  for (size_t tensor : {f.w, f.k}) {
    const auto [begin, end] = data_range(f.bytes, f, tensor);
    for (uint64_t o = begin; o < end; ++o)
      for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x10}, uint8_t{0x80}, uint8_t{0xff}}) {
        std::vector<uint8_t> b = f.bytes;
        b[o] ^= flip;
        const size_t before = loaded;
        check_damaged(b, "damaged.pare", &loaded);
        rejected_stream += tensor == f.w && loaded == before;
      }
  }
  for (size_t len = 0; len < f.bytes.size(); len += 3) {
    std::vector<uint8_t> cut(f.bytes.begin(), f.bytes.begin() + static_cast<std::ptrdiff_t>(len));
    expect_rejected(cut, "damaged.pare");
  }
  // Flips in the float tables load (and run); in the code lengths and the stream, nearly all fail.
  EXPECT_GT(loaded, 500u);
  EXPECT_GT(rejected_stream, 300u);
}

TEST(PaletteCoding, InspectNamesTablesAndCoding) {
  CodedFile f;
  ASSERT_NO_FATAL_FAILURE(make_coded_file(&f));
  test::TempDir dir;
  test::write_file(dir.file("c.pare"), std::string(f.bytes.begin(), f.bytes.end()));
  const test::CommandResult r = test::run_pare({"inspect", dir.file("c.pare"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["layers"].size(), 2u);
  for (const nlohmann::json& layer : j["layers"]) {
    if (layer["name"] == "fc") {
      EXPECT_EQ(layer["encoding"], "palette4_per_row_float32_huffman");
      EXPECT_EQ(layer["palette"]["coding"], "huffman");
      EXPECT_LT(layer["palette"]["bits_per_index"].get<double>(), 3.0);
      EXPECT_GT(layer["palette"]["bits_per_index"].get<double>(), 1.0);
    } else {
      EXPECT_EQ(layer["encoding"], "palette4_per_column_float32");
      EXPECT_EQ(layer["palette"]["kind"], "per_column");
      EXPECT_EQ(layer["palette"]["bits_per_index"].get<double>(), 4.0);
    }
  }
}

}  // namespace
}  // namespace pare
