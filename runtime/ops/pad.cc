// Pad (opset 18): modes constant, reflect and edge; pads and axes constant inputs,
// optional constant_value; any dtype (values are copied, never computed on). Negative
// pads crop.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/pad/pad.h"
#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

using PadFn = void (*)(size_t, const int64_t*, const int64_t*, const int64_t* const*, const void*,
                       const void*, void*);

class PadKernel final : public OpKernel {
 public:
  PadKernel(PadFn fn, const char* name, std::vector<int64_t> out_shape, std::vector<int64_t> in_strides,
            std::vector<std::vector<int64_t>> source, bool has_value, bool empty)
      : fn_(fn), name_(name), out_shape_(std::move(out_shape)), in_strides_(std::move(in_strides)),
        source_(std::move(source)), has_value_(has_value), empty_(empty) {
    for (const auto& s : source_) source_ptrs_.push_back(s.data());
  }

  void run(const ExecContext& ctx) override {
    if (empty_) return;
    const void* value = has_value_ ? ctx.inputs[2] : &zero_;
    fn_(out_shape_.size(), out_shape_.data(), in_strides_.data(), source_ptrs_.data(), value, ctx.inputs[0],
        ctx.outputs[0]);
  }

  const char* kernel_name() const override { return name_; }

 private:
  PadFn fn_;
  const char* name_;
  std::vector<int64_t> out_shape_, in_strides_;
  std::vector<std::vector<int64_t>> source_;
  std::vector<const int64_t*> source_ptrs_;
  bool has_value_;
  bool empty_;  // an output without elements: no source table, nothing to write
  uint64_t zero_ = 0;  // the default constant_value, as bytes of any width
};

// Input index read by output index o of an axis of length `size` padded by `before`;
// -1 for the constant.
int64_t source_index(int64_t o, int64_t size, int64_t before, const std::string& mode) {
  // In 128 bits: `before` is any int64 from the file (-2^63 with an end pad of 2^63 - 1 is
  // a valid crop-and-pad).
  const __int128 i = static_cast<__int128>(o) - before;
  if (i >= 0 && i < size) return static_cast<int64_t>(i);
  if (mode == "constant") return -1;
  if (mode == "edge") return i < 0 ? 0 : size - 1;
  // reflect (mirror without repeating the edge), folding as often as needed
  if (size == 1) return 0;
  const int64_t period = 2 * (size - 1);
  const auto r = static_cast<int64_t>(((i % period) + period) % period);
  return r < size ? r : period - r;
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_Pad(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 4, 1, 1));
  const TensorDesc& x = *ctx.inputs[0];
  const size_t rank = x.rank();
  if (rank > kernels::kPadMaxRank)
    return ctx.error(Status::kUnsupported, "input '" + x.name + "' has rank " + std::to_string(rank) +
                                               ", at most " + std::to_string(kernels::kPadMaxRank) +
                                               " is supported");
  const std::string mode = ctx.attrs->get_string("mode", "constant");
  if (mode == "wrap") return ctx.error(Status::kUnsupported, "mode 'wrap' is not supported");
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    return ctx.error(Status::kBadModel, "unknown mode '" + mode + "'");

  PadFn fn = nullptr;
  const char* name = nullptr;
  switch (dtype_size(x.dtype)) {
    case 1: fn = kernels::x8_pad_ref__scalar; name = "x8_pad_ref__scalar"; break;
    case 4: fn = kernels::x32_pad_ref__scalar; name = "x32_pad_ref__scalar"; break;
    case 8: fn = kernels::x64_pad_ref__scalar; name = "x64_pad_ref__scalar"; break;
    default:
      return ctx.error(Status::kUnsupported, std::string("input dtype ") + dtype_name(x.dtype) + " is not supported");
  }

  std::vector<int64_t> pads;
  PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 1, "pads", &pads));

  std::vector<int64_t> axes;
  if (optional_input(ctx, 3)) {
    std::vector<int64_t> raw;
    PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 3, "axes", &raw));
    PARE_RT_RETURN_IF_ERROR(normalize_axes(ctx, raw, static_cast<int64_t>(rank), &axes));
  } else {
    for (size_t i = 0; i < rank; ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (pads.size() != 2 * axes.size())
    return ctx.error(Status::kBadModel, "pads " + shape_str(pads) + " should have " +
                                            std::to_string(2 * axes.size()) + " values (2 per padded axis)");

  const TensorDesc* value = optional_input(ctx, 2);
  if (value) {
    if (value->dtype != x.dtype)
      return ctx.error(Status::kBadModel, "constant_value '" + value->name + "' has dtype " +
                                              dtype_name(value->dtype) + ", expected " + dtype_name(x.dtype));
    if (value->num_elements() != 1)
      return ctx.error(Status::kBadModel, "constant_value '" + value->name + "' must hold one value");
  }

  std::vector<int64_t> before(rank, 0), after(rank, 0);
  for (size_t j = 0; j < axes.size(); ++j) {
    before[static_cast<size_t>(axes[j])] = pads[j];
    after[static_cast<size_t>(axes[j])] = pads[axes.size() + j];
  }
  std::vector<int64_t> out_shape(rank), in_strides(rank);
  int64_t stride = 1;
  CheckedMath m;
  for (size_t i = rank; i-- > 0;) {
    out_shape[i] = m.add(m.add(x.shape[i], before[i]), after[i]);
    in_strides[i] = stride;
    stride *= x.shape[i];
    if (m.overflow) return ctx.error(Status::kBadModel, "pads " + shape_str(pads) + " overflow 64-bit sizes");
    if (out_shape[i] < 0)
      return ctx.error(Status::kBadModel, "pads " + shape_str(pads) + " crop more than input " +
                                              shape_str(x.shape) + " holds");
    if (mode != "constant" && x.shape[i] == 0 && out_shape[i] > 0)
      return ctx.error(Status::kBadModel, "mode '" + mode + "' cannot pad the empty axis " + std::to_string(i) +
                                              " of " + shape_str(x.shape));
  }
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, out_shape));

  // The input index each output index reads, per axis. An empty output reads nothing, and its
  // other axes may be as long as the pads make them (2^63 - 2 beside a zero): no table.
  const bool empty = std::find(out_shape.begin(), out_shape.end(), 0) != out_shape.end();
  std::vector<std::vector<int64_t>> source(rank);
  if (!empty)
    for (size_t i = 0; i < rank; ++i)
      for (int64_t o = 0; o < out_shape[i]; ++o) source[i].push_back(source_index(o, x.shape[i], before[i], mode));
  return std::unique_ptr<OpKernel>(
      new PadKernel(fn, name, std::move(out_shape), std::move(in_strides), std::move(source), value != nullptr, empty));
}

}  // namespace pare::rt::ops
