// Calibration data for a model's inputs, from one of:
//   file.npy  one array for a single-input model: exactly the input's shape (one sample), or
//             [S, <input shape>] (S samples), or, when the input's first dim is 1, [S, <rest>].
//   file.npz  one array per input, member names = input names (same sample count for all), or a
//             single array of any name for a single-input model, shaped as for .npy.
//   folder    images (see image_folder.h) for a single-input model of rank 4, one image a sample,
//             resized to the input's H x W, channels and layout taken from the input's shape.
// Samples of float32 inputs are float32 (float64 arrays are converted, finite values checked at
// open). int64 inputs (token ids, attention masks) take int64 or int32 arrays from .npy/.npz, kept
// exact (fill_int64). Every error is pare::Error(kInvalidInput) naming the file, the input and the
// expected shape (or dtype).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "calibration/image_folder.h"

namespace pare::ir {
class Graph;
}

namespace pare::calib {

struct InputSpec {
  std::string name;
  std::vector<int64_t> shape;  // static
  bool is_float = true;        // float32
  bool is_int64 = false;       // int64; calibration data feeds float32 and int64 inputs only
};

// The graph's inputs; throws kInvalidInput when a shape is not static.
std::vector<InputSpec> input_specs(const ir::Graph& g);

struct DatasetOptions {
  size_t max_samples = 0;  // 0: all
  uint64_t seed = 0;       // picks which max_samples of the samples, the same ones for a seed
  // Image folders. Size, channels and layout come from the input's shape; `layout` ("NCHW" or
  // "NHWC") decides only when the shape does not (dims 1 and 3 both 1, 3 or 4). `resize` ("HxW")
  // and `grayscale` must agree with the input. value = (pixel / 255 - mean[c]) / std[c].
  std::string layout = "NCHW";
  std::string resize;
  bool grayscale = false;
  std::vector<float> mean, std;
};

struct Tensor {
  std::string name;  // the model input's
  std::vector<int64_t> shape;
  std::vector<float> data;  // an int64 input's values converted to float
};

class Dataset {
 public:
  virtual ~Dataset() = default;

  size_t size() const { return selected_.size(); }  // samples yielded (at most max_samples)
  size_t total() const { return total_; }             // samples in the source
  const std::vector<size_t>& selected() const { return selected_; }  // source indices, ascending
  const std::vector<InputSpec>& inputs() const { return inputs_; }
  const std::string& path() const { return path_; }

  // Sample k (< size()): one tensor per model input, in input order, shaped as the input.
  std::vector<Tensor> sample(size_t k) const;
  // Input `input` of sample k into out[0, count); count must be the input's element count.
  void fill(size_t k, size_t input, float* out, size_t count) const;
  // The same for an int64 input, exact.
  void fill_int64(size_t k, size_t input, int64_t* out, size_t count) const;

 protected:
  Dataset(std::string path, std::vector<InputSpec> inputs) : path_(std::move(path)), inputs_(std::move(inputs)) {}
  void select(size_t total, const DatasetOptions& options);
  virtual std::vector<Tensor> load(size_t index) const = 0;  // source sample `index`, all inputs
  virtual void load_input(size_t index, size_t input, float* out) const = 0;
  // Int64 inputs (array datasets only; the default throws kInternal).
  virtual void load_input_int64(size_t index, size_t input, int64_t* out) const;

  std::string path_;
  std::vector<InputSpec> inputs_;

 private:
  size_t total_ = 0;
  std::vector<size_t> selected_;
};

// Opens `path` (.npy, .npz or a folder of images) and checks it against `inputs`.
std::unique_ptr<Dataset> open_dataset(const std::string& path, const std::vector<InputSpec>& inputs,
                                      const DatasetOptions& options = {});

}  // namespace pare::calib
