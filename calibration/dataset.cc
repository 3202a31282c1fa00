#include "calibration/dataset.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <system_error>

#include "calibration/npy.h"
#include "ir/graph.h"
#include "ir/status.h"

namespace pare::calib {

namespace fs = std::filesystem;

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// "[1,3,8,8], [N,1,3,8,8] or [N,3,8,8]": the shapes an array for this input may have.
std::string expected_shapes(const std::vector<int64_t>& in) {
  std::string inner = shape_str(in).substr(1);  // "1,3,8,8]"
  std::string s = shape_str(in);
  if (!in.empty() && in[0] == 1) {
    std::vector<int64_t> rest(in.begin() + 1, in.end());
    return fmt::format("{}, [N,{} or [N{}", s, inner, rest.empty() ? "]" : "," + shape_str(rest).substr(1));
  }
  return fmt::format("{} or [N{}", s, in.empty() ? "]" : "," + inner);
}

std::string lower_ext(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e;
}

std::string names_of(const std::vector<InputSpec>& inputs) {
  std::string s;
  for (const InputSpec& in : inputs) s += (s.empty() ? "" : ", ") + in.name;
  return s;
}

void check_input_types(const std::vector<InputSpec>& inputs) {
  if (inputs.empty()) throw_invalid("calibration: the model has no inputs");
  for (const InputSpec& in : inputs)
    if (!in.is_float && !in.is_int64)
      throw_unsupported(fmt::format("calibration: input '{}' (shape {}) is neither float32 nor int64; calibration "
                                    "data feeds float32 and int64 inputs only", in.name, shape_str(in.shape)));
}

bool is_int_array(const npy::Array& a) { return a.type == npy::ElemType::kInt64 || a.type == npy::ElemType::kInt32; }

int64_t int_at(const npy::Array& a, size_t i) {
  return a.type == npy::ElemType::kInt64 ? a.as<int64_t>()[i] : a.as<int32_t>()[i];
}

// Arrays from .npy/.npz, one per input, each holding `samples` samples back to back.
class ArrayDataset : public Dataset {
 public:
  ArrayDataset(std::string path, std::vector<InputSpec> inputs, std::vector<npy::Array> arrays,
               const std::vector<std::string>& members, const DatasetOptions& options)
      : Dataset(std::move(path), std::move(inputs)), arrays_(std::move(arrays)) {
    size_t samples = 0;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      const InputSpec& in = inputs_[i];
      const npy::Array& a = arrays_[i];
      const std::string what = members[i].empty() ? fmt::format("'{}'", path_)
                                                  : fmt::format("'{}', array '{}'", path_, members[i]);
      const std::string expected = expected_shapes(in.shape);
      if (in.is_int64 && !is_int_array(a))
        throw_invalid(fmt::format("{}: dtype {} for int64 input '{}' (expected int64 or int32, shape {})", what,
                                  npy::elem_type_name(a.type), in.name, expected));
      if (!in.is_int64 && a.type != npy::ElemType::kFloat32 && a.type != npy::ElemType::kFloat64)
        throw_invalid(fmt::format("{}: dtype {} for input '{}' (expected float32 or float64, shape {})", what,
                                  npy::elem_type_name(a.type), in.name, expected));
      const size_t s = sample_count(a.shape, in.shape);
      if (s == SIZE_MAX)
        throw_invalid(fmt::format("{}: shape {} does not fit input '{}' (expected {})", what, shape_str(a.shape),
                                  in.name, expected));
      if (s == 0)
        throw_invalid(fmt::format("{}: no samples for input '{}' (shape {}, expected {} with N > 0)", what,
                                  in.name, shape_str(a.shape), expected));
      if (i > 0 && s != samples)
        throw_invalid(fmt::format("'{}': {} samples for input '{}' but {} for input '{}'", path_, s, in.name, samples,
                                  inputs_[0].name));
      samples = s;
      if (!in.is_int64) check_finite(a, in, what);
    }
    select(samples, options);
  }

 protected:
  std::vector<Tensor> load(size_t index) const override {
    std::vector<Tensor> out;
    for (size_t i = 0; i < inputs_.size(); ++i) {
      const npy::Array& a = arrays_[i];
      const size_t n = static_cast<size_t>(numel(inputs_[i].shape)), off = index * n;
      Tensor t{inputs_[i].name, inputs_[i].shape, std::vector<float>(n)};
      if (is_int_array(a))
        for (size_t j = 0; j < n; ++j) t.data[j] = static_cast<float>(int_at(a, off + j));
      else if (a.type == npy::ElemType::kFloat32)
        std::copy(a.as<float>() + off, a.as<float>() + off + n, t.data.begin());
      else
        std::transform(a.as<double>() + off, a.as<double>() + off + n, t.data.begin(),
                       [](double v) { return static_cast<float>(v); });
      out.push_back(std::move(t));
    }
    return out;
  }

  void load_input(size_t index, size_t i, float* out) const override {
    const npy::Array& a = arrays_[i];
    const size_t n = static_cast<size_t>(numel(inputs_[i].shape)), off = index * n;
    if (is_int_array(a))
      for (size_t j = 0; j < n; ++j) out[j] = static_cast<float>(int_at(a, off + j));
    else if (a.type == npy::ElemType::kFloat32)
      std::copy(a.as<float>() + off, a.as<float>() + off + n, out);
    else
      std::transform(a.as<double>() + off, a.as<double>() + off + n, out, [](double v) { return static_cast<float>(v); });
  }

  void load_input_int64(size_t index, size_t i, int64_t* out) const override {
    const npy::Array& a = arrays_[i];
    const size_t n = static_cast<size_t>(numel(inputs_[i].shape)), off = index * n;
    for (size_t j = 0; j < n; ++j) out[j] = int_at(a, off + j);
  }

 private:
  // Samples in an array of shape `a` for an input of shape `in`; SIZE_MAX when it does not fit.
  static size_t sample_count(const std::vector<int64_t>& a, const std::vector<int64_t>& in) {
    if (a == in) return 1;
    if (a.size() == in.size() + 1 && std::equal(in.begin(), in.end(), a.begin() + 1)) return static_cast<size_t>(a[0]);
    if (!in.empty() && in[0] == 1 && a.size() == in.size() && std::equal(in.begin() + 1, in.end(), a.begin() + 1))
      return static_cast<size_t>(a[0]);
    return SIZE_MAX;
  }

  void check_finite(const npy::Array& a, const InputSpec& in, const std::string& what) const {
    const size_t n = static_cast<size_t>(a.size()), per = std::max<size_t>(1, static_cast<size_t>(numel(in.shape)));
    for (size_t j = 0; j < n; ++j) {
      double v = a.type == npy::ElemType::kFloat32 ? a.as<float>()[j] : a.as<double>()[j];
      // float64 values beyond float range would become infinities.
      if (!std::isfinite(v) || (a.type == npy::ElemType::kFloat64 && !std::isfinite(static_cast<float>(v))))
        throw_invalid(fmt::format("{}: {} in sample {} for input '{}' (shape {})", what,
                                  std::isnan(v) ? "NaN" : "a value out of float range", j / per, in.name,
                                  shape_str(in.shape)));
    }
  }

  std::vector<npy::Array> arrays_;
};

class ImageDataset : public Dataset {
 public:
  ImageDataset(std::string path, std::vector<InputSpec> inputs, const DatasetOptions& options)
      : Dataset(std::move(path), std::move(inputs)), folder_(path_, image_options(path_, inputs_, options)) {
    select(folder_.size(), options);
  }

 protected:
  std::vector<Tensor> load(size_t index) const override {
    ImageTensor img = folder_.load(index);
    return {Tensor{inputs_[0].name, std::move(img.shape), std::move(img.data)}};
  }

  void load_input(size_t index, size_t, float* out) const override {
    ImageTensor img = folder_.load(index);
    std::copy(img.data.begin(), img.data.end(), out);
  }

 private:
  static ImageOptions image_options(const std::string& path, const std::vector<InputSpec>& inputs,
                                    const DatasetOptions& options) {
    if (inputs.size() != 1)
      throw_invalid(fmt::format("image folder '{}' feeds a single input; the model has {} inputs ({})", path, inputs.size(),
                                names_of(inputs)));
    const InputSpec& in = inputs[0];
    const auto& s = in.shape;
    if (!in.is_float)
      throw_invalid(fmt::format("image folder '{}': input '{}' is not float32; images feed float32 inputs only", path,
                                in.name));
    auto is_c = [](int64_t v) { return v == 1 || v == 3 || v == 4; };
    if (s.size() != 4 || s[0] != 1 || !(is_c(s[1]) || is_c(s[3])))
      throw_invalid(fmt::format("image folder '{}': input '{}' of shape {} is not an image input (expected "
                                "[1,C,H,W] or [1,H,W,C] with C 1, 3 or 4)", path, in.name, shape_str(s)));
    std::string layout = options.layout;
    std::transform(layout.begin(), layout.end(), layout.begin(), [](unsigned char c) { return std::toupper(c); });
    if (!layout.empty() && layout != "NCHW" && layout != "NHWC")
      throw_invalid(fmt::format("image folder '{}': layout '{}' (expected NCHW or NHWC)", path, options.layout));
    const ImageLayout asked = layout == "NHWC" ? ImageLayout::kNHWC : ImageLayout::kNCHW;
    ImageOptions o;
    o.layout = is_c(s[1]) && is_c(s[3]) ? asked : (is_c(s[1]) ? ImageLayout::kNCHW : ImageLayout::kNHWC);
    const bool nchw = o.layout == ImageLayout::kNCHW;
    o.channels = static_cast<int>(nchw ? s[1] : s[3]);
    o.height = static_cast<int>(nchw ? s[2] : s[1]);
    o.width = static_cast<int>(nchw ? s[3] : s[2]);
    if (options.grayscale && o.channels != 1)
      throw_invalid(fmt::format("image folder '{}': grayscale images for input '{}' of shape {} with {} channels",
                                path, in.name, shape_str(s), o.channels));
    if (!options.resize.empty()) {
      int h = 0, w = 0;
      char x = 0, extra = 0;
      if (std::sscanf(options.resize.c_str(), "%d%c%d%c", &h, &x, &w, &extra) != 3 || (x != 'x' && x != 'X') ||
          h <= 0 || w <= 0)
        throw_invalid(fmt::format("image folder '{}': resize '{}' is not HxW", path, options.resize));
      if (h != o.height || w != o.width)
        throw_invalid(fmt::format("image folder '{}': resize {}x{} does not match input '{}' of shape {}", path, h, w,
                                  in.name, shape_str(s)));
    }
    o.mean = options.mean;
    o.std = options.std;
    for (const auto* v : {&o.mean, &o.std})
      if (!v->empty() && v->size() != 1 && v->size() != static_cast<size_t>(o.channels))
        throw_invalid(fmt::format("image folder '{}': {} values of {} for input '{}' with {} channels (shape {})", path,
                                  v->size(), v == &o.mean ? "mean" : "std", in.name, o.channels, shape_str(s)));
    return o;
  }

  ImageFolder folder_;
};

}  // namespace

std::vector<InputSpec> input_specs(const ir::Graph& g) {
  std::vector<InputSpec> specs;
  for (ir::TensorId id : g.inputs) {
    const ir::Tensor& t = g.tensor(id);
    if (!t.shape.is_static())
      throw_invalid(fmt::format("input '{}' has shape {}: fix its dimensions before calibration", t.name,
                                t.shape.str()));
    specs.push_back(InputSpec{t.name, t.shape.sizes(), t.dtype == ir::DType::kFloat32, t.dtype == ir::DType::kInt64});
  }
  return specs;
}

void Dataset::select(size_t total, const DatasetOptions& options) {
  total_ = total;
  selected_.resize(total);
  for (size_t i = 0; i < total; ++i) selected_[i] = i;
  if (options.max_samples == 0 || options.max_samples >= total) return;
  // A partial Fisher-Yates shuffle with an explicit modulo: std::uniform_int_distribution differs
  // between standard libraries, and a seed must pick the same samples everywhere.
  std::mt19937_64 rng(options.seed);
  for (size_t i = 0; i < options.max_samples; ++i) {
    size_t j = i + static_cast<size_t>(rng() % (total - i));
    std::swap(selected_[i], selected_[j]);
  }
  selected_.resize(options.max_samples);
  std::sort(selected_.begin(), selected_.end());
}

std::vector<Tensor> Dataset::sample(size_t k) const { return load(selected_.at(k)); }

void Dataset::fill(size_t k, size_t input, float* out, size_t count) const {
  if (input >= inputs_.size())
    throw_internal(fmt::format("calibration data '{}': input {} of {}", path_, input, inputs_.size()));
  const InputSpec& in = inputs_[input];
  if (count != static_cast<size_t>(numel(in.shape)))
    throw_internal(fmt::format("calibration data '{}': {} values asked for input '{}' of shape {}", path_, count,
                               in.name, shape_str(in.shape)));
  if (in.is_int64)
    throw_internal(fmt::format("calibration data '{}': float values asked for int64 input '{}'", path_, in.name));
  load_input(selected_.at(k), input, out);
}

void Dataset::fill_int64(size_t k, size_t input, int64_t* out, size_t count) const {
  if (input >= inputs_.size())
    throw_internal(fmt::format("calibration data '{}': input {} of {}", path_, input, inputs_.size()));
  const InputSpec& in = inputs_[input];
  if (!in.is_int64 || count != static_cast<size_t>(numel(in.shape)))
    throw_internal(fmt::format("calibration data '{}': {} int64 values asked for input '{}' of shape {}", path_, count,
                               in.name, shape_str(in.shape)));
  load_input_int64(selected_.at(k), input, out);
}

void Dataset::load_input_int64(size_t, size_t input, int64_t*) const {
  throw_internal(fmt::format("calibration data '{}': input {} is not int64 data", path_, input));
}

std::unique_ptr<Dataset> open_dataset(const std::string& path, const std::vector<InputSpec>& inputs,
                                      const DatasetOptions& options) {
  check_input_types(inputs);
  std::error_code ec;
  if (!fs::exists(path, ec)) throw_invalid(fmt::format("calibration data '{}' does not exist", path));
  if (fs::is_directory(path, ec)) return std::make_unique<ImageDataset>(path, inputs, options);
  const std::string ext = lower_ext(path);
  if (ext == ".npy") {
    if (inputs.size() != 1)
      throw_invalid(fmt::format("'{}': a .npy file feeds one input; the model has {} inputs ({}): give a .npz with one "
                                "array per input name", path, inputs.size(), names_of(inputs)));
    std::vector<npy::Array> arrays;
    arrays.push_back(npy::read_npy(path));
    return std::make_unique<ArrayDataset>(path, inputs, std::move(arrays), std::vector<std::string>{""}, options);
  }
  if (ext == ".npz") {
    auto members = npy::read_npz(path);
    if (members.empty()) throw_invalid(fmt::format("'{}': the archive holds no array", path));
    std::vector<npy::Array> arrays;
    std::vector<std::string> names;
    if (inputs.size() == 1 && members.size() == 1) {
      names.push_back(members[0].first);
      arrays.push_back(std::move(members[0].second));
    } else {
      std::string member_names;
      for (const auto& m : members) member_names += (member_names.empty() ? "" : ", ") + m.first;
      for (const auto& m : members) {
        bool known = std::any_of(inputs.begin(), inputs.end(), [&](const InputSpec& in) { return in.name == m.first; });
        if (!known)
          throw_invalid(fmt::format("'{}': array '{}' matches no model input (inputs: {})", path, m.first,
                                    names_of(inputs)));
      }
      for (const InputSpec& in : inputs) {
        auto it = std::find_if(members.begin(), members.end(), [&](const auto& m) { return m.first == in.name; });
        if (it == members.end())
          throw_invalid(fmt::format("'{}': no array for input '{}' (shape {}); the archive holds: {}", path, in.name,
                                    shape_str(in.shape), member_names));
        names.push_back(it->first);
        arrays.push_back(std::move(it->second));
      }
    }
    return std::make_unique<ArrayDataset>(path, inputs, std::move(arrays), names, options);
  }
  throw_invalid(fmt::format("calibration data '{}': expected a .npy or .npz file or an image folder", path));
}

}  // namespace pare::calib
