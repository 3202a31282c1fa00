// `pare check`: runs the teacher and the student on the same data and fills a CheckResult
// (check/check_result.h): whole-model metrics, budgets, per-layer errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "check/check_result.h"

namespace pare::check {

struct CheckOptions {
  std::string student;  // a .pare file
  std::string teacher;  // an .onnx file (imported and canonicalized as `pare convert` does) or a .pare
  std::string data;     // .npy, one row per sample
  std::string labels;   // .npy int64/int32, one per row; empty for none
  double temperature = 1;
  int64_t limit = 0;             // use only the first `limit` rows; 0: all
  std::vector<Budget> budgets;   // name and limit of each budget asked for, in order
};

// Throws pare::Error: kInvalidInput naming the file for a bad model, data or labels file
// (missing, corrupt, a data shape a model does not take, labels of the wrong length or
// dtype, non-finite data, outputs of different shapes), kInternal otherwise.
CheckResult run_check(const CheckOptions& options);

// Fills each budget's measured value and whether it holds, and budgets_met:
// "max-top1-drop" (points), "min-agreement" (a fraction in [0, 1]), "max-kl" (nats).
void evaluate_budgets(CheckResult& result);

}  // namespace pare::check
