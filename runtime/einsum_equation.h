// An Einsum equation read against its operands' shapes, once for the IR's shape inference
// and the runtime's prepare (header-only: the IR uses it without linking the runtime).
// pare's forms: no ellipsis, no index repeated within one operand; the implicit output has
// the indices seen once, in alphabetical order.
#pragma once

#include <cctype>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pare {

struct EinsumEquation {
  std::vector<std::string> terms;  // one per operand
  std::string output;
  std::map<char, int64_t> sizes;   // every index's size
};

enum class EinsumParse { kOk, kBad, kUnsupported };

inline EinsumParse parse_einsum(const std::string& equation, const std::vector<std::vector<int64_t>>& shapes,
                                EinsumEquation* e, std::string* why) {
  auto fail = [&](EinsumParse kind, const std::string& message) {
    *why = "equation '" + equation + "': " + message;
    return kind;
  };
  std::string eq;
  for (char ch : equation)
    if (ch != ' ') eq += ch;
  if (eq.find('.') != std::string::npos) return fail(EinsumParse::kUnsupported, "ellipsis (...) is not supported");
  const size_t arrow = eq.find("->");
  e->terms.assign(1, "");
  for (char ch : eq.substr(0, arrow)) {
    if (ch == ',')
      e->terms.emplace_back();
    else
      e->terms.back() += ch;
  }
  if (e->terms.size() != shapes.size())
    return fail(EinsumParse::kBad, std::to_string(e->terms.size()) + " operands for " + std::to_string(shapes.size()) +
                                       " inputs");
  std::map<char, int> seen;
  e->sizes.clear();
  for (size_t k = 0; k < shapes.size(); ++k) {
    const std::string& term = e->terms[k];
    if (term.size() != shapes[k].size())
      return fail(EinsumParse::kBad, "operand " + std::to_string(k) + " '" + term + "' does not match its rank " +
                                         std::to_string(shapes[k].size()));
    for (size_t d = 0; d < term.size(); ++d) {
      const char l = term[d];
      if (!std::isalpha(static_cast<unsigned char>(l))) return fail(EinsumParse::kBad, std::string("'") + l + "' is not an index");
      if (term.find(l) != d) return fail(EinsumParse::kUnsupported, std::string("index '") + l + "' repeats within an operand");
      auto [it, fresh] = e->sizes.emplace(l, shapes[k][d]);
      if (!fresh && it->second != shapes[k][d])
        return fail(EinsumParse::kBad, std::string("index '") + l + "' has sizes " + std::to_string(it->second) +
                                           " and " + std::to_string(shapes[k][d]));
      ++seen[l];
    }
  }
  e->output.clear();
  if (arrow == std::string::npos) {
    for (const auto& [l, n] : seen)
      if (n == 1) e->output += l;
  } else {
    e->output = eq.substr(arrow + 2);
  }
  for (size_t d = 0; d < e->output.size(); ++d) {
    const char l = e->output[d];
    if (!e->sizes.count(l)) return fail(EinsumParse::kBad, std::string("output index '") + l + "' is in no operand");
    if (e->output.find(l) != d) return fail(EinsumParse::kBad, std::string("output index '") + l + "' repeats");
  }
  return EinsumParse::kOk;
}

}  // namespace pare
