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

}  // namespace pare::rt::kernels
