/* pare runtime, C API: load a .pare model, run it, read its outputs.
 *
 * Everything is reached through opaque handles; no C++ type crosses this interface, so the
 * library can be called from C, and from Swift, Kotlin/JNI or any FFI through C.
 *
 * Errors: every call that can fail returns a pare_status (PARE_OK is 0). The handle the call
 * was made on keeps the message of its last failure (pare_model_error, pare_session_error);
 * a message names the file, input or node at fault. Loading returns a model handle even on
 * failure (unless memory for the handle itself runs out), so its message can be read; free it
 * with pare_model_free either way.
 *
 * Threads: a pare_model is immutable once loaded and may be shared by any number of sessions
 * on any threads. A pare_session (one prepared interpreter with its own memory) must be used
 * by one thread at a time; use one session per thread to run in parallel. A session keeps
 * its model alive: pare_model_free may be called while sessions of it still exist.
 *
 * Memory: a session allocates everything it needs when it is created (or uses the arena the
 * caller gives); pare_session_run allocates nothing.
 *
 * Handles are checked where it is cheap: a null or freed handle (freed handles are marked
 * before their memory is returned) gives PARE_ERROR_INVALID_ARGUMENT instead of undefined
 * behaviour in most cases; it is still a bug in the caller.
 */
#ifndef PARE_PARE_H_
#define PARE_PARE_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define PARE_API
#elif defined(PARE_BUILDING_LIBRARY)
#define PARE_API __attribute__((visibility("default")))
#else
#define PARE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header; pare_version() gives the library's. */
#define PARE_VERSION_MAJOR 0
#define PARE_VERSION_MINOR 1
#define PARE_VERSION_PATCH 0

typedef enum pare_status {
  PARE_OK = 0,
  PARE_ERROR_IO = 10,               /* the file cannot be opened, read or mapped */
  PARE_ERROR_BAD_FILE = 11,         /* not a .pare file, truncated, damaged, newer format */
  PARE_ERROR_BAD_MODEL = 20,        /* the model's content fails the loader's checks */
  PARE_ERROR_UNSUPPORTED = 30,      /* an op or dtype this runtime build does not have */
  PARE_ERROR_INVALID_ARGUMENT = 40, /* a wrong name, index, shape, size or handle */
  PARE_ERROR_MEMORY_LIMIT = 41,     /* the model needs more memory than allowed or available */
  PARE_ERROR_INTEGRITY = 42,        /* pare_model_verify: the bytes do not match the hash */
  PARE_ERROR_INTERNAL = 50
} pare_status;

typedef enum pare_dtype {
  PARE_DTYPE_UNDEFINED = 0,
  PARE_DTYPE_FLOAT32 = 1,
  PARE_DTYPE_UINT8 = 2,
  PARE_DTYPE_INT8 = 3,
  PARE_DTYPE_INT32 = 6,
  PARE_DTYPE_INT64 = 7,
  PARE_DTYPE_BOOL = 9,
  PARE_DTYPE_FLOAT64 = 11
} pare_dtype;

typedef struct pare_model pare_model;
typedef struct pare_options pare_options;
typedef struct pare_session pare_session;

/* "0.1.0": the library's version. */
PARE_API const char* pare_version(void);
/* A short constant description of a status ("bad file", ...). */
PARE_API const char* pare_status_name(pare_status status);
/* Bytes per element of a dtype; 0 for PARE_DTYPE_UNDEFINED or an unknown value. */
PARE_API size_t pare_dtype_size(pare_dtype dtype);

/* ---- Models ------------------------------------------------------------------------------ */

/* Maps the file read-only and checks its structure (weights are used in place: zero-copy). */
PARE_API pare_status pare_model_load_file(const char* path, pare_model** model);
/* Loads a file image the caller holds in memory. Without a copy when the bytes are 64-byte
 * aligned: the caller then keeps them unchanged and alive until the model and every session
 * made from it are freed. Unaligned bytes are copied (and may be freed after the call). */
PARE_API pare_status pare_model_load_memory(const void* data, size_t size, pare_model** model);
/* Checks the file's bytes against its stored content hash and, when expected_sha256 is not
 * null, against that SHA-256 of the whole file (32 bytes, e.g. as published with a download).
 * A file without a stored hash passes only with expected_sha256. Use it before swapping a
 * downloaded model in. */
PARE_API pare_status pare_model_verify(pare_model* model, const uint8_t expected_sha256[32]);
/* The message of the model's last failure ("" when none). Valid until the next call on it. */
PARE_API const char* pare_model_error(const pare_model* model);
PARE_API void pare_model_free(pare_model* model);

/* ---- Options ----------------------------------------------------------------------------- */

PARE_API pare_options* pare_options_create(void);
PARE_API void pare_options_free(pare_options* options);
/* Worker threads per session (default 1). */
PARE_API pare_status pare_options_set_threads(pare_options* options, int threads);
/* The highest instruction set kernels may use: "scalar", "avx2", "avx512", "avx512vnni", "amx",
 * "neon", "neondot" (default: the best this CPU has; the PARE_ISA environment variable caps
 * it too). */
PARE_API pare_status pare_options_set_max_isa(pare_options* options, const char* isa);
/* Upper bound on the bytes a session and its model may use (0: none). A model over it fails
 * pare_session_create with PARE_ERROR_MEMORY_LIMIT and a message saying what it needs. */
PARE_API pare_status pare_options_set_memory_limit(pare_options* options, size_t bytes);
/* A caller-provided arena for activations and scratch: 64-byte aligned, at least
 * pare_session_arena_bytes long (session creation says how much when it is too small), kept
 * alive and used by nobody else while the session lives. */
PARE_API pare_status pare_options_set_arena(pare_options* options, void* arena, size_t capacity);

/* ---- Telemetry --------------------------------------------------------------------------- */

typedef struct pare_layer_time {
  const char* name;   /* the node's name in the source model */
  const char* op;     /* its op type */
  double ms;          /* its time in this run */
} pare_layer_time;

typedef struct pare_run_info {
  double total_ms;                 /* the whole run */
  const char* isa;                 /* the instruction set the kernels use */
  size_t num_layers;               /* 0 unless per-layer times were asked for */
  const pare_layer_time* layers;   /* execution order; valid during the callback only */
} pare_run_info;

typedef void (*pare_run_callback)(const pare_run_info* info, void* user_data);

/* Calls `callback` after every successful run of the sessions made with these options, on the
 * thread that ran. per_layer != 0 also times every layer (a clock read per layer). With no
 * callback set, runs do no timing at all. */
PARE_API pare_status pare_options_set_run_callback(pare_options* options, pare_run_callback callback,
                                                   void* user_data, int per_layer);

/* ---- Sessions ---------------------------------------------------------------------------- */

/* Prepares the model for running: chooses kernels, packs weights, plans memory. options may
 * be null (the defaults). On failure *session is still set when possible, with the message. */
PARE_API pare_status pare_session_create(pare_model* model, const pare_options* options, pare_session** session);
PARE_API const char* pare_session_error(const pare_session* session);
PARE_API void pare_session_free(pare_session* session);
/* Bytes of the activation arena and scratch the session uses (what a caller arena needs). */
PARE_API size_t pare_session_arena_bytes(const pare_session* session);

PARE_API size_t pare_session_num_inputs(const pare_session* session);
PARE_API size_t pare_session_num_outputs(const pare_session* session);
/* Index of the input/output with this name, or -1 (the message then lists the names). */
PARE_API int pare_session_input_index(pare_session* session, const char* name);
PARE_API int pare_session_output_index(pare_session* session, const char* name);
/* Name, dtype and shape of input/output `index`. Shapes are static. rank may be null; dims
 * points into the session (valid while it lives). */
PARE_API const char* pare_session_input_name(const pare_session* session, size_t index);
PARE_API const char* pare_session_output_name(const pare_session* session, size_t index);
PARE_API pare_dtype pare_session_input_dtype(const pare_session* session, size_t index);
PARE_API pare_dtype pare_session_output_dtype(const pare_session* session, size_t index);
PARE_API const int64_t* pare_session_input_shape(const pare_session* session, size_t index, size_t* rank);
PARE_API const int64_t* pare_session_output_shape(const pare_session* session, size_t index, size_t* rank);
/* Bytes of input/output `index` (elements x dtype size). */
PARE_API size_t pare_session_input_bytes(const pare_session* session, size_t index);
PARE_API size_t pare_session_output_bytes(const pare_session* session, size_t index);

/* Copies an input in. dtype, shape (rank dims) and bytes must match the model's input;
 * a mismatch names the input, what was given and what it takes. */
PARE_API pare_status pare_session_set_input(pare_session* session, size_t index, pare_dtype dtype,
                                            const int64_t* shape, size_t rank, const void* data, size_t bytes);
/* Where input `index` is written directly (no copy): input_bytes(index) bytes. Write every
 * input before each run: the session reuses input memory once its last reader has run. */
PARE_API void* pare_session_input_data(pare_session* session, size_t index);
/* Runs the model on the inputs written. */
PARE_API pare_status pare_session_run(pare_session* session);
/* Output `index` of the last run: output_bytes(index) bytes, valid until the next run. */
PARE_API const void* pare_session_output_data(const pare_session* session, size_t index);
/* Copies output `index` out; `bytes` must be at least output_bytes(index). */
PARE_API pare_status pare_session_get_output(pare_session* session, size_t index, void* data, size_t bytes);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif  /* PARE_PARE_H_ */
