// The C API (include/pare/pare.h) over Model and Interpreter. Handles are plain structs with a
// tag word: a null handle, or one already freed (the tag is cleared before the memory goes),
// is refused with PARE_ERROR_INVALID_ARGUMENT where the memory still reads as freed.
#include "pare/pare.h"

#include <chrono>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/interpreter.h"
#include "runtime/model.h"
#include "runtime/tensor.h"

namespace {

using pare::rt::Interpreter;
using pare::rt::InterpreterOptions;
using pare::rt::Model;
using pare::rt::Status;

constexpr uint32_t kModelTag = 0x4d455241;    // "AREM"
constexpr uint32_t kSessionTag = 0x53455241;  // "ARES"
constexpr uint32_t kOptionsTag = 0x4f455241;  // "AREO"
constexpr uint32_t kFreed = 0xdeadbeef;

pare_status to_c(Status::Code code) {
  switch (code) {
    case Status::kOk: return PARE_OK;
    case Status::kIoError: return PARE_ERROR_IO;
    case Status::kBadFile: return PARE_ERROR_BAD_FILE;
    case Status::kBadModel: return PARE_ERROR_BAD_MODEL;
    case Status::kUnsupported: return PARE_ERROR_UNSUPPORTED;
    case Status::kInvalidArgument: return PARE_ERROR_INVALID_ARGUMENT;
    case Status::kMemoryLimit: return PARE_ERROR_MEMORY_LIMIT;
    case Status::kInternal: return PARE_ERROR_INTERNAL;
  }
  return PARE_ERROR_INTERNAL;
}

// pare.h repeats the runtime's dtype numbers (it cannot include internal headers).
static_assert(PARE_DTYPE_UNDEFINED == static_cast<int>(pare::DType::kUndefined) &&
                  PARE_DTYPE_FLOAT32 == static_cast<int>(pare::DType::kFloat32) &&
                  PARE_DTYPE_UINT8 == static_cast<int>(pare::DType::kUInt8) &&
                  PARE_DTYPE_INT8 == static_cast<int>(pare::DType::kInt8) &&
                  PARE_DTYPE_INT32 == static_cast<int>(pare::DType::kInt32) &&
                  PARE_DTYPE_INT64 == static_cast<int>(pare::DType::kInt64) &&
                  PARE_DTYPE_BOOL == static_cast<int>(pare::DType::kBool) &&
                  PARE_DTYPE_FLOAT64 == static_cast<int>(pare::DType::kFloat64),
              "pare_dtype and pare::DType must number the dtypes alike");

// C callers may pass any integer as an enum: convert the integer (DType has a fixed
// underlying type, so every value is defined), never switch on the C enum.
pare::DType to_dtype(pare_dtype d) { return static_cast<pare::DType>(static_cast<int32_t>(d)); }

std::string shape_str(const int64_t* dims, size_t rank) {
  return pare::rt::shape_str(std::vector<int64_t>(dims, dims + rank));
}

}  // namespace

struct pare_model {
  uint32_t tag = kModelTag;
  std::shared_ptr<const Model> model;  // null when the load failed
  std::string error;

  pare_status fail(pare_status status, std::string message) {
    error = std::move(message);
    return status;
  }
};

struct pare_options {
  uint32_t tag = kOptionsTag;
  InterpreterOptions options;
  pare_run_callback callback = nullptr;
  void* user_data = nullptr;
  bool per_layer = false;
};

struct pare_session {
  uint32_t tag = kSessionTag;
  std::unique_ptr<Interpreter> interp;  // null when creation failed
  std::string error;
  pare_run_callback callback = nullptr;
  void* user_data = nullptr;
  bool per_layer = false;
  std::vector<pare_layer_time> layers;  // names point into the model; times refreshed per run

  pare_status fail(pare_status status, std::string message) {
    error = std::move(message);
    return status;
  }
  bool has_input(size_t i) const { return interp && i < interp->num_inputs(); }
  bool has_output(size_t i) const { return interp && i < interp->num_outputs(); }
};

namespace {

bool live(const pare_model* m) { return m && m->tag == kModelTag; }
bool live(const pare_session* s) { return s && s->tag == kSessionTag; }
bool live(const pare_options* o) { return o && o->tag == kOptionsTag; }

// Frees a live handle, marking it first; a null, freed or foreign handle is left alone.
template <typename Handle>
void release(Handle* h) {
  if (!live(h)) return;
  h->tag = kFreed;
  delete h;
}

pare_status load_result(pare::rt::Result<std::shared_ptr<const Model>> loaded, pare_model** out) {
  if (!out) return PARE_ERROR_INVALID_ARGUMENT;
  pare_model* m = new (std::nothrow) pare_model;
  *out = m;
  if (!m) return PARE_ERROR_MEMORY_LIMIT;
  if (!loaded.is_ok()) return m->fail(to_c(loaded.status().code()), loaded.status().message());
  m->model = std::move(loaded).value();
  return PARE_OK;
}

std::string names_of(const pare_session* s, bool inputs) {
  std::string list;
  const size_t n = inputs ? s->interp->num_inputs() : s->interp->num_outputs();
  for (size_t i = 0; i < n; ++i)
    list += (i ? ", '" : "'") + (inputs ? s->interp->input(i) : s->interp->output(i)).name + "'";
  return list;
}

}  // namespace

extern "C" {

const char* pare_version(void) { return "0.1.0"; }

const char* pare_status_name(pare_status status) {
  switch (static_cast<int>(status)) {
    case PARE_OK: return "ok";
    case PARE_ERROR_IO: return "i/o error";
    case PARE_ERROR_BAD_FILE: return "bad file";
    case PARE_ERROR_BAD_MODEL: return "bad model";
    case PARE_ERROR_UNSUPPORTED: return "unsupported";
    case PARE_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case PARE_ERROR_MEMORY_LIMIT: return "memory limit";
    case PARE_ERROR_INTEGRITY: return "integrity check failed";
    case PARE_ERROR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

size_t pare_dtype_size(pare_dtype dtype) { return pare::dtype_size(to_dtype(dtype)); }

pare_status pare_model_load_file(const char* path, pare_model** model) {
  if (!path) {
    if (model) *model = nullptr;
    return PARE_ERROR_INVALID_ARGUMENT;
  }
  return load_result(Model::load_file(path), model);
}

pare_status pare_model_load_memory(const void* data, size_t size, pare_model** model) {
  if (!data && size != 0) {
    if (model) *model = nullptr;
    return PARE_ERROR_INVALID_ARGUMENT;
  }
  return load_result(Model::load_memory(data, size), model);
}

pare_status pare_model_verify(pare_model* model, const uint8_t expected_sha256[32]) {
  if (!live(model)) return PARE_ERROR_INVALID_ARGUMENT;
  if (!model->model) return model->fail(PARE_ERROR_INVALID_ARGUMENT, "the model did not load: " + model->error);
  std::array<uint8_t, pare::rt::kContentHashBytes> expected{};
  if (expected_sha256) std::memcpy(expected.data(), expected_sha256, expected.size());
  const Status st = model->model->verify_integrity(expected_sha256 ? &expected : nullptr);
  if (st.is_ok()) return PARE_OK;
  // verify_integrity reports a mismatch as a bad file; the C API gives it its own code.
  return model->fail(st.code() == Status::kBadFile ? PARE_ERROR_INTEGRITY : to_c(st.code()), st.message());
}

const char* pare_model_error(const pare_model* model) {
  if (!live(model)) return "invalid pare_model handle (null or freed)";
  return model->error.c_str();
}

void pare_model_free(pare_model* model) { release(model); }

pare_options* pare_options_create(void) { return new (std::nothrow) pare_options; }

void pare_options_free(pare_options* options) { release(options); }

pare_status pare_options_set_threads(pare_options* options, int threads) {
  if (!live(options) || threads < 1 || threads > 256) return PARE_ERROR_INVALID_ARGUMENT;
  options->options.threads = threads;
  return PARE_OK;
}

pare_status pare_options_set_max_isa(pare_options* options, const char* isa) {
  pare::rt::Isa value;
  if (!live(options) || !isa || !pare::rt::isa_from_name(isa, &value)) return PARE_ERROR_INVALID_ARGUMENT;
  options->options.cap_isa = true;
  options->options.max_isa = value;
  return PARE_OK;
}

pare_status pare_options_set_memory_limit(pare_options* options, size_t bytes) {
  if (!live(options)) return PARE_ERROR_INVALID_ARGUMENT;
  options->options.max_memory_bytes = bytes;
  return PARE_OK;
}

pare_status pare_options_set_arena(pare_options* options, void* arena, size_t capacity) {
  if (!live(options) || (arena == nullptr) != (capacity == 0)) return PARE_ERROR_INVALID_ARGUMENT;
  if (reinterpret_cast<uintptr_t>(arena) % 64 != 0) return PARE_ERROR_INVALID_ARGUMENT;
  options->options.arena = arena;
  options->options.arena_capacity = capacity;
  return PARE_OK;
}

pare_status pare_options_set_run_callback(pare_options* options, pare_run_callback callback, void* user_data,
                                          int per_layer) {
  if (!live(options)) return PARE_ERROR_INVALID_ARGUMENT;
  options->callback = callback;
  options->user_data = user_data;
  options->per_layer = callback && per_layer != 0;
  return PARE_OK;
}

pare_status pare_session_create(pare_model* model, const pare_options* options, pare_session** session) {
  if (!session) return PARE_ERROR_INVALID_ARGUMENT;
  *session = nullptr;
  if (!live(model) || (options && !live(options))) return PARE_ERROR_INVALID_ARGUMENT;
  pare_session* s = new (std::nothrow) pare_session;
  if (!s) return PARE_ERROR_MEMORY_LIMIT;
  *session = s;
  if (!model->model) return s->fail(PARE_ERROR_INVALID_ARGUMENT, "the model did not load: " + model->error);
  const InterpreterOptions interp_options = options ? options->options : InterpreterOptions{};
  auto created = Interpreter::create(model->model, interp_options);
  if (!created.is_ok()) return s->fail(to_c(created.status().code()), created.status().message());
  s->interp = std::move(created).value();
  if (options && options->callback) {
    s->callback = options->callback;
    s->user_data = options->user_data;
    s->per_layer = options->per_layer;
    if (s->per_layer) {
      s->interp->enable_profiling(true);
      for (const pare::rt::NodeDesc& node : model->model->nodes())
        s->layers.push_back({node.name.c_str(), node.op.c_str(), 0.0});
    }
  }
  return PARE_OK;
}

const char* pare_session_error(const pare_session* session) {
  if (!live(session)) return "invalid pare_session handle (null or freed)";
  return session->error.c_str();
}

void pare_session_free(pare_session* session) { release(session); }

size_t pare_session_arena_bytes(const pare_session* session) {
  return live(session) && session->interp ? session->interp->memory().arena_bytes() : 0;
}

size_t pare_session_num_inputs(const pare_session* session) {
  return live(session) && session->interp ? session->interp->num_inputs() : 0;
}

size_t pare_session_num_outputs(const pare_session* session) {
  return live(session) && session->interp ? session->interp->num_outputs() : 0;
}

int pare_session_input_index(pare_session* session, const char* name) {
  if (!live(session) || !session->interp || !name) return -1;
  const int i = session->interp->find_input(name);
  if (i < 0)
    session->fail(PARE_ERROR_INVALID_ARGUMENT,
                  std::string("the model has no input '") + name + "'; its inputs: " + names_of(session, true));
  return i;
}

int pare_session_output_index(pare_session* session, const char* name) {
  if (!live(session) || !session->interp || !name) return -1;
  const int i = session->interp->find_output(name);
  if (i < 0)
    session->fail(PARE_ERROR_INVALID_ARGUMENT,
                  std::string("the model has no output '") + name + "'; its outputs: " + names_of(session, false));
  return i;
}

const char* pare_session_input_name(const pare_session* session, size_t index) {
  return live(session) && session->has_input(index) ? session->interp->input(index).name.c_str() : nullptr;
}

const char* pare_session_output_name(const pare_session* session, size_t index) {
  return live(session) && session->has_output(index) ? session->interp->output(index).name.c_str() : nullptr;
}

pare_dtype pare_session_input_dtype(const pare_session* session, size_t index) {
  return live(session) && session->has_input(index) ? static_cast<pare_dtype>(session->interp->input(index).dtype)
                                                    : PARE_DTYPE_UNDEFINED;
}

pare_dtype pare_session_output_dtype(const pare_session* session, size_t index) {
  return live(session) && session->has_output(index)
             ? static_cast<pare_dtype>(session->interp->output(index).dtype)
             : PARE_DTYPE_UNDEFINED;
}

const int64_t* pare_session_input_shape(const pare_session* session, size_t index, size_t* rank) {
  if (!live(session) || !session->has_input(index)) {
    if (rank) *rank = 0;
    return nullptr;
  }
  const std::vector<int64_t>& shape = session->interp->input(index).shape;
  if (rank) *rank = shape.size();
  return shape.data();
}

const int64_t* pare_session_output_shape(const pare_session* session, size_t index, size_t* rank) {
  if (!live(session) || !session->has_output(index)) {
    if (rank) *rank = 0;
    return nullptr;
  }
  const std::vector<int64_t>& shape = session->interp->output(index).shape;
  if (rank) *rank = shape.size();
  return shape.data();
}

size_t pare_session_input_bytes(const pare_session* session, size_t index) {
  return live(session) && session->has_input(index) ? session->interp->input(index).byte_size() : 0;
}

size_t pare_session_output_bytes(const pare_session* session, size_t index) {
  return live(session) && session->has_output(index) ? session->interp->output(index).byte_size() : 0;
}

pare_status pare_session_set_input(pare_session* session, size_t index, pare_dtype dtype, const int64_t* shape,
                                   size_t rank, const void* data, size_t bytes) {
  if (!live(session)) return PARE_ERROR_INVALID_ARGUMENT;
  if (!session->interp) return session->fail(PARE_ERROR_INVALID_ARGUMENT, "the session was not created");
  if (!session->has_input(index))
    return session->fail(PARE_ERROR_INVALID_ARGUMENT, "input index " + std::to_string(index) + " is out of range: the model has " +
                                                          std::to_string(session->interp->num_inputs()) + " inputs");
  const pare::rt::TensorDesc& in = session->interp->input(index);
  const std::string what = "input '" + in.name + "'";
  if (to_dtype(dtype) != in.dtype)
    return session->fail(PARE_ERROR_INVALID_ARGUMENT, what + " is " + pare::dtype_name(in.dtype) +
                                                          ", given " + pare::dtype_name(to_dtype(dtype)));
  if ((rank > 0 && !shape) || rank != in.shape.size() ||
      (rank > 0 && std::memcmp(shape, in.shape.data(), rank * sizeof(int64_t)) != 0))
    return session->fail(PARE_ERROR_INVALID_ARGUMENT,
                         what + " takes shape " + pare::rt::shape_str(in.shape) + ", given " +
                             (rank > 0 && !shape ? std::string("no dims") : shape_str(shape, rank)));
  if (bytes != in.byte_size() || (!data && bytes != 0))
    return session->fail(PARE_ERROR_INVALID_ARGUMENT, what + " takes " + std::to_string(in.byte_size()) +
                                                          " bytes, given " + std::to_string(bytes));
  if (bytes) std::memcpy(session->interp->input_data(index), data, bytes);
  return PARE_OK;
}

void* pare_session_input_data(pare_session* session, size_t index) {
  return live(session) && session->has_input(index) ? session->interp->input_data(index) : nullptr;
}

pare_status pare_session_run(pare_session* session) {
  if (!live(session)) return PARE_ERROR_INVALID_ARGUMENT;
  if (!session->interp) return session->fail(PARE_ERROR_INVALID_ARGUMENT, "the session was not created");
  if (!session->callback) {
    const Status st = session->interp->invoke();
    return st.is_ok() ? PARE_OK : session->fail(to_c(st.code()), st.message());
  }
  const auto start = std::chrono::steady_clock::now();
  const Status st = session->interp->invoke();
  const auto stop = std::chrono::steady_clock::now();
  if (!st.is_ok()) return session->fail(to_c(st.code()), st.message());
  pare_run_info info{};
  info.total_ms = std::chrono::duration<double, std::milli>(stop - start).count();
  info.isa = pare::rt::isa_name(session->interp->isa());
  if (session->per_layer) {
    const std::vector<double>& ms = session->interp->last_run_ms();
    for (size_t n = 0; n < session->layers.size() && n < ms.size(); ++n) session->layers[n].ms = ms[n];
    info.num_layers = session->layers.size();
    info.layers = session->layers.data();
  }
  session->callback(&info, session->user_data);
  return PARE_OK;
}

const void* pare_session_output_data(const pare_session* session, size_t index) {
  return live(session) && session->has_output(index) ? session->interp->output_data(index) : nullptr;
}

pare_status pare_session_get_output(pare_session* session, size_t index, void* data, size_t bytes) {
  if (!live(session)) return PARE_ERROR_INVALID_ARGUMENT;
  if (!session->interp) return session->fail(PARE_ERROR_INVALID_ARGUMENT, "the session was not created");
  if (!session->has_output(index))
    return session->fail(PARE_ERROR_INVALID_ARGUMENT, "output index " + std::to_string(index) +
                                                          " is out of range: the model has " +
                                                          std::to_string(session->interp->num_outputs()) + " outputs");
  const pare::rt::TensorDesc& out = session->interp->output(index);
  if (!data || bytes < out.byte_size())
    return session->fail(PARE_ERROR_INVALID_ARGUMENT, "output '" + out.name + "' has " +
                                                          std::to_string(out.byte_size()) + " bytes, the buffer " +
                                                          std::to_string(data ? bytes : 0));
  std::memcpy(data, session->interp->output_data(index), out.byte_size());
  return PARE_OK;
}

}  // extern "C"
