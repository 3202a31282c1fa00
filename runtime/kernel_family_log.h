// Which kernel families a model's prepare selects from: `pare ops` lists them next to the op
// types, so that a selective runtime build keeps exactly those families' SIMD kernels (see
// kernel_selection.h).
#pragma once

#include <set>
#include <string>

namespace pare::rt {

// Called by each kernel family's select function; records `family` on this thread while a
// KernelFamilyRecorder is alive, and does nothing otherwise.
void note_kernel_family(const char* family);

// Records the families selected on this thread during its lifetime (one at a time per thread).
class KernelFamilyRecorder {
 public:
  KernelFamilyRecorder();
  ~KernelFamilyRecorder();
  KernelFamilyRecorder(const KernelFamilyRecorder&) = delete;
  KernelFamilyRecorder& operator=(const KernelFamilyRecorder&) = delete;
  const std::set<std::string>& families() const { return families_; }

 private:
  friend void note_kernel_family(const char* family);
  std::set<std::string> families_;
};

}  // namespace pare::rt
