#include "passes/graph_runner.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <utility>

#include "formats/pare/writer.h"
#include "ir/status.h"
#include "passes/pass.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace pare::passes {

GraphRunner::GraphRunner(const ir::Graph& graph, const std::vector<ir::TensorId>& watch, int threads) {
  ir::Graph copy = graph;
  std::vector<std::string> names;
  for (ir::TensorId t : watch) {
    names.push_back(copy.tensor(t).name);
    if (!copy.is_graph_output(t) && !copy.tensor(t).is_constant()) copy.outputs.push_back(t);
  }
  copy.remove_dead_nodes();
  copy.compact();
  format::WriteOptions write;
  write.content_hash = false;  // the bytes are loaded right here and never stored
  const std::vector<uint8_t> bytes = format::serialize(copy, write);
  auto model = rt::Model::load_buffer(bytes.data(), bytes.size(), graph.name.empty() ? "graph" : graph.name);
  if (!model.is_ok()) throw_internal("running the graph: " + model.status().message());
  rt::InterpreterOptions options;
  options.threads = threads;
  auto interpreter = rt::Interpreter::create(model.value(), options);
  if (!interpreter.is_ok()) throw_internal("running the graph: " + interpreter.status().message());
  interpreter_ = std::move(interpreter.value());
  // The first output of each name, as Interpreter::find_output gives, read once: a graph of
  // many outputs watches many of them.
  std::unordered_map<std::string, int> output_index;
  for (size_t i = 0; i < interpreter_->num_outputs(); ++i)
    output_index.emplace(interpreter_->output(i).name, static_cast<int>(i));
  for (const std::string& name : names) {
    const auto k = output_index.find(name);
    if (k == output_index.end()) throw_internal("running the graph: tensor '" + name + "' cannot be watched");
    watch_outputs_.push_back(k->second);
  }
}

GraphRunner::~GraphRunner() = default;

size_t GraphRunner::num_inputs() const { return interpreter_->num_inputs(); }
void* GraphRunner::input_data(size_t i) { return interpreter_->input_data(i); }
size_t GraphRunner::input_bytes(size_t i) const { return interpreter_->input(i).byte_size(); }

void GraphRunner::feed(const CalibrationData& data, size_t sample) {
  for (size_t i = 0; i < num_inputs(); ++i) {
    const rt::TensorDesc& in = interpreter_->input(i);
    switch (in.dtype) {
      case rt::DType::kFloat32:
        data.fill(sample, i, static_cast<float*>(input_data(i)), in.byte_size() / sizeof(float));
        break;
      case rt::DType::kInt64:
        data.fill_int64(sample, i, static_cast<int64_t*>(input_data(i)), in.byte_size() / sizeof(int64_t));
        break;
      default:
        throw_unsupported("input '" + in.name + "' is " + rt::dtype_name(in.dtype) +
                          "; calibration data feeds float32 and int64 inputs only");
    }
  }
}

void CalibrationData::fill_int64(size_t, size_t input, int64_t*, size_t) const {
  throw_unsupported("graph input " + std::to_string(input) + " is int64; this calibration data gives float32 only");
}

void GraphRunner::run() {
  const rt::Status s = interpreter_->invoke();
  // Bad data (a token id past the vocabulary) is the caller's input, not a pare fault.
  if (s.code() == rt::Status::kInvalidArgument) throw_invalid("running the graph on the data: " + s.message());
  if (!s.is_ok()) throw_internal("running the graph: " + s.message());
}

const void* GraphRunner::watched(size_t k) const {
  return interpreter_->output_data(static_cast<size_t>(watch_outputs_.at(k)));
}

}  // namespace pare::passes
