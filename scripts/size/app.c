/* The smallest useful app: load a .pare, run it once on zeros, print the first output value.
 * Built with PARE_SIZE_BASELINE it does the same I/O without pare: the difference in size
 * is what the runtime adds. */
#include <stdio.h>

#ifndef PARE_SIZE_BASELINE
#include <pare/pare.h>
#endif

int main(int argc, char** argv) {
  if (argc != 2) return 2;
#ifdef PARE_SIZE_BASELINE
  FILE* f = fopen(argv[1], "rb");
  if (!f) return 2;
  fclose(f);
  printf("%f\n", 0.0);
  return 0;
#else
  pare_model* model = NULL;
  pare_session* session = NULL;
  if (pare_model_load_file(argv[1], &model) != PARE_OK || pare_session_create(model, NULL, &session) != PARE_OK) {
    fprintf(stderr, "%s%s\n", pare_model_error(model), session ? pare_session_error(session) : "");
    return 2;
  }
  pare_model_free(model);
  if (pare_session_run(session) != PARE_OK) return 1;
  printf("%f\n", (double)((const float*)pare_session_output_data(session, 0))[0]);
  pare_session_free(session);
  return 0;
#endif
}
