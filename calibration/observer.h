// Calibration observers: they see the float values of one tensor batch after batch, in bounded
// memory, and then propose the real range [min, max] its per-tensor 8-bit quantization covers.
//
//   minmax         running min/max.
//   percentile(p)  clips at the p-th percentile (default 99.99) of the histogram.
//   entropy        KL-divergence calibration: the threshold whose quantized distribution is
//                  closest to the observed one.
//   mse            the range minimising the expected squared error, rounding plus clipping.
//
// Histogram observers keep a fixed number of bins (StreamingHistogram); every range they return
// contains 0, which the quantized form must represent exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pare::calib {

struct Range {
  float min = 0.0f;
  float max = 0.0f;
};

// q in [qmin, qmax] stands for scale * (q - zero_point).
struct QuantParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
  int32_t qmin = 0;
  int32_t qmax = 255;
};

// Scale and zero point for uint8 (is_signed = false) or int8 such that 0 is exactly representable
// (the zero point is an integer) and the whole of r (extended to contain 0) is representable
// without clipping. Symmetric: zero point 0 (int8, codes [-127, 127]) or 128 (uint8).
QuantParams choose_quant_params(Range r, bool is_signed, bool symmetric);

// A histogram of x over [-R, R] with a fixed number of bins on each side of 0, R a power of two.
// When a value exceeds R, R doubles and neighbouring bins merge pairwise: every bin boundary of the
// wider histogram was a boundary before, so the counts stay exact, and the histogram after any
// sequence of batches is the same as after one batch holding all of them.
class StreamingHistogram {
 public:
  static constexpr int kDefaultBins = 2048;

  explicit StreamingHistogram(int bins_per_side = kDefaultBins);

  void add(const float* data, size_t n);  // values must be finite

  int bins_per_side() const { return bins_; }
  double half_width() const { return half_width_; }  // R; 0 until a non-zero value is seen
  double bin_width() const { return half_width_ / bins_; }
  uint64_t count() const { return count_; }
  // Bin i of each side covers |x| in [i*w, (i+1)*w): pos() for x >= 0, neg() for x < 0.
  const std::vector<uint64_t>& pos() const { return pos_; }
  const std::vector<uint64_t>& neg() const { return neg_; }
  std::vector<uint64_t> abs() const;  // histogram of |x|

 private:
  void grow_to(double magnitude);

  int bins_;
  double half_width_ = 0.0;
  uint64_t count_ = 0;
  uint64_t zeros_before_range_ = 0;  // zeros seen while R is still unknown
  std::vector<uint64_t> pos_, neg_;
};

class Observer {
 public:
  // `tensor` names the observed tensor in error messages.
  explicit Observer(std::string tensor);
  virtual ~Observer() = default;
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  // Throws pare::Error(kInvalidInput) naming the tensor on NaN or infinity.
  void observe(const float* data, size_t n);

  // The range for per-tensor quantization with `levels` codes (256 for 8 bits). Symmetric ranges
  // are [-t, t]. Throws kInvalidInput when nothing was observed.
  Range range(bool symmetric, int levels = 256) const;

  const std::string& tensor() const { return tensor_; }
  virtual std::string kind() const = 0;  // "minmax", "percentile(99.99)", ...
  uint64_t count() const { return count_; }
  float min() const { return min_; }
  float max() const { return max_; }

 protected:
  virtual void accumulate(const float* data, size_t n) = 0;
  // Called with at least one value observed; the result is clamped to [min, max] and 0 added.
  virtual Range compute(bool symmetric, int levels) const = 0;

 private:
  std::string tensor_;
  uint64_t count_ = 0;
  float min_ = 0.0f, max_ = 0.0f;
};

class MinMaxObserver : public Observer {
 public:
  using Observer::Observer;
  std::string kind() const override { return "minmax"; }

 protected:
  void accumulate(const float*, size_t) override {}
  Range compute(bool symmetric, int levels) const override;
};

class HistogramObserver : public Observer {
 public:
  HistogramObserver(std::string tensor, int bins_per_side);
  const StreamingHistogram& histogram() const { return hist_; }

 protected:
  void accumulate(const float* data, size_t n) override { hist_.add(data, n); }
  StreamingHistogram hist_;
};

// Symmetric: the p-th percentile t of |x|, range [-t, t]: one threshold serves both signs, so
// it is set by the total mass beyond it, whichever side holds it. Asymmetric: the (100-p)-th and
// p-th percentiles of x, each tail clipped separately, since the two sides of a skewed tensor
// (after ReLU, SiLU, GELU...) have unrelated extents. Linear interpolation inside a bin.
class PercentileObserver : public HistogramObserver {
 public:
  PercentileObserver(std::string tensor, double percentile,
                     int bins_per_side = StreamingHistogram::kDefaultBins);
  std::string kind() const override;
  double percentile() const { return p_; }

 protected:
  Range compute(bool symmetric, int levels) const override;

 private:
  double p_;
};

// KL-divergence calibration. Symmetric: over the histogram of |x|, for every candidate threshold
// from 128 bins to the last non-empty bin, the reference P is the histogram up to it with the
// clipped mass added to its last bin, Q the same bins (without the clipped mass) merged into
// levels/2 groups and spread back uniformly over their non-empty bins; the threshold with the
// smallest KL(P||Q) wins. Asymmetric: the same search on each side of 0 separately, with the
// levels shared in proportion to the observed extents (all of them to a side that is alone).
class EntropyObserver : public HistogramObserver {
 public:
  explicit EntropyObserver(std::string tensor, int bins_per_side = StreamingHistogram::kDefaultBins);
  std::string kind() const override { return "entropy"; }

 protected:
  Range compute(bool symmetric, int levels) const override;
};

// The range over bin boundaries minimising the expected squared quantization error: step^2/12 for
// each value inside the range, the squared distance to the range for each value outside it (values
// spread uniformly inside their bin). Symmetric: [-t, t], step t/(levels/2-1). Asymmetric: [lo, hi]
// searched over all pairs of boundaries, step (hi-lo)/(levels-1).
class MseObserver : public HistogramObserver {
 public:
  explicit MseObserver(std::string tensor, int bins_per_side = StreamingHistogram::kDefaultBins);
  std::string kind() const override { return "mse"; }

 protected:
  Range compute(bool symmetric, int levels) const override;
};

// "minmax", "percentile" (99.99), "percentile(99.9)", "entropy", "mse"; throws kInvalidInput
// naming the bad text otherwise.
std::unique_ptr<Observer> make_observer(const std::string& spec, const std::string& tensor);

}  // namespace pare::calib
