// The quality budget flags pare check and pare compress share: --max-top1-drop,
// --min-agreement, --max-kl (docs/report.md), read in command-line order and validated.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "check/check_result.h"

namespace pare::cli {

struct BudgetFlags {
  double max_top1_drop = 0, min_agreement = 0, max_kl = 0;
};

// Adds the three budget options to `cmd`.
void add_budget_options(CLI::App& cmd, BudgetFlags& flags);
// The budgets given, in command-line order. Throws pare::Error(kInvalidInput) for a limit
// out of range, or --max-top1-drop without labels.
std::vector<check::Budget> budgets_given(CLI::App& cmd, const BudgetFlags& flags, bool has_labels);
// "max-top1-drop  0.45 points <= 1 points  ok" (with the bound when a margin is kept).
std::string budget_line(const check::Budget& b, double margin);

}  // namespace pare::cli
