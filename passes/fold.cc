// Shape inference with constant folding, and the `fold` pass.
#include <algorithm>
#include <exception>
#include <optional>

#include "ir/shape_inference.h"
#include "passes/canonical.h"
#include "passes/node_eval.h"
#include "passes/pass_util.h"

namespace pare::passes {

namespace {

// The value of a Shape node when the dims it reads ([start, end) of its input) are known.
std::optional<std::vector<int64_t>> shape_value(const ir::Graph& graph, const ir::Node& node) {
  const ir::Shape& shape = graph.tensor(node.inputs.at(0)).shape;
  if (!shape.rank_known) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(shape.rank());
  auto clamp_axis = [rank](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank); };
  const int64_t start = clamp_axis(node.attrs.get_int("start", 0));
  const int64_t end = clamp_axis(node.attrs.get_int("end", rank));
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) {
    const ir::Dim& d = shape.dims[static_cast<size_t>(i)];
    if (!d.is_known()) return std::nullopt;
    dims.push_back(d.value);
  }
  return dims;
}

size_t byte_size(const ir::Tensor& t) {
  return static_cast<size_t>(t.shape.num_elements()) * ir::dtype_size(t.dtype);
}

// Whether to replace node `id` (all inputs constant) by its values. Folding trades
// computation for stored bytes; the stored weights may grow by the folded output but
// shrink by the inputs it no longer needs. So a node is folded when its outputs fit in
// `max_output_bytes`, or are no larger than its inputs (a Transpose or Cast of a weight);
// this keeps an Expand or ConstantOfShape that makes a big tensor out of a small one as
// a node.
bool worth_folding(const ir::Graph& graph, const ir::Node& node, size_t max_output_bytes) {
  size_t in_bytes = 0, out_bytes = 0;
  for (ir::TensorId t : node.inputs)
    if (t != ir::kNoTensor) in_bytes += graph.tensor(t).data->bytes.size();
  for (ir::TensorId t : node.outputs) {
    if (t == ir::kNoTensor || !graph.tensor(t).shape.is_static()) return false;
    out_bytes += byte_size(graph.tensor(t));
  }
  return out_bytes <= std::max(max_output_bytes, in_bytes);
}

bool all_inputs_constant(const ir::Graph& graph, const ir::Node& node) {
  bool any = false;
  for (ir::TensorId t : node.inputs) {
    if (t == ir::kNoTensor) continue;
    const ir::Tensor& tensor = graph.tensor(t);
    // Quantized values are not plain numbers: their ops are not evaluated here.
    if (!tensor.is_constant() || tensor.quant) return false;
    any = true;
  }
  return any;
}

}  // namespace

Status infer_and_fold(ir::Graph& graph, size_t max_output_bytes, size_t* folded) {
  size_t count = 0;
  try {
    for (ir::NodeId id : graph.topological_order()) {
      ir::infer_node(graph, id);
      const ir::Node& node = graph.node(id);
      if (node.op == ir::OpKind::kShape) {
        std::optional<std::vector<int64_t>> dims = shape_value(graph, node);
        if (!dims) continue;
        ir::Tensor& out = graph.tensor(node.outputs.at(0));
        auto buffer = std::make_shared<ir::Buffer>();
        buffer->bytes.resize(dims->size() * sizeof(int64_t));
        std::copy(dims->begin(), dims->end(), reinterpret_cast<int64_t*>(buffer->bytes.data()));
        out.dtype = ir::DType::kInt64;
        out.shape = ir::Shape({static_cast<int64_t>(dims->size())});
        out.data = std::move(buffer);
      } else if (node.op == ir::OpKind::kConstant) {
        // Its output already holds the value (infer_node checked): the node has nothing to do.
      } else {
        if (!all_inputs_constant(graph, node) || !worth_folding(graph, node, max_output_bytes))
          continue;
        std::vector<ir::BufferPtr> values = evaluate_node(graph, id);
        for (size_t i = 0; i < values.size(); ++i) graph.tensor(node.outputs[i]).data = values[i];
      }
      graph.remove_node(id);
      ++count;
    }
  } catch (const Error& e) {
    return e.status();
  } catch (const std::exception& e) {
    return Status(Status::kInternal, e.what());
  }
  if (folded) *folded = count;
  return Status::ok();
}

Status infer_and_fold(ir::Graph& graph) { return infer_and_fold(graph, kDefaultMaxFoldBytes, nullptr); }

Status run_fold(ir::Graph& graph, const PassOptions& options, PassContext& ctx) {
  const double mib = options.get_double("max_output_mib", 4.0);
  if (mib < 0) throw_invalid("option 'max_output_mib' must not be negative");
  size_t folded = 0;
  Status status = infer_and_fold(graph, static_cast<size_t>(mib * 1024 * 1024), &folded);
  if (!status) return status;
  size_t dead = graph.remove_dead_nodes();
  add_note(ctx, "fold", "nodes folded into constants: " + std::to_string(folded) +
                            ", dead nodes removed: " + std::to_string(dead));
  return Status::ok();
}

}  // namespace pare::passes
