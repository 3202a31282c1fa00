// Broadcasting elementwise ops: Add, Sub, Mul, Div, Pow, Mod, Equal, Where, PRelu.
//
// Prepare broadcasts the inputs to the output shape and simplifies the
// resulting strided layout (common.h), so same-shape and scalar operands run as
// a single row; other broadcasts (e.g. a [C] row over NHWC [N, H, W, C]) run
// the kernel one row at a time. Float32 Add/Sub/Mul/Div use the vector kernels
// of ctx.isa; large tensors are split over the thread pool. Add and Mul of
// quantized 8-bit tensors run the int8 kernels (qeltwise.h) with a fused
// Relu/Clip as the output clamp.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "runtime/kernels/eltwise/eltwise.h"
#include "runtime/kernels/qeltwise/qeltwise.h"
#include "runtime/kernels/quant/requant.h"
#include "runtime/ops/common.h"
#include "runtime/ops/parallel.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

constexpr size_t kMaxOperands = 3;

// One row of n output elements; steps[k] is 0 or 1 for input k.
using RowFn = void (*)(size_t n, const void* const* x, const size_t* steps, void* y);

template <typename A, typename B, typename Y,
          void (*K)(size_t, const A*, size_t, const B*, size_t, Y*)>
void binary_row(size_t n, const void* const* x, const size_t* steps, void* y) {
  K(n, static_cast<const A*>(x[0]), steps[0], static_cast<const B*>(x[1]), steps[1],
    static_cast<Y*>(y));
}

template <typename T>
void where_row(size_t n, const void* const* x, const size_t* steps, void* y) {
  kernels::where_ref<T>(n, static_cast<const uint8_t*>(x[0]), steps[0], static_cast<const T*>(x[1]),
                        steps[1], static_cast<const T*>(x[2]), steps[2], static_cast<T*>(y));
}

// An int8 binary kernel with its parameters.
struct Q8Binary {
  kernels::Q8BinaryFn fn = nullptr;
  kernels::Q8BinaryParams params;
};

class BroadcastKernel final : public OpKernel {
 public:
  // f32_binary or q8.fn, when set, runs the rows instead of `row` (a float32
  // binary vector kernel, an int8 binary kernel).
  BroadcastKernel(std::string name, RowFn row, kernels::F32BinaryFn f32_binary, const Q8Binary& q8,
                  const StridedLayout& layout, const std::vector<size_t>& input_bytes,
                  size_t output_bytes, bool empty)
      : name_(std::move(name)),
        row_(row),
        f32_binary_(f32_binary),
        q8_(q8),
        dims_(layout.dims),
        num_inputs_(input_bytes.size()),
        row_len_(static_cast<size_t>(layout.dims.back())),
        output_bytes_(output_bytes),
        empty_(empty) {
    for (int64_t d : layout.dims) rows_ *= static_cast<size_t>(d);
    rows_ /= row_len_ == 0 ? 1 : row_len_;
    for (size_t k = 0; k < num_inputs_; ++k) {
      steps_[k] = static_cast<size_t>(layout.strides[k].back());
      input_bytes_[k] = input_bytes[k];
      for (int64_t s : layout.strides[k])
        byte_strides_[k].push_back(s * static_cast<int64_t>(input_bytes[k]));
    }
    // A float row over contiguous rows (a squeeze-and-excitation scale or a bias over NHWC
    // pixels): rows run in blocks, one kernel call each, against the row repeated in
    // scratch. One call per row of 32 channels cost 2.4x ONNX Runtime's time on
    // EfficientNet-B0's first scale (112x112x32).
    if (f32_binary_ != nullptr && num_inputs_ == 2 && dims_.size() == 2 && rows_ > 1 &&
        row_len_ > 0 && row_len_ <= kRepeatFloats / 2) {
      const auto row_bytes = static_cast<int64_t>(row_len_ * sizeof(float));
      for (size_t k = 0; k < 2; ++k) {
        const size_t o = 1 - k;
        if (steps_[k] == 1 && byte_strides_[k][0] == 0 && steps_[o] == 1 && byte_strides_[o][0] == row_bytes) {
          repeated_ = static_cast<int>(k);
          block_rows_ = kRepeatFloats / row_len_;
        }
      }
    }
  }

  size_t scratch_bytes() const override { return repeated_ < 0 ? 0 : block_rows_ * row_len_ * sizeof(float); }

  // One row is split into element blocks, several rows are split by rows;
  // either way each element is computed by the same kernel call shape, whatever
  // the thread count.
  void run(const ExecContext& ctx) override {
    if (empty_) return;
    if (repeated_ >= 0) return run_row_blocks(ctx);
    if (rows_ == 1) {
      split_elements(ctx.pool, row_len_, kEltwiseParallelMin,
                     [&](size_t begin, size_t end) { run_piece(ctx, 0, begin, end); });
      return;
    }
    ThreadPool* pool = rows_ * row_len_ >= kEltwiseParallelMin ? ctx.pool : nullptr;
    parallel_for(pool, rows_, [&](size_t begin, size_t end) {
      for (size_t r = begin; r < end; ++r) run_piece(ctx, r, 0, row_len_);
    });
  }

  const char* kernel_name() const override { return name_.c_str(); }
  const void* fusion_tag() const override { return fusion_tag_; }
  void set_fusion_tag(const void* tag) { fusion_tag_ = tag; }
  const Q8Binary& q8() const { return q8_; }

 private:
  static constexpr size_t kRepeatFloats = 1024;

  // The repeated-row form: block_rows_ rows per call, each element computed as in a call
  // per row (an elementwise op), so the bytes do not change.
  void run_row_blocks(const ExecContext& ctx) const {
    auto* repeated = static_cast<float*>(ctx.scratch);
    const auto* row = static_cast<const float*>(ctx.inputs[static_cast<size_t>(repeated_)]);
    for (size_t r = 0; r < block_rows_; ++r) std::copy(row, row + row_len_, repeated + r * row_len_);
    const auto* full = static_cast<const float*>(ctx.inputs[static_cast<size_t>(1 - repeated_)]);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    const size_t blocks = (rows_ + block_rows_ - 1) / block_rows_;
    ThreadPool* pool = rows_ * row_len_ >= kEltwiseParallelMin ? ctx.pool : nullptr;
    parallel_for(pool, blocks, [&](size_t begin, size_t end) {
      for (size_t b = begin; b < end; ++b) {
        const size_t r0 = b * block_rows_, n = (std::min(rows_, r0 + block_rows_) - r0) * row_len_;
        const float* x = full + r0 * row_len_;
        float* out = y + r0 * row_len_;
        if (repeated_ == 1)
          f32_binary_(n, x, 1, repeated, 1, out);
        else
          f32_binary_(n, repeated, 1, x, 1, out);
      }
    });
  }

  // Elements [begin, end) of output row `row` (row-major over all dims but the
  // last).
  void run_piece(const ExecContext& ctx, size_t row, size_t begin, size_t end) const {
    int64_t offsets[kMaxOperands] = {};
    size_t rest = row;
    for (size_t d = dims_.size() - 1; d-- > 0;) {
      const auto i = static_cast<int64_t>(rest % static_cast<size_t>(dims_[d]));
      rest /= static_cast<size_t>(dims_[d]);
      for (size_t k = 0; k < num_inputs_; ++k) offsets[k] += i * byte_strides_[k][d];
    }
    const void* x[kMaxOperands] = {};
    for (size_t k = 0; k < num_inputs_; ++k)
      x[k] = static_cast<const uint8_t*>(ctx.inputs[k]) + offsets[k] +
             begin * steps_[k] * input_bytes_[k];
    void* y = static_cast<uint8_t*>(ctx.outputs[0]) + (row * row_len_ + begin) * output_bytes_;
    if (f32_binary_ != nullptr) {
      f32_binary_(end - begin, static_cast<const float*>(x[0]), steps_[0],
                  static_cast<const float*>(x[1]), steps_[1], static_cast<float*>(y));
    } else if (q8_.fn != nullptr) {
      q8_.fn(end - begin, static_cast<const uint8_t*>(x[0]), steps_[0], static_cast<const uint8_t*>(x[1]),
             steps_[1], q8_.params, static_cast<uint8_t*>(y));
    } else {
      row_(end - begin, x, steps_, y);
    }
  }

  std::string name_;
  RowFn row_;
  kernels::F32BinaryFn f32_binary_;
  Q8Binary q8_;
  std::vector<int64_t> dims_;
  size_t num_inputs_;
  size_t rows_ = 1;
  size_t row_len_;
  size_t steps_[kMaxOperands] = {};
  size_t input_bytes_[kMaxOperands] = {};
  std::vector<int64_t> byte_strides_[kMaxOperands];
  size_t output_bytes_;
  bool empty_;
  const void* fusion_tag_ = nullptr;
  int repeated_ = -1;  // the operand that is one row repeated, or -1
  size_t block_rows_ = 0;
};

// Broadcasts the first `num_inputs` inputs to one output shape (with
// `unidirectional`, input 0's shape must be that shape), checks the planned
// output and returns the kernel running `row`.
Result<std::unique_ptr<OpKernel>> make_broadcast(const PrepareContext& ctx, size_t num_inputs,
                                                 RowFn row, std::string name, DType out_dtype,
                                                 bool unidirectional = false,
                                                 kernels::F32BinaryFn f32_binary = nullptr,
                                                 const Q8Binary& q8 = Q8Binary{}) {
  std::vector<int64_t> shape = ctx.inputs[0]->shape;
  for (size_t k = 1; k < num_inputs; ++k) {
    std::vector<int64_t> next;
    if (!broadcast_shapes(shape, ctx.inputs[k]->shape, &next))
      return ctx.error(Status::kBadModel, "cannot broadcast shapes " + shape_str(shape) + " and " +
                                              shape_str(ctx.inputs[k]->shape));
    shape = std::move(next);
  }
  if (unidirectional && shape != ctx.inputs[0]->shape)
    return ctx.error(Status::kBadModel, "input 1 shape " + shape_str(ctx.inputs[1]->shape) +
                                            " does not broadcast to input 0 shape " +
                                            shape_str(ctx.inputs[0]->shape));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, out_dtype, shape));

  StridedLayout layout;
  layout.dims = shape;
  std::vector<size_t> input_bytes;
  for (size_t k = 0; k < num_inputs; ++k) {
    const TensorDesc* in = ctx.inputs[k];
    layout.strides.push_back(broadcast_strides(in->shape, shape));
    input_bytes.push_back(dtype_size(in->dtype));
  }
  simplify_layout(&layout);
  return std::unique_ptr<OpKernel>(
      std::make_unique<BroadcastKernel>(std::move(name), row, f32_binary, q8, layout, input_bytes,
                                        dtype_size(out_dtype), num_elements(shape) == 0));
}

Status check_same_dtype(const PrepareContext& ctx, size_t i, size_t j) {
  if (ctx.inputs[i]->dtype == ctx.inputs[j]->dtype) return Status::ok();
  return ctx.error(Status::kBadModel, "inputs " + std::to_string(i) + " and " + std::to_string(j) +
                                          " must have the same dtype, got " +
                                          dtype_name(ctx.inputs[i]->dtype) + " and " +
                                          dtype_name(ctx.inputs[j]->dtype));
}

std::string kernel_name(DType t, const char* op) {
  return std::string(dtype_tag(t)) + "_" + op + "_ref__scalar";
}

enum class Arith { kAdd, kSub, kMul, kDiv };

template <typename T>
RowFn arith_row(Arith op) {
  switch (op) {
    case Arith::kAdd: return binary_row<T, T, T, kernels::add_ref<T>>;
    case Arith::kSub: return binary_row<T, T, T, kernels::sub_ref<T>>;
    case Arith::kMul: return binary_row<T, T, T, kernels::mul_ref<T>>;
    case Arith::kDiv: return binary_row<T, T, T, kernels::div_ref<T>>;
  }
  return nullptr;
}

RowFn arith_row(DType t, Arith op) {
  switch (t) {
    case DType::kFloat32: return arith_row<float>(op);
    case DType::kInt64: return arith_row<int64_t>(op);
    case DType::kInt32: return arith_row<int32_t>(op);
    case DType::kInt8: return arith_row<int8_t>(op);
    case DType::kUInt8: return arith_row<uint8_t>(op);
    default: return nullptr;
  }
}

// Add/Mul of two quantized 8-bit tensors (per tensor) into a quantized 8-bit output:
// add t = (a - za) * sa/sy + (b - zb) * sb/sy, mul t = (a - za) * (b - zb) * sa*sb/sy,
// y = clamp(round(t) + zy) with a fused Relu/Clip folded into the clamp.
Result<std::unique_ptr<OpKernel>> prepare_q8_binary(const PrepareContext& ctx, Arith op, const char* op_tag) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 1, 1));
  Q8Quant qa, qb, qy;
  PARE_RT_RETURN_IF_ERROR(q8_per_tensor(ctx, *ctx.inputs[0], "input 0", &qa));
  PARE_RT_RETURN_IF_ERROR(q8_per_tensor(ctx, *ctx.inputs[1], "input 1", &qb));
  PARE_RT_RETURN_IF_ERROR(q8_per_tensor(ctx, *ctx.outputs[0], "output", &qy));
  float min = -INFINITY, max = INFINITY;
  std::string suffix;
  switch (ctx.activation.kind) {
    case ActivationKind::kNone: break;
    case ActivationKind::kRelu: min = 0.f; suffix = "_relu"; break;
    case ActivationKind::kClip: min = ctx.activation.p0; max = ctx.activation.p1; suffix = "_clip"; break;
    default: return ctx.error(Status::kUnsupported, "an int8 Add/Mul fuses only Relu and Clip");
  }
  Q8Binary q8;
  kernels::Q8BinaryParams& p = q8.params;
  p.a_signed = qa.is_signed;
  p.b_signed = qb.is_signed;
  p.y_signed = qy.is_signed;
  p.a_zero_point = qa.zero_point;
  p.b_zero_point = qb.zero_point;
  p.y_zero_point = qy.zero_point;
  if (op == Arith::kAdd) {
    p.a_multiplier = qa.scale / qy.scale;
    p.b_multiplier = qb.scale / qy.scale;
  } else {
    p.a_multiplier = qa.scale * qb.scale / qy.scale;
  }
  if (!std::isfinite(p.a_multiplier) || !std::isfinite(p.b_multiplier))
    return ctx.error(Status::kUnsupported, "the int8 scales give a multiplier out of float range");
  kernels::q8_clamp_range(qy.is_signed, qy.scale, qy.zero_point, min, max, &p.lo, &p.hi);
  const kernels::Q8EltwiseVariant& v = kernels::select_q8_eltwise(ctx.isa);
  q8.fn = op == Arith::kAdd ? v.add : v.mul;
  const DType y_dtype = ctx.outputs[0]->dtype;
  Result<std::unique_ptr<OpKernel>> kernel =
      make_broadcast(ctx, 2, nullptr, std::string(dtype_tag(y_dtype)) + "_" + op_tag + suffix + "__" + v.isa_name,
                     y_dtype, /*unidirectional=*/false, nullptr, q8);
  if (kernel.is_ok() && op == Arith::kMul && ctx.inputs[0]->shape == ctx.outputs[0]->shape &&
      ctx.inputs[1]->shape == ctx.outputs[0]->shape)
    static_cast<BroadcastKernel&>(*kernel.value()).set_fusion_tag(&kQ8SameShapeMulTag);
  return kernel;
}

Result<std::unique_ptr<OpKernel>> prepare_arith(const PrepareContext& ctx, Arith op,
                                                const char* op_tag) {
  if ((op == Arith::kAdd || op == Arith::kMul) && ctx.inputs.size() == 2 && is_q8_tensor(ctx.inputs[0]) &&
      is_q8_tensor(ctx.inputs[1]))
    return prepare_q8_binary(ctx, op, op_tag);
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const DType t = ctx.inputs[0]->dtype;
  PARE_RT_RETURN_IF_ERROR(
      check_dtype(ctx, *ctx.inputs[0], "input 0",
                  {DType::kFloat32, DType::kInt64, DType::kInt32, DType::kInt8, DType::kUInt8}));
  PARE_RT_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 1));
  if (t == DType::kFloat32) {
    const kernels::F32EltwiseVariant& v = kernels::select_f32_eltwise(ctx.isa);
    kernels::F32BinaryFn fn = nullptr;
    switch (op) {
      case Arith::kAdd: fn = v.add; break;
      case Arith::kSub: fn = v.sub; break;
      case Arith::kMul: fn = v.mul; break;
      case Arith::kDiv: fn = v.div; break;
    }
    Result<std::unique_ptr<OpKernel>> kernel =
        make_broadcast(ctx, 2, arith_row(t, op), std::string("f32_") + op_tag + "_" + v.suffix, t,
                       /*unidirectional=*/false, fn);
    if (kernel.is_ok() && op == Arith::kAdd) {
      auto& add = static_cast<BroadcastKernel&>(*kernel.value());
      const std::vector<int64_t>& out = ctx.outputs[0]->shape;
      // A constant [1, ..., 1, N] row over the last dim of an input of the output's shape.
      const auto bias_row = [&](const TensorDesc& t) {
        if (t.constant == nullptr || t.shape.empty() || out.empty() || t.shape.back() != out.back()) return false;
        return std::all_of(t.shape.begin(), t.shape.end() - 1, [](int64_t d) { return d == 1; });
      };
      if (ctx.inputs[0]->shape == ctx.inputs[1]->shape)
        add.set_fusion_tag(&kF32ResidualAddTag);
      else if (ctx.inputs[0]->shape == out && bias_row(*ctx.inputs[1]))
        add.set_fusion_tag(&kF32BiasAddTag[0]);
      else if (ctx.inputs[1]->shape == out && bias_row(*ctx.inputs[0]))
        add.set_fusion_tag(&kF32BiasAddTag[1]);
    }
    return kernel;
  }
  return make_broadcast(ctx, 2, arith_row(t, op), kernel_name(t, op_tag), t);
}

template <typename T>
RowFn pow_row(DType exponent) {
  switch (exponent) {
    case DType::kFloat32: return binary_row<T, float, T, kernels::pow_ref<T, float>>;
    case DType::kInt32: return binary_row<T, int32_t, T, kernels::pow_ref<T, int32_t>>;
    case DType::kInt64: return binary_row<T, int64_t, T, kernels::pow_ref<T, int64_t>>;
    default: return nullptr;
  }
}

RowFn pow_row(DType base, DType exponent) {
  switch (base) {
    case DType::kFloat32: return pow_row<float>(exponent);
    case DType::kInt32: return pow_row<int32_t>(exponent);
    case DType::kInt64: return pow_row<int64_t>(exponent);
    default: return nullptr;
  }
}

template <typename T>
RowFn mod_row(bool fmod) {
  return fmod ? binary_row<T, T, T, kernels::fmod_ref<T>> : binary_row<T, T, T, kernels::mod_ref<T>>;
}

// A comparison of two inputs of one dtype (float32, int64, int32, int8, uint8; bool too
// with `bools`) into bool bytes.
template <template <typename> class Row>
Result<std::unique_ptr<OpKernel>> prepare_compare(const PrepareContext& ctx, const char* op, bool bools = false) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const DType t = ctx.inputs[0]->dtype;
  std::initializer_list<DType> numeric = {DType::kFloat32, DType::kInt64, DType::kInt32, DType::kInt8, DType::kUInt8};
  std::initializer_list<DType> with_bool = {DType::kFloat32, DType::kInt64, DType::kInt32, DType::kInt8, DType::kUInt8,
                                            DType::kBool};
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *ctx.inputs[0], "input 0", bools ? with_bool : numeric));
  PARE_RT_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 1));
  RowFn row = nullptr;
  switch (t) {
    case DType::kFloat32: row = Row<float>::fn; break;
    case DType::kInt64: row = Row<int64_t>::fn; break;
    case DType::kInt32: row = Row<int32_t>::fn; break;
    case DType::kInt8: row = Row<int8_t>::fn; break;
    default: row = Row<uint8_t>::fn; break;  // uint8 and bool
  }
  return make_broadcast(ctx, 2, row, kernel_name(t, op), DType::kBool);
}

template <typename T>
struct EqualRow {
  static constexpr RowFn fn = binary_row<T, T, uint8_t, kernels::equal_ref<T>>;
};
template <typename T>
struct LessRow {
  static constexpr RowFn fn = binary_row<T, T, uint8_t, kernels::less_ref<T>>;
};
template <typename T>
struct LessEqualRow {
  static constexpr RowFn fn = binary_row<T, T, uint8_t, kernels::less_equal_ref<T>>;
};
template <typename T>
struct GreaterRow {
  static constexpr RowFn fn = binary_row<T, T, uint8_t, kernels::greater_ref<T>>;
};
template <typename T>
struct GreaterEqualRow {
  static constexpr RowFn fn = binary_row<T, T, uint8_t, kernels::greater_equal_ref<T>>;
};

// And, Or: two bool inputs, broadcast.
Result<std::unique_ptr<OpKernel>> prepare_logical(const PrepareContext& ctx, RowFn row, const char* name) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *ctx.inputs[0], "input 0", {DType::kBool}));
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *ctx.inputs[1], "input 1", {DType::kBool}));
  return make_broadcast(ctx, 2, row, name, DType::kBool);
}

// One input of `in` dtype (element type In) to a bool output of its shape: fn(n, x, y) on
// pieces of the elements.
template <typename In, typename F>
Result<std::unique_ptr<OpKernel>> prepare_to_bool(const PrepareContext& ctx, DType in, std::string name, F fn) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 1, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input 0", {in}));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, DType::kBool, x.shape));
  const auto n = static_cast<size_t>(x.num_elements());
  return make_kernel(std::move(name), [n, fn](const ExecContext& ec) {
    const auto* x = static_cast<const In*>(ec.inputs[0]);
    auto* y = static_cast<uint8_t*>(ec.outputs[0]);
    split_elements(ec.pool, n, kEltwiseParallelMin, [&](size_t b, size_t e) { fn(e - b, x + b, y + b); });
  });
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_Add(const PrepareContext& ctx) {
  return prepare_arith(ctx, Arith::kAdd, "add");
}

Result<std::unique_ptr<OpKernel>> prepare_Sub(const PrepareContext& ctx) {
  return prepare_arith(ctx, Arith::kSub, "sub");
}

Result<std::unique_ptr<OpKernel>> prepare_Mul(const PrepareContext& ctx) {
  return prepare_arith(ctx, Arith::kMul, "mul");
}

Result<std::unique_ptr<OpKernel>> prepare_Div(const PrepareContext& ctx) {
  return prepare_arith(ctx, Arith::kDiv, "div");
}

Result<std::unique_ptr<OpKernel>> prepare_Pow(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const DType base = ctx.inputs[0]->dtype, exponent = ctx.inputs[1]->dtype;
  PARE_RT_RETURN_IF_ERROR(
      check_dtype(ctx, *ctx.inputs[0], "base", {DType::kFloat32, DType::kInt32, DType::kInt64}));
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *ctx.inputs[1], "exponent",
                                      {DType::kFloat32, DType::kInt32, DType::kInt64}));
  // "f32_pow", or "f32_pow_i64" when the exponent has another dtype.
  std::string op = "pow";
  if (exponent != base) op += std::string("_") + dtype_tag(exponent);
  return make_broadcast(ctx, 2, pow_row(base, exponent), kernel_name(base, op.c_str()), base);
}

// Mod(fmod=0): the divisor's sign, integers only in ONNX (float32 too here); fmod=1: the
// dividend's sign.
Result<std::unique_ptr<OpKernel>> prepare_Mod(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const DType t = ctx.inputs[0]->dtype;
  PARE_RT_RETURN_IF_ERROR(
      check_dtype(ctx, *ctx.inputs[0], "input 0",
                  {DType::kFloat32, DType::kInt64, DType::kInt32, DType::kInt8, DType::kUInt8}));
  PARE_RT_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 1));
  const int64_t fmod = ctx.attrs->get_int("fmod", 0);
  if (fmod != 0 && fmod != 1) return ctx.error(Status::kBadModel, "fmod must be 0 or 1");
  RowFn row = nullptr;
  switch (t) {
    case DType::kFloat32: row = mod_row<float>(fmod != 0); break;
    case DType::kInt64: row = mod_row<int64_t>(fmod != 0); break;
    case DType::kInt32: row = mod_row<int32_t>(fmod != 0); break;
    case DType::kInt8: row = mod_row<int8_t>(fmod != 0); break;
    default: row = mod_row<uint8_t>(fmod != 0); break;
  }
  return make_broadcast(ctx, 2, row, kernel_name(t, fmod ? "fmod" : "mod"), t);
}

Result<std::unique_ptr<OpKernel>> prepare_Equal(const PrepareContext& ctx) {
  return prepare_compare<EqualRow>(ctx, "equal", /*bools=*/true);
}

Result<std::unique_ptr<OpKernel>> prepare_Less(const PrepareContext& ctx) {
  return prepare_compare<LessRow>(ctx, "less");
}

Result<std::unique_ptr<OpKernel>> prepare_LessOrEqual(const PrepareContext& ctx) {
  return prepare_compare<LessEqualRow>(ctx, "less_equal");
}

Result<std::unique_ptr<OpKernel>> prepare_Greater(const PrepareContext& ctx) {
  return prepare_compare<GreaterRow>(ctx, "greater");
}

Result<std::unique_ptr<OpKernel>> prepare_GreaterOrEqual(const PrepareContext& ctx) {
  return prepare_compare<GreaterEqualRow>(ctx, "greater_equal");
}

Result<std::unique_ptr<OpKernel>> prepare_And(const PrepareContext& ctx) {
  return prepare_logical(ctx, binary_row<uint8_t, uint8_t, uint8_t, kernels::bool_and_ref>, "b8_and_ref__scalar");
}

Result<std::unique_ptr<OpKernel>> prepare_Or(const PrepareContext& ctx) {
  return prepare_logical(ctx, binary_row<uint8_t, uint8_t, uint8_t, kernels::bool_or_ref>, "b8_or_ref__scalar");
}

Result<std::unique_ptr<OpKernel>> prepare_Not(const PrepareContext& ctx) {
  return prepare_to_bool<uint8_t>(ctx, DType::kBool, "b8_not_ref__scalar",
                                  [](size_t n, const uint8_t* x, uint8_t* y) { kernels::bool_not_ref(n, x, y); });
}

Result<std::unique_ptr<OpKernel>> prepare_IsNaN(const PrepareContext& ctx) {
  return prepare_to_bool<float>(ctx, DType::kFloat32, "f32_isnan_ref__scalar",
                                [](size_t n, const float* x, uint8_t* y) { kernels::f32_isnan_ref(n, x, y); });
}

Result<std::unique_ptr<OpKernel>> prepare_IsInf(const PrepareContext& ctx) {
  int64_t negative = 1, positive = 1;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "detect_negative", 1, &negative));
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "detect_positive", 1, &positive));
  return prepare_to_bool<float>(ctx, DType::kFloat32, "f32_isinf_ref__scalar",
                                [negative, positive](size_t n, const float* x, uint8_t* y) {
                                  kernels::f32_isinf_ref(n, x, negative != 0, positive != 0, y);
                                });
}

Result<std::unique_ptr<OpKernel>> prepare_Where(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 3, 3, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *ctx.inputs[0], "condition", {DType::kBool}));
  PARE_RT_RETURN_IF_ERROR(check_same_dtype(ctx, 1, 2));
  const DType t = ctx.inputs[1]->dtype;
  const size_t bytes = dtype_size(t);
  RowFn row = nullptr;
  switch (bytes) {
    case 1: row = where_row<uint8_t>; break;
    case 4: row = where_row<uint32_t>; break;
    case 8: row = where_row<uint64_t>; break;
    default:
      return ctx.error(Status::kUnsupported,
                       std::string("Where on ") + dtype_label(static_cast<int32_t>(t)));
  }
  return make_broadcast(ctx, 3, row, std::string(size_tag(bytes)) + "_where_ref__scalar", t);
}

Result<std::unique_ptr<OpKernel>> prepare_PRelu(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *ctx.inputs[0], "input 0", {DType::kFloat32}));
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *ctx.inputs[1], "slope", {DType::kFloat32}));
  return make_broadcast(ctx, 2, binary_row<float, float, float, kernels::f32_prelu_ref>,
                        "f32_prelu_ref__scalar", DType::kFloat32, /*unidirectional=*/true);
}

std::unique_ptr<OpKernel> fuse_q8_table_mul(std::unique_ptr<OpKernel>& producer, std::unique_ptr<OpKernel>& consumer,
                                            size_t slot, bool other_input_is_producer_input) {
  if (!other_input_is_producer_input || slot > 1 || producer->fusion_tag() != Q8TableKernel::tag() ||
      consumer->fusion_tag() != &kQ8SameShapeMulTag)
    return nullptr;
  const auto& table = static_cast<const Q8TableKernel&>(*producer);
  const Q8Binary& mul = static_cast<const BroadcastKernel&>(*consumer).q8();
  // The Mul of each byte x with table[x] by the Mul's own kernel: the bytes it would give.
  uint8_t x[256], composed[256];
  for (int i = 0; i < 256; ++i) x[i] = static_cast<uint8_t>(i);
  if (slot == 1)
    mul.fn(256, x, 1, table.table(), 1, mul.params, composed);
  else
    mul.fn(256, table.table(), 1, x, 1, mul.params, composed);
  auto fused = std::make_unique<Q8TableKernel>(std::string(producer->kernel_name()) + "+" + consumer->kernel_name(),
                                               composed, table.elements(), table.lookup());
  producer.reset();
  consumer.reset();
  return fused;
}

}  // namespace pare::rt::ops
