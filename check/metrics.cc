#include "check/metrics.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace pare::check {

double snr_db(double signal, double noise) {
  if (noise <= 0) return kSnrCapDb;
  if (signal <= 0) return -kSnrCapDb;
  return std::clamp(10.0 * std::log10(signal / noise), -kSnrCapDb, kSnrCapDb);
}

double cosine(const float* a, const float* b, size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  if (aa == 0 && bb == 0) return 1;
  if (aa == 0 || bb == 0) return 0;
  return std::clamp(ab / std::sqrt(aa * bb), -1.0, 1.0);
}

size_t argmax(const float* v, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

namespace {

// log softmax(v / temperature), in double.
std::vector<double> log_softmax(const float* v, size_t n, double temperature) {
  std::vector<double> out(n);
  double top = -INFINITY;
  for (size_t i = 0; i < n; ++i) top = std::max(top, v[i] / temperature);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(v[i] / temperature - top);
  const double log_sum = top + std::log(sum);
  for (size_t i = 0; i < n; ++i) out[i] = v[i] / temperature - log_sum;
  return out;
}

}  // namespace

double softmax_kl(const float* teacher, const float* student, size_t n, double temperature) {
  const std::vector<double> lp = log_softmax(teacher, n, temperature);
  const std::vector<double> lq = log_softmax(student, n, temperature);
  double kl = 0;
  for (size_t i = 0; i < n; ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
  return std::max(kl, 0.0);  // rounding can leave a tiny negative sum for equal inputs
}

void ErrorSums::add(const float* teacher, const float* student, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double t = teacher[i], d = t - student[i];
    signal_ += t * t;
    noise_ += d * d;
  }
  cosine_sum_ += check::cosine(teacher, student, n);
  ++samples_;
}

double ErrorSums::snr_db() const { return check::snr_db(signal_, noise_); }

double ErrorSums::cosine() const { return samples_ ? cosine_sum_ / static_cast<double>(samples_) : 0; }

}  // namespace pare::check
