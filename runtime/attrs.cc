#include "runtime/attrs.h"

namespace pare::rt {

const Attribute* Attrs::find(const std::string& name) const {
  for (const Attribute& a : attrs_)
    if (a.name == name) return &a;
  return nullptr;
}

int64_t Attrs::get_int(const std::string& name, int64_t dflt) const {
  const Attribute* a = find(name);
  return a && a->type == Attribute::kInt ? a->i : dflt;
}

float Attrs::get_float(const std::string& name, float dflt) const {
  const Attribute* a = find(name);
  return a && a->type == Attribute::kFloat ? a->f : dflt;
}

std::string Attrs::get_string(const std::string& name, const std::string& dflt) const {
  const Attribute* a = find(name);
  return a && a->type == Attribute::kString ? a->s : dflt;
}

std::vector<int64_t> Attrs::get_ints(const std::string& name, const std::vector<int64_t>& dflt) const {
  const Attribute* a = find(name);
  return a && a->type == Attribute::kInts ? a->ints : dflt;
}

std::vector<float> Attrs::get_floats(const std::string& name, const std::vector<float>& dflt) const {
  const Attribute* a = find(name);
  return a && a->type == Attribute::kFloats ? a->floats : dflt;
}

}  // namespace pare::rt
