#include "check/check_html.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <map>
#include <string_view>
#include <vector>

#include "check/metrics.h"
#include "formats/pare/writer.h"

namespace pare::check {
namespace {

// Every string that reaches the page (node names, paths, reasons) comes from the user's
// files: escaped for text and attribute values alike; control characters become U+FFFD.
std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') out += "&#xFFFD;";
        else out += c;
    }
  }
  return out;
}

// At most `max` bytes of `s`, cut on a UTF-8 character boundary, with an ellipsis when cut.
std::string shorten(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "\u2026";
}

// A number as text: "n/a" for NaN, signed infinity for infinities, no "-0.00".
std::string num(double v, int decimals) {
  if (std::isnan(v)) return "n/a";
  if (std::isinf(v)) return v > 0 ? "\u221E" : "\u2212\u221E";
  std::string s = fmt::format("{:.{}f}", v, decimals);
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);
  return s;
}
std::string general(double v) { return std::isfinite(v) ? fmt::format("{:.4g}", v) : num(v, 0); }
std::string coord(double v) { return fmt::format("{:.1f}", v); }

std::string grouped(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}
// Decimal units, as on the bytes chart's axis.
std::string human_bytes(double b) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) b /= 1000, ++u;
  return fmt::format("{:.3g} {}", b, units[u]);
}
std::string bytes_cell(int64_t b) { return b < 0 ? "\u2014" : grouped(b); }

// A step of 1, 2 or 5 times a power of ten giving at most `max_ticks` ticks over `range`.
double nice_step(double range, int max_ticks) {
  double step = std::pow(10.0, std::floor(std::log10(std::max(range, 1e-9) / max_ticks)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (range / (step * m) <= max_ticks) return step * m;
  return step * 10;
}

bool has_weight(const LayerError& l) { return l.bytes_dense >= 0 && l.bytes_stored >= 0; }
bool charted(const LayerError& l) { return l.aligned && !std::isnan(l.snr_db); }
std::string encoding_name(const LayerError& l) { return l.encoding.empty() ? "(none)" : l.encoding; }

constexpr const char* kPalette[] = {"#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756",
                                    "#72b7b2", "#eeca3b", "#9d755d", "#ff9da6", "#bab0ac"};

// Geometry shared by both charts: the SVG's size and the plot area inside it.
struct Frame {
  double width = 1120, height = 340, left = 72, right = 16, top = 36, bottom = 48;
  double plot_w() const { return width - left - right; }
  double plot_h() const { return height - top - bottom; }
  double base() const { return top + plot_h(); }
};

std::string svg_open(const Frame& f, const char* cls, const std::string& label) {
  return fmt::format("<svg class=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
                     "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">\n",
                     cls, f.width, f.height, f.width, f.height, esc(label));
}

// The x axis: a tick every few slots, labelled with the layer's number in the table.
std::string x_axis(const Frame& f, const std::vector<size_t>& layer_of_slot, double slot_w, const std::string& title) {
  const size_t slots = layer_of_slot.size();
  std::string s = fmt::format("<line class=\"axis\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>\n", coord(f.left),
                              coord(f.base()), coord(f.left + f.plot_w()), coord(f.base()));
  const size_t step = static_cast<size_t>(nice_step(static_cast<double>(slots), 20));
  for (size_t i = 0; i < slots; i += std::max<size_t>(step, 1)) {
    const double x = f.left + (i + 0.5) * slot_w;
    s += fmt::format("<line class=\"tick\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>"
                     "<text class=\"tick-label\" x=\"{0}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>\n",
                     coord(x), coord(f.base()), coord(f.base() + 5), coord(f.base() + 18), layer_of_slot[i] + 1);
  }
  s += fmt::format("<text class=\"axis-title\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                   coord(f.left + f.plot_w() / 2), coord(f.height - 8), title);
  return s;
}

std::string y_tick(const Frame& f, double y, const std::string& label) {
  return fmt::format("<line class=\"grid\" x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>"
                     "<text class=\"tick-label\" x=\"{3}\" y=\"{4}\" text-anchor=\"end\">{5}</text>\n",
                     coord(f.left), coord(y), coord(f.left + f.plot_w()), coord(f.left - 6), coord(y + 4), label);
}

// The aligned layers with a finite SNR, worst first (ties in execution order).
std::vector<size_t> worst_layers(const std::vector<LayerError>& layers, size_t count) {
  std::vector<size_t> idx;
  for (size_t i = 0; i < layers.size(); ++i)
    if (charted(layers[i]) && std::isfinite(layers[i].snr_db)) idx.push_back(i);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return layers[a].snr_db < layers[b].snr_db; });
  idx.resize(std::min(idx.size(), count));
  return idx;
}

std::string snr_chart(const std::vector<LayerError>& layers, const std::vector<size_t>& worst) {
  if (layers.empty()) return "<p class=\"empty\">No layers to chart.</p>\n";
  Frame f;
  double lo = 0, hi = 0;
  bool any_finite = false;
  for (const LayerError& l : layers) {
    if (!charted(l) || !std::isfinite(l.snr_db)) continue;
    lo = std::min(lo, l.snr_db), hi = std::max(hi, l.snr_db), any_finite = true;
  }
  if (!any_finite) hi = 60;
  const double step = nice_step(hi - lo, 8);
  lo = std::floor(lo / step) * step;
  hi = std::max(std::ceil(hi / step) * step, lo + step);
  auto y_of = [&](double v) { return f.top + f.plot_h() * (hi - std::clamp(v, lo, hi)) / (hi - lo); };
  const double slot = f.plot_w() / layers.size(), bar = std::max(1.0, slot * 0.75);

  std::string s = svg_open(f, "snr-chart", "SNR in dB per layer, in execution order");
  for (double v = lo; v <= hi + step / 2; v += step) s += y_tick(f, y_of(v), num(v, 0));
  s += fmt::format("<text class=\"axis-title\" transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\">"
                   "SNR (dB)</text>\n", coord(f.top + f.plot_h() / 2));
  std::vector<size_t> all(layers.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  s += x_axis(f, all, slot, "layer (execution order)");
  if (lo < 0)
    s += fmt::format("<line class=\"zero\" x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>\n", coord(f.left),
                     coord(y_of(0)), coord(f.left + f.plot_w()));
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerError& l = layers[i];
    const double cx = f.left + (i + 0.5) * slot;
    if (!charted(l)) {  // a gap, marked on the axis
      s += fmt::format("<path class=\"gap-mark\" d=\"M{} {}l6 -9l6 9z\"><title>#{} {}: not aligned</title></path>\n",
                       coord(cx - 6), coord(f.base() - 1), i + 1, esc(l.node));
      continue;
    }
    const bool exact = std::isinf(l.snr_db) && l.snr_db > 0;
    const bool is_worst = std::find(worst.begin(), worst.end(), i) != worst.end();
    const double y0 = y_of(0), y1 = y_of(l.snr_db);
    s += fmt::format("<rect class=\"snr-bar{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>#{} {}: {} dB"
                     "</title></rect>\n",
                     exact ? " exact" : is_worst ? " worst" : "", coord(cx - bar / 2), coord(std::min(y0, y1)),
                     coord(bar), coord(std::max(1.0, std::abs(y1 - y0))), i + 1, esc(l.node), num(l.snr_db, 2));
  }
  for (size_t rank = 0; rank < worst.size(); ++rank) {  // labels, staggered so neighbours stay legible
    const size_t i = worst[rank];
    const double cx = f.left + (i + 0.5) * slot;
    const double y = std::max(f.top - 20, std::min(y_of(layers[i].snr_db), y_of(0)) - 6 - 14.0 * rank);
    const char* anchor = cx < f.left + 120 ? "start" : cx > f.left + f.plot_w() - 120 ? "end" : "middle";
    s += fmt::format("<text class=\"worst-label\" x=\"{}\" y=\"{}\" text-anchor=\"{}\">{} ({} dB)</text>\n", coord(cx),
                     coord(y), anchor, esc(shorten(layers[i].node, 32)), num(layers[i].snr_db, 1));
  }
  return s + "</svg>\n";
}

std::string bytes_chart(const std::vector<LayerError>& layers, const std::map<std::string, std::string>& colours) {
  std::vector<size_t> weighted;
  for (size_t i = 0; i < layers.size(); ++i)
    if (has_weight(layers[i])) weighted.push_back(i);
  if (weighted.empty()) return "<p class=\"empty\">No layer has a constant weight.</p>\n";
  Frame f;
  int64_t smallest = INT64_MAX, largest = 1;
  for (size_t i : weighted) {
    smallest = std::min({smallest, std::max<int64_t>(layers[i].bytes_stored, 1), std::max<int64_t>(layers[i].bytes_dense, 1)});
    largest = std::max({largest, layers[i].bytes_stored, layers[i].bytes_dense});
  }
  const int lo = static_cast<int>(std::floor(std::log10(static_cast<double>(smallest))));
  const int hi = std::max(lo + 1, static_cast<int>(std::ceil(std::log10(static_cast<double>(largest)))));
  auto y_of = [&](int64_t b) {
    const double l = std::clamp(std::log10(static_cast<double>(std::max<int64_t>(b, 1))), double(lo), double(hi));
    return f.top + f.plot_h() * (hi - l) / (hi - lo);
  };
  const double slot = f.plot_w() / weighted.size();
  std::string s = svg_open(f, "bytes-chart", "stored and dense float32 bytes per layer with a weight");
  for (int p = lo; p <= hi; p += (hi - lo > 8 ? 2 : 1)) s += y_tick(f, y_of(int64_t(std::pow(10.0, p))), human_bytes(std::pow(10.0, p)));
  s += fmt::format("<text class=\"axis-title\" transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\">"
                   "bytes (log scale)</text>\n", coord(f.top + f.plot_h() / 2));
  s += x_axis(f, weighted, slot, "layer with a weight (execution order)");
  for (size_t k = 0; k < weighted.size(); ++k) {
    const LayerError& l = layers[weighted[k]];
    const double cx = f.left + (k + 0.5) * slot, wd = std::max(1.0, slot * 0.8), ws = std::max(1.0, slot * 0.45);
    s += fmt::format("<g><title>#{} {}: {} of {} bytes ({})</title>", weighted[k] + 1, esc(l.node),
                     grouped(l.bytes_stored), grouped(l.bytes_dense), esc(encoding_name(l)));
    s += fmt::format("<rect class=\"bytes-dense\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>", coord(cx - wd / 2),
                     coord(y_of(l.bytes_dense)), coord(wd), coord(f.base() - y_of(l.bytes_dense)));
    s += fmt::format("<rect class=\"bytes-stored\" fill=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></g>\n",
                     colours.at(encoding_name(l)), coord(cx - ws / 2), coord(y_of(l.bytes_stored)), coord(ws),
                     coord(f.base() - y_of(l.bytes_stored)));
  }
  // Legend across the top.
  double x = f.left;
  auto legend = [&](const std::string& fill, const std::string& text) {
    s += fmt::format("<rect class=\"legend\" x=\"{}\" y=\"8\" width=\"12\" height=\"12\" fill=\"{}\"/>"
                     "<text class=\"tick-label\" x=\"{}\" y=\"18\">{}</text>\n", coord(x), fill, coord(x + 16), esc(text));
    x += 28 + 7.0 * text.size();
  };
  legend("#d9d9d9", "dense float32");
  for (const auto& [name, colour] : colours) legend(colour, name);
  return s + "</svg>\n";
}

const char* kStyle = R"(body{font:14px/1.45 system-ui,sans-serif;color:#222;margin:24px auto;max-width:1160px;padding:0 12px}
h1{font-size:24px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.verdict{display:inline-block;padding:2px 14px;border-radius:4px;color:#fff;font-weight:700}
.verdict.pass{background:#2e7d32}.verdict.fail{background:#c62828}
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.met{color:#2e7d32;font-weight:600}.not-met{color:#c62828;font-weight:700}
tr.unaligned td{color:#777;background:#fafafa}tr.worst td{background:#fdecea}
code{font-size:13px;overflow-wrap:break-word}.backoff code{word-break:break-all}.scroll{overflow-x:auto}.empty,.note{color:#666}
svg{display:block;margin:8px 0;background:#fff}.axis{stroke:#333}.tick{stroke:#333}.grid{stroke:#e6e6e6}
.zero{stroke:#333;stroke-dasharray:4 3}.tick-label{font-size:11px;fill:#333}.axis-title{font-size:12px;fill:#333}
.snr-bar{fill:#4c78a8}.snr-bar.worst{fill:#d62728}.snr-bar.exact{fill:#54a24b}.gap-mark{fill:#999}
.worst-label{font-size:11px;fill:#b71c1c;font-weight:600;paint-order:stroke;stroke:#fff;stroke-width:3px}.bytes-dense{fill:#d9d9d9}
)";

void row(std::string& s, const std::string& name, const std::string& value) {
  s += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", name, value);
}

}  // namespace

std::string render_html(const CheckResult& r) {
  const bool pass = r.budgets_met;
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  const char* tool = r.backoff ? "pare compress" : "pare check";
  s += fmt::format("<title>{}: {} \u2014 {}</title>\n", tool, pass ? "PASS" : "FAIL", esc(r.student));
  s += fmt::format("<style>\n{}</style>\n</head>\n<body>\n", kStyle);
  s += fmt::format("<h1>{} <span class=\"verdict {}\">{}</span></h1>\n", tool, pass ? "pass" : "fail",
                   pass ? "PASS" : "FAIL");
  if (r.backoff) s += fmt::format("<p>{}.</p>\n", esc(r.backoff->outcome));

  size_t met = 0;
  for (const Budget& b : r.budgets) met += b.met;
  s += "<h2>Budgets</h2>\n";
  if (r.budgets.empty()) {
    s += "<p class=\"empty\">No budgets given: nothing can fail.</p>\n";
  } else {
    s += fmt::format("<p>{} of {} budgets met{}.</p>\n<table class=\"budgets\">\n"
                     "<tr><th>budget</th><th>limit</th><th>measured</th><th>standard error</th><th>with margin</th>"
                     "<th></th></tr>\n", met, r.budgets.size(),
                     r.margin > 0 ? fmt::format(" (each with a margin of {} standard errors)", general(r.margin)) : "");
    for (const Budget& b : r.budgets)
      s += fmt::format("<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                       "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"{}\">{}</td></tr>\n",
                       esc(b.name), general(b.limit), general(b.value), general(b.se), general(b.bound),
                       b.met ? "met" : "not-met", b.met ? "met" : "NOT MET");
    s += "</table>\n";
  }
  if (r.backoff) {
    const BackoffSummary& b = *r.backoff;
    s += "<h2>Back-off</h2>\n<table class=\"backoff\">\n";
    row(s, "pipeline given", "<code>" + esc(b.pipeline_given) + "</code>");
    row(s, "its file", fmt::format("{} bytes", grouped(b.bytes_given)));
    std::string given;
    for (const Budget& g : b.budgets_given)
      given += fmt::format("{}<code>{}</code> {} ({})", given.empty() ? "" : ", ", esc(g.name), general(g.value),
                           g.met ? "met" : "NOT MET");
    if (!given.empty()) row(s, "its budgets", given);
    row(s, "pipeline run", "<code>" + esc(b.pipeline_run) + "</code>");
    row(s, "search", fmt::format("{} round(s), {} full builds checked, {} proxy builds, {} s", b.rounds, b.builds,
                                 b.proxies, num(b.seconds, 1)));
    s += "</table>\n";
    if (b.relaxations.empty()) {
      s += "<p class=\"empty\">Nothing relaxed.</p>\n";
    } else {
      int64_t total = 0;
      for (const RelaxationStep& x : b.relaxations) total += x.bytes;
      s += fmt::format("<p>{} relaxations kept, {} bytes by the proxy builds. Ranked by the proxy's KL gain per "
                       "byte: the mean KL(teacher \u2016 student) on a subset of the check data with the layer "
                       "relaxed alone.</p>\n", b.relaxations.size(), grouped(total));
      s += "<div class=\"scroll\"><table class=\"relaxations\">\n<tr><th>round</th><th>rank</th><th>layer</th>"
           "<th>from</th><th>to</th><th>proxy KL before</th><th>alone</th><th>bytes</th></tr>\n";
      for (const RelaxationStep& x : b.relaxations)
        s += fmt::format("<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td><code>{}</code></td><td>{}</td>"
                         "<td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                         x.round, x.rank, esc(x.layer), esc(x.from), esc(x.to), general(x.proxy_kl_before),
                         general(x.proxy_kl_after), grouped(x.bytes));
      s += "</table></div>\n";
    }
  }

  s += "<h2>Models</h2>\n<table class=\"models\">\n";
  row(s, "teacher", fmt::format("<code>{}</code>, {} bytes ({})", esc(r.teacher), grouped(r.teacher_bytes),
                                human_bytes(static_cast<double>(r.teacher_bytes))));
  row(s, "student", fmt::format("<code>{}</code>, {} bytes ({})", esc(r.student), grouped(r.student_bytes),
                                human_bytes(static_cast<double>(r.student_bytes))));
  row(s, "size ratio", r.student_bytes > 0
                           ? fmt::format("{}\u00D7 smaller (teacher / student)",
                                         num(double(r.teacher_bytes) / double(r.student_bytes), 2))
                           : std::string("n/a"));
  row(s, "data", fmt::format("<code>{}</code>, {} samples", esc(r.data), r.samples));
  row(s, "labels", r.labels.empty() ? std::string("none") : "<code>" + esc(r.labels) + "</code>");
  s += "</table>\n";

  s += "<h2>Whole-model metrics</h2>\n<table class=\"metrics\">\n";
  if (r.has_labels) {
    row(s, "teacher top-1", num(r.teacher_top1, 2) + " %");
    row(s, "student top-1", num(r.student_top1, 2) + " %");
    row(s, "top-1 drop", num(r.top1_drop, 2) + " points");
  } else {
    row(s, "top-1", "<span class=\"note\">no labels given</span>");
  }
  row(s, "agreement (same top-1 class)", num(r.agreement, 2) + " %");
  row(s, fmt::format("KL(teacher \u2016 student), T = {}", general(r.temperature)), general(r.kl) + " nats");
  row(s, "cosine of the outputs", num(r.cosine, 5));
  row(s, "SNR of the outputs", num(r.snr_db, 2) + " dB");
  s += "</table>\n";

  // pare check caps the SNR of identical tensors at kSnrCapDb (JSON has no infinity): chart
  // them as exact, off the scale of the others.
  std::vector<LayerError> layers = r.layers;
  for (LayerError& l : layers)
    if (l.snr_db >= kSnrCapDb) l.snr_db = INFINITY;
  const std::vector<size_t> worst = worst_layers(layers, 3);
  s += "<h2>Error per layer</h2>\n<p class=\"note\">SNR of each student layer against the teacher tensor it is "
       "aligned with, in execution order; the worst layers are red and labelled, exact layers (no error) green and "
       "drawn to the top, unaligned layers are gaps marked with a grey triangle.</p>\n";
  s += snr_chart(layers, worst);
  std::string unaligned;
  size_t unaligned_count = 0;
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const LayerError& l = r.layers[i];
    if (l.aligned) continue;
    ++unaligned_count;
    unaligned += fmt::format("<li>#{} <code>{}</code> ({}): {}</li>\n", i + 1, esc(l.node), esc(l.op),
                             l.why_not_aligned.empty() ? "no reason given" : esc(l.why_not_aligned));
  }
  if (unaligned_count > 0)
    s += fmt::format("<p>Not aligned ({}):</p>\n<ul class=\"unaligned\">\n{}</ul>\n", unaligned_count, unaligned);

  // Encodings in name order, each with its colour and totals.
  std::map<std::string, std::string> colours;
  std::map<std::string, std::array<int64_t, 3>> totals;  // layers, stored, dense
  for (const LayerError& l : r.layers) {
    if (!has_weight(l)) continue;
    auto& t = totals[encoding_name(l)];
    t[0] += 1, t[1] += l.bytes_stored, t[2] += l.bytes_dense;
  }
  for (const auto& [name, t] : totals) colours[name] = kPalette[colours.size() % std::size(kPalette)];
  s += "<h2>Weight bytes per layer</h2>\n";
  s += bytes_chart(r.layers, colours);
  if (!totals.empty()) {
    s += "<table class=\"encodings\">\n<tr><th>encoding</th><th>layers</th><th>stored bytes</th><th>dense bytes</th>"
         "<th>stored / dense</th></tr>\n";
    for (const auto& [name, t] : totals)
      s += fmt::format("<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}"
                       "</td><td class=\"n\">{}</td></tr>\n", esc(name), t[0], grouped(t[1]), grouped(t[2]),
                       t[2] > 0 ? num(100.0 * t[1] / t[2], 1) + " %" : std::string("n/a"));
    s += "</table>\n";
  }

  s += "<h2>All layers</h2>\n";
  if (r.layers.empty()) {
    s += "<p class=\"empty\">No layers.</p>\n";
  } else {
    const bool relaxed = r.backoff.has_value();
    s += fmt::format("<div class=\"scroll\"><table class=\"layers\">\n<tr><th>#</th><th>node</th><th>op</th>"
                     "<th>encoding</th><th>stored bytes</th><th>dense bytes</th><th>SNR (dB)</th><th>cosine</th>"
                     "<th>aligned with</th>{}</tr>\n", relaxed ? "<th>back-off</th>" : "");
    for (size_t i = 0; i < r.layers.size(); ++i) {
      const LayerError& l = r.layers[i];
      const bool is_worst = std::find(worst.begin(), worst.end(), i) != worst.end();
      const std::string cls = !l.aligned ? " class=\"unaligned\"" : is_worst ? " class=\"worst\"" : "";
      const std::string aligned = l.aligned ? "<code>" + esc(l.teacher_tensor) + "</code>"
                                            : "not aligned: " + esc(l.why_not_aligned);
      s += fmt::format("<tr{}><td class=\"n\">{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"n\">{}"
                       "</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td>{}</tr>\n",
                       cls, i + 1, esc(l.node), esc(l.op), has_weight(l) ? esc(encoding_name(l)) : "",
                       bytes_cell(l.bytes_stored), bytes_cell(l.bytes_dense), l.aligned ? num(l.snr_db, 2) : "",
                       l.aligned ? num(l.cosine, 5) : "", aligned, relaxed ? "<td>" + esc(l.relaxed) + "</td>" : "");
    }
    s += "</table></div>\n";
  }
  s += fmt::format("<p class=\"note\">{} report, schema version {}.</p>\n</body>\n</html>\n", tool, r.schema_version);
  return s;
}

void write_html(const CheckResult& r, const std::string& path) {
  const std::string page = render_html(r);
  format::write_file_atomic(path, page.data(), page.size());
}

}  // namespace pare::check
