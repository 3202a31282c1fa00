// TopK: the k largest (or smallest) elements along an axis, sorted, with their int64 indices.
// k is a constant input (it decides the output shape). Equal values keep the lower index
// first, as ONNX asks; NaN orders above every number.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  return false;
}

// x viewed as [outer, dim, inner]; the scratch holds one line's indices.
template <typename T>
class TopKKernel final : public OpKernel {
 public:
  TopKKernel(std::string name, size_t outer, size_t dim, size_t inner, size_t k, bool largest)
      : name_(std::move(name)), outer_(outer), dim_(dim), inner_(inner), k_(k), largest_(largest) {}

  size_t scratch_bytes() const override { return dim_ * sizeof(int64_t); }
  const char* kernel_name() const override { return name_.c_str(); }

  void run(const ExecContext& ec) override {
    if (k_ == 0) return;
    const T* x = static_cast<const T*>(ec.inputs[0]);
    T* values = static_cast<T*>(ec.outputs[0]);
    auto* indices = static_cast<int64_t*>(ec.outputs[1]);
    auto* order = static_cast<int64_t*>(ec.scratch);
    for (size_t o = 0; o < outer_; ++o) {
      for (size_t i = 0; i < inner_; ++i) {
        const T* line = x + o * dim_ * inner_ + i;
        // a before b: strictly better value, or an equal one at a lower index.
        auto before = [&](int64_t a, int64_t b) {
          const T va = line[a * static_cast<int64_t>(inner_)], vb = line[b * static_cast<int64_t>(inner_)];
          const bool na = is_nan(va), nb = is_nan(vb);
          if (na || nb) {
            if (na && nb) return a < b;
            return largest_ ? na : nb;
          }
          if (va != vb) return largest_ ? va > vb : va < vb;
          return a < b;
        };
        std::iota(order, order + dim_, int64_t{0});
        std::partial_sort(order, order + k_, order + dim_, before);
        for (size_t j = 0; j < k_; ++j) {
          const size_t at = (o * k_ + j) * inner_ + i;
          indices[at] = order[j];
          values[at] = line[order[j] * static_cast<int64_t>(inner_)];
        }
      }
    }
  }

 private:
  std::string name_;
  size_t outer_, dim_, inner_, k_;
  bool largest_;
};

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_TopK(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 2, 2, 2));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input 0", {DType::kFloat32, DType::kInt64, DType::kInt32}));
  if (x.rank() == 0) return ctx.error(Status::kBadModel, "input 0 must have rank >= 1");
  std::vector<int64_t> k;
  PARE_RT_RETURN_IF_ERROR(read_const_ints(ctx, 1, "k", &k));
  int64_t axis = -1, largest = 1, sorted = 1;
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "axis", -1, &axis));
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "largest", 1, &largest));
  PARE_RT_RETURN_IF_ERROR(int_attr(ctx, "sorted", 1, &sorted));  // unsorted allows any order: sorted is one
  PARE_RT_RETURN_IF_ERROR(normalize_axis(ctx, axis, static_cast<int64_t>(x.rank()), &axis));
  const auto a = static_cast<size_t>(axis);
  if (k.size() != 1 || k[0] < 0 || k[0] > x.shape[a])
    return ctx.error(Status::kBadModel, "k must be one value in [0, " + std::to_string(x.shape[a]) + "]");
  std::vector<int64_t> out_shape = x.shape;
  out_shape[a] = k[0];
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, out_shape));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 1, DType::kInt64, out_shape));
  const auto outer = static_cast<size_t>(num_elements({x.shape.begin(), x.shape.begin() + axis}));
  const auto inner = static_cast<size_t>(num_elements({x.shape.begin() + axis + 1, x.shape.end()}));
  const auto dim = static_cast<size_t>(x.shape[a]);
  const auto kk = static_cast<size_t>(k[0]);
  std::string name = std::string(dtype_tag(x.dtype)) + "_topk_ref__scalar";
  if (x.dtype == DType::kFloat32)
    return std::unique_ptr<OpKernel>(new TopKKernel<float>(std::move(name), outer, dim, inner, kk, largest != 0));
  if (x.dtype == DType::kInt32)
    return std::unique_ptr<OpKernel>(new TopKKernel<int32_t>(std::move(name), outer, dim, inner, kk, largest != 0));
  return std::unique_ptr<OpKernel>(new TopKKernel<int64_t>(std::move(name), outer, dim, inner, kk, largest != 0));
}

}  // namespace pare::rt::ops
