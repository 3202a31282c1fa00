// Replacing a model while inferences run (an over-the-air update): load, verify and prepare
// the new file completely, then publish it in one step. Readers take the published model with
// current() and keep that shared_ptr for as long as they run it, so no inference ever sees a
// half-loaded model, and a replaced model is freed when its last inference has finished.
//
// The pattern, per inference thread (an Interpreter is used by one thread at a time):
//
//   std::shared_ptr<const Model> mine;
//   std::unique_ptr<Interpreter> interp;
//   for (;;) {
//     std::shared_ptr<const Model> now = slot.current();
//     if (now != mine) {  // a new model was published: prepare it for this thread
//       auto created = Interpreter::create(now, options);
//       if (!created.is_ok()) { ...keep running `mine`, or stop... }
//       else { interp = std::move(created).value(); mine = now; }
//     }
//     ...write inputs, interp->invoke(), read outputs...
//   }
//
// and on the updating thread: `Status s = slot.replace(downloaded_path, &expected_sha256,
// options);` — on failure the old model stays published and `s` says why.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "runtime/interpreter.h"
#include "runtime/model.h"

namespace pare::rt {

class ModelSlot {
 public:
  explicit ModelSlot(std::shared_ptr<const Model> initial = nullptr);

  // The model published now (null before the first); safe from any thread.
  std::shared_ptr<const Model> current() const;
  // How many models have been published; a reader can compare it to notice a change.
  uint64_t generation() const;

  // Loads `path`, checks its integrity (Model::verify_integrity with `expected`, which may be
  // null when the file carries a content hash) and prepares an interpreter with `options`
  // (every kernel accepts the model, and it fits options.max_memory_bytes); only then
  // publishes it. On any failure nothing changes and the status names the file and problem.
  Status replace(const std::string& path, const std::array<uint8_t, kContentHashBytes>* expected,
                 const InterpreterOptions& options = {});
  // Publishes a model the caller has loaded and checked itself.
  void publish(std::shared_ptr<const Model> model);

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Model> model_;
  uint64_t generation_ = 0;
};

}  // namespace pare::rt
