// The passes, one per file, listed in passes/registry.cc.
#pragma once

#include <cstddef>

#include "ir/graph.h"
#include "passes/pass.h"

namespace pare::passes {

// infer_and_fold with an explicit size limit: a folded output larger than
// `max_output_bytes` is kept as a node unless its constant inputs were larger still.
// `folded` (may be null) receives how many nodes were replaced by constants.
Status infer_and_fold(ir::Graph& graph, size_t max_output_bytes, size_t* folded);
constexpr size_t kDefaultMaxFoldBytes = size_t{4} << 20;

Status run_dce(ir::Graph& graph, const PassOptions& options, PassContext& ctx);
Status run_fold(ir::Graph& graph, const PassOptions& options, PassContext& ctx);
Status run_fold_batchnorm(ir::Graph& graph, const PassOptions& options, PassContext& ctx);
Status run_fuse_activation(ir::Graph& graph, const PassOptions& options, PassContext& ctx);
Status run_fuse_layernorm(ir::Graph& graph, const PassOptions& options, PassContext& ctx);
Status run_nhwc(ir::Graph& graph, const PassOptions& options, PassContext& ctx);
Status run_remove_identity(ir::Graph& graph, const PassOptions& options, PassContext& ctx);

// Compression (quantize, prune_channels and prune(schedule=sensitivity) read
// PassContext::calibration).
Status run_cluster(ir::Graph& graph, const PassOptions& options, PassContext& ctx);
Status run_lowrank(ir::Graph& graph, const PassOptions& options, PassContext& ctx);
Status run_prune(ir::Graph& graph, const PassOptions& options, PassContext& ctx);
Status run_prune_channels(ir::Graph& graph, const PassOptions& options, PassContext& ctx);
Status run_quantize(ir::Graph& graph, const PassOptions& options, PassContext& ctx);

}  // namespace pare::passes
