// pare runtime, C++ API: a thin header-only layer over the C API in pare.h (RAII handles,
// spans, errors as values). It adds no symbols to the library and needs no exceptions:
// every call that can fail returns a pare::Status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "pare/pare.h"

namespace pare {

// A pointer and a length: what std::span is in C++20, here for C++17 callers.
template <typename T>
struct Span {
  T* data = nullptr;
  size_t size = 0;
  T* begin() const { return data; }
  T* end() const { return data + size; }
  T& operator[](size_t i) const { return data[i]; }
};

class Status {
 public:
  Status() = default;
  Status(pare_status code, std::string message) : code_(code), message_(std::move(message)) {}
  bool ok() const { return code_ == PARE_OK; }
  explicit operator bool() const { return ok(); }
  pare_status code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  pare_status code_ = PARE_OK;
  std::string message_;
};

class Options {
 public:
  Options() : h_(pare_options_create()) {}
  ~Options() { pare_options_free(h_); }
  Options(const Options&) = delete;
  Options& operator=(const Options&) = delete;
  Options(Options&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}

  Options& threads(int n) { pare_options_set_threads(h_, n); return *this; }
  Options& max_isa(const char* isa) { pare_options_set_max_isa(h_, isa); return *this; }
  Options& memory_limit(size_t bytes) { pare_options_set_memory_limit(h_, bytes); return *this; }
  Options& arena(void* arena, size_t capacity) { pare_options_set_arena(h_, arena, capacity); return *this; }
  Options& on_run(pare_run_callback callback, void* user_data, bool per_layer = false) {
    pare_options_set_run_callback(h_, callback, user_data, per_layer ? 1 : 0);
    return *this;
  }
  const pare_options* get() const { return h_; }

 private:
  pare_options* h_;
};

class Model {
 public:
  Model() = default;
  ~Model() { pare_model_free(h_); }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Model& operator=(Model&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }

  static Status load(const char* path, Model* out) { return out->take(pare_model_load_file(path, &out->h_)); }
  // Zero-copy when `bytes` is 64-byte aligned: keep it alive and unchanged while in use.
  static Status load(Span<const uint8_t> bytes, Model* out) {
    return out->take(pare_model_load_memory(bytes.data, bytes.size, &out->h_));
  }
  Status verify(const uint8_t* expected_sha256 = nullptr) {
    const pare_status s = pare_model_verify(h_, expected_sha256);
    return s == PARE_OK ? Status() : Status(s, pare_model_error(h_));
  }
  pare_model* get() const { return h_; }

 private:
  Status take(pare_status s) { return s == PARE_OK ? Status() : Status(s, h_ ? pare_model_error(h_) : ""); }
  pare_model* h_ = nullptr;
};

class Session {
 public:
  Session() = default;
  ~Session() { pare_session_free(h_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session(Session&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Session& operator=(Session&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }

  static Status create(const Model& model, const Options* options, Session* out) {
    pare_session_free(out->h_);
    out->h_ = nullptr;
    const pare_status s = pare_session_create(model.get(), options ? options->get() : nullptr, &out->h_);
    return s == PARE_OK ? Status() : Status(s, out->h_ ? pare_session_error(out->h_) : "");
  }

  size_t num_inputs() const { return pare_session_num_inputs(h_); }
  size_t num_outputs() const { return pare_session_num_outputs(h_); }
  int input_index(const char* name) { return pare_session_input_index(h_, name); }
  int output_index(const char* name) { return pare_session_output_index(h_, name); }
  const char* input_name(size_t i) const { return pare_session_input_name(h_, i); }
  const char* output_name(size_t i) const { return pare_session_output_name(h_, i); }
  pare_dtype input_dtype(size_t i) const { return pare_session_input_dtype(h_, i); }
  pare_dtype output_dtype(size_t i) const { return pare_session_output_dtype(h_, i); }
  Span<const int64_t> input_shape(size_t i) const {
    Span<const int64_t> s;
    s.data = pare_session_input_shape(h_, i, &s.size);
    return s;
  }
  Span<const int64_t> output_shape(size_t i) const {
    Span<const int64_t> s;
    s.data = pare_session_output_shape(h_, i, &s.size);
    return s;
  }
  // Input i written in place (write every input before each run).
  template <typename T>
  Span<T> input(size_t i) {
    return {static_cast<T*>(pare_session_input_data(h_, i)), pare_session_input_bytes(h_, i) / sizeof(T)};
  }
  template <typename T>
  Span<const T> output(size_t i) const {
    return {static_cast<const T*>(pare_session_output_data(h_, i)), pare_session_output_bytes(h_, i) / sizeof(T)};
  }
  Status set_input(size_t i, pare_dtype dtype, Span<const int64_t> shape, const void* data, size_t bytes) {
    return check(pare_session_set_input(h_, i, dtype, shape.data, shape.size, data, bytes));
  }
  Status run() { return check(pare_session_run(h_)); }
  pare_session* get() const { return h_; }

 private:
  Status check(pare_status s) { return s == PARE_OK ? Status() : Status(s, pare_session_error(h_)); }
  pare_session* h_ = nullptr;
};

}  // namespace pare
