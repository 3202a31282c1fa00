// `pare check`: runs the teacher and the student on the same data and fills a CheckResult
// (check/check_result.h): whole-model metrics, budgets, per-layer errors.
#pragma once

#include <cstdint>
#include <cstring>
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
  std::vector<std::string> input_shapes;  // NAME:DIMS, fixing an .onnx teacher's symbolic dims
  std::string data;     // .npy, one row per sample (or .npz, one array per input name)
  std::string labels;   // .npy int64/int32, one per row; empty for none
  double temperature = 1;
  int64_t limit = 0;             // use only the first `limit` rows; 0: all
  std::vector<Budget> budgets;   // name and limit of each budget asked for, in order
  double margin = 0;             // standard errors kept between each estimate and its limit
};

// A model input check can feed: float32 or int64, static shape of batch 1.
struct CheckInput {
  std::string name;
  std::vector<int64_t> shape;
  ir::DType dtype = ir::DType::kFloat32;
};

// The check data: rows of each of the models' inputs (float32 or int64, as the input) and
// their labels.
struct CheckData {
  struct Input {
    size_t row_bytes = 0;
    std::vector<uint8_t> bytes;  // `count` rows back to back
  };
  std::vector<Input> inputs;  // in the models' input order
  int64_t count = 0;
  std::vector<int64_t> labels;  // one per row; empty without labels

  // Copies row `row` into each input of a runner or interpreter (input_data(i)).
  template <typename Runner>
  void feed(Runner& runner, size_t row) const {
    for (size_t i = 0; i < inputs.size(); ++i)
      std::memcpy(runner.input_data(i), inputs[i].bytes.data() + row * inputs[i].row_bytes, inputs[i].row_bytes);
  }
};

// Reads `data` and `labels` (may be empty), the first `limit` rows (0: all). `data`: a .npy
// of rows of the one input ([N, ...] for an input [1, ...]), or a .npz with one such array
// per input name. Float inputs take float32/float64 (finite), int64 inputs int64/int32.
// Throws pare::Error(kInvalidInput) naming the file and input for a shape or dtype that does
// not fit, a missing or unknown member, labels of the wrong length or dtype, non-finite
// values, no rows, inputs that disagree on the row count.
CheckData read_check_data(const std::string& data, const std::string& labels, const std::vector<CheckInput>& inputs,
                          int64_t limit);

// The teacher as check reads it: an .onnx or TorchScript file imported and canonicalized as
// `pare convert` does it, a .pare read back to a graph. `input_shapes` fix an .onnx teacher's
// symbolic dims and give a TorchScript teacher its shapes; kInvalidInput for a .pare teacher.
ir::Graph load_teacher(const std::string& path, const model_import::InputShapes& input_shapes = {});
// The inputs of a graph check can run (float32 or int64, static shapes of batch 1);
// kInvalidInput naming `path` otherwise.
std::vector<CheckInput> model_inputs(const ir::Graph& g, const std::string& path);

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
