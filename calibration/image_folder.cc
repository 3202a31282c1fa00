// Image folder decoding. The one translation unit compiling stb_image and stb_image_resize; both
// are static here so another copy elsewhere cannot clash at link time.
#include "calibration/image_folder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <system_error>

#include "ir/status.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO
#include <stb/stb_image.h>
#define STB_IMAGE_RESIZE_STATIC
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image_resize.h>
#pragma GCC diagnostic pop

namespace pare::calib {

namespace fs = std::filesystem;

namespace {

bool is_image_name(const std::string& name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* ext : {".png", ".jpg", ".jpeg"}) {
    std::string e(ext);
    if (lower.size() > e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_invalid(fmt::format("image '{}': cannot open the file", path));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw_invalid(fmt::format("image '{}': read error", path));
  return bytes;
}

int stb_len(const std::string& bytes, const std::string& path) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) throw_invalid(fmt::format("image '{}': file too large", path));
  return static_cast<int>(bytes.size());
}

struct StbFree {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

void check_per_channel(const std::vector<float>& v, const char* what, int channels, const std::string& dir) {
  if (!v.empty() && v.size() != 1 && v.size() != static_cast<size_t>(channels))
    throw_invalid(fmt::format("image folder '{}': {} has {} values for {} channels", dir, what, v.size(), channels));
}

}  // namespace

ImageFolder::ImageFolder(const std::string& dir, ImageOptions options) : dir_(dir), options_(std::move(options)) {
  if (options_.grayscale) options_.channels = 1;
  if (options_.channels != 0 && options_.channels != 1 && options_.channels != 3 && options_.channels != 4)
    throw_invalid(fmt::format("image folder '{}': {} channels requested (expected 1, 3 or 4)", dir, options_.channels));
  if (options_.height < 0 || options_.width < 0 || (options_.height == 0) != (options_.width == 0))
    throw_invalid(fmt::format("image folder '{}': invalid resize {}x{}", dir, options_.height, options_.width));
  for (float s : options_.std)
    if (!(s != 0.0f && std::isfinite(s))) throw_invalid(fmt::format("image folder '{}': std value {} is not usable", dir, s));
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw_invalid(fmt::format("image folder '{}': not a folder", dir));
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->is_regular_file(ec2) && is_image_name(it->path().filename().string())) files_.push_back(it->path().string());
  }
  if (ec) throw_invalid(fmt::format("image folder '{}': cannot list it: {}", dir, ec.message()));
  if (files_.empty()) throw_invalid(fmt::format("image folder '{}': no .png, .jpg or .jpeg image in it", dir));
  std::sort(files_.begin(), files_.end());
}

ImageTensor ImageFolder::load(size_t i) const {
  const std::string& path = files_.at(i);
  const std::string bytes = read_bytes(path);
  const auto* buf = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = stb_len(bytes, path);

  int want = options_.channels;
  if (want == 0) {
    // Every image must have the channel count of the first one.
    if (first_channels_ == 0) {
      const std::string first = i == 0 ? bytes : read_bytes(files_[0]);
      int w, h, c;
      if (!stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(first.data()), stb_len(first, files_[0]), &w, &h, &c))
        throw_invalid(fmt::format("image '{}': cannot decode it ({})", files_[0], stbi_failure_reason()));
      first_channels_ = c;
    }
    want = first_channels_;
  }

  int w = 0, h = 0, native = 0;
  std::unique_ptr<stbi_uc, StbFree> pixels(stbi_load_from_memory(buf, len, &w, &h, &native, want));
  if (!pixels) throw_invalid(fmt::format("image '{}': cannot decode it ({})", path, stbi_failure_reason()));
  if (options_.channels == 0 && native != want)
    throw_invalid(fmt::format("image '{}' has {} channels but '{}' has {}; all images must have the same count "
                              "(or ask for a channel count)", path, native, files_[0], want));
  const int c = want;
  check_per_channel(options_.mean, "mean", c, dir_);
  check_per_channel(options_.std, "std", c, dir_);

  // Interleaved HWC floats in [0, 255], then resized.
  const size_t n_in = static_cast<size_t>(w) * static_cast<size_t>(h) * static_cast<size_t>(c);
  std::vector<float> hwc(pixels.get(), pixels.get() + n_in);
  pixels.reset();
  int oh = h, ow = w;
  if (options_.height > 0 && (options_.height != h || options_.width != w)) {
    oh = options_.height;
    ow = options_.width;
    std::vector<float> resized(static_cast<size_t>(oh) * static_cast<size_t>(ow) * static_cast<size_t>(c));
    // The triangle filter is bilinear interpolation when enlarging and a tent over the covered
    // pixels when shrinking (no aliasing), pixel centres at +0.5, edges clamped.
    if (!stbir_resize_float_generic(hwc.data(), w, h, 0, resized.data(), ow, oh, 0, c, STBIR_ALPHA_CHANNEL_NONE, 0,
                                    STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE, STBIR_COLORSPACE_LINEAR, nullptr))
      throw_invalid(fmt::format("image '{}': resize from {}x{} to {}x{} failed", path, h, w, oh, ow));
    hwc.swap(resized);
  }

  ImageTensor t;
  const bool nchw = options_.layout == ImageLayout::kNCHW;
  t.shape = nchw ? std::vector<int64_t>{1, c, oh, ow} : std::vector<int64_t>{1, oh, ow, c};
  t.data.resize(hwc.size());
  const size_t plane = static_cast<size_t>(oh) * static_cast<size_t>(ow);
  for (int ch = 0; ch < c; ++ch) {
    auto pick = [&](const std::vector<float>& v, float dflt) {
      return v.empty() ? dflt : v[v.size() == 1 ? 0 : static_cast<size_t>(ch)];
    };
    const float mean = pick(options_.mean, 0.0f), inv_std = 1.0f / pick(options_.std, 1.0f);
    for (size_t p = 0; p < plane; ++p) {
      float v = (hwc[p * c + ch] * options_.pixel_scale - mean) * inv_std;
      t.data[nchw ? ch * plane + p : p * c + ch] = v;
    }
  }
  return t;
}

}  // namespace pare::calib
