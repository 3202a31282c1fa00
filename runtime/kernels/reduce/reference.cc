// Recursion over the dims: each level walks one dim, so any rank works without index arrays.
#include <cmath>
#include <limits>
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

namespace {

template <typename T, typename F>
void visit_view(size_t rank, const int64_t* dims, const int64_t* strides, const T* x, F& f) {
  if (rank == 0) return f(*x);
  for (int64_t i = 0; i < dims[0]; ++i) visit_view(rank - 1, dims + 1, strides + 1, x + i * strides[0], f);
}

// Calls out(x at the start of one reduced view) once per kept position, in output order.
template <typename T, typename F>
void visit_kept(size_t rank, const int64_t* dims, const int64_t* strides, const T* x, F& out) {
  if (rank == 0) return out(x);
  for (int64_t i = 0; i < dims[0]; ++i) visit_kept(rank - 1, dims + 1, strides + 1, x + i * strides[0], out);
}

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  return false;
}

}  // namespace

template <typename T>
void reduce_ref(ReduceOp op, const StridedDims& kept, const StridedDims& reduced, const T* x, T* y) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  using Limits = std::numeric_limits<T>;
  auto per_output = [&](const T* start) {
    Acc acc = 0;
    switch (op) {
      case ReduceOp::kMax: acc = Limits::has_infinity ? -Limits::infinity() : Limits::lowest(); break;
      case ReduceOp::kMin: acc = Limits::has_infinity ? Limits::infinity() : Limits::max(); break;
      case ReduceOp::kProd: acc = 1; break;
      case ReduceOp::kL2: acc = 0; break;
    }
    auto step = [&](T v) {
      switch (op) {
        case ReduceOp::kMax:
          if (v > acc || is_nan(v)) acc = v;
          break;
        case ReduceOp::kMin:
          if (v < acc || is_nan(v)) acc = v;
          break;
        case ReduceOp::kProd:
          if constexpr (std::is_floating_point_v<T>) acc *= v;
          else acc = static_cast<T>(static_cast<std::make_unsigned_t<T>>(acc) * static_cast<std::make_unsigned_t<T>>(v));
          break;
        case ReduceOp::kL2: acc += static_cast<Acc>(v) * static_cast<Acc>(v); break;
      }
    };
    // NaN stays once seen: later comparisons with it are false.
    visit_view(reduced.rank, reduced.dims, reduced.strides, start, step);
    if (op == ReduceOp::kL2) acc = static_cast<Acc>(std::sqrt(static_cast<double>(acc)));
    *y++ = static_cast<T>(acc);
  };
  visit_kept(kept.rank, kept.dims, kept.strides, x, per_output);
}

template <typename T>
void argmax_ref(size_t outer, size_t dim, size_t inner, const T* x, bool last, int64_t* y) {
  for (size_t o = 0; o < outer; ++o) {
    for (size_t i = 0; i < inner; ++i) {
      const T* p = x + o * dim * inner + i;
      size_t best = 0;
      for (size_t d = 1; d < dim && !is_nan(p[best * inner]); ++d) {
        const T v = p[d * inner];
        if (v > p[best * inner] || is_nan(v) || (last && v == p[best * inner])) best = d;
      }
      y[o * inner + i] = static_cast<int64_t>(best);
    }
  }
}

#define PARE_REDUCE_INSTANTIATE(T)                                                                  \
  template void reduce_ref<T>(ReduceOp, const StridedDims&, const StridedDims&, const T*, T*); \
  template void argmax_ref<T>(size_t, size_t, size_t, const T*, bool, int64_t*);
PARE_REDUCE_INSTANTIATE(float)
PARE_REDUCE_INSTANTIATE(int64_t)
PARE_REDUCE_INSTANTIATE(int32_t)
#undef PARE_REDUCE_INSTANTIATE

}  // namespace pare::rt::kernels
