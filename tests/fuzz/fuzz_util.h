// What every fuzz target shares: a toolchain error that says the input is bad is the expected
// outcome; anything else (an internal error, which the CLI reports with exit 1, or another
// exception) is a finding and aborts, so libFuzzer keeps the input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>

#include "ir/status.h"

namespace pare::fuzz {

inline void expect_only_bad_input_errors(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    if (e.code() == Status::kInternal) {
      std::fprintf(stderr, "internal error: %s\n", e.what());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    std::abort();
  }
}

}  // namespace pare::fuzz
