#include "check/check_json.h"

namespace pare::check {

nlohmann::json check_json(const CheckResult& r) {
  nlohmann::json budgets = nlohmann::json::array();
  for (const Budget& b : r.budgets)
    budgets.push_back({{"name", b.name}, {"limit", b.limit}, {"value", b.value}, {"se", b.se}, {"bound", b.bound},
                       {"met", b.met}});
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerError& l : r.layers) {
    nlohmann::json j = {{"node", l.node}, {"op", l.op}, {"aligned", l.aligned}};
    if (l.aligned) {
      j["teacher_tensor"] = l.teacher_tensor;
      j["snr_db"] = l.snr_db;
      j["cosine"] = l.cosine;
    } else {
      j["why_not_aligned"] = l.why_not_aligned;
    }
    if (l.bytes_stored >= 0) {
      j["encoding"] = l.encoding;
      j["bytes_stored"] = l.bytes_stored;
      j["bytes_dense"] = l.bytes_dense;
    }
    if (!l.relaxed.empty()) j["relaxed"] = l.relaxed;
    layers.push_back(std::move(j));
  }
  nlohmann::json metrics = {{"agreement", r.agreement}, {"agreement_se", r.agreement_se}, {"kl", r.kl},
                            {"kl_se", r.kl_se},         {"cosine", r.cosine},             {"snr_db", r.snr_db}};
  if (r.has_labels) {
    metrics["teacher_top1"] = r.teacher_top1;
    metrics["student_top1"] = r.student_top1;
    metrics["top1_drop"] = r.top1_drop;
    metrics["top1_drop_se"] = r.top1_drop_se;
  }
  nlohmann::json j = {{"schema_version", r.schema_version},
          {"teacher", r.teacher},
          {"student", r.student},
          {"data", r.data},
          {"labels", r.has_labels ? nlohmann::json(r.labels) : nlohmann::json(nullptr)},
          {"samples", r.samples},
          {"temperature", r.temperature},
          {"teacher_bytes", r.teacher_bytes},
          {"student_bytes", r.student_bytes},
          {"metrics", metrics},
          {"margin", r.margin},
          {"budgets", budgets},
          {"budgets_met", r.budgets_met},
          {"layers", layers}};
  if (r.backoff) {
    const BackoffSummary& b = *r.backoff;
    nlohmann::json given = nlohmann::json::array();
    for (const Budget& g : b.budgets_given)
      given.push_back({{"name", g.name}, {"limit", g.limit}, {"value", g.value}, {"se", g.se}, {"bound", g.bound},
                       {"met", g.met}});
    nlohmann::json steps = nlohmann::json::array();
    for (const RelaxationStep& x : b.relaxations)
      steps.push_back({{"layer", x.layer}, {"kind", x.kind}, {"from", x.from}, {"to", x.to}, {"round", x.round},
                       {"rank", x.rank}, {"proxy_kl_before", x.proxy_kl_before}, {"proxy_kl_after", x.proxy_kl_after},
                       {"bytes", x.bytes}});
    j["backoff"] = {{"outcome", b.outcome},        {"pipeline_given", b.pipeline_given},
                    {"pipeline_run", b.pipeline_run}, {"bytes_given", b.bytes_given},
                    {"budgets_given", given},       {"relaxations", steps},
                    {"rounds", b.rounds},           {"builds", b.builds},
                    {"proxies", b.proxies},         {"seconds", b.seconds}};
  }
  return j;
}

}  // namespace pare::check
