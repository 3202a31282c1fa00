// What `pare check` measures when it compares a compressed model (the student) with the
// original (the teacher) on the same data: whole-model metrics, the budgets asked for and
// whether they hold, and per-layer errors that say where the student's error enters.
// Written as JSON (docs/report.md) and as a self-contained HTML page.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pare::check {

// The JSON schema's version (docs/report.md): bumped when a field changes meaning or goes;
// fields are only ever added within a version.
constexpr int kCheckSchemaVersion = 1;

// One quality budget: its flag name as on the command line ("max-top1-drop",
// "min-agreement", "max-kl"), the limit asked for, the measured value, and whether it holds.
struct Budget {
  std::string name;
  double limit = 0;
  double value = 0;
  bool met = true;
};

// One student layer (a node with an output tensor) against the teacher tensor it maps to.
struct LayerError {
  std::string node;            // the student node's source name
  std::string op;              // its op type
  std::string teacher_tensor;  // the teacher tensor it was aligned with; empty when not aligned
  bool aligned = false;
  std::string why_not_aligned;  // when !aligned: what prevented the mapping
  double snr_db = 0;            // 10 log10(|teacher|^2 / |teacher - student|^2) over the data
  double cosine = 0;
  // The layer's weight as stored in the student (when it has one): the writer's encoding
  // ("dense", "sparse_gaps", "palette3_per_row_int8_huffman", ...), bytes stored and the
  // float32 bytes of the same weight; -1 when the layer has no constant weight.
  std::string encoding;
  int64_t bytes_stored = -1;
  int64_t bytes_dense = -1;
};

struct CheckResult {
  int schema_version = kCheckSchemaVersion;
  std::string teacher;  // paths as given
  std::string student;
  std::string data;
  std::string labels;  // empty without labels
  int64_t samples = 0;
  double temperature = 1;
  int64_t teacher_bytes = 0;  // file sizes
  int64_t student_bytes = 0;

  // Whole-model metrics over the samples (the first output of each model).
  bool has_labels = false;
  double teacher_top1 = 0;  // percent, with labels
  double student_top1 = 0;
  double top1_drop = 0;     // points: teacher_top1 - student_top1
  double agreement = 0;     // percent of samples with the same top-1 class
  double kl = 0;            // mean KL(teacher || student) of softmax(logits / temperature), nats
  double cosine = 0;        // mean cosine of the output vectors
  double snr_db = 0;        // of the outputs, as for a layer

  std::vector<Budget> budgets;  // the ones given, in command-line order
  bool budgets_met = true;      // every budget holds (true when none is given)
  std::vector<LayerError> layers;  // in the student's execution order
};

}  // namespace pare::check
