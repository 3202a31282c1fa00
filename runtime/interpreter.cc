#include "runtime/interpreter.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "runtime/thread_pool.h"

namespace pare::rt {

namespace {

constexpr size_t kAlignment = 64;

size_t align_up(size_t v) { return (v + kAlignment - 1) / kAlignment * kAlignment; }

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

Isa choose_isa(const InterpreterOptions& options) {
  return options.cap_isa ? best_isa_under(options.max_isa) : best_isa();
}

// "123456789 bytes (117.7 MiB)"
std::string bytes_str(uint64_t n) {
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = -1;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  std::string s = std::to_string(n) + " bytes";
  if (u >= 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " (%.1f %s)", v, units[u]);
    s += buf;
  }
  return s;
}

uint64_t saturating_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

// Whether a node of an op with these flags reads this constant through a dense copy.
bool needs_dense_copy(const TensorDesc& d, bool reads_sparse, bool reads_palette) {
  return (d.encoding == Encoding::kSparse && !reads_sparse) || (d.encoding == Encoding::kPalette && !reads_palette);
}

// The bytes a model needs before any kernel is prepared: its activations, its file, and the
// dense copies of encoded constants that some node reads densely. A memory bomb (a huge
// arena, a sparse constant expanding to gigabytes) fails here, before it is allocated.
uint64_t bytes_needed_before_prepare(const Model& m) {
  uint64_t need = saturating_add(align_up(m.arena_bytes()), m.file_bytes());
  std::vector<uint8_t> counted(m.tensors().size(), 0);
  for (const NodeDesc& node : m.nodes()) {
    const bool reads_sparse = op_reads_sparse(node.op), reads_palette = op_reads_palette(node.op);
    for (int32_t id : node.inputs) {
      if (id < 0 || counted[id]) continue;
      const TensorDesc& d = m.tensors()[id].desc;
      if (needs_dense_copy(d, reads_sparse, reads_palette)) {
        counted[id] = 1;
        need = saturating_add(need, align_up(d.byte_size()));
      }
    }
  }
  return need;
}

// The kernel of a node whose work the next node's kernel does (fuse_with_producer).
class FusedIntoNextKernel final : public OpKernel {
 public:
  void run(const ExecContext&) override {}
  const char* kernel_name() const override { return "fused_into_next"; }
};

// The kernel of a Reshape (Flatten, Squeeze, Unsqueeze) whose readers read its input's
// bytes where they are (keep_bytes_in_place).
class InPlaceKernel final : public OpKernel {
 public:
  void run(const ExecContext&) override {}
  const char* kernel_name() const override { return "in_place"; }
};

bool keeps_bytes(const std::string& op) {
  return op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze";
}

// Reshape, Flatten, Squeeze and Unsqueeze change no byte: their readers may read the input
// where it is, and the node then copies nothing, when the memory plan keeps the input's
// bytes intact until the last of them has run, i.e. no tensor written after the node
// through its last reader (the end of the fused chain a reader is in) shares arena bytes
// with the input. Sets same_bytes[t] = x for each such output t and its input x (itself
// read in place from an earlier one), and swaps the node's kernel for InPlaceKernel.
void keep_bytes_in_place(const Model& m, const std::vector<uint8_t>& fused_into_next,
                         std::vector<std::unique_ptr<OpKernel>>& kernels, std::vector<int32_t>& same_bytes) {
  const std::vector<ModelTensor>& tensors = m.tensors();
  const std::vector<NodeDesc>& nodes = m.nodes();
  std::vector<int32_t> last_reader(tensors.size(), -1);
  for (size_t n = 0; n < nodes.size(); ++n) {
    size_t end = n;  // the node whose kernel runs this node's work
    while (end + 1 < nodes.size() && fused_into_next[end]) ++end;
    for (int32_t id : nodes[n].inputs)
      if (id >= 0) last_reader[id] = std::max(last_reader[id], static_cast<int32_t>(end));
  }
  const std::vector<int32_t>& outputs = m.outputs();
  for (size_t n = 0; n < nodes.size(); ++n) {
    const NodeDesc& node = nodes[n];
    if (!keeps_bytes(node.op) || fused_into_next[n] || node.inputs.empty() || node.inputs[0] < 0 ||
        node.outputs.size() != 1)
      continue;
    int32_t x = node.inputs[0];
    if (same_bytes[x] >= 0) x = same_bytes[x];
    const int32_t t = node.outputs[0];
    const ModelTensor &tx = tensors[x], &tt = tensors[t];
    if (tx.is_constant() || tx.arena_offset < 0 || tx.desc.byte_size() != tt.desc.byte_size() ||
        last_reader[t] <= static_cast<int32_t>(n) || std::find(outputs.begin(), outputs.end(), t) != outputs.end())
      continue;
    const auto x_begin = static_cast<uint64_t>(tx.arena_offset), x_end = x_begin + tx.desc.byte_size();
    bool intact = true;
    for (size_t k = n + 1; k <= static_cast<size_t>(last_reader[t]) && intact; ++k)
      for (int32_t u : nodes[k].outputs) {
        const ModelTensor& tu = tensors[u];
        if (tu.arena_offset < 0) continue;
        const auto begin = static_cast<uint64_t>(tu.arena_offset);
        intact = intact && (begin + tu.desc.byte_size() <= x_begin || x_end <= begin);
      }
    if (!intact) continue;
    same_bytes[t] = x;
    kernels[n] = std::make_unique<InPlaceKernel>();
  }
}

// Whether node n + 1's kernel may take over node n's work in a fused chain that starts at
// node `first` (first <= n), and if so the slot of node n + 1's inputs that reads node n's
// one output t: t is read only there (once) and the caller cannot read it (not a model
// output); node `first` has a first input x held in the arena; and node n + 1's output
// shares no arena bytes with x or with node n + 1's other inputs, which the fused kernel
// reads while it writes that output.
bool fusable_pair(const Model& m, size_t first, size_t n, const std::vector<int32_t>& readers, size_t* slot) {
  const NodeDesc& producer = m.nodes()[n];
  const NodeDesc& consumer = m.nodes()[n + 1];
  if (m.nodes()[first].inputs.empty() || producer.outputs.size() != 1 || consumer.inputs.empty() ||
      consumer.outputs.size() != 1)
    return false;
  const int32_t x = m.nodes()[first].inputs[0], t = producer.outputs[0], y = consumer.outputs[0];
  const auto at = std::find(consumer.inputs.begin(), consumer.inputs.end(), t);
  if (x < 0 || at == consumer.inputs.end() || readers[t] != 1) return false;
  *slot = static_cast<size_t>(at - consumer.inputs.begin());
  const std::vector<int32_t>& outputs = m.outputs();
  if (std::find(outputs.begin(), outputs.end(), t) != outputs.end()) return false;
  const ModelTensor& ty = m.tensors()[y];
  if (ty.arena_offset < 0) return false;
  const auto y_begin = static_cast<uint64_t>(ty.arena_offset), y_end = y_begin + ty.desc.byte_size();
  const auto apart_from_y = [&](int32_t id) {
    const ModelTensor& tx = m.tensors()[id];
    if (tx.is_constant()) return true;
    if (tx.arena_offset < 0) return false;
    const auto begin = static_cast<uint64_t>(tx.arena_offset);
    return begin + tx.desc.byte_size() <= y_begin || y_end <= begin;
  };
  if (m.tensors()[x].is_constant() || !apart_from_y(x)) return false;
  for (int32_t id : consumer.inputs)
    if (id >= 0 && id != t && !apart_from_y(id)) return false;
  return true;
}

}  // namespace

struct Interpreter::Impl {
  std::vector<std::unique_ptr<OpKernel>> kernels;
  // Per node, the start of its run in the flat pointer tables below.
  std::vector<size_t> input_begin, output_begin;
  std::vector<const void*> input_ptrs;
  std::vector<void*> output_ptrs;
  std::unique_ptr<uint8_t, FreeDeleter> owned_memory;  // the arena when the caller gave none
  uint8_t* memory = nullptr;                            // arena, then scratch
  size_t arena_bytes = 0;
  MemoryUse use;
  void* scratch = nullptr;
  std::unique_ptr<ThreadPool> pool;
  bool profiling = false;
  std::vector<double> total_ms;
  std::vector<double> last_ms;
  Isa isa = Isa::kScalar;
  std::vector<int64_t> runs;
  // Sparse constants densified for ops that do not read sparse, by tensor index: each
  // is densified once, whatever the number of nodes reading it.
  struct DenseCopy {
    TensorDesc desc;
    std::unique_ptr<uint8_t, FreeDeleter> bytes;
  };
  std::map<int32_t, DenseCopy> dense_copies;

  // The description node inputs see: the model's, or a dense copy of a sparse or palette
  // constant for an op that does not read that encoding.
  Result<const TensorDesc*> input_desc(const Model& m, int32_t id, bool reads_sparse, bool reads_palette);

  uint8_t* arena() { return memory; }
};

Result<const TensorDesc*> Interpreter::Impl::input_desc(const Model& m, int32_t id, bool reads_sparse,
                                                        bool reads_palette) {
  const TensorDesc& desc = m.tensors()[id].desc;
  if (!needs_dense_copy(desc, reads_sparse, reads_palette)) return &desc;
  auto it = dense_copies.find(id);
  if (it == dense_copies.end()) {
    DenseCopy copy;
    copy.desc = desc;
    copy.desc.encoding = Encoding::kDense;
    copy.desc.sparse = SparseView();
    copy.desc.palette = PaletteView();
    const size_t bytes = std::max(align_up(desc.byte_size()), kAlignment);
    if (!PrepareMemory::reserve(bytes))
      return Status(Status::kMemoryLimit, "no memory for a dense copy of constant '" + desc.name + "'");
    copy.bytes.reset(static_cast<uint8_t*>(std::aligned_alloc(kAlignment, bytes)));
    if (!copy.bytes) {
      PrepareMemory::allocation_failed(bytes);
      return Status(Status::kMemoryLimit, "no memory for a dense copy of constant '" + desc.name + "'");
    }
    densify(desc, copy.bytes.get());
    copy.desc.constant = copy.bytes.get();
    it = dense_copies.emplace(id, std::move(copy)).first;
  }
  return &it->second.desc;
}

Interpreter::~Interpreter() = default;

Result<std::unique_ptr<Interpreter>> Interpreter::create(std::shared_ptr<const Model> model,
                                                         const InterpreterOptions& options) {
  if (!model) return Status(Status::kInvalidArgument, "no model");
  if (options.threads < 1)
    return Status(Status::kInvalidArgument,
                  "thread count must be at least 1, got " + std::to_string(options.threads));

  std::unique_ptr<Interpreter> interp(new Interpreter());
  interp->model_ = std::move(model);
  interp->impl_ = std::make_unique<Impl>();
  Impl& impl = *interp->impl_;
  const Model& m = *interp->model_;
  const std::vector<ModelTensor>& tensors = m.tensors();
  const Isa isa = choose_isa(options);
  impl.isa = isa;
  const size_t limit = options.max_memory_bytes;
  auto over_limit = [&](const std::string& needs) {
    return Status(Status::kMemoryLimit, "the memory limit is " + bytes_str(limit) + ", the model needs " + needs);
  };
  if (limit) {
    const uint64_t before = bytes_needed_before_prepare(m);
    if (before > limit)
      return over_limit("at least " + bytes_str(before) + ": activations " + bytes_str(align_up(m.arena_bytes())) +
                        ", model file " + bytes_str(m.file_bytes()) + ", dense copies of encoded constants " +
                        bytes_str(before - align_up(m.arena_bytes()) - m.file_bytes()));
  }
  // Prepare's allocations get what the limit leaves after the activations and the file.
  const uint64_t fixed = saturating_add(align_up(m.arena_bytes()), m.file_bytes());
  PrepareMemory prepared(limit == 0 ? 0 : limit > fixed ? static_cast<size_t>(limit - fixed) : 1);
  auto prepare_refused = [&](const NodeDesc& node) {
    const std::string what = "node '" + node.name + "' (" + node.op + ") could not allocate " +
                             bytes_str(prepared.refused()) + " for its weights";
    if (prepared.allocation_failed()) return Status(Status::kMemoryLimit, what + ": out of memory");
    return over_limit("at least " + bytes_str(saturating_add(saturating_add(fixed, prepared.used()), prepared.refused())) +
                      ": " + what + " after " + bytes_str(prepared.used()) + " prepared");
  };

  impl.kernels.reserve(m.nodes().size());
  std::vector<std::vector<const TensorDesc*>> node_inputs;  // as each node's prepare saw them
  for (const NodeDesc& node : m.nodes()) {
    PrepareContext ctx;
    ctx.op = node.op;
    ctx.node_name = node.name;
    ctx.attrs = &node.attrs;
    ctx.activation = node.activation;
    ctx.isa = isa;
    const bool reads_sparse = op_reads_sparse(node.op), reads_palette = op_reads_palette(node.op);
    for (int32_t id : node.inputs) {
      if (id < 0) {
        ctx.inputs.push_back(nullptr);
        continue;
      }
      Result<const TensorDesc*> desc = impl.input_desc(m, id, reads_sparse, reads_palette);
      if (prepared.refused()) return prepare_refused(node);
      if (!desc.is_ok()) return desc.status();
      ctx.inputs.push_back(desc.value());
    }
    for (int32_t id : node.outputs) ctx.outputs.push_back(&tensors[id].desc);
    node_inputs.push_back(ctx.inputs);

    OpFactory factory = find_op(node.op);
    if (!factory)
      return Status(Status::kUnsupported,
                    "op '" + node.op + "' (node '" + node.name + "') is not supported by this runtime" +
                        (selective_build() ? ", built with only the op types of its PARE_OPS list" : ""));
    Result<std::unique_ptr<OpKernel>> kernel = factory(ctx);
    if (prepared.refused()) return prepare_refused(node);
    if (!kernel.is_ok()) return kernel.status();
    if (!kernel.value())
      return ctx.error(Status::kInternal, "prepare returned no kernel");
    impl.kernels.push_back(std::move(kernel).value());
  }

  // Chains of nodes that run as one kernel, on the last node of the chain, which reads the
  // first node's first input; the others run nothing.
  std::vector<uint8_t> fused_into_next(m.nodes().size(), 0);
  if (options.fuse_nodes && m.nodes().size() > 1) {
    std::vector<int32_t> readers(tensors.size(), 0);
    for (const NodeDesc& node : m.nodes())
      for (int32_t id : node.inputs)
        if (id >= 0) ++readers[id];
    for (size_t first = 0; first + 1 < m.nodes().size();) {
      size_t n = first;
      size_t slot = 0;
      while (n + 1 < m.nodes().size() && fusable_pair(m, first, n, readers, &slot)) {
        const std::vector<int32_t>& in = m.nodes()[n + 1].inputs;
        const bool other_is_x = n == first && in.size() == 2 && in[1 - slot] == m.nodes()[n].inputs[0];
        std::unique_ptr<OpKernel> fused = fuse_with_producer(impl.kernels[n], impl.kernels[n + 1], slot, other_is_x);
        if (!fused) break;
        impl.kernels[n + 1] = std::move(fused);
        impl.kernels[n] = std::make_unique<FusedIntoNextKernel>();
        fused_into_next[n] = 1;
        ++n;
      }
      first = n + 1;
    }
  }
  std::vector<int32_t> same_bytes(tensors.size(), -1);
  if (options.fuse_nodes) keep_bytes_in_place(m, fused_into_next, impl.kernels, same_bytes);
  size_t scratch_bytes = 0;
  for (const auto& kernel : impl.kernels) scratch_bytes = std::max(scratch_bytes, kernel->scratch_bytes());

  // One block: the planned arena, then the largest scratch any kernel asked for.
  impl.arena_bytes = align_up(m.arena_bytes());
  MemoryUse& use = impl.use;
  use.activations = impl.arena_bytes;
  use.scratch = align_up(scratch_bytes);
  use.prepared = prepared.used();
  use.model_file = m.file_bytes();
  const std::string needs = bytes_str(use.total()) + ": activations " + bytes_str(use.activations) + ", scratch " +
                            bytes_str(use.scratch) + ", packed weights " + bytes_str(use.prepared) + ", model file " +
                            bytes_str(use.model_file);
  if (limit && use.total() > limit) return over_limit(needs);
  const size_t total = use.arena_bytes();
  if (options.arena) {
    if (reinterpret_cast<uintptr_t>(options.arena) % kAlignment != 0)
      return Status(Status::kInvalidArgument, "the arena given is not 64-byte aligned");
    if (options.arena_capacity < total)
      return Status(Status::kMemoryLimit, "the arena given holds " + bytes_str(options.arena_capacity) +
                                              ", the model needs " + bytes_str(total));
    impl.memory = static_cast<uint8_t*>(options.arena);
  } else {
    impl.owned_memory.reset(static_cast<uint8_t*>(std::aligned_alloc(kAlignment, std::max(total, kAlignment))));
    if (!impl.owned_memory) return Status(Status::kMemoryLimit, "out of memory: the model needs " + needs);
    impl.memory = impl.owned_memory.get();
  }
  // Zeroed once so results never depend on what the allocator left behind.
  std::memset(impl.memory, 0, total);
  impl.scratch = scratch_bytes ? impl.arena() + impl.arena_bytes : nullptr;

  for (size_t n = 0; n < m.nodes().size(); ++n) {
    const NodeDesc& node = m.nodes()[n];
    impl.input_begin.push_back(impl.input_ptrs.size());
    // A fused kernel reads its chain's first input in place of its producer's output.
    size_t chain_first = n;
    while (chain_first > 0 && fused_into_next[chain_first - 1]) --chain_first;
    const int32_t produced = chain_first < n ? m.nodes()[n - 1].outputs[0] : -1;
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      int32_t id = produced >= 0 && node.inputs[k] == produced ? m.nodes()[chain_first].inputs[0] : node.inputs[k];
      if (id >= 0 && same_bytes[id] >= 0) id = same_bytes[id];
      if (id < 0) {
        impl.input_ptrs.push_back(nullptr);
      } else if (tensors[id].is_constant()) {
        // Null for a sparse constant: an op that reads sparse took it at prepare.
        impl.input_ptrs.push_back(node_inputs[n][k]->constant);
      } else {
        impl.input_ptrs.push_back(impl.arena() + tensors[id].arena_offset);
      }
    }
    impl.output_begin.push_back(impl.output_ptrs.size());
    for (int32_t id : node.outputs) impl.output_ptrs.push_back(impl.arena() + tensors[id].arena_offset);
  }

  if (options.threads > 1) impl.pool = std::make_unique<ThreadPool>(options.threads);
  impl.total_ms.assign(m.nodes().size(), 0.0);
  impl.last_ms.assign(m.nodes().size(), 0.0);
  impl.runs.assign(m.nodes().size(), 0);
  return {std::move(interp)};
}

size_t Interpreter::num_inputs() const { return model_->inputs().size(); }
size_t Interpreter::num_outputs() const { return model_->outputs().size(); }

const TensorDesc& Interpreter::input(size_t i) const {
  return model_->tensors()[model_->inputs().at(i)].desc;
}
const TensorDesc& Interpreter::output(size_t i) const {
  return model_->tensors()[model_->outputs().at(i)].desc;
}

void* Interpreter::input_data(size_t i) {
  return impl_->arena() + model_->tensors()[model_->inputs().at(i)].arena_offset;
}
const void* Interpreter::output_data(size_t i) const {
  return impl_->arena() + model_->tensors()[model_->outputs().at(i)].arena_offset;
}

int Interpreter::find_input(const std::string& name) const {
  for (size_t i = 0; i < num_inputs(); ++i)
    if (input(i).name == name) return static_cast<int>(i);
  return -1;
}
int Interpreter::find_output(const std::string& name) const {
  for (size_t i = 0; i < num_outputs(); ++i)
    if (output(i).name == name) return static_cast<int>(i);
  return -1;
}

Status Interpreter::invoke() {
  Impl& impl = *impl_;
  for (size_t n = 0; n < impl.kernels.size(); ++n) {
    ExecContext ctx;
    ctx.inputs = impl.input_ptrs.data() + impl.input_begin[n];
    ctx.outputs = impl.output_ptrs.data() + impl.output_begin[n];
    ctx.scratch = impl.scratch;
    ctx.pool = impl.pool.get();
    Status status;
    ctx.status = &status;
    if (!impl.profiling) {
      impl.kernels[n]->run(ctx);
    } else {
      const auto start = std::chrono::steady_clock::now();
      impl.kernels[n]->run(ctx);
      const auto stop = std::chrono::steady_clock::now();
      impl.last_ms[n] = std::chrono::duration<double, std::milli>(stop - start).count();
      impl.total_ms[n] += impl.last_ms[n];
      impl.runs[n] += 1;
    }
    if (!status.is_ok()) return status;
  }
  return Status::ok();
}

void Interpreter::enable_profiling(bool on) { impl_->profiling = on; }
const std::vector<double>& Interpreter::last_run_ms() const { return impl_->last_ms; }
Isa Interpreter::isa() const { return impl_->isa; }

std::vector<NodeProfile> Interpreter::profile() const {
  std::vector<NodeProfile> out;
  const std::vector<NodeDesc>& nodes = model_->nodes();
  out.reserve(nodes.size());
  for (size_t n = 0; n < nodes.size(); ++n) {
    NodeProfile p;
    p.name = nodes[n].name;
    p.op = nodes[n].op;
    p.kernel = impl_->kernels[n]->kernel_name();
    p.total_ms = impl_->total_ms[n];
    p.runs = impl_->runs[n];
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::string> Interpreter::kernel_names() const {
  std::vector<std::string> names;
  names.reserve(impl_->kernels.size());
  for (const auto& k : impl_->kernels) names.emplace_back(k->kernel_name());
  return names;
}

size_t Interpreter::arena_bytes() const { return model_->arena_bytes(); }
const MemoryUse& Interpreter::memory() const { return impl_->use; }

}  // namespace pare::rt
