#include "check/check_json.h"

namespace pare::check {

nlohmann::json check_json(const CheckResult& r) {
  nlohmann::json budgets = nlohmann::json::array();
  for (const Budget& b : r.budgets)
    budgets.push_back({{"name", b.name}, {"limit", b.limit}, {"value", b.value}, {"met", b.met}});
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
    layers.push_back(std::move(j));
  }
  nlohmann::json metrics = {{"agreement", r.agreement}, {"kl", r.kl}, {"cosine", r.cosine}, {"snr_db", r.snr_db}};
  if (r.has_labels) {
    metrics["teacher_top1"] = r.teacher_top1;
    metrics["student_top1"] = r.student_top1;
    metrics["top1_drop"] = r.top1_drop;
  }
  return {{"schema_version", r.schema_version},
          {"teacher", r.teacher},
          {"student", r.student},
          {"data", r.data},
          {"labels", r.has_labels ? nlohmann::json(r.labels) : nlohmann::json(nullptr)},
          {"samples", r.samples},
          {"temperature", r.temperature},
          {"teacher_bytes", r.teacher_bytes},
          {"student_bytes", r.student_bytes},
          {"metrics", metrics},
          {"budgets", budgets},
          {"budgets_met", r.budgets_met},
          {"layers", layers}};
}

}  // namespace pare::check
