// Scalar ops evaluated while lowering: with every input shape known, sizes, the
// arithmetic on them (traced reshapes, scripted shape checks) and the conditions of ifs
// are values now, so the IR gets constants instead of shape computations.
#include <cmath>

#include "formats/torchscript/lowering.h"
#include "ir/status.h"

namespace pare::torchscript_import {

namespace {

bool is_number(const c10::IValue& v) { return v.isInt() || v.isDouble() || v.isBool(); }
double as_double(const c10::IValue& v) {
  return v.isDouble() ? v.toDouble() : v.isInt() ? static_cast<double>(v.toInt()) : (v.toBool() ? 1.0 : 0.0);
}
int64_t as_int(const c10::IValue& v) { return v.isInt() ? v.toInt() : v.isBool() ? v.toBool() : static_cast<int64_t>(v.toDouble()); }

int64_t floor_div(Lowering& l, int64_t a, int64_t b) {
  if (b == 0) l.invalid("integer division by zero");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// A number of a tensor-typed static value (NumToTensor's) or a scalar.
bool static_number(const Entry& e, c10::IValue* out) {
  if (e.kind != Entry::kStatic) return false;
  if (is_number(e.value)) {
    *out = e.value;
    return true;
  }
  // A 0-d constant tensor (traced code holds Python numbers as those).
  if (e.value.isTensor() && e.value.toTensor().dim() == 0) {
    const at::Tensor& t = e.value.toTensor();
    if (t.is_floating_point()) *out = t.item<double>();
    else if (t.scalar_type() == at::kBool) *out = t.item<bool>();
    else *out = t.item<int64_t>();
    return true;
  }
  return false;
}

std::vector<int64_t> tensor_sizes(Lowering& l, const Entry& e) {
  if (e.kind == Entry::kTensor) return l.sizes(e.tensor);
  if (e.kind == Entry::kStatic && e.value.isTensor()) {
    auto s = e.value.toTensor().sizes();
    return std::vector<int64_t>(s.begin(), s.end());
  }
  if (e.kind == Entry::kStatic && is_number(e.value)) return {};  // a 0-d tensor
  l.invalid("argument 0 is not a tensor");
}

bool eval_arith(Lowering& l, const std::string& kind) {
  const size_t n = l.num_inputs();
  if (n == 0 || n > 3) return false;
  std::vector<c10::IValue> v(n);
  for (size_t i = 0; i < n; ++i)
    if (!static_number(l.in(i), &v[i]) && !(i == 2 && l.is_none(i))) return false;
  const bool ints = std::all_of(v.begin(), v.end(), [](const c10::IValue& x) { return x.isInt() || x.isBool() || x.isNone(); });
  auto num = [&](double d, int64_t i) { return ints ? c10::IValue(i) : c10::IValue(d); };
  if (n == 1) {
    const c10::IValue& a = v[0];
    if (kind == "aten::neg") return l.out_static(0, num(-as_double(a), -as_int(a))), true;
    if (kind == "aten::sqrt") return l.out_static(0, std::sqrt(as_double(a))), true;
    if (kind == "aten::floor") return l.out_static(0, static_cast<int64_t>(std::floor(as_double(a)))), true;
    if (kind == "aten::ceil") return l.out_static(0, static_cast<int64_t>(std::ceil(as_double(a)))), true;
    if (kind == "aten::__not__") return l.out_static(0, !as_int(a)), true;
    return false;
  }
  const c10::IValue& a = v[0];
  const c10::IValue& b = v[1];
  const double x = as_double(a), y = as_double(b);
  const int64_t i = as_int(a), j = as_int(b);
  // add/sub with alpha
  double alpha = n == 3 && !v[2].isNone() ? as_double(v[2]) : 1.0;
  if (kind == "aten::add") return l.out_static(0, num(x + alpha * y, i + static_cast<int64_t>(alpha) * j)), true;
  if (kind == "aten::sub") return l.out_static(0, num(x - alpha * y, i - static_cast<int64_t>(alpha) * j)), true;
  if (kind == "aten::rsub") return l.out_static(0, num(y - alpha * x, j - static_cast<int64_t>(alpha) * i)), true;
  if (kind == "aten::mul") return l.out_static(0, num(x * y, i * j)), true;
  if (kind == "aten::div" && n == 2) return l.out_static(0, x / y), true;
  if (kind == "aten::floordiv" || kind == "aten::floor_divide" || (kind == "aten::div" && n == 3)) {
    if (ints) return l.out_static(0, floor_div(l, i, j)), true;
    return l.out_static(0, std::floor(x / y)), true;
  }
  if (kind == "aten::remainder" || kind == "aten::fmod") {
    if (ints) {
      if (j == 0) l.invalid("integer modulo by zero");
      int64_t r = i % j;
      if (kind == "aten::remainder" && r != 0 && ((r < 0) != (j < 0))) r += j;
      return l.out_static(0, r), true;
    }
    double r = std::fmod(x, y);
    if (kind == "aten::remainder" && r != 0 && ((r < 0) != (y < 0))) r += y;
    return l.out_static(0, r), true;
  }
  if (kind == "aten::pow") return l.out_static(0, num(std::pow(x, y), static_cast<int64_t>(std::llround(std::pow(x, y))))), true;
  if (kind == "prim::min" || kind == "aten::min") return l.out_static(0, num(std::min(x, y), std::min(i, j))), true;
  if (kind == "prim::max" || kind == "aten::max") return l.out_static(0, num(std::max(x, y), std::max(i, j))), true;
  if (kind == "aten::eq") return l.out_static(0, x == y), true;
  if (kind == "aten::ne") return l.out_static(0, x != y), true;
  if (kind == "aten::lt") return l.out_static(0, x < y), true;
  if (kind == "aten::le") return l.out_static(0, x <= y), true;
  if (kind == "aten::gt") return l.out_static(0, x > y), true;
  if (kind == "aten::ge") return l.out_static(0, x >= y), true;
  if (kind == "aten::__and__") return l.out_static(0, (i != 0) && (j != 0)), true;
  if (kind == "aten::__or__") return l.out_static(0, (i != 0) || (j != 0)), true;
  return false;
}

}  // namespace

bool eval_static(Lowering& l) {
  const std::string kind = l.kind();
  const size_t n = l.num_inputs();
  // Facts about tensors, known from their static shapes.
  if (kind == "aten::size" || kind == "prim::shape") {
    std::vector<int64_t> s = tensor_sizes(l, l.in(0));
    if (n >= 2 && !l.is_none(1)) {
      int64_t d = l.axis(l.int_arg(1), static_cast<int64_t>(s.size()));
      l.out_static(0, s[static_cast<size_t>(d)]);
    } else {
      l.out_static(0, c10::IValue(s));
    }
    return true;
  }
  if (kind == "aten::dim") return l.out_static(0, static_cast<int64_t>(tensor_sizes(l, l.in(0)).size())), true;
  if (kind == "aten::numel") {
    int64_t count = 1;
    for (int64_t d : tensor_sizes(l, l.in(0))) count *= d;
    return l.out_static(0, count), true;
  }
  if (kind == "prim::device") return l.out_static(0, c10::Device(c10::kCPU)), true;
  if (kind == "prim::Uninitialized") return l.out_static(0, c10::IValue()), true;
  if (kind == "aten::warn") return true;
  if (kind == "aten::__is__" || kind == "aten::__isnot__") {
    const bool a_none = l.is_none(0), b_none = l.is_none(1);
    if (!b_none) return false;
    return l.out_static(0, kind == "aten::__is__" ? a_none : !a_none), true;
  }
  if (kind == "prim::unchecked_cast") return l.out(0, l.in(0)), true;

  // Conversions between scalars and 0-d tensors of sizes.
  if (kind == "prim::NumToTensor" || kind == "aten::Int" || kind == "aten::Float" || kind == "aten::Bool" ||
      kind == "aten::ScalarImplicit" || kind == "aten::scalar_tensor" || kind == "aten::IntImplicit" ||
      kind == "aten::FloatImplicit") {
    c10::IValue v;
    if (!static_number(l.in(0), &v)) {
      if (kind == "prim::NumToTensor" || kind == "aten::scalar_tensor") return false;
      l.unsupported("reads a number from tensor data; pare needs it known at conversion");
    }
    if (kind == "aten::Int" || kind == "aten::IntImplicit") v = as_int(v);
    if (kind == "aten::Float" || kind == "aten::FloatImplicit") v = as_double(v);
    if (kind == "aten::Bool") v = as_int(v) != 0;
    return l.out_static(0, v), true;
  }
  // Lists of ints known now.
  if (kind == "aten::len") {
    const Entry& e = l.in(0);
    if (e.kind == Entry::kList) return l.out_static(0, static_cast<int64_t>(e.items.size())), true;
    if (e.kind == Entry::kStatic && e.value.isList()) return l.out_static(0, static_cast<int64_t>(e.value.toListRef().size())), true;
    return false;
  }
  if (kind == "aten::__getitem__" && l.in(0).kind == Entry::kStatic && l.in(0).value.isList()) {
    const auto& list = l.in(0).value.toListRef();
    int64_t i = l.int_arg(1);
    const int64_t size = static_cast<int64_t>(list.size());
    if (i < 0) i += size;
    if (i < 0 || i >= size) l.invalid("list index out of range");
    return l.out_static(0, list[static_cast<size_t>(i)]), true;
  }
  if (kind == "aten::add" && n == 2 && l.in(0).kind == Entry::kStatic && l.in(0).value.isIntList() &&
      l.in(1).kind == Entry::kStatic && l.in(1).value.isIntList()) {
    std::vector<int64_t> a = l.in(0).value.toIntVector(), b = l.in(1).value.toIntVector();
    a.insert(a.end(), b.begin(), b.end());
    return l.out_static(0, c10::IValue(a)), true;
  }
  if (kind == "aten::__range_length") {
    const int64_t lo = l.int_arg(0), hi = l.int_arg(1), step = l.int_arg(2);
    if (step == 0) l.invalid("range step is 0");
    int64_t len = step > 0 ? (hi > lo ? (hi - lo + step - 1) / step : 0) : (lo > hi ? (lo - hi - step - 1) / -step : 0);
    return l.out_static(0, len), true;
  }
  if (kind == "aten::__derive_index") return l.out_static(0, l.int_arg(1) + l.int_arg(0) * l.int_arg(2)), true;
  return eval_arith(l, kind);
}

}  // namespace pare::torchscript_import
