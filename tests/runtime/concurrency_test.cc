// One loaded model shared read-only by interpreters on many threads, and models replaced
// while inferences run (runtime/model_slot.h). Built into the ThreadSanitizer run of
// scripts/test_tsan.sh as well as the normal suite. The models are the trained Fashion-MNIST
// CNN and a tiny conv net, each as written by `pare convert` (float) and `pare compress`
// (int8), kept in testdata/pare/ (scripts/make_testdata_pare.sh, testdata/README.md).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "runtime/model_slot.h"
#include "runtime/sha256.h"

namespace pare::rt {
namespace {

const std::string kFloatModel = std::string(PARE_TESTDATA_DIR) + "/pare/fmnist_cnn.pare";
const std::string kInt8Model = std::string(PARE_TESTDATA_DIR) + "/pare/fmnist_cnn_int8.pare";
// Small enough to load, verify and prepare a thousand times.
const std::string kTinyFloat = std::string(PARE_TESTDATA_DIR) + "/pare/tiny_conv.pare";
const std::string kTinyInt8 = std::string(PARE_TESTDATA_DIR) + "/pare/tiny_conv_int8.pare";

#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif

std::shared_ptr<const Model> load(const std::string& path) {
  Result<std::shared_ptr<const Model>> model = Model::load_file(path);
  EXPECT_TRUE(model.is_ok()) << model.status().message();
  return model.is_ok() ? std::move(model).value() : nullptr;
}

// Input row r: deterministic values in [0, 1), different per row.
std::vector<float> input_row(size_t size, int r) {
  std::vector<float> x(size);
  uint32_t s = 2654435761u * static_cast<uint32_t>(r + 1);
  for (float& v : x) {
    s = s * 1664525u + 1013904223u;
    v = static_cast<float>(s >> 8) / 16777216.f;
  }
  return x;
}

// Runs row r; returns the output bytes (empty after a failure, which the caller asserts on).
std::vector<uint8_t> infer(Interpreter& interp, int r) {
  const std::vector<float> x = input_row(static_cast<size_t>(interp.input(0).num_elements()), r);
  std::memcpy(interp.input_data(0), x.data(), x.size() * sizeof(float));
  const Status st = interp.invoke();
  if (!st.is_ok()) return {};
  const auto* y = static_cast<const uint8_t*>(interp.output_data(0));
  return std::vector<uint8_t>(y, y + interp.output(0).byte_size());
}

std::unique_ptr<Interpreter> make(std::shared_ptr<const Model> model, int threads = 1) {
  InterpreterOptions options;
  options.threads = threads;
  Result<std::unique_ptr<Interpreter>> interp = Interpreter::create(std::move(model), options);
  EXPECT_TRUE(interp.is_ok()) << interp.status().message();
  return interp.is_ok() ? std::move(interp).value() : nullptr;
}

// The expected output of every row, from one interpreter on one thread.
std::vector<std::vector<uint8_t>> reference(std::shared_ptr<const Model> model, int rows) {
  std::unique_ptr<Interpreter> interp = make(std::move(model));
  std::vector<std::vector<uint8_t>> out;
  for (int r = 0; r < rows; ++r) out.push_back(infer(*interp, r));
  return out;
}

TEST(SharedModel, InterpretersOnManyThreadsGiveByteIdenticalResults) {
  constexpr int kThreads = 6, kRows = 16;
  const int inferences = kTsan ? 16 : 40;  // per thread (the aarch64 tests run this under qemu)
  for (const std::string& path : {kFloatModel, kInt8Model}) {
    SCOPED_TRACE(path);
    std::shared_ptr<const Model> model = load(path);
    ASSERT_NE(model, nullptr);
    const std::vector<std::vector<uint8_t>> want = reference(model, kRows);
    std::atomic<int> mismatches{0}, failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        // Every other interpreter runs its own two-thread pool as well.
        std::unique_ptr<Interpreter> interp = make(model, t % 2 ? 2 : 1);
        if (!interp) {
          ++failures;
          return;
        }
        for (int i = 0; i < inferences; ++i) {
          const int r = (i * 7 + t) % kRows;
          const std::vector<uint8_t> got = infer(*interp, r);
          if (got.empty()) ++failures;
          else if (got != want[r]) ++mismatches;
        }
      });
    for (std::thread& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(mismatches.load(), 0) << "of " << kThreads * inferences << " inferences";
  }
}

// Readers run inferences while another thread replaces the model 1,000 times, alternating two
// files: every result is byte-identical to one of the two models' results for that row.
TEST(ModelSlot, ThousandSwapsWhileInferencesRunGiveResultsOfOneWholeModel) {
  constexpr int kReaders = 3, kRows = 8, kSwaps = 1000;
  std::shared_ptr<const Model> a = load(kTinyFloat), b = load(kTinyInt8);
  ASSERT_TRUE(a && b);
  const std::vector<std::vector<uint8_t>> want_a = reference(a, kRows), want_b = reference(b, kRows);
  for (int r = 0; r < kRows; ++r) ASSERT_NE(want_a[r], want_b[r]) << "the two models must differ on row " << r;

  ModelSlot slot(a);
  std::atomic<bool> done{false};
  std::atomic<int> from_a{0}, from_b{0}, neither{0}, failures{0}, switches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t)
    readers.emplace_back([&, t] {
      std::shared_ptr<const Model> mine;
      std::unique_ptr<Interpreter> interp;
      for (int i = 0; !done.load() || i < 4; ++i) {
        std::shared_ptr<const Model> now = slot.current();
        if (now != mine) {
          interp = make(now);
          if (!interp) {
            ++failures;
            return;
          }
          mine = now;
          ++switches;
        }
        const int r = (i + t) % kRows;
        const std::vector<uint8_t> got = infer(*interp, r);
        if (got == want_a[r]) ++from_a;
        else if (got == want_b[r]) ++from_b;
        else if (got.empty()) ++failures;
        else ++neither;
      }
    });

  int replaced = 0;
  std::string first_error;
  for (int s = 0; s < kSwaps; ++s) {
    // Files from disk each time: load, verify the content hash, prepare, publish.
    const Status st = slot.replace(s % 2 ? kTinyFloat : kTinyInt8, nullptr);
    if (st.is_ok()) ++replaced;
    else if (first_error.empty()) first_error = st.message();
  }
  done = true;
  for (std::thread& th : readers) th.join();

  EXPECT_EQ(replaced, kSwaps) << first_error;
  EXPECT_EQ(slot.generation(), static_cast<uint64_t>(kSwaps + 1));
  EXPECT_EQ(neither.load(), 0);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(from_a.load(), 0);
  EXPECT_GT(from_b.load(), 0);
  EXPECT_GT(switches.load(), kReaders);  // readers did see new models while running
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::string write_temp(const std::vector<uint8_t>& bytes, const std::string& name) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  return path;
}

TEST(ModelSlot, DamagedOrUnexpectedFilesAreNeverPublished) {
  std::shared_ptr<const Model> a = load(kFloatModel);
  ASSERT_NE(a, nullptr);
  ModelSlot slot(a);
  std::vector<uint8_t> bytes = read_bytes(kInt8Model);
  ASSERT_GT(bytes.size(), 1000u);

  // One flipped bit in the last weight byte: the structure still verifies, the hash does not.
  std::vector<uint8_t> flipped = bytes;
  flipped[flipped.size() - 1] ^= 0x10;
  const std::string damaged = write_temp(flipped, "damaged.pare");
  ASSERT_TRUE(Model::load_file(damaged).is_ok()) << "the loader alone cannot see this damage";
  Status st = slot.replace(damaged, nullptr);
  EXPECT_EQ(st.code(), Status::kBadFile);
  EXPECT_NE(st.message().find("content hash mismatch"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("damaged.pare"), std::string::npos) << st.message();

  // The right bytes but not the published SHA-256.
  std::array<uint8_t, kContentHashBytes> other{};
  other[0] = 1;
  st = slot.replace(kInt8Model, &other);
  EXPECT_EQ(st.code(), Status::kBadFile);
  EXPECT_NE(st.message().find("is not the expected"), std::string::npos) << st.message();

  // Truncated and missing files.
  st = slot.replace(write_temp(std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2), "half.pare"),
                    nullptr);
  EXPECT_EQ(st.code(), Status::kBadFile) << st.message();
  st = slot.replace(::testing::TempDir() + "no-such-model.pare", nullptr);
  EXPECT_EQ(st.code(), Status::kIoError) << st.message();

  // A model over the memory limit.
  InterpreterOptions small;
  small.max_memory_bytes = 64 * 1024;
  st = slot.replace(kInt8Model, nullptr, small);
  EXPECT_EQ(st.code(), Status::kMemoryLimit) << st.message();

  EXPECT_EQ(slot.current(), a);
  EXPECT_EQ(slot.generation(), 1u);

  // The file's own SHA-256, as published: accepted.
  Sha256 sha;
  sha.update(bytes.data(), bytes.size());
  const std::array<uint8_t, kContentHashBytes> published = sha.finish();
  st = slot.replace(kInt8Model, &published);
  EXPECT_TRUE(st.is_ok()) << st.message();
  EXPECT_NE(slot.current(), a);
}

TEST(MemoryLimit, ModelsOverTheLimitFailWithWhatTheyNeed) {
  std::shared_ptr<const Model> model = load(kFloatModel);
  ASSERT_NE(model, nullptr);
  std::unique_ptr<Interpreter> free_run = make(model);
  ASSERT_NE(free_run, nullptr);
  const MemoryUse use = free_run->memory();
  EXPECT_EQ(use.model_file, model->file_bytes());
  EXPECT_GE(use.activations, model->arena_bytes());
  EXPECT_GT(use.prepared, 0u);  // packed conv weights

  // Exactly enough is enough; one byte less is not.
  InterpreterOptions options;
  options.max_memory_bytes = use.total();
  EXPECT_TRUE(Interpreter::create(model, options).is_ok());
  for (size_t limit : {use.total() - 1, use.model_file + use.activations + 1, size_t{4096}}) {
    options.max_memory_bytes = limit;
    Result<std::unique_ptr<Interpreter>> interp = Interpreter::create(model, options);
    ASSERT_FALSE(interp.is_ok()) << limit;
    EXPECT_EQ(interp.status().code(), Status::kMemoryLimit);
    EXPECT_NE(interp.status().message().find("memory limit is " + std::to_string(limit) + " bytes"),
              std::string::npos)
        << interp.status().message();
    EXPECT_NE(interp.status().message().find("needs"), std::string::npos) << interp.status().message();
  }
}

TEST(MemoryLimit, CallerProvidedArena) {
  std::shared_ptr<const Model> model = load(kInt8Model);
  ASSERT_NE(model, nullptr);
  const std::vector<std::vector<uint8_t>> want = reference(model, 4);
  const size_t need = make(model)->memory().arena_bytes();

  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> block(static_cast<uint8_t*>(std::aligned_alloc(64, need + 128)));
  InterpreterOptions options;
  options.arena = block.get();
  options.arena_capacity = need;
  Result<std::unique_ptr<Interpreter>> interp = Interpreter::create(model, options);
  ASSERT_TRUE(interp.is_ok()) << interp.status().message();
  for (int r = 0; r < 4; ++r) EXPECT_EQ(infer(*interp.value(), r), want[r]);

  options.arena_capacity = need - 64;
  interp = Interpreter::create(model, options);
  ASSERT_FALSE(interp.is_ok());
  EXPECT_EQ(interp.status().code(), Status::kMemoryLimit);
  EXPECT_NE(interp.status().message().find("needs " + std::to_string(need) + " bytes"), std::string::npos)
      << interp.status().message();

  options.arena = block.get() + 8;
  options.arena_capacity = need;
  interp = Interpreter::create(model, options);
  ASSERT_FALSE(interp.is_ok());
  EXPECT_EQ(interp.status().code(), Status::kInvalidArgument) << interp.status().message();
}

TEST(Integrity, WrittenFilesCarryAContentHashThatMatches) {
  for (const std::string& path : {kFloatModel, kInt8Model}) {
    std::shared_ptr<const Model> model = load(path);
    ASSERT_NE(model, nullptr);
    EXPECT_TRUE(model->has_content_hash());
    const Status st = model->verify_integrity();
    EXPECT_TRUE(st.is_ok()) << st.message();
    const std::array<uint8_t, kContentHashBytes> own = model->file_sha256();
    EXPECT_TRUE(model->verify_integrity(&own).is_ok());
  }
}

}  // namespace
}  // namespace pare::rt
