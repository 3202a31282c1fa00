// Tensor descriptions as the runtime sees them: dtype and a static shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/types.h"

namespace pare::rt {

using ::pare::DType;
using ::pare::dtype_size;
using ::pare::dtype_name;
using ::pare::dtype_valid;
using ::pare::QuantParams;
using ::pare::Encoding;
using ::pare::SparseFormat;

using ::pare::SparseView;
using ::pare::PaletteCoding;
using ::pare::PaletteView;

struct TensorDesc {
  std::string name;
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  const void* constant = nullptr;  // weights: points into the mapped file (or a caller's buffer);
                                   // null for a sparse or palette constant an op reads
                                   // through `sparse` or `palette`
  Encoding encoding = Encoding::kDense;
  SparseView sparse;               // encoding == kSparse
  PaletteView palette;             // encoding == kPalette
  bool quantized = false;          // quant holds the tensor's quantization
  QuantParams quant;

  int64_t num_elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  size_t byte_size() const { return static_cast<size_t>(num_elements()) * dtype_size(dtype); }
  size_t rank() const { return shape.size(); }
};

std::string shape_str(const std::vector<int64_t>& shape);  // "[1,3,224,224]"

// Writes the dense row-major bytes (t.byte_size()) of a constant to `out`: a copy for a
// dense one; for a sparse one, zero bytes where the view stores nothing. For ops without a
// sparse kernel, and kernels that fall back to dense (defined in runtime/sparse.cc).
void densify(const TensorDesc& t, void* out);

}  // namespace pare::rt
