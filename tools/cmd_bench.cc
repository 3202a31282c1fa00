// pare bench MODEL.pare: load time, latency (median, p90, min, mean over timed runs), peak
// memory and, with --profile, where the time goes per node.
#include <fmt/format.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>

#include "runtime/cpu.h"
#include "tools/common.h"

namespace pare::cli {

namespace {

constexpr size_t kProfileRowsShown = 20;  // text mode; JSON lists every node

struct BenchArgs {
  std::string model;
  int threads = 1;
  std::string max_memory;  // --max-memory
  int iterations = 50;
  int warmup = 5;
  bool profile = false;
  bool json = false;
  bool no_fusion = false;
  std::vector<std::string> inputs;
};

struct Latency {
  double median_ms = 0, p90_ms = 0, min_ms = 0, mean_ms = 0;
};

struct ProfileRow {
  rt::NodeProfile node;
  double mean_ms = 0;
  double share = 0;  // of the summed node time, in [0, 1]
};

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Float inputs get uniform [0,1) values from a fixed-seed xorshift32, so every run of the
// benchmark sees the same data; every other input (int64 token ids, masks, indices, shapes)
// is zero: the valid range of an index is not in the model. --input overrides any input
// with the first rows of an array.
void fill_inputs(rt::Interpreter& interp) {
  uint32_t state = 42;
  for (size_t i = 0; i < interp.num_inputs(); ++i) {
    const rt::TensorDesc& desc = interp.input(i);
    std::memset(interp.input_data(i), 0, desc.byte_size());
    if (desc.dtype != rt::DType::kFloat32) continue;
    float* data = static_cast<float*>(interp.input_data(i));
    for (int64_t k = 0; k < desc.num_elements(); ++k) {
      state ^= state << 13;
      state ^= state >> 17;
      state ^= state << 5;
      data[k] = static_cast<float>(state >> 8) * (1.0f / 16777216.0f);  // 24 bits: exact, < 1
    }
  }
}

void invoke_or_throw(rt::Interpreter& interp, const std::string& path) {
  rt::Status st = interp.invoke();
  if (!st.is_ok()) throw_runtime_error(st, path);
}

// Median (mean of the middle two for an even count) and nearest-rank p90.
Latency summarize(std::vector<double> times_ms) {
  std::sort(times_ms.begin(), times_ms.end());
  const size_t n = times_ms.size();
  Latency l;
  l.median_ms = n % 2 ? times_ms[n / 2] : (times_ms[n / 2 - 1] + times_ms[n / 2]) / 2;
  size_t p90_rank = static_cast<size_t>(std::ceil(0.9 * static_cast<double>(n)));
  l.p90_ms = times_ms[std::max<size_t>(p90_rank, 1) - 1];
  l.min_ms = times_ms.front();
  l.mean_ms = std::accumulate(times_ms.begin(), times_ms.end(), 0.0) / static_cast<double>(n);
  return l;
}

std::vector<ProfileRow> profile_rows(const rt::Interpreter& interp) {
  std::vector<ProfileRow> rows;
  double total = 0;
  for (rt::NodeProfile& p : interp.profile()) {
    total += p.total_ms;
    double mean = p.runs ? p.total_ms / static_cast<double>(p.runs) : 0;
    rows.push_back({std::move(p), mean, 0});
  }
  for (ProfileRow& r : rows) r.share = total > 0 ? r.node.total_ms / total : 0;
  std::stable_sort(rows.begin(), rows.end(), [](const ProfileRow& a, const ProfileRow& b) {
    return a.node.total_ms > b.node.total_ms;
  });
  return rows;
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // kilobytes on Linux
}

std::string size_text(size_t bytes) {
  if (bytes >= (1u << 20)) return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1 << 20));
  if (bytes >= (1u << 10)) return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / (1 << 10));
  return fmt::format("{} B", bytes);
}

struct Report {
  const BenchArgs& args;
  size_t model_bytes;
  size_t nodes;
  const char* isa;
  double load_ms;
  Latency latency;
  long rss_kb;
  std::vector<ProfileRow> profile;
};

void print_json(const Report& r) {
  nlohmann::ordered_json j = {{"model", r.args.model},
                      {"model_bytes", r.model_bytes},
                      {"nodes", r.nodes},
                      {"isa", r.isa},
                      {"threads", r.args.threads},
                      {"warmup", r.args.warmup},
                      {"iterations", r.args.iterations},
                      {"load_ms", r.load_ms},
                      {"median_ms", r.latency.median_ms},
                      {"p90_ms", r.latency.p90_ms},
                      {"min_ms", r.latency.min_ms},
                      {"mean_ms", r.latency.mean_ms},
                      {"peak_rss_kb", r.rss_kb}};
  if (r.args.profile) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const ProfileRow& p : r.profile)
      rows.push_back({{"name", p.node.name},
                      {"op", p.node.op},
                      {"kernel", p.node.kernel},
                      {"runs", p.node.runs},
                      {"total_ms", p.node.total_ms},
                      {"mean_ms", p.mean_ms},
                      {"share", p.share}});
    j["profile"] = std::move(rows);
  }
  fmt::print("{}\n", j.dump(2));
}

void print_text(const Report& r) {
  fmt::print("model       {} ({}, {} nodes)\n", r.args.model, size_text(r.model_bytes), r.nodes);
  fmt::print("isa         {}\n", r.isa);
  fmt::print("threads     {}\n", r.args.threads);
  fmt::print("load        {:.3f} ms (load + prepare)\n", r.load_ms);
  fmt::print("runs        {} timed after {} warmup\n", r.args.iterations, r.args.warmup);
  fmt::print("median      {:.3f} ms\n", r.latency.median_ms);
  fmt::print("p90         {:.3f} ms\n", r.latency.p90_ms);
  fmt::print("min         {:.3f} ms\n", r.latency.min_ms);
  fmt::print("mean        {:.3f} ms\n", r.latency.mean_ms);
  fmt::print("peak RSS    {} kB\n", r.rss_kb);
  if (!r.args.profile) return;

  const size_t shown = std::min(r.profile.size(), kProfileRowsShown);
  size_t name_w = 4, op_w = 2, kernel_w = 6;
  for (size_t i = 0; i < shown; ++i) {
    name_w = std::max(name_w, r.profile[i].node.name.size());
    op_w = std::max(op_w, r.profile[i].node.op.size());
    kernel_w = std::max(kernel_w, r.profile[i].node.kernel.size());
  }
  fmt::print("\nper node, slowest first (times include the per-node timer):\n");
  fmt::print("{:<{}}  {:<{}}  {:<{}}  {:>10}  {:>9}  {:>6}\n", "node", name_w, "op", op_w,
             "kernel", kernel_w, "total ms", "mean ms", "share");
  for (size_t i = 0; i < shown; ++i) {
    const ProfileRow& p = r.profile[i];
    fmt::print("{:<{}}  {:<{}}  {:<{}}  {:>10.3f}  {:>9.4f}  {:>5.1f}%\n", p.node.name, name_w,
               p.node.op, op_w, p.node.kernel, kernel_w, p.node.total_ms, p.mean_ms,
               100 * p.share);
  }
  if (r.profile.size() > shown)
    fmt::print("... {} more nodes (--json lists all)\n", r.profile.size() - shown);
}

int run_bench(const BenchArgs& args) {
  const Clock::time_point load_start = Clock::now();
  std::shared_ptr<const rt::Model> model = load_model(args.model);
  std::unique_ptr<rt::Interpreter> interp = make_interpreter(model, args.model, args.threads, max_memory_bytes(args.max_memory), !args.no_fusion);
  const double load_ms = ms_since(load_start);

  fill_inputs(*interp);
  if (!args.inputs.empty()) {
    // The given arrays, checked and converted as pare run does; the first run's rows only.
    std::vector<std::optional<InputArray>> given = bind_some_inputs(*interp, args.model, args.inputs, "--input");
    for (size_t i = 0; i < given.size(); ++i) {
      if (!given[i]) continue;
      const rt::TensorDesc& desc = interp->input(i);
      fit_input(desc, *given[i]);
      std::memcpy(interp->input_data(i), given[i]->array.data.data(), desc.byte_size());
    }
  }
  // The arena reuses an input's bytes once its last reader has run, so every run gets its
  // inputs written again (untimed), as an app writes them before each invoke.
  std::vector<std::vector<uint8_t>> inputs(interp->num_inputs());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto* data = static_cast<const uint8_t*>(interp->input_data(i));
    inputs[i].assign(data, data + interp->input(i).byte_size());
  }
  auto write_inputs = [&] {
    for (size_t i = 0; i < inputs.size(); ++i) std::memcpy(interp->input_data(i), inputs[i].data(), inputs[i].size());
  };
  for (int i = 0; i < args.warmup; ++i) {
    write_inputs();
    invoke_or_throw(*interp, args.model);
  }

  // Profiling covers the timed runs only, so each node's mean is over the same runs.
  interp->enable_profiling(args.profile);
  std::vector<double> times_ms;
  times_ms.reserve(static_cast<size_t>(args.iterations));
  for (int i = 0; i < args.iterations; ++i) {
    write_inputs();
    const Clock::time_point start = Clock::now();
    invoke_or_throw(*interp, args.model);
    times_ms.push_back(ms_since(start));
  }

  Report report{args,
                model->file_bytes(),
                model->nodes().size(),
                rt::isa_name(rt::best_isa()),
                load_ms,
                summarize(std::move(times_ms)),
                peak_rss_kb(),
                args.profile ? profile_rows(*interp) : std::vector<ProfileRow>{}};
  if (args.json)
    print_json(report);
  else
    print_text(report);
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& root) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = root.add_subcommand(
      "bench",
      "Time a .pare model on random inputs: load, latency percentiles, peak memory. Float "
      "inputs get fixed-seed uniform [0,1) values; int64 inputs (token ids, masks) are zeros, "
      "since their valid range is not in the model: give real ones with --input");
  cmd->add_option("model", args->model, "The .pare model")->required();
  cmd->add_option("-t,--threads", args->threads, "Threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  add_max_memory_option(cmd, &args->max_memory);
  cmd->add_option("-n,--iterations", args->iterations, "Timed runs")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("-w,--warmup", args->warmup, "Untimed runs before the timed ones")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  cmd->add_flag("--profile", args->profile,
                "Time every node and list the slowest (text: top 20; --json: all)");
  cmd->add_flag("--json", args->json, "Print one JSON object instead of text");
  cmd->add_flag("--no-fusion", args->no_fusion,
                "Run every node with its own kernel: no chain (a 1x1 or stem conv, the depthwise conv "
                "after it, the projection after that and a residual Add; a MatMul and its bias Add) runs "
                "as one, and every Reshape copies its input; the outputs are the same bytes");
  cmd->add_option("-i,--input", args->inputs,
                  "Run on these inputs instead (their first rows): FILE.npy, NAME=FILE.npy "
                  "(repeatable) or FILE.npz, as pare run takes them; inputs not given keep "
                  "the defaults")
      ->allow_extra_args(false);
  return {cmd, [args] { return run_bench(*args); }};
}

}  // namespace pare::cli
