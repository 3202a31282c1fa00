// Recursion over the dims: each level walks one dim, so any rank works without index arrays.
#include <type_traits>

#include "runtime/kernels/reduce/reduce.h"

namespace pare::rt::kernels {

namespace {

template <typename T>
using Accumulator = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;

template <typename T>
Accumulator<T> sum_view(size_t rank, const int64_t* dims, const int64_t* strides, const T* x) {
  if (rank == 0) return static_cast<Accumulator<T>>(*x);
  Accumulator<T> sum = 0;
  if (rank == 1) {
    for (int64_t i = 0; i < dims[0]; ++i) sum += static_cast<Accumulator<T>>(x[i * strides[0]]);
  } else {
    for (int64_t i = 0; i < dims[0]; ++i)
      sum += sum_view(rank - 1, dims + 1, strides + 1, x + i * strides[0]);
  }
  return sum;
}

template <typename T>
T finish(Accumulator<T> sum, int64_t divisor) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(divisor == 1 ? sum : sum / static_cast<double>(divisor));
  } else {
    const auto value = static_cast<T>(sum);
    return divisor == 0 ? value : value / divisor;
  }
}

template <typename T>
T* reduce_kept(size_t rank, const int64_t* dims, const int64_t* strides, const StridedDims& reduced,
               const T* x, T* y, int64_t divisor) {
  if (rank == 0) {
    *y = finish<T>(sum_view(reduced.rank, reduced.dims, reduced.strides, x), divisor);
    return y + 1;
  }
  for (int64_t i = 0; i < dims[0]; ++i)
    y = reduce_kept(rank - 1, dims + 1, strides + 1, reduced, x + i * strides[0], y, divisor);
  return y;
}

}  // namespace

template <typename T>
void reduce_sum_ref(const StridedDims& kept, const StridedDims& reduced, const T* x, T* y,
                    int64_t divisor) {
  reduce_kept(kept.rank, kept.dims, kept.strides, reduced, x, y, divisor);
}

template void reduce_sum_ref<float>(const StridedDims&, const StridedDims&, const float*, float*,
                                    int64_t);
template void reduce_sum_ref<int64_t>(const StridedDims&, const StridedDims&, const int64_t*,
                                      int64_t*, int64_t);

}  // namespace pare::rt::kernels
