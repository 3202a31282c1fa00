// Reads a .pare file back into an ir::Graph (for export and inspection by the toolchain).
// The file goes through the runtime's verifying loader first, so a graph is only rebuilt
// from a file the runtime would accept.
#pragma once

#include <string>

#include "ir/graph.h"
#include "runtime/model.h"

namespace pare::format {

// Loads `path` with rt::Model::load_file and rebuilds the graph: tensors (name, dtype,
// static shape, constant bytes, quantization; constants that share bytes in the file share
// one ir::Buffer), nodes in file order (op, typed attributes, fused activation and its
// parameters, source name), graph inputs and outputs, and the file's metadata in
// Graph::metadata (producer, producer_version, pipeline, source_file, source_hash,
// report_summary). Throws pare::Error(kInvalidInput) naming the file when it does not load
// and prepare (as `pare run` would) or holds something the IR cannot represent (an op type
// the IR does not know).
ir::Graph read_graph(const std::string& path);
// The same from a model already loaded from `path` (named in messages).
ir::Graph read_graph(const rt::Model& m, const std::string& path);

}  // namespace pare::format
