// Runs a loaded Model: prepare (choose each node's kernel once, pack weights, allocate the
// arena) then invoke (no allocation; the only checks left are on values that exist only
// when running, such as gather indices).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/model.h"
#include "runtime/status.h"

namespace pare::rt {

class ThreadPool;

struct InterpreterOptions {
  int threads = 1;
  // Highest ISA kernels may use; defaults to best_isa() (which honours PARE_ISA).
  bool cap_isa = false;
  Isa max_isa = Isa::kScalar;
  // Upper bound on the bytes the model may use (0: none): the activation arena and kernel
  // scratch, what prepare allocates (packed weights, dense copies of encoded constants) and
  // the model file itself. A model over it fails create() with kMemoryLimit naming what it
  // needs, before the large allocations are made.
  size_t max_memory_bytes = 0;
  // A caller-provided arena (activations and scratch): 64-byte aligned, at least
  // MemoryUse::arena_bytes() long (create() says how much when it is too small), kept alive
  // and unused by anyone else while the interpreter lives. Null: the interpreter allocates.
  void* arena = nullptr;
  size_t arena_capacity = 0;
  // Runs chains of channels-last Convs (a one-group conv, the depthwise conv that alone
  // reads its output, the 1x1 projection that alone reads that) as one kernel, band by band
  // in cache (fuse_with_producer in op.h); the profile then shows the chain's time on its
  // last node and "fused_into_next" on the others. The outputs are the same bytes either
  // way; false runs every node on its own. Also lets the readers of a Reshape, Flatten,
  // Squeeze or Unsqueeze read its input in place when the memory plan keeps it ("in_place"
  // in the profile) instead of the node copying it.
  bool fuse_nodes = true;
};

// What an interpreter uses, in bytes.
struct MemoryUse {
  size_t activations = 0;  // the planned activation arena (64-byte aligned)
  size_t scratch = 0;      // kernel scratch, after the activations in the same block
  size_t prepared = 0;     // packed weights and dense copies made at prepare
  size_t model_file = 0;   // the mapped or copied model file
  size_t arena_bytes() const { return activations + scratch; }
  size_t total() const { return activations + scratch + prepared + model_file; }
};

struct NodeProfile {
  std::string name;    // source node name
  std::string op;
  std::string kernel;  // chosen kernel
  double total_ms = 0;
  int64_t runs = 0;
};

class Interpreter {
 public:
  ~Interpreter();
  static Result<std::unique_ptr<Interpreter>> create(std::shared_ptr<const Model> model,
                                                     const InterpreterOptions& options = {});

  size_t num_inputs() const;
  size_t num_outputs() const;
  const TensorDesc& input(size_t i) const;
  const TensorDesc& output(size_t i) const;
  // Where input i is written before invoke(). The arena reuses an input's bytes once its
  // last reader has run: write every input before each invoke().
  void* input_data(size_t i);
  const void* output_data(size_t i) const;
  // Index of a named input/output, or -1.
  int find_input(const std::string& name) const;
  int find_output(const std::string& name) const;

  // Runs every node; stops at the first that finds input data it cannot run on (a gather
  // index out of range: kInvalidArgument naming the node).
  Status invoke();

  // Per-node timing (when enabled, invoke() records each node's time).
  void enable_profiling(bool on);
  std::vector<NodeProfile> profile() const;
  // Each node's time in the last invoke() while profiling, in execution order (ms).
  const std::vector<double>& last_run_ms() const;
  // The instruction set the kernels were chosen for.
  Isa isa() const;
  std::vector<std::string> kernel_names() const;  // one per node, execution order

  size_t arena_bytes() const;
  const MemoryUse& memory() const;
  const Model& model() const { return *model_; }

 private:
  Interpreter() = default;
  struct Impl;
  std::shared_ptr<const Model> model_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pare::rt
