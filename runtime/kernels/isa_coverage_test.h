// Which ISAs a kernel family's test ran, in the test log. A family's test.cc sweeps every
// variant usable on this CPU and leaves out the others; this header adds one test per ISA
// among the family's variants built into the binary, <family>/IsaCoverage.Runs/<isa>, which
// passes when the sweeps ran that ISA's variants and is skipped, naming the ISA and the
// variants, when they could not run here. Include it from a family's test.cc only (it
// defines a test) and instantiate it with PARE_ISA_COVERAGE:
//
//   PARE_ISA_COVERAGE(qgemm, isa_coverage::cases(qgemm_variants, [](const QGemmVariant& v) { return v.name; }));
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/cpu.h"

namespace pare::rt::kernels::isa_coverage {

struct Case {
  Isa isa = Isa::kScalar;
  std::string variants;  // the family's variants of this ISA, space-separated
  bool capped = false;   // the family's sweeps also leave out ISAs above the PARE_ISA cap
};

// One case per ISA among the variants of `table` (a family's `*_variants(size_t*)`), in table
// order; `name` gives a variant's name. `capped`: the sweeps use isa_usable(isa, best_isa()).
template <typename V, typename Name>
std::vector<Case> cases(const V* (*table)(size_t*), Name name, bool capped = false) {
  size_t count = 0;
  const V* all = table(&count);
  std::vector<Case> out;
  for (size_t i = 0; i < count; ++i) {
    Case* c = nullptr;
    for (Case& existing : out)
      if (existing.isa == all[i].isa) c = &existing;
    if (!c) {
      out.push_back(Case{all[i].isa, "", capped});
      c = &out.back();
    }
    c->variants += (c->variants.empty() ? "" : " ") + std::string(name(all[i]));
  }
  return out;
}

// Why the sweeps do not run the case's variants here; empty when they do.
inline std::string not_run_reason(const Case& c) {
  if (!isa_usable(c.isa, c.isa)) return std::string(isa_name(c.isa)) + " not available on this CPU";
  if (c.capped && !isa_usable(c.isa, best_isa())) {
    const char* cap = std::getenv("PARE_ISA");
    return std::string(isa_name(c.isa)) + " above the ISA cap PARE_ISA=" + (cap ? cap : "");
  }
  return "";
}

class IsaCoverage : public ::testing::TestWithParam<Case> {};

inline std::string case_name(const ::testing::TestParamInfo<Case>& info) { return isa_name(info.param.isa); }

TEST_P(IsaCoverage, Runs) {
  const Case& c = GetParam();
  const std::string why = not_run_reason(c);
  if (!why.empty()) GTEST_SKIP() << why << ": not tested: " << c.variants;
  std::printf("%s: tested: %s\n", isa_name(c.isa), c.variants.c_str());
}

}  // namespace pare::rt::kernels::isa_coverage

// One IsaCoverage test per ISA of `cases` (isa_coverage::cases(...)), under the name `family`.
#define PARE_ISA_COVERAGE(family, cases)                       \
  using ::pare::rt::kernels::isa_coverage::IsaCoverage;        \
  INSTANTIATE_TEST_SUITE_P(family, IsaCoverage, ::testing::ValuesIn(cases), \
                           ::pare::rt::kernels::isa_coverage::case_name)
