// The entry point pare's CLI finds with dlopen: LibTorch is loaded only when a TorchScript
// file is read, so every other command starts without it (loading LibTorch takes about a
// second). Errors cross the boundary as a code and a message, not as exceptions.
#include "formats/torchscript/importer.h"
#include "formats/torchscript/module_entry.h"
#include "ir/status.h"

extern "C" __attribute__((visibility("default"))) int pare_torchscript_import(
    const std::string* path, const pare::torchscript_import::ImportOptions* options, pare::ir::Graph* out,
    std::string* message) {
  try {
    *out = pare::torchscript_import::import_model(*path, *options);
    return 0;
  } catch (const pare::Error& e) {
    *message = e.what();
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    *message = "'" + *path + "': " + e.what();
    return static_cast<int>(pare::Status::kInvalidInput);
  }
}
