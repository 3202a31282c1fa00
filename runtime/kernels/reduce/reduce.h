// Reduction kernels (ReduceSum, ReduceMean) over a strided view of a row-major tensor.
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

}  // namespace pare::rt::kernels
