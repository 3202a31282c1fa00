// pare check STUDENT.pare --teacher TEACHER.(onnx|pare) --data X.npy [--labels L.npy] [budgets]:
// compares a compressed model with its original on the same data (docs/report.md).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>

#include "check/check.h"
#include "check/check_html.h"
#include "check/check_json.h"
#include "ir/status.h"
#include "tools/budgets.h"
#include "tools/common.h"

namespace pare::cli {

namespace {

struct CheckArgs {
  check::CheckOptions options;
  BudgetFlags budgets;
  bool json = false;
  std::string html;  // --html: the report page, written after the check (exit 3 included)
};

void print_text(const check::CheckResult& r) {
  std::vector<std::string> failed;
  for (const check::Budget& b : r.budgets)
    if (!b.met) failed.push_back(b.name);
  if (r.budgets.empty())
    fmt::print("check: no budget given\n");
  else if (r.budgets_met)
    fmt::print("check: PASS, every budget holds\n");
  else
    fmt::print("check: FAIL, budget not met: {}\n", fmt::join(failed, ", "));
  for (const check::Budget& b : r.budgets) fmt::print("  {}\n", budget_line(b, r.margin));

  fmt::print("\nteacher      {} ({} bytes)\n", r.teacher, r.teacher_bytes);
  fmt::print("student      {} ({} bytes)\n", r.student, r.student_bytes);
  fmt::print("data         {} ({} samples)\n", r.data, r.samples);
  if (r.has_labels)
    fmt::print("top-1        teacher {:.2f}%  student {:.2f}%  drop {:.2f} points\n", r.teacher_top1,
               r.student_top1, r.top1_drop);
  fmt::print("agreement    {:.2f}% (same top-1 class)\n", r.agreement);
  fmt::print("KL           {:.5f} nats (teacher || student, temperature {:g})\n", r.kl, r.temperature);
  fmt::print("cosine       {:.5f}\n", r.cosine);
  fmt::print("SNR          {:.1f} dB\n", r.snr_db);

  std::vector<const check::LayerError*> worst;
  for (const check::LayerError& l : r.layers)
    if (l.aligned) worst.push_back(&l);
  std::stable_sort(worst.begin(), worst.end(),
                   [](const check::LayerError* a, const check::LayerError* b) { return a->snr_db < b->snr_db; });
  if (worst.size() > 5) worst.resize(5);
  fmt::print("\nlowest SNR layers\n");
  for (const check::LayerError* l : worst) fmt::print("  {:<40} {:>7.1f} dB  {}\n", l->node, l->snr_db, l->op);

  size_t name_w = 4, op_w = 2;
  for (const check::LayerError& l : r.layers) {
    name_w = std::max(name_w, l.node.size());
    op_w = std::max(op_w, l.op.size());
  }
  fmt::print("\nlayers (execution order)\n  {:<{}}  {:<{}}  {:>8}  {:>8}  {:<30} {:>10} {:>10}\n", "node", name_w, "op",
             op_w, "SNR dB", "cosine", "encoding", "stored", "dense");
  for (const check::LayerError& l : r.layers) {
    const std::string bytes =
        l.bytes_stored >= 0 ? fmt::format("{:<30} {:>10} {:>10}", l.encoding, l.bytes_stored, l.bytes_dense) : "";
    if (l.aligned)
      fmt::print("  {:<{}}  {:<{}}  {:>8.1f}  {:>8.5f}  {}\n", l.node, name_w, l.op, op_w, l.snr_db, l.cosine, bytes);
    else
      fmt::print("  {:<{}}  {:<{}}  not aligned: {}  {}\n", l.node, name_w, l.op, op_w, l.why_not_aligned, bytes);
  }
}

int run_check_command(CLI::App& cmd, CheckArgs& args) {
  args.options.budgets = budgets_given(cmd, args.budgets, !args.options.labels.empty());
  const check::CheckResult result = check::run_check(args.options);
  if (!args.html.empty()) check::write_html(result, args.html);
  if (args.json)
    fmt::print("{}\n", check::check_json(result).dump(2));
  else
    print_text(result);
  return result.budgets_met ? 0 : 3;
}

}  // namespace

Command add_check_command(CLI::App& root) {
  auto args = std::make_shared<CheckArgs>();
  CLI::App* cmd = root.add_subcommand(
      "check", "Compare a compressed model (student) with the original (teacher) on data: metrics, budgets, per-layer error");
  cmd->add_option("student", args->options.student, "The compressed .pare model")->required();
  cmd->add_option("--teacher", args->options.teacher,
                  "The original: .onnx (imported and canonicalized as pare convert does) or .pare")
      ->required();
  cmd->add_option("--data", args->options.data, "Inputs, one row per sample (.npy float32/float64), or .npz with one such array per input "
                  "name (int64 inputs: int64/int32)")->required();
  cmd->add_option("--labels", args->options.labels, "Labels, int64 or int32, one per row (.npy)");
  cmd->add_option("--input-shape", args->options.input_shapes,
                  "NAME:DIMS (e.g. input_ids:1x64), fixing a symbolic dim of an .onnx teacher's input as "
                  "pare convert does (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--temperature", args->options.temperature, "Softmax temperature of the KL divergence")
      ->capture_default_str();
  add_budget_options(*cmd, args->budgets);
  cmd->add_option("--limit", args->options.limit, "Use only the first N rows of the data (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", args->json, "Print one JSON object (docs/report.md) instead of text");
  cmd->add_option("--html", args->html, "Also write the report as one self-contained HTML page (docs/report.md)");
  cmd->footer("Exit codes: 0 every budget holds, 3 a budget fails, 2 bad input, 1 internal error.");
  return {cmd, [cmd, args] { return run_check_command(*cmd, *args); }};
}

}  // namespace pare::cli
