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

// Workers take blocks of whole panels of output channels, each decoding its panels into its
// own slice of the scratch and running them over every row; integer results do not depend
// on the split.
class Q8LutGemmKernel final : public OpKernel {
 public:
  Q8LutGemmKernel(const kernels::Q8LutVariant& v, kernels::Q8LutPacked w, size_t m, const kernels::Q8LutArgs& args,
                  std::string name)
      : v_(v), w_(std::move(w)), m_(m), args_(args), name_(std::move(name)) {
    args_.w = &w_;
    args_.a_stride = w_.k;
    args_.c_stride = w_.n;
    panel_bytes_ = kernels::q8_lutgemm_scratch_bytes(v_, w_.k);
  }

  size_t scratch_bytes() const override { return kMaxWorkers * panel_bytes_; }

  void run(const ExecContext& ctx) override {
    kernels::Q8LutArgs args = args_;
    args.a = static_cast<const uint8_t*>(ctx.inputs[0]);
    args.c = static_cast<uint8_t*>(ctx.outputs[0]);
    const size_t panels = kernels::q8_lutgemm_panels(w_);
    const size_t threads = ctx.pool ? static_cast<size_t>(ctx.pool->threads()) : 1;
    for_each_block(ctx.pool, panels, 1, panels, std::min(threads, kMaxWorkers),
                   [&](size_t worker, size_t p0, size_t p1) {
                     kernels::Q8LutArgs a = args;
                     a.panel = static_cast<uint8_t*>(ctx.scratch) + worker * panel_bytes_;
                     kernels::q8_lutgemm(v_, a, 0, m_, p0, p1);
                   });
  }
  const char* kernel_name() const override { return name_.c_str(); }

 private:
  static constexpr size_t kMaxWorkers = 8;  // bounds the scratch
  const kernels::Q8LutVariant& v_;
  kernels::Q8LutPacked w_;
  size_t m_;
  kernels::Q8LutArgs args_;
  size_t panel_bytes_ = 0;
  std::string name_;
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

std::unique_ptr<OpKernel> make_q8_lutgemm_conv_kernel(const PrepareContext& ctx, size_t pixels) {
  if (ctx.inputs.size() < 2 || ctx.inputs[0] == nullptr || ctx.inputs[0]->dtype != DType::kUInt8) return nullptr;
  for (size_t j = 0; j < ctx.inputs.size(); ++j)
    if (j != 1 && is_palette(ctx.inputs[j])) return nullptr;
  const TensorDesc* w = ctx.inputs[1];
  if (!is_palette(w) || w->dtype != DType::kInt8 || !w->quantized || !kernels::lutgemm_packable(w->palette, false))
    return nullptr;
  const auto n = static_cast<size_t>(w->palette.rows), k = static_cast<size_t>(w->palette.cols);
  if (!kernels::q8_lutgemm_pays(ctx.isa, pixels, n, k)) return nullptr;
  const int32_t* bias = nullptr;
  if (const TensorDesc* b = optional_input(ctx, 2)) {
    if (b->dtype != DType::kInt32 || b->constant == nullptr || is_palette(b)) return nullptr;
    bias = static_cast<const int32_t*>(b->constant);
  }
  // The output parameters read only the weight's quantization, never its bytes: a dense
  // stand-in of the palette passes their check that the weight is a constant.
  TensorDesc stand_in = *w;
  stand_in.encoding = Encoding::kDense;
  stand_in.constant = w->palette.indices;
  std::vector<kernels::Requant> rq;
  kernels::Q8LutArgs args;
  int32_t x_zero_point = 0;
  if (!nn::q8_output_params(ctx, *ctx.inputs[0], stand_in, 0, *ctx.outputs[0], static_cast<int64_t>(n), &rq,
                            &x_zero_point, &args.c_zero_point, &args.lo, &args.hi)
           .is_ok())
    return nullptr;
  const kernels::Q8LutVariant& v = kernels::select_q8_lutgemm(ctx.isa);
  kernels::Q8LutPacked packed = kernels::q8_lutgemm_pack(v, w->palette, bias, x_zero_point, rq.data());
  return std::make_unique<Q8LutGemmKernel>(v, std::move(packed), pixels, args,
                                           nn::kernel_name("q8_lutgemm", ctx.activation, v.tile_isa));
}

}  // namespace pare::rt::ops
