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

// The op's kernel prepared on dense copies of its palette inputs; run passes the copies in
// their places. Named after the dense kernel, with "_expanded".
class ExpandedInputsKernel final : public OpKernel {
 public:
  static constexpr size_t kMaxInputs = 8;

  ExpandedInputsKernel(std::vector<AlignedArray<uint8_t>> dense, std::vector<size_t> positions, size_t inputs,
                       std::unique_ptr<OpKernel> kernel)
      : dense_(std::move(dense)), positions_(std::move(positions)), inputs_(inputs), kernel_(std::move(kernel)),
        name_(std::string(kernel_->kernel_name()) + "_expanded") {}

  size_t scratch_bytes() const override { return kernel_->scratch_bytes(); }
  void run(const ExecContext& ctx) override {
    const void* inputs[kMaxInputs];
    std::copy(ctx.inputs, ctx.inputs + inputs_, inputs);
    for (size_t j = 0; j < positions_.size(); ++j) inputs[positions_[j]] = dense_[j].data();
    ExecContext dense_ctx = ctx;
    dense_ctx.inputs = inputs;
    kernel_->run(dense_ctx);
  }
  const char* kernel_name() const override { return name_.c_str(); }

 private:
  std::vector<AlignedArray<uint8_t>> dense_;
  std::vector<size_t> positions_;
  size_t inputs_;
  std::unique_ptr<OpKernel> kernel_;
  std::string name_;
};

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

Result<std::unique_ptr<OpKernel>> prepare_palette_expanded(const PrepareContext& ctx, OpFactory factory) {
  if (ctx.inputs.size() > ExpandedInputsKernel::kMaxInputs)
    return ctx.error(Status::kUnsupported, "too many inputs for a palette constant");
  std::vector<TensorDesc> descs;
  std::vector<AlignedArray<uint8_t>> dense;
  std::vector<size_t> positions;
  descs.reserve(ctx.inputs.size());
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (!is_palette(ctx.inputs[i])) continue;
    TensorDesc d = *ctx.inputs[i];
    if (d.dtype != DType::kFloat32 && d.dtype != DType::kInt8)
      return ctx.error(Status::kUnsupported, "palette input '" + d.name + "' of dtype " + dtype_name(d.dtype));
    dense.emplace_back();
    dense.back().resize(d.byte_size());
    kernels::palette_densify(d.palette, dense.back().data());
    d.encoding = Encoding::kDense;
    d.constant = dense.back().data();
    d.palette = PaletteView{};
    descs.push_back(std::move(d));
    positions.push_back(i);
  }
  PrepareContext dense_ctx = ctx;
  for (size_t j = 0; j < positions.size(); ++j) dense_ctx.inputs[positions[j]] = &descs[j];
  Result<std::unique_ptr<OpKernel>> kernel = factory(dense_ctx);
  if (!kernel.is_ok()) return kernel.status();
  return std::unique_ptr<OpKernel>(new ExpandedInputsKernel(std::move(dense), std::move(positions),
                                                            ctx.inputs.size(), std::move(kernel).value()));
}

std::unique_ptr<OpKernel> make_lutgemm_kernel(const PrepareContext& ctx, size_t i, bool transposed,
                                              const float* bias, float alpha, size_t m) {
  const kernels::F32LutVariant& v = kernels::select_f32_lutgemm(ctx.isa);
  kernels::F32LutPacked w = kernels::f32_lutgemm_pack(ctx.inputs[i]->palette, transposed, bias, alpha, v.half);
  return std::make_unique<LutGemmKernel>(v, std::move(w), m, ctx.activation,
                                         nn::kernel_name("f32_lutgemm", ctx.activation, v.tile_isa));
}

}  // namespace pare::rt::ops
