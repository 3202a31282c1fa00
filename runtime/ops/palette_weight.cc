#include "runtime/ops/palette_weight.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/lutgemm/lutgemm.h"
#include "runtime/ops/common.h"
#include "runtime/ops/nn_util.h"
#include "runtime/ops/parallel.h"
#include "runtime/thread_pool.h"

namespace pare::rt::ops {

namespace {

bool is_palette(const TensorDesc* t) { return t != nullptr && t->encoding == Encoding::kPalette; }

// Workers take blocks of whole rows; each output element is summed by one kernel call over
// all of K, so the bytes do not depend on the thread count.
class LutGemmKernel final : public OpKernel {
 public:
  LutGemmKernel(const kernels::F32LutVariant& v, kernels::F32LutPacked w, size_t m, FusedActivation act,
                std::string name)
      : v_(v), w_(std::move(w)), m_(m), act_(act), name_(std::move(name)) {
    args_.w = &w_;
    args_.x_stride = w_.w.k;
    args_.y_stride = w_.w.n;
    kernels::f32_lutgemm_set_activation(act_, &args_);
  }

  void run(const ExecContext& ctx) override {
    kernels::F32LutArgs args = args_;
    args.x = static_cast<const float*>(ctx.inputs[0]);
    args.y = static_cast<float*>(ctx.outputs[0]);
    const size_t threads = ctx.pool ? static_cast<size_t>(ctx.pool->threads()) : 1;
    for_each_block(ctx.pool, m_, 4, m_, threads,
                   [&](size_t, size_t r0, size_t r1) { kernels::f32_lutgemm(v_, args, r0, r1); });
  }
  const char* kernel_name() const override { return name_.c_str(); }

 private:
  const kernels::F32LutVariant& v_;
  kernels::F32LutPacked w_;
  size_t m_;
  FusedActivation act_;  // args_.activation may point here
  std::string name_;
  kernels::F32LutArgs args_;
};

}  // namespace

bool has_palette_input(const PrepareContext& ctx) {
  return std::any_of(ctx.inputs.begin(), ctx.inputs.end(), is_palette);
}

bool palette_kernel_pays(const PrepareContext& ctx, size_t i, bool transposed) {
  for (size_t j = 0; j < ctx.inputs.size(); ++j)
    if (j != i && is_palette(ctx.inputs[j])) return false;
  const TensorDesc* w = optional_input(ctx, i);
  if (!is_palette(w) || w->dtype != DType::kFloat32 || w->quantized || !kernels::lutgemm_packable(w->palette, transposed))
    return false;
  const auto n = static_cast<size_t>(transposed ? w->palette.cols : w->palette.rows);
  const auto k = static_cast<size_t>(transposed ? w->palette.rows : w->palette.cols);
  return kernels::f32_lutgemm_pays(ctx.isa, n, k);
}

std::unique_ptr<OpKernel> make_lutgemm_kernel(const PrepareContext& ctx, size_t i, bool transposed,
                                              const float* bias, float alpha, size_t m) {
  const kernels::F32LutVariant& v = kernels::select_f32_lutgemm(ctx.isa);
  kernels::F32LutPacked w = kernels::f32_lutgemm_pack(ctx.inputs[i]->palette, transposed, bias, alpha, v.half);
  return std::make_unique<LutGemmKernel>(v, std::move(w), m, ctx.activation,
                                         nn::kernel_name("f32_lutgemm", ctx.activation, v.tile_isa));
}

}  // namespace pare::rt::ops
