// Which kernel families a runtime variant keeps whole (pare_add_runtime, runtime/CMakeLists.txt).
// A family that a selective build's list leaves out keeps only its portable reference kernel:
// its variant table then names no SIMD code, the linker drops it, and a model that needs the
// family still runs, on the reference. Included only by the files compiled per variant
// (op_registry.cc, kernels/*/reference.cc), which see that variant's generated selected_ops.h.
#pragma once

#include <cstddef>

#include "runtime/cpu.h"
#include "runtime/selected_ops.h"

namespace pare::rt {

// Every family a list may name; a family's select function calls note_kernel_family (see
// kernel_family_log.h) with the same name.
constexpr const char* kKernelFamilies[] = {
    "f32_dwconv", "f32_eltwise", "f32_gemm",   "f32_layernorm", "f32_lutgemm", "f32_pool",
    "f32_softmax", "f32_spmm",   "f32_winograd", "q8_dwconv", "q8_eltwise",  "q8_gemm",
    "q8_lutgemm", "q8_winograd", "x32_transpose",
};

// The variant a family runs under the ISA cap: the best one this CPU runs with an ISA not
// above `cap` that `accepts` the problem (a shape-specialised variant may decline it), or
// null. Tables list their variants either best ISA first or, `portable_first`, from the
// portable one up; either way they hold the portable variant, which every CPU runs.
template <typename V, typename Accepts>
const V* best_usable_variant(const V* all, size_t count, bool portable_first, Isa cap, Accepts accepts) {
  for (size_t j = 0; j < count; ++j) {
    const V& v = all[portable_first ? count - 1 - j : j];
    if (isa_usable(v.isa, cap) && accepts(v)) return &v;
  }
  return nullptr;
}

template <typename V>
const V* best_usable_variant(const V* all, size_t count, bool portable_first, Isa cap) {
  return best_usable_variant(all, count, portable_first, cap, [](const V&) { return true; });
}

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
