// Running one pass the way run_pipeline does: report, timing, verification, and errors
// that name the pass and the pipeline.
#pragma once

#include <string>

#include "passes/pass.h"

namespace pare::passes {

// Pushes a PassReport (nodes and weight bytes before/after, time) onto ctx.reports, runs
// `pass`, and with ctx.verify_each checks the graph it leaves with ir::verify. A failure
// is returned with the message prefixed "pass 'NAME' failed in pipeline 'PIPELINE': ";
// a pass's own failure keeps its code, a graph that no longer verifies is kInternal.
Status run_pass(ir::Graph& graph, const PassInfo& pass, const PassOptions& options,
                PassContext& ctx, const std::string& pipeline);

}  // namespace pare::passes
