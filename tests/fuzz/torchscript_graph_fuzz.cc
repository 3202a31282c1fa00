// A TorchScript forward graph from anywhere, as TorchScript IR text: pare's own part of the
// TorchScript import (the simplifying passes, the lowering with its static evaluation and
// the aten ops it runs in LibTorch on constants), then the canonical pipeline and the .pare
// writer. torchscript_fuzz feeds whole files through LibTorch's loader, which takes tens of
// milliseconds per input; this target reaches the lowering directly.
//
// Only graphs TorchScript's compiler could give are lowered: parseIR reads any text, so
// the target keeps graphs whose aten ops match a registered schema, whose constants have
// their declared type and which pass LibTorch's lint. Tensor constants (`<Tensor>` in the
// text) are filled with a fixed pattern. Each tensor argument's shape and dtype are its
// declared type's (Float(1, 3, 8, 8)), 1x1x4x4 float when the type has no sizes.
// Only bad-input errors may come out.
#include <ATen/Functions.h>
#include <c10/util/Logging.h>
#include <torch/csrc/jit/ir/irparser.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "formats/torchscript/lowering.h"
#include "tests/fuzz/convert_util.h"
#include "tests/fuzz/fuzz_util.h"

// libFuzzer's byte mutator (absent, and never called, in the replay build).
extern "C" __attribute__((weak)) size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

// Larger tensor constants are left out: a file holds their bytes, and filling them would
// only measure memset.
constexpr int64_t kMaxConstantElements = 1 << 16;

bool compiler_could_give(const torch::jit::Block* block) {
  for (const torch::jit::Node* n : block->nodes()) {
    if (n->kind() == c10::prim::Constant && n->outputs().size() == 1) {
      auto v = torch::jit::toIValue(n->output());
      if (!v || !v->type()->isSubtypeOf(*n->output()->type())) return false;
      if (v->isTensor() && v->toTensor().numel() > kMaxConstantElements) return false;
    }
    if (n->kind().ns() == c10::namespaces::aten) {
      const c10::FunctionSchema* schema = n->maybeSchema();
      if (!schema || schema->returns().size() != n->outputs().size()) return false;
      for (size_t i = 0; i < n->outputs().size(); ++i) {
        const c10::TypePtr& declared = schema->returns()[i].type();  // `t` in a generic schema
        if (!declared->hasFreeVariables() && !n->outputs()[i]->type()->isSubtypeOf(*declared)) return false;
      }
    }
    for (const torch::jit::Block* b : n->blocks())
      if (!compiler_could_give(b)) return false;
  }
  return true;
}

// parseIR leaves `<Tensor>` constants uninitialised; a fixed pattern keeps runs repeatable.
void fill_constants(torch::jit::Block* block) {
  for (torch::jit::Node* n : block->nodes()) {
    if (n->kind() == c10::prim::Constant && n->hasAttribute(c10::attr::value) &&
        n->kindOf(c10::attr::value) == torch::jit::AttributeKind::t) {
      at::Tensor t = n->t(c10::attr::value);
      const int64_t count = t.numel();
      at::Tensor pattern = at::arange(count, at::kDouble).remainder(7).sub(3).mul(0.25).reshape(t.sizes());
      if (t.scalar_type() == at::kBool) pattern = pattern.gt(0);
      t.copy_(pattern);
    }
    for (torch::jit::Block* b : n->blocks()) fill_constants(b);
  }
}

// LibTorch's IR parser loops forever on some unclosed brackets at the end of the text
// (`[value=annotate(List[it`), also when a comment (`#` to the end of the line) hides the
// closing ones. It is only this target's decoder (pare reads files through
// torch::jit::load), so such texts, and any with a comment, are skipped.
bool brackets_balanced(const std::string& text) {
  if (text.find('#') != std::string::npos) return false;
  std::string open;
  for (char c : text) {
    if (c == '(' || c == '[' || c == '{') {
      open.push_back(c);
    } else if (c == ')' || c == ']' || c == '}') {
      const char want = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (open.empty() || open.back() != want) return false;
      open.pop_back();
    }
  }
  return open.empty();
}

// Parses a decimal integer in [0, 2^62]; false for anything else.
bool small_count(const std::string& item, int64_t* value) {
  if (item.empty() || item.size() > 19) return false;
  int64_t v = 0;
  for (char c : item) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > (int64_t{1} << 62)) return false;
  *value = v;
  return true;
}

std::string trimmed(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t\n\r");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t\n\r") - begin + 1);
}

// The elements of storage the type `Float(2, 3, strides=[3, 1], ...)` asks for (the
// arguments between its parentheses), or -1 when they are not plain sizes and strides.
int64_t storage_elements(const std::string& arguments) {
  std::vector<int64_t> sizes, strides;
  size_t begin = 0;
  int depth = 0;
  for (size_t i = 0; i <= arguments.size(); ++i) {
    const char c = i < arguments.size() ? arguments[i] : ',';
    if (c == '[' || c == '(') ++depth;
    if (c == ']' || c == ')') --depth;
    if (c != ',' || depth != 0) continue;
    const std::string item = trimmed(arguments.substr(begin, i - begin));
    begin = i + 1;
    int64_t value = 0;
    if (item.rfind("strides=[", 0) == 0 && item.back() == ']') {
      std::string list = item.substr(9, item.size() - 10);
      for (size_t at = 0; at <= list.size();) {
        const size_t comma = std::min(list.find(',', at), list.size());
        if (!small_count(trimmed(list.substr(at, comma - at)), &value)) return -1;
        strides.push_back(value);
        at = comma + 1;
      }
    } else if (!item.empty() && item[0] >= '0' && item[0] <= '9') {
      if (!small_count(item, &value)) return -1;
      sizes.push_back(value);
    } else if (item.find('=') == std::string::npos) {
      return -1;  // `*`, a negative size or another word: not a type this check can size
    }
  }
  if (!strides.empty() && strides.size() != sizes.size()) return -1;
  int64_t elements = 1;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 0) return 0;
    // Without strides the type is contiguous: each dim steps over the span of those before.
    const int64_t step = strides.empty() ? elements : strides[d];
    int64_t reach = 0;  // (size - 1) * step, the elements this dim adds to the span
    if (__builtin_mul_overflow(sizes[d] - 1, step, &reach) || __builtin_add_overflow(elements, reach, &elements))
      return -1;
  }
  return elements;
}

// parseIR allocates each `<Tensor>` constant as its declared type says before anything can
// look at the graph (a 444444445 x 1 Double asks for 3.5 GB). The fuzz target keeps only
// small constants anyway, so texts declaring a larger one, or one this check cannot size,
// are skipped before parsing.
bool tensor_constants_small(const std::string& text) {
  for (size_t at = text.find("<Tensor>"); at != std::string::npos; at = text.find("<Tensor>", at + 1)) {
    const size_t op = text.rfind("prim::Constant", at);
    const size_t equals = op == std::string::npos ? op : text.rfind('=', op);
    if (equals == std::string::npos) return false;
    size_t close = equals;
    while (close > 0 && std::isspace(static_cast<unsigned char>(text[close - 1]))) --close;
    if (close == 0 || text[close - 1] != ')') continue;  // no sizes: nothing to allocate
    --close;
    size_t open = close;
    for (int depth = 0;; --open) {
      if (text[open] == ')') ++depth;
      if (text[open] == '(' && --depth == 0) break;
      if (open == 0) return false;
    }
    const int64_t elements = storage_elements(text.substr(open + 1, close - open - 1));
    if (elements < 0 || elements > kMaxConstantElements) return false;
  }
  return true;
}

// The text as a graph, or null when LibTorch's parser or lint refuses it.
std::shared_ptr<torch::jit::Graph> parse_graph(const std::string& text) {
  if (!brackets_balanced(text) || !tensor_constants_small(text)) return nullptr;
  auto graph = std::make_shared<torch::jit::Graph>();
  try {
    torch::jit::parseIR(text, graph.get(), /*parse_tensor_constants=*/true);
    graph->lint();
  } catch (const std::exception&) {
    return nullptr;
  }
  return graph;
}

// ---- Structure-aware mutation ----
// Byte mutations of IR text rarely parse again (about 2 inputs in 100 reach the lowering),
// so most mutations are made on the parsed graph and printed back: constants get other
// values (extremes included), inputs other shapes, nodes other inputs or other ops of the
// same signature, new ops are inserted on existing values and nodes are taken out.

// The aten ops pare lowers and a few it does not (a dictionary of names to try).
const std::vector<const char*>& op_names() {
  static const std::vector<const char*> names = {
      "aten::relu", "aten::sigmoid", "aten::tanh", "aten::neg", "aten::abs", "aten::exp", "aten::log",
      "aten::sqrt", "aten::rsqrt", "aten::floor", "aten::ceil", "aten::sin", "aten::cos", "aten::erf",
      "aten::reciprocal", "aten::hardswish", "aten::hardsigmoid", "aten::relu6", "aten::silu", "aten::gelu",
      "aten::softmax", "aten::log_softmax", "aten::add", "aten::sub", "aten::mul", "aten::div", "aten::pow",
      "aten::maximum", "aten::minimum", "aten::matmul", "aten::mm", "aten::bmm", "aten::linear",
      "aten::t", "aten::transpose", "aten::permute", "aten::reshape", "aten::view", "aten::flatten",
      "aten::squeeze", "aten::unsqueeze", "aten::expand", "aten::repeat", "aten::cat", "aten::stack",
      "aten::slice", "aten::select", "aten::index_select", "aten::gather", "aten::chunk", "aten::split",
      "aten::mean", "aten::sum", "aten::amax", "aten::max", "aten::min", "aten::argmax", "aten::topk",
      "aten::clamp", "aten::where", "aten::eq", "aten::gt", "aten::lt", "aten::ne", "aten::to",
      "aten::size", "aten::dim", "aten::numel", "aten::contiguous", "aten::pad", "aten::constant_pad_nd",
      "aten::conv2d", "aten::conv1d", "aten::max_pool2d", "aten::avg_pool2d", "aten::adaptive_avg_pool2d",
      "aten::batch_norm", "aten::layer_norm", "aten::group_norm", "aten::embedding", "aten::upsample_nearest2d",
      "aten::upsample_bilinear2d", "aten::pixel_shuffle", "aten::cumsum", "aten::tril", "aten::masked_fill",
      "aten::zeros_like", "aten::ones_like", "aten::full_like", "aten::arange", "aten::zeros", "aten::einsum",
      "aten::__getitem__", "aten::len", "aten::Int", "aten::Float", "aten::floordiv", "aten::remainder"};
  return names;
}

using Rng = std::mt19937_64;

int64_t pick(Rng& rng, int64_t n) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(n)); }

int64_t interesting_int(Rng& rng, int64_t old) {
  static const int64_t values[] = {0, 1, -1, 2, 3, 4, -2, 7, 8, 16, 255, 256, 65536, int64_t{1} << 31,
                                   int64_t{1} << 40, std::numeric_limits<int64_t>::max(),
                                   std::numeric_limits<int64_t>::min()};
  if (pick(rng, 3) == 0) return static_cast<int64_t>(static_cast<uint64_t>(old) + static_cast<uint64_t>(pick(rng, 5)) - 2);
  return values[pick(rng, sizeof(values) / sizeof(values[0]))];
}

double interesting_double(Rng& rng, double old) {
  static const double values[] = {0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-12, 1e30, -1e30,
                                  std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                                  std::numeric_limits<double>::quiet_NaN()};
  if (pick(rng, 3) == 0) return old * 2.0;
  return values[pick(rng, sizeof(values) / sizeof(values[0]))];
}

void collect_nodes(torch::jit::Block* block, std::vector<torch::jit::Node*>* nodes) {
  for (torch::jit::Node* n : block->nodes()) {
    nodes->push_back(n);
    for (torch::jit::Block* b : n->blocks()) collect_nodes(b, nodes);
  }
}

// Values visible at node n: the graph's inputs and the outputs of nodes before it in its
// block and in the blocks around it.
std::vector<torch::jit::Value*> values_before(torch::jit::Graph& graph, torch::jit::Node* n) {
  std::vector<torch::jit::Value*> values(graph.inputs().begin() + 1, graph.inputs().end());
  for (torch::jit::Node* at = n; at->owningBlock() != nullptr; at = at->owningBlock()->owningNode()) {
    torch::jit::Block* block = at->owningBlock();
    for (torch::jit::Value* v : block->inputs()) values.push_back(v);
    for (torch::jit::Node* m : block->nodes()) {
      if (m == at) break;
      for (torch::jit::Value* v : m->outputs()) values.push_back(v);
    }
    if (block->owningNode() == nullptr) break;
  }
  return values;
}

bool mutate_constant(Rng& rng, torch::jit::Node* n) {
  if (n->kind() != c10::prim::Constant || !n->hasAttribute(c10::attr::value)) return false;
  switch (n->kindOf(c10::attr::value)) {
    case torch::jit::AttributeKind::i:
      n->i_(c10::attr::value, interesting_int(rng, n->i(c10::attr::value)));
      return true;
    case torch::jit::AttributeKind::f:
      n->f_(c10::attr::value, interesting_double(rng, n->f(c10::attr::value)));
      return true;
    case torch::jit::AttributeKind::ival: {
      c10::IValue v = n->ival(c10::attr::value);
      if (!v.isIntList()) return false;
      std::vector<int64_t> list = v.toIntVector();
      const int64_t what = pick(rng, 3);
      if (what == 0 || list.empty()) list.push_back(interesting_int(rng, 1));
      else if (what == 1) list.erase(list.begin() + pick(rng, static_cast<int64_t>(list.size())));
      else list[pick(rng, static_cast<int64_t>(list.size()))] = interesting_int(rng, list[0]);
      n->ival_(c10::attr::value, c10::IValue(list));
      return true;
    }
    case torch::jit::AttributeKind::t: {  // another shape (the target fills the values)
      std::vector<int64_t> sizes = n->t(c10::attr::value).sizes().vec();
      if (sizes.empty() || pick(rng, 4) == 0) sizes.push_back(1 + pick(rng, 4));
      else sizes[pick(rng, static_cast<int64_t>(sizes.size()))] = pick(rng, 6);
      at::Tensor t = at::zeros(sizes, n->t(c10::attr::value).options());
      n->t_(c10::attr::value, t);
      n->output()->setType(c10::TensorType::create(t));
      return true;
    }
    default:
      return false;
  }
}

bool mutate_input_shape(Rng& rng, torch::jit::Graph& graph) {
  if (graph.inputs().size() < 2) return false;
  torch::jit::Value* v = graph.inputs()[1 + pick(rng, static_cast<int64_t>(graph.inputs().size()) - 1)];
  auto type = v->type()->cast<c10::TensorType>();
  if (!type) return false;
  std::vector<int64_t> sizes = type->sizes().concrete_sizes().value_or(std::vector<int64_t>{1, 1, 4, 4});
  const int64_t what = pick(rng, 3);
  if (what == 0 && sizes.size() < 6) sizes.insert(sizes.begin() + pick(rng, static_cast<int64_t>(sizes.size()) + 1), 1 + pick(rng, 3));
  else if (what == 1 && !sizes.empty()) sizes.erase(sizes.begin() + pick(rng, static_cast<int64_t>(sizes.size())));
  else if (!sizes.empty()) sizes[pick(rng, static_cast<int64_t>(sizes.size()))] = pick(rng, 3) == 0 ? 0 : 1 + pick(rng, 9);
  v->setType(c10::TensorType::createContiguous(type->scalarType().value_or(at::kFloat), at::kCPU, sizes));
  return true;
}

bool rewire(Rng& rng, torch::jit::Graph& graph, torch::jit::Node* n) {
  if (n->inputs().empty()) return false;
  const size_t i = pick(rng, static_cast<int64_t>(n->inputs().size()));
  std::vector<torch::jit::Value*> same;
  for (torch::jit::Value* v : values_before(graph, n))
    if (v != n->input(i) && v->type()->isSubtypeOf(*n->input(i)->type())) same.push_back(v);
  if (same.empty()) return false;
  n->replaceInput(i, same[pick(rng, static_cast<int64_t>(same.size()))]);
  return true;
}

// Another op on the same inputs (an op of the same signature), or a new op on values before
// the node whose result replaces one of the node's inputs.
bool swap_or_insert_op(Rng& rng, torch::jit::Graph& graph, torch::jit::Node* n, bool insert) {
  const std::vector<const char*>& names = op_names();
  std::vector<torch::jit::Value*> visible = values_before(graph, n);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const c10::Symbol kind = c10::Symbol::fromQualString(names[pick(rng, static_cast<int64_t>(names.size()))]);
    std::vector<torch::jit::Value*> inputs;
    if (insert) {
      if (n->inputs().empty() || visible.empty()) return false;
      const int64_t count = 1 + pick(rng, 3);
      for (int64_t k = 0; k < count; ++k) inputs.push_back(visible[pick(rng, static_cast<int64_t>(visible.size()))]);
    } else {
      if (n->kind().ns() != c10::namespaces::aten || !n->blocks().empty()) return false;
      inputs.assign(n->inputs().begin(), n->inputs().end());
    }
    torch::jit::Node* m = graph.create(kind, inputs, insert ? 1 : n->outputs().size());
    m->insertBefore(n);
    const c10::FunctionSchema* schema = m->maybeSchema();
    if (!schema || schema->returns().size() != m->outputs().size()) {
      m->destroy();
      continue;
    }
    for (size_t k = 0; k < m->outputs().size(); ++k) {
      const c10::TypePtr& t = schema->returns()[k].type();
      m->output(k)->setType(t->hasFreeVariables() ? (insert ? c10::TensorType::get() : n->output(k)->type()) : t);
    }
    if (insert) {
      const size_t i = pick(rng, static_cast<int64_t>(n->inputs().size()));
      if (!m->output()->type()->isSubtypeOf(*n->input(i)->type())) {
        m->destroy();
        continue;
      }
      n->replaceInput(i, m->output());
    } else {
      for (size_t k = 0; k < n->outputs().size(); ++k) n->output(k)->replaceAllUsesWith(m->output(k));
      n->destroy();
    }
    return true;
  }
  return false;
}

// A node taken out: its output's uses read one of its inputs of the same type instead.
bool remove_node(torch::jit::Node* n) {
  if (n->kind() == c10::prim::Constant || !n->blocks().empty() || n->outputs().size() != 1) return false;
  for (torch::jit::Value* in : n->inputs()) {
    if (in->type()->isSubtypeOf(*n->output()->type())) {
      n->output()->replaceAllUsesWith(in);
      n->destroy();
      return true;
    }
  }
  return false;
}

// The graph as text parseIR reads: tensor constants print their values when small, which
// it does not read back; the target fills them anyway.
std::string print_graph(const torch::jit::Graph& graph) {
  static const std::regex small_tensor(R"(prim::Constant\[value=[^\n]*?\[ CPU\w+Type\{[^}]*\} \]\]\(\))");
  static const std::regex scalar_tensor(R"(prim::Constant\[value=\{[^}\n]*\}\]\(\))");
  std::string text = graph.toString(/*print_source_locations=*/false);
  text = std::regex_replace(text, small_tensor, "prim::Constant[value=<Tensor>]()");
  return std::regex_replace(text, scalar_tensor, "prim::Constant[value=<Tensor>]()");
}

size_t mutate_graph(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  Rng rng(seed);
  std::shared_ptr<torch::jit::Graph> graph = parse_graph(std::string(reinterpret_cast<const char*>(data), size));
  if (!graph || pick(rng, 8) == 0) return LLVMFuzzerMutate(data, size, max_size);
  try {
    std::vector<torch::jit::Node*> nodes;
    collect_nodes(graph->block(), &nodes);
    bool changed = false;
    const int64_t count = 1 + pick(rng, 3);
    for (int64_t k = 0; k < count; ++k) {
      if (nodes.empty()) break;
      torch::jit::Node* n = nodes[pick(rng, static_cast<int64_t>(nodes.size()))];
      switch (pick(rng, 6)) {
        case 0: changed |= mutate_constant(rng, n); break;
        case 1: changed |= mutate_input_shape(rng, *graph); break;
        case 2: changed |= rewire(rng, *graph, n); break;
        case 3: changed |= swap_or_insert_op(rng, *graph, n, /*insert=*/false); break;
        case 4: changed |= remove_node(n); break;
        default: changed |= swap_or_insert_op(rng, *graph, n, /*insert=*/true); break;
      }
      nodes.clear();
      collect_nodes(graph->block(), &nodes);
    }
    if (!changed) return LLVMFuzzerMutate(data, size, max_size);
    const std::string text = print_graph(*graph);
    if (text.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
    std::memcpy(data, text.data(), text.size());
    return text.size();
  } catch (const std::exception&) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  return mutate_graph(data, size, max_size, seed);
}

// How many inputs reached pare's code (printed at exit beside libFuzzer's execution count).
uint64_t inputs_lowered = 0;
uint64_t inputs_lowered_fully = 0;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("PARE_ISA", "scalar", 1);
  // As the importer does: LibTorch's errors do not symbolize their call stacks.
  c10::SetStackTraceFetcher([] { return std::string(); });
  std::atexit([] {
    std::fprintf(stderr, "torchscript_graph: %llu graphs lowered, %llu of them converted to .pare\n",
                 static_cast<unsigned long long>(inputs_lowered), static_cast<unsigned long long>(inputs_lowered_fully));
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<torch::jit::Graph> graph =
      parse_graph(std::string(reinterpret_cast<const char*>(data), size));
  if (!graph) return 0;  // not a graph TorchScript's compiler gives
  try {
    if (graph->inputs().empty() || !compiler_could_give(graph->block())) return 0;
    fill_constants(graph->block());
  } catch (const std::exception&) {
    return 0;  // not a graph TorchScript's compiler gives
  }

  pare::torchscript_import::ImportOptions options;
  std::vector<std::string> arg_names{"self"};
  for (size_t i = 1; i < graph->inputs().size(); ++i) {
    const std::string name = "arg" + std::to_string(i);
    arg_names.push_back(name);
    std::vector<int64_t> dims{1, 1, 4, 4};
    if (auto t = graph->inputs()[i]->type()->cast<c10::TensorType>()) {
      if (auto sizes = t->sizes().concrete_sizes()) dims = *sizes;
      if (t->scalarType() == at::kLong) options.input_types[name] = pare::ir::DType::kInt64;
    }
    options.input_shapes[name] = dims;
  }

  ++inputs_lowered;
  pare::fuzz::expect_only_bad_input_errors([&] {
    pare::ir::Graph ir;
    try {
      // Constant propagation runs LibTorch's kernels on the file's constants; pare convert
      // runs it in a guarded child too, where a LibTorch crash is reported as a bad file.
      // The seeds are propagated already.
      pare::torchscript_import::simplify_for_lowering(graph, /*propagate_constants=*/false);
      ir = pare::torchscript_import::lower_graph(*graph, arg_names, "fuzz.ir", options);
    } catch (const pare::Error&) {
      throw;
    } catch (const std::exception& e) {
      // What the importer's callers see of a LibTorch exception (module_entry.cc).
      throw pare::Error(pare::Status::kInvalidInput, e.what());
    }
    pare::fuzz::convert_and_load(ir);
    ++inputs_lowered_fully;
  });
  return 0;
}
