#include "runtime/ops/dense_copies.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "runtime/ops/common.h"

namespace pare::rt::ops {

namespace {

bool is_encoded(const TensorDesc* t) { return t != nullptr && t->encoding != Encoding::kDense; }

// The op's kernel prepared on dense copies of its encoded inputs; run passes the copies in
// their places.
class DenseCopiesKernel final : public OpKernel {
 public:
  static constexpr size_t kMaxInputs = 8;

  DenseCopiesKernel(std::vector<AlignedArray<uint8_t>> dense, std::vector<size_t> positions, size_t inputs,
                    std::unique_ptr<OpKernel> kernel, std::string name)
      : dense_(std::move(dense)), positions_(std::move(positions)), inputs_(inputs), kernel_(std::move(kernel)),
        name_(std::move(name)) {}

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

}  // namespace

bool has_encoded_input(const PrepareContext& ctx) {
  return std::any_of(ctx.inputs.begin(), ctx.inputs.end(), is_encoded);
}

Result<std::unique_ptr<OpKernel>> prepare_on_dense_copies(const PrepareContext& ctx, OpFactory factory) {
  if (ctx.inputs.size() > DenseCopiesKernel::kMaxInputs)
    return ctx.error(Status::kUnsupported, "too many inputs for an encoded constant");
  std::vector<TensorDesc> descs;
  std::vector<AlignedArray<uint8_t>> dense;
  std::vector<size_t> positions;
  bool expanded_palette = false;
  descs.reserve(ctx.inputs.size());
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (!is_encoded(ctx.inputs[i])) continue;
    TensorDesc d = *ctx.inputs[i];
    const char* kind = d.encoding == Encoding::kPalette ? "palette" : "sparse";
    if (dtype_size(d.dtype) != 1 && dtype_size(d.dtype) != 4)
      return ctx.error(Status::kUnsupported, std::string(kind) + " input '" + d.name + "' of dtype " + dtype_name(d.dtype));
    expanded_palette |= d.encoding == Encoding::kPalette;
    dense.emplace_back();
    if (!dense.back().resize(d.byte_size()))
      return ctx.error(Status::kMemoryLimit, "no memory for a dense copy of " + std::string(kind) + " input '" +
                                                 d.name + "' (" + std::to_string(d.byte_size()) + " bytes)");
    densify(d, dense.back().data());
    d.encoding = Encoding::kDense;
    d.constant = dense.back().data();
    d.sparse = SparseView{};
    d.palette = PaletteView{};
    descs.push_back(std::move(d));
    positions.push_back(i);
  }
  PrepareContext dense_ctx = ctx;
  for (size_t j = 0; j < positions.size(); ++j) dense_ctx.inputs[positions[j]] = &descs[j];
  Result<std::unique_ptr<OpKernel>> kernel = factory(dense_ctx);
  if (!kernel.is_ok()) return kernel.status();
  std::string name = std::string(kernel.value()->kernel_name()) + (expanded_palette ? "_expanded" : "");
  return std::unique_ptr<OpKernel>(new DenseCopiesKernel(std::move(dense), std::move(positions), ctx.inputs.size(),
                                                         std::move(kernel).value(), std::move(name)));
}

}  // namespace pare::rt::ops
