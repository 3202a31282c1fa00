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
  std::vector<std::string> kernel_names() const;  // one per node, execution order

  size_t arena_bytes() const;
  const Model& model() const { return *model_; }

 private:
  Interpreter() = default;
  struct Impl;
  std::shared_ptr<const Model> model_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pare::rt
