/* classify: an image classifier on pare's C API.
 *
 *   classify MODEL.pare IMAGE [--labels FILE] [--threads N]
 *
 * Loads the model, reads the image (PNG, JPEG, BMP, ... through stb_image), resizes it to the
 * model's input (float32 NCHW, 1 or 3 channels, pixels scaled to [0, 1]), runs it and prints
 * the five best classes with their softmax probabilities. Exit codes: 0 done, 2 bad input
 * (model, image, arguments), 1 anything else.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pare/pare.h>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image_resize.h>

enum { kTop = 5, kMaxLabels = 4096, kMaxLabelLength = 128 };

static int fail(const char* what, const char* message) {
  fprintf(stderr, "classify: %s: %s\n", what, message);
  return 2;
}

/* One label per line; returns how many were read. */
static size_t read_labels(const char* path, char (*labels)[kMaxLabelLength], size_t max) {
  FILE* f = fopen(path, "r");
  if (!f) return 0;
  size_t n = 0;
  while (n < max && fgets(labels[n], kMaxLabelLength, f)) {
    labels[n][strcspn(labels[n], "\r\n")] = '\0';
    ++n;
  }
  fclose(f);
  return n;
}

int main(int argc, char** argv) {
  const char* model_path = NULL;
  const char* image_path = NULL;
  const char* labels_path = NULL;
  int threads = 1;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--labels") == 0 && i + 1 < argc) {
      labels_path = argv[++i];
    } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = atoi(argv[++i]);
    } else if (!model_path) {
      model_path = argv[i];
    } else if (!image_path) {
      image_path = argv[i];
    } else {
      return fail("usage", "classify MODEL.pare IMAGE [--labels FILE] [--threads N]");
    }
  }
  if (!model_path || !image_path) return fail("usage", "classify MODEL.pare IMAGE [--labels FILE] [--threads N]");

  /* The model and a session on it. */
  pare_model* model = NULL;
  if (pare_model_load_file(model_path, &model) != PARE_OK) {
    const int code = fail(model_path, pare_model_error(model));
    pare_model_free(model);
    return code;
  }
  pare_options* options = pare_options_create();
  if (!options || pare_options_set_threads(options, threads) != PARE_OK) {
    pare_model_free(model);
    pare_options_free(options);
    return fail("--threads", "expected a number of threads from 1 to 256");
  }
  pare_session* session = NULL;
  pare_status status = pare_session_create(model, options, &session);
  pare_options_free(options);
  if (status != PARE_OK) {
    const int code = fail(model_path, pare_session_error(session));
    pare_session_free(session);
    pare_model_free(model);
    return code;
  }
  /* The session keeps what it needs of the model. */
  pare_model_free(model);

  size_t rank = 0;
  const int64_t* dims = pare_session_input_shape(session, 0, &rank);
  if (pare_session_num_inputs(session) != 1 || pare_session_input_dtype(session, 0) != PARE_DTYPE_FLOAT32 ||
      rank != 4 || dims[0] != 1 || (dims[1] != 1 && dims[1] != 3)) {
    pare_session_free(session);
    return fail(model_path, "not an image classifier: expected one float32 input of shape [1,1|3,H,W]");
  }
  const int channels = (int)dims[1], height = (int)dims[2], width = (int)dims[3];

  /* The image, resized to the model's input and laid out channel by channel. */
  int w = 0, h = 0, c = 0;
  unsigned char* pixels = stbi_load(image_path, &w, &h, &c, channels);
  if (!pixels) {
    pare_session_free(session);
    return fail(image_path, stbi_failure_reason());
  }
  unsigned char* resized = (unsigned char*)malloc((size_t)width * height * channels);
  if (!resized || !stbir_resize_uint8(pixels, w, h, 0, resized, width, height, 0, channels)) {
    free(resized);
    stbi_image_free(pixels);
    pare_session_free(session);
    fprintf(stderr, "classify: cannot resize the image\n");
    return 1;
  }
  stbi_image_free(pixels);
  float* input = (float*)pare_session_input_data(session, 0);
  for (int ch = 0; ch < channels; ++ch)
    for (int i = 0; i < width * height; ++i) input[(size_t)ch * width * height + i] = resized[(size_t)i * channels + ch] / 255.0f;
  free(resized);

  status = pare_session_run(session);
  if (status != PARE_OK) {
    fprintf(stderr, "classify: %s\n", pare_session_error(session));
    pare_session_free(session);
    return status == PARE_ERROR_INVALID_ARGUMENT ? 2 : 1;
  }

  /* Softmax over the first output's scores and the five best. */
  if (pare_session_output_dtype(session, 0) != PARE_DTYPE_FLOAT32) {
    pare_session_free(session);
    return fail(model_path, "the first output is not float32 scores");
  }
  const float* scores = (const float*)pare_session_output_data(session, 0);
  const size_t n = pare_session_output_bytes(session, 0) / sizeof(float);
  float max_score = -INFINITY;
  for (size_t i = 0; i < n; ++i)
    if (scores[i] > max_score) max_score = scores[i];
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += exp((double)scores[i] - max_score);

  static char labels[kMaxLabels][kMaxLabelLength];
  const size_t num_labels = labels_path ? read_labels(labels_path, labels, kMaxLabels) : 0;
  if (labels_path && num_labels == 0) {
    pare_session_free(session);
    return fail(labels_path, "cannot read labels (one per line)");
  }
  size_t best[kTop];
  size_t shown = 0;
  for (; shown < kTop && shown < n; ++shown) {
    size_t arg = n;
    for (size_t i = 0; i < n; ++i) {
      int taken = 0;
      for (size_t k = 0; k < shown; ++k) taken |= best[k] == i;
      if (!taken && (arg == n || scores[i] > scores[arg])) arg = i;
    }
    best[shown] = arg;
    const double p = exp((double)scores[arg] - max_score) / sum;
    if (arg < num_labels)
      printf("%zu  %-24s %.4f\n", arg, labels[arg], p);
    else
      printf("%zu  %.4f\n", arg, p);
  }
  pare_session_free(session);
  return 0;
}
