// Runs one IR node on the runtime's kernels (the same code apps embed), for constant
// folding now and calibration later.
#pragma once

#include <vector>

#include "ir/graph.h"
#include "runtime/attrs.h"
#include "runtime/op.h"

namespace pare::passes {

// Evaluates node `id` whose inputs are all constant; returns one buffer per output (the
// outputs' dtypes and shapes must be set). Throws pare::Error naming the node.
std::vector<ir::BufferPtr> evaluate_node(const ir::Graph& graph, ir::NodeId id);

// IR attributes as the runtime takes them.
rt::Attrs to_runtime_attrs(const ir::Attributes& attrs);

}  // namespace pare::passes
