#include "runtime/op.h"

#include "runtime/kernels/activation/activation.h"

namespace pare::rt {

Status PrepareContext::error(Status::Code code, const std::string& message) const {
  return Status(code, op + " '" + node_name + "': " + message);
}

namespace {
thread_local PrepareMemory* t_prepare_memory = nullptr;
}  // namespace

PrepareMemory::PrepareMemory(size_t limit) : limit_(limit), previous_(t_prepare_memory) { t_prepare_memory = this; }
PrepareMemory::~PrepareMemory() { t_prepare_memory = previous_; }

bool PrepareMemory::reserve(size_t bytes) {
  PrepareMemory* m = t_prepare_memory;
  if (!m) return true;
  if (m->refused_ || (m->limit_ && (bytes > m->limit_ || m->used_ > m->limit_ - bytes))) {
    if (!m->refused_) m->refused_ = bytes ? bytes : 1;
    return false;
  }
  m->used_ += bytes;
  return true;
}

void PrepareMemory::allocation_failed(size_t bytes) {
  if (PrepareMemory* m = t_prepare_memory) {
    m->failed_ = true;
    if (!m->refused_) m->refused_ = bytes ? bytes : 1;
  }
}

void apply_activation(const FusedActivation& act, float* data, size_t n) {
  kernels::f32_activation__scalar(act, data, n);
}

}  // namespace pare::rt
