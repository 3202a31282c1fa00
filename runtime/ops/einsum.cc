// Einsum on float32: any equation without ellipsis and without an index repeated within one
// operand (explicit "->" output or the implicit one: indices seen once, sorted). Other
// equations are refused naming the node and the equation.
//
// Every index gets a position in one loop nest, output indices outside, summed ones inside;
// each operand reads with a stride per index (0 where it lacks the index). The batched matmul
// forms of attention ("bhid,bhjd->bhij") thus run as plain dot-product loops.
#include <map>
#include <string>
#include <vector>

#include "runtime/einsum_equation.h"
#include "runtime/ops/common.h"
#include "runtime/ops/ops.h"

namespace pare::rt::ops {

namespace {

struct EinsumPlan {
  std::vector<int64_t> out_dims, sum_dims;                     // sizes of output / summed indices
  std::vector<std::vector<int64_t>> out_strides, sum_strides;  // [operand][index]
};

// The offset of position `pos` (row-major over `dims`) with `strides`.
int64_t offset_of(int64_t pos, const std::vector<int64_t>& dims, const std::vector<int64_t>& strides) {
  int64_t off = 0;
  for (size_t d = dims.size(); d-- > 0;) {
    off += pos % dims[d] * strides[d];
    pos /= dims[d];
  }
  return off;
}

// Scratch: one offset per operand for the output position and one for the summed rows.
class EinsumKernel final : public OpKernel {
 public:
  explicit EinsumKernel(EinsumPlan plan) : p_(std::move(plan)) {
    out_count_ = num_elements(p_.out_dims);
    // The last summed index runs as the inner loop; the rest are rows of it.
    inner_ = p_.sum_dims.empty() ? 1 : p_.sum_dims.back();
    rows_ = inner_ == 0 ? 0 : num_elements(p_.sum_dims) / inner_;
    for (auto& s : p_.sum_strides) {
      inner_strides_.push_back(s.empty() ? 0 : s.back());
      if (!s.empty()) s.pop_back();
    }
    if (!p_.sum_dims.empty()) p_.sum_dims.pop_back();
  }

  size_t scratch_bytes() const override { return 2 * p_.out_strides.size() * sizeof(int64_t); }
  const char* kernel_name() const override { return "f32_einsum_ref__scalar"; }

  void run(const ExecContext& ec) override {
    const size_t n_ops = p_.out_strides.size();
    auto* base = static_cast<int64_t*>(ec.scratch);
    int64_t* at = base + n_ops;
    float* y = static_cast<float*>(ec.outputs[0]);
    for (int64_t o = 0; o < out_count_; ++o) {
      for (size_t k = 0; k < n_ops; ++k) base[k] = offset_of(o, p_.out_dims, p_.out_strides[k]);
      double acc = 0;
      for (int64_t r = 0; r < rows_; ++r) {
        for (size_t k = 0; k < n_ops; ++k) at[k] = base[k] + offset_of(r, p_.sum_dims, p_.sum_strides[k]);
        for (int64_t i = 0; i < inner_; ++i) {
          double prod = 1;
          for (size_t k = 0; k < n_ops; ++k)
            prod *= static_cast<const float*>(ec.inputs[k])[at[k] + i * inner_strides_[k]];
          acc += prod;
        }
      }
      y[o] = static_cast<float>(acc);
    }
  }

 private:
  EinsumPlan p_;
  std::vector<int64_t> inner_strides_;
  int64_t out_count_ = 0, inner_ = 1, rows_ = 1;
};

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_Einsum(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, SIZE_MAX, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_no_activation(ctx));
  std::string equation;
  PARE_RT_RETURN_IF_ERROR(string_attr(ctx, "equation", "", &equation));
  std::vector<std::vector<int64_t>> shapes;
  for (size_t k = 0; k < ctx.inputs.size(); ++k) {
    const TensorDesc* t = ctx.inputs[k];
    if (t == nullptr) return ctx.error(Status::kBadModel, "input " + std::to_string(k) + " is missing");
    PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *t, "input", {DType::kFloat32}));
    shapes.push_back(t->shape);
  }
  EinsumEquation e;
  std::string why;
  switch (parse_einsum(equation, shapes, &e, &why)) {
    case EinsumParse::kOk: break;
    case EinsumParse::kUnsupported: return ctx.error(Status::kUnsupported, why);
    case EinsumParse::kBad: return ctx.error(Status::kBadModel, why);
  }
  const std::vector<std::string>& terms = e.terms;
  const std::string& out = e.output;
  std::map<char, int64_t>& size = e.sizes;
  EinsumPlan plan;
  std::string summed;
  for (char l : out) plan.out_dims.push_back(size[l]);
  for (const auto& [l, n] : size)
    if (out.find(l) == std::string::npos) {
      summed += l;
      plan.sum_dims.push_back(n);
    }
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, DType::kFloat32, plan.out_dims));
  for (size_t k = 0; k < terms.size(); ++k) {
    const std::vector<int64_t> strides = contiguous_strides(ctx.inputs[k]->shape);
    auto stride_of = [&](char l) {
      const size_t d = terms[k].find(l);
      return d == std::string::npos ? int64_t{0} : strides[d];
    };
    plan.out_strides.emplace_back();
    plan.sum_strides.emplace_back();
    for (char l : out) plan.out_strides.back().push_back(stride_of(l));
    for (char l : summed) plan.sum_strides.back().push_back(stride_of(l));
  }
  return std::unique_ptr<OpKernel>(new EinsumKernel(std::move(plan)));
}

}  // namespace pare::rt::ops
