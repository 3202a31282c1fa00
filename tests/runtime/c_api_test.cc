// The C API (include/pare/pare.h) and its C++ layer (pare.hpp): results equal the C++
// interpreter's byte for byte, and every error path gives its status and a message that
// names what is wrong. tests/runtime/c_api_compile_test.c checks that the header is C.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "pare/pare.h"
#include "pare/pare.hpp"
#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace {

const std::string kFloatModel = std::string(PARE_TESTDATA_DIR) + "/pare/fmnist_cnn.pare";
const std::string kInt8Model = std::string(PARE_TESTDATA_DIR) + "/pare/fmnist_cnn_int8.pare";

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

bool contains(const char* text, const std::string& part) {
  return text && std::string(text).find(part) != std::string::npos;
}

// A deterministic image for the CNN's [1,1,28,28] input.
std::vector<float> image() {
  std::vector<float> x(28 * 28);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 256) / 255.0f;
  return x;
}

// The C++ interpreter's logits on image(): what the C API must reproduce exactly.
std::vector<float> reference_logits(const std::string& path) {
  auto model = pare::rt::Model::load_file(path);
  EXPECT_TRUE(model.is_ok()) << model.status().message();
  auto interp = pare::rt::Interpreter::create(model.value());
  EXPECT_TRUE(interp.is_ok()) << interp.status().message();
  const std::vector<float> x = image();
  std::memcpy(interp.value()->input_data(0), x.data(), x.size() * sizeof(float));
  EXPECT_TRUE(interp.value()->invoke().is_ok());
  const float* y = static_cast<const float*>(interp.value()->output_data(0));
  return std::vector<float>(y, y + interp.value()->output(0).num_elements());
}

struct ModelDeleter {
  void operator()(pare_model* m) const { pare_model_free(m); }
};
struct SessionDeleter {
  void operator()(pare_session* s) const { pare_session_free(s); }
};
using ModelPtr = std::unique_ptr<pare_model, ModelDeleter>;
using SessionPtr = std::unique_ptr<pare_session, SessionDeleter>;

TEST(CApi, RunsTheModelLikeTheInterpreter) {
  for (const std::string& path : {kFloatModel, kInt8Model}) {
    SCOPED_TRACE(path);
    pare_model* raw = nullptr;
    ASSERT_EQ(pare_model_load_file(path.c_str(), &raw), PARE_OK) << pare_model_error(raw);
    ModelPtr model(raw);
    EXPECT_STREQ(pare_model_error(model.get()), "");
    EXPECT_EQ(pare_model_verify(model.get(), nullptr), PARE_OK) << pare_model_error(model.get());

    pare_session* s = nullptr;
    ASSERT_EQ(pare_session_create(model.get(), nullptr, &s), PARE_OK) << pare_session_error(s);
    SessionPtr session(s);
    ASSERT_EQ(pare_session_num_inputs(s), 1u);
    ASSERT_EQ(pare_session_num_outputs(s), 1u);
    EXPECT_EQ(pare_session_input_index(s, pare_session_input_name(s, 0)), 0);
    EXPECT_EQ(pare_session_output_index(s, pare_session_output_name(s, 0)), 0);
    EXPECT_EQ(pare_session_input_dtype(s, 0), PARE_DTYPE_FLOAT32);
    size_t rank = 0;
    const int64_t* dims = pare_session_input_shape(s, 0, &rank);
    ASSERT_EQ(rank, 4u);
    EXPECT_EQ(dims[0], 1);
    EXPECT_EQ(dims[1], 1);
    EXPECT_EQ(dims[2], 28);
    EXPECT_EQ(dims[3], 28);
    EXPECT_EQ(pare_session_input_bytes(s, 0), 28u * 28u * 4u);
    EXPECT_GT(pare_session_arena_bytes(s), 0u);

    const std::vector<float> x = image();
    ASSERT_EQ(pare_session_set_input(s, 0, PARE_DTYPE_FLOAT32, dims, rank, x.data(), x.size() * 4), PARE_OK)
        << pare_session_error(s);
    ASSERT_EQ(pare_session_run(s), PARE_OK) << pare_session_error(s);
    const std::vector<float> expected = reference_logits(path);
    ASSERT_EQ(pare_session_output_bytes(s, 0), expected.size() * sizeof(float));
    EXPECT_EQ(std::memcmp(pare_session_output_data(s, 0), expected.data(), expected.size() * 4), 0);
    std::vector<float> copy(expected.size());
    ASSERT_EQ(pare_session_get_output(s, 0, copy.data(), copy.size() * 4), PARE_OK);
    EXPECT_EQ(copy, expected);

    // Written in place, with the model freed first: the session keeps it alive.
    model.reset();
    std::memcpy(pare_session_input_data(s, 0), x.data(), x.size() * 4);
    ASSERT_EQ(pare_session_run(s), PARE_OK) << pare_session_error(s);
    EXPECT_EQ(std::memcmp(pare_session_output_data(s, 0), expected.data(), expected.size() * 4), 0);
  }
}

TEST(CApi, LoadsFromMemoryWithAndWithoutACopy) {
  const std::string bytes = read_file(kFloatModel);
  const std::vector<float> expected = reference_logits(kFloatModel);
  // 64-byte aligned: used in place. One byte off: copied, and the caller's buffer may go.
  void* aligned = std::aligned_alloc(64, (bytes.size() + 63) / 64 * 64);
  std::memcpy(aligned, bytes.data(), bytes.size());
  std::vector<char> unaligned_storage(bytes.size() + 1);
  char* unaligned = unaligned_storage.data() + 1;
  std::memcpy(unaligned, bytes.data(), bytes.size());
  for (const void* data : {static_cast<const void*>(aligned), static_cast<const void*>(unaligned)}) {
    pare_model* raw = nullptr;
    ASSERT_EQ(pare_model_load_memory(data, bytes.size(), &raw), PARE_OK) << pare_model_error(raw);
    ModelPtr model(raw);
    if (data == unaligned) std::memset(unaligned, 0, bytes.size());  // the copy must not care
    pare_session* s = nullptr;
    ASSERT_EQ(pare_session_create(model.get(), nullptr, &s), PARE_OK) << pare_session_error(s);
    SessionPtr session(s);
    const std::vector<float> x = image();
    std::memcpy(pare_session_input_data(s, 0), x.data(), x.size() * 4);
    ASSERT_EQ(pare_session_run(s), PARE_OK);
    EXPECT_EQ(std::memcmp(pare_session_output_data(s, 0), expected.data(), expected.size() * 4), 0);
  }
  std::free(aligned);
}

TEST(CApi, BadFilesGiveTheirStatusAndMessage) {
  pare_model* m = nullptr;
  EXPECT_EQ(pare_model_load_file("/nonexistent/model.pare", &m), PARE_ERROR_IO);
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(contains(pare_model_error(m), "/nonexistent/model.pare")) << pare_model_error(m);
  // A session on a model that did not load is refused, with the load's message.
  pare_session* s = nullptr;
  EXPECT_EQ(pare_session_create(m, nullptr, &s), PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(pare_session_error(s), "did not load")) << pare_session_error(s);
  pare_session_free(s);
  EXPECT_EQ(pare_model_verify(m, nullptr), PARE_ERROR_INVALID_ARGUMENT);
  pare_model_free(m);

  const std::string garbage(4096, '\x5a');
  EXPECT_EQ(pare_model_load_memory(garbage.data(), garbage.size(), &m), PARE_ERROR_BAD_FILE);
  EXPECT_TRUE(contains(pare_model_error(m), "not a .pare file")) << pare_model_error(m);
  pare_model_free(m);

  const std::string bytes = read_file(kFloatModel);
  EXPECT_EQ(pare_model_load_memory(bytes.data(), bytes.size() / 2, &m), PARE_ERROR_BAD_FILE);
  EXPECT_TRUE(contains(pare_model_error(m), "truncated")) << pare_model_error(m);
  pare_model_free(m);

  // A weight byte changed: loads, and verify refuses it.
  std::string damaged = bytes;
  damaged[damaged.size() - 1000] ^= 0x08;
  ASSERT_EQ(pare_model_load_memory(damaged.data(), damaged.size(), &m), PARE_OK) << pare_model_error(m);
  EXPECT_EQ(pare_model_verify(m, nullptr), PARE_ERROR_INTEGRITY);
  EXPECT_TRUE(contains(pare_model_error(m), "hash")) << pare_model_error(m);
  pare_model_free(m);

  // The right file against another expected SHA-256.
  ASSERT_EQ(pare_model_load_memory(bytes.data(), bytes.size(), &m), PARE_OK);
  const uint8_t wrong[32] = {1, 2, 3};
  EXPECT_EQ(pare_model_verify(m, wrong), PARE_ERROR_INTEGRITY);
  pare_model_free(m);

  EXPECT_EQ(pare_model_load_file(nullptr, &m), PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(pare_model_load_memory(nullptr, 10, &m), PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(pare_model_load_file(kFloatModel.c_str(), nullptr), PARE_ERROR_INVALID_ARGUMENT);
}

TEST(CApi, WrongInputsAreRefusedNamingTheInput) {
  pare_model* m = nullptr;
  ASSERT_EQ(pare_model_load_file(kFloatModel.c_str(), &m), PARE_OK);
  ModelPtr model(m);
  pare_session* s = nullptr;
  ASSERT_EQ(pare_session_create(m, nullptr, &s), PARE_OK);
  SessionPtr session(s);
  const std::string name = pare_session_input_name(s, 0);

  EXPECT_EQ(pare_session_input_index(s, "no_such_input"), -1);
  EXPECT_TRUE(contains(pare_session_error(s), "no input 'no_such_input'")) << pare_session_error(s);
  EXPECT_TRUE(contains(pare_session_error(s), "'" + name + "'")) << pare_session_error(s);
  EXPECT_EQ(pare_session_output_index(s, "nope"), -1);

  const std::vector<float> x = image();
  const int64_t good[] = {1, 1, 28, 28};
  const int64_t wrong_shape[] = {1, 28, 28, 1};
  EXPECT_EQ(pare_session_set_input(s, 0, PARE_DTYPE_FLOAT32, wrong_shape, 4, x.data(), x.size() * 4),
            PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(pare_session_error(s), "takes shape [1,1,28,28], given [1,28,28,1]")) << pare_session_error(s);
  EXPECT_TRUE(contains(pare_session_error(s), name)) << pare_session_error(s);
  EXPECT_EQ(pare_session_set_input(s, 0, PARE_DTYPE_FLOAT32, good, 3, x.data(), x.size() * 4),
            PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(pare_session_set_input(s, 0, PARE_DTYPE_INT8, good, 4, x.data(), x.size() * 4),
            PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(pare_session_error(s), "is float32, given int8")) << pare_session_error(s);
  EXPECT_EQ(pare_session_set_input(s, 0, PARE_DTYPE_FLOAT32, good, 4, x.data(), x.size() * 4 - 4),
            PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(pare_session_error(s), "takes 3136 bytes, given 3132")) << pare_session_error(s);
  EXPECT_EQ(pare_session_set_input(s, 1, PARE_DTYPE_FLOAT32, good, 4, x.data(), x.size() * 4),
            PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(pare_session_error(s), "out of range")) << pare_session_error(s);

  float small[3];
  EXPECT_EQ(pare_session_get_output(s, 0, small, sizeof small), PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(pare_session_get_output(s, 7, small, sizeof small), PARE_ERROR_INVALID_ARGUMENT);
  // Queries past the end give empty answers, not reads out of bounds.
  size_t rank = 9;
  EXPECT_EQ(pare_session_input_shape(s, 5, &rank), nullptr);
  EXPECT_EQ(rank, 0u);
  EXPECT_EQ(pare_session_input_name(s, 5), nullptr);
  EXPECT_EQ(pare_session_output_data(s, 5), nullptr);
  EXPECT_EQ(pare_session_input_data(s, 5), nullptr);
  EXPECT_EQ(pare_session_input_dtype(s, 5), PARE_DTYPE_UNDEFINED);
}

TEST(CApi, MemoryLimitAndCallerArena) {
  pare_model* m = nullptr;
  ASSERT_EQ(pare_model_load_file(kFloatModel.c_str(), &m), PARE_OK);
  ModelPtr model(m);
  pare_options* o = pare_options_create();
  ASSERT_NE(o, nullptr);
  ASSERT_EQ(pare_options_set_memory_limit(o, 4096), PARE_OK);
  pare_session* s = nullptr;
  EXPECT_EQ(pare_session_create(m, o, &s), PARE_ERROR_MEMORY_LIMIT);
  EXPECT_TRUE(contains(pare_session_error(s), "needs")) << pare_session_error(s);
  pare_session_free(s);

  // The arena the session needs, given by the caller.
  ASSERT_EQ(pare_options_set_memory_limit(o, 0), PARE_OK);
  ASSERT_EQ(pare_session_create(m, nullptr, &s), PARE_OK);
  const size_t need = pare_session_arena_bytes(s);
  pare_session_free(s);
  void* arena = std::aligned_alloc(64, (need + 63) / 64 * 64);
  ASSERT_EQ(pare_options_set_arena(o, arena, need - 64), PARE_OK);
  EXPECT_EQ(pare_session_create(m, o, &s), PARE_ERROR_MEMORY_LIMIT);
  EXPECT_TRUE(contains(pare_session_error(s), std::to_string(need))) << pare_session_error(s);
  pare_session_free(s);
  ASSERT_EQ(pare_options_set_arena(o, arena, need), PARE_OK);
  ASSERT_EQ(pare_session_create(m, o, &s), PARE_OK) << pare_session_error(s);
  const std::vector<float> x = image();
  std::memcpy(pare_session_input_data(s, 0), x.data(), x.size() * 4);
  ASSERT_EQ(pare_session_run(s), PARE_OK);
  const std::vector<float> expected = reference_logits(kFloatModel);
  EXPECT_EQ(std::memcmp(pare_session_output_data(s, 0), expected.data(), expected.size() * 4), 0);
  pare_session_free(s);
  std::free(arena);

  EXPECT_EQ(pare_options_set_arena(o, reinterpret_cast<void*>(0x1001), 128), PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(pare_options_set_threads(o, 0), PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(pare_options_set_max_isa(o, "sse9"), PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(pare_options_set_max_isa(o, "scalar"), PARE_OK);
  pare_options_free(o);
}

TEST(CApi, NullAndFreedHandlesAreRefused) {
  EXPECT_EQ(pare_session_run(nullptr), PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(pare_session_num_inputs(nullptr), 0u);
  EXPECT_TRUE(contains(pare_session_error(nullptr), "invalid pare_session handle"));
  EXPECT_TRUE(contains(pare_model_error(nullptr), "invalid pare_model handle"));
  EXPECT_EQ(pare_options_set_threads(nullptr, 2), PARE_ERROR_INVALID_ARGUMENT);
  pare_session* s = reinterpret_cast<pare_session*>(0x1);
  EXPECT_EQ(pare_session_create(nullptr, nullptr, &s), PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
  pare_model_free(nullptr);
  pare_session_free(nullptr);
  pare_options_free(nullptr);

  // A handle of the wrong kind (a C caller's cast) is refused by its tag.
  pare_options* o = pare_options_create();
  EXPECT_EQ(pare_session_run(reinterpret_cast<pare_session*>(o)), PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(pare_model_verify(reinterpret_cast<pare_model*>(o), nullptr), PARE_ERROR_INVALID_ARGUMENT);
  pare_options_free(o);
}

// A freed handle's memory is marked before it is returned; when the allocator has not reused
// it yet, a late call is refused. Reading freed memory is what this guards against, so the
// check itself is out of the sanitizers' reach.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PARE_UNDER_ASAN 1
#endif
#endif
#if !defined(__SANITIZE_ADDRESS__) && !defined(PARE_UNDER_ASAN)
TEST(CApi, UseAfterFreeIsRefusedWhenTheMemoryIsNotReused) {
  pare_model* m = nullptr;
  ASSERT_EQ(pare_model_load_file(kFloatModel.c_str(), &m), PARE_OK);
  pare_session* s = nullptr;
  ASSERT_EQ(pare_session_create(m, nullptr, &s), PARE_OK);
  pare_session_free(s);
  EXPECT_EQ(pare_session_run(s), PARE_ERROR_INVALID_ARGUMENT);
  pare_session_free(s);  // a double free is a no-op
  pare_model_free(m);
  EXPECT_EQ(pare_model_verify(m, nullptr), PARE_ERROR_INVALID_ARGUMENT);
  pare_model_free(m);
}
#endif

struct Telemetry {
  int runs = 0;
  double total_ms = -1;
  size_t layers = 0;
  std::string isa, first_op;
  double layer_sum = 0;
};

void record(const pare_run_info* info, void* user_data) {
  auto* t = static_cast<Telemetry*>(user_data);
  ++t->runs;
  t->total_ms = info->total_ms;
  t->isa = info->isa;
  t->layers = info->num_layers;
  t->layer_sum = 0;
  for (size_t i = 0; i < info->num_layers; ++i) t->layer_sum += info->layers[i].ms;
  if (info->num_layers) t->first_op = info->layers[0].op;
}

TEST(CApi, RunCallbackReportsTimesAndIsa) {
  pare_model* m = nullptr;
  ASSERT_EQ(pare_model_load_file(kFloatModel.c_str(), &m), PARE_OK);
  ModelPtr model(m);
  for (int per_layer : {0, 1}) {
    Telemetry t;
    pare_options* o = pare_options_create();
    ASSERT_EQ(pare_options_set_run_callback(o, record, &t, per_layer), PARE_OK);
    ASSERT_EQ(pare_options_set_max_isa(o, "scalar"), PARE_OK);
    pare_session* s = nullptr;
    ASSERT_EQ(pare_session_create(m, o, &s), PARE_OK) << pare_session_error(s);
    pare_options_free(o);
    ASSERT_EQ(pare_session_run(s), PARE_OK);
    ASSERT_EQ(pare_session_run(s), PARE_OK);
    EXPECT_EQ(t.runs, 2);
    EXPECT_GT(t.total_ms, 0.0);
    EXPECT_EQ(t.isa, "scalar");
    if (per_layer) {
      auto loaded = pare::rt::Model::load_file(kFloatModel);
      EXPECT_EQ(t.layers, loaded.value()->nodes().size());
      EXPECT_EQ(t.first_op, loaded.value()->nodes()[0].op);
      // The layers' times are this run's, not a running total: they fit in the whole run.
      EXPECT_GT(t.layer_sum, 0.0);
      EXPECT_LE(t.layer_sum, t.total_ms);
    } else {
      EXPECT_EQ(t.layers, 0u);
    }
    pare_session_free(s);
  }
}

TEST(CppApi, RaiiWrappersRunAndReportErrors) {
  pare::Model model;
  ASSERT_TRUE(pare::Model::load(kFloatModel.c_str(), &model).ok());
  pare::Options options;
  options.threads(2);
  pare::Session session;
  ASSERT_TRUE(pare::Session::create(model, &options, &session).ok());
  pare::Span<float> in = session.input<float>(0);
  ASSERT_EQ(in.size, 28u * 28u);
  const std::vector<float> x = image();
  std::copy(x.begin(), x.end(), in.begin());
  ASSERT_TRUE(session.run().ok());
  const std::vector<float> expected = reference_logits(kFloatModel);
  pare::Span<const float> out = session.output<float>(0);
  EXPECT_EQ(std::vector<float>(out.begin(), out.end()), expected);

  const int64_t wrong[] = {2, 1, 28, 28};
  const pare::Status st = session.set_input(0, PARE_DTYPE_FLOAT32, {wrong, 4}, x.data(), x.size() * 4);
  EXPECT_EQ(st.code(), PARE_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(st.message().find("given [2,1,28,28]"), std::string::npos) << st.message();

  pare::Model missing;
  const pare::Status bad = pare::Model::load("/nonexistent.pare", &missing);
  EXPECT_EQ(bad.code(), PARE_ERROR_IO);
  EXPECT_NE(bad.message().find("/nonexistent.pare"), std::string::npos) << bad.message();
}

TEST(CApi, NamesAndSizes) {
  EXPECT_STREQ(pare_version(), "0.1.0");
  EXPECT_STREQ(pare_status_name(PARE_ERROR_MEMORY_LIMIT), "memory limit");
  EXPECT_EQ(pare_dtype_size(PARE_DTYPE_INT64), 8u);
  // 5 is no dtype (and within the enum's range, so the call itself is defined behaviour).
  EXPECT_EQ(pare_dtype_size(static_cast<pare_dtype>(5)), 0u);
}

}  // namespace
