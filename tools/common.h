// What the `pare` subcommands share: their registration, error reporting, model loading,
// and running a model over the rows of .npy arrays.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "calibration/npy.h"
#include "ir/status.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "runtime/status.h"

namespace CLI {
class App;
}
namespace pare::ir {
class Graph;
}

namespace pare::cli {

// A subcommand: its CLI11 app (options bound to its arguments) and what runs it once the
// command line is parsed. run() returns the exit code or throws pare::Error.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_convert_command(CLI::App& root);
Command add_compress_command(CLI::App& root);
Command add_run_command(CLI::App& root);
Command add_eval_command(CLI::App& root);
Command add_inspect_command(CLI::App& root);
Command add_passes_command(CLI::App& root);
Command add_bench_command(CLI::App& root);
Command add_export_onnx_command(CLI::App& root);
Command add_check_command(CLI::App& root);
Command add_verify_command(CLI::App& root);
Command add_ops_command(CLI::App& root);

// Runs a command, reporting a pare::Error as "pare: error: MESSAGE" on stderr (or as MESSAGE
// in *error when given); returns the exit code (0 ok, 1 internal error, 2 bad usage or
// input, 3 budget not met).
int run_reporting_errors(const std::function<int()>& run, std::string* error = nullptr);

void warn(const std::string& message);  // "pare: warning: MESSAGE" on stderr

// Throws the pare::Error that matches a runtime failure: kInternal stays internal (exit 1),
// every other code is bad input (exit 2). `context` (e.g. the file) prefixes the message
// unless the message already names it.
[[noreturn]] void throw_runtime_error(const rt::Status& status, const std::string& context);

// Throws the error of a failed toolchain step, its message prefixed with 'FILE': unless it
// names the file already (shape inference and passes name nodes, not the model file).
[[noreturn]] void throw_naming(const Status& status, const std::string& file);

std::shared_ptr<const rt::Model> load_model(const std::string& path);

// Imports an ONNX or TorchScript model with the --input-shape NAME:DIMS options (each input
// at most once; TorchScript needs one per input).
// --input-type NAME:DTYPE sets a TorchScript input's dtype (checked against an ONNX model's).
ir::Graph import_source(const std::string& path, const std::vector<std::string>& input_shapes,
                        const std::vector<std::string>& input_types = {});
// The .pare image of a graph compiled from `source` with `pipeline`, checked by the
// runtime's loader (and prepared when `prepare`) before anything is written: a file the
// runtime cannot load or run is an internal error, never an output.
// `model` (may be null) receives the loaded image.
// `source_hash`: the source file's SHA-256 when the caller has it (a search serializes many
// builds of one source); empty: computed from the file.
std::vector<uint8_t> serialize_checked(ir::Graph& graph, const std::string& source, const std::string& output,
                                       const std::string& pipeline, bool strip_tensor_names, bool prepare,
                                       std::shared_ptr<const rt::Model>* model = nullptr,
                                       const std::string& source_hash = "");
// `max_memory`: the limit on what the model may use (rt::InterpreterOptions::max_memory_bytes);
// `fuse_nodes`: rt::InterpreterOptions::fuse_nodes.
std::unique_ptr<rt::Interpreter> make_interpreter(std::shared_ptr<const rt::Model> model,
                                                  const std::string& path, int threads, size_t max_memory = 0,
                                                  bool fuse_nodes = true);

// --max-memory SIZE (run, eval, bench): adds the option, bound to `text`.
void add_max_memory_option(CLI::App* cmd, std::string* text);
// The limit it gives in bytes: SIZE is bytes, or a number with K, M, G or T (powers of 1024,
// "KiB"/"KB" read the same); empty: this machine's physical memory, so that a model that
// cannot fit is refused before it is allocated. Throws a usage error for anything else.
size_t max_memory_bytes(const std::string& text);

// The .npy element type for a runtime dtype (every runtime dtype has one).
npy::ElemType elem_type_of(rt::DType dtype);

// Totals over a model's tensors: bytes of constants (parameters) and of the others.
size_t parameter_bytes(const rt::Model& model);
size_t activation_bytes(const rt::Model& model);

bool ends_with(const std::string& s, const std::string& suffix);
std::string base_name(const std::string& path);

// An array bound to a model input, with the file it came from (for messages).
struct InputArray {
  std::string source;
  npy::Array array;
};

// Binds arrays to the interpreter's inputs from `specs`, each one of
//   FILE.npy        the only input of a one-input model;
//   NAME=FILE.npy   input NAME;
//   FILE.npz        one member per input, member name = input name (a one-member archive
//                   feeds a one-input model whatever the member's name);
//   NAME=FILE.npz   input NAME from the archive's only member, or its member NAME.
// Returns them in input order. Every input must be bound exactly once. `flag` (e.g.
// "--input") and `model` name the option and file in messages; errors are
// pare::Error(kInvalidInput) naming the input and the file.
std::vector<InputArray> bind_inputs(const rt::Interpreter& interp, const std::string& model,
                                    const std::vector<std::string>& specs, const std::string& flag);
// The same, leaving inputs that no spec binds empty.
std::vector<std::optional<InputArray>> bind_some_inputs(const rt::Interpreter& interp, const std::string& model,
                                                        const std::vector<std::string>& specs,
                                                        const std::string& flag);

// Runs the interpreter over the rows of `inputs` (one per interpreter input, in order).
// A model input of shape [B, d1, ...] takes arrays of shape [R, d1, ...] with R a multiple
// of B, one run per B rows; every input must give the same number of runs. float64 arrays
// feed float32 inputs and int32 arrays int64 inputs. Each output is stacked along its
// first axis over the runs: [runs * O0, O1, ...] (one run keeps the model's shape).
// Throws pare::Error(kInvalidInput) naming the input, its file and both shapes.
std::vector<npy::Array> run_rows(rt::Interpreter& interp, std::vector<InputArray> inputs);

// Converts `in` to the dtype of the model input `desc` as run_rows does and checks its shape;
// returns the number of runs it gives. Throws as run_rows.
int64_t fit_input(const rt::TensorDesc& desc, InputArray& in);

}  // namespace pare::cli
