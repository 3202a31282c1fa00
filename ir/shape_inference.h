// Shape and dtype inference, one rule per op. Rules read constant inputs where the
// output shape depends on values (Reshape's shape, Slice's starts, Resize's sizes...).
#pragma once

#include "ir/graph.h"

namespace pare::ir {

// Sets dtype and shape of every output of node `id` from its inputs. Throws pare::Error
// (kInvalidInput) naming the node when inputs are inconsistent, and kUnsupported when an
// output shape would depend on values that are not constant.
void infer_node(Graph& graph, NodeId id);

}  // namespace pare::ir
