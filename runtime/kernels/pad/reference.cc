#include "runtime/kernels/pad/pad.h"

#include <cstring>

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

template <typename T>
void pad(size_t rank, const int64_t* out_shape, const int64_t* in_strides,
         const int64_t* const* source, const void* constant_value, const void* input,
         void* output) {
  for (size_t d = 0; d < rank; ++d)
    if (out_shape[d] == 0) return;
  T constant;
  std::memcpy(&constant, constant_value, sizeof(T));
  const T* in = static_cast<const T*>(input);
  T* out = static_cast<T*>(output);

  int64_t coord[kPadMaxRank] = {};
  do {
    int64_t offset = 0;
    bool is_constant = false;
    for (size_t d = 0; d < rank; ++d) {
      const int64_t s = source[d][coord[d]];
      is_constant = is_constant || s < 0;
      offset += s * in_strides[d];
    }
    *out++ = is_constant ? constant : in[offset];
  } while (next_coordinate(rank, out_shape, coord));
}

}  // namespace

void x8_pad_ref__scalar(size_t rank, const int64_t* out_shape, const int64_t* in_strides,
                        const int64_t* const* source, const void* constant_value,
                        const void* input, void* output) {
  pad<uint8_t>(rank, out_shape, in_strides, source, constant_value, input, output);
}

void x32_pad_ref__scalar(size_t rank, const int64_t* out_shape, const int64_t* in_strides,
                         const int64_t* const* source, const void* constant_value,
                         const void* input, void* output) {
  pad<uint32_t>(rank, out_shape, in_strides, source, constant_value, input, output);
}

void x64_pad_ref__scalar(size_t rank, const int64_t* out_shape, const int64_t* in_strides,
                         const int64_t* const* source, const void* constant_value,
                         const void* input, void* output) {
  pad<uint64_t>(rank, out_shape, in_strides, source, constant_value, input, output);
}

}  // namespace pare::rt::kernels
