#include "check/backoff.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "check/metrics.h"
#include "ir/status.h"
#include "passes/graph_runner.h"
#include "passes/pass_util.h"
#include "passes/prune_layers.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace pare::check {

namespace {

constexpr int kBitsLadder[] = {2, 3, 4, 5, 6, 8};
constexpr size_t kProxyCalibration = 128;  // calibration samples of the proxies' int8
constexpr size_t kProxyRows = 256;         // check rows the proxies are measured on
constexpr double kDenseBelow = 0.1;        // a sparsity cap under this becomes dense
constexpr double kFirstShare = 1.0 / 8;    // the least share of its ranking a first round relaxes
// A round's proxies build the student once per layer: over this many node builds (steps x
// the float stage's nodes; the bundled models need under 2%) the steps keep the layers'
// order unmeasured, and full builds alone choose the prefix. A graph of thousands of
// parallel layers would otherwise take hours a round.
constexpr double kProxyNodeBuilds = 1048576;  // 2^20

using passes::PipelineItem;

// ---- plans as pipeline options ---------------------------------------------------------

void append_list(passes::PassOptions& o, const std::string& key, const std::string& item) {
  std::string v = o.get(key, "");
  o.values[key] = v.empty() ? item : v + "," + item;
  if (std::find(o.order.begin(), o.order.end(), key) == o.order.end()) o.order.push_back(key);
}

std::string number(double v) { return fmt::format("{:g}", v); }

}  // namespace

std::vector<PipelineItem> apply_plan(const std::vector<PipelineItem>& pipeline, const RelaxationPlan& plan) {
  std::vector<PipelineItem> out = pipeline;
  for (PipelineItem& item : out) {
    for (const auto& [name, r] : plan) {
      if (item.pass == "cluster") {
        if (r.unclustered)
          append_list(item.options, "exclude", name);
        else if (r.bits > item.options.get_int("bits", 4))
          append_list(item.options, "layer_bits", name + ":" + std::to_string(r.bits));
      } else if (item.pass == "prune" && r.sparsity_cap >= 0) {
        append_list(item.options, "layer_sparsity", name + ":" + number(r.sparsity_cap));
      } else if (item.pass == "lowrank" && r.unfactorized) {
        append_list(item.options, "exclude", name);
      } else if (item.pass == "quantize" && r.float32) {
        append_list(item.options, "exclude", name);
      }
    }
  }
  return out;
}

std::string describe_relaxation(const LayerRelaxation& r) {
  std::vector<std::string> parts;
  if (r.unclustered) parts.push_back("not clustered");
  else if (r.bits > 0) parts.push_back(fmt::format("palette >= {} bits", r.bits));
  if (r.sparsity_cap == 0) parts.push_back("not pruned");
  else if (r.sparsity_cap > 0) parts.push_back(fmt::format("sparsity <= {:g}", r.sparsity_cap));
  if (r.unfactorized) parts.push_back("not factorized");
  if (r.float32) parts.push_back("float32");
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
  return s;
}

namespace {

// ---- what a build compressed, per layer --------------------------------------------------

struct LayerState {
  int bits = 0;           // palette bits (0: not clustered)
  double sparsity = 0;    // reached sparsity (0: not pruned)
  bool factorized = false;
  bool int8 = false;
};

std::map<std::string, LayerState> layer_states(const std::vector<passes::PassReport>& reports) {
  std::map<std::string, LayerState> s;
  for (const passes::PassReport& r : reports) {
    for (const auto& l : r.cluster_layers)
      if (l.bits > 0) s[l.node].bits = l.bits;
    for (const auto& l : r.prune_layers)
      if (l.target_sparsity > 0 && l.sparsity > 0) s[l.node].sparsity = l.sparsity;
    for (const auto& l : r.lowrank_layers)
      if (l.skipped.empty()) s[l.node].factorized = true;
    for (const auto& l : r.quant_layers)
      if (l.op == "Conv" || l.op == "Gemm" || l.op == "MatMul") s[l.node].int8 = true;
  }
  return s;
}

// A candidate rung: the layer's next relaxation.
struct Step {
  std::string layer, kind, from, to;
  LayerRelaxation before, next;  // the layer's plan entry without and with the step
  double kl = 0;         // proxy with the step alone
  int64_t bytes = 0;
  double score = 0;      // KL gain per byte
};

std::optional<Step> next_step(const std::string& name, const LayerState& s, const LayerRelaxation& now) {
  Step st;
  st.layer = name;
  st.before = st.next = now;
  if (s.bits > 0) {
    st.kind = "bits";
    st.from = fmt::format("{} bits", s.bits);
    const int* up = std::upper_bound(std::begin(kBitsLadder), std::end(kBitsLadder), s.bits);
    if (up == std::end(kBitsLadder)) {
      st.next.unclustered = true;
      st.to = "not clustered";
    } else {
      st.next.bits = *up;
      st.to = fmt::format("{} bits", *up);
    }
    return st;
  }
  if (s.sparsity > 0) {
    st.kind = "sparsity";
    const double cap = s.sparsity / 2 < kDenseBelow ? 0.0 : s.sparsity / 2;
    st.from = fmt::format("sparsity {:.2f}", s.sparsity);
    st.to = cap == 0 ? "dense" : fmt::format("sparsity {:.2f}", cap);
    st.next.sparsity_cap = cap;
    return st;
  }
  if (s.factorized) {
    st.kind = "lowrank";
    st.from = "factorized";
    st.to = "one layer";
    st.next.unfactorized = true;
    return st;
  }
  if (s.int8) {
    st.kind = "int8";
    st.from = "int8";
    st.to = "float32";
    st.next.float32 = true;
    return st;
  }
  return std::nullopt;
}

// Every layer at the top of its ladder.
RelaxationPlan fully_relaxed(const std::map<std::string, LayerState>& states, RelaxationPlan plan) {
  for (const auto& [name, s] : states) {
    LayerRelaxation& r = plan[name];
    if (s.bits > 0) r.unclustered = true;
    if (s.sparsity > 0) r.sparsity_cap = 0;
    if (s.factorized) {  // the layer it becomes again is relaxed too
      r.unfactorized = true;
      r.unclustered = true;
      r.sparsity_cap = 0;
      r.float32 = true;
    }
    if (s.int8) r.float32 = true;
  }
  return plan;
}

// ---- data ----------------------------------------------------------------------------------

// `count` indices spread evenly over [0, total) (all of them when there are fewer).
std::vector<size_t> spread(size_t total, size_t count) {
  std::vector<size_t> rows;
  const size_t k = std::min(total, count);
  for (size_t i = 0; i < k; ++i) rows.push_back(i * total / k);
  return rows;
}

class SubsetCalibration final : public passes::CalibrationData {
 public:
  SubsetCalibration(const passes::CalibrationData& all, size_t count) : all_(all), picked_(spread(all.size(), count)) {}
  size_t size() const override { return picked_.size(); }
  void fill(size_t sample, size_t input, float* out, size_t count) const override {
    all_.fill(picked_[sample], input, out, count);
  }
  void fill_int64(size_t sample, size_t input, int64_t* out, size_t count) const override {
    all_.fill_int64(picked_[sample], input, out, count);
  }

 private:
  const passes::CalibrationData& all_;
  std::vector<size_t> picked_;
};

// The teacher's logits for every check row, computed once.
std::vector<float> teacher_logits(const ir::Graph& teacher, const CheckData& data, size_t* classes) {
  passes::GraphRunner run(teacher, {teacher.outputs[0]});
  const ir::Tensor& out = teacher.tensor(teacher.outputs[0]);
  if (out.dtype != ir::DType::kFloat32) throw_invalid("the teacher's first output is not float32");
  *classes = static_cast<size_t>(out.shape.num_elements());
  std::vector<float> logits(static_cast<size_t>(data.count) * *classes);
  for (int64_t r = 0; r < data.count; ++r) {
    data.feed(run, static_cast<size_t>(r));
    run.run();
    std::memcpy(&logits[static_cast<size_t>(r) * *classes], run.watched(0), *classes * sizeof(float));
  }
  return logits;
}

// The weight tensor of the layer named `name` in g, or kNoTensor.
ir::TensorId layer_weight(const ir::Graph& g, const std::string& name) {
  for (ir::NodeId id : g.nodes()) {
    if (g.node(id).name != name) continue;
    passes::PruneLayer l;
    if (passes::describe_layer(g, id, l)) return l.weight;
  }
  return ir::kNoTensor;
}

// Replaces the low-rank factors of `name` in g (name/lowrank_a, _b, _c: the last writes the
// layer's output) by the single layer of that name in `from`, its constants copied. False
// when either side is not found.
bool splice_unfactorized(ir::Graph& g, const ir::Graph& from, const std::string& name) {
  ir::NodeId first = ir::kNoNode, last = ir::kNoNode, single = ir::kNoNode;
  for (ir::NodeId id : g.nodes()) {
    const std::string& n = g.node(id).name;
    if (n == name + "/lowrank_a") first = id;
    if (n == name + "/lowrank_c" || (n == name + "/lowrank_b" && last == ir::kNoNode)) last = id;
  }
  for (ir::NodeId id : from.nodes())
    if (from.node(id).name == name) single = id;
  if (first == ir::kNoNode || last == ir::kNoNode || single == ir::kNoNode) return false;
  const ir::Node& src = from.node(single);
  if (src.inputs.empty() || src.outputs.size() != 1) return false;
  ir::Node n = src;
  n.inputs[0] = g.node(first).inputs[0];
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    if (n.inputs[i] == ir::kNoTensor) continue;
    const ir::Tensor& t = from.tensor(n.inputs[i]);
    if (!t.is_constant()) return false;
    ir::Tensor copy = t;
    copy.name = passes::unique_tensor_name(g, t.name);
    n.inputs[i] = g.add_tensor(std::move(copy));
  }
  n.outputs = g.node(last).outputs;
  g.remove_node(last);
  g.add_node(std::move(n));
  g.remove_dead_nodes();
  return true;
}

// Runs f(i) for i in [0, n) on up to two threads (the machines pare runs on in CI have two
// cores); results go to per-index slots, so the order of completion does not matter.
void parallel_for(size_t n, const std::function<void(size_t)>& f) {
  const size_t workers = std::min<size_t>(n, std::max(1u, std::min(2u, std::thread::hardware_concurrency())));
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (size_t i; (i = next++) < n;) {
      try {
        f(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t w = 1; w < workers; ++w) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

// ---- the search ----------------------------------------------------------------------------

class Search {
 public:
  explicit Search(const BackoffInput& in)
      : in_(in), proxy_calibration_(*in.calibration, kProxyCalibration),
        proxy_rows_(spread(static_cast<size_t>(in.data->count), kProxyRows)) {
    for (size_t i = 0; i < in.pipeline.size(); ++i)
      if (in.pipeline[i].pass == "quantize") {
        split_ = i;
        break;
      }
  }

  BackoffResult run();

 private:
  struct Ranking {
    double base_kl = 0;       // the proxy of the current build
    int64_t base_bytes = 0;
    std::vector<Step> steps;  // best first
    std::optional<ir::Graph> weights_relaxed;   // float stage with every bits and sparsity rung taken
    std::optional<ir::Graph> lowrank_relaxed;   // float stage with every lowrank rung taken
  };

  // One full build: the float stage, then the passes from quantize on, on all the calibration data.
  struct FullBuild {
    Build build;
    std::map<std::string, passes::ActivationQuant> activation_quant;  // what quantize calibrated
  };

  // The passes before the first quantize (`first`) or from it on, of the plan's pipeline.
  std::vector<PipelineItem> part(const RelaxationPlan& plan, bool first) const {
    return part(apply_plan(in_.pipeline, plan), first);
  }
  std::vector<PipelineItem> part(const std::vector<PipelineItem>& items, bool first) const {
    const auto cut = items.begin() + static_cast<std::ptrdiff_t>(std::min(split_, items.size()));
    return first ? std::vector<PipelineItem>(items.begin(), cut) : std::vector<PipelineItem>(cut, items.end());
  }

  void run_items(ir::Graph& g, const std::vector<PipelineItem>& items, passes::PassContext& ctx) const {
    ctx.seed = in_.seed;
    const Status st = passes::run_pipeline(g, items, ctx);
    if (!st.is_ok()) throw Error(st.code(), st.message());
  }

  // The source through the passes before quantize.
  ir::Graph float_stage(const std::vector<PipelineItem>& items, std::vector<passes::PassReport>* reports) const {
    ir::Graph g = in_.source;
    passes::PassContext ctx;
    ctx.calibration = in_.calibration;
    ctx.progress = reports ? in_.progress : nullptr;
    run_items(g, part(items, true), ctx);
    if (reports) *reports = std::move(ctx.reports);
    return g;
  }
  ir::Graph float_stage(const RelaxationPlan& plan) const { return float_stage(apply_plan(in_.pipeline, plan), nullptr); }

  FullBuild build(const RelaxationPlan& plan) const {
    const std::vector<PipelineItem> items = apply_plan(in_.pipeline, plan);
    FullBuild b;
    b.build.pipeline = passes::print_pipeline(items);
    b.build.float_stage = float_stage(items, &b.build.reports);
    ir::Graph g = b.build.float_stage;
    passes::PassContext ctx;
    ctx.calibration = in_.calibration;
    ctx.activation_quant = &b.activation_quant;
    ctx.progress = in_.progress;
    ctx.measure = false;  // the check measures the student against the teacher instead
    run_items(g, part(items, false), ctx);
    b.build.reports.insert(b.build.reports.end(), ctx.reports.begin(), ctx.reports.end());
    b.build.bytes = in_.serialize(g, b.build.pipeline);
    return b;
  }

  // A proxy build: `float_graph` through the passes from quantize on with the activation
  // quantization of `base` (calibrated on a subset where a tensor is new), no measuring.
  std::vector<uint8_t> proxy(const ir::Graph& float_graph, const RelaxationPlan& plan, const FullBuild& base) const {
    ir::Graph g = float_graph;
    std::map<std::string, passes::ActivationQuant> quant = base.activation_quant;
    passes::PassContext ctx;
    ctx.calibration = &proxy_calibration_;
    ctx.activation_quant = &quant;
    ctx.measure = false;
    run_items(g, part(plan, false), ctx);
    return in_.serialize(g, "");
  }

  // The float stage of `plan` from the current build's: weight rungs spliced in from
  // `relaxed` (the float stage with every weight rung taken), the weight passes run again
  // only when a step changes the graph (lowrank) or cannot be spliced.
  ir::Graph proxy_stage(const FullBuild& current, const Ranking& ranking, const std::vector<const Step*>& steps,
                        const RelaxationPlan& plan) const;

  // The student's metrics on the given check rows (all when `rows` is null), budgets evaluated.
  // Two halves on two threads for a full check; one thread for a proxy (proxies run two at a time).
  CheckResult measure(const std::vector<uint8_t>& bytes, const std::vector<size_t>* rows) const {
    auto model = rt::Model::load_buffer(bytes.data(), bytes.size(), "student");
    if (!model.is_ok()) throw_internal("back-off: " + model.status().message());
    const bool labels = !in_.data->labels.empty();
    const size_t count = rows ? rows->size() : static_cast<size_t>(in_.data->count);
    // Halves summed in order: the same numbers on any machine.
    const size_t halves = rows ? 1 : 2;
    std::vector<OutputStats> stats(halves);
    parallel_for(halves, [&](size_t h) {
      auto made = rt::Interpreter::create(model.value(), rt::InterpreterOptions{});
      if (!made.is_ok()) throw_internal("back-off: " + made.status().message());
      rt::Interpreter& interp = *made.value();
      if (interp.output(0).dtype != rt::DType::kFloat32 ||
          static_cast<size_t>(interp.output(0).num_elements()) != classes_)
        throw_internal("back-off: the student's first output is not the teacher's float32 logits");
      for (size_t i = h * count / halves; i < (h + 1) * count / halves; ++i) {
        const size_t r = rows ? (*rows)[i] : i;
        in_.data->feed(interp, r);
        const rt::Status st = interp.invoke();
        if (!st.is_ok()) throw_internal("back-off: " + st.message());
        stats[h].add(&teacher_[r * classes_], static_cast<const float*>(interp.output_data(0)), classes_,
                     in_.check.temperature, labels ? in_.data->labels[r] : -1);
      }
    });
    for (size_t h = 1; h < halves; ++h) stats[0].merge(stats[h]);
    CheckResult c;
    c.has_labels = labels;
    c.temperature = in_.check.temperature;
    c.budgets = in_.check.budgets;
    c.margin = in_.check.margin;
    c.samples = static_cast<int64_t>(count);
    stats[0].finish(c);
    evaluate_budgets(c);
    return c;
  }

  double proxy_kl(const std::vector<uint8_t>& bytes) const { return measure(bytes, &proxy_rows_).kl; }

  void progress(const std::string& what, double fraction) const {
    if (in_.progress) in_.progress(what, fraction);
  }
  void log(const std::string& line) const {
    if (in_.log) in_.log(line);
  }

  Ranking rank_steps(const FullBuild& current, const RelaxationPlan& plan, int round);
  size_t choose_prefix(const FullBuild& current, const RelaxationPlan& plan, const Ranking& ranking, double need,
                       int round);
  RelaxationPlan plan_with(const RelaxationPlan& plan, const Ranking& ranking, size_t count) const {
    RelaxationPlan p = plan;
    for (size_t i = 0; i < count; ++i) p[ranking.steps[i].layer] = ranking.steps[i].next;
    return p;
  }
  // A full build of `plan` checked on all the check data, counted and logged.
  std::pair<FullBuild, CheckResult> checked(const RelaxationPlan& plan, const std::string& what,
                                            BackoffResult& res) const {
    const auto start = std::chrono::steady_clock::now();
    FullBuild b = build(plan);
    CheckResult c = measure(b.build.bytes, nullptr);
    ++res.builds;
    log(fmt::format("{}: {} bytes, budgets {} ({:.1f} s)", what, b.build.bytes.size(), c.budgets_met ? "met" : "fail",
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()));
    return {std::move(b), std::move(c)};
  }

  const BackoffInput& in_;
  SubsetCalibration proxy_calibration_;
  std::vector<size_t> proxy_rows_;
  size_t split_ = std::numeric_limits<size_t>::max();
  std::vector<float> teacher_;
  size_t classes_ = 0;
  std::atomic<int> proxies_{0};
};

// The float stage of `plan` (the current plan with `steps` taken) from the current build's:
// weight rungs spliced in from the stage with every weight rung taken, lowrank rungs from the
// stage with every factorization undone; the weight passes run again only when a step cannot
// be spliced.
ir::Graph Search::proxy_stage(const FullBuild& current, const Ranking& ranking, const std::vector<const Step*>& steps,
                              const RelaxationPlan& plan) const {
  ir::Graph g = current.build.float_stage;
  for (const Step* st : steps) {
    if (st->kind == "int8") continue;  // quantize's exclude= does it
    if (st->kind == "lowrank") {
      if (!ranking.lowrank_relaxed || !splice_unfactorized(g, *ranking.lowrank_relaxed, st->layer))
        return float_stage(plan);
      continue;
    }
    const ir::Graph* relaxed = ranking.weights_relaxed ? &*ranking.weights_relaxed : nullptr;
    const ir::TensorId to = layer_weight(g, st->layer);
    const ir::TensorId from = relaxed ? layer_weight(*relaxed, st->layer) : ir::kNoTensor;
    if (to == ir::kNoTensor || from == ir::kNoTensor || g.tensor(to).shape != relaxed->tensor(from).shape)
      return float_stage(plan);
    g.tensor(to).data = relaxed->tensor(from).data;
  }
  return g;
}

// Every layer relaxed alone one rung, measured with the proxy, ranked by KL gain per byte
// (steps that gain nothing last, cheapest first).
Search::Ranking Search::rank_steps(const FullBuild& current, const RelaxationPlan& plan, int round) {
  Ranking ranking;
  std::vector<Step>& steps = ranking.steps;
  for (const auto& [name, s] : layer_states(current.build.reports)) {
    auto it = plan.find(name);
    if (auto st = next_step(name, s, it == plan.end() ? LayerRelaxation{} : it->second)) steps.push_back(*st);
  }
  if (steps.empty()) return ranking;
  const auto start = std::chrono::steady_clock::now();
  const std::vector<uint8_t> base = proxy(current.build.float_stage, plan, current);
  ranking.base_kl = proxy_kl(base);
  ranking.base_bytes = static_cast<int64_t>(base.size());
  const size_t nodes = current.build.float_stage.num_nodes();
  if (static_cast<double>(steps.size()) * static_cast<double>(nodes) > kProxyNodeBuilds) {
    for (Step& st : steps) st.kl = ranking.base_kl;  // unmeasured: no gain known
    log(fmt::format("round {}: {} layers over a float stage of {} nodes exceed the proxy budget of 2^20 node "
                    "builds; the steps stay in layer order, chosen by full builds",
                    round, steps.size(), nodes));
    return ranking;
  }
  // Weight rungs (bits, sparsity) all taken in one float stage, lowrank rungs in another;
  // each spliced in alone.
  RelaxationPlan all_weights = plan, all_lowrank = plan;
  bool any_weight = false, any_lowrank = false;
  for (const Step& st : steps) {
    if (st.kind == "bits" || st.kind == "sparsity") all_weights[st.layer] = st.next, any_weight = true;
    if (st.kind == "lowrank") all_lowrank[st.layer] = st.next, any_lowrank = true;
  }
  parallel_for(2, [&](size_t i) {
    if (i == 0 && any_weight) ranking.weights_relaxed = float_stage(all_weights);
    if (i == 1 && any_lowrank) ranking.lowrank_relaxed = float_stage(all_lowrank);
  });
  std::atomic<size_t> done{0};
  std::mutex progress_mutex;
  parallel_for(steps.size(), [&](size_t i) {
    Step& st = steps[i];
    RelaxationPlan alone = plan;
    alone[st.layer] = st.next;
    const ir::Graph stage = proxy_stage(current, ranking, {&st}, alone);
    const std::vector<uint8_t> bytes = proxy(stage, alone, current);
    st.kl = proxy_kl(bytes);
    st.bytes = static_cast<int64_t>(bytes.size()) - ranking.base_bytes;
    st.score = (ranking.base_kl - st.kl) / static_cast<double>(std::max<int64_t>(st.bytes, 16));
    ++proxies_;
    std::lock_guard<std::mutex> lock(progress_mutex);
    progress(fmt::format("round {}: sensitivity", round), static_cast<double>(++done) / static_cast<double>(steps.size()));
  });
  std::stable_sort(steps.begin(), steps.end(), [&](const Step& a, const Step& b) {
    const bool ga = a.kl < ranking.base_kl, gb = b.kl < ranking.base_kl;
    if (ga != gb) return ga;
    if (ga) return a.score > b.score;
    return a.bytes < b.bytes;
  });
  log(fmt::format("round {}: {} layers relaxed one rung each, proxy KL {:.4g}, ranked in {:.1f} s", round,
                  steps.size(), ranking.base_kl,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()));
  return ranking;
}

// The prefix of the ranking to build: the shortest whose proxy (the steps together) removes
// the share `need` of the proxy KL, or, when no prefix does, 90% of what the steps that gain
// anything remove together.
size_t Search::choose_prefix(const FullBuild& current, const RelaxationPlan& plan, const Ranking& ranking, double need,
                             int round) {
  size_t gaining = 0;
  while (gaining < ranking.steps.size() && ranking.steps[gaining].kl < ranking.base_kl) ++gaining;
  if (gaining == 0) return ranking.steps.size();  // nothing helps alone: take every rung
  std::map<size_t, double> seen;
  auto together = [&](size_t k) {
    auto it = seen.find(k);
    if (it != seen.end()) return it->second;
    const RelaxationPlan p = plan_with(plan, ranking, k);
    std::vector<const Step*> taken;
    for (size_t i = 0; i < k; ++i) taken.push_back(&ranking.steps[i]);
    const ir::Graph stage = proxy_stage(current, ranking, taken, p);
    const double kl = proxy_kl(proxy(stage, p, current));
    ++proxies_;
    progress(fmt::format("round {}: choosing", round), 1.0);
    return seen[k] = kl;
  };
  const double all = together(gaining);
  const double target = std::max(ranking.base_kl * (1 - need), all + 0.1 * (ranking.base_kl - all));
  size_t lo = 0, hi = gaining;  // proxy(lo) above the target (lo = 0: the base), proxy(hi) at or below
  if (all > target) return gaining;
  while (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    (together(mid) <= target ? hi : lo) = mid;
  }
  return hi;
}

// How much of the proxy KL the failing budgets ask to remove: 1 - allowed / measured of the
// worst budget (errors: top-1 drop, disagreement, KL).
double needed_fraction(const CheckResult& c) {
  double need = 0.05;
  for (const Budget& b : c.budgets) {
    if (b.met) continue;
    const double measured = b.name == "min-agreement" ? 1 - b.bound : b.bound;
    const double allowed = b.name == "min-agreement" ? 1 - b.limit : b.limit;
    need = std::max(need, allowed > 0 && measured > 0 ? 1 - allowed / measured : 1.0);
  }
  return std::min(need, 1.0);
}

BackoffResult Search::run() {
  const auto start = std::chrono::steady_clock::now();
  BackoffResult res;
  RelaxationPlan plan;
  if (in_.check.budgets.empty()) {  // nothing to hold: the caller's check reports the build
    res.met = true;
    res.student = build(plan).build;
    res.builds = 1;
    res.first_bytes = static_cast<int64_t>(res.student.bytes.size());
    res.outcome = "no budget given";
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return res;
  }
  teacher_ = teacher_logits(in_.teacher, *in_.data, &classes_);
  std::pair<FullBuild, CheckResult> first = checked(plan, "the pipeline as given", res);
  FullBuild current = std::move(first.first);
  CheckResult metrics = std::move(first.second);
  res.first_bytes = static_cast<int64_t>(current.build.bytes.size());
  res.first_budgets = metrics.budgets;
  auto done = [&](bool met, std::string outcome) {
    res.met = met;
    res.student = std::move(current.build);
    res.plan = plan;
    res.outcome = std::move(outcome);
    res.proxies = proxies_;
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return std::move(res);
  };
  if (metrics.budgets_met) return done(true, "the pipeline as given meets the budgets");
  if (!in_.search) return done(false, "the pipeline as given fails a budget (--on-fail error: no back-off)");

  // Nothing to search when even every layer relaxed fails.
  {
    const RelaxationPlan top = fully_relaxed(layer_states(current.build.reports), plan);
    auto [b, c] = checked(top, "every layer relaxed", res);
    if (!c.budgets_met) {
      current = std::move(b);
      metrics = c;
      plan = top;
      return done(false, "the budgets fail even with every layer relaxed (no int8, no clustering, pruning or "
                         "factorization)");
    }
  }

  std::vector<Step> taken;  // parallel to res.relaxations
  auto keep = [&](const Ranking& ranking, size_t count, int round) {
    for (size_t i = 0; i < count; ++i) {
      const Step& st = ranking.steps[i];
      res.relaxations.push_back({st.layer, st.kind, st.from, st.to, round, static_cast<int>(i + 1), ranking.base_kl,
                                 st.kl, st.bytes});
      taken.push_back(st);
    }
  };
  // Earlier rounds' relaxations may not be needed once later ones are taken: one build tries
  // undoing the less valuable half (by proxy gain per byte) of those whose layer did not climb
  // again; kept when the budgets still hold.
  auto tighten_earlier = [&](int last_round) {
    std::vector<size_t> undo;
    for (size_t i = 0; i < taken.size(); ++i) {
      if (res.relaxations[i].round == last_round) continue;
      bool climbed_again = false;
      for (size_t j = i + 1; j < taken.size(); ++j) climbed_again = climbed_again || taken[j].layer == taken[i].layer;
      if (!climbed_again) undo.push_back(i);
    }
    std::stable_sort(undo.begin(), undo.end(), [&](size_t a, size_t b) { return taken[a].score < taken[b].score; });
    undo.resize(undo.size() / 2);
    if (undo.empty()) return;
    RelaxationPlan tighter = plan;
    for (size_t i : undo) tighter[taken[i].layer] = taken[i].before;
    auto [t, tc] = checked(tighter, fmt::format("undoing {} earlier relaxations", undo.size()), res);
    if (!tc.budgets_met || t.build.bytes.size() >= current.build.bytes.size()) return;
    std::sort(undo.begin(), undo.end());
    for (size_t k = undo.size(); k-- > 0;) {
      res.relaxations.erase(res.relaxations.begin() + static_cast<std::ptrdiff_t>(undo[k]));
      taken.erase(taken.begin() + static_cast<std::ptrdiff_t>(undo[k]));
    }
    plan = tighter;
    current = std::move(t);
    metrics = tc;
  };
  double share = kFirstShare;
  for (int round = 1;; ++round) {
    res.rounds = round;
    const Ranking ranking = rank_steps(current, plan, round);
    if (ranking.steps.empty()) return done(false, "every layer is relaxed and the budgets still fail");
    // At least a share of the ranking that doubles with every round that fails: few rounds
    // even when the budget's metric moves little with the proxy.
    const size_t least = static_cast<size_t>(std::ceil(static_cast<double>(ranking.steps.size()) * share));
    const size_t k = std::max(least, choose_prefix(current, plan, ranking, needed_fraction(metrics), round));
    share = std::min(1.0, 2 * share);
    progress(fmt::format("round {}: building {} steps", round, k), 1.0);
    auto [b, c] = checked(plan_with(plan, ranking, k), fmt::format("round {}: {} of {} steps", round, k, ranking.steps.size()),
                          res);
    if (!c.budgets_met) {  // the next round ranks again from here
      keep(ranking, k, round);
      plan = plan_with(plan, ranking, k);
      current = std::move(b);
      metrics = c;
      continue;
    }
    // Re-tighten: the shortest prefix of this round's ranking that holds, to an eighth of it.
    size_t fail = 0, hold = k;
    const size_t resolution = std::max<size_t>(1, k / 8);
    while (hold - fail > resolution) {
      const size_t mid = fail + (hold - fail) / 2;
      progress(fmt::format("round {}: tightening to {} steps", round, mid), 1.0);
      auto [t, tc] = checked(plan_with(plan, ranking, mid), fmt::format("round {}: {} steps", round, mid), res);
      if (tc.budgets_met) {
        hold = mid;
        b = std::move(t);
        c = tc;
      } else {
        fail = mid;
      }
    }
    keep(ranking, hold, round);
    plan = plan_with(plan, ranking, hold);
    current = std::move(b);
    metrics = c;
    if (round > 1) tighten_earlier(round);
    return done(true, fmt::format("the budgets hold after {} relaxation{} in {} round{}", res.relaxations.size(),
                                  res.relaxations.size() == 1 ? "" : "s", round, round == 1 ? "" : "s"));
  }
}

}  // namespace

BackoffResult compress_within_budget(const BackoffInput& input) {
  if (!input.data || !input.calibration || !input.serialize) throw_internal("back-off: input incomplete");
  Search search(input);
  return search.run();
}

}  // namespace pare::check
