// Dead-code elimination: nodes whose outputs reach no graph output go, then tensors no
// live node or signature uses are dropped and ids renumbered in topological order.
#include "passes/canonical.h"
#include "passes/pass_util.h"

namespace pare::passes {

Status run_dce(ir::Graph& graph, const PassOptions&, PassContext& ctx) {
  const size_t dead = graph.remove_dead_nodes();
  const size_t tensors_before = graph.tensor_capacity();
  graph.compact();
  add_note(ctx, "dce", "dead nodes removed: " + std::to_string(dead) + ", unused tensors dropped: " +
                           std::to_string(tensors_before - graph.tensor_capacity()));
  return Status::ok();
}

}  // namespace pare::passes
