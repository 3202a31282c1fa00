/* The C API from C: pare.h compiles as C99 with every warning an error (see
 * tests/CMakeLists.txt), and a C program links the static runtime and runs a model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pare/pare.h>

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      return 1;                                                       \
    }                                                                 \
  } while (0)

int main(void) {
  const char* path = PARE_TESTDATA_DIR "/pare/fmnist_cnn_int8.pare";
  pare_model* model = NULL;
  CHECK(pare_model_load_file(path, &model) == PARE_OK);
  CHECK(pare_model_verify(model, NULL) == PARE_OK);
  pare_session* session = NULL;
  CHECK(pare_session_create(model, NULL, &session) == PARE_OK);
  pare_model_free(model);

  size_t rank = 0;
  const int64_t* dims = pare_session_input_shape(session, 0, &rank);
  CHECK(rank == 4 && dims[1] == 1 && dims[2] == 28 && dims[3] == 28);
  float* x = (float*)pare_session_input_data(session, 0);
  for (size_t i = 0; i < 28 * 28; ++i) x[i] = (float)((i * 37) % 256) / 255.0f;
  CHECK(pare_session_run(session) == PARE_OK);
  CHECK(pare_session_output_bytes(session, 0) == 10 * sizeof(float));
  const float* y = (const float*)pare_session_output_data(session, 0);
  int finite = 1;
  for (int i = 0; i < 10; ++i) finite &= y[i] == y[i];
  CHECK(finite);

  /* An error from C: the message names the input. */
  const int64_t wrong[] = {1, 3, 28, 28};
  CHECK(pare_session_set_input(session, 0, PARE_DTYPE_FLOAT32, wrong, 4, x, 28 * 28 * 4) ==
        PARE_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(pare_session_error(session), "[1,3,28,28]") != NULL);
  pare_session_free(session);
  printf("C API from C: ok\n");
  return 0;
}
