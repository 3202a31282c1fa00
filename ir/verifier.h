// Checks the invariants every pass must keep: acyclic, every input defined (graph input,
// constant or a live node's output), each tensor produced once, dtypes and shapes known
// and consistent with shape inference, constant payload sizes matching their shapes.
#pragma once

#include "ir/graph.h"
#include "ir/status.h"

namespace pare::ir {

Status verify(const Graph& graph);

}  // namespace pare::ir
