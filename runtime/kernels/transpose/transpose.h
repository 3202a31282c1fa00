// Data-movement kernels: strided copies (Transpose, Slice, Expand), row copies (Concat,
// Split), Gather and fills. They move whole elements and never look at values, so one
// instantiation per element size serves every dtype. T: uint8_t, uint32_t, uint64_t.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "runtime/cpu.h"

namespace pare::rt::kernels {

// Writes the view of x with `dims` and element `strides` (0 repeats, negative walks
// backwards) to the contiguous y, in row-major order of the view. rank >= 1.
template <typename T>
void copy_strided_ref(size_t rank, const int64_t* dims, const int64_t* strides, const T* x, T* y);

// Copies `rows` rows of `row_bytes` bytes; consecutive rows start src_stride and dst_stride
// bytes apart in x and y.
void copy_rows_ref(size_t rows, size_t row_bytes, const void* x, size_t src_stride, void* y,
                   size_t dst_stride);

// Gather along one axis of x viewed as [outer, axis_size, inner] (inner in bytes):
// y[o, j, :] = x[o, indices[j], :] for j < num_indices. Negative indices count from the
// end of the axis; indices still outside [0, axis_size) give zeros. I: int64_t, int32_t.
template <typename I>
void gather_ref(size_t outer, int64_t axis_size, size_t inner_bytes, const void* x,
                const I* indices, size_t num_indices, void* y);

// Copies n bytes between buffers that do not overlap. Up to 64 bytes (an im2col row of a
// conv with few input channels) as two fixed-size copies that overlap in the middle, which
// compile to a few register moves instead of a call; longer runs call memcpy.
inline void copy_short(void* dst, const void* src, size_t n) {
  auto* d = static_cast<uint8_t*>(dst);
  const auto* s = static_cast<const uint8_t*>(src);
  const auto two = [&](auto width) {
    constexpr size_t w = decltype(width)::value;
    std::memcpy(d, s, w);
    std::memcpy(d + n - w, s + n - w, w);
  };
  if (n > 64) std::memcpy(d, s, n);
  else if (n >= 32) two(std::integral_constant<size_t, 32>{});
  else if (n >= 16) two(std::integral_constant<size_t, 16>{});
  else if (n >= 8) two(std::integral_constant<size_t, 8>{});
  else if (n >= 4) two(std::integral_constant<size_t, 4>{});
  else
    for (size_t i = 0; i < n; ++i) d[i] = s[i];
}

// ---- three planes into pixels (an RGB image's NCHW -> NHWC) ---------------------------
//
// y[3 * i + c] = x[c * plane + i] for i in [begin, end), c < 3, 4-byte elements. The
// vector kernels move the same bytes as the reference (they never look at values), so a
// split of [begin, end) into pieces gives identical output.
using X32Interleave3Fn = void (*)(size_t plane, const uint32_t* x, uint32_t* y, size_t begin, size_t end);

void x32_interleave3_ref__scalar(size_t plane, const uint32_t* x, uint32_t* y, size_t begin, size_t end);

struct X32Interleave3Variant {
  Isa isa;
  const char* name;
  X32Interleave3Fn fn;
};

#if defined(__x86_64__)
void x32_interleave3_x8__avx2(size_t plane, const uint32_t* x, uint32_t* y, size_t begin, size_t end);
void x32_interleave3_x16__avx512(size_t plane, const uint32_t* x, uint32_t* y, size_t begin, size_t end);
#endif
#if defined(__aarch64__)
void x32_interleave3_x4__neon(size_t plane, const uint32_t* x, uint32_t* y, size_t begin, size_t end);
#endif

// The vector kernels built for this architecture, best first.
const X32Interleave3Variant* x32_interleave3_variants(size_t* count);
// The best one usable under `cap`, or null when none is (use the reference).
const X32Interleave3Variant* select_x32_interleave3(Isa cap);

// y = x, `bytes` bytes; nothing to do when they are the same buffer.
void copy_ref(size_t bytes, const void* x, void* y);

// y[0..n) = value.
template <typename T>
void fill_ref(size_t n, T value, T* y);

}  // namespace pare::rt::kernels
