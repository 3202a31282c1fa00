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

void ErrorSums::merge(const ErrorSums& o) {
  signal_ += o.signal_;
  noise_ += o.noise_;
  cosine_sum_ += o.cosine_sum_;
  samples_ += o.samples_;
}

double ErrorSums::snr_db() const { return check::snr_db(signal_, noise_); }

double ErrorSums::cosine() const { return samples_ ? cosine_sum_ / static_cast<double>(samples_) : 0; }

void OutputStats::add(const float* teacher, const float* student, size_t n, double temperature, int64_t label) {
  sums_.add(teacher, student, n);
  const double kl = softmax_kl(teacher, student, n, temperature);
  kl_sum_ += kl;
  kl_squares_ += kl * kl;
  const size_t t_top = argmax(teacher, n), s_top = argmax(student, n);
  agree_ += t_top == s_top;
  if (label >= 0) {
    const bool t_right = static_cast<int64_t>(t_top) == label, s_right = static_cast<int64_t>(s_top) == label;
    teacher_correct_ += t_right;
    student_correct_ += s_right;
    only_teacher_ += t_right && !s_right;
    only_student_ += s_right && !t_right;
  }
  ++samples_;
}

void OutputStats::merge(const OutputStats& o) {
  sums_.merge(o.sums_);
  samples_ += o.samples_;
  agree_ += o.agree_;
  teacher_correct_ += o.teacher_correct_;
  student_correct_ += o.student_correct_;
  only_teacher_ += o.only_teacher_;
  only_student_ += o.only_student_;
  kl_sum_ += o.kl_sum_;
  kl_squares_ += o.kl_squares_;
}

void OutputStats::finish(CheckResult& r) const {
  const double n = static_cast<double>(std::max<int64_t>(samples_, 1));
  const double a = static_cast<double>(agree_) / n;
  r.agreement = 100.0 * a;
  r.agreement_se = 100.0 * std::sqrt(a * (1 - a) / n);
  r.kl = kl_sum_ / n;
  r.kl_se = std::sqrt(std::max(0.0, kl_squares_ / n - r.kl * r.kl) / n);
  r.cosine = sums_.cosine();
  r.snr_db = sums_.snr_db();
  if (!r.has_labels) return;
  r.teacher_top1 = 100.0 * static_cast<double>(teacher_correct_) / n;
  r.student_top1 = 100.0 * static_cast<double>(student_correct_) / n;
  r.top1_drop = r.teacher_top1 - r.student_top1;
  // Per sample d = teacher right - student right, in {-1, 0, 1}: the mean's standard error.
  const double mean = r.top1_drop / 100.0;
  const double squares = static_cast<double>(only_teacher_ + only_student_) / n;
  r.top1_drop_se = 100.0 * std::sqrt(std::max(0.0, squares - mean * mean) / n);
}

}  // namespace pare::check
