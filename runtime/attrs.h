// Node attributes as the runtime reads them at prepare time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pare::rt {

struct Attribute {
  enum Type : int32_t { kInt = 0, kFloat = 1, kString = 2, kInts = 3, kFloats = 4 };
  std::string name;
  Type type = kInt;
  int64_t i = 0;
  float f = 0.f;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
};

class Attrs {
 public:
  void add(Attribute a) { attrs_.push_back(std::move(a)); }
  const Attribute* find(const std::string& name) const;
  bool has(const std::string& name) const { return find(name) != nullptr; }
  // Getters return the default when the attribute is absent or of another type.
  int64_t get_int(const std::string& name, int64_t dflt) const;
  float get_float(const std::string& name, float dflt) const;
  std::string get_string(const std::string& name, const std::string& dflt) const;
  std::vector<int64_t> get_ints(const std::string& name, const std::vector<int64_t>& dflt = {}) const;
  std::vector<float> get_floats(const std::string& name, const std::vector<float>& dflt = {}) const;
  const std::vector<Attribute>& all() const { return attrs_; }

 private:
  std::vector<Attribute> attrs_;
};

}  // namespace pare::rt
