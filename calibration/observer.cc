// The observer base, min/max, the streaming histogram, the factory and scale/zero-point choice.
// The histogram observers' range searches are in observer_histogram.cc.
#include "calibration/observer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "ir/status.h"

namespace pare::calib {

// --- StreamingHistogram

StreamingHistogram::StreamingHistogram(int bins_per_side) : bins_(bins_per_side) {
  // A power of two keeps the bin width a power of two, so binning is exact and merging pairs
  // matches binning from scratch.
  if (bins_ < 2 || (bins_ & (bins_ - 1)) != 0)
    throw_internal(fmt::format("histogram: {} bins per side is not a power of two >= 2", bins_));
  pos_.assign(static_cast<size_t>(bins_), 0);
  neg_.assign(static_cast<size_t>(bins_), 0);
}

void StreamingHistogram::grow_to(double magnitude) {
  // The smallest power of two strictly above `magnitude`, so every value seen is < R.
  int e = 0;
  std::frexp(magnitude, &e);  // magnitude = m * 2^e, m in [0.5, 1)
  double target = std::ldexp(1.0, e);
  if (half_width_ == 0.0) {
    half_width_ = target;  // only zeros so far, all in bin 0 whatever R is
    return;
  }
  while (half_width_ < target) {
    for (std::vector<uint64_t>* side : {&pos_, &neg_}) {
      std::vector<uint64_t>& h = *side;
      size_t half = h.size() / 2;
      for (size_t i = 0; i < half; ++i) h[i] = h[2 * i] + h[2 * i + 1];
      std::fill(h.begin() + static_cast<std::ptrdiff_t>(half), h.end(), 0);
    }
    half_width_ *= 2.0;
  }
}

void StreamingHistogram::add(const float* data, size_t n) {
  double amax = 0.0;
  for (size_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(static_cast<double>(data[i])));
  if (amax > 0.0 && amax >= half_width_) grow_to(amax);
  const double inv_w = half_width_ > 0.0 ? bins_ / half_width_ : 0.0;  // a power of two: exact
  const size_t last = static_cast<size_t>(bins_ - 1);
  for (size_t i = 0; i < n; ++i) {
    double x = data[i];
    size_t b = std::min(static_cast<size_t>(std::fabs(x) * inv_w), last);
    (x < 0.0 ? neg_ : pos_)[b]++;
  }
  count_ += n;
}

std::vector<uint64_t> StreamingHistogram::abs() const {
  std::vector<uint64_t> h(pos_);
  for (size_t i = 0; i < h.size(); ++i) h[i] += neg_[i];
  return h;
}

// --- Observer

Observer::Observer(std::string tensor) : tensor_(std::move(tensor)) {}

void Observer::observe(const float* data, size_t n) {
  if (n == 0) return;
  float lo = count_ ? min_ : data[0], hi = count_ ? max_ : data[0];
  for (size_t i = 0; i < n; ++i) {
    float x = data[i];
    if (!std::isfinite(x))
      throw_invalid(fmt::format("calibration: tensor '{}' has a non-finite value ({}) at index {} of a batch",
                                tensor_, std::isnan(x) ? "NaN" : (x > 0 ? "+inf" : "-inf"), i));
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  accumulate(data, n);
  min_ = lo;
  max_ = hi;
  count_ += n;
}

Range Observer::range(bool symmetric, int levels) const {
  if (count_ == 0) throw_invalid(fmt::format("calibration: no values observed for tensor '{}'", tensor_));
  if (levels < 4 || levels > (1 << 16))
    throw_invalid(fmt::format("calibration: {} quantization levels for tensor '{}' (expected 4..65536)",
                              levels, tensor_));
  Range r = compute(symmetric, levels);
  if (symmetric) {
    float t = std::min(std::max(std::fabs(r.min), std::fabs(r.max)), std::max(std::fabs(min_), std::fabs(max_)));
    r = {-t, t};
  } else {
    r.min = std::max(r.min, min_);
    r.max = std::min(r.max, max_);
  }
  r.min = std::min(r.min, 0.0f);
  r.max = std::max(r.max, 0.0f);
  return r;
}

Range MinMaxObserver::compute(bool symmetric, int) const {
  if (symmetric) {
    float t = std::max(std::fabs(min()), std::fabs(max()));
    return {-t, t};
  }
  return {min(), max()};
}

HistogramObserver::HistogramObserver(std::string tensor, int bins_per_side)
    : Observer(std::move(tensor)), hist_(bins_per_side) {}

PercentileObserver::PercentileObserver(std::string tensor, double percentile, int bins_per_side)
    : HistogramObserver(std::move(tensor), bins_per_side), p_(percentile) {
  if (!(p_ > 0.0 && p_ <= 100.0))
    throw_invalid(fmt::format("calibration: percentile {} is not in (0, 100]", p_));
}

std::string PercentileObserver::kind() const { return fmt::format("percentile({})", p_); }

EntropyObserver::EntropyObserver(std::string tensor, int bins_per_side)
    : HistogramObserver(std::move(tensor), bins_per_side) {}

MseObserver::MseObserver(std::string tensor, int bins_per_side)
    : HistogramObserver(std::move(tensor), bins_per_side) {}

// --- Factory

std::unique_ptr<Observer> make_observer(const std::string& spec, const std::string& tensor) {
  if (spec == "minmax") return std::make_unique<MinMaxObserver>(tensor);
  if (spec == "entropy") return std::make_unique<EntropyObserver>(tensor);
  if (spec == "mse") return std::make_unique<MseObserver>(tensor);
  if (spec == "percentile") return std::make_unique<PercentileObserver>(tensor, 99.99);
  const std::string prefix = "percentile(";
  if (spec.compare(0, prefix.size(), prefix) == 0 && spec.size() > prefix.size() + 1 && spec.back() == ')') {
    std::string num = spec.substr(prefix.size(), spec.size() - prefix.size() - 1);
    const char* begin = num.c_str();
    char* end = nullptr;
    errno = 0;
    double p = std::strtod(begin, &end);
    if (errno != 0 || end == begin || *end != '\0' || std::isspace(static_cast<unsigned char>(num[0])) ||
        !(p > 0.0 && p <= 100.0))
      throw_invalid(fmt::format("calibration method '{}': the percentile must be a number in (0, 100]", spec));
    return std::make_unique<PercentileObserver>(tensor, p);
  }
  throw_invalid(fmt::format(
      "unknown calibration method '{}' (expected minmax, percentile, percentile(<p>), entropy or mse)", spec));
}

// --- Scale and zero point

QuantParams choose_quant_params(Range r, bool is_signed, bool symmetric) {
  if (!std::isfinite(r.min) || !std::isfinite(r.max) || r.min > r.max)
    throw_invalid(fmt::format("quantization range [{}, {}] is not a finite interval", r.min, r.max));
  QuantParams q;
  q.qmin = is_signed ? -128 : 0;
  q.qmax = is_signed ? 127 : 255;
  const double lo = std::min<double>(r.min, 0.0), hi = std::max<double>(r.max, 0.0);
  const double tiny = std::numeric_limits<float>::min();
  if (hi - lo == 0.0) {  // only zeros: any scale represents them
    q.scale = 1.0f;
    q.zero_point = is_signed ? 0 : (symmetric ? 128 : 0);
    return q;
  }
  // float(s) may round below s; the next float up then keeps the range covered.
  auto covering = [](double s) {
    float f = static_cast<float>(s);
    return static_cast<double>(f) < s ? std::nextafter(f, std::numeric_limits<float>::infinity()) : f;
  };
  if (symmetric) {
    // Codes [-127, 127] around the zero point: int8 never uses -128, uint8 centres on 128.
    double t = std::max(-lo, hi);
    q.zero_point = is_signed ? 0 : 128;
    q.scale = covering(std::max(t / 127.0, tiny));
    return q;
  }
  // The zero point is the integer nearest to where 0 falls; the scale is then whatever makes both
  // ends representable with that zero point. Of floor and ceil, keep the smaller scale.
  const double span = q.qmax - q.qmin;
  const double z_real = q.qmin - lo / ((hi - lo) / span);
  double best_scale = std::numeric_limits<double>::infinity();
  int32_t best_z = q.qmin;
  for (double zc : {std::floor(z_real), std::ceil(z_real)}) {
    int32_t z = static_cast<int32_t>(std::min<double>(std::max<double>(zc, q.qmin), q.qmax));
    double s = 0.0;
    bool ok = true;
    if (hi > 0.0) {
      if (z == q.qmax) ok = false; else s = std::max(s, hi / (q.qmax - z));
    }
    if (lo < 0.0) {
      if (z == q.qmin) ok = false; else s = std::max(s, -lo / (z - q.qmin));
    }
    if (ok && s < best_scale) {
      best_scale = s;
      best_z = z;
    }
  }
  q.zero_point = best_z;
  q.scale = covering(std::max(best_scale, tiny));
  return q;
}

}  // namespace pare::calib
