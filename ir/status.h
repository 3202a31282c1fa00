// Status and error types shared by the toolchain (ir, formats, passes, tools).
// The runtime has its own exception-free Status in runtime/status.h.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace pare {

// Exit codes of the CLI follow these codes: kInvalidInput/kUnsupported -> 2,
// kInternal -> 1, kBudgetNotMet -> 3.
class Status {
 public:
  enum Code { kOk = 0, kInvalidInput, kUnsupported, kInternal, kBudgetNotMet };

  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  int exit_code() const;

 private:
  Code code_ = kOk;
  std::string message_;
};

// Thrown inside toolchain code and turned into a Status at API boundaries
// (pass manager, importer entry points, CLI).
class Error : public std::runtime_error {
 public:
  Error(Status::Code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Status::Code code() const { return code_; }
  Status status() const { return Status(code_, what()); }

 private:
  Status::Code code_;
};

[[noreturn]] void throw_invalid(const std::string& message);
[[noreturn]] void throw_unsupported(const std::string& message);
[[noreturn]] void throw_internal(const std::string& message);

}  // namespace pare
