// The op interface of the runtime. Each op (runtime/ops/*.cc) provides one factory:
// prepare validates attributes, dtypes and shapes, picks a kernel for this CPU and packs
// weights; the returned OpKernel::run then runs without allocating, checking only values
// that exist at run time (gather indices), whose errors it reports through
// ExecContext::status.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/attrs.h"
#include "runtime/cpu.h"
#include "runtime/status.h"
#include "runtime/tensor.h"

namespace pare::rt {

class ThreadPool;

using ::pare::ActivationKind;
using ::pare::FusedActivation;

struct PrepareContext {
  std::string op;         // "Conv"
  std::string node_name;  // source name, for messages
  const Attrs* attrs = nullptr;
  std::vector<const TensorDesc*> inputs;   // nullptr for an omitted optional input
  std::vector<const TensorDesc*> outputs;  // shapes as planned; prepare checks them
  FusedActivation activation;
  Isa isa = Isa::kScalar;  // best usable ISA for this run

  // "Conv 'layer1.0/conv': message"
  Status error(Status::Code code, const std::string& message) const;
};

struct ExecContext {
  const void* const* inputs = nullptr;  // by input position; nullptr for omitted inputs
  void* const* outputs = nullptr;
  void* scratch = nullptr;              // OpKernel::scratch_bytes() bytes, 64-byte aligned
  ThreadPool* pool = nullptr;           // may be nullptr: run on the calling thread
  // Where a kernel reports input data it cannot run on (an index out of range), found only
  // when running; the caller checks it after run. May be nullptr: the report is dropped.
  Status* status = nullptr;
};

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual size_t scratch_bytes() const { return 0; }
  virtual void run(const ExecContext& ctx) = 0;
  // Name of the kernel chosen, e.g. "f32_conv_ref__scalar" (for profiles and inspect).
  virtual const char* kernel_name() const = 0;
  // Tells the code that fuses kernels (fuse_with_producer) which class this is, without
  // RTTI (the runtime builds without it): the address of a tag the class owns, or nullptr.
  virtual const void* fusion_tag() const { return nullptr; }
};

using OpFactory = Result<std::unique_ptr<OpKernel>> (*)(const PrepareContext& ctx);

// The bytes prepare allocates beyond the arena (packed weights, dense copies of encoded
// constants), counted against the interpreter's memory limit. Interpreter::create installs
// one on the thread that prepares; allocations take their bytes through reserve(). A kernel
// whose allocation is refused stops packing and the interpreter fails with the sizes.
class PrepareMemory {
 public:
  explicit PrepareMemory(size_t limit);  // 0: no limit
  ~PrepareMemory();
  PrepareMemory(const PrepareMemory&) = delete;
  PrepareMemory& operator=(const PrepareMemory&) = delete;

  // Takes `bytes` from the installed budget (always succeeds when none is installed);
  // false, and the request recorded, when it would pass the limit.
  static bool reserve(size_t bytes);
  // Records an allocation of reserved bytes that failed.
  static void allocation_failed(size_t bytes);

  size_t used() const { return used_; }
  size_t refused() const { return refused_; }  // the first refused request; 0 if none
  bool allocation_failed() const { return failed_; }

 private:
  size_t limit_, used_ = 0, refused_ = 0;
  bool failed_ = false;
  PrepareMemory* previous_;
};

// Finds the factory for an op type; nullptr if this runtime does not implement it.
OpFactory find_op(const std::string& op);
// Whether the op's prepare reads sparse constant inputs (TensorDesc::sparse); the
// interpreter hands every other op dense copies.
bool op_reads_sparse(const std::string& op);
bool op_reads_palette(const std::string& op);
// For a node whose input `slot` is the output of the node just before it, that output read
// by nothing else: one kernel that computes the node's output straight from the producer's
// first input (or, for a producer that is itself fused, its chain's first input), with the
// same bytes as running them apart. The interpreter passes it the node's inputs with that
// input in place of the producer's output, and runs nothing for the producer. Takes both
// kernels when it fuses; nullptr, both left as they are, otherwise. Today: a channels-last
// one-group Conv, the depthwise Conv after it and the pointwise Conv after that (slot 0),
// a float32 residual Add after a one-group Conv or after such a chain, the float32 Add
// of a constant bias row after a MatMul or Gemm with a constant B (either slot), and an
// 8-bit Mul of a table op's output and that op's own input (x * Sigmoid(x)), for which
// other_input_is_producer_input says that the consumer's other input is the producer's
// first input and the producer starts its chain.
std::unique_ptr<OpKernel> fuse_with_producer(std::unique_ptr<OpKernel>& producer,
                                             std::unique_ptr<OpKernel>& consumer, size_t slot,
                                             bool other_input_is_producer_input);
// All op types implemented, sorted.
std::vector<std::string> registered_ops();
// Whether this runtime was built with only some ops (cmake -DPARE_OPS=FILE).
bool selective_build();

// The registry is one explicit table in runtime/op_registry.cc (no static
// initialisers, so linking the static library never drops an op).

// Shared helper for ops: applies a fused activation in place over n floats.
void apply_activation(const FusedActivation& act, float* data, size_t n);

}  // namespace pare::rt
