// One-dimensional weighted k-means for weight clustering (passes/cluster.cc): the values of a
// row or tensor replaced by at most k centroids, minimising sum_i w_i (x_i - c(x_i))^2.
#pragma once

#include <cstdint>
#include <vector>

namespace pare::passes {

enum class KmeansInit {
  kPlusPlus,  // k-means++: each next centroid drawn with probability ~ w_i * distance^2
  kLinear,    // evenly spaced between the smallest and the largest value
};

struct KmeansOptions {
  int k = 16;
  KmeansInit init = KmeansInit::kPlusPlus;
  uint64_t seed = 0;       // k-means++ draws; the same seed gives the same centroids everywhere
  bool keep_zero = false;  // exact zeros stay 0.0f (one of the k entries); the rest share k - 1
  int max_iterations = 100;
};

// `values` replaced in place by their nearest centroid (float): at most k distinct values (the
// zeros of keep_zero are +0.0f). `weights` (empty: all 1) are the importance of each value,
// >= 0. Values that already take at most k distinct values stay unchanged. Returns the
// number of distinct values after.
int kmeans_1d(std::vector<float>& values, const std::vector<float>& weights, const KmeansOptions& options);

// A value in [0, 1) from the next 53 bits of a splitmix64 state: the same on every machine
// (std::uniform_real_distribution is not).
double next_unit(uint64_t& state);

}  // namespace pare::passes
