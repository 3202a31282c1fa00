// A folder of PNG/JPEG images as float tensors, one image at a time, decoded with stb_image.
// Files are taken in sorted name order; only names ending in .png, .jpg or .jpeg (any case) count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pare::calib {

enum class ImageLayout { kNCHW, kNHWC };

struct ImageOptions {
  int height = 0, width = 0;  // resize target (bilinear); 0, 0 keeps each image's own size
  // Channels of the tensors: 0 keeps the images' own count (they must all agree); 1, 3 or 4
  // converts (gray to RGB replicates, RGB to gray takes the luma). grayscale = true means 1.
  int channels = 0;
  bool grayscale = false;
  ImageLayout layout = ImageLayout::kNCHW;
  // value = (pixel * pixel_scale - mean[c]) / std[c], pixel in [0, 255]. mean and std hold one value
  // per channel or a single value for all; empty means 0 and 1.
  float pixel_scale = 1.0f / 255.0f;
  std::vector<float> mean, std;
};

struct ImageTensor {
  std::vector<int64_t> shape;  // [1, C, H, W] or [1, H, W, C]
  std::vector<float> data;
};

class ImageFolder {
 public:
  // Lists the folder; throws pare::Error(kInvalidInput) when it is missing, not a folder, holds no
  // image, or the options are invalid.
  ImageFolder(const std::string& dir, ImageOptions options);

  size_t size() const { return files_.size(); }
  const std::vector<std::string>& files() const { return files_; }  // full paths, sorted
  const ImageOptions& options() const { return options_; }

  // Decodes, resizes and normalises image i. Throws kInvalidInput naming the file when it cannot
  // be read or decoded, or its channel count differs from the first image's (channels = 0).
  ImageTensor load(size_t i) const;

 private:
  std::string dir_;
  ImageOptions options_;
  std::vector<std::string> files_;
  mutable int first_channels_ = 0;  // channels = 0: the count every image must have
};

}  // namespace pare::calib
