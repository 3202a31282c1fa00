// Recursion over the dims (one level per dim) keeps the strided copy free of index arrays.
#include <algorithm>
#include <cstring>

#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
#include "runtime/kernels/transpose/transpose.h"

namespace pare::rt::kernels {

namespace {

// y[i][j] = x[j * s1 + i] for C source rows (C output columns), C a constant: the C
// values of an output row go out together (an RGB image's NCHW -> NHWC).
template <int C, typename T>
void interleave_rows(int64_t rows, int64_t s1, const T* x, T* y) {
  for (int64_t i = 0; i < rows; ++i)
    for (int j = 0; j < C; ++j) y[i * C + j] = x[j * s1 + i];
}

template <typename T>
T* copy_dims(size_t rank, const int64_t* dims, const int64_t* strides, const T* x, T* y) {
  if (rank == 1) {
    const int64_t n = dims[0], s = strides[0];
    if (s == 1) {
      std::memcpy(y, x, static_cast<size_t>(n) * sizeof(T));
    } else {
      for (int64_t i = 0; i < n; ++i) y[i] = x[i * s];
    }
    return y + n;
  }
  if (rank == 2 && strides[1] != 1) {
    // The last two dims in one loop nest: a channels-last copy with few channels (an
    // image's NCHW -> NHWC) would otherwise make one call per pixel.
    const int64_t rows = dims[0], cols = dims[1], s0 = strides[0], s1 = strides[1];
    if (s0 == 1 && cols <= 4) {
      switch (cols) {
        case 2: interleave_rows<2>(rows, s1, x, y); return y + rows * cols;
        case 3: interleave_rows<3>(rows, s1, x, y); return y + rows * cols;
        case 4: interleave_rows<4>(rows, s1, x, y); return y + rows * cols;
        default: break;
      }
    }
    if (s0 == 1) {
      // A plain transpose, y[i][j] = x[j * s1 + i]: square blocks, read along x's rows,
      // so that neither side strides through memory a cache line per element.
      constexpr int64_t kBlock = 64;
      for (int64_t i0 = 0; i0 < rows; i0 += kBlock) {
        const int64_t i1 = std::min(rows, i0 + kBlock);
        for (int64_t j0 = 0; j0 < cols; j0 += kBlock) {
          const int64_t j1 = std::min(cols, j0 + kBlock);
          for (int64_t j = j0; j < j1; ++j) {
            const T* src = x + j * s1;
            for (int64_t i = i0; i < i1; ++i) y[i * cols + j] = src[i];
          }
        }
      }
      return y + rows * cols;
    }
    for (int64_t i = 0; i < rows; ++i, y += cols) {
      const T* src = x + i * s0;
      for (int64_t j = 0; j < cols; ++j) y[j] = src[j * s1];
    }
    return y;
  }
  for (int64_t i = 0; i < dims[0]; ++i)
    y = copy_dims(rank - 1, dims + 1, strides + 1, x + i * strides[0], y);
  return y;
}

}  // namespace

template <typename T>
void copy_strided_ref(size_t rank, const int64_t* dims, const int64_t* strides, const T* x, T* y) {
  copy_dims(rank, dims, strides, x, y);
}

void copy_rows_ref(size_t rows, size_t row_bytes, const void* x, size_t src_stride, void* y,
                   size_t dst_stride) {
  const auto* src = static_cast<const uint8_t*>(x);
  auto* dst = static_cast<uint8_t*>(y);
  if (row_bytes == 0) return;
  for (size_t r = 0; r < rows; ++r)
    std::memcpy(dst + r * dst_stride, src + r * src_stride, row_bytes);
}

template <typename I>
void gather_ref(size_t outer, int64_t axis_size, size_t inner_bytes, const void* x,
                const I* indices, size_t num_indices, void* y) {
  const auto* src = static_cast<const uint8_t*>(x);
  auto* dst = static_cast<uint8_t*>(y);
  for (size_t o = 0; o < outer; ++o) {
    const uint8_t* block = src + o * static_cast<size_t>(axis_size) * inner_bytes;
    for (size_t j = 0; j < num_indices; ++j, dst += inner_bytes) {
      int64_t k = static_cast<int64_t>(indices[j]);
      if (k < 0) k += axis_size;
      if (k < 0 || k >= axis_size) {
        std::memset(dst, 0, inner_bytes);
      } else {
        std::memcpy(dst, block + static_cast<size_t>(k) * inner_bytes, inner_bytes);
      }
    }
  }
}

void x32_interleave3_ref__scalar(size_t plane, const uint32_t* x, uint32_t* y, size_t begin, size_t end) {
  if (end > begin)
    interleave_rows<3>(static_cast<int64_t>(end - begin), static_cast<int64_t>(plane), x + begin, y + 3 * begin);
}

namespace {
const X32Interleave3Variant kInterleave3Variants[] = {
#if PARE_KERNELS_AVX512
    {Isa::kAvx512, "x32_interleave3_x16__avx512", x32_interleave3_x16__avx512},
#endif
#if PARE_KERNELS_AVX2
    {Isa::kAvx2, "x32_interleave3_x8__avx2", x32_interleave3_x8__avx2},
#endif
#if PARE_KERNELS_NEON
    {Isa::kNeon, "x32_interleave3_x4__neon", x32_interleave3_x4__neon},
#endif
    {Isa::kScalar, nullptr, nullptr},  // keeps the array non-empty on other architectures
};
}  // namespace

const X32Interleave3Variant* x32_interleave3_variants(size_t* count) {
  if constexpr (!kernel_family_selected("x32_transpose")) {
    *count = 0;
    return nullptr;
  }
  *count = sizeof(kInterleave3Variants) / sizeof(kInterleave3Variants[0]) - 1;
  return kInterleave3Variants;
}

const X32Interleave3Variant* select_x32_interleave3(Isa cap) {
  note_kernel_family("x32_transpose");
  size_t count = 0;
  const X32Interleave3Variant* all = x32_interleave3_variants(&count);
  return best_usable_variant(all, count, false, cap);
}

void copy_ref(size_t bytes, const void* x, void* y) {
  if (x != y && bytes > 0) std::memcpy(y, x, bytes);
}

template <typename T>
void fill_ref(size_t n, T value, T* y) {
  std::fill(y, y + n, value);
}

#define PARE_BY_SIZE(T)                                                                    \
  template void copy_strided_ref<T>(size_t, const int64_t*, const int64_t*, const T*, T*); \
  template void fill_ref<T>(size_t, T, T*);
PARE_BY_SIZE(uint8_t)
PARE_BY_SIZE(uint32_t)
PARE_BY_SIZE(uint64_t)
#undef PARE_BY_SIZE

template void gather_ref<int64_t>(size_t, int64_t, size_t, const void*, const int64_t*, size_t,
                                  void*);
template void gather_ref<int32_t>(size_t, int64_t, size_t, const void*, const int32_t*, size_t,
                                  void*);

}  // namespace pare::rt::kernels
