// Softmax kernels, float32.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/cpu.h"

namespace pare::rt::kernels {

// Softmax along the middle axis of x viewed as [outer, axis_size, inner], for the
// (outer, inner) lines with outer in [outer_begin, outer_end). Subtracts each line's max
// before exponentiating, so large inputs do not overflow.
void f32_softmax_ref__scalar(int64_t axis_size, int64_t inner, const float* x, float* y,
                             int64_t outer_begin, int64_t outer_end);

// Softmax over contiguous rows of `cols` elements (the last axis), rows [row_begin, row_end).
// Same max-subtracted form as the reference; each row is computed independently, so any split
// of the rows gives identical bytes.
using F32SoftmaxRowsFn = void (*)(int64_t cols, const float* x, float* y, int64_t row_begin,
                                  int64_t row_end);

struct F32SoftmaxRowsVariant {
  Isa isa;
  const char* name;
  F32SoftmaxRowsFn fn;
};

#if defined(__x86_64__)
void f32_softmax_rows_x8__avx2(int64_t cols, const float* x, float* y, int64_t row_begin,
                               int64_t row_end);
void f32_softmax_rows_x16__avx512(int64_t cols, const float* x, float* y, int64_t row_begin,
                                  int64_t row_end);
#endif
#if defined(__aarch64__)
void f32_softmax_rows_x4__neon(int64_t cols, const float* x, float* y, int64_t row_begin,
                               int64_t row_end);
#endif

// The vector row kernels built for this architecture, best first.
const F32SoftmaxRowsVariant* f32_softmax_rows_variants(size_t* count);

// The best row kernel usable under `cap`, or null when none is (use the reference).
const F32SoftmaxRowsVariant* select_f32_softmax_rows(Isa cap);

}  // namespace pare::rt::kernels
