// `pare check`: runs the teacher and the student on the same data and fills a CheckResult
// (check/check_result.h): whole-model metrics, budgets, per-layer errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "check/check_result.h"
#include "formats/import/model_import.h"
#include "ir/graph.h"

namespace pare::rt {
class Model;
}

namespace pare::check {

struct CheckOptions {
  std::string student;  // a .pare file
  std::string teacher;  // an .onnx file (imported and canonicalized as `pare convert` does) or a .pare
  std::string data;     // .npy, one row per sample
  std::string labels;   // .npy int64/int32, one per row; empty for none
  double temperature = 1;
  int64_t limit = 0;             // use only the first `limit` rows; 0: all
  std::vector<Budget> budgets;   // name and limit of each budget asked for, in order
  double margin = 0;             // standard errors kept between each estimate and its limit
};

// The check data: float32 rows of the models' input and their labels.
struct CheckData {
  std::vector<float> rows;
  int64_t count = 0;
  std::vector<int64_t> labels;  // one per row; empty without labels
};

// Reads `data` (.npy, rows of `input` = [1, ...]) and `labels` (may be empty), the first
// `limit` rows (0: all). Throws pare::Error(kInvalidInput) naming the file for a shape that
// does not fit, labels of the wrong length or dtype, non-finite values, no rows.
CheckData read_check_data(const std::string& data, const std::string& labels, const std::vector<int64_t>& input,
                          int64_t limit);

// The teacher as check reads it: an .onnx or TorchScript file imported and canonicalized as
// `pare convert` does it (TorchScript needs `input_shapes`), a .pare read back to a graph.
ir::Graph load_teacher(const std::string& path, const model_import::InputShapes& input_shapes = {});
// The input shape of a graph check can run (one float32 input of static shape, batch 1);
// kInvalidInput naming `path` otherwise.
std::vector<int64_t> single_input(const ir::Graph& g, const std::string& path);

// Throws pare::Error: kInvalidInput naming the file for a bad model, data or labels file
// (missing, corrupt, a data shape a model does not take, labels of the wrong length or
// dtype, non-finite data, outputs of different shapes), kInternal otherwise.
CheckResult run_check(const CheckOptions& options);
// The same on a teacher graph and a loaded student (the names in `options` only label the
// result; teacher_bytes and student_bytes are left 0).
CheckResult run_check(const ir::Graph& teacher, const rt::Model& student, const CheckData& data,
                      const CheckOptions& options);

// Fills each budget's measured value, standard error and bound (r.margin standard errors
// towards the limit), whether the bound holds, and budgets_met:
// "max-top1-drop" (points), "min-agreement" (a fraction in [0, 1]), "max-kl" (nats).
void evaluate_budgets(CheckResult& result);

}  // namespace pare::check
