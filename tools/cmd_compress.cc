// pare compress IN.onnx -o OUT.pare --calib DATA [--passes PIPELINE] [--report R.json]
//   [--check-data X [--labels L] [budgets] [--on-fail error|backoff] [--html R.html]]:
// import, canonicalize, compress (int8 by default) with calibration data, write, report; with
// check data, check the student against the input model and hold it to the budgets, backing
// off layer by layer until they hold (check/backoff.h).
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "calibration/dataset.h"
#include "check/backoff.h"
#include "check/check.h"
#include "check/check_html.h"
#include "check/check_json.h"
#include "formats/pare/writer.h"
#include "ir/status.h"
#include "passes/pass.h"
#include "runtime/model.h"
#include "tools/budgets.h"
#include "tools/common.h"

namespace pare::cli {

namespace {

// The default compression: canonicalize, then int8.
constexpr const char* kCompressPipeline =
    "fold,fold_batchnorm,fuse_activation,fuse_layernorm,remove_identity,nhwc,dce,quantize,dce";

// Without --passes, a budget asks for the smallest model that fits: back-off starts from this
// aggressive preset (docs/ci.md): low rank where it saves weights, palettes of 3 bits, 2 bits
// in layers of 20,000 weights and more, int8.
constexpr const char* kSmallestPipeline =
    "fold,fold_batchnorm,fuse_activation,fuse_layernorm,remove_identity,lowrank,cluster(bits=3),"
    "cluster(bits=2,min_params=20000),nhwc,dce,quantize,dce";

struct CompressArgs {
  std::string input;
  std::string output;
  std::string calib;
  std::string report;
  std::vector<std::string> input_shapes;
  std::vector<std::string> input_types;
  std::string pipeline = kCompressPipeline;
  // Image folders.
  std::string resize, mean, std, layout = "NCHW";
  bool grayscale = false;
  bool keep_names = false;
  bool quiet = false;
  size_t max_samples = 0;
  uint64_t seed = 0;
  bool pipeline_given = false;
  // Budgets.
  std::string check_data, labels, html;
  BudgetFlags budgets;
  std::string on_fail;  // empty: backoff when a budget is given
  double margin = 1;
  double temperature = 1;
};

// The dataset as the passes see it: one float array per graph input and sample.
class DatasetSource final : public passes::CalibrationData {
 public:
  explicit DatasetSource(const calib::Dataset& d) : d_(d) {}
  size_t size() const override { return d_.size(); }
  void fill(size_t sample, size_t input, float* out, size_t count) const override {
    d_.fill(sample, input, out, count);
  }
  void fill_int64(size_t sample, size_t input, int64_t* out, size_t count) const override {
    d_.fill_int64(sample, input, out, count);
  }

 private:
  const calib::Dataset& d_;
};

std::vector<float> parse_floats(const std::string& text, const char* option) {
  std::vector<float> v;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    try {
      size_t used = 0;
      const std::string item = text.substr(pos, end - pos);
      v.push_back(std::stof(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw_invalid(fmt::format("{}: '{}' is not a comma-separated list of numbers", option, text));
    }
    pos = end + 1;
  }
  return v;
}

// A progress bar on stderr when stdout and stderr are a terminal; nothing otherwise (CI logs
// stay clean) or with --quiet.
class Progress {
 public:
  explicit Progress(bool quiet)
      : tty_(!quiet && isatty(fileno(stdout)) != 0 && isatty(fileno(stderr)) != 0) {}
  ~Progress() { done(); }
  void update(const std::string& what, double fraction) {
    if (!tty_) return;
    const int width = 30, filled = static_cast<int>(fraction * width + 0.5);
    fmt::print(stderr, "\r{:<22} [{}{}] {:3.0f}%", what, std::string(filled, '#'),
               std::string(width - filled, ' '), fraction * 100);
    std::fflush(stderr);
    shown_ = true;
  }
  void done() {
    if (shown_) fmt::print(stderr, "\r{:80}\r", "");
    shown_ = false;
  }
  // A line that stays (a back-off step), above the bar.
  void line(const std::string& text) {
    if (!tty_) return;
    done();
    fmt::print(stderr, "{}\n", text);
  }

 private:
  bool tty_;
  bool shown_ = false;
};

// The prune_channels section: MACs before and after, and each channel group's decision.
nlohmann::json prune_channels_json(const passes::PassReport& r) {
  const passes::ChannelPruneReport& p = *r.channel_prune;
  nlohmann::json groups = nlohmann::json::array();
  for (const passes::ChannelGroupReport& g : p.groups) {
    nlohmann::json e = {{"layers", g.layers}, {"channels_before", g.channels_before},
                        {"channels_after", g.channels_after}};
    if (!g.left_alone.empty()) e["left_alone"] = g.left_alone;
    groups.push_back(std::move(e));
  }
  return {{"macs_before", p.macs_before}, {"macs_after", p.macs_after},
          {"bias_compensated", p.bias_compensated}, {"update", p.update}, {"update_seconds", p.update_seconds},
          {"groups", groups}};
}

// The prune pass's part of the report: per layer its sparsity and bytes, and the decisions.
nlohmann::json prune_report_json(const passes::PassReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const passes::PruneLayerReport& l : r.prune_layers)
    layers.push_back({{"node", l.node}, {"op", l.op}, {"params", l.params}, {"zeros_before", l.zeros_before},
                      {"zeros_after", l.zeros_after}, {"sparsity", l.sparsity},
                      {"target_sparsity", l.target_sparsity}, {"bytes_before", l.bytes_before},
                      {"bytes_after", l.bytes_after}, {"decision", l.decision}});
  return {{"layers", layers}, {"decisions", r.notes}};
}

void print_prune_report(const nlohmann::json& prune) {
  const nlohmann::json& layers = prune["layers"];
  fmt::print("  pruned layers  (sparsity of each weight; bytes as float32, dense -> as stored)\n");
  fmt::print("    {:<40} {:<6} {:>9} {:>8} {:>10} {:>10}  {}\n", "node", "op", "weights", "sparsity", "bytes",
             "stored", "decision");
  for (const auto& l : layers) {
    std::string node = l["node"].get<std::string>();
    if (node.size() > 40) node = "..." + node.substr(node.size() - 37);
    fmt::print("    {:<40} {:<6} {:>9} {:>8.3f} {:>10} {:>10}  {}\n", node, l["op"].get<std::string>(),
               l["params"].get<int64_t>(), l["sparsity"].get<double>(), l["bytes_before"].get<size_t>(),
               l["bytes_after"].get<size_t>(), l["decision"].get<std::string>());
  }
  for (const auto& d : prune["decisions"]) fmt::print("    {}\n", d.get<std::string>());
}

// The cluster pass's part of the report: per layer its bits, tables, distinct values and
// weight error, and the decisions.
nlohmann::json cluster_report_json(const passes::PassReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const passes::ClusterLayerReport& l : r.cluster_layers)
    layers.push_back({{"node", l.node}, {"op", l.op}, {"params", l.params}, {"bits", l.bits}, {"per", l.per},
                      {"tables", l.tables}, {"max_distinct", l.max_distinct},
                      {"relative_error", l.relative_error}, {"decision", l.decision}});
  return {{"layers", layers}, {"decisions", r.notes}};
}

void print_cluster_report(const nlohmann::json& cluster) {
  fmt::print("  clustered layers  (most distinct values of a table; relative error of the weights)\n");
  fmt::print("    {:<40} {:<6} {:>9} {:>4} {:<7} {:>7} {:>8} {:>9}  {}\n", "node", "op", "weights", "bits", "per",
             "tables", "distinct", "error", "decision");
  for (const auto& l : cluster["layers"]) {
    std::string node = l["node"].get<std::string>();
    if (node.size() > 40) node = "..." + node.substr(node.size() - 37);
    fmt::print("    {:<40} {:<6} {:>9} {:>4} {:<7} {:>7} {:>8} {:>9.2e}  {}\n", node, l["op"].get<std::string>(),
               l["params"].get<int64_t>(), l["bits"].get<int>(), l["per"].get<std::string>(),
               l["tables"].get<int64_t>(), l["max_distinct"].get<int>(), l["relative_error"].get<double>(),
               l["decision"].get<std::string>());
  }
  for (const auto& d : cluster["decisions"]) fmt::print("    {}\n", d.get<std::string>());
}

// The lowrank pass's part of the report: every candidate layer with its ranks and savings, or
// why it was left alone.
nlohmann::json lowrank_report_json(const passes::PassReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const passes::LowrankLayerReport& l : r.lowrank_layers) {
    nlohmann::json e = {{"node", l.node}, {"op", l.op}, {"params_before", l.params_before},
                        {"macs_before", l.macs_before}, {"full_rank", l.full_rank}};
    if (l.output_error >= 0) e["output_error"] = l.output_error;
    if (!l.skipped.empty()) {
      e["skipped"] = l.skipped;
    } else {
      e.update({{"form", l.form}, {"rank", l.rank}, {"energy_kept", l.energy_kept},
                {"params_after", l.params_after}, {"macs_after", l.macs_after}});
      if (l.form == "tucker2") e["rank_out"] = l.rank_out;
    }
    layers.push_back(std::move(e));
  }
  return {{"layers", layers}, {"decisions", r.notes}};
}

void print_lowrank_report(const nlohmann::json& lowrank) {
  fmt::print("  lowrank layers  (rank of full; tucker2: input/output channel ranks; output error on calibration)\n");
  fmt::print("    {:<40} {:<6} {:>11} {:>7} {:>9} {:>9}  {}\n", "node", "op", "rank", "energy", "weights", "MACs",
             "output error / skipped");
  for (const auto& l : lowrank["layers"]) {
    std::string node = l["node"].get<std::string>();
    if (node.size() > 40) node = "..." + node.substr(node.size() - 37);
    const std::string error = l.contains("output_error") ? fmt::format("{:.2e}", l["output_error"].get<double>()) : "";
    if (l.contains("skipped")) {
      fmt::print("    {:<40} {:<6} {:>11} {:>7} {:>9} {:>9}  skipped: {}\n", node, l["op"].get<std::string>(), "", "", "",
                 "", l["skipped"].get<std::string>());
      continue;
    }
    const std::string rank = l["form"] == "tucker2"
                                 ? fmt::format("{}/{}", l["rank"].get<int64_t>(), l["rank_out"].get<int64_t>())
                                 : fmt::format("{}/{}", l["rank"].get<int64_t>(), l["full_rank"].get<int64_t>());
    auto ratio = [&l](const char* after, const char* before) {
      return fmt::format("{:.2f}x", static_cast<double>(l[after].get<int64_t>()) / std::max<int64_t>(1, l[before].get<int64_t>()));
    };
    fmt::print("    {:<40} {:<6} {:>11} {:>7.3f} {:>9} {:>9}  {}\n", node, l["op"].get<std::string>(), rank,
               l["energy_kept"].get<double>(), ratio("params_after", "params_before"), ratio("macs_after", "macs_before"),
               error);
  }
  for (const auto& d : lowrank["decisions"]) fmt::print("    {}\n", d.get<std::string>());
}

nlohmann::json report_json(const std::vector<passes::PassReport>& reports, const std::string& pipeline,
                           size_t onnx_bytes, size_t pare_bytes, size_t samples) {
  nlohmann::json j;
  j["schema_version"] = check::kCheckSchemaVersion;  // docs/report.md: the compress report is versioned with check's
  j["pipeline"] = pipeline;
  j["calibration_samples"] = samples;
  j["onnx_bytes"] = onnx_bytes;
  j["pare_bytes"] = pare_bytes;
  j["size_ratio"] = onnx_bytes ? static_cast<double>(pare_bytes) / onnx_bytes : 0.0;
  nlohmann::json passes = nlohmann::json::array();
  nlohmann::json layers = nlohmann::json::array();
  for (const passes::PassReport& r : reports) {
    passes.push_back({{"pass", r.pass}, {"ms", r.ms}, {"nodes_before", r.nodes_before},
                      {"nodes_after", r.nodes_after}, {"weight_bytes_before", r.weight_bytes_before},
                      {"weight_bytes_after", r.weight_bytes_after}, {"notes", r.notes}});
    for (const passes::QuantLayerReport& l : r.quant_layers) {
      nlohmann::json e = {{"node", l.node}, {"op", l.op}, {"tensor", l.tensor}, {"dtype", l.dtype},
                          {"scale", l.scale}, {"zero_point", l.zero_point}};
      // JSON has no infinity: an exact layer reports null; not measured (NaN): no field.
      if (!std::isnan(l.sqnr_db)) e["sqnr_db"] = std::isfinite(l.sqnr_db) ? nlohmann::json(l.sqnr_db) : nlohmann::json();
      layers.push_back(std::move(e));
    }
    if (r.channel_prune) j["prune_channels"] = prune_channels_json(r);
    if (r.pass == "prune") j["prune"] = prune_report_json(r);
    if (r.pass == "cluster") j["cluster"] = cluster_report_json(r);
    if (r.pass == "lowrank") j["lowrank"] = lowrank_report_json(r);
  }
  j["passes"] = passes;
  j["layers"] = layers;
  return j;
}

void print_report(const nlohmann::json& report, const std::string& output, const std::string& input,
                  size_t samples) {
  const size_t bytes = report["pare_bytes"].get<size_t>(), onnx_bytes = report["onnx_bytes"].get<size_t>();
  fmt::print("wrote {} from {} ({} calibration samples)\n", output, base_name(input), samples);
  fmt::print("  pipeline     {}\n", report["pipeline"].get<std::string>());
  fmt::print("  file         {} bytes ({:.3f}x the ONNX file's {} bytes)\n", bytes,
             onnx_bytes ? static_cast<double>(bytes) / onnx_bytes : 0.0, onnx_bytes);
  if (report.contains("prune_channels")) {
    const nlohmann::json& p = report["prune_channels"];
    const auto before = p["macs_before"].get<int64_t>(), after = p["macs_after"].get<int64_t>();
    fmt::print("  MACs         {} -> {} ({:.1f}% fewer, prune_channels)\n", before, after,
               before ? 100.0 * (before - after) / before : 0.0);
  }
  const nlohmann::json& layers = report["layers"];
  if (!layers.empty()) {
    fmt::print("  int8 layers  {} (SQNR of each output vs float on the calibration data; with --check-data the "
               "check's SNR against the input model instead)\n", layers.size());
    fmt::print("    {:<40} {:<18} {:>10} {:>4} {:>9}\n", "node", "op", "scale", "zp", "SQNR dB");
    for (const auto& l : layers) {
      const std::string sqnr = !l.contains("sqnr_db")   ? "-"
                               : l["sqnr_db"].is_null() ? "exact"
                                                        : fmt::format("{:.1f}", l["sqnr_db"].get<double>());
      std::string node = l["node"].get<std::string>();
      if (node.size() > 40) node = "..." + node.substr(node.size() - 37);
      fmt::print("    {:<40} {:<18} {:>10.3g} {:>4} {:>9}\n", node, l["op"].get<std::string>(),
                 l["scale"].get<double>(), l["zero_point"].get<int64_t>(), sqnr);
    }
  }
  if (report.contains("prune")) print_prune_report(report["prune"]);
  if (report.contains("cluster")) print_cluster_report(report["cluster"]);
  if (report.contains("lowrank")) print_lowrank_report(report["lowrank"]);
}

// The verdict, the budgets and what back-off relaxed.
void print_check(const check::CheckResult& r) {
  if (r.budgets.empty())
    fmt::print("check: no budget given\n");
  else
    fmt::print("check: {}\n", r.budgets_met ? "PASS, every budget holds" : "FAIL, a budget is not met");
  for (const check::Budget& b : r.budgets) fmt::print("  {}\n", budget_line(b, r.margin));
  if (r.has_labels)
    fmt::print("  top-1        teacher {:.2f}%  student {:.2f}%  drop {:.2f} points ({} check samples)\n",
               r.teacher_top1, r.student_top1, r.top1_drop, r.samples);
  fmt::print("  agreement    {:.2f}%   KL {:.5f} nats\n", r.agreement, r.kl);
  if (!r.backoff) return;
  const check::BackoffSummary& b = *r.backoff;
  fmt::print("back-off: {}\n", b.outcome);
  fmt::print("  given        {} ({} bytes)\n", b.pipeline_given, b.bytes_given);
  fmt::print("  search       {} round(s), {} builds checked, {} proxy builds, {:.1f} s\n", b.rounds, b.builds,
             b.proxies, b.seconds);
  if (b.relaxations.empty()) return;
  fmt::print("  relaxed      (round, rank by the proxy's KL gain per byte, layer, change, bytes)\n");
  for (const check::RelaxationStep& x : b.relaxations)
    fmt::print("    {:>2} {:>3}  {:<48} {} -> {}  {:+} bytes\n", x.round, x.rank, x.layer, x.from, x.to, x.bytes);
}

calib::DatasetOptions dataset_options(const CompressArgs& args) {
  calib::DatasetOptions o;
  o.seed = args.seed;
  o.max_samples = args.max_samples;
  o.grayscale = args.grayscale;
  o.layout = args.layout;
  if (!args.resize.empty()) o.resize = args.resize;
  if (!args.mean.empty()) o.mean = parse_floats(args.mean, "--mean");
  if (!args.std.empty()) o.std = parse_floats(args.std, "--std");
  return o;
}

size_t file_size(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  return f ? static_cast<size_t>(f.tellg()) : 0;
}

void write_text(const std::string& path, const std::string& text) {
  format::write_file_atomic(path, text.data(), text.size());
}

int run_compress(CLI::App& cmd, CompressArgs& args) {
  const bool checked = !args.check_data.empty();
  if (!checked)
    for (const char* flag : {"--max-top1-drop", "--min-agreement", "--max-kl"})
      if (cmd.count(flag) > 0) throw_invalid(fmt::format("{} needs --check-data (the inputs the student is checked on)", flag));
  const std::vector<check::Budget> budgets = budgets_given(cmd, args.budgets, !args.labels.empty());
  if (!checked) {
    if (!args.labels.empty()) throw_invalid("--labels needs --check-data");
    if (!args.html.empty()) throw_invalid("--html needs --check-data: the page compares the student with the input model");
    if (!args.on_fail.empty()) throw_invalid("--on-fail needs a budget and --check-data");
  }
  if (!(args.margin >= 0) || !std::isfinite(args.margin)) throw_invalid("--margin must be a number >= 0 (standard errors)");
  if (!args.on_fail.empty() && budgets.empty()) throw_invalid("--on-fail needs a budget (--max-top1-drop, --min-agreement or --max-kl)");
  const std::string pipeline_text = args.pipeline_given || budgets.empty() ? args.pipeline : kSmallestPipeline;
  const std::vector<passes::PipelineItem> items = passes::parse_pipeline(pipeline_text);
  const std::string pipeline = passes::print_pipeline(items);
  ir::Graph graph = import_source(args.input, args.input_shapes, args.input_types);

  std::vector<calib::InputSpec> inputs;
  for (ir::TensorId t : graph.inputs) {
    const ir::Tensor& in = graph.tensor(t);
    if (!in.shape.is_static())
      throw_invalid(fmt::format("input '{}' has shape {}: fix it with --input-shape {}:...", in.name,
                                in.shape.str(), in.name));
    inputs.push_back({in.name, in.shape.sizes(), in.dtype == ir::DType::kFloat32, in.dtype == ir::DType::kInt64});
  }
  const std::unique_ptr<calib::Dataset> dataset = calib::open_dataset(args.calib, inputs, dataset_options(args));
  DatasetSource source(*dataset);
  const size_t onnx_bytes = file_size(args.input);
  Progress progress(args.quiet);

  if (!checked) {
    passes::PassContext ctx;
    ctx.seed = args.seed;
    ctx.calibration = &source;
    ctx.progress = [&progress](const std::string& what, double fraction) { progress.update(what, fraction); };
    Status st = passes::run_pipeline(graph, items, ctx);
    progress.done();
    if (!st.is_ok()) throw_naming(st, args.input);
    const std::vector<uint8_t> bytes =
        serialize_checked(graph, args.input, args.output, pipeline, !args.keep_names, /*prepare=*/true);
    const nlohmann::json report = report_json(ctx.reports, pipeline, onnx_bytes, bytes.size(), dataset->size());
    format::write_file_atomic(args.output, bytes.data(), bytes.size());
    if (!args.report.empty()) write_text(args.report, report.dump(2) + "\n");
    print_report(report, args.output, args.input, dataset->size());
    return 0;
  }

  // The teacher: the input model in float, canonicalized as pare check reads it.
  ir::Graph teacher = graph;
  {
    passes::PassContext ctx;
    const Status st = passes::run_pipeline(teacher, passes::kCanonicalPipeline, ctx);
    if (!st.is_ok()) throw Error(st.code(), args.input + ": " + st.message());
  }
  const check::CheckData data =
      check::read_check_data(args.check_data, args.labels, check::model_inputs(teacher, args.input), 0);

  check::BackoffInput in;
  in.source = std::move(graph);
  in.pipeline = items;
  in.calibration = &source;
  in.seed = args.seed;
  in.teacher = teacher;
  in.data = &data;
  in.check.teacher = args.input;
  in.check.student = args.output;
  in.check.data = args.check_data;
  in.check.labels = args.labels;
  in.check.temperature = args.temperature;
  in.check.budgets = budgets;
  in.check.margin = args.margin;
  in.search = !budgets.empty() && args.on_fail != "error";
  const std::string source_hash = format::sha256_file(args.input);
  in.serialize = [&](ir::Graph& g, const std::string& p) {
    return serialize_checked(g, args.input, args.output, p, !args.keep_names, /*prepare=*/false, nullptr, source_hash);
  };
  in.progress = [&progress](const std::string& what, double fraction) { progress.update(what, fraction); };
  in.log = [&progress](const std::string& line) { progress.line(line); };
  check::BackoffResult result = check::compress_within_budget(in);
  progress.done();

  // The report: the full check of the student (per-layer errors), what back-off did.
  std::shared_ptr<const rt::Model> model;
  {
    auto loaded = rt::Model::load_buffer(result.student.bytes.data(), result.student.bytes.size(), args.output);
    if (!loaded.is_ok()) throw_internal("the student would not load: " + loaded.status().message());
    model = loaded.value();
  }
  check::CheckResult r = check::run_check(teacher, *model, data, in.check);
  r.teacher_bytes = static_cast<int64_t>(onnx_bytes);
  r.student_bytes = static_cast<int64_t>(result.student.bytes.size());
  for (check::LayerError& l : r.layers)
    if (auto it = result.plan.find(l.node); it != result.plan.end()) l.relaxed = check::describe_relaxation(it->second);
  if (!budgets.empty()) {
    check::BackoffSummary b;
    b.outcome = result.outcome;
    b.pipeline_given = pipeline;
    b.pipeline_run = result.student.pipeline;
    b.bytes_given = result.first_bytes;
    b.budgets_given = result.first_budgets;
    b.relaxations = result.relaxations;
    b.rounds = result.rounds;
    b.builds = result.builds;
    b.proxies = result.proxies;
    b.seconds = result.seconds;
    r.backoff = std::move(b);
  }
  const bool met = r.budgets_met;
  nlohmann::json report = report_json(result.student.reports, result.student.pipeline, onnx_bytes,
                                      result.student.bytes.size(), dataset->size());
  report["written"] = met;
  report["check"] = check::check_json(r);
  if (met) {
    make_interpreter(model, args.output, 1);  // prepared once, as every written file is
    format::write_file_atomic(args.output, result.student.bytes.data(), result.student.bytes.size());
  }
  if (!args.report.empty()) write_text(args.report, report.dump(2) + "\n");
  if (!args.html.empty()) check::write_html(r, args.html);
  if (met) {
    print_report(report, args.output, args.input, dataset->size());
  } else {
    fmt::print("{} not written: the budgets do not hold ({} bytes would have been written)\n", args.output,
               result.student.bytes.size());
  }
  print_check(r);
  return met ? 0 : 3;
}

}  // namespace

Command add_compress_command(CLI::App& root) {
  auto args = std::make_shared<CompressArgs>();
  CLI::App* cmd = root.add_subcommand(
      "compress",
      fmt::format("Compress an ONNX or TorchScript model to .pare with calibration data (default pipeline: {})",
                  kCompressPipeline));
  cmd->add_option("model", args->input, "The ONNX (.onnx) or TorchScript (.pt) model")->required();
  cmd->add_option("-o,--output", args->output, "The .pare file to write")->required();
  cmd->add_option("--calib", args->calib,
                  "Calibration data: .npy (samples x input shape), .npz (an array per input name; "
                  "int64 inputs such as token ids take int64 or int32 arrays), or a folder of "
                  "PNG/JPEG images")
      ->required();
  cmd->add_option("--passes", args->pipeline,
                  fmt::format("The pass pipeline to run; without it a budget starts from the smallest preset, {}",
                              kSmallestPipeline))
      ->capture_default_str();
  cmd->add_option("--report", args->report, "Write the per-layer report as JSON to this file (docs/report.md)");
  cmd->add_option("--check-data", args->check_data,
                  "Check the student against the input model (float) on these inputs (.npy, one row per sample, "
                  "or .npz with one such array per input name, int64 inputs from int64 or int32 arrays; not the "
                  "calibration data)");
  cmd->add_option("--labels", args->labels, "Labels of the check data, int64 or int32 (.npy)");
  add_budget_options(*cmd, args->budgets);
  cmd->add_option("--on-fail", args->on_fail,
                  "When a budget fails: error (exit 3, no model written) or backoff (relax layers until the budgets "
                  "hold; the default)")
      ->check(CLI::IsMember({"error", "backoff"}));
  cmd->add_option("--margin", args->margin,
                  "Standard errors of the check data's estimate kept between each measured value and its limit")
      ->capture_default_str();
  cmd->add_option("--temperature", args->temperature, "Softmax temperature of the KL budget and proxy")
      ->capture_default_str();
  cmd->add_option("--html", args->html, "Write the check and back-off report as one self-contained HTML page");
  cmd->add_option("--input-shape", args->input_shapes,
                  "Fix the shape of an input with symbolic dims: NAME:1x3x224x224 (repeatable; TorchScript: every input)")
      ->allow_extra_args(false);
  cmd->add_option("--input-type", args->input_types,
                  "The dtype of a TorchScript input: NAME:int64 (repeatable; default float32, int64 for embedding ids)")
      ->allow_extra_args(false);
  cmd->add_option("--max-samples", args->max_samples, "Use at most this many samples (0: all)");
  cmd->add_option("--seed", args->seed, "Seed for sampling the calibration data")->capture_default_str();
  cmd->add_option("--resize", args->resize, "Images: resize to HxW (default: the model input's size)");
  cmd->add_option("--mean", args->mean, "Images: per-channel mean subtracted after scaling to [0,1]");
  cmd->add_option("--std", args->std, "Images: per-channel std divided by after the mean");
  cmd->add_option("--layout", args->layout, "Images: NCHW or NHWC")->capture_default_str();
  cmd->add_flag("--grayscale", args->grayscale, "Images: convert to one channel");
  cmd->add_flag("--quiet", args->quiet, "No progress bar (there is none either when stderr is not a terminal)");
  cmd->add_flag("--keep-tensor-names", args->keep_names,
                "Keep the names of internal tensors in the file (left out by default to save space)");
  cmd->footer("Exit codes: 0 written (every budget holds), 3 a budget fails (no model written; --report and "
              "--html are), 2 bad input, 1 internal error.");
  return {cmd, [cmd, args] {
            args->pipeline_given = cmd->count("--passes") > 0;
            return run_compress(*cmd, *args);
          }};
}

}  // namespace pare::cli
