// Reduction kernels (ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL2, ArgMax) over a strided view of a row-major tensor.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pare::rt::kernels {

// Dims with their element strides in the input.
struct StridedDims {
  size_t rank = 0;
  const int64_t* dims = nullptr;
  const int64_t* strides = nullptr;
};

// For every position of `kept` (row-major, the output order), sums the input over `reduced`
// and writes sum / divisor (divisor 1: ReduceSum; the reduced count: ReduceMean).
// Either view may have rank 0 (one position). float sums in double; int64 sums wrap
// around and divide truncating toward zero (a zero divisor leaves the sum).
// T: float, int64_t.
template <typename T>
void reduce_sum_ref(const StridedDims& kept, const StridedDims& reduced, const T* x, T* y,
                    int64_t divisor);

enum class ReduceOp { kMax, kMin, kProd, kL2 };

// As reduce_sum_ref for max, min, product and sqrt of the sum of squares. An empty reduced
// view gives the identity: -inf / lowest, +inf / highest, 1, 0. Max and min pass NaN on.
// float accumulates product and squares in double; int64 products wrap around.
// T: float, int64_t, int32_t.
template <typename T>
void reduce_ref(ReduceOp op, const StridedDims& kept, const StridedDims& reduced, const T* x, T* y);

// For each of outer * inner positions of x viewed as [outer, dim, inner] (dim >= 1), the
// index along dim of the largest element: the first one, or the last when `last`. NaN
// counts as largest. T: float, int64_t, int32_t.
template <typename T>
void argmax_ref(size_t outer, size_t dim, size_t inner, const T* x, bool last, int64_t* y);

}  // namespace pare::rt::kernels
