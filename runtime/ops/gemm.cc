// Gemm and MatMul (numpy semantics), float32, fused activation.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "runtime/kernels/gemm/gemm.h"
#include "runtime/ops/nn_util.h"
#include "runtime/ops/ops.h"
#include "runtime/ops/parallel.h"
#include "runtime/ops/dense_copies.h"
#include "runtime/ops/palette_weight.h"
#include "runtime/ops/sparse_weight.h"

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
    if (rows == 0 || cols == 0) return;  // an empty Y; A or B may have no data at all
    const size_t total_rows = a_offsets_.size() * static_cast<size_t>(rows);
    // Rows of all batches are split among threads; a chunk may span batches.
    parallel_for(ctx.pool, total_rows, [&](size_t begin, size_t end) {
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

// Batches of Y[b] = act(A[b] B[b] + bias) [m, n] with the packed GEMM: batch b reads A at
// a_offsets[b] (rows of k floats) and writes Y at b * m * n. A constant B is packed with
// the bias at prepare (pack_constant); otherwise each run packs B from b_offsets[p] into
// scratch, once per batch, or once for all batches when b_offsets has one entry.
class PackedGemmKernel final : public OpKernel {
 public:
  PackedGemmKernel(const kernels::F32GemmVariant& v, size_t m, size_t n, size_t k,
                   std::vector<int64_t> a_offsets, std::vector<int64_t> b_offsets,
                   FusedActivation act, std::string name)
      : v_(v), a_offsets_(std::move(a_offsets)), b_offsets_(std::move(b_offsets)), act_(act),
        name_(std::move(name)) {
    args_.m = m;
    args_.n = n;
    args_.k = k;
    args_.a_stride = k;
    args_.c_stride = n;
    kernels::f32_gemm_set_activation(act_, &args_, v.isa);
    pack_floats_ = kernels::f32_gemm_packed_b_bytes(v.nr, n, k) / sizeof(float);
  }

  // B as [N, K] (nk) or [K, N], scaled by alpha; bias [N] or null.
  void pack_constant(const float* b, bool nk, float alpha, const float* bias) {
    const size_t n = args_.n, k = args_.k;
    std::vector<float> scaled;
    if (alpha != 1.f) {
      scaled.assign(b, b + n * k);
      for (float& value : scaled) value *= alpha;
      b = scaled.data();
    }
    if (!packed_.resize(pack_floats_)) return;
    if (nk)
      kernels::f32_gemm_pack_b_nk(v_.nr, n, k, b, k, bias, packed_.data());
    else
      kernels::f32_gemm_pack_b_kn(v_.nr, n, k, b, n, bias, packed_.data());
    b_offsets_.clear();
  }

  size_t scratch_bytes() const override {
    return packed_.empty() ? b_offsets_.size() * pack_floats_ * sizeof(float) : 0;
  }

  void run(const ExecContext& ctx) override {
    const float* a = add_.x(ctx);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    const size_t m = args_.m, n = args_.n, k = args_.k;
    const float* packed = packed_.data();
    const float* bias = add_.operand(ctx);
    const bool per_batch = b_offsets_.size() > 1;
    if (packed_.empty()) {
      const auto* b = static_cast<const float*>(ctx.inputs[1]);
      auto* scratch = static_cast<float*>(ctx.scratch);
      parallel_for(ctx.pool, b_offsets_.size(), [&](size_t p0, size_t p1) {
        for (size_t p = p0; p < p1; ++p)
          kernels::f32_gemm_pack_b_kn(v_.nr, n, k, b + b_offsets_[p], n, nullptr, scratch + p * pack_floats_);
      });
      packed = scratch;
    }
    const size_t batch_tiles = kernels::f32_gemm_m_tiles(v_, m) * kernels::f32_gemm_n_panels(v_, n);
    // Tiles of all batches are split among threads; a share may span batches.
    parallel_for(ctx.pool, a_offsets_.size() * batch_tiles, [&](size_t t0, size_t t1) {
      for (size_t t = t0; t < t1;) {
        const size_t batch = t / batch_tiles, first = t % batch_tiles;
        const size_t last = std::min(batch_tiles, first + (t1 - t));
        kernels::F32GemmArgs args = args_;
        args.a = a + a_offsets_[batch];
        args.packed_b = packed + (per_batch ? batch * pack_floats_ : 0);
        args.c = y + batch * m * n;
        args.residual = bias;
        kernels::f32_gemm_tiles(v_, args, first, last);
        t += last - first;
      }
    });
  }

  const char* kernel_name() const override { return name_.c_str(); }
  const void* fusion_tag() const override { return packed_.empty() ? nullptr : tag(); }
  static const void* tag() { return &kTag; }

  // Takes the Add of a bias row that reads this product's output at input `x_slot`
  // (kF32BiasAddTag[x_slot]), once: run() then reads A from inputs[x_slot] and adds the row
  // at inputs[1 - x_slot] to every output row, in the Add's operand order, after the
  // activation (the bytes of the Add run after the product).
  bool take_bias_add(const OpKernel& add, size_t x_slot) {
    if (packed_.empty() || x_slot > 1 || add.fusion_tag() != &kF32BiasAddTag[x_slot] || !add_.take(x_slot))
      return false;
    args_.residual_stride = 0;
    args_.residual_first = add_.operand_first();
    name_ += std::string("+") + add.kernel_name();
    return true;
  }

 private:
  const kernels::F32GemmVariant& v_;
  std::vector<int64_t> a_offsets_, b_offsets_;
  FusedActivation act_;  // args_.activation may point here
  std::string name_;
  kernels::F32GemmArgs args_;
  size_t pack_floats_ = 0;
  AlignedArray<float> packed_;
  FusedAddInputs add_;  // A, and the bias row added to the output with a fused Add
  static constexpr char kTag = 'g';
};

Status check_float_inputs(const PrepareContext& ctx) {
  for (size_t i = 0; i < ctx.inputs.size(); ++i)
    if (ctx.inputs[i]) PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *ctx.inputs[i], "input", {DType::kFloat32}));
  return nn::check_activation(ctx);
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_Gemm(const PrepareContext& ctx) {
  if (is_q8_tensor(optional_input(ctx, 0)))
    return has_encoded_input(ctx) ? prepare_on_dense_copies(ctx, prepare_Gemm) : nn::prepare_q8_gemm(ctx);
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 3, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_float_inputs(ctx));
  const TensorDesc& a = *ctx.inputs[0];
  const TensorDesc& b = *ctx.inputs[1];
  const TensorDesc* c = optional_input(ctx, 2);
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
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, DType::kFloat32, {m, n}));
  // Packed path: constant B, A not transposed, C absent or a constant row broadcast over
  // the rows (folded into the bias, times beta); alpha is folded into the packed B.
  const bool c_row = !c || (c->constant != nullptr && args.c_row_stride == 0);
  const bool packed = !trans_a && c_row && m > 0 && n > 0;
  std::vector<float> bias;
  if (packed && c) {
    const auto* values = static_cast<const float*>(c->constant);
    bias.resize(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) bias[static_cast<size_t>(j)] = args.beta * values[j * args.c_col_stride];
  }
  if (has_palette_input(ctx)) {
    // A palette B runs the LUT kernel where the packed GEMM would and the kernel pays.
    if (packed && palette_kernel_pays(ctx, 1, trans_b == 0))
      return make_lutgemm_kernel(ctx, 1, trans_b == 0, bias.empty() ? nullptr : bias.data(), args.alpha,
                                 static_cast<size_t>(m));
    return prepare_on_dense_copies(ctx, prepare_Gemm);
  }
  if (has_sparse_input(ctx)) {
    // A sparse B ([K, N], or [N, K] with transB) runs the sparse kernel where the packed
    // GEMM would and sparse enough for it to win; otherwise B is densified.
    if (packed && sparse_kernel_pays(ctx, 1, trans_b == 0))
      return make_spmm_kernel(ctx, 1, trans_b == 0, bias.empty() ? nullptr : bias.data(), args.alpha,
                              static_cast<size_t>(m));
    return prepare_on_dense_copies(ctx, prepare_Gemm);
  }
  if (packed && b.constant != nullptr) {
    const kernels::F32GemmVariant& v = kernels::select_f32_gemm(ctx.isa, static_cast<size_t>(k));
    auto kernel = std::make_unique<PackedGemmKernel>(
        v, static_cast<size_t>(m), static_cast<size_t>(n), static_cast<size_t>(k), std::vector<int64_t>{0},
        std::vector<int64_t>{}, ctx.activation, nn::kernel_name("f32_gemm", ctx.activation, v.tile_isa));
    kernel->pack_constant(static_cast<const float*>(b.constant), trans_b != 0, args.alpha,
                          bias.empty() ? nullptr : bias.data());
    return std::unique_ptr<OpKernel>(std::move(kernel));
  }
  return std::unique_ptr<OpKernel>(new GemmKernel(args, {0}, {0}, c != nullptr, ctx.activation,
                                                  nn::kernel_name("f32_gemm", ctx.activation, "ref__scalar")));
}

Result<std::unique_ptr<OpKernel>> prepare_MatMul(const PrepareContext& ctx) {
  if (is_q8_tensor(optional_input(ctx, 0)))
    return has_encoded_input(ctx) ? prepare_on_dense_copies(ctx, prepare_MatMul) : nn::prepare_q8_matmul(ctx);
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 1, 1));
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
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, DType::kFloat32, out_shape));

  if (has_palette_input(ctx)) {
    // A palette B [K, N] shared by every batch runs the LUT kernel on all rows of A.
    if (b_batch_rank == 0 && batch_count > 0 && m > 0 && n > 0 && palette_kernel_pays(ctx, 1, true))
      return make_lutgemm_kernel(ctx, 1, true, nullptr, 1.f, static_cast<size_t>(batch_count * m));
    return prepare_on_dense_copies(ctx, prepare_MatMul);
  }
  if (has_sparse_input(ctx)) {
    // A sparse B [K, N] shared by every batch runs the sparse kernel on all rows of A.
    if (b_batch_rank == 0 && batch_count > 0 && m > 0 && n > 0 && sparse_kernel_pays(ctx, 1, true))
      return make_spmm_kernel(ctx, 1, true, nullptr, 1.f, static_cast<size_t>(batch_count * m));
    return prepare_on_dense_copies(ctx, prepare_MatMul);
  }
  if (batch_count > 0 && m > 0 && n > 0) {
    const kernels::F32GemmVariant& v = kernels::select_f32_gemm(ctx.isa, static_cast<size_t>(k));
    std::string name = nn::kernel_name("f32_gemm", ctx.activation, v.tile_isa);
    // Without batch dims in B, every batch of A shares one B, and A's batches (contiguous)
    // are rows of one product.
    if (b_batch_rank == 0) {
      const size_t rows = static_cast<size_t>(batch_count * m);
      auto kernel = std::make_unique<PackedGemmKernel>(v, rows, static_cast<size_t>(n), static_cast<size_t>(k),
                                                       std::vector<int64_t>{0}, std::vector<int64_t>{0},
                                                       ctx.activation, std::move(name));
      if (b.constant) kernel->pack_constant(static_cast<const float*>(b.constant), false, 1.f, nullptr);
      return std::unique_ptr<OpKernel>(std::move(kernel));
    }
    return std::unique_ptr<OpKernel>(new PackedGemmKernel(v, static_cast<size_t>(m), static_cast<size_t>(n),
                                                          static_cast<size_t>(k), std::move(a_offsets),
                                                          std::move(b_offsets), ctx.activation, std::move(name)));
  }

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

std::unique_ptr<OpKernel> fuse_gemm_bias(std::unique_ptr<OpKernel>& producer, std::unique_ptr<OpKernel>& consumer,
                                         size_t slot) {
  if (slot > 1 || consumer->fusion_tag() != &kF32BiasAddTag[slot]) return nullptr;
  if (producer->fusion_tag() != PackedGemmKernel::tag()) return nullptr;
  if (!static_cast<PackedGemmKernel&>(*producer).take_bias_add(*consumer, slot)) return nullptr;
  consumer.reset();
  return std::move(producer);
}

}  // namespace pare::rt::ops
