#include "formats/import/model_import.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>

#include "formats/onnx/importer.h"
#include "formats/torchscript/module_entry.h"
#include "ir/status.h"

namespace pare::model_import {

namespace {

#ifdef PARE_WITH_TORCH
std::string executable_dir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.find_last_of('/'));
}

// The TorchScript module, loaded once: $PARE_TORCHSCRIPT_MODULE, next to the executable,
// ../lib/pare/ from it (installed), or where the build put it.
PareTorchscriptImportFn load_torchscript_module() {
  static std::once_flag once;
  static PareTorchscriptImportFn fn = nullptr;
  static std::string errors;
  std::call_once(once, [] {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("PARE_TORCHSCRIPT_MODULE")) candidates.push_back(env);
    const std::string dir = executable_dir();
    candidates.push_back(dir + "/" + kPareTorchscriptModuleName);
    candidates.push_back(dir + "/../lib/pare/" + kPareTorchscriptModuleName);
    candidates.push_back(PARE_TORCHSCRIPT_BUILD_MODULE);
    for (const std::string& c : candidates) {
      if (access(c.c_str(), R_OK) != 0) continue;
      void* handle = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);  // kept open: LibTorch has static state
      if (!handle) {
        errors += std::string("; ") + dlerror();
        continue;
      }
      fn = reinterpret_cast<PareTorchscriptImportFn>(dlsym(handle, kPareTorchscriptImportSymbol));
      if (fn) return;
      errors += "; " + c + " has no " + kPareTorchscriptImportSymbol;
    }
  });
  if (!fn)
    throw_unsupported(std::string("cannot load pare's TorchScript module (") + kPareTorchscriptModuleName +
                      "; set PARE_TORCHSCRIPT_MODULE to its path)" + errors);
  return fn;
}
#endif

}  // namespace

bool torchscript_available() {
#ifdef PARE_WITH_TORCH
  return true;
#else
  return false;
#endif
}

bool is_torchscript(const std::string& path) {
  // PyTorch's file names: a damaged .pt gets TorchScript's error, not ONNX's.
  for (const char* ext : {".pt", ".pth", ".ts", ".torchscript"}) {
    const size_t n = std::strlen(ext);
    if (path.size() > n && path.compare(path.size() - n, n, ext) == 0) return true;
  }
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  if (!f.read(magic, 4)) return false;
  return std::memcmp(magic, "PK\x03\x04", 4) == 0;  // torch.jit.save writes a zip archive
}

InputShapes parse_input_shapes(const std::vector<std::string>& specs) {
  InputShapes shapes;
  for (const std::string& spec : specs) {
    auto [name, dims] = onnx_import::parse_input_shape(spec);
    if (!shapes.emplace(name, dims).second) throw_invalid("--input-shape: input '" + name + "' is given twice");
  }
  return shapes;
}

ir::DType parse_input_type(const std::string& name) {
  for (ir::DType t : {ir::DType::kFloat32, ir::DType::kInt64, ir::DType::kInt32, ir::DType::kBool, ir::DType::kUInt8,
                      ir::DType::kInt8})
    if (name == ir::dtype_name(t)) return t;
  throw_invalid("'" + name + "' is not an input type pare takes (float32, int64, int32, bool, uint8, int8)");
}

ir::Graph import_model(const std::string& path, const InputShapes& input_shapes, const InputTypes& input_types) {
  if (!is_torchscript(path)) {
    onnx_import::ImportOptions options;
    options.input_shapes = input_shapes;
    ir::Graph g = onnx_import::import_model(path, options);
    for (const auto& [name, type] : input_types) {
      const ir::TensorId t = g.find_tensor(name);
      bool is_input = false;
      for (ir::TensorId in : g.inputs) is_input |= in == t;
      if (!is_input) throw_invalid("'" + path + "': --input-type names '" + name + "', which is not an input");
      if (g.tensor(t).dtype != type)
        throw_invalid("'" + path + "': input '" + name + "' is " + ir::dtype_name(g.tensor(t).dtype) +
                      " in the model; --input-type says " + ir::dtype_name(type));
    }
    return g;
  }
#ifdef PARE_WITH_TORCH
  torchscript_import::ImportOptions options;
  options.input_shapes = input_shapes;
  options.input_types = input_types;
  PareTorchscriptImportFn import_fn = load_torchscript_module();
  ir::Graph graph;
  std::string message;
  const int code = import_fn(&path, &options, &graph, &message);
  if (code != 0) throw Error(static_cast<Status::Code>(code), message);
  return graph;
#else
  throw_unsupported("'" + path + "' is a TorchScript file, and this pare was built without LibTorch "
                    "(configure with -DPARE_WITH_TORCH=ON and libtorch-dev installed)");
#endif
}

}  // namespace pare::model_import
