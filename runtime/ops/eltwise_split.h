// Splitting elementwise work over the threads of ExecContext::pool.
#pragma once

#include <algorithm>
#include <cstddef>

#include "runtime/ops/nn_util.h"

namespace pare::rt::ops {

// Below these many elements, waking the threads (tens of microseconds on a busy
// machine) costs more than it saves: memory-bound ops (arithmetic, clamps) run
// at several elements per nanosecond, the exp/erf ones at about one.
constexpr size_t kEltwiseParallelMin = size_t{1} << 18;
constexpr size_t kTranscendentalParallelMin = size_t{1} << 16;
// Elements per work item: items are contiguous and their bounds depend only on
// n, so every element is computed by the same code whatever the thread count.
constexpr size_t kEltwiseBlock = 4096;

// Calls fn(begin, end) over [0, n) in blocks of kEltwiseBlock, on the pool when
// n is at least parallel_min.
template <typename F>
void split_elements(ThreadPool* pool, size_t n, size_t parallel_min, const F& fn) {
  if (n < parallel_min) {
    fn(size_t{0}, n);
    return;
  }
  const size_t blocks = (n + kEltwiseBlock - 1) / kEltwiseBlock;
  const auto run = [&fn, n](size_t b, size_t e) {
    fn(b * kEltwiseBlock, std::min(e * kEltwiseBlock, n));
  };
  nn::parallel_for(pool, blocks, run);
}

}  // namespace pare::rt::ops
