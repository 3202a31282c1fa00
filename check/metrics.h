// The numbers `pare check` reports, over plain float vectors: error sums of a tensor
// against its reference (SNR, cosine), and the logit metrics (top-1, KL of the softmax).
#pragma once

#include <cstddef>
#include <cstdint>

#include "check/check_result.h"

namespace pare::check {

// SNRs are capped to +-kSnrCapDb: equal tensors (no noise) report kSnrCapDb, and JSON has
// no infinity. float32 rounding alone stays far below it (~140 dB).
constexpr double kSnrCapDb = 200;

// 10 log10(signal / noise), capped to [-kSnrCapDb, kSnrCapDb].
double snr_db(double signal, double noise);

// Cosine of two vectors: 1 when both are zero, 0 when only one is.
double cosine(const float* a, const float* b, size_t n);

// Index of the largest value (the first of equal ones).
size_t argmax(const float* v, size_t n);

// KL(p || q) in nats of p = softmax(teacher / temperature), q = softmax(student / temperature).
double softmax_kl(const float* teacher, const float* student, size_t n, double temperature);

// A student tensor against the teacher's over many samples: SNR over all the samples'
// elements together, cosine as the mean of the per-sample cosines.
class ErrorSums {
 public:
  void add(const float* teacher, const float* student, size_t n);
  void merge(const ErrorSums& other);
  double snr_db() const;
  double cosine() const;  // 0 before any sample

 private:
  double signal_ = 0, noise_ = 0, cosine_sum_ = 0;
  int64_t samples_ = 0;
};

// The whole-model metrics over many samples: top-1 (with labels), agreement, KL, cosine and
// SNR of the outputs, and the standard errors of the first three.
class OutputStats {
 public:
  // `label` < 0: no label.
  void add(const float* teacher, const float* student, size_t n, double temperature, int64_t label);
  // Fills r's whole-model metrics and standard errors (has_labels decides the top-1 ones).
  void finish(CheckResult& r) const;
  // Adds another's samples (the sums of two halves of the data).
  void merge(const OutputStats& other);
  int64_t samples() const { return samples_; }

 private:
  ErrorSums sums_;
  int64_t samples_ = 0, agree_ = 0, teacher_correct_ = 0, student_correct_ = 0;
  int64_t only_teacher_ = 0, only_student_ = 0;  // samples only one of the two gets right
  double kl_sum_ = 0, kl_squares_ = 0;
};

}  // namespace pare::check
