#include "runtime/kernel_family_log.h"

namespace pare::rt {

namespace {
thread_local KernelFamilyRecorder* t_recorder = nullptr;
}  // namespace

void note_kernel_family(const char* family) {
  if (t_recorder) t_recorder->families_.insert(family);
}

KernelFamilyRecorder::KernelFamilyRecorder() { t_recorder = this; }

KernelFamilyRecorder::~KernelFamilyRecorder() { t_recorder = nullptr; }

}  // namespace pare::rt
