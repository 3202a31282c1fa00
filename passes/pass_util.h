// Small utilities shared by the pass implementations in passes/.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/pass.h"

namespace pare::passes {

// Appends a human-readable note to the report of the pass being run. run_pipeline
// pushes that report before the pass starts; a pass called on its own gets one here.
void add_note(PassContext& ctx, const std::string& pass, std::string note);

// `base` if no tensor has that name yet, else `base` + "_1", "_2", ...
std::string unique_tensor_name(const ir::Graph& graph, const std::string& base);

// A new float32 constant with its own buffer.
ir::TensorId add_float_constant(ir::Graph& graph, const std::string& name,
                                const std::vector<int64_t>& shape, const std::vector<float>& values);

// True when `t` is a float32 constant (with a payload matching its shape).
bool is_float_constant(const ir::Tensor& t);

// The node's name for messages: "Conv 'layer1/conv'" (or "Conv #12" when unnamed).
std::string describe_node(const ir::Graph& graph, ir::NodeId id);

// The only consumer of `t`, or kNoNode when it has none or several, or is a graph output.
ir::NodeId sole_consumer(const ir::Graph& graph, ir::TensorId t);

}  // namespace pare::passes
