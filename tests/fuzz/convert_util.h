// What `pare convert` does after an importer, for the import fuzz targets: the canonical
// pipeline, the writer and the loader. A file the writer produced from a graph the
// pipeline accepted must load; when it does not, that is a finding (abort).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "formats/pare/writer.h"
#include "ir/status.h"
#include "passes/pass.h"
#include "runtime/model.h"

namespace pare::fuzz {

inline std::shared_ptr<const rt::Model> convert_and_load(ir::Graph& graph) {
  passes::PassContext ctx;
  const Status st = passes::run_pipeline(graph, passes::kCanonicalPipeline, ctx);
  if (!st.is_ok()) throw Error(st.code(), st.message());
  const std::vector<uint8_t> file = format::serialize(graph, {});
  auto model = rt::Model::load_buffer(file.data(), file.size(), "converted.pare");
  if (!model.is_ok()) {
    std::fprintf(stderr, "written file does not load: %s\n", model.status().message().c_str());
    std::abort();
  }
  return model.value();
}

}  // namespace pare::fuzz
