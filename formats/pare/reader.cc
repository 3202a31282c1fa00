#include "formats/pare/reader.h"

#include <filesystem>
#include <map>
#include <memory>

#include "ir/status.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace pare::format {

namespace {

std::string q(const std::string& s) { return "'" + s + "'"; }

ir::AttrValue attr_value(const rt::Attribute& a) {
  switch (a.type) {
    case rt::Attribute::kInt: return a.i;
    case rt::Attribute::kFloat: return a.f;
    case rt::Attribute::kString: return a.s;
    case rt::Attribute::kInts: return a.ints;
    case rt::Attribute::kFloats: return a.floats;
  }
  return a.i;
}

}  // namespace

ir::Graph read_graph(const std::string& path) {
  auto fail = [&](const rt::Status& status) {
    const std::string& msg = status.message();
    throw Error(Status::kInvalidInput, msg.find(path) != std::string::npos ? msg : q(path) + ": " + msg);
  };
  auto loaded = rt::Model::load_file(path);
  if (!loaded.is_ok()) fail(loaded.status());
  // The tools that read a graph (export-onnx, check's teacher) rely on what prepare checks:
  // each node's inputs and outputs consistent with its op. A file that loads but does not
  // prepare (a Split with an output of another rank) is refused here, as `pare run` would.
  auto prepared = rt::Interpreter::create(loaded.value(), rt::InterpreterOptions{});
  if (!prepared.is_ok()) fail(prepared.status());
  return read_graph(*loaded.value(), path);
}

ir::Graph read_graph(const rt::Model& m, const std::string& path) {
  auto bad = [&](const std::string& msg) { throw Error(Status::kInvalidInput, q(path) + ": " + msg); };

  ir::Graph g;
  g.name = std::filesystem::path(path).stem().string();
  const rt::ModelMetadata& md = m.metadata();
  g.metadata["producer"] = md.producer;
  g.metadata["producer_version"] = md.producer_version;
  g.metadata["pipeline"] = md.pipeline;
  g.metadata["source_file"] = md.source_file;
  g.metadata["source_hash"] = md.source_hash;
  g.metadata["report_summary"] = md.report_summary;

  // Constants that share bytes in the file (one copy for several tensors) share a buffer.
  std::map<std::pair<const void*, size_t>, ir::BufferPtr> buffers;
  for (const rt::ModelTensor& mt : m.tensors()) {
    const rt::TensorDesc& d = mt.desc;
    ir::Tensor t;
    t.name = d.name;
    t.dtype = d.dtype;
    t.shape = ir::Shape(d.shape);
    if (mt.is_constant()) {
      // The IR keeps constants dense: a sparse one comes back with its zeros, a palette one
      // with each index's entry.
      const void* stored = d.encoding == rt::Encoding::kSparse    ? d.sparse.values
                           : d.encoding == rt::Encoding::kPalette ? static_cast<const void*>(d.palette.indices)
                                                                  : d.constant;
      ir::BufferPtr& buf = buffers[{stored, d.byte_size()}];
      if (!buf) {
        auto b = std::make_shared<ir::Buffer>();
        b->bytes.resize(d.byte_size());
        rt::densify(d, b->bytes.data());
        buf = std::move(b);
      }
      t.data = buf;
    }
    if (d.quantized) t.quant = d.quant;
    g.add_tensor(std::move(t));
  }

  for (const rt::NodeDesc& nd : m.nodes()) {
    ir::Node n;
    if (!ir::op_from_name(nd.op, &n.op))
      bad("node " + q(nd.name) + " has op type " + q(nd.op) + ", which the toolchain does not know");
    n.name = nd.name;
    for (const rt::Attribute& a : nd.attrs.all()) n.attrs.set(a.name, attr_value(a));
    for (int32_t in : nd.inputs) n.inputs.push_back(in < 0 ? ir::kNoTensor : in);
    n.outputs.assign(nd.outputs.begin(), nd.outputs.end());
    n.activation = nd.activation;
    g.add_node(std::move(n));
  }
  g.inputs.assign(m.inputs().begin(), m.inputs().end());
  g.outputs.assign(m.outputs().begin(), m.outputs().end());
  return g;
}

}  // namespace pare::format
