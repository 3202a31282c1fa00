#include "ir/status.h"

namespace pare {

int Status::exit_code() const {
  switch (code_) {
    case kOk: return 0;
    case kInvalidInput:
    case kUnsupported: return 2;
    case kBudgetNotMet: return 3;
    case kInternal: return 1;
  }
  return 1;
}

void throw_invalid(const std::string& message) { throw Error(Status::kInvalidInput, message); }
void throw_unsupported(const std::string& message) { throw Error(Status::kUnsupported, message); }
void throw_internal(const std::string& message) { throw Error(Status::kInternal, message); }

}  // namespace pare
