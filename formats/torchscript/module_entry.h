// The function the TorchScript module (libpare_torchscript.so) exports for dlopen; both
// sides are built together, so C++ types cross it. Returns 0 or a pare::Status::Code with
// `message` set.
#pragma once

#include <string>

#include "formats/torchscript/importer.h"

extern "C" {
using PareTorchscriptImportFn = int (*)(const std::string* path,
                                        const pare::torchscript_import::ImportOptions* options,
                                        pare::ir::Graph* out, std::string* message);
}
constexpr const char* kPareTorchscriptImportSymbol = "pare_torchscript_import";
constexpr const char* kPareTorchscriptModuleName = "libpare_torchscript.so";
