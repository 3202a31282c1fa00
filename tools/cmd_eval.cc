// pare eval MODEL.pare --data X.npy|X.npz --labels L.npy: top-1 accuracy of the first output.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "check/labelled_data.h"
#include "ir/status.h"
#include "tools/common.h"

namespace pare::cli {

namespace {

struct EvalArgs {
  std::string model;
  std::vector<std::string> data;
  std::string labels;
  bool json = false;
  int threads = 1;
  std::string max_memory;  // --max-memory
};

template <typename T>
std::vector<int64_t> argmax_rows(const T* values, int64_t rows, int64_t per_row) {
  std::vector<int64_t> out(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = values + r * per_row;
    int64_t best = 0;
    for (int64_t c = 1; c < per_row; ++c)
      if (row[c] > row[best]) best = c;
    out[static_cast<size_t>(r)] = best;
  }
  return out;
}

std::vector<int64_t> argmax_rows(const npy::Array& a, int64_t rows, int64_t per_row) {
  switch (a.type) {
    case npy::ElemType::kFloat32:
      return argmax_rows(a.as<float>(), rows, per_row);
    case npy::ElemType::kFloat64:
      return argmax_rows(a.as<double>(), rows, per_row);
    case npy::ElemType::kInt64:
      return argmax_rows(a.as<int64_t>(), rows, per_row);
    case npy::ElemType::kInt32:
      return argmax_rows(a.as<int32_t>(), rows, per_row);
    case npy::ElemType::kUInt8:
      return argmax_rows(a.as<uint8_t>(), rows, per_row);
    case npy::ElemType::kInt8:
      return argmax_rows(a.as<int8_t>(), rows, per_row);
    case npy::ElemType::kBool:
      return argmax_rows(a.as<uint8_t>(), rows, per_row);
  }
  throw_internal("argmax: unknown element type");
}

int run_eval(const EvalArgs& args) {
  std::shared_ptr<const rt::Model> model = load_model(args.model);
  std::unique_ptr<rt::Interpreter> interp = make_interpreter(model, args.model, args.threads, max_memory_bytes(args.max_memory));
  std::vector<int64_t> labels = check::read_labels(args.labels);
  std::vector<InputArray> inputs = bind_inputs(*interp, args.model, args.data, "--data");
  const npy::Array& first = inputs[0].array;
  int64_t rows = first.shape.empty() ? 1 : first.shape[0];
  check::require_label_count(labels, args.labels, rows, inputs[0].source);
  if (rows == 0) throw_invalid(fmt::format("{} has no rows to evaluate", inputs[0].source));
  // An accuracy over rows the model cannot score means nothing (check refuses them too).
  for (const InputArray& in : inputs)
    if (in.array.type == npy::ElemType::kFloat32 && in.array.size() != 0)
      check::require_finite_rows(in.array.as<float>(), in.array.size(), in.array.size() / static_cast<size_t>(rows),
                                 in.source);

  const std::string inputs_source = inputs[0].source;
  std::vector<npy::Array> outputs = run_rows(*interp, std::move(inputs));
  const npy::Array& scores = outputs[0];
  if (scores.size() % rows != 0 || scores.size() == 0)
    throw_invalid(fmt::format("{}: output '{}' of shape {} does not split into {} rows of scores",
                              args.model, interp->output(0).name, rt::shape_str(scores.shape),
                              rows));
  const int64_t classes = static_cast<int64_t>(scores.size()) / rows;
  check::require_labels_in_range(labels, classes, args.labels);
  if (scores.type == npy::ElemType::kFloat32)
    check::require_finite_outputs(scores.as<float>(), scores.size(), static_cast<size_t>(classes), 0, inputs_source,
                                  "the output '" + interp->output(0).name + "' of " + args.model, "the model");
  std::vector<int64_t> predicted = argmax_rows(scores, rows, classes);
  int64_t correct = 0;
  for (size_t r = 0; r < labels.size(); ++r) correct += predicted[r] == labels[r];
  double top1 = static_cast<double>(correct) / static_cast<double>(rows);

  if (args.json) {
    nlohmann::json j = {
        {"top1", top1}, {"count", rows}, {"correct", correct}, {"model", args.model}};
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("top-1: {:.4f} ({}/{})\n", top1, correct, rows);
  }
  return 0;
}

}  // namespace

Command add_eval_command(CLI::App& root) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd =
      root.add_subcommand("eval", "Top-1 accuracy of a .pare classifier on labelled data");
  cmd->add_option("model", args->model, "The .pare model")->required();
  cmd->add_option("-d,--data", args->data,
                  "Inputs, one row per example: FILE.npy (models with one input), NAME=FILE.npy "
                  "(repeatable) or FILE.npz with one array per input name; int64 inputs take "
                  "int64 or int32 arrays")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("-l,--labels", args->labels, "Labels, int64 or int32, one per row (.npy)")
      ->required();
  cmd->add_flag("--json", args->json, "Print one JSON object: top1, count, correct, model");
  cmd->add_option("-t,--threads", args->threads, "Threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  add_max_memory_option(cmd, &args->max_memory);
  return {cmd, [args] { return run_eval(*args); }};
}

}  // namespace pare::cli
