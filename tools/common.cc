#include "tools/common.h"

#include <fmt/format.h>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <optional>

#include "formats/import/model_import.h"
#include "formats/pare/writer.h"
#include "ir/graph.h"
#include "ir/status.h"

namespace pare::cli {

int run_reporting_errors(const std::function<int()>& run, std::string* error) {
  auto report = [&](const char* kind, const std::string& message) {
    if (error)
      *error = message;
    else
      fmt::print(stderr, "pare: {}: {}\n", kind, message);
  };
  try {
    return run();
  } catch (const Error& e) {
    report("error", e.what());
    return e.status().exit_code();
  } catch (const std::bad_alloc&) {
    report("error", "out of memory");
    return 1;
  } catch (const std::exception& e) {
    report("internal error", e.what());
    return 1;
  }
}

void warn(const std::string& message) { fmt::print(stderr, "pare: warning: {}\n", message); }

void throw_runtime_error(const rt::Status& status, const std::string& context) {
  Status::Code code = Status::kInvalidInput;
  if (status.code() == rt::Status::kInternal) code = Status::kInternal;
  if (status.code() == rt::Status::kUnsupported) code = Status::kUnsupported;
  std::string message = status.message();
  if (!context.empty() && message.find(context) == std::string::npos)
    message = fmt::format("{}: {}", context, message);
  throw Error(code, message);
}

void throw_naming(const Status& status, const std::string& file) {
  std::string message = status.message();
  if (message.find(file) == std::string::npos) message = fmt::format("'{}': {}", file, message);
  throw Error(status.code(), message);
}

std::shared_ptr<const rt::Model> load_model(const std::string& path) {
  auto model = rt::Model::load_file(path);
  if (!model.is_ok()) throw_runtime_error(model.status(), path);
  return std::move(model).value();
}

std::unique_ptr<rt::Interpreter> make_interpreter(std::shared_ptr<const rt::Model> model,
                                                  const std::string& path, int threads, size_t max_memory,
                                                  bool fuse_nodes) {
  rt::InterpreterOptions options;
  options.threads = threads;
  options.fuse_nodes = fuse_nodes;
  options.max_memory_bytes = max_memory;
  auto interp = rt::Interpreter::create(std::move(model), options);
  if (!interp.is_ok()) {
    rt::Status status = interp.status();
    std::string message = status.message();
    const std::string limit = "the memory limit is";
    if (status.code() == rt::Status::kMemoryLimit && message.find(limit) != std::string::npos)
      status = rt::Status(status.code(), message.replace(message.find(limit), limit.size(),
                                                         "the memory limit (--max-memory) is"));
    throw_runtime_error(status, path);
  }
  if ((*interp)->num_outputs() == 0)
    throw_invalid(fmt::format("{}: the model has no outputs", path));
  return std::move(interp).value();
}

void add_max_memory_option(CLI::App* cmd, std::string* text) {
  cmd->add_option("--max-memory", *text,
                  "Refuse a model that needs more than SIZE bytes (activations, scratch, packed weights and "
                  "the file): a number of bytes or with K, M, G, T (powers of 1024). Default: this "
                  "machine's physical memory");
}

size_t max_memory_bytes(const std::string& text) {
  if (text.empty()) {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
  }
  auto bad = [&] {
    throw_invalid(fmt::format("--max-memory: '{}' is not a size (bytes, or a number with K, M, G or T)", text));
  };
  size_t digits = 0;
  while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.'))
    ++digits;
  if (digits == 0) bad();
  char* end = nullptr;
  const std::string number = text.substr(0, digits);
  const double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) bad();
  std::string unit = text.substr(digits);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && (unit.substr(1) == "B" || unit.substr(1) == "IB")) unit = unit.substr(0, 1);
  if (unit == "B") unit.clear();
  const std::string units = "KMGT";
  double scale = 1;
  if (!unit.empty()) {
    const size_t u = units.find(unit);
    if (unit.size() != 1 || u == std::string::npos) bad();
    for (size_t i = 0; i <= u; ++i) scale *= 1024;
  }
  const double bytes = value * scale;
  if (!(bytes >= 1) || bytes >= 1.8e19) bad();
  return static_cast<size_t>(bytes);
}

npy::ElemType elem_type_of(rt::DType dtype) {
  switch (dtype) {
    case rt::DType::kFloat32:
      return npy::ElemType::kFloat32;
    case rt::DType::kFloat64:
      return npy::ElemType::kFloat64;
    case rt::DType::kInt64:
      return npy::ElemType::kInt64;
    case rt::DType::kInt32:
      return npy::ElemType::kInt32;
    case rt::DType::kUInt8:
      return npy::ElemType::kUInt8;
    case rt::DType::kInt8:
      return npy::ElemType::kInt8;
    case rt::DType::kBool:
      return npy::ElemType::kBool;
    case rt::DType::kUndefined:
      break;
  }
  throw_internal("a model tensor has no dtype");
}

size_t parameter_bytes(const rt::Model& model) {
  size_t n = 0;
  for (const rt::ModelTensor& t : model.tensors())
    if (t.is_constant()) n += t.desc.byte_size();
  return n;
}

size_t activation_bytes(const rt::Model& model) {
  size_t n = 0;
  for (const rt::ModelTensor& t : model.tensors())
    if (!t.is_constant()) n += t.desc.byte_size();
  return n;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

namespace {

std::string input_names(const rt::Interpreter& interp) {
  std::string names;
  for (size_t i = 0; i < interp.num_inputs(); ++i)
    names += fmt::format("{}'{}'", i ? ", " : "", interp.input(i).name);
  return names;
}

}  // namespace

std::vector<std::optional<InputArray>> bind_some_inputs(const rt::Interpreter& interp, const std::string& model,
                                                        const std::vector<std::string>& specs,
                                                        const std::string& flag) {
  std::vector<std::optional<InputArray>> bound(interp.num_inputs());
  auto bind = [&](size_t index, InputArray array) {
    if (bound[index])
      throw_invalid(fmt::format("input '{}' is given twice ({} and {})", interp.input(index).name,
                                bound[index]->source, array.source));
    bound[index] = std::move(array);
  };
  for (const std::string& spec : specs) {
    int index = -1;
    std::string path = spec;
    size_t eq = spec.find('=');
    if (eq != std::string::npos) {
      index = interp.find_input(spec.substr(0, eq));
      if (index >= 0)
        path = spec.substr(eq + 1);
      else if (!std::filesystem::exists(spec))
        throw_invalid(fmt::format("{} {}: {} has no input '{}' (its inputs: {})", flag, spec, model,
                                  spec.substr(0, eq), input_names(interp)));
    }
    if (ends_with(path, ".npz")) {
      std::vector<std::pair<std::string, npy::Array>> members = npy::read_npz(path);
      if (members.empty()) throw_invalid(fmt::format("{} {}: {} holds no array", flag, spec, path));
      if (index >= 0 || (interp.num_inputs() == 1 && members.size() == 1)) {
        if (index < 0) index = 0;
        const std::string& name = interp.input(static_cast<size_t>(index)).name;
        auto it = std::find_if(members.begin(), members.end(), [&](const auto& m) { return m.first == name; });
        if (it == members.end() && members.size() == 1) it = members.begin();
        if (it == members.end())
          throw_invalid(fmt::format("{} {}: {} has no array '{}' for input '{}'", flag, spec, path, name, name));
        bind(static_cast<size_t>(index),
             {fmt::format("{}, array '{}'", path, it->first), std::move(it->second)});
        continue;
      }
      for (auto& [name, array] : members) {
        const int k = interp.find_input(name);
        if (k < 0)
          throw_invalid(fmt::format("{} {}: array '{}' in {} matches no input of {} (its inputs: {})", flag,
                                    spec, name, path, model, input_names(interp)));
        bind(static_cast<size_t>(k), {fmt::format("{}, array '{}'", path, name), std::move(array)});
      }
      continue;
    }
    if (index < 0) {
      if (interp.num_inputs() != 1)
        throw_invalid(
            fmt::format("{} {}: {} has {} inputs ({}); bind each by name with {} NAME=FILE.npy "
                        "or give a .npz with one array per input name",
                        flag, spec, model, interp.num_inputs(), input_names(interp), flag));
      index = 0;
    }
    bind(static_cast<size_t>(index), {path, npy::read_npy(path)});
  }
  return bound;
}

std::vector<InputArray> bind_inputs(const rt::Interpreter& interp, const std::string& model,
                                    const std::vector<std::string>& specs, const std::string& flag) {
  std::vector<std::optional<InputArray>> bound = bind_some_inputs(interp, model, specs, flag);
  std::vector<InputArray> inputs;
  for (size_t i = 0; i < bound.size(); ++i) {
    if (!bound[i])
      throw_invalid(fmt::format("input '{}' of {} has no array; give it with {} {}=FILE.npy or as "
                                "array '{}' of a .npz",
                                interp.input(i).name, model, flag, interp.input(i).name,
                                interp.input(i).name));
    inputs.push_back(std::move(*bound[i]));
  }
  return inputs;
}

namespace {

// Converts an array to the dtype of the model input it feeds (float64 -> float32,
// int32 -> int64), or throws when the dtypes do not go together.
void convert_to(rt::DType want, const std::string& input_name, InputArray& in) {
  npy::Array& a = in.array;
  npy::ElemType target = elem_type_of(want);
  if (a.type == target) return;
  npy::Array out;
  out.type = target;
  out.shape = a.shape;
  out.data.resize(static_cast<size_t>(a.size()) * out.elem_size());
  if (target == npy::ElemType::kFloat32 && a.type == npy::ElemType::kFloat64) {
    for (int64_t i = 0; i < a.size(); ++i)
      out.as<float>()[i] = static_cast<float>(a.as<double>()[i]);
  } else if (target == npy::ElemType::kInt64 && a.type == npy::ElemType::kInt32) {
    for (int64_t i = 0; i < a.size(); ++i) out.as<int64_t>()[i] = a.as<int32_t>()[i];
  } else {
    throw_invalid(fmt::format("input '{}' ({}): the model takes {}, the array is {}", input_name,
                              in.source, rt::dtype_name(want), npy::elem_type_name(a.type)));
  }
  a = std::move(out);
}

// How many runs an array gives for a model input (see run_rows).
int64_t runs_for(const rt::TensorDesc& desc, const InputArray& in) {
  const std::vector<int64_t>& want = desc.shape;
  const std::vector<int64_t>& got = in.array.shape;
  if (got == want) return 1;
  bool ok = !want.empty() && want[0] > 0 && got.size() == want.size() && got[0] % want[0] == 0 &&
            std::equal(want.begin() + 1, want.end(), got.begin() + 1);
  if (!ok) {
    std::string expected = "[]";
    if (!want.empty()) {
      expected = "[R";
      for (size_t d = 1; d < want.size(); ++d) expected += fmt::format(",{}", want[d]);
      expected += fmt::format("] with R a multiple of {}", want[0]);
    }
    throw_invalid(
        fmt::format("input '{}' ({}): shape {} does not fit the model input {}; "
                    "expected {}",
                    desc.name, in.source, rt::shape_str(got), rt::shape_str(want), expected));
  }
  return got[0] / want[0];
}

}  // namespace

int64_t fit_input(const rt::TensorDesc& desc, InputArray& in) {
  convert_to(desc.dtype, desc.name, in);
  return runs_for(desc, in);
}

std::vector<npy::Array> run_rows(rt::Interpreter& interp, std::vector<InputArray> inputs) {
  if (inputs.size() != interp.num_inputs())
    throw_internal(
        fmt::format("{} arrays for {} model inputs", inputs.size(), interp.num_inputs()));
  int64_t runs = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const rt::TensorDesc& desc = interp.input(i);
    int64_t r = fit_input(desc, inputs[i]);
    if (runs >= 0 && r != runs)
      throw_invalid(
          fmt::format("inputs disagree on the number of rows: '{}' ({}) has shape {}, "
                      "'{}' ({}) has shape {}",
                      interp.input(0).name, inputs[0].source, rt::shape_str(inputs[0].array.shape),
                      desc.name, inputs[i].source, rt::shape_str(inputs[i].array.shape)));
    runs = r;
  }
  if (inputs.empty()) runs = 1;

  std::vector<npy::Array> outputs(interp.num_outputs());
  for (size_t o = 0; o < outputs.size(); ++o) {
    const rt::TensorDesc& desc = interp.output(o);
    npy::Array& out = outputs[o];
    out.type = elem_type_of(desc.dtype);
    out.shape = desc.shape;
    if (runs != 1) {
      if (out.shape.empty())
        out.shape = {runs};
      else
        out.shape[0] *= runs;
    }
    out.data.resize(static_cast<size_t>(runs) * desc.byte_size());
  }
  for (int64_t r = 0; r < runs; ++r) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      size_t bytes = interp.input(i).byte_size();
      std::memcpy(interp.input_data(i),
                  inputs[i].array.data.data() + static_cast<size_t>(r) * bytes, bytes);
    }
    rt::Status st = interp.invoke();
    if (!st.is_ok()) throw_runtime_error(st, "");
    for (size_t o = 0; o < outputs.size(); ++o) {
      size_t bytes = interp.output(o).byte_size();
      std::memcpy(outputs[o].data.data() + static_cast<size_t>(r) * bytes, interp.output_data(o),
                  bytes);
    }
  }
  return outputs;
}

ir::Graph import_source(const std::string& path, const std::vector<std::string>& input_shapes,
                        const std::vector<std::string>& input_types) {
  const model_import::InputShapes shapes = model_import::parse_input_shapes(input_shapes);
  model_import::InputTypes types;
  for (const std::string& spec : input_types) {
    const size_t colon = spec.rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw_invalid(fmt::format("bad --input-type '{}': expected NAME:DTYPE (e.g. attention_mask:int64)", spec));
    const std::string name = spec.substr(0, colon);
    const ir::DType type = model_import::parse_input_type(spec.substr(colon + 1));
    if (!types.emplace(name, type).second)
      throw_invalid(fmt::format("--input-type: input '{}' is given twice", name));
  }
  return model_import::import_model(path, shapes, types);
}

std::vector<uint8_t> serialize_checked(ir::Graph& graph, const std::string& source, const std::string& output,
                                       const std::string& pipeline, bool strip_tensor_names, bool prepare,
                                       std::shared_ptr<const rt::Model>* model_out, const std::string& source_hash) {
  graph.compact();
  format::WriteOptions options;
  options.producer_version = PARE_VERSION;
  options.pipeline = pipeline;
  options.source_file = base_name(source);
  options.source_hash = source_hash.empty() ? format::sha256_file(source) : source_hash;
  options.strip_tensor_names = strip_tensor_names;
  std::vector<uint8_t> bytes;
  try {
    bytes = format::serialize(graph, options);
  } catch (const Error& e) {
    // The writer's refusals (a tensor too large to hold) are about the source model.
    if (e.code() != Status::kInvalidInput) throw;
    throw_invalid(fmt::format("{}: {}", source, e.what()));
  }
  auto model = rt::Model::load_buffer(bytes.data(), bytes.size(), output);
  if (!model.is_ok())
    throw_internal(fmt::format("the written model would not pass the runtime's checks: {}", model.status().message()));
  if (prepare) make_interpreter(model.value(), output, 1);
  if (model_out) *model_out = model.value();
  return bytes;
}

}  // namespace pare::cli
