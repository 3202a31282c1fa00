// Lloyd's algorithm in one dimension on the sorted distinct values: with the centroids
// sorted, each cluster is the run of values between the midpoints of neighbouring centroids,
// so an iteration is k binary searches and prefix-sum differences, O(k log n).
//
// Built with -ffp-contract=off (passes/CMakeLists.txt): no fused multiply-adds, so that the
// centroids are bit-identical on every machine for a given seed.
#include "passes/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pare::passes {

double next_unit(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

namespace {

// The distinct values, ascending, with their summed weights and prefix sums of w and w x.
struct Points {
  std::vector<double> x, w;
  std::vector<double> sum_w, sum_wx;  // [n + 1]
};

Points distinct_points(const std::vector<float>& values, const std::vector<float>& weights, bool skip_zero) {
  std::vector<std::pair<float, float>> p;
  p.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    if (!(skip_zero && values[i] == 0.f)) p.emplace_back(values[i], weights.empty() ? 1.f : weights[i]);
  std::sort(p.begin(), p.end());
  Points pts;
  for (const auto& [x, w] : p) {
    if (!pts.x.empty() && pts.x.back() == x) {
      pts.w.back() += w;
    } else {
      pts.x.push_back(x);
      pts.w.push_back(w);
    }
  }
  pts.sum_w.assign(pts.x.size() + 1, 0.0);
  pts.sum_wx.assign(pts.x.size() + 1, 0.0);
  for (size_t i = 0; i < pts.x.size(); ++i) {
    pts.sum_w[i + 1] = pts.sum_w[i] + pts.w[i];
    pts.sum_wx[i + 1] = pts.sum_wx[i] + pts.w[i] * pts.x[i];
  }
  return pts;
}

std::vector<double> linear_init(const Points& p, int k) {
  std::vector<double> c(static_cast<size_t>(k));
  const double lo = p.x.front(), hi = p.x.back();
  for (int j = 0; j < k; ++j) c[static_cast<size_t>(j)] = lo + (hi - lo) * (j + 0.5) / k;
  return c;
}

// k-means++ over the distinct values (weight w_i); with all weights zero, uniform.
std::vector<double> plus_plus_init(const Points& p, int k, uint64_t seed) {
  const size_t n = p.x.size();
  const bool weighted = p.sum_w[n] > 0;
  uint64_t state = seed;
  auto draw = [&](const std::vector<double>& mass) {
    double total = 0;
    for (double m : mass) total += m;
    if (!(total > 0)) return n;
    const double target = next_unit(state) * total;
    double run = 0;
    for (size_t i = 0; i < n; ++i) {
      run += mass[i];
      if (run > target && mass[i] > 0) return i;
    }
    for (size_t i = n; i-- > 0;)
      if (mass[i] > 0) return i;
    return n;
  };
  std::vector<double> mass(n);
  for (size_t i = 0; i < n; ++i) mass[i] = weighted ? p.w[i] : 1.0;
  std::vector<double> c;
  std::vector<double> d2(n, std::numeric_limits<double>::infinity());
  size_t pick = draw(mass);
  while (pick < n && c.size() < static_cast<size_t>(k)) {
    c.push_back(p.x[pick]);
    for (size_t i = 0; i < n; ++i) {
      const double d = p.x[i] - p.x[pick];
      d2[i] = std::min(d2[i], d * d);
      mass[i] = (weighted ? p.w[i] : 1.0) * d2[i];
    }
    pick = draw(mass);
  }
  std::sort(c.begin(), c.end());
  return c;
}

// Index of the first point of each cluster (and n at the end) under sorted centroids `c`.
std::vector<size_t> boundaries(const Points& p, const std::vector<double>& c) {
  std::vector<size_t> b(c.size() + 1, 0);
  b.back() = p.x.size();
  for (size_t j = 1; j < c.size(); ++j) {
    const double mid = 0.5 * (c[j - 1] + c[j]);
    b[j] = static_cast<size_t>(std::lower_bound(p.x.begin(), p.x.end(), mid) - p.x.begin());
  }
  return b;
}

// Lloyd's iterations; returns the sorted centroids, empty clusters dropped.
std::vector<double> lloyd(const Points& p, std::vector<double> c, int max_iterations) {
  std::vector<size_t> b = boundaries(p, c);
  for (int it = 0; it < max_iterations; ++it) {
    for (size_t j = 0; j < c.size(); ++j) {
      const double w = p.sum_w[b[j + 1]] - p.sum_w[b[j]];
      if (w > 0) c[j] = (p.sum_wx[b[j + 1]] - p.sum_wx[b[j]]) / w;
      else if (b[j + 1] > b[j]) c[j] = 0.5 * (p.x[b[j]] + p.x[b[j + 1] - 1]);  // weightless run: its middle
    }
    std::sort(c.begin(), c.end());
    std::vector<size_t> next = boundaries(p, c);
    if (next == b) break;
    b = std::move(next);
  }
  std::vector<double> kept;
  for (size_t j = 0; j < c.size(); ++j)
    if (b[j + 1] > b[j]) kept.push_back(c[j]);
  return kept;
}

}  // namespace

int kmeans_1d(std::vector<float>& values, const std::vector<float>& weights, const KmeansOptions& o) {
  const bool has_zero = o.keep_zero && std::find(values.begin(), values.end(), 0.f) != values.end();
  const Points p = distinct_points(values, weights, has_zero);
  const int k = o.k - (has_zero ? 1 : 0);
  if (p.x.size() <= static_cast<size_t>(k)) {
    for (float& v : values)
      if (v == 0.f) v = 0.f;  // -0.0f too: one zero entry
    return static_cast<int>(p.x.size()) + (has_zero ? 1 : 0);
  }
  std::vector<double> c = o.init == KmeansInit::kLinear ? linear_init(p, k) : plus_plus_init(p, k, o.seed);
  c = lloyd(p, std::move(c), o.max_iterations);
  std::vector<float> centroid(c.size());
  for (size_t j = 0; j < c.size(); ++j) centroid[j] = static_cast<float>(c[j]);
  for (float& v : values) {
    if (has_zero && v == 0.f) {
      v = 0.f;
      continue;
    }
    // The nearest centroid (ties: the lower), as the clusters' midpoints split them.
    size_t j = static_cast<size_t>(std::lower_bound(c.begin(), c.end(), static_cast<double>(v)) - c.begin());
    if (j == c.size() || (j > 0 && static_cast<double>(v) - c[j - 1] <= c[j] - static_cast<double>(v))) --j;
    v = centroid[j] == 0.f ? 0.f : centroid[j];
  }
  std::vector<float> distinct = values;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  return static_cast<int>(distinct.size());
}

}  // namespace pare::passes
