#include "runtime/model_slot.h"

#include <utility>

namespace pare::rt {

ModelSlot::ModelSlot(std::shared_ptr<const Model> initial) {
  if (initial) publish(std::move(initial));
}

std::shared_ptr<const Model> ModelSlot::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return model_;
}

uint64_t ModelSlot::generation() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return generation_;
}

Status ModelSlot::replace(const std::string& path, const std::array<uint8_t, kContentHashBytes>* expected,
                          const InterpreterOptions& options) {
  Result<std::shared_ptr<const Model>> loaded = Model::load_file(path);
  if (!loaded.is_ok()) return loaded.status();
  std::shared_ptr<const Model> model = std::move(loaded).value();
  PARE_RT_RETURN_IF_ERROR(model->verify_integrity(expected));
  // A model the runtime cannot prepare is never published.
  Result<std::unique_ptr<Interpreter>> probe = Interpreter::create(model, options);
  if (!probe.is_ok()) return probe.status();
  publish(std::move(model));
  return Status::ok();
}

void ModelSlot::publish(std::shared_ptr<const Model> model) {
  std::shared_ptr<const Model> old;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    old = std::exchange(model_, std::move(model));
    ++generation_;
  }
  // `old` is released here, outside the lock: if this was its last reference, unmapping the
  // file does not hold up readers.
}

}  // namespace pare::rt
