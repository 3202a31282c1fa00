// Gemm and MatMul on quantized 8-bit data (docs/quantization.md): A uint8 or int8 per tensor,
// B a constant int8 matrix quantized per output column (or per tensor), an optional int32
// bias, Y of A's dtype; a fused Relu/Clip is the requantization clamp. Runs on the int8 GEMM
// with B packed at prepare. MatMul between two activations stays float.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/qgemm/qgemm.h"
#include "runtime/kernels/quant/requant.h"
#include "runtime/ops/nn_util.h"
#include "runtime/ops/ops.h"
#include "runtime/ops/parallel.h"
#include "runtime/thread_pool.h"

namespace pare::rt::ops {

namespace {

// Y [m, n] = requantize(A [m, k] * B + bias). A uint8 A is read in place, its tiles split
// among threads; an int8 A is flipped to uint8 block by block into per-worker scratch.
// Every output element comes from one microkernel call over all of K, so the bytes do not
// depend on the blocking or the thread count.
class Q8GemmKernel final : public OpKernel {
 public:
  // B[p, j] = w[j * w_row_stride + p * w_col_stride].
  Q8GemmKernel(const kernels::QGemmVariant& v, size_t m, size_t n, size_t k, const int8_t* w, size_t w_row_stride,
               size_t w_col_stride, const int32_t* bias, const std::vector<kernels::Requant>& rq, bool a_signed,
               int32_t a_zero_point, int32_t y_zero_point, int32_t lo, int32_t hi, std::string name)
      : v_(v), a_signed_(a_signed), name_(std::move(name)) {
    if (!packed_.resize(kernels::qgemm_packed_b_bytes(v, n, k))) return;
    kernels::qgemm_pack_b(v, n, k, w, w_row_stride, w_col_stride, bias, a_signed ? a_zero_point + 128 : a_zero_point,
                          rq.data(), packed_.data());
    args_.m = m;
    args_.n = n;
    args_.k = k;
    args_.a_stride = k;
    args_.packed_b = packed_.data();
    args_.c_stride = n;
    args_.c_zero_point = y_zero_point;
    args_.lo = lo;
    args_.hi = hi;
    block_rows_ = std::max<size_t>(1, kBlockBytes / (std::max<size_t>(k, 1) * v.mr)) * v.mr;
  }

  size_t scratch_bytes() const override { return a_signed_ ? kMaxWorkers * block_rows_ * args_.k : 0; }

  void run(const ExecContext& ctx) override {
    const auto* a = static_cast<const uint8_t*>(ctx.inputs[0]);
    auto* y = static_cast<uint8_t*>(ctx.outputs[0]);
    if (!a_signed_) {
      kernels::QGemmArgs args = args_;
      args.a = a;
      args.c = y;
      const size_t tiles = kernels::qgemm_m_tiles(v_, args.m) * kernels::qgemm_n_panels(v_, args.n);
      parallel_for(ctx.pool, tiles, [&](size_t t0, size_t t1) { kernels::qgemm_tiles(v_, args, t0, t1); });
      return;
    }
    const size_t threads = ctx.pool ? static_cast<size_t>(ctx.pool->threads()) : 1, k = args_.k;
    auto* scratch = static_cast<uint8_t*>(ctx.scratch);
    for_each_block(ctx.pool, args_.m, v_.mr, block_rows_, std::min(threads, kMaxWorkers),
                       [&](size_t w, size_t r0, size_t r1) {
                         uint8_t* rows = scratch + w * block_rows_ * k;
                         const uint8_t* src = a + r0 * k;
                         for (size_t i = 0; i < (r1 - r0) * k; ++i) rows[i] = static_cast<uint8_t>(src[i] ^ 0x80);
                         kernels::QGemmArgs args = args_;
                         args.m = r1 - r0;
                         args.a = rows;
                         args.c = y + r0 * args_.n;
                         kernels::qgemm(v_, args, 0, kernels::qgemm_m_tiles(v_, args.m), 0,
                                        kernels::qgemm_n_panels(v_, args.n));
                       });
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  static constexpr size_t kBlockBytes = 64 * 1024;
  static constexpr size_t kMaxWorkers = 8;  // bounds the scratch

  const kernels::QGemmVariant& v_;
  bool a_signed_;
  std::string name_;
  AlignedArray<uint8_t> packed_;
  kernels::QGemmArgs args_;
  size_t block_rows_ = 0;
};

// The int8 product of an A of `m` rows and a constant B; B[p, j] at
// w[j * w_row_stride + p * w_col_stride], quantized along w_axis.
Result<std::unique_ptr<OpKernel>> make_q8_gemm(const PrepareContext& ctx, size_t m, size_t n, size_t k,
                                               size_t w_row_stride, size_t w_col_stride, int32_t w_axis,
                                               const int32_t* bias) {
  const TensorDesc& a = *ctx.inputs[0];
  const TensorDesc& b = *ctx.inputs[1];
  std::vector<kernels::Requant> rq;
  int32_t a_zp = 0, y_zp = 0, lo = 0, hi = 0;
  PARE_RT_RETURN_IF_ERROR(nn::q8_output_params(ctx, a, b, w_axis, *ctx.outputs[0], static_cast<int64_t>(n), &rq,
                                               &a_zp, &y_zp, &lo, &hi));
  const kernels::QGemmVariant& v = kernels::select_qgemm(ctx.isa);
  return std::unique_ptr<OpKernel>(new Q8GemmKernel(
      v, m, n, k, static_cast<const int8_t*>(b.constant), w_row_stride, w_col_stride, bias, rq,
      a.dtype == DType::kInt8, a_zp, y_zp, lo, hi, nn::kernel_name("q8_gemm", ctx.activation, v.tile_isa)));
}

Status check_q8_weight(const PrepareContext& ctx, const TensorDesc& b) {
  if (b.dtype != DType::kInt8 || b.constant == nullptr || b.rank() != 2)
    return ctx.error(Status::kUnsupported, "int8 " + ctx.op + " needs B '" + b.name +
                                               "' as a constant int8 matrix (has " + dtype_name(b.dtype) + " " +
                                               shape_str(b.shape) + (b.constant ? "" : ", not constant") +
                                               "); a product of two activations runs in float");
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<OpKernel>> nn::prepare_q8_gemm(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 3, 1, 1));
  const TensorDesc& a = *ctx.inputs[0];
  const TensorDesc& b = *ctx.inputs[1];
  const TensorDesc* c = optional_input(ctx, 2);
  const int64_t trans_a = ctx.attrs->get_int("transA", 0), trans_b = ctx.attrs->get_int("transB", 0);
  if (trans_a != 0 || (trans_b != 0 && trans_b != 1))
    return ctx.error(Status::kUnsupported, "int8 Gemm needs transA=0 and transB 0 or 1");
  if (ctx.attrs->get_float("alpha", 1.f) != 1.f || ctx.attrs->get_float("beta", 1.f) != 1.f)
    return ctx.error(Status::kUnsupported, "int8 Gemm needs alpha=1 and beta=1 (the scales carry them)");
  PARE_RT_RETURN_IF_ERROR(check_q8_weight(ctx, b));
  if (a.rank() != 2) return ctx.error(Status::kBadModel, "A " + shape_str(a.shape) + " must be a matrix");
  const int64_t m = a.shape[0], k = a.shape[1];
  const int64_t kb = trans_b ? b.shape[1] : b.shape[0], n = trans_b ? b.shape[0] : b.shape[1];
  if (k != kb)
    return ctx.error(Status::kBadModel, "inner dims differ: A " + shape_str(a.shape) + ", B " + shape_str(b.shape) +
                                            " (transB=" + std::to_string(trans_b) + ")");
  const int32_t* bias = nullptr;
  if (c) {
    const bool row = c->shape == std::vector<int64_t>{n} || c->shape == std::vector<int64_t>{1, n};
    if (c->dtype != DType::kInt32 || c->constant == nullptr || !row)
      return ctx.error(Status::kUnsupported, "C '" + c->name + "' of an int8 Gemm must be a constant int32 [" +
                                                 std::to_string(n) + "] bias, has " + dtype_name(c->dtype) + " " +
                                                 shape_str(c->shape));
    bias = static_cast<const int32_t*>(c->constant);
  }
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, a.dtype, {m, n}));
  // [N, K] (transB=1): per channel along axis 0; [K, N]: along axis 1.
  const auto un = static_cast<size_t>(n), uk = static_cast<size_t>(k);
  return make_q8_gemm(ctx, static_cast<size_t>(m), un, uk, trans_b ? uk : 1, trans_b ? 1 : un, trans_b ? 0 : 1,
                      bias);
}

Result<std::unique_ptr<OpKernel>> nn::prepare_q8_matmul(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 1, 1));
  const TensorDesc& a = *ctx.inputs[0];
  const TensorDesc& b = *ctx.inputs[1];
  PARE_RT_RETURN_IF_ERROR(check_q8_weight(ctx, b));
  if (a.rank() < 1) return ctx.error(Status::kBadModel, "A " + shape_str(a.shape) + " must have rank >= 1");
  const int64_t k = a.shape.back(), n = b.shape[1];
  if (b.shape[0] != k)
    return ctx.error(Status::kBadModel, "inner dims differ: A " + shape_str(a.shape) + ", B " + shape_str(b.shape));
  // Every leading dim of A is rows of one product with the shared B.
  std::vector<int64_t> out_shape(a.shape.begin(), a.shape.end() - 1);
  out_shape.push_back(n);
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, a.dtype, out_shape));
  int64_t m = 1;
  for (size_t i = 0; i + 1 < a.rank(); ++i) m *= a.shape[i];
  const auto un = static_cast<size_t>(n);
  return make_q8_gemm(ctx, static_cast<size_t>(m), un, static_cast<size_t>(k), 1, un, 1, nullptr);
}

}  // namespace pare::rt::ops
