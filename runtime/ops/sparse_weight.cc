#include "runtime/ops/sparse_weight.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "runtime/kernels/spmm/spmm.h"
#include "runtime/ops/common.h"
#include "runtime/ops/nn_util.h"
#include "runtime/ops/parallel.h"
#include "runtime/thread_pool.h"

namespace pare::rt::ops {

namespace {

bool is_sparse(const TensorDesc* t) { return t != nullptr && t->encoding == Encoding::kSparse; }

// Each worker (at most kMaxWorkers) runs whole tiles of pixels with its own scratch; every
// output element is one kernel call's, so the bytes do not depend on the thread count.
class SpmmKernel final : public OpKernel {
 public:
  SpmmKernel(const kernels::F32SpmmVariant& v, kernels::F32SpmmPacked w, size_t m, FusedActivation act,
             std::string name)
      : v_(v), w_(std::move(w)), act_(act), name_(std::move(name)) {
    args_.m = m;
    args_.w = &w_;
    args_.x_stride = w_.k;
    args_.y_stride = w_.n;
    kernels::f32_spmm_set_activation(act_, &args_, v.isa);
    worker_bytes_ = (kernels::f32_spmm_scratch_bytes(v, w_.n, w_.k) + 63) / 64 * 64;
  }

  size_t scratch_bytes() const override { return kMaxWorkers * worker_bytes_; }
  void run(const ExecContext& ctx) override {
    kernels::F32SpmmArgs args = args_;
    args.x = static_cast<const float*>(ctx.inputs[0]);
    args.y = static_cast<float*>(ctx.outputs[0]);
    const size_t threads = ctx.pool ? static_cast<size_t>(ctx.pool->threads()) : 1;
    const size_t tile = v_.tile_pixels;
    // Workers take whole kernel calls (tiles_per_call tiles).
    for_each_block(ctx.pool, args.m, tile * w_.tiles_per_call, args.m, std::min(threads, kMaxWorkers),
                   [&](size_t worker, size_t r0, size_t r1) {
                     auto* scratch = static_cast<float*>(ctx.scratch) + worker * worker_bytes_ / sizeof(float);
                     kernels::f32_spmm(v_, args, r0 / tile, (r1 + tile - 1) / tile, scratch);
                   });
  }
  const char* kernel_name() const override { return name_.c_str(); }

 private:
  static constexpr size_t kMaxWorkers = 8;

  const kernels::F32SpmmVariant& v_;
  kernels::F32SpmmPacked w_;
  FusedActivation act_;  // args_.activation may point here
  std::string name_;
  kernels::F32SpmmArgs args_;
  size_t worker_bytes_ = 0;
};

}  // namespace

bool has_sparse_input(const PrepareContext& ctx) {
  return std::any_of(ctx.inputs.begin(), ctx.inputs.end(), is_sparse);
}

bool sparse_kernel_pays(const PrepareContext& ctx, size_t i, bool transposed) {
  for (size_t j = 0; j < ctx.inputs.size(); ++j)
    if (j != i && is_sparse(ctx.inputs[j])) return false;
  const TensorDesc* w = optional_input(ctx, i);
  if (!is_sparse(w) || w->dtype != DType::kFloat32 || w->quantized) return false;
  const auto n = static_cast<size_t>(transposed ? w->sparse.cols : w->sparse.rows);
  const auto k = static_cast<size_t>(transposed ? w->sparse.rows : w->sparse.cols);
  return kernels::f32_spmm_pays(ctx.isa, kernels::f32_spmm_sparsity(w->sparse), n, k);
}

std::unique_ptr<OpKernel> make_spmm_kernel(const PrepareContext& ctx, size_t i, bool transposed,
                                           const float* bias, float alpha, size_t m) {
  const kernels::F32SpmmVariant& v = kernels::select_f32_spmm(ctx.isa);
  kernels::F32SpmmPacked w = kernels::f32_spmm_pack(ctx.inputs[i]->sparse, transposed, bias, alpha, v.tile_pixels);
  return std::make_unique<SpmmKernel>(v, std::move(w), m, ctx.activation,
                                      nn::kernel_name("f32_spmm", ctx.activation, v.tile_isa));
}

}  // namespace pare::rt::ops
