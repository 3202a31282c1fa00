#include "passes/pass_manager.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>

#include "formats/pare/sparse_encoding.h"
#include "ir/verifier.h"
#include "passes/canonical.h"

namespace pare::passes {

const char* const kCanonicalPipeline = "fold,fold_batchnorm,fuse_activation,fuse_layernorm,remove_identity,nhwc,dce";

// ---- options ----------------------------------------------------------------------

std::string PassOptions::get(const std::string& key, const std::string& dflt) const {
  auto it = values.find(key);
  return it == values.end() ? dflt : it->second;
}

double PassOptions::get_double(const std::string& key, double dflt) const {
  auto it = values.find(key);
  if (it == values.end()) return dflt;
  const char* begin = it->second.c_str();
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(begin, &end);
  if (it->second.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
    throw_invalid("option '" + key + "' expects a number, got '" + it->second + "'");
  return v;
}

int64_t PassOptions::get_int(const std::string& key, int64_t dflt) const {
  auto it = values.find(key);
  if (it == values.end()) return dflt;
  const char* begin = it->second.c_str();
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(begin, &end, 10);
  if (it->second.empty() || *end != '\0' || errno == ERANGE)
    throw_invalid("option '" + key + "' expects an integer, got '" + it->second + "'");
  return static_cast<int64_t>(v);
}

// ---- pipeline text ----------------------------------------------------------------

namespace {

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_value_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '+' || c == '/' || c == ':';
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

// Recursive descent over: pipeline = [item (',' item)*]; item = name ['(' option (',' option)* ')'];
// option = name '=' value. Positions in messages are 1-based character columns.
class PipelineParser {
 public:
  explicit PipelineParser(const std::string& text) : text_(text) {}

  std::vector<PipelineItem> parse() {
    std::vector<PipelineItem> items;
    skip_space();
    if (at_end()) return items;  // an empty pipeline runs no pass
    for (;;) {
      items.push_back(item());
      skip_space();
      if (at_end()) break;
      expect(',', "',' or the end of the pipeline");
    }
    return items;
  }

 private:
  PipelineItem item() {
    skip_space();
    size_t name_pos = pos_;
    PipelineItem item;
    item.pass = name("a pass name");
    const PassInfo* info = find_pass(item.pass);
    if (!info) {
      std::vector<std::string> known;
      for (const PassInfo& p : registry()) known.push_back(p.name);
      fail_at(name_pos, "unknown pass '" + item.pass + "'; known passes: " + join(known, ", "));
    }
    skip_space();
    if (peek() != '(') return item;
    ++pos_;
    for (;;) {
      skip_space();
      size_t key_pos = pos_;
      std::string key = name("an option name");
      bool known = std::any_of(info->options.begin(), info->options.end(),
                               [&](const auto& o) { return o.first == key; });
      if (!known) {
        std::vector<std::string> names;
        for (const auto& o : info->options) names.push_back(o.first);
        fail_at(key_pos, "pass '" + item.pass + "' has no option '" + key + "'; " +
                             (names.empty() ? "it takes no options"
                                            : "its options: " + join(names, ", ")));
      }
      if (item.options.has(key)) fail_at(key_pos, "option '" + key + "' is given twice");
      skip_space();
      expect('=', "'=' after option '" + key + "'");
      skip_space();
      std::string value = option_value(key);
      // A list value (exclude=a,b,c): a comma followed by a word that is not "name=" continues it.
      while (peek() == ',' && !option_follows(pos_ + 1)) {
        ++pos_;
        skip_space();
        value += "," + option_value(key);
      }
      item.options.values[key] = value;
      item.options.order.push_back(key);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(')', "',' or ')' in the options of pass '" + item.pass + "'");
      return item;
    }
  }

  // A value: value characters, with balanced parentheses allowed (calib=percentile(99.9)).
  std::string option_value(const std::string& key) {
    const std::string what = "a value for option '" + key + "'";
    size_t start = pos_;
    int depth = 0;
    while (!at_end()) {
      const char c = peek();
      if (c == '(') {
        ++depth;
      } else if (c == ')') {
        if (depth == 0) break;
        --depth;
      } else if (!is_value_char(c) && !(depth > 0 && c == ',')) {
        break;
      }
      ++pos_;
    }
    if (depth != 0) fail_expected("')' closing the value of option '" + key + "'");
    if (pos_ == start) fail_expected(what);
    return text_.substr(start, pos_ - start);
  }

  // True when "name =" starts at `pos` (after spaces): the next option, not a list item.
  bool option_follows(size_t pos) const {
    while (pos < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos]))) ++pos;
    if (pos >= text_.size() || !is_name_start(text_[pos])) return false;
    while (pos < text_.size() && is_name_char(text_[pos])) ++pos;
    while (pos < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos]))) ++pos;
    return pos < text_.size() && text_[pos] == '=';
  }

  std::string name(const std::string& what) {
    if (at_end() || !is_name_start(peek())) fail_expected(what);
    return word(is_name_char, what);
  }

  std::string word(bool (*accept)(char), const std::string& what) {
    size_t start = pos_;
    while (!at_end() && accept(peek())) ++pos_;
    if (pos_ == start) fail_expected(what);
    return text_.substr(start, pos_ - start);
  }

  void expect(char c, const std::string& what) {
    if (peek() != c) fail_expected(what);
    ++pos_;
  }

  void skip_space() {
    while (!at_end() && std::isspace(static_cast<unsigned char>(peek()))) ++pos_;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  [[noreturn]] void fail_expected(const std::string& what) const {
    std::string found = at_end() ? "the end of the text" : "'" + std::string(1, peek()) + "'";
    fail_at(pos_, "expected " + what + ", found " + found);
  }

  [[noreturn]] void fail_at(size_t pos, const std::string& message) const {
    throw_invalid("pipeline '" + text_ + "', position " + std::to_string(pos + 1) + ": " + message);
  }

  const std::string& text_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<PipelineItem> parse_pipeline(const std::string& text) {
  return PipelineParser(text).parse();
}

std::string print_pipeline(const std::vector<PipelineItem>& items) {
  std::vector<std::string> parts;
  for (const PipelineItem& item : items) {
    // Keys in the order written; keys set without `order` (built in code) follow, sorted.
    std::vector<std::string> keys;
    for (const std::string& k : item.options.order)
      if (item.options.has(k) && std::find(keys.begin(), keys.end(), k) == keys.end())
        keys.push_back(k);
    for (const auto& kv : item.options.values)
      if (std::find(keys.begin(), keys.end(), kv.first) == keys.end()) keys.push_back(kv.first);
    std::string text = item.pass;
    if (!keys.empty()) {
      std::vector<std::string> options;
      for (const std::string& k : keys) options.push_back(k + "=" + item.options.values.at(k));
      text += "(" + join(options, ",") + ")";
    }
    parts.push_back(std::move(text));
  }
  return join(parts, ",");
}

// ---- running ----------------------------------------------------------------------

// What the writer would store for the constants the graph reads (sparse layouts included).
size_t weight_bytes(const ir::Graph& graph, StoredBytesCache* cache) {
  // The tensors read, marked by id, then visited in id order: one pass over the tensor
  // table in memory order. A set filled from the node inputs visited the table at random,
  // a cache miss per tensor (7% of converting 16,384 layer normalizations, two calls per pass).
  std::vector<bool> read(graph.tensor_capacity(), false);
  auto mark = [&](ir::TensorId t) {
    if (t >= 0 && static_cast<size_t>(t) < read.size()) read[static_cast<size_t>(t)] = true;
  };
  for (ir::NodeId n : graph.nodes())
    for (ir::TensorId t : graph.node(n).inputs) mark(t);
  for (ir::TensorId t : graph.outputs) mark(t);
  size_t total = 0;
  for (size_t id = 0; id < read.size(); ++id) {
    if (!read[id]) continue;
    const ir::Tensor& t = graph.tensor(static_cast<ir::TensorId>(id));
    if (!t.is_constant()) continue;
    if (!cache) {
      total += static_cast<size_t>(format::stored_bytes(t));
      continue;
    }
    StoredBytesCache::Entry& e = cache->entries[t.data.get()];
    if (e.buffer.lock() != t.data || e.dtype != t.dtype || !(e.shape == t.shape))
      e = {t.data, t.dtype, t.shape, format::stored_bytes(t)};
    total += static_cast<size_t>(e.bytes);
  }
  return total;
}

Status run_pass(ir::Graph& graph, const PassInfo& pass, const PassOptions& options,
                PassContext& ctx, const std::string& pipeline) {
  PassReport report;
  report.pass = pass.name;
  report.nodes_before = graph.num_nodes();
  report.weight_bytes_before = weight_bytes(graph, &ctx.stored_bytes);
  ctx.reports.push_back(std::move(report));
  const size_t index = ctx.reports.size() - 1;

  auto start = std::chrono::steady_clock::now();
  Status status;
  try {
    status = pass.run(graph, options, ctx);
  } catch (const Error& e) {
    status = e.status();
  } catch (const std::exception& e) {
    status = Status(Status::kInternal, e.what());
  }
  PassReport& done = ctx.reports[index];
  done.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  done.nodes_after = graph.num_nodes();
  done.weight_bytes_after = weight_bytes(graph, &ctx.stored_bytes);

  const std::string prefix = "pass '" + pass.name + "' failed in pipeline '" + pipeline + "': ";
  if (!status) return Status(status.code(), prefix + status.message());
  if (ctx.verify_each) {
    Status verified = ir::verify(graph);
    if (!verified)
      return Status(Status::kInternal, prefix + "the graph it left is invalid: " + verified.message());
  }
  return Status::ok();
}

Status run_pipeline(ir::Graph& graph, const std::string& pipeline, PassContext& ctx) {
  std::vector<PipelineItem> items;
  try {
    items = parse_pipeline(pipeline);
  } catch (const Error& e) {
    return e.status();
  }
  return run_pipeline(graph, items, ctx);
}

Status run_pipeline(ir::Graph& graph, const std::vector<PipelineItem>& items, PassContext& ctx) {
  const std::string pipeline = print_pipeline(items);
  Status folded = infer_and_fold(graph);
  if (!folded)
    return Status(folded.code(), "shape inference before pipeline '" + pipeline +
                                     "' failed: " + folded.message());
  if (ctx.verify_each) {
    Status verified = ir::verify(graph);
    if (!verified)
      return Status(Status::kInternal, "graph invalid after shape inference, before pipeline '" +
                                           pipeline + "': " + verified.message());
  }
  for (size_t i = 0; i < items.size(); ++i) {
    Status status = run_pass(graph, *find_pass(items[i].pass), items[i].options, ctx, pipeline);
    if (!status) return status;
    if (ctx.progress) ctx.progress(items[i].pass, static_cast<double>(i + 1) / items.size());
  }
  return Status::ok();
}

}  // namespace pare::passes
