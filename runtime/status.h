// Exception-free error handling for the runtime: Status and Result<T>.
#pragma once

#include <string>
#include <utility>

namespace pare::rt {

class Status {
 public:
  // Grouped codes: 1x bad file, 2x bad model content, 3x unsupported, 4x usage, 5x internal.
  enum Code {
    kOk = 0,
    kIoError = 10,        // cannot open/read/map the file
    kBadFile = 11,        // not a .pare file, wrong identifier, truncated, verifier failed
    kBadModel = 20,       // semantic checks failed (offsets, shapes, dtypes, arity)
    kUnsupported = 30,    // op or dtype this runtime does not implement
    kInvalidArgument = 40,
    kMemoryLimit = 41,    // the model needs more memory than the limit allows or the system gives
    kInternal = 50,
  };

  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = kOk;
  std::string message_;
};

// Either a value or a non-ok Status.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)), has_value_(true) {}  // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) {}              // NOLINT
  bool is_ok() const { return has_value_; }
  const Status& status() const { return status_; }
  T& value() & { return value_; }
  T&& value() && { return std::move(value_); }
  T& operator*() { return value_; }
  T* operator->() { return &value_; }

 private:
  T value_{};
  Status status_;
  bool has_value_ = false;
};

#define PARE_RT_RETURN_IF_ERROR(expr)           \
  do {                                          \
    ::pare::rt::Status _st = (expr);            \
    if (!_st.is_ok()) return _st;               \
  } while (0)

}  // namespace pare::rt
