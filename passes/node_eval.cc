#include "passes/node_eval.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>

#include "ir/status.h"
#include "passes/pass_util.h"
#include "runtime/memory_planner.h"
#include "runtime/tensor.h"

namespace pare::passes {

namespace {

// The runtime's activation arena is 64-byte aligned and kernels may rely on it, so
// evaluation gives them memory with the same alignment.
class AlignedBlock {
 public:
  explicit AlignedBlock(size_t bytes) : storage_(new uint8_t[bytes + rt::kArenaAlignment]) {
    auto addr = reinterpret_cast<uintptr_t>(storage_.get());
    data_ = storage_.get() + (rt::kArenaAlignment - addr % rt::kArenaAlignment) % rt::kArenaAlignment;
  }
  uint8_t* data() const { return data_; }

 private:
  std::unique_ptr<uint8_t[]> storage_;
  uint8_t* data_ = nullptr;
};

rt::TensorDesc tensor_desc(const ir::Graph& graph, ir::TensorId id, const std::string& where) {
  const ir::Tensor& t = graph.tensor(id);
  if (!t.shape.is_static())
    throw_invalid(where + ": tensor '" + t.name + "' has no static shape (" + t.shape.str() + ")");
  if (t.dtype == ir::DType::kUndefined) throw_invalid(where + ": tensor '" + t.name + "' has no dtype");
  rt::TensorDesc desc;
  desc.name = t.name;
  desc.dtype = t.dtype;
  desc.shape = t.shape.sizes();
  return desc;
}

// Where an empty tensor's data is: as in the runtime's arena, a real aligned address, never
// null (kernels offset their pointers before looking at the element count).
uint8_t* empty_tensor_data() {
  alignas(64) static uint8_t block[64];
  return block;
}

}  // namespace

std::vector<ir::BufferPtr> evaluate_node(const ir::Graph& graph, ir::NodeId id) {
  const ir::Node& node = graph.node(id);
  const std::string where = describe_node(graph, id);
  rt::OpFactory factory = rt::find_op(ir::op_name(node.op));
  if (!factory) throw_unsupported(where + ": the runtime has no kernel for " + ir::op_name(node.op));

  // Descriptions first (the vectors must not grow once pointers into them are taken).
  std::vector<rt::TensorDesc> in_descs(node.inputs.size()), out_descs(node.outputs.size());
  std::vector<std::unique_ptr<AlignedBlock>> in_copies(node.inputs.size());
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    ir::TensorId t = node.inputs[i];
    if (t == ir::kNoTensor) continue;
    const ir::Tensor& tensor = graph.tensor(t);
    if (!tensor.is_constant())
      throw_invalid(where + ": input '" + tensor.name + "' is not a constant");
    in_descs[i] = tensor_desc(graph, t, where);
    if (tensor.data->bytes.size() != in_descs[i].byte_size())
      throw_invalid(where + ": constant '" + tensor.name + "' holds " +
                    std::to_string(tensor.data->bytes.size()) + " bytes, its shape " +
                    tensor.shape.str() + " needs " + std::to_string(in_descs[i].byte_size()));
    const uint8_t* bytes = tensor.data->bytes.data();
    if (in_descs[i].byte_size() == 0) bytes = empty_tensor_data();
    if (reinterpret_cast<uintptr_t>(bytes) % rt::kArenaAlignment != 0) {
      in_copies[i] = std::make_unique<AlignedBlock>(in_descs[i].byte_size());
      std::memcpy(in_copies[i]->data(), bytes, in_descs[i].byte_size());
      bytes = in_copies[i]->data();
    }
    in_descs[i].constant = bytes;
  }
  for (size_t i = 0; i < node.outputs.size(); ++i)
    out_descs[i] = tensor_desc(graph, node.outputs[i], where);

  rt::Attrs attrs = to_runtime_attrs(node.attrs);
  rt::PrepareContext ctx;
  ctx.op = ir::op_name(node.op);
  ctx.node_name = node.name;
  ctx.attrs = &attrs;
  for (size_t i = 0; i < node.inputs.size(); ++i)
    ctx.inputs.push_back(node.inputs[i] == ir::kNoTensor ? nullptr : &in_descs[i]);
  for (const rt::TensorDesc& d : out_descs) ctx.outputs.push_back(&d);
  try {
    ctx.activation = node.activation;
  } catch (const Error& e) {
    throw Error(e.code(), where + ": " + e.what());
  }
  // Scalar kernels: folded values must not depend on the CPU the toolchain runs on.
  ctx.isa = rt::Isa::kScalar;

  rt::Result<std::unique_ptr<rt::OpKernel>> prepared = factory(ctx);
  if (!prepared.is_ok()) {
    const rt::Status& st = prepared.status();
    throw Error(st.code() == rt::Status::kUnsupported ? Status::kUnsupported : Status::kInvalidInput,
                st.message());
  }
  std::unique_ptr<rt::OpKernel> kernel = std::move(prepared).value();

  std::vector<std::unique_ptr<AlignedBlock>> out_blocks;
  std::vector<void*> out_ptrs;
  for (const rt::TensorDesc& d : out_descs) {
    out_blocks.push_back(std::make_unique<AlignedBlock>(d.byte_size()));
    out_ptrs.push_back(d.byte_size() == 0 ? empty_tensor_data() : out_blocks.back()->data());
  }
  std::vector<const void*> in_ptrs;
  for (size_t i = 0; i < node.inputs.size(); ++i)
    in_ptrs.push_back(node.inputs[i] == ir::kNoTensor ? nullptr : in_descs[i].constant);
  AlignedBlock scratch(kernel->scratch_bytes());

  rt::ExecContext exec;
  exec.inputs = in_ptrs.data();
  exec.outputs = out_ptrs.data();
  exec.scratch = scratch.data();
  exec.pool = nullptr;
  rt::Status status;
  exec.status = &status;
  kernel->run(exec);
  if (!status.is_ok()) throw_invalid(status.message());

  std::vector<ir::BufferPtr> results;
  for (size_t i = 0; i < out_descs.size(); ++i) {
    auto buffer = std::make_shared<ir::Buffer>();
    buffer->bytes.assign(out_blocks[i]->data(), out_blocks[i]->data() + out_descs[i].byte_size());
    results.push_back(std::move(buffer));
  }
  return results;
}

rt::Attrs to_runtime_attrs(const ir::Attributes& attrs) {
  rt::Attrs out;
  for (const auto& [name, value] : attrs.all()) {
    rt::Attribute a;
    a.name = name;
    std::visit(
        [&a](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, int64_t>) {
            a.type = rt::Attribute::kInt;
            a.i = v;
          } else if constexpr (std::is_same_v<T, float>) {
            a.type = rt::Attribute::kFloat;
            a.f = v;
          } else if constexpr (std::is_same_v<T, std::string>) {
            a.type = rt::Attribute::kString;
            a.s = v;
          } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            a.type = rt::Attribute::kInts;
            a.ints = v;
          } else {
            static_assert(std::is_same_v<T, std::vector<float>>, "unhandled attribute type");
            a.type = rt::Attribute::kFloats;
            a.floats = v;
          }
        },
        value);
    out.add(std::move(a));
  }
  return out;
}

}  // namespace pare::passes
