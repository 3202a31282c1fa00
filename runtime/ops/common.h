// Prepare-time checks and shape arithmetic shared by the op implementations.
//
// Every function that can fail returns a Status built with ctx.error(...), so messages name
// the op and the node; an op's prepare forwards them with PARE_RT_RETURN_IF_ERROR.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <new>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/qeltwise/qeltwise.h"
#include "runtime/op.h"

namespace pare::rt::ops {

// ---- inputs, outputs, attributes -------------------------------------------------------

// Input `i`, or nullptr when it is omitted (a null entry or past the end of ctx.inputs).
const TensorDesc* optional_input(const PrepareContext& ctx, size_t i);

// Checks that the node has between min and max inputs and outputs (SIZE_MAX: no limit),
// that the first `min_inputs` inputs and every output are present. Trailing omitted inputs
// do not count; more outputs than max_outputs is kUnsupported, any other mismatch kBadModel.
Status check_arity(const PrepareContext& ctx, size_t min_inputs, size_t max_inputs,
                   size_t min_outputs, size_t max_outputs);

// Checks that `t` (described as e.g. "input 0") has one of `allowed`; kUnsupported otherwise.
Status check_dtype(const PrepareContext& ctx, const TensorDesc& t, const char* what,
                   std::initializer_list<DType> allowed);

// Checks that `t` has a dtype this runtime knows (any of DType but kUndefined).
Status check_known_dtype(const PrepareContext& ctx, const TensorDesc& t, const char* what);

// Checks that planned output `i` has the dtype and shape prepare computed.
Status check_output(const PrepareContext& ctx, size_t i, DType dtype,
                    const std::vector<int64_t>& shape);

// The ops of this runtime that take a fused activation are Conv, ConvTranspose, Gemm and
// MatMul; any other op rejects one.
Status check_no_activation(const PrepareContext& ctx);

// Typed attribute readers: the default when absent, an error when present with another type.
Status int_attr(const PrepareContext& ctx, const char* name, int64_t dflt, int64_t* out);
Status float_attr(const PrepareContext& ctx, const char* name, float dflt, float* out);
Status string_attr(const PrepareContext& ctx, const char* name, const std::string& dflt,
                   std::string* out);
// *present tells whether the attribute was given.
Status ints_attr(const PrepareContext& ctx, const char* name, bool* present,
                 std::vector<int64_t>* out);

// Reads input `i`, an int64 or int32 scalar or 1-D tensor whose values shape the output, as
// int64. It must be a constant at prepare time (kUnsupported naming `what` otherwise) unless
// it is empty.
Status read_const_ints(const PrepareContext& ctx, size_t i, const char* what,
                       std::vector<int64_t>* out);

// The values of a constant int64 or int32 tensor (any rank) as int64.
std::vector<int64_t> const_int_values(const TensorDesc& t);

// The name of an ONNX-numbered dtype ("float32", "float16", ...), for messages about any
// dtype, including those this runtime does not implement.
std::string dtype_label(int32_t onnx_type);

// ---- axes ------------------------------------------------------------------------------

// Maps axis in [-rank, rank) to [0, rank).
Status normalize_axis(const PrepareContext& ctx, int64_t axis, int64_t rank, int64_t* out);
// Same for a list; duplicates (after normalisation) are an error. Order is kept.
Status normalize_axes(const PrepareContext& ctx, const std::vector<int64_t>& axes, int64_t rank,
                      std::vector<int64_t>* out);

// ---- shapes and strides ----------------------------------------------------------------

// Shape arithmetic on values read from the file (attributes, constant inputs) before
// check_output compares the result with the planned shape. A step that leaves int64 sets
// `overflow` and yields the wrapped value, which the caller never uses: a hostile value
// becomes an error instead of undefined behaviour.
struct CheckedMath {
  bool overflow = false;
  int64_t add(int64_t a, int64_t b) {
    int64_t r = 0;
    overflow |= __builtin_add_overflow(a, b, &r);
    return r;
  }
  int64_t sub(int64_t a, int64_t b) {
    int64_t r = 0;
    overflow |= __builtin_sub_overflow(a, b, &r);
    return r;
  }
  int64_t mul(int64_t a, int64_t b) {
    int64_t r = 0;
    overflow |= __builtin_mul_overflow(a, b, &r);
    return r;
  }
};

int64_t num_elements(const std::vector<int64_t>& shape);
// Row-major element strides.
std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape);

// Numpy (multidirectional) broadcasting of shapes; false when they are incompatible.
bool broadcast_shapes(const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                      std::vector<int64_t>* out);
// Element strides for reading a row-major tensor of `shape` as if broadcast to `out_shape`
// (shapes right-aligned; stride 0 along the dims it is repeated over). `shape` must
// broadcast to `out_shape`.
std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& shape,
                                       const std::vector<int64_t>& out_shape);

// Operands walked together over one row-major index space (the output's): element
// strides per operand and dim, which may be 0 (broadcast) or negative (reversed slices).
struct StridedLayout {
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> strides;  // [operand][dim]
};

// Rewrites a layout to the fewest dims that visit the same elements in the same order:
// drops dims of size 1 and merges neighbours that every operand walks contiguously, so a
// same-shape operation becomes one row and a scalar broadcast one row with stride 0.
// The result has at least one dim.
void simplify_layout(StridedLayout* layout);

// ---- kernels ---------------------------------------------------------------------------

// An array of T on a 64-byte boundary (packed weights), zeroed and allocated at prepare
// through PrepareMemory; empty until resize. A refused or failed allocation leaves it empty
// and returns false: the caller stops (the interpreter reports the sizes).
template <typename T>
class AlignedArray {
 public:
  [[nodiscard]] bool resize(size_t n) {
    storage_.reset();
    data_ = nullptr;
    const size_t count = n + kAlign / sizeof(T);
    if (n > (SIZE_MAX - kAlign) / sizeof(T) || !PrepareMemory::reserve(count * sizeof(T))) return false;
    storage_.reset(new (std::nothrow) T[count]());
    if (!storage_) {
      PrepareMemory::allocation_failed(count * sizeof(T));
      return false;
    }
    // new T[] is aligned for T, so the distance to the boundary is whole elements.
    const uintptr_t address = reinterpret_cast<uintptr_t>(storage_.get());
    data_ = storage_.get() + (kAlign - address % kAlign) % kAlign / sizeof(T);
    return true;
  }
  T* data() const { return data_; }
  bool empty() const { return data_ == nullptr; }

 private:
  static constexpr size_t kAlign = 64;
  std::unique_ptr<T[]> storage_;
  T* data_ = nullptr;
};

// fusion_tag() of a float32 Add whose two inputs both have its output's shape (no
// broadcast): a residual connection, which a Conv kernel can add to its output tiles
// (fuse_conv_chain in conv.cc).
extern const char kF32ResidualAddTag;
// fusion_tag() of a float32 Add of a tensor of its output's shape (at input 0 or 1) and a
// constant row of its last dim (shape [N] or [1, ..., 1, N]): a bias, which a GEMM kernel
// can add to its output tiles (fuse_gemm_bias in gemm.cc).
extern const char kF32BiasAddTag[2];

// fusion_tag() of an 8-bit Mul whose two inputs both have its output's shape (no broadcast):
// with a table kernel before it that reads its other input, one table does both
// (fuse_q8_table_mul in elementwise.cc).
extern const char kQ8SameShapeMulTag;

// An 8-bit unary op as a 256-entry table indexed by the input byte (prepare_q8_table):
// maps the n bytes of input 0 to output 0 with the selected lookup kernel.
class Q8TableKernel final : public OpKernel {
 public:
  Q8TableKernel(std::string name, const uint8_t (&table)[256], size_t n, kernels::Q8LookupFn lookup);
  void run(const ExecContext& ctx) override;
  const char* kernel_name() const override { return name_.c_str(); }
  const void* fusion_tag() const override { return &kTag; }
  static const void* tag() { return &kTag; }
  const uint8_t* table() const { return table_; }
  size_t elements() const { return n_; }
  kernels::Q8LookupFn lookup() const { return lookup_; }

 private:
  static const char kTag;
  std::string name_;
  alignas(64) uint8_t table_[256];
  size_t n_;
  kernels::Q8LookupFn lookup_;
};

// Which inputs a kernel that has taken the Add after it reads (the interpreter passes it the
// Add's two inputs, the kernel's own input at the Add's slot of the kernel's output): the
// kernel's input at slot x, the Add's other operand at 1 - x. Before an Add is taken, input
// 0 and no operand.
class FusedAddInputs {
 public:
  // Takes the Add reading the kernel's output at input `x_slot`, once.
  [[nodiscard]] bool take(size_t x_slot) {
    if (taken_ || x_slot > 1) return false;
    taken_ = true;
    x_slot_ = x_slot;
    return true;
  }
  bool taken() const { return taken_; }
  // The Add adds its other operand first (it reads the kernel's output second).
  bool operand_first() const { return x_slot_ == 1; }
  const float* x(const ExecContext& ctx) const { return static_cast<const float*>(ctx.inputs[x_slot_]); }
  const float* operand(const ExecContext& ctx) const {
    return taken_ ? static_cast<const float*>(ctx.inputs[1 - x_slot_]) : nullptr;
  }

 private:
  bool taken_ = false;
  size_t x_slot_ = 0;
};

// Short dtype tags for kernel names: "f32", "f64", "i64", "i32", "i8", "u8", "b8".
const char* dtype_tag(DType t);
// Tags of kernels that move elements without looking at them: "x8", "x32", "x64".
const char* size_tag(size_t element_bytes);

// An OpKernel whose run calls fn(ctx); prepare captures in fn everything the run needs
// (sizes, strides, the kernel function), so running allocates nothing.
template <typename F>
class CallableKernel final : public OpKernel {
 public:
  CallableKernel(std::string name, F fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  void run(const ExecContext& ctx) override { fn_(ctx); }
  const char* kernel_name() const override { return name_.c_str(); }

 private:
  std::string name_;
  F fn_;
};

template <typename F>
std::unique_ptr<OpKernel> make_kernel(std::string name, F fn) {
  return std::make_unique<CallableKernel<F>>(std::move(name), std::move(fn));
}

// Copies the view of x with `dims` and element `strides` (kernels::copy_strided_ref) to the
// contiguous y; a copy of kStridedCopyParallelMin elements or more splits its first dim among
// the pool's threads. T: uint8_t, uint32_t, uint64_t.
template <typename T>
void copy_strided(ThreadPool* pool, size_t rank, const int64_t* dims, const int64_t* strides, const T* x, T* y);

// A kernel that copies the strided view `layout` of input 0 (one operand; element strides),
// starting `offset` elements into it, to the contiguous output 0. Named
// "<xN>_<op>_ref__scalar"; `empty` (an output without elements) makes it do nothing.
std::unique_ptr<OpKernel> make_strided_copy(const PrepareContext& ctx, const char* op,
                                            StridedLayout layout, int64_t offset, bool empty);

// Float means over the pixels of channels-last images: input [batch, pixels, channels],
// output [batch, channels]; the pool family's vector kernel (GlobalAveragePool in NHWC, and
// ReduceMean over the same axes), which gives the bytes of the reduce reference: double sums
// in pixel order, one division. pixels >= 1.
std::unique_ptr<OpKernel> f32_global_avgpool_nhwc_kernel(const PrepareContext& ctx, int64_t batch, int64_t pixels,
                                                         int64_t channels);

}  // namespace pare::rt::ops
