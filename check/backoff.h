// pare compress with quality budgets: build the student with the pipeline, check it against
// the teacher on the check data, and while a budget fails, relax layers one rung at a time,
// the most harmful per byte first, until the budgets hold (docs/ci.md, docs/report.md).
//
// A layer's ladder, in order: more palette bits (2, 3, 4, 5, 6, 8, then not clustered), a
// lower sparsity cap (halved, then dense), not factorized (lowrank), then float32 instead of
// int8. A relaxation is written into the pipeline as pass options (cluster layer_bits= and
// exclude=, prune layer_sparsity=, lowrank exclude=, quantize exclude=), so the pipeline
// stored in the file rebuilds it.
//
// A round: every layer relaxed alone one rung and measured with a cheap proxy (mean KL of
// the outputs on a spread subset of the check data, int8 calibrated on a subset; weight
// relaxations spliced into the float stage instead of rerunning the weight passes); the
// steps ranked by KL gain per byte; then prefixes of that ranking built in full and checked
// with the real metrics on all the check data: a first prefix guessed from the proxy,
// doubled until the budgets hold, then bisected down to the smallest prefix that holds
// (relaxations not needed are tightened back). When even the whole ranking fails, the next
// round starts from it. Deterministic: same inputs, same seed, same file.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "check/check.h"
#include "check/check_result.h"
#include "ir/graph.h"
#include "passes/pass.h"

namespace pare::check {

// How far up its ladder a layer has been relaxed (by source node name).
struct LayerRelaxation {
  int bits = 0;              // palette bits at least this (0: as the pipeline says)
  bool unclustered = false;  // left out of every cluster pass
  double sparsity_cap = -1;  // prune's sparsity capped to this (-1: no cap, 0: dense)
  bool unfactorized = false; // left out of lowrank
  bool float32 = false;      // left out of quantize
};
using RelaxationPlan = std::map<std::string, LayerRelaxation>;

// The pipeline with the plan written into the options of its cluster, prune, lowrank and
// quantize passes.
std::vector<passes::PipelineItem> apply_plan(const std::vector<passes::PipelineItem>& pipeline,
                                             const RelaxationPlan& plan);
// What the plan changed in one layer, for reports ("palette 2 -> 4 bits, float32"); "" when nothing.
std::string describe_relaxation(const LayerRelaxation& r);

// One build of the pipeline.
struct Build {
  std::string pipeline;   // as run (relaxations included)
  std::vector<uint8_t> bytes;
  std::vector<passes::PassReport> reports;
  ir::Graph float_stage;  // the graph before the first quantize (the whole result without one)
};

struct BackoffInput {
  ir::Graph source;  // the imported model, before the pipeline
  std::vector<passes::PipelineItem> pipeline;
  const passes::CalibrationData* calibration = nullptr;
  uint64_t seed = 0;
  ir::Graph teacher;       // the float reference (canonicalized source)
  const CheckData* data = nullptr;
  CheckOptions check;      // temperature, budgets, margin (and names for reports)
  bool search = true;      // false (--on-fail error): the pipeline as given, checked once
  // Writes a graph the pipeline left as a .pare image the runtime loads (the caller's writer).
  std::function<std::vector<uint8_t>(ir::Graph&, const std::string& pipeline)> serialize;
  std::function<void(const std::string& what, double fraction)> progress;  // may be empty
  std::function<void(const std::string& line)> log;                        // may be empty
};

struct BackoffResult {
  bool met = false;
  Build student;                  // the smallest build that holds, else the last one tried
  RelaxationPlan plan;            // of `student`
  std::vector<RelaxationStep> relaxations;  // kept in `student`, in the order taken
  int64_t first_bytes = 0;        // the pipeline as given
  std::vector<Budget> first_budgets;
  int rounds = 0;
  int builds = 0;                 // full builds checked on all the check data
  int proxies = 0;                // proxy builds measured
  double seconds = 0;
  std::string outcome;            // one sentence: how the search ended
};

// Throws pare::Error: kInvalidInput for bad input (a pipeline pass failing on the model
// keeps its code), kInternal otherwise.
BackoffResult compress_within_budget(const BackoffInput& input);

}  // namespace pare::check
