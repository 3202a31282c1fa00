// Unary activations: Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish,
// Tanh, Erf, Gelu, Sqrt. All map one input to an output of the same shape and
// dtype. On a quantized 8-bit input all but Sqrt run as a 256-entry table built
// from the float reference function (prepare_q8_table).
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "runtime/kernels/eltwise/eltwise.h"
#include "runtime/kernels/qeltwise/qeltwise.h"
#include "runtime/ops/common.h"
#include "runtime/ops/parallel.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

// Checks a one-input float32 op whose output mirrors its input; *n gets the
// element count.
Status check_unary_f32(const PrepareContext& ctx, size_t* n) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 1, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input 0", {DType::kFloat32}));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, x.shape));
  *n = static_cast<size_t>(x.num_elements());
  return Status::ok();
}

using UnaryFn = void (*)(size_t n, const float* x, float* y);

// parallel_min: kEltwiseParallelMin or kTranscendentalParallelMin
// (parallel.h).
std::unique_ptr<OpKernel> unary_kernel(std::string name, UnaryFn fn, size_t n,
                                       size_t parallel_min) {
  return make_kernel(std::move(name), [fn, n, parallel_min](const ExecContext& ec) {
    const auto* x = static_cast<const float*>(ec.inputs[0]);
    auto* y = static_cast<float*>(ec.outputs[0]);
    split_elements(ec.pool, n, parallel_min, [&](size_t b, size_t e) { fn(e - b, x + b, y + b); });
  });
}

// A unary op with only a reference kernel.
Result<std::unique_ptr<OpKernel>> prepare_unary(const PrepareContext& ctx, UnaryFn fn,
                                                const char* name) {
  size_t n = 0;
  PARE_RT_RETURN_IF_ERROR(check_unary_f32(ctx, &n));
  return unary_kernel(name, fn, n, kTranscendentalParallelMin);
}

// A unary op with vector kernels: the best set for ctx.isa, named
// "f32_<op>_<suffix>".
Result<std::unique_ptr<OpKernel>> prepare_unary(const PrepareContext& ctx,
                                                kernels::F32UnaryFn kernels::F32EltwiseVariant::*fn,
                                                const char* op) {
  size_t n = 0;
  PARE_RT_RETURN_IF_ERROR(check_unary_f32(ctx, &n));
  const kernels::F32EltwiseVariant& v = kernels::select_f32_eltwise(ctx.isa);
  const bool cheap =
      fn == &kernels::F32EltwiseVariant::relu || fn == &kernels::F32EltwiseVariant::hard_swish;
  return unary_kernel(std::string("f32_") + op + "_" + v.suffix, v.*fn, n,
                      cheap ? kEltwiseParallelMin : kTranscendentalParallelMin);
}

// Clip bound `i` (min or max) of dtype T: a constant scalar, or `dflt` when
// omitted.
template <typename T>
Status clip_bound(const PrepareContext& ctx, size_t i, const char* what, T dflt, T* out) {
  const TensorDesc* t = optional_input(ctx, i);
  if (t == nullptr) {
    *out = dflt;
    return Status::ok();
  }
  if (t->dtype != ctx.inputs[0]->dtype)
    return ctx.error(Status::kBadModel, std::string(what) + " has dtype " + dtype_name(t->dtype) +
                                            ", the input " + dtype_name(ctx.inputs[0]->dtype));
  if (t->num_elements() != 1)
    return ctx.error(Status::kBadModel,
                     std::string(what) + " must be a scalar, got shape " + shape_str(t->shape));
  if (t->constant == nullptr)
    return ctx.error(Status::kUnsupported, std::string(what) + " '" + t->name +
                                               "' must be a constant (it is read when the model "
                                               "loads)");
  std::memcpy(out, t->constant, sizeof(T));
  return Status::ok();
}

template <typename T>
Result<std::unique_ptr<OpKernel>> prepare_clip(const PrepareContext& ctx) {
  T lo, hi;
  PARE_RT_RETURN_IF_ERROR(clip_bound<T>(ctx, 1, "min", std::numeric_limits<T>::lowest(), &lo));
  PARE_RT_RETURN_IF_ERROR(clip_bound<T>(ctx, 2, "max", std::numeric_limits<T>::max(), &hi));
  const auto n = static_cast<size_t>(ctx.inputs[0]->num_elements());
  auto fn = kernels::clip_ref<T>;
  std::string name = std::string(dtype_tag(ctx.inputs[0]->dtype)) + "_clip_ref__scalar";
  if constexpr (std::is_same_v<T, float>) {
    const kernels::F32EltwiseVariant& v = kernels::select_f32_eltwise(ctx.isa);
    fn = v.clip;
    name = std::string("f32_clip_") + v.suffix;
  }
  return make_kernel(std::move(name), [fn, n, lo, hi](const ExecContext& ec) {
    const auto* x = static_cast<const T*>(ec.inputs[0]);
    auto* y = static_cast<T*>(ec.outputs[0]);
    split_elements(ec.pool, n, kEltwiseParallelMin,
                   [&](size_t b, size_t e) { fn(e - b, x + b, lo, hi, y + b); });
  });
}

bool q8_input(const PrepareContext& ctx) { return !ctx.inputs.empty() && is_q8_tensor(ctx.inputs[0]); }

// The table form of a one-input activation.
Result<std::unique_ptr<OpKernel>> q8_unary(const PrepareContext& ctx, const char* op,
                                           const std::function<void(size_t, const float*, float*)>& f) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 1, 1, 1));
  return prepare_q8_table(ctx, op, f);
}

// A Clip bound of an int8 Clip as a real value: a float32 constant, or an 8-bit constant
// read with its own quantization (the input's when it has none); `dflt` when omitted.
Status q8_clip_bound(const PrepareContext& ctx, size_t i, const char* what, float dflt, float* out) {
  const TensorDesc* t = optional_input(ctx, i);
  *out = dflt;
  if (t == nullptr) return Status::ok();
  if (t->num_elements() != 1)
    return ctx.error(Status::kBadModel, std::string(what) + " must be a scalar, got shape " + shape_str(t->shape));
  if (t->constant == nullptr)
    return ctx.error(Status::kUnsupported, std::string(what) + " '" + t->name + "' must be a constant");
  if (t->dtype == DType::kFloat32) {
    std::memcpy(out, t->constant, sizeof(float));
    return Status::ok();
  }
  if (t->dtype != DType::kUInt8 && t->dtype != DType::kInt8)
    return ctx.error(Status::kBadModel, std::string(what) + " has dtype " + dtype_name(t->dtype));
  const TensorDesc& q = t->quantized ? *t : *ctx.inputs[0];
  Q8Quant qq;
  PARE_RT_RETURN_IF_ERROR(q8_per_tensor(ctx, q, what, &qq));
  const uint8_t byte = *static_cast<const uint8_t*>(t->constant);
  kernels::q8_dequantize_ref(1, &byte, t->dtype == DType::kInt8, qq.zero_point, qq.scale, out);
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_Relu(const PrepareContext& ctx) {
  if (q8_input(ctx)) return q8_unary(ctx, "relu", kernels::f32_relu_ref);
  return prepare_unary(ctx, &kernels::F32EltwiseVariant::relu, "relu");
}

Result<std::unique_ptr<OpKernel>> prepare_LeakyRelu(const PrepareContext& ctx) {
  float alpha = 0.f;
  PARE_RT_RETURN_IF_ERROR(float_attr(ctx, "alpha", 0.01f, &alpha));
  if (q8_input(ctx))
    return q8_unary(ctx, "leaky_relu", [alpha](size_t n, const float* x, float* y) {
      kernels::f32_leaky_relu_ref(n, x, alpha, y);
    });
  size_t n = 0;
  PARE_RT_RETURN_IF_ERROR(check_unary_f32(ctx, &n));
  return make_kernel("f32_leaky_relu_ref__scalar", [n, alpha](const ExecContext& ec) {
    kernels::f32_leaky_relu_ref(n, static_cast<const float*>(ec.inputs[0]), alpha,
                                static_cast<float*>(ec.outputs[0]));
  });
}

Result<std::unique_ptr<OpKernel>> prepare_Clip(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 3, 1, 1));
  if (q8_input(ctx)) {
    float lo = 0.f, hi = 0.f;
    PARE_RT_RETURN_IF_ERROR(q8_clip_bound(ctx, 1, "min", -INFINITY, &lo));
    PARE_RT_RETURN_IF_ERROR(q8_clip_bound(ctx, 2, "max", INFINITY, &hi));
    return prepare_q8_table(ctx, "clip", [lo, hi](size_t n, const float* x, float* y) {
      kernels::clip_ref<float>(n, x, lo, hi, y);
    });
  }
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(
      check_dtype(ctx, x, "input 0",
                  {DType::kFloat32, DType::kInt64, DType::kInt32, DType::kInt8, DType::kUInt8}));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, x.shape));
  switch (x.dtype) {
    case DType::kFloat32: return prepare_clip<float>(ctx);
    case DType::kInt64: return prepare_clip<int64_t>(ctx);
    case DType::kInt32: return prepare_clip<int32_t>(ctx);
    case DType::kInt8: return prepare_clip<int8_t>(ctx);
    default: return prepare_clip<uint8_t>(ctx);
  }
}

Result<std::unique_ptr<OpKernel>> prepare_Sigmoid(const PrepareContext& ctx) {
  if (q8_input(ctx)) return q8_unary(ctx, "sigmoid", kernels::f32_sigmoid_ref);
  return prepare_unary(ctx, &kernels::F32EltwiseVariant::sigmoid, "sigmoid");
}

Result<std::unique_ptr<OpKernel>> prepare_HardSigmoid(const PrepareContext& ctx) {
  float alpha = 0.f, beta = 0.f;
  PARE_RT_RETURN_IF_ERROR(float_attr(ctx, "alpha", 0.2f, &alpha));
  PARE_RT_RETURN_IF_ERROR(float_attr(ctx, "beta", 0.5f, &beta));
  if (q8_input(ctx))
    return q8_unary(ctx, "hard_sigmoid", [alpha, beta](size_t n, const float* x, float* y) {
      kernels::f32_hard_sigmoid_ref(n, x, alpha, beta, y);
    });
  size_t n = 0;
  PARE_RT_RETURN_IF_ERROR(check_unary_f32(ctx, &n));
  const kernels::F32EltwiseVariant& v = kernels::select_f32_eltwise(ctx.isa);
  return make_kernel(std::string("f32_hard_sigmoid_") + v.suffix,
                     [fn = v.hard_sigmoid, n, alpha, beta](const ExecContext& ec) {
                       const auto* x = static_cast<const float*>(ec.inputs[0]);
                       auto* y = static_cast<float*>(ec.outputs[0]);
                       split_elements(ec.pool, n, kEltwiseParallelMin, [&](size_t b, size_t e) {
                         fn(e - b, x + b, alpha, beta, y + b);
                       });
                     });
}

Result<std::unique_ptr<OpKernel>> prepare_HardSwish(const PrepareContext& ctx) {
  if (q8_input(ctx)) return q8_unary(ctx, "hard_swish", kernels::f32_hard_swish_ref);
  return prepare_unary(ctx, &kernels::F32EltwiseVariant::hard_swish, "hard_swish");
}

Result<std::unique_ptr<OpKernel>> prepare_Tanh(const PrepareContext& ctx) {
  if (q8_input(ctx)) return q8_unary(ctx, "tanh", kernels::f32_tanh_ref);
  return prepare_unary(ctx, &kernels::F32EltwiseVariant::tanh, "tanh");
}

Result<std::unique_ptr<OpKernel>> prepare_Erf(const PrepareContext& ctx) {
  if (q8_input(ctx)) return q8_unary(ctx, "erf", kernels::f32_erf_ref);
  return prepare_unary(ctx, &kernels::F32EltwiseVariant::erf, "erf");
}

Result<std::unique_ptr<OpKernel>> prepare_Gelu(const PrepareContext& ctx) {
  std::string approximate;
  PARE_RT_RETURN_IF_ERROR(string_attr(ctx, "approximate", "none", &approximate));
  if (q8_input(ctx) && (approximate == "none" || approximate == "tanh"))
    return q8_unary(ctx, approximate == "none" ? "gelu" : "gelu_tanh",
                    approximate == "none" ? kernels::f32_gelu_ref : kernels::f32_gelu_tanh_ref);
  if (approximate == "none") return prepare_unary(ctx, &kernels::F32EltwiseVariant::gelu, "gelu");
  if (approximate == "tanh")
    return prepare_unary(ctx, kernels::f32_gelu_tanh_ref, "f32_gelu_tanh_ref__scalar");
  return ctx.error(
      Status::kBadModel,
      "attribute 'approximate' must be \"none\" or \"tanh\", got \"" + approximate + "\"");
}

Result<std::unique_ptr<OpKernel>> prepare_Sqrt(const PrepareContext& ctx) {
  return prepare_unary(ctx, kernels::f32_sqrt_ref, "f32_sqrt_ref__scalar");
}

Result<std::unique_ptr<OpKernel>> prepare_Neg(const PrepareContext& ctx) {
  return prepare_unary(ctx, kernels::f32_neg_ref, "f32_neg_ref__scalar");
}

Result<std::unique_ptr<OpKernel>> prepare_Abs(const PrepareContext& ctx) {
  return prepare_unary(ctx, kernels::f32_abs_ref, "f32_abs_ref__scalar");
}

Result<std::unique_ptr<OpKernel>> prepare_Exp(const PrepareContext& ctx) {
  return prepare_unary(ctx, kernels::f32_exp_ref, "f32_exp_ref__scalar");
}

Result<std::unique_ptr<OpKernel>> prepare_Log(const PrepareContext& ctx) {
  return prepare_unary(ctx, kernels::f32_log_ref, "f32_log_ref__scalar");
}

Result<std::unique_ptr<OpKernel>> prepare_Sin(const PrepareContext& ctx) {
  return prepare_unary(ctx, kernels::f32_sin_ref, "f32_sin_ref__scalar");
}

Result<std::unique_ptr<OpKernel>> prepare_Cos(const PrepareContext& ctx) {
  return prepare_unary(ctx, kernels::f32_cos_ref, "f32_cos_ref__scalar");
}

}  // namespace pare::rt::ops
