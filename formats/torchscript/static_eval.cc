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
// A double as an int64 (truncated, as int() does); out of range (or NaN) is a bad file.
int64_t to_int(Lowering& l, double d) {
  if (!(d > -9223372036854775808.0 - 1.0 && d < 9223372036854775808.0))
    l.invalid("the number " + std::to_string(d) + " does not fit an int64");
  return static_cast<int64_t>(d);
}
int64_t as_int(Lowering& l, const c10::IValue& v) {
  return v.isInt() ? v.toInt() : v.isBool() ? v.toBool() : to_int(l, v.toDouble());
}

int64_t floor_div(Lowering& l, int64_t a, int64_t b) {
  if (b == 0) l.invalid("integer division by zero");
  if (b == -1) return l.checked_sub(0, a);
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
  if (n == 1) {
    const c10::IValue& a = v[0];
    const double x = as_double(a);
    if (kind == "aten::neg") return l.out_static(0, ints ? c10::IValue(l.checked_sub(0, as_int(l, a))) : c10::IValue(-x)), true;
    if (kind == "aten::sqrt") return l.out_static(0, std::sqrt(x)), true;
    if (kind == "aten::floor") return l.out_static(0, to_int(l, std::floor(x))), true;
    if (kind == "aten::ceil") return l.out_static(0, to_int(l, std::ceil(x))), true;
    if (kind == "aten::__not__") return l.out_static(0, x == 0), true;
    return false;
  }
  const c10::IValue& a = v[0];
  const c10::IValue& b = v[1];
  const double x = as_double(a), y = as_double(b);
  // Integer results only when every input is an int (or bool); each is checked.
  const int64_t i = ints ? as_int(l, a) : 0, j = ints ? as_int(l, b) : 0;
  // add/sub with alpha
  const bool has_alpha = n == 3 && !v[2].isNone();
  const double alpha = has_alpha ? as_double(v[2]) : 1.0;
  const int64_t ialpha = ints && has_alpha ? as_int(l, v[2]) : 1;
  if (kind == "aten::add")
    return l.out_static(0, ints ? c10::IValue(l.checked_add(i, l.checked_mul(ialpha, j))) : c10::IValue(x + alpha * y)), true;
  if (kind == "aten::sub")
    return l.out_static(0, ints ? c10::IValue(l.checked_sub(i, l.checked_mul(ialpha, j))) : c10::IValue(x - alpha * y)), true;
  if (kind == "aten::rsub")
    return l.out_static(0, ints ? c10::IValue(l.checked_sub(j, l.checked_mul(ialpha, i))) : c10::IValue(y - alpha * x)), true;
  if (kind == "aten::mul") return l.out_static(0, ints ? c10::IValue(l.checked_mul(i, j)) : c10::IValue(x * y)), true;
  if (kind == "aten::div" && n == 2) return l.out_static(0, x / y), true;
  if (kind == "aten::floordiv" || kind == "aten::floor_divide" || (kind == "aten::div" && n == 3)) {
    if (ints) return l.out_static(0, floor_div(l, i, j)), true;
    return l.out_static(0, std::floor(x / y)), true;
  }
  if (kind == "aten::remainder" || kind == "aten::fmod") {
    if (ints) {
      if (j == 0) l.invalid("integer modulo by zero");
      int64_t r = j == -1 ? 0 : i % j;
      if (kind == "aten::remainder" && r != 0 && ((r < 0) != (j < 0))) r += j;
      return l.out_static(0, r), true;
    }
    double r = std::fmod(x, y);
    if (kind == "aten::remainder" && r != 0 && ((r < 0) != (y < 0))) r += y;
    return l.out_static(0, r), true;
  }
  if (kind == "aten::pow") {
    const double p = std::pow(x, y);
    return l.out_static(0, ints ? c10::IValue(to_int(l, std::round(p))) : c10::IValue(p)), true;
  }
  if (kind == "prim::min" || kind == "aten::min") return l.out_static(0, ints ? c10::IValue(std::min(i, j)) : c10::IValue(std::min(x, y))), true;
  if (kind == "prim::max" || kind == "aten::max") return l.out_static(0, ints ? c10::IValue(std::max(i, j)) : c10::IValue(std::max(x, y))), true;
  if (kind == "aten::eq") return l.out_static(0, x == y), true;
  if (kind == "aten::ne") return l.out_static(0, x != y), true;
  if (kind == "aten::lt") return l.out_static(0, x < y), true;
  if (kind == "aten::le") return l.out_static(0, x <= y), true;
  if (kind == "aten::gt") return l.out_static(0, x > y), true;
  if (kind == "aten::ge") return l.out_static(0, x >= y), true;
  if (kind == "aten::__and__") return l.out_static(0, (x != 0) && (y != 0)), true;
  if (kind == "aten::__or__") return l.out_static(0, (x != 0) || (y != 0)), true;
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
      const int64_t d = l.axis(l.int_arg(1), static_cast<int64_t>(s.size()));
      if (d >= static_cast<int64_t>(s.size())) l.invalid("a 0-d tensor has no dim " + std::to_string(d));
      l.out_static(0, s[static_cast<size_t>(d)]);
    } else {
      l.out_static(0, c10::IValue(s));
    }
    return true;
  }
  if (kind == "aten::dim") return l.out_static(0, static_cast<int64_t>(tensor_sizes(l, l.in(0)).size())), true;
  if (kind == "aten::numel") {
    int64_t count = 1;
    for (int64_t d : tensor_sizes(l, l.in(0))) count = l.checked_mul(count, d);
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
    if (kind == "aten::Int" || kind == "aten::IntImplicit") v = as_int(l, v);
    if (kind == "aten::Float" || kind == "aten::FloatImplicit") v = as_double(v);
    if (kind == "aten::Bool") v = as_double(v) != 0;
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
    // ceil((hi - lo) / step) in 128 bits: no int64 sum overflows on extreme bounds.
    const __int128 span = step > 0 ? static_cast<__int128>(hi) - lo : static_cast<__int128>(lo) - hi;
    const __int128 len = span <= 0 ? 0 : (span - 1) / (step > 0 ? static_cast<__int128>(step) : -static_cast<__int128>(step)) + 1;
    return l.out_static(0, static_cast<int64_t>(len)), true;
  }
  if (kind == "aten::__derive_index")
    return l.out_static(0, l.checked_add(l.int_arg(1), l.checked_mul(l.int_arg(0), l.int_arg(2)))), true;
  return eval_arith(l, kind);
}

}  // namespace pare::torchscript_import
