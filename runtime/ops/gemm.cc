// Gemm and MatMul (numpy semantics), float32, fused activation.
#include <algorithm>
#include <string>
#include <utility>

#include "runtime/kernels/gemm/gemm.h"
#include "runtime/ops/nn_util.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

using kernels::GemmArgs;

// Runs one or more independent matrix products of `rows` x `cols`, batch b reading A at
// a_offsets[b] and B at b_offsets[b] and writing Y at b * rows * cols; args_ holds the
// strides, alpha, beta and C's strides, shared by every batch.
class GemmKernel final : public OpKernel {
 public:
  GemmKernel(GemmArgs args, std::vector<int64_t> a_offsets, std::vector<int64_t> b_offsets,
             bool has_c, FusedActivation act, std::string name)
      : args_(args), a_offsets_(std::move(a_offsets)), b_offsets_(std::move(b_offsets)),
        has_c_(has_c), act_(act), name_(std::move(name)) {}

  void run(const ExecContext& ctx) override {
    const auto* a = static_cast<const float*>(ctx.inputs[0]);
    const auto* b = static_cast<const float*>(ctx.inputs[1]);
    const auto* c = has_c_ ? static_cast<const float*>(ctx.inputs[2]) : nullptr;
    auto* y = static_cast<float*>(ctx.outputs[0]);
    const int64_t rows = args_.rows, cols = args_.cols;
    const size_t total_rows = a_offsets_.size() * static_cast<size_t>(rows);
    // Rows of all batches are split among threads; a chunk may span batches.
    nn::parallel_for(ctx.pool, total_rows, [&](size_t begin, size_t end) {
      int64_t r = static_cast<int64_t>(begin);
      while (r < static_cast<int64_t>(end)) {
        const int64_t batch = r / rows, m = r % rows;
        const int64_t count = std::min(static_cast<int64_t>(end) - r, rows - m);
        GemmArgs p = args_;
        p.rows = count;
        p.a = a + a_offsets_[static_cast<size_t>(batch)] + m * p.a_row_stride;
        p.b = b + b_offsets_[static_cast<size_t>(batch)];
        p.c = c ? c + m * p.c_row_stride : nullptr;
        p.y = y + r * cols;
        kernels::f32_gemm_ref__scalar(p);
        apply_activation(act_, p.y, static_cast<size_t>(count * cols));
        r += count;
      }
    });
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  GemmArgs args_;
  std::vector<int64_t> a_offsets_, b_offsets_;
  bool has_c_;
  FusedActivation act_;
  std::string name_;
};

Status check_float_inputs(const PrepareContext& ctx) {
  for (size_t i = 0; i < ctx.inputs.size(); ++i)
    if (ctx.inputs[i]) PARE_RT_RETURN_IF_ERROR(nn::check_dtype(ctx, *ctx.inputs[i], DType::kFloat32, "input"));
  return nn::check_activation(ctx);
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_Gemm(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(nn::check_arity(ctx, 2, 3, 1));
  PARE_RT_RETURN_IF_ERROR(check_float_inputs(ctx));
  const TensorDesc& a = *ctx.inputs[0];
  const TensorDesc& b = *ctx.inputs[1];
  const TensorDesc* c = nn::input_at(ctx, 2);
  const int64_t trans_a = ctx.attrs->get_int("transA", 0), trans_b = ctx.attrs->get_int("transB", 0);
  if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1))
    return ctx.error(Status::kBadModel, "transA and transB must be 0 or 1");
  if (a.rank() != 2 || b.rank() != 2)
    return ctx.error(Status::kBadModel, "A " + shape_str(a.shape) + " and B " + shape_str(b.shape) +
                                            " must be matrices");
  const int64_t m = trans_a ? a.shape[1] : a.shape[0], k = trans_a ? a.shape[0] : a.shape[1];
  const int64_t kb = trans_b ? b.shape[1] : b.shape[0], n = trans_b ? b.shape[0] : b.shape[1];
  if (k != kb)
    return ctx.error(Status::kBadModel, "inner dims differ: A " + shape_str(a.shape) + " (transA=" +
                                            std::to_string(trans_a) + "), B " + shape_str(b.shape) +
                                            " (transB=" + std::to_string(trans_b) + ")");

  GemmArgs args;
  args.rows = m;
  args.cols = n;
  args.depth = k;
  args.a_row_stride = trans_a ? 1 : k;
  args.a_col_stride = trans_a ? m : 1;
  args.b_row_stride = trans_b ? 1 : n;
  args.b_col_stride = trans_b ? k : 1;
  args.alpha = ctx.attrs->get_float("alpha", 1.f);
  args.beta = ctx.attrs->get_float("beta", 1.f);
  if (c) {
    // C broadcasts to [M, N] (unidirectionally): its dims are right-aligned, each 1 or equal.
    const std::vector<int64_t>& cs = c->shape;
    const int64_t c_rows = cs.size() == 2 ? cs[0] : 1, c_cols = cs.empty() ? 1 : cs.back();
    if (cs.size() > 2 || (c_rows != 1 && c_rows != m) || (c_cols != 1 && c_cols != n))
      return ctx.error(Status::kBadModel, "C " + shape_str(cs) + " does not broadcast to [" +
                                              std::to_string(m) + "," + std::to_string(n) + "]");
    args.c_row_stride = c_rows == 1 ? 0 : c_cols;
    args.c_col_stride = c_cols == 1 ? 0 : 1;
  }
  PARE_RT_RETURN_IF_ERROR(nn::check_output(ctx, 0, DType::kFloat32, {m, n}));
  return std::unique_ptr<OpKernel>(new GemmKernel(args, {0}, {0}, c != nullptr, ctx.activation,
                                                  nn::kernel_name("f32_gemm", ctx.activation, "ref__scalar")));
}

Result<std::unique_ptr<OpKernel>> prepare_MatMul(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(nn::check_arity(ctx, 2, 2, 1));
  PARE_RT_RETURN_IF_ERROR(check_float_inputs(ctx));
  const TensorDesc& a = *ctx.inputs[0];
  const TensorDesc& b = *ctx.inputs[1];
  if (a.rank() < 1 || b.rank() < 1)
    return ctx.error(Status::kBadModel, "A " + shape_str(a.shape) + " and B " + shape_str(b.shape) +
                                            " must have rank >= 1");
  // A 1-D A is a row [1, K], a 1-D B a column [K, 1]; the added dim is dropped from Y.
  std::vector<int64_t> as = a.shape, bs = b.shape;
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k)
    return ctx.error(Status::kBadModel, "inner dims differ: A " + shape_str(a.shape) + ", B " +
                                            shape_str(b.shape));

  // Batch dims broadcast numpy-style (right-aligned, 1 stretches).
  const size_t a_batch_rank = as.size() - 2, b_batch_rank = bs.size() - 2;
  const size_t batch_rank = std::max(a_batch_rank, b_batch_rank);
  std::vector<int64_t> batch(batch_rank), a_stride(batch_rank, 0), b_stride(batch_rank, 0);
  int64_t a_step = m * k, b_step = k * n;
  for (size_t i = batch_rank; i-- > 0;) {
    const size_t back = batch_rank - 1 - i;  // position from the right
    const int64_t ad = back < a_batch_rank ? as[a_batch_rank - 1 - back] : 1;
    const int64_t bd = back < b_batch_rank ? bs[b_batch_rank - 1 - back] : 1;
    if (ad != bd && ad != 1 && bd != 1)
      return ctx.error(Status::kBadModel, "batch dims of A " + shape_str(a.shape) + " and B " +
                                              shape_str(b.shape) + " do not broadcast");
    batch[i] = std::max(ad, bd);
    if (ad == 0 || bd == 0) batch[i] = 0;
    a_stride[i] = ad == 1 ? 0 : a_step;
    b_stride[i] = bd == 1 ? 0 : b_step;
    a_step *= ad;
    b_step *= bd;
  }
  int64_t batch_count = 1;
  for (int64_t d : batch) batch_count *= d;
  std::vector<int64_t> a_offsets, b_offsets;
  a_offsets.reserve(static_cast<size_t>(batch_count));
  b_offsets.reserve(static_cast<size_t>(batch_count));
  for (int64_t flat = 0; flat < batch_count; ++flat) {
    int64_t rest = flat, a_off = 0, b_off = 0;
    for (size_t i = batch_rank; i-- > 0;) {
      const int64_t coord = rest % batch[i];
      rest /= batch[i];
      a_off += coord * a_stride[i];
      b_off += coord * b_stride[i];
    }
    a_offsets.push_back(a_off);
    b_offsets.push_back(b_off);
  }

  std::vector<int64_t> out_shape = batch;
  if (a.rank() > 1) out_shape.push_back(m);
  if (b.rank() > 1) out_shape.push_back(n);
  PARE_RT_RETURN_IF_ERROR(nn::check_output(ctx, 0, DType::kFloat32, out_shape));

  GemmArgs args;
  args.rows = m;
  args.cols = n;
  args.depth = k;
  args.a_row_stride = k;
  args.a_col_stride = 1;
  args.b_row_stride = n;
  args.b_col_stride = 1;
  return std::unique_ptr<OpKernel>(new GemmKernel(args, std::move(a_offsets), std::move(b_offsets), false,
                                                  ctx.activation,
                                                  nn::kernel_name("f32_gemm", ctx.activation, "ref__scalar")));
}

}  // namespace pare::rt::ops
