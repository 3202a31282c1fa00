// pare verify MODEL.pare [--sha256 HEX]: what an app does before swapping a downloaded model
// in, as a command: the loader's structural checks, the content hash, the expected SHA-256 of
// the whole file when given, and a prepare of every kernel.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "ir/status.h"
#include "runtime/sha256.h"
#include "tools/common.h"

namespace pare::cli {

namespace {

struct VerifyArgs {
  std::string model;
  std::string sha256;
  std::string max_memory;
};

int run_verify(const VerifyArgs& args) {
  std::array<uint8_t, rt::kContentHashBytes> expected{};
  if (!args.sha256.empty() && !rt::Sha256::parse_hex(args.sha256, &expected))
    throw_invalid(fmt::format("--sha256: '{}' is not a SHA-256 (64 hex digits)", args.sha256));

  std::shared_ptr<const rt::Model> model = load_model(args.model);
  const rt::Status integrity = model->verify_integrity(args.sha256.empty() ? nullptr : &expected);
  if (!integrity.is_ok()) throw_runtime_error(integrity, args.model);
  std::unique_ptr<rt::Interpreter> interp =
      make_interpreter(model, args.model, 1, max_memory_bytes(args.max_memory));

  const rt::MemoryUse& use = interp->memory();
  fmt::print("{}: ok\n", args.model);
  fmt::print("  structure  schema version {}, {} bytes, {} nodes, {} tensors\n", model->metadata().schema_version,
             model->file_bytes(), model->nodes().size(), model->tensors().size());
  fmt::print("  content    {}\n", model->has_content_hash() ? "the stored SHA-256 matches the bytes"
                                                              : "no stored content hash (an older file)");
  fmt::print("  sha256     {}{}\n", rt::Sha256::hex(model->file_sha256()),
             args.sha256.empty() ? "" : " (as expected)");
  fmt::print("  prepare    {} kernels ready, {} bytes of memory ({} activations and scratch, {} packed weights)\n",
             model->nodes().size(), use.total(), use.arena_bytes(), use.prepared);
  return 0;
}

}  // namespace

Command add_verify_command(CLI::App& root) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* cmd = root.add_subcommand(
      "verify", "Check a .pare file before use: structure, content hash, expected SHA-256, prepare");
  cmd->add_option("model", args->model, "The .pare model")->required();
  cmd->add_option("--sha256", args->sha256,
                  "The SHA-256 the whole file must have (64 hex digits, as sha256sum prints)");
  add_max_memory_option(cmd, &args->max_memory);
  return {cmd, [args] { return run_verify(*args); }};
}

}  // namespace pare::cli
