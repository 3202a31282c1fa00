#include "runtime/kernels/resize/resize.h"

namespace pare::rt::kernels {

namespace {

// Advances a row-major coordinate counter; false after the last coordinate.
bool next_coordinate(size_t rank, const int64_t* shape, int64_t* coord) {
  for (size_t d = rank; d-- > 0;) {
    if (++coord[d] < shape[d]) return true;
    coord[d] = 0;
  }
  return false;
}

bool any_zero(size_t rank, const int64_t* shape) {
  for (size_t d = 0; d < rank; ++d)
    if (shape[d] == 0) return true;
  return false;
}

template <typename T>
void resize_nearest(size_t rank, const int64_t* out_shape, const int64_t* in_strides, const int64_t* const* index,
                    const T* input, T* output) {
  if (any_zero(rank, out_shape)) return;
  int64_t coord[kResizeMaxRank] = {};
  do {
    int64_t offset = 0;
    for (size_t d = 0; d < rank; ++d) offset += index[d][coord[d]] * in_strides[d];
    *output++ = input[offset];
  } while (next_coordinate(rank, out_shape, coord));
}

}  // namespace

void f32_resize_nearest_ref__scalar(size_t rank, const int64_t* out_shape,
                                    const int64_t* in_strides, const int64_t* const* index,
                                    const float* input, float* output) {
  resize_nearest(rank, out_shape, in_strides, index, input, output);
}

void x8_resize_nearest_ref__scalar(size_t rank, const int64_t* out_shape,
                                   const int64_t* in_strides, const int64_t* const* index,
                                   const uint8_t* input, uint8_t* output) {
  resize_nearest(rank, out_shape, in_strides, index, input, output);
}

void f32_resize_linear_ref__scalar(size_t rank, const int64_t* out_shape,
                                   const int64_t* in_strides, const LinearAxis* axes,
                                   float extrapolation, const float* input, float* output) {
  if (any_zero(rank, out_shape)) return;
  size_t interpolated[kResizeMaxRank];
  size_t k = 0;
  for (size_t d = 0; d < rank; ++d)
    if (axes[d].interpolate) interpolated[k++] = d;

  int64_t coord[kResizeMaxRank] = {};
  do {
    bool outside = false;
    int64_t base = 0;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t lo = axes[d].lo[coord[d]];
      outside = outside || lo < 0;
      base += lo * in_strides[d];
    }
    if (outside) {
      *output++ = extrapolation;
      continue;
    }
    float sum = 0.f;
    for (size_t corner = 0; corner < (size_t{1} << k); ++corner) {
      int64_t offset = base;
      float weight = 1.f;
      for (size_t j = 0; j < k; ++j) {
        const LinearAxis& a = axes[interpolated[j]];
        const int64_t o = coord[interpolated[j]];
        if (corner >> j & 1) {
          offset += (a.hi[o] - a.lo[o]) * in_strides[interpolated[j]];
          weight *= a.weight[o];
        } else {
          weight *= 1.f - a.weight[o];
        }
      }
      sum += weight * input[offset];
    }
    *output++ = sum;
  } while (next_coordinate(rank, out_shape, coord));
}

bool f32_resize_bilinear_applies(size_t rank, const int64_t* out_shape, const int64_t* in_strides,
                                 const LinearAxis* axes) {
  size_t first = rank;
  for (size_t d = 0; d < rank; ++d) {
    if (axes[d].interpolate) {
      if (first == rank) first = d;
      else if (d != first + 1) return false;
      for (int64_t o = 0; o < out_shape[d]; ++o)
        if (axes[d].lo[o] < 0) return false;
    } else {
      for (int64_t o = 0; o < out_shape[d]; ++o)
        if (axes[d].lo[o] != o) return false;
    }
  }
  if (first + 1 >= rank || !axes[first + 1].interpolate) return false;
  // The axes after the two must be one contiguous block of the output's sizes (inner), and
  // those before them one run of equal steps (outer): each of the input's sizes there equals
  // the output's (a crop that reads in place but keeps fewer samples does not qualify).
  int64_t inner = 1;
  for (size_t d = rank; d-- > first + 2;) {
    if (in_strides[d] != inner) return false;
    inner *= out_shape[d];
  }
  if (in_strides[first + 1] != inner) return false;
  for (size_t d = 1; d < first; ++d)
    if (in_strides[d - 1] != in_strides[d] * out_shape[d]) return false;
  return true;
}

void f32_resize_bilinear__scalar(size_t rank, const int64_t* out_shape, const int64_t* in_strides,
                                 const LinearAxis* axes, const float* input, float* output) {
  if (any_zero(rank, out_shape)) return;
  size_t first = 0;
  while (!axes[first].interpolate) ++first;
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < first; ++d) outer *= out_shape[d];
  for (size_t d = first + 2; d < rank; ++d) inner *= out_shape[d];
  const LinearAxis &ay = axes[first], &ax = axes[first + 1];
  const int64_t sy = in_strides[first], sx = in_strides[first + 1];
  const int64_t so = first > 0 ? in_strides[first - 1] : 0;
  for (int64_t n = 0; n < outer; ++n) {
    const float* in = input + n * so;
    for (int64_t y = 0; y < out_shape[first]; ++y) {
      const float fy1 = ay.weight[y], fy0 = 1.f - fy1;
      const float* row0 = in + ay.lo[y] * sy;
      const float* row1 = in + ay.hi[y] * sy;
      for (int64_t x = 0; x < out_shape[first + 1]; ++x) {
        // The general loop's corner weights and sum, in its order.
        const float fx1 = ax.weight[x], fx0 = 1.f - fx1;
        const float w00 = fy0 * fx0, w10 = fy1 * fx0, w01 = fy0 * fx1, w11 = fy1 * fx1;
        const int64_t x0 = ax.lo[x] * sx, x1 = ax.hi[x] * sx;
        for (int64_t c = 0; c < inner; ++c) {
          float sum = 0.f;
          sum += w00 * row0[x0 + c];
          sum += w10 * row1[x0 + c];
          sum += w01 * row0[x1 + c];
          sum += w11 * row1[x1 + c];
          *output++ = sum;
        }
      }
    }
  }
}

}  // namespace pare::rt::kernels
