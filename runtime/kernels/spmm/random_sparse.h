// Random sparse matrices in each stored format, with the storage their SparseView points
// into, and random data: for the spmm test and bench.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "runtime/types.h"

namespace pare::rt::kernels::spmm_testing {

// Uniform in [-1, 1), reproducible from the seed.
inline std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

enum class Pattern { kRows1, kRows4, kTwoOfFour };

inline const char* pattern_name(Pattern p) {
  return p == Pattern::kRows1 ? "rows1" : p == Pattern::kRows4 ? "rows4" : "2:4";
}

// A sparse matrix [rows, cols] and the storage its view points into.
struct SparseMatrix {
  std::vector<float> dense;
  std::vector<uint32_t> block_starts;
  std::vector<uint16_t> columns;
  std::vector<uint8_t> positions;
  std::vector<float> values;
  SparseView view;
};

// Zeroes about `sparsity` of the elements (of whole blocks of 4 rows for kRows4; 2 of every 4
// columns for 2:4, whatever `sparsity`) and stores the rest in the view's layout.
inline SparseMatrix make_sparse(Pattern pattern, int64_t rows, int64_t cols, double sparsity, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> value(-1.f, 1.f);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  SparseMatrix s;
  s.dense.assign(static_cast<size_t>(rows * cols), 0.f);
  SparseView& v = s.view;
  v.rows = rows;
  v.cols = cols;
  if (pattern == Pattern::kTwoOfFour) {
    v.format = SparseFormat::kTwoOfFour;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < cols / 4; ++g) {
        const int first = static_cast<int>(gen() % 3), second = first + 1 + static_cast<int>(gen() % (3 - first));
        s.positions.push_back(static_cast<uint8_t>(first | (second << 2)));
        for (int c : {first, second}) {
          const float x = value(gen);
          s.values.push_back(x);
          s.dense[static_cast<size_t>(r * cols + 4 * g + c)] = x;
        }
      }
    v.positions = s.positions.data();
    v.values = s.values.data();
    return s;
  }
  const int64_t br = pattern == Pattern::kRows4 ? 4 : 1;
  v.block_rows = static_cast<int32_t>(br);
  s.block_starts.push_back(0);
  for (int64_t b = 0; b < rows / br; ++b) {
    for (int64_t c = 0; c < cols; ++c) {
      if (keep(gen) < sparsity) continue;
      s.columns.push_back(static_cast<uint16_t>(c));
      for (int64_t r = 0; r < br; ++r) {
        // Some stored values are zero, as a block stores its rows' zeros.
        const float x = gen() % 8 == 0 ? 0.f : value(gen);
        s.values.push_back(x);
        s.dense[static_cast<size_t>((b * br + r) * cols + c)] = x;
      }
    }
    s.block_starts.push_back(static_cast<uint32_t>(s.columns.size()));
  }
  v.entries = static_cast<int64_t>(s.columns.size());
  v.block_starts = s.block_starts.data();
  v.columns = s.columns.data();
  v.column_bytes = 2;
  v.values = s.values.data();
  return s;
}

}  // namespace pare::rt::kernels::spmm_testing
