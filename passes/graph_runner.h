// Runs an ir::Graph on the runtime (the kernels apps embed) and reads any of its tensors
// after each run: calibration and the quantization report observe what ships.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pare::rt {
class Interpreter;
}

namespace pare::passes {

class CalibrationData;

class GraphRunner {
 public:
  // `watch`: tensors to read after each run (kept alive by making them outputs of a copy
  // of the graph). Throws pare::Error when the graph cannot be written or prepared.
  GraphRunner(const ir::Graph& graph, const std::vector<ir::TensorId>& watch, int threads = 1);
  ~GraphRunner();

  size_t num_inputs() const;
  // Bytes of input i (dtype and shape as in the graph).
  void* input_data(size_t i);
  size_t input_bytes(size_t i) const;
  // Writes sample `sample` of `data` into every input (float32 or int64, as the graph's).
  void feed(const CalibrationData& data, size_t sample);
  void run();
  // Watched tensor k's bytes after the last run (dtype and shape as in the graph).
  const void* watched(size_t k) const;

 private:
  std::unique_ptr<rt::Interpreter> interpreter_;
  std::vector<int> watch_outputs_;  // interpreter output index of each watched tensor
};

}  // namespace pare::passes
