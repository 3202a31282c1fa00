// What `pare check` measures when it compares a compressed model (the student) with the
// original (the teacher) on the same data: whole-model metrics, the budgets asked for and
// whether they hold, and per-layer errors that say where the student's error enters.
// Written as JSON (docs/report.md) and as a self-contained HTML page.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pare::check {

// The JSON schema's version (docs/report.md): bumped when a field changes meaning or goes;
// fields are only ever added within a version.
constexpr int kCheckSchemaVersion = 1;

// One quality budget: its flag name as on the command line ("max-top1-drop",
// "min-agreement", "max-kl"), the limit asked for, the measured value, and whether it holds.
// With a margin of m standard errors (pare compress --margin) a budget holds when the value
// pushed m standard errors towards the limit still holds: `bound` is that value.
struct Budget {
  std::string name;
  double limit = 0;
  double value = 0;
  double se = 0;     // the value's standard error on the samples
  double bound = 0;  // value + margin * se (max- budgets) or value - margin * se (min-agreement)
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
  std::string relaxed;  // what pare compress's back-off changed in this layer; empty when nothing
};

// One rung one layer climbed in pare compress's back-off, as kept in the output.
struct RelaxationStep {
  std::string layer;  // source node name
  std::string kind;   // "bits", "sparsity", "lowrank", "int8"
  std::string from, to;
  int round = 0;
  int rank = 0;                // place in its round's ranking (1: the most harmful per byte)
  double proxy_kl_before = 0;  // the proxy (mean KL on a subset of the check data) before ...
  double proxy_kl_after = 0;   // ... and with this step alone
  int64_t bytes = 0;           // the file bytes the step alone added (proxy build)
};

// pare compress's search, for the report.
struct BackoffSummary {
  std::string outcome;         // one sentence: how the search ended
  std::string pipeline_given;  // before any relaxation
  std::string pipeline_run;    // of the student
  int64_t bytes_given = 0;     // the pipeline as given
  std::vector<Budget> budgets_given;
  std::vector<RelaxationStep> relaxations;  // kept in the student, in the order taken
  int rounds = 0, builds = 0, proxies = 0;  // full builds checked, proxy builds measured
  double seconds = 0;
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
  // Standard errors of the estimates over the samples (the spread to expect on other data of
  // the same size): top1_drop from the paired per-sample differences, agreement (percent)
  // binomial, kl of the mean.
  double top1_drop_se = 0, agreement_se = 0, kl_se = 0;
  double margin = 0;  // standard errors the budgets keep between the estimate and the limit

  std::vector<Budget> budgets;  // the ones given, in command-line order
  bool budgets_met = true;      // every budget holds (true when none is given)
  std::vector<LayerError> layers;  // in the student's execution order
  std::optional<BackoffSummary> backoff;  // pare compress with budgets
};

}  // namespace pare::check
