// The .pare writer and loader together: round trips, determinism, layout, and a loader
// that rejects every damaged file with a clear error instead of crashing.
#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "formats/pare/schema_generated.h"
#include "formats/pare/writer.h"
#include "ir/graph.h"
#include "ir/status.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "runtime/sha256.h"
#include "tests/support/test_util.h"

namespace pare {
namespace {

using rt::Model;
using rt::Status;

// x[2,3] -> Relu -> r; y = r + w; z = y + b. Tensors after compact(): x0 r1 w2 y3 b4 z5.
ir::Graph relu_add_graph() {
  ir::Graph g;
  ir::Tensor x;
  x.name = "x";
  x.dtype = ir::DType::kFloat32;
  x.shape = ir::Shape({2, 3});
  const ir::TensorId xi = g.add_tensor(x);
  ir::Tensor r = x, y = x, z = x;
  r.name = "r";
  y.name = "y";
  z.name = "z";
  const ir::TensorId ri = g.add_tensor(r), yi = g.add_tensor(y), zi = g.add_tensor(z);
  const ir::TensorId wi =
      ir::add_constant<float>(g, "w", ir::DType::kFloat32, {2, 3}, {1.f, -2.f, 3.f, -4.f, 5.f, -6.f});
  const ir::TensorId bi =
      ir::add_constant<float>(g, "b", ir::DType::kFloat32, {2, 3}, {0.5f, 0.5f, 0.5f, 1.f, 1.f, 1.f});
  ir::Node relu;
  relu.op = ir::OpKind::kRelu;
  relu.name = "block/relu";
  relu.inputs = {xi};
  relu.outputs = {ri};
  ir::Node add1;
  add1.op = ir::OpKind::kAdd;
  add1.name = "block/add_w";
  add1.inputs = {ri, wi};
  add1.outputs = {yi};
  ir::Node add2 = add1;
  add2.name = "block/add_b";
  add2.inputs = {yi, bi};
  add2.outputs = {zi};
  // Inserted out of order: compact() must put them in topological order.
  g.add_node(add2);
  g.add_node(relu);
  g.add_node(add1);
  g.inputs = {xi};
  g.outputs = {zi};
  g.name = "relu_add";
  return g;
}

format::WriteOptions options() {
  format::WriteOptions o;
  o.producer_version = "0.1.0";
  o.pipeline = "fold,quantize(calib=kl)";
  o.source_file = "model.onnx";
  o.source_hash = std::string(64, 'a');
  o.report_summary = "size 1.0x";
  // Dense files: b's rows of one value each would be stored as a palette, which
  // palette_format_test.cc covers.
  o.palette_weights = false;
  return o;
}

std::shared_ptr<const Model> load(const std::vector<uint8_t>& bytes) {
  auto r = Model::load_buffer(bytes.data(), bytes.size(), "test.pare");
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? r.value() : nullptr;
}

int find(const Model& m, const std::string& name) {
  for (size_t i = 0; i < m.tensors().size(); ++i)
    if (m.tensors()[i].desc.name == name) return static_cast<int>(i);
  return -1;
}

std::vector<float> floats(const void* p, size_t n) {
  std::vector<float> v(n);
  std::memcpy(v.data(), p, n * sizeof(float));
  return v;
}

TEST(Format, RoundTripsTensorsNodesSignatureAndMetadata) {
  const std::vector<uint8_t> bytes = format::serialize(relu_add_graph(), options());
  auto m = load(bytes);
  ASSERT_TRUE(m);

  ASSERT_EQ(m->tensors().size(), 6u);
  const char* names[] = {"x", "r", "w", "y", "b", "z"};
  for (int i = 0; i < 6; ++i) {
    const rt::ModelTensor& t = m->tensors()[i];
    EXPECT_EQ(t.desc.name, names[i]);
    EXPECT_EQ(t.desc.dtype, rt::DType::kFloat32);
    EXPECT_EQ(t.desc.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_FALSE(t.desc.quantized);
  }
  const rt::ModelTensor& w = m->tensors()[2];
  ASSERT_NE(w.desc.constant, nullptr);
  EXPECT_EQ(w.arena_offset, -1);
  EXPECT_EQ(floats(w.desc.constant, 6), (std::vector<float>{1, -2, 3, -4, 5, -6}));
  EXPECT_EQ(floats(m->tensors()[4].desc.constant, 6), (std::vector<float>{0.5f, 0.5f, 0.5f, 1, 1, 1}));
  EXPECT_EQ(m->tensors()[0].desc.constant, nullptr);

  // Lifetimes x[-1,0] r[0,1] y[1,2] z[2,end], 24 bytes each: x->0, r->64, y->0, z->64.
  EXPECT_EQ(m->tensors()[0].arena_offset, 0);
  EXPECT_EQ(m->tensors()[1].arena_offset, 64);
  EXPECT_EQ(m->tensors()[3].arena_offset, 0);
  EXPECT_EQ(m->tensors()[5].arena_offset, 64);
  EXPECT_EQ(m->arena_bytes(), 128u);

  ASSERT_EQ(m->nodes().size(), 3u);
  EXPECT_EQ(m->nodes()[0].op, "Relu");
  EXPECT_EQ(m->nodes()[0].name, "block/relu");
  EXPECT_EQ(m->nodes()[0].inputs, (std::vector<int32_t>{0}));
  EXPECT_EQ(m->nodes()[0].outputs, (std::vector<int32_t>{1}));
  EXPECT_EQ(m->nodes()[1].op, "Add");
  EXPECT_EQ(m->nodes()[1].name, "block/add_w");
  EXPECT_EQ(m->nodes()[1].inputs, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(m->nodes()[1].outputs, (std::vector<int32_t>{3}));
  EXPECT_EQ(m->nodes()[2].name, "block/add_b");
  EXPECT_EQ(m->nodes()[2].inputs, (std::vector<int32_t>{3, 4}));
  for (const rt::NodeDesc& n : m->nodes()) {
    EXPECT_EQ(n.activation.kind, rt::ActivationKind::kNone);
    EXPECT_TRUE(n.attrs.all().empty());
  }

  EXPECT_EQ(m->inputs(), (std::vector<int32_t>{0}));
  EXPECT_EQ(m->outputs(), (std::vector<int32_t>{5}));

  const rt::ModelMetadata& md = m->metadata();
  EXPECT_EQ(md.producer, "pare");
  EXPECT_EQ(md.producer_version, "0.1.0");
  EXPECT_EQ(md.pipeline, "fold,quantize(calib=kl)");
  EXPECT_EQ(md.source_file, "model.onnx");
  EXPECT_EQ(md.source_hash, std::string(64, 'a'));
  EXPECT_EQ(md.report_summary, "size 1.0x");
  EXPECT_EQ(md.schema_version, format::kSchemaVersion);
  EXPECT_EQ(m->file_bytes(), bytes.size());
}

TEST(Format, ContentHashCoversEveryByteAndIsCheckedOnRequest) {
  const std::vector<uint8_t> bytes = format::serialize(relu_add_graph(), {});
  EXPECT_EQ(format::serialize(relu_add_graph(), {}), bytes) << "the hash keeps the output deterministic";
  // The stored hash is the SHA-256 of the file with the hash field as zeros.
  const auto* field = fb::GetSizePrefixedModel(bytes.data())->content_sha256();
  ASSERT_NE(field, nullptr);
  ASSERT_EQ(field->size(), rt::kContentHashBytes);
  const size_t at = static_cast<size_t>(field->data() - bytes.data());
  std::vector<uint8_t> zeroed = bytes;
  std::fill(zeroed.begin() + static_cast<std::ptrdiff_t>(at),
            zeroed.begin() + static_cast<std::ptrdiff_t>(at + rt::kContentHashBytes), 0);
  rt::Sha256 sha;
  sha.update(zeroed.data(), zeroed.size());
  const std::array<uint8_t, 32> digest = sha.finish();
  EXPECT_TRUE(std::equal(digest.begin(), digest.end(), bytes.begin() + static_cast<std::ptrdiff_t>(at)));

  auto model = rt::Model::load_buffer(bytes.data(), bytes.size(), "m.pare");
  ASSERT_TRUE(model.is_ok()) << model.status().message();
  EXPECT_TRUE(model.value()->has_content_hash());
  EXPECT_TRUE(model.value()->verify_integrity().is_ok());

  // Every single-bit change anywhere that still loads is caught by the hash.
  size_t loaded = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> changed = bytes;
    changed[i] ^= static_cast<uint8_t>(1u << (i % 8));
    auto m = rt::Model::load_buffer(changed.data(), changed.size(), "changed.pare");
    if (!m.is_ok()) continue;
    ++loaded;
    const rt::Status st = m.value()->verify_integrity();
    ASSERT_FALSE(st.is_ok()) << "byte " << i;
    EXPECT_EQ(st.code(), rt::Status::kBadFile);
  }
  EXPECT_GT(loaded, 0u);

  // A file without the field (as written before it existed) is checked only against an
  // expected SHA-256.
  std::vector<uint8_t> no_hash = bytes;
  const uint8_t* vtable_entry = nullptr;
  {
    const auto* root = fb::GetSizePrefixedModel(no_hash.data());
    const uint8_t* table = reinterpret_cast<const uint8_t*>(root);
    const int32_t vt_offset = flatbuffers::ReadScalar<int32_t>(table);
    vtable_entry = table - vt_offset + fb::Model::VT_CONTENT_SHA256;
  }
  // Zero the vtable slot: the field reads as absent.
  const size_t slot = static_cast<size_t>(vtable_entry - no_hash.data());
  no_hash[slot] = no_hash[slot + 1] = 0;
  auto old = rt::Model::load_buffer(no_hash.data(), no_hash.size(), "old.pare");
  ASSERT_TRUE(old.is_ok()) << old.status().message();
  EXPECT_FALSE(old.value()->has_content_hash());
  const rt::Status st = old.value()->verify_integrity();
  EXPECT_EQ(st.code(), rt::Status::kBadFile);
  EXPECT_NE(st.message().find("no content hash"), std::string::npos) << st.message();
  const std::array<uint8_t, 32> own = old.value()->file_sha256();
  EXPECT_TRUE(old.value()->verify_integrity(&own).is_ok());
}

TEST(Format, NewerSchemaVersionsAreRefusedNamingBothVersions) {
  std::vector<uint8_t> bytes = format::serialize(relu_add_graph(), {});
  // The field's place: the root table's vtable gives its offset from the table.
  const auto* table = reinterpret_cast<const uint8_t*>(fb::GetSizePrefixedModel(bytes.data()));
  const uint8_t* vtable = table - flatbuffers::ReadScalar<int32_t>(table);
  const auto field = flatbuffers::ReadScalar<uint16_t>(vtable + fb::Model::VT_SCHEMA_VERSION);
  ASSERT_NE(field, 0u);
  const uint32_t newer = 7;
  std::memcpy(bytes.data() + (table - bytes.data()) + field, &newer, sizeof newer);
  auto model = rt::Model::load_buffer(bytes.data(), bytes.size(), "new.pare");
  ASSERT_FALSE(model.is_ok());
  EXPECT_EQ(model.status().message(),
            "'new.pare': schema version 7 is newer than this runtime reads (3): update the runtime");
}

TEST(Format, WeightsAreAlignedAndSharedBuffersStoredOnce) {
  ir::Graph g = relu_add_graph();
  // A third constant sharing w's buffer, and a one-byte constant before it to test padding.
  ir::Tensor w2 = g.tensor(g.find_tensor("w"));
  w2.name = "w2";
  const ir::TensorId w2i = g.add_tensor(w2);
  const ir::TensorId ci = ir::add_constant<uint8_t>(g, "c", ir::DType::kUInt8, {1}, {7});
  ir::Tensor u;
  u.name = "u";
  u.dtype = ir::DType::kFloat32;
  u.shape = ir::Shape({2, 3});
  const ir::TensorId ui = g.add_tensor(u);
  ir::Tensor v = u;
  v.name = "v";
  v.dtype = ir::DType::kUInt8;
  v.shape = ir::Shape({1});
  const ir::TensorId vi = g.add_tensor(v);
  ir::Node add;
  add.op = ir::OpKind::kAdd;
  add.name = "add_w2";
  add.inputs = {g.find_tensor("z"), w2i};
  add.outputs = {ui};
  g.add_node(add);
  ir::Node id;
  id.op = ir::OpKind::kIdentity;
  id.name = "copy_c";
  id.inputs = {ci};
  id.outputs = {vi};
  g.add_node(id);
  g.outputs = {ui, vi};

  const std::vector<uint8_t> bytes = format::serialize(g, options());
  auto m = load(bytes);
  ASSERT_TRUE(m);
  const rt::ModelTensor& w = m->tensors()[find(*m, "w")];
  const rt::ModelTensor& w2t = m->tensors()[find(*m, "w2")];
  const rt::ModelTensor& c = m->tensors()[find(*m, "c")];
  const rt::ModelTensor& b = m->tensors()[find(*m, "b")];
  EXPECT_EQ(w.desc.constant, w2t.desc.constant);  // one copy of the shared bytes
  // Constants of 64 bytes or more are 64-byte aligned, smaller ones 16-byte aligned.
  for (const rt::ModelTensor& t : m->tensors()) {
    if (!t.desc.constant) continue;
    const uintptr_t alignment = t.desc.byte_size() >= 64 ? 64 : 16;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.desc.constant) % alignment, 0u) << t.desc.name;
  }
  // Three distinct buffers (w, b, c) packed in node order, each at the first aligned offset
  // after the one before.
  std::vector<const rt::ModelTensor*> placed = {&w, &b, &c};
  std::sort(placed.begin(), placed.end(), [](const rt::ModelTensor* x, const rt::ModelTensor* y) {
    return x->desc.constant < y->desc.constant;
  });
  const auto* base = static_cast<const uint8_t*>(placed[0]->desc.constant);
  size_t end = 0;
  for (const rt::ModelTensor* t : placed) {
    const size_t alignment = t->desc.byte_size() >= 64 ? 64 : 16;
    const size_t offset = (end + alignment - 1) / alignment * alignment;
    EXPECT_EQ(static_cast<const uint8_t*>(t->desc.constant) - base, static_cast<ptrdiff_t>(offset)) << t->desc.name;
    end = offset + t->desc.byte_size();
  }
  EXPECT_EQ(m->weights_bytes(), end);
  std::vector<const uint8_t*> starts;
  for (const rt::ModelTensor* t : placed) starts.push_back(static_cast<const uint8_t*>(t->desc.constant));
  EXPECT_EQ(*static_cast<const uint8_t*>(c.desc.constant), 7);
  // The segment starts at a 64-byte boundary and ends the file.
  EXPECT_EQ((bytes.size() - m->weights_bytes()) % 64, 0u);
  const uint8_t* file_start = starts[0] - (bytes.size() - m->weights_bytes());
  EXPECT_EQ(std::memcmp(file_start, bytes.data(), 16), 0);
}

TEST(Format, AttributesActivationAndQuantizationRoundTrip) {
  ir::Graph g;
  ir::Tensor a;
  a.name = "a";
  a.dtype = ir::DType::kFloat32;
  a.shape = ir::Shape({1, 4});
  const ir::TensorId ai = g.add_tensor(a);
  ir::Tensor out = a;
  out.name = "out";
  out.quant = QuantParams{{0.5f}, {3}, -1};
  const ir::TensorId oi = g.add_tensor(out);
  ir::Tensor mid = a;
  mid.name = "mid";
  const ir::TensorId mi = g.add_tensor(mid);
  ir::Tensor q;
  q.name = "wq";
  q.dtype = ir::DType::kInt8;
  q.shape = ir::Shape({4, 4});
  auto buf = std::make_shared<ir::Buffer>();
  for (int i = 0; i < 16; ++i) buf->bytes.push_back(static_cast<uint8_t>(i - 8));
  q.data = buf;
  q.quant = QuantParams{{0.1f, 0.2f, 0.3f, 0.4f}, {0, 0, 0, 0}, 0};
  const ir::TensorId qi = g.add_tensor(q);

  ir::Node mm;
  mm.op = ir::OpKind::kMatMul;
  mm.name = "fc";
  mm.inputs = {ai, qi};
  mm.outputs = {mi};
  mm.activation = FusedActivation{ActivationKind::kHardSigmoid, 0.2f, 0.5f};
  ir::Node idn;
  idn.op = ir::OpKind::kIdentity;
  idn.name = "attrs";
  idn.inputs = {mi};
  idn.outputs = {oi};
  idn.attrs.set("zeta", std::vector<float>{1.5f, -2.f});
  idn.attrs.set("alpha", int64_t{-7});
  idn.attrs.set("mode", std::string("tanh"));
  idn.attrs.set("beta", 0.25f);
  idn.attrs.set("axes", std::vector<int64_t>{0, -1, 3});
  idn.activation = FusedActivation{ActivationKind::kClip, 0.f, 6.f};
  g.add_node(mm);
  g.add_node(idn);
  g.inputs = {ai};
  g.outputs = {oi};

  auto m = load(format::serialize(g, options()));
  ASSERT_TRUE(m);
  ASSERT_EQ(m->nodes().size(), 2u);
  const rt::NodeDesc& fc = m->nodes()[0];
  EXPECT_EQ(fc.op, "MatMul");
  EXPECT_EQ(fc.activation.kind, rt::ActivationKind::kHardSigmoid);
  EXPECT_FLOAT_EQ(fc.activation.p0, 0.2f);
  EXPECT_FLOAT_EQ(fc.activation.p1, 0.5f);
  const rt::NodeDesc& n = m->nodes()[1];
  EXPECT_EQ(n.activation.kind, rt::ActivationKind::kClip);
  EXPECT_FLOAT_EQ(n.activation.p1, 6.f);
  // Sorted by name, each with its type.
  ASSERT_EQ(n.attrs.all().size(), 5u);
  const char* order[] = {"alpha", "axes", "beta", "mode", "zeta"};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(n.attrs.all()[i].name, order[i]);
  EXPECT_EQ(n.attrs.get_int("alpha", 0), -7);
  EXPECT_EQ(n.attrs.get_ints("axes"), (std::vector<int64_t>{0, -1, 3}));
  EXPECT_FLOAT_EQ(n.attrs.get_float("beta", 0.f), 0.25f);
  EXPECT_EQ(n.attrs.get_string("mode", ""), "tanh");
  EXPECT_EQ(n.attrs.get_floats("zeta"), (std::vector<float>{1.5f, -2.f}));
  EXPECT_EQ(n.attrs.get_float("alpha", 9.f), 9.f);  // wrong type: the default
  EXPECT_EQ(n.attrs.get_int("missing", 4), 4);

  const rt::ModelTensor& wq = m->tensors()[find(*m, "wq")];
  ASSERT_TRUE(wq.desc.quantized);
  EXPECT_EQ(wq.desc.quant.axis, 0);
  EXPECT_EQ(wq.desc.quant.scales, (std::vector<float>{0.1f, 0.2f, 0.3f, 0.4f}));
  EXPECT_EQ(wq.desc.quant.zero_points, (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(static_cast<const int8_t*>(wq.desc.constant)[0], -8);
  EXPECT_EQ(static_cast<const int8_t*>(wq.desc.constant)[15], 7);
  const rt::ModelTensor& o = m->tensors()[find(*m, "out")];
  ASSERT_TRUE(o.desc.quantized);
  EXPECT_EQ(o.desc.quant.axis, -1);
  EXPECT_EQ(o.desc.quant.scales, (std::vector<float>{0.5f}));
  EXPECT_EQ(o.desc.quant.zero_points, (std::vector<int64_t>{3}));
}

TEST(Format, SameGraphGivesIdenticalBytes) {
  const std::vector<uint8_t> a = format::serialize(relu_add_graph(), options());
  const std::vector<uint8_t> b = format::serialize(relu_add_graph(), options());
  const ir::Graph g = relu_add_graph();
  const std::vector<uint8_t> c = format::serialize(g, options());
  const std::vector<uint8_t> d = format::serialize(g, options());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  EXPECT_EQ(c, d);
  format::WriteOptions other = options();
  other.pipeline = "fold";
  EXPECT_NE(format::serialize(g, other), a);
}

TEST(Format, OutputsThatAreConstantsOrInputsGetAnIdentity) {
  ir::Graph g;
  ir::Tensor x;
  x.name = "x";
  x.dtype = ir::DType::kInt64;
  x.shape = ir::Shape({3});
  const ir::TensorId xi = g.add_tensor(x);
  const ir::TensorId ci = ir::add_constant<int64_t>(g, "c", ir::DType::kInt64, {2}, {10, 20});
  g.inputs = {xi};
  g.outputs = {ci, xi, ci};

  auto m = load(format::serialize(g, options()));
  ASSERT_TRUE(m);
  ASSERT_EQ(m->nodes().size(), 2u);
  ASSERT_EQ(m->outputs().size(), 3u);
  EXPECT_EQ(m->outputs()[0], m->outputs()[2]);  // one copy per distinct tensor
  for (size_t k = 0; k < 2; ++k) {
    const rt::NodeDesc& n = m->nodes()[k];
    EXPECT_EQ(n.op, "Identity");
    ASSERT_EQ(n.outputs.size(), 1u);
    EXPECT_EQ(n.outputs[0], m->outputs()[k]);
    const rt::ModelTensor& out = m->tensors()[m->outputs()[k]];
    EXPECT_EQ(out.desc.constant, nullptr);
    EXPECT_GE(out.arena_offset, 0);
    EXPECT_EQ(out.desc.name, k == 0 ? "c" : "x");  // the signature keeps the names
  }
  EXPECT_EQ(m->tensors()[m->nodes()[0].inputs[0]].desc.name, "c");
  EXPECT_NE(m->tensors()[m->nodes()[0].inputs[0]].desc.constant, nullptr);
  EXPECT_EQ(m->nodes()[1].inputs[0], m->inputs()[0]);
}

TEST(Format, RejectsGraphsItCannotWrite) {
  ir::Graph g = relu_add_graph();
  g.tensor(g.find_tensor("r")).shape.dims[0] = ir::Dim::sym("N");
  try {
    format::serialize(g, options());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), pare::Status::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("'r'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[N,3]"), std::string::npos) << e.what();
  }
  ir::Graph h = relu_add_graph();
  h.tensor(h.find_tensor("y")).dtype = ir::DType::kUndefined;
  try {
    format::serialize(h, options());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), pare::Status::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("'y'"), std::string::npos) << e.what();
  }
  ir::Graph k = relu_add_graph();
  k.tensor(k.find_tensor("r")).shape = ir::Shape();  // rank unknown
  EXPECT_THROW(format::serialize(k, options()), Error);
  // A tensor no runtime can hold (the loader's 64 GiB limit; here also past 2^64 bytes) is
  // refused with its sizes before any file exists that the loader would refuse.
  for (int64_t rows : {int64_t{1} << 40, int64_t{358589979816852222}}) {
    ir::Graph big = relu_add_graph();
    big.tensor(big.find_tensor("r")).shape.dims[0] = ir::Dim::known(rows);
    try {
      format::serialize(big, options());
      FAIL() << "expected an error for " << rows << " rows";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), pare::Status::kInvalidInput);
      EXPECT_NE(std::string(e.what()).find("tensor 'r' of shape [" + std::to_string(rows) + ",3] needs "),
                std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("64 GiB"), std::string::npos) << e.what();
    }
  }
  // Empty, but its other dims span 2^37 bytes (or one dim alone is over the limit): the
  // loader refuses it (its strides would pass the limit), so the writer does too.
  for (const std::vector<int64_t>& sizes :
       {std::vector<int64_t>{0, int64_t{1} << 35}, std::vector<int64_t>{int64_t{1} << 40, 0}}) {
    ir::Graph empty = relu_add_graph();
    empty.tensor(empty.find_tensor("r")).shape = ir::Shape(sizes);
    try {
      format::serialize(empty, options());
      FAIL() << "expected an error for " << ir::Shape(sizes).str();
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), pare::Status::kInvalidInput);
      EXPECT_NE(std::string(e.what()).find("tensor 'r' of shape " + ir::Shape(sizes).str() + " spans "),
                std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("bytes in its non-zero dims"), std::string::npos) << e.what();
    }
  }
}

TEST(Format, WriteFileIsAtomicAndLoadFileMaps) {
  test::TempDir dir;
  const std::string path = dir.file("model.pare");
  format::write_file(relu_add_graph(), path, options());
  EXPECT_EQ(test::list_dir(dir.path()), (std::vector<std::string>{"model.pare"}));
  auto r = Model::load_file(path);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r.value()->nodes().size(), 3u);
  EXPECT_EQ(test::read_file(path).size(), r.value()->file_bytes());

  // Overwriting replaces the whole file.
  const std::string small = "abc";
  format::write_file_atomic(path, small.data(), small.size());
  EXPECT_EQ(test::read_file(path), "abc");
  EXPECT_EQ(test::list_dir(dir.path()), (std::vector<std::string>{"model.pare"}));

  const std::string bad = dir.file("no/such/folder/model.pare");
  try {
    format::write_file(relu_add_graph(), bad, options());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), pare::Status::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
  // Renaming onto a folder fails after the temporary file was written: it is removed.
  const std::string folder = dir.file("folder.pare");
  std::filesystem::create_directory(folder);
  std::filesystem::create_directory(folder + "/keep");
  EXPECT_THROW(format::write_file_atomic(folder, small.data(), small.size()), Error);
  EXPECT_EQ(test::list_dir(dir.path()), (std::vector<std::string>{"folder.pare", "model.pare"}));
}

TEST(Format, LoaderNamesTheFileOnBadInput) {
  test::TempDir dir;
  auto missing = Model::load_file(dir.file("missing.pare"));
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), Status::kIoError);
  EXPECT_NE(missing.status().message().find("missing.pare"), std::string::npos);

  test::write_file(dir.file("text.pare"), "this is not a model file at all");
  auto text = Model::load_file(dir.file("text.pare"));
  ASSERT_FALSE(text.is_ok());
  EXPECT_EQ(text.status().code(), Status::kBadFile);
  EXPECT_NE(text.status().message().find("text.pare"), std::string::npos);

  test::write_file(dir.file("empty.pare"), "");
  auto empty = Model::load_file(dir.file("empty.pare"));
  ASSERT_FALSE(empty.is_ok());
  EXPECT_EQ(empty.status().code(), Status::kBadFile);

  std::vector<uint8_t> bytes = format::serialize(relu_add_graph(), options());
  std::memcpy(bytes.data() + 8, "ONNX", 4);  // the identifier follows the size prefix and root offset
  auto wrong = Model::load_buffer(bytes.data(), bytes.size(), "renamed.onnx.pare");
  ASSERT_FALSE(wrong.is_ok());
  EXPECT_EQ(wrong.status().code(), Status::kBadFile);
  EXPECT_NE(wrong.status().message().find("renamed.onnx.pare"), std::string::npos);
  EXPECT_NE(wrong.status().message().find("identifier"), std::string::npos);
}

// Edits fields of a serialized file in place through the generic FlatBuffers table API.
// Field ids follow the schema order (4 + 2 * field index).
class Patch {
 public:
  enum ModelField : flatbuffers::voffset_t {
    kSchemaVersion = 4, kTensors = 6, kNodes = 8, kInputs = 10, kOutputs = 12,
    kArenaSize = 14, kWeightsOffset = 16, kWeightsSize = 18
  };
  enum TensorField : flatbuffers::voffset_t {
    kDtype = 6, kShape = 8, kDataOffset = 12, kDataSize = 14, kArenaOffset = 16
  };
  enum NodeField : flatbuffers::voffset_t { kOp = 4, kNodeInputs = 8, kNodeOutputs = 10, kAttributes = 12, kActivation = 14 };

  Patch() : bytes_(format::serialize(relu_add_graph(), options())) {}
  flatbuffers::Table* root() { return flatbuffers::GetMutableRoot<flatbuffers::Table>(bytes_.data() + 4); }
  flatbuffers::Table* table(flatbuffers::Table* parent, flatbuffers::voffset_t field, size_t i) {
    using Vec = flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>;
    return parent->GetPointer<Vec*>(field)->GetMutableObject(static_cast<flatbuffers::uoffset_t>(i));
  }
  flatbuffers::Table* tensor(size_t i) { return table(root(), kTensors, i); }
  flatbuffers::Table* node(size_t i) { return table(root(), kNodes, i); }
  template <typename T>
  flatbuffers::Vector<T>* vec(flatbuffers::Table* t, flatbuffers::voffset_t field) {
    return t->GetPointer<flatbuffers::Vector<T>*>(field);
  }
  Status load() {
    auto r = Model::load_buffer(bytes_.data(), bytes_.size(), "patched.pare");
    return r.is_ok() ? Status::ok() : r.status();
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

void expect_rejected(Patch& p, Status::Code code, const std::string& fragment) {
  const Status st = p.load();
  EXPECT_EQ(st.code(), code) << st.message();
  EXPECT_NE(st.message().find("patched.pare"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(fragment), std::string::npos) << st.message();
}

// A Reshape's readers read its input in place only where the memory plan keeps the input's
// bytes until they run. The writer keeps them; a plan that gives them to a later tensor (as
// the loader allows: the input's lifetime ends at the Reshape) makes the Reshape copy.
TEST(Format, ReshapeReadsInPlaceOnlyWhereThePlanKeepsItsInput) {
  ir::Graph g;
  ir::Tensor x;
  x.name = "x";
  x.dtype = ir::DType::kFloat32;
  x.shape = ir::Shape({2, 3});
  const ir::TensorId xi = g.add_tensor(x);
  ir::Tensor t = x, a = x, y = x;
  t.name = "t";
  a.name = "a";
  y.name = "y";
  t.shape = a.shape = y.shape = ir::Shape({3, 2});
  const ir::TensorId ti = g.add_tensor(t), ai = g.add_tensor(a), yi = g.add_tensor(y);
  const ir::TensorId shape = ir::add_constant<int64_t>(g, "shape", ir::DType::kInt64, {2}, {3, 2});
  const ir::TensorId w = ir::add_constant<float>(g, "w", ir::DType::kFloat32, {3, 2}, {1.f, -2.f, 3.f, -4.f, 5.f, -6.f});
  ir::Node reshape, relu, add;
  reshape.op = ir::OpKind::kReshape;
  reshape.name = "reshape";
  reshape.inputs = {xi, shape};
  reshape.outputs = {ti};
  relu.op = ir::OpKind::kRelu;
  relu.name = "relu";
  relu.inputs = {ti};
  relu.outputs = {ai};
  add.op = ir::OpKind::kAdd;
  add.name = "add";
  add.inputs = {ai, w};
  add.outputs = {yi};
  g.add_node(reshape);
  g.add_node(relu);
  g.add_node(add);
  g.inputs = {xi};
  g.outputs = {yi};
  std::vector<uint8_t> bytes = format::serialize(g, options());

  const std::vector<float> input = {-1.f, 2.f, -3.f, 4.f, -5.f, 6.f};
  const std::vector<float> want = {1.f, 0.f, 3.f, 0.f, 5.f, 0.f};
  auto run = [&](const std::vector<uint8_t>& file) {
    auto model = Model::load_buffer(file.data(), file.size(), "reshape.pare");
    EXPECT_TRUE(model.is_ok()) << model.status().message();
    if (!model.is_ok()) return std::string();
    auto interp = rt::Interpreter::create(std::move(model).value(), rt::InterpreterOptions{});
    EXPECT_TRUE(interp.is_ok()) << interp.status().message();
    if (!interp.is_ok()) return std::string();
    std::memcpy(interp.value()->input_data(0), input.data(), input.size() * sizeof(float));
    EXPECT_TRUE(interp.value()->invoke().is_ok());
    const auto* out = static_cast<const float*>(interp.value()->output_data(0));
    EXPECT_EQ(std::vector<float>(out, out + 6), want);
    return interp.value()->kernel_names()[0];
  };
  EXPECT_EQ(run(bytes), "in_place");

  // Give a (written by the Relu, after the Reshape) x's bytes.
  auto* root = flatbuffers::GetMutableRoot<flatbuffers::Table>(bytes.data() + 4);
  using Tables = flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>;
  auto* tensors = root->GetPointer<Tables*>(6);
  const auto index = [&](const char* name) {
    for (flatbuffers::uoffset_t i = 0; i < tensors->size(); ++i)
      if (tensors->Get(i)->GetPointer<const flatbuffers::String*>(4)->str() == name) return i;
    return flatbuffers::uoffset_t{0};
  };
  // (y, which the writer may have put there, takes a's place.)
  const int64_t x_offset = tensors->Get(index("x"))->GetField<int64_t>(16, -1);
  const int64_t a_offset = tensors->Get(index("a"))->GetField<int64_t>(16, -1);
  ASSERT_TRUE(tensors->GetMutableObject(index("a"))->SetField<int64_t>(16, x_offset, -1));
  ASSERT_TRUE(tensors->GetMutableObject(index("y"))->SetField<int64_t>(16, a_offset, -1));
  EXPECT_NE(run(bytes), "in_place");
}

TEST(Format, LoaderSemanticChecks) {
  {
    Patch p;  // unchanged: loads
    EXPECT_TRUE(p.load().is_ok()) << p.load().message();
  }
  {
    Patch p;
    ASSERT_TRUE(p.root()->SetField<uint32_t>(Patch::kSchemaVersion, 4));
    expect_rejected(p, Status::kBadFile, "schema version 4");
  }
  {
    Patch p;
    const uint64_t off = p.root()->GetField<uint64_t>(Patch::kWeightsOffset, 0);
    ASSERT_TRUE(p.root()->SetField<uint64_t>(Patch::kWeightsOffset, off + 8));
    expect_rejected(p, Status::kBadFile, "not 64-byte aligned");
  }
  {
    Patch p;
    ASSERT_TRUE(p.root()->SetField<uint64_t>(Patch::kWeightsOffset, 0));
    expect_rejected(p, Status::kBadFile, "overlaps the model table");
  }
  {
    Patch p;
    ASSERT_TRUE(p.root()->SetField<uint64_t>(Patch::kWeightsSize, ~uint64_t{0} - 8));
    expect_rejected(p, Status::kBadFile, "truncated");
  }
  {
    Patch p;
    ASSERT_TRUE(p.tensor(1)->SetField<int32_t>(Patch::kDtype, 5));
    expect_rejected(p, Status::kBadModel, "tensor 1 'r' has invalid dtype 5");
  }
  {
    Patch p;
    p.vec<int64_t>(p.tensor(3), Patch::kShape)->Mutate(0, -3);
    expect_rejected(p, Status::kBadModel, "'y' has a negative dimension");
  }
  {
    Patch p;
    p.vec<int64_t>(p.tensor(3), Patch::kShape)->Mutate(0, int64_t{1} << 40);
    expect_rejected(p, Status::kBadModel, "'y' is too large");
  }
  {
    Patch p;  // a shape that would overflow 64 bits when multiplied out
    p.vec<int64_t>(p.tensor(3), Patch::kShape)->Mutate(0, int64_t{1} << 33);
    p.vec<int64_t>(p.tensor(3), Patch::kShape)->Mutate(1, int64_t{1} << 33);
    expect_rejected(p, Status::kBadModel, "'y' is too large");
  }
  {
    Patch p;  // empty, but its other dim spans 2^37 bytes: its strides would pass the limit
    p.vec<int64_t>(p.tensor(3), Patch::kShape)->Mutate(0, 0);
    p.vec<int64_t>(p.tensor(3), Patch::kShape)->Mutate(1, int64_t{1} << 35);
    expect_rejected(p, Status::kBadModel, "'y' is too large");
  }
  {
    Patch p;
    ASSERT_TRUE(p.tensor(4)->SetField<uint64_t>(Patch::kDataSize, 8));
    expect_rejected(p, Status::kBadModel, "'b' holds 8 bytes");
  }
  {
    Patch p;
    ASSERT_TRUE(p.tensor(4)->SetField<uint64_t>(Patch::kDataOffset, 40));
    expect_rejected(p, Status::kBadModel, "'b' data offset 40 is not 16-byte aligned");
  }
  {
    Patch p;
    ASSERT_TRUE(p.tensor(4)->SetField<uint64_t>(Patch::kDataOffset, 1 << 20));
    expect_rejected(p, Status::kBadModel, "outside the weight segment");
  }
  {
    Patch p;
    ASSERT_TRUE(p.tensor(1)->SetField<int64_t>(Patch::kArenaOffset, 96));
    expect_rejected(p, Status::kBadModel, "'r' has an invalid arena offset 96");
  }
  {
    Patch p;
    ASSERT_TRUE(p.tensor(1)->SetField<int64_t>(Patch::kArenaOffset, 128));
    expect_rejected(p, Status::kBadModel, "outside the arena of 128 bytes");
  }
  {
    Patch p;  // z shares y's slot while both are live at node 2
    ASSERT_TRUE(p.tensor(5)->SetField<int64_t>(Patch::kArenaOffset, 0));
    expect_rejected(p, Status::kBadModel, "invalid memory plan: buffers 3 and 5");
  }
  {
    Patch p;
    ASSERT_TRUE(p.root()->SetField<uint64_t>(Patch::kArenaSize, 1 << 20));
    expect_rejected(p, Status::kBadModel, "larger than all activations together");
  }
  {
    Patch p;
    p.vec<int32_t>(p.node(1), Patch::kNodeInputs)->Mutate(1, 99);
    expect_rejected(p, Status::kBadModel, "node 1 'block/add_w' (Add) input 1 refers to tensor 99");
  }
  {
    Patch p;  // node 1 reads z, which node 2 writes later
    p.vec<int32_t>(p.node(1), Patch::kNodeInputs)->Mutate(0, 5);
    expect_rejected(p, Status::kBadModel, "reads tensor 'z' before any node writes it");
  }
  {
    Patch p;
    p.vec<int32_t>(p.node(1), Patch::kNodeInputs)->Mutate(0, -1);  // omitted input: fine for the loader
    EXPECT_TRUE(p.load().is_ok());
  }
  {
    Patch p;
    p.vec<int32_t>(p.node(2), Patch::kNodeOutputs)->Mutate(0, 4);
    expect_rejected(p, Status::kBadModel, "writes constant tensor 'b'");
  }
  {
    Patch p;
    p.vec<int32_t>(p.node(2), Patch::kNodeOutputs)->Mutate(0, 3);
    expect_rejected(p, Status::kBadModel, "already written by node 1");
  }
  {
    Patch p;
    p.vec<int32_t>(p.node(0), Patch::kNodeOutputs)->Mutate(0, 0);
    expect_rejected(p, Status::kBadModel, "writes graph input 'x'");
  }
  {
    Patch p;
    auto* op = p.node(0)->GetPointer<flatbuffers::String*>(Patch::kOp);
    flatbuffers::WriteScalar<flatbuffers::uoffset_t>(reinterpret_cast<uint8_t*>(op), 0);
    const_cast<char*>(op->c_str())[0] = 0;  // keep the terminator the verifier checks
    expect_rejected(p, Status::kBadModel, "node 0 'block/relu' has no op type");
  }
  {
    Patch p;
    p.vec<int32_t>(p.root(), Patch::kOutputs)->Mutate(0, 6);
    expect_rejected(p, Status::kBadModel, "graph output 0 refers to tensor 6");
  }
  {
    Patch p;
    p.vec<int32_t>(p.root(), Patch::kOutputs)->Mutate(0, 2);
    expect_rejected(p, Status::kBadModel, "graph output 'w' is a constant");
  }
  {
    Patch p;
    p.vec<int32_t>(p.root(), Patch::kInputs)->Mutate(0, 4);
    expect_rejected(p, Status::kBadModel, "graph input 'b' is a constant");
  }
  {
    Patch p;  // x is no longer an input: nothing defines it
    p.vec<int32_t>(p.root(), Patch::kInputs)->Mutate(0, 1);
    expect_rejected(p, Status::kBadModel, "reads tensor 'x' before any node writes it");
  }
  {
    Patch p;  // a byte in the middle of the table: the verifier catches the broken offset
    flatbuffers::WriteScalar<flatbuffers::uoffset_t>(p.bytes().data() + 4, 0x7ffffff0u);
    expect_rejected(p, Status::kBadFile, "FlatBuffers verification failed");
  }
}

TEST(Format, ActivationAndAttributeEnumsAreChecked) {
  ir::Graph g = relu_add_graph();
  for (ir::NodeId n : g.nodes()) {
    if (g.node(n).name != "block/add_b") continue;
    g.node(n).activation = FusedActivation{ActivationKind::kLeakyRelu, 0.1f};
    g.node(n).attrs.set("f", 1.f);
  }
  std::vector<uint8_t> bytes = format::serialize(g, options());
  auto node2 = [&]() {
    auto* root = flatbuffers::GetMutableRoot<flatbuffers::Table>(bytes.data() + 4);
    using Vec = flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>;
    return root->GetPointer<Vec*>(Patch::kNodes)->GetMutableObject(2);
  };
  ASSERT_TRUE(load(bytes));
  ASSERT_TRUE(node2()->SetField<int32_t>(Patch::kActivation, 42));
  auto r = Model::load_buffer(bytes.data(), bytes.size(), "act.pare");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Status::kBadModel);
  EXPECT_NE(r.status().message().find("invalid activation 42"), std::string::npos) << r.status().message();

  ASSERT_TRUE(node2()->SetField<int32_t>(Patch::kActivation, 2));  // Clip needs two parameters
  r = Model::load_buffer(bytes.data(), bytes.size(), "act.pare");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("needs 2 parameters, has 1"), std::string::npos) << r.status().message();

  ASSERT_TRUE(node2()->SetField<int32_t>(Patch::kActivation, 6));
  using Vec = flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>;
  auto* attr = node2()->GetPointer<Vec*>(Patch::kAttributes)->GetMutableObject(0);
  ASSERT_TRUE(attr->SetField<int32_t>(6, 9));  // Attribute.type
  r = Model::load_buffer(bytes.data(), bytes.size(), "act.pare");
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("attribute 'f' has invalid type 9"), std::string::npos) << r.status().message();
}

// What became of the damaged images given to load_damaged.
struct Damage {
  size_t tried = 0, loaded = 0, prepared = 0, ran = 0;  // ran: invoke() returned ok
};

// Fills every input of `it` with the same values on every call: floats in [-1.5, 1.5], other
// dtypes 0, 1, 2 in their lowest byte.
void fill_inputs(rt::Interpreter& it) {
  for (size_t i = 0; i < it.num_inputs(); ++i) {
    const rt::TensorDesc& d = it.input(i);
    auto* p = static_cast<uint8_t*>(it.input_data(i));
    const size_t n = static_cast<size_t>(d.num_elements()), size = rt::dtype_size(d.dtype);
    for (size_t e = 0; e < n; ++e) {
      if (d.dtype == DType::kFloat32) {
        const float v = static_cast<float>(e % 7) * 0.5f - 1.5f;
        std::memcpy(p + e * 4, &v, 4);
      } else {
        std::memset(p + e * size, 0, size);
        p[e * size] = static_cast<uint8_t>(e % 3);
      }
    }
  }
}

// Loads a damaged image; when it loads, touches every byte the model points at, then
// prepares it and runs it once on fill_inputs' values. Errors are fine at every step (the
// loader, prepare and invoke may each reject what the damage did); crashes are not.
void load_damaged(const std::vector<uint8_t>& bytes, Damage* damage) {
  ++damage->tried;
  auto r = Model::load_buffer(bytes.data(), bytes.size(), "damaged.pare");
  if (!r.is_ok()) {
    const Status::Code code = r.status().code();
    EXPECT_TRUE(code == Status::kBadFile || code == Status::kBadModel) << r.status().message();
    EXPECT_NE(r.status().message().find("damaged.pare"), std::string::npos);
    return;
  }
  ++damage->loaded;
  const Model& m = *r.value();
  unsigned sum = 0;
  for (const rt::ModelTensor& t : m.tensors()) {
    if (t.is_constant()) {
      std::vector<uint8_t> dense(t.desc.byte_size());
      rt::densify(t.desc, dense.data());
      for (uint8_t b : dense) sum += b;
    } else {
      EXPECT_LE(static_cast<size_t>(t.arena_offset) + t.desc.byte_size(), m.arena_bytes());
    }
  }
  for (const rt::NodeDesc& n : m.nodes()) {
    for (int32_t id : n.inputs) EXPECT_LT(id, static_cast<int32_t>(m.tensors().size()));
    for (int32_t id : n.outputs) EXPECT_LT(id, static_cast<int32_t>(m.tensors().size()));
  }
  EXPECT_GE(sum, 0u);

  auto created = rt::Interpreter::create(r.value());
  if (!created.is_ok()) return;
  ++damage->prepared;
  rt::Interpreter& it = *created.value();
  fill_inputs(it);
  if (it.invoke().is_ok()) ++damage->ran;
}

TEST(Format, TruncatedFilesAreRejected) {
  const std::vector<uint8_t> bytes = format::serialize(relu_add_graph(), options());
  Damage damage;
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len));
    load_damaged(cut, &damage);
  }
  EXPECT_EQ(damage.loaded, 0u);  // every prefix misses part of the table or of the weights
}

TEST(Format, RandomByteDamageNeverCrashes) {
  ir::Graph g = relu_add_graph();
  for (ir::NodeId n : g.nodes()) {
    g.node(n).attrs.set("k", std::vector<int64_t>{1, 2});
    g.node(n).attrs.set("s", std::string("same"));
  }
  const std::vector<uint8_t> bytes = format::serialize(g, options());
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<size_t> pos(0, bytes.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255), bit(0, 7), edits(1, 4);
  Damage damage;
  const int kMutations = 4000;
  for (int iter = 0; iter < kMutations; ++iter) {
    std::vector<uint8_t> damaged = bytes;
    const int n = edits(rng);
    for (int e = 0; e < n; ++e) {
      const size_t p = pos(rng);
      if (iter % 2) damaged[p] ^= static_cast<uint8_t>(1u << bit(rng));
      else damaged[p] = static_cast<uint8_t>(byte(rng));
    }
    load_damaged(damaged, &damage);
  }
  std::printf("%zu damaged files: %zu loaded, %zu prepared, %zu ran without an error\n", damage.tried,
              damage.loaded, damage.prepared, damage.ran);
  // Damage in names, weights or padding still loads; damage in structure does not.
  EXPECT_GT(damage.loaded, 0u);
  EXPECT_LT(damage.loaded, static_cast<size_t>(kMutations));
  // Most of what loads is damage in names, weights or padding, which prepares and runs.
  EXPECT_GT(damage.ran, 0u);
}

TEST(Format, UnknownOpIsReportedAtPrepare) {
  std::vector<uint8_t> bytes = format::serialize(relu_add_graph(), options());
  // Rename the op of the first node in place, "Relu" -> "Rxlu".
  auto* root = flatbuffers::GetMutableRoot<flatbuffers::Table>(bytes.data() + 4);
  using Vec = flatbuffers::Vector<flatbuffers::Offset<flatbuffers::Table>>;
  auto* op = root->GetPointer<Vec*>(Patch::kNodes)->GetMutableObject(0)->GetPointer<flatbuffers::String*>(Patch::kOp);
  ASSERT_EQ(op->str(), "Relu");
  const_cast<char*>(op->c_str())[1] = 'x';
  auto m = load(bytes);
  ASSERT_TRUE(m);
  auto interp = rt::Interpreter::create(m);
  ASSERT_FALSE(interp.is_ok());
  EXPECT_EQ(interp.status().code(), Status::kUnsupported);
  EXPECT_EQ(interp.status().message(),
            "op 'Rxlu' (node 'block/relu') is not supported by this runtime");
}

TEST(Format, InterpreterRunsReluAdd) {
  auto m = load(format::serialize(relu_add_graph(), options()));
  ASSERT_TRUE(m);
  const std::vector<float> x = {-1.f, 2.f, -3.f, 4.f, 0.f, 0.5f};
  // z = relu(x) + w + b, by hand.
  const std::vector<float> expected = {1.5f, 0.5f, 3.5f, 1.f, 6.f, -4.5f};
  for (int threads : {1, 3}) {
    rt::InterpreterOptions opts;
    opts.threads = threads;
    auto r = rt::Interpreter::create(m, opts);
    ASSERT_TRUE(r.is_ok()) << r.status().message();
    rt::Interpreter& interp = *r.value();
    ASSERT_EQ(interp.num_inputs(), 1u);
    ASSERT_EQ(interp.num_outputs(), 1u);
    EXPECT_EQ(interp.find_input("x"), 0);
    EXPECT_EQ(interp.find_output("z"), 0);
    EXPECT_EQ(interp.find_output("x"), -1);
    EXPECT_EQ(interp.input(0).shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(interp.arena_bytes(), 128u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(interp.input_data(0)) % 64, 0u);
    interp.enable_profiling(true);
    for (int run = 0; run < 2; ++run) {
      // The planner reuses the input's slot, so inputs are written before every run.
      std::memcpy(interp.input_data(0), x.data(), x.size() * sizeof(float));
      ASSERT_TRUE(interp.invoke().is_ok());
      EXPECT_EQ(floats(interp.output_data(0), 6), expected);
    }
    const std::vector<rt::NodeProfile> prof = interp.profile();
    ASSERT_EQ(prof.size(), 3u);
    EXPECT_EQ(prof[0].name, "block/relu");
    EXPECT_EQ(prof[0].op, "Relu");
    EXPECT_EQ(prof[2].runs, 2);
    EXPECT_GE(prof[2].total_ms, 0.0);
    EXPECT_EQ(interp.kernel_names().size(), 3u);
    EXPECT_FALSE(prof[0].kernel.empty());
  }
}

TEST(Sha256, StandardVectors) {
  auto digest = [](const std::string& s) {
    rt::Sha256 sha;
    sha.update(s.data(), s.size());
    return rt::Sha256::hex(sha.finish());
  };
  EXPECT_EQ(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // One million 'a', fed in uneven pieces to cross block boundaries.
  rt::Sha256 sha;
  const std::string chunk(997, 'a');
  size_t left = 1000000;
  while (left > 0) {
    const size_t n = std::min(left, chunk.size());
    sha.update(chunk.data(), n);
    left -= n;
  }
  EXPECT_EQ(rt::Sha256::hex(sha.finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, File) {
  test::TempDir dir;
  test::write_file(dir.file("abc.txt"), "abc");
  EXPECT_EQ(format::sha256_file(dir.file("abc.txt")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  try {
    format::sha256_file(dir.file("missing"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), pare::Status::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos);
  }
}

}  // namespace
}  // namespace pare
