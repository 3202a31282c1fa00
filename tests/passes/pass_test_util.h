// Helpers of the pass tests: building small graphs by hand, and running a graph node by
// node on the runtime's kernels to compare its values before and after a pass.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "calibration/npy.h"
#include "formats/pare/writer.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"
#include "ir/status.h"
#include "passes/canonical.h"
#include "passes/node_eval.h"
#include "passes/pass.h"
#include "passes/pass_manager.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "tests/support/graph_builder.h"

namespace pare::passes {

using ir::DType;
using ir::OpKind;
using ir::TensorId;

using test::count;
using test::make_attrs;
using test::random_floats;
using Builder = test::GraphBuilder;

// Seeded uniform random samples in [lo, hi] for every graph input, for the passes that look
// at data; each test names its seed base.
class RandomCalibration final : public CalibrationData {
 public:
  RandomCalibration(size_t samples, uint32_t seed_base, float lo, float hi)
      : samples_(samples), seed_base_(seed_base), lo_(lo), hi_(hi) {}
  size_t size() const override { return samples_; }
  void fill(size_t sample, size_t input, float* out, size_t count) const override {
    const std::vector<float> v =
        random_floats(count, static_cast<uint32_t>(seed_base_ + sample * 7 + input), lo_, hi_);
    std::memcpy(out, v.data(), count * sizeof(float));
  }

 private:
  size_t samples_;
  uint32_t seed_base_;
  float lo_, hi_;
};

// The rows of a float32 array (samples x one input) as calibration samples: all of them,
// or `count` from row `first`.
class ArrayCalibration final : public CalibrationData {
 public:
  explicit ArrayCalibration(const npy::Array& a) : ArrayCalibration(a, 0, static_cast<size_t>(a.shape[0])) {}
  ArrayCalibration(const npy::Array& a, size_t first, size_t count) : a_(a), first_(first), count_(count) {}
  size_t size() const override { return count_; }
  void fill(size_t sample, size_t, float* out, size_t count) const override {
    std::memcpy(out, a_.as<float>() + (first_ + sample) * count, count * sizeof(float));
  }

 private:
  const npy::Array& a_;
  size_t first_, count_;
};

// The graph compacted, serialized as .pare and loaded into an interpreter; null (and a
// failure) when it does not load or prepare.
inline std::unique_ptr<rt::Interpreter> load_graph(ir::Graph graph) {
  graph.compact();
  const std::vector<uint8_t> bytes = format::serialize(graph, format::WriteOptions{});
  auto model = rt::Model::load_buffer(bytes.data(), bytes.size(), "model");
  EXPECT_TRUE(model.is_ok()) << model.status().message();
  if (!model.is_ok()) return nullptr;
  auto it = rt::Interpreter::create(model.value(), rt::InterpreterOptions{});
  EXPECT_TRUE(it.is_ok()) << it.status().message();
  if (!it.is_ok()) return nullptr;
  return std::move(it.value());
}

// The top-1 class (of 10) the loaded graph gives each of images [begin, end) (28x28 floats);
// empty (and a failure) when the graph does not load, prepare or run.
inline std::vector<int64_t> top1_classes(const ir::Graph& graph, const npy::Array& images, int64_t begin, int64_t end) {
  std::unique_ptr<rt::Interpreter> run = load_graph(graph);
  if (!run) return {};
  std::vector<int64_t> classes;
  for (int64_t i = begin; i < end; ++i) {
    std::memcpy(run->input_data(0), images.as<float>() + i * 784, 784 * sizeof(float));
    const rt::Status st = run->invoke();
    EXPECT_TRUE(st.is_ok()) << st.message();
    if (!st.is_ok()) return {};
    const auto* logits = static_cast<const float*>(run->output_data(0));
    classes.push_back(std::max_element(logits, logits + 10) - logits);
  }
  return classes;
}

// Percent of positions where two class lists agree; 0 (and a failure) when their lengths differ.
inline double agreement(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  EXPECT_EQ(a.size(), b.size());
  if (a.size() != b.size() || a.empty()) return 0;
  int64_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return 100.0 * static_cast<double>(same) / static_cast<double>(a.size());
}

inline ir::BufferPtr float_buffer(const std::vector<float>& values) {
  auto buffer = std::make_shared<ir::Buffer>();
  buffer->bytes.resize(values.size() * sizeof(float));
  std::memcpy(buffer->bytes.data(), values.data(), buffer->bytes.size());
  return buffer;
}

// Runs the graph on the given float inputs: shape inference and evaluate_node on each node
// in topological order (the inputs made constants, so every node is evaluable).
inline std::vector<std::vector<float>> run_graph(ir::Graph g, const std::vector<std::vector<float>>& inputs) {
  EXPECT_EQ(inputs.size(), g.inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) g.tensor(g.inputs[i]).data = float_buffer(inputs[i]);
  for (ir::NodeId id : g.topological_order()) {
    ir::infer_node(g, id);
    std::vector<ir::BufferPtr> values = evaluate_node(g, id);
    for (size_t k = 0; k < values.size(); ++k) g.tensor(g.node(id).outputs[k]).data = values[k];
  }
  std::vector<std::vector<float>> outputs;
  for (TensorId t : g.outputs) {
    std::vector<double> v = g.tensor(t).float_values();
    outputs.emplace_back(v.begin(), v.end());
  }
  return outputs;
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0.f;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

inline std::vector<std::vector<float>> random_inputs(const ir::Graph& g, uint32_t seed) {
  std::vector<std::vector<float>> inputs;
  for (TensorId t : g.inputs)
    inputs.push_back(random_floats(static_cast<size_t>(g.tensor(t).shape.num_elements()), seed++, -2.f, 2.f));
  return inputs;
}

// Runs `pass` on a copy of the graph (after shape inference) and checks that the outputs
// match the original's on random inputs. Returns the transformed graph.
inline ir::Graph run_and_compare(const ir::Graph& original, const std::string& pass, float tolerance,
                          PassContext* ctx_out = nullptr) {
  ir::Graph before = original;
  Status inferred = infer_and_fold(before);
  EXPECT_TRUE(inferred.is_ok()) << inferred.message();
  ir::Graph after = before;
  PassContext ctx;
  ctx.verify_each = true;
  Status st = run_pass(after, *find_pass(pass), PassOptions{}, ctx, pass);
  EXPECT_TRUE(st.is_ok()) << st.message();
  auto inputs = random_inputs(before, 7);
  auto expected = run_graph(before, inputs);
  auto got = run_graph(after, inputs);
  EXPECT_EQ(expected.size(), got.size());
  for (size_t i = 0; i < std::min(expected.size(), got.size()); ++i) {
    EXPECT_FALSE(expected[i].empty()) << "output " << i;
    EXPECT_LE(max_abs_diff(expected[i], got[i]), tolerance) << "output " << i;
  }
  if (ctx_out) *ctx_out = ctx;
  return after;
}

inline size_t count_op(const ir::Graph& g, OpKind op) {
  size_t n = 0;
  for (ir::NodeId id : g.nodes())
    if (g.node(id).op == op) ++n;
  return n;
}

inline ir::NodeId only_node_of(const ir::Graph& g, OpKind op) {
  for (ir::NodeId id : g.nodes())
    if (g.node(id).op == op) return id;
  ADD_FAILURE() << "no " << ir::op_name(op) << " node";
  return ir::kNoNode;
}

inline bool has_note(const PassContext& ctx, const std::string& text) {
  for (const PassReport& r : ctx.reports)
    for (const std::string& n : r.notes)
      if (n.find(text) != std::string::npos) return true;
  return false;
}

// x -> Shape -> Gather(0) -> Unsqueeze(0) -> Concat(., [-1]) -> Reshape(x, .): what
// exporters write for x.view(x.size(0), -1).
inline Builder exporter_shape_chain() {
  Builder b;
  TensorId x = b.input("x", {2, 3, 4});
  TensorId shape = b.apply(OpKind::kShape, "shape", {x});
  TensorId dim0 = b.apply(OpKind::kGather, "gather", {shape, b.ints("zero", {}, {0})},
                          make_attrs({{"axis", int64_t{0}}}));
  TensorId dim0_1d = b.apply(OpKind::kUnsqueeze, "unsqueeze", {dim0, b.ints("axes", {1}, {0})});
  TensorId target = b.apply(OpKind::kConcat, "concat", {dim0_1d, b.ints("minus_one", {1}, {-1})},
                            make_attrs({{"axis", int64_t{0}}}));
  TensorId y = b.apply(OpKind::kReshape, "reshape", {x, target});
  b.output(y);
  return b;
}

// BN parameters with positive variances; returns the BN output.
inline TensorId add_batchnorm(Builder& b, TensorId x, int64_t channels, uint32_t seed, const std::string& name) {
  return b.apply(OpKind::kBatchNormalization, name,
                 {x, b.random(name + ".scale", {channels}, seed, 0.5f, 2.f),
                  b.random(name + ".bias", {channels}, seed + 1),
                  b.random(name + ".mean", {channels}, seed + 2),
                  b.random(name + ".var", {channels}, seed + 3, 0.2f, 1.5f)},
                 make_attrs({{"epsilon", 1e-3f}}));
}

}  // namespace pare::passes
