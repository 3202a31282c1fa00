#include "tools/budgets.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "ir/status.h"

namespace pare::cli {

void add_budget_options(CLI::App& cmd, BudgetFlags& flags) {
  cmd.add_option("--max-top1-drop", flags.max_top1_drop,
                 "Budget: top-1 accuracy may drop at most this many points (needs --labels)");
  cmd.add_option("--min-agreement", flags.min_agreement,
                 "Budget: the top-1 classes agree on at least this fraction of samples, in [0, 1] (0.99 = 99%)");
  cmd.add_option("--max-kl", flags.max_kl, "Budget: mean KL(teacher || student) at most this many nats");
}

std::vector<check::Budget> budgets_given(CLI::App& cmd, const BudgetFlags& flags, bool has_labels) {
  std::vector<check::Budget> budgets;
  for (const CLI::Option* opt : cmd.parse_order()) {
    const std::string name = opt->get_name(false, true).substr(2);  // "--max-kl" -> "max-kl"
    const double limit = name == "max-top1-drop" ? flags.max_top1_drop
                         : name == "min-agreement" ? flags.min_agreement
                         : name == "max-kl"        ? flags.max_kl
                                                   : NAN;
    const bool seen = std::any_of(budgets.begin(), budgets.end(), [&](const check::Budget& b) { return b.name == name; });
    if (std::isnan(limit) || seen) continue;
    check::Budget b;
    b.name = name;
    b.limit = limit;
    budgets.push_back(b);
  }
  for (const check::Budget& b : budgets) {
    if (!std::isfinite(b.limit)) throw_invalid(fmt::format("--{} must be a finite number", b.name));
    if (b.name == "max-top1-drop" && !has_labels)
      throw_invalid("--max-top1-drop needs --labels (top-1 accuracy is measured against labels)");
    if (b.name == "min-agreement" && (b.limit < 0 || b.limit > 1))
      throw_invalid(fmt::format("--min-agreement is a fraction in [0, 1] (0.99 for 99%), got {}", b.limit));
    if (b.name == "max-kl" && b.limit < 0) throw_invalid("--max-kl must be at least 0 (nats)");
  }
  return budgets;
}

std::string budget_line(const check::Budget& b, double margin) {
  const char* unit = b.name == "max-top1-drop" ? " points" : b.name == "max-kl" ? " nats" : "";
  const double shown = margin > 0 ? b.bound : b.value;
  const char* op = b.name == "min-agreement" ? (b.met ? ">=" : "<") : (b.met ? "<=" : ">");
  std::string line = fmt::format("{:<14} {:.4g}{} {} {:.4g}{}  {}", b.name, shown, unit, op, b.limit, unit,
                                 b.met ? "ok" : "FAILED");
  if (margin > 0)
    line += fmt::format("  (measured {:.4g}, {} {:g} standard errors of {:.3g})", b.value,
                        b.name == "min-agreement" ? "less" : "plus", margin, b.se);
  return line;
}

}  // namespace pare::cli
