// Which kernel families a runtime variant keeps whole (pare_add_runtime, runtime/CMakeLists.txt).
// A family that a selective build's list leaves out keeps only its portable reference kernel:
// its variant table then names no SIMD code, the linker drops it, and a model that needs the
// family still runs, on the reference. Included only by the files compiled per variant
// (op_registry.cc, kernels/*/reference.cc), which see that variant's generated selected_ops.h.
#pragma once

#include "runtime/selected_ops.h"

namespace pare::rt {

// Every family a list may name; a family's select function calls note_kernel_family (see
// kernel_family_log.h) with the same name.
constexpr const char* kKernelFamilies[] = {
    "f32_dwconv", "f32_eltwise", "f32_gemm",   "f32_layernorm", "f32_lutgemm", "f32_pool",
    "f32_softmax", "f32_spmm",   "f32_winograd", "q8_dwconv", "q8_eltwise",  "q8_gemm",
    "q8_lutgemm",
};

constexpr bool same_name(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

constexpr bool kernel_family_selected(const char* family) {
  if (!kSelectiveKernels) return true;
  for (const char* s : kSelectedKernelFamilies)
    if (same_name(s, family)) return true;
  return false;
}

constexpr bool selected_kernel_families_known() {
  for (const char* s : kSelectedKernelFamilies) {
    bool known = !kSelectiveKernels;
    for (const char* f : kKernelFamilies) known = known || same_name(f, s);
    if (!known) return false;
  }
  return true;
}

}  // namespace pare::rt
