// Splitting an op's work over the threads of ExecContext::pool. The helpers cut the work by
// sizes alone and every index writes its own outputs, so results do not depend on the
// thread count.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>

#include "runtime/thread_pool.h"

namespace pare::rt::ops {

// Runs fn(begin, end) over [0, n), on the pool when there is one. The chunking of the
// pool depends only on n and the thread count. No allocation: the pool receives a
// reference wrapper.
template <typename Fn>
void parallel_for(ThreadPool* pool, size_t n, const Fn& fn) {
  if (pool == nullptr || n < 2) {
    fn(size_t{0}, n);
    return;
  }
  pool->parallel_for(n, std::function<void(size_t, size_t)>(std::cref(fn)));
}

// Rows [0, rows) in whole MR-row units, split evenly among `workers` (so that two workers
// differ by at most one unit) and each share cut into blocks of at most `max_block` rows:
// calls fn(worker, r0, r1) for every block. Where the blocks fall does not change any
// output byte; it only keeps each block in cache and the threads evenly loaded.
template <typename Fn>
void for_each_block(ThreadPool* pool, size_t rows, size_t mr, size_t max_block, size_t workers,
                    const Fn& fn) {
  const size_t units = (rows + mr - 1) / mr, block_units = std::max<size_t>(1, max_block / mr);
  workers = std::max<size_t>(1, std::min(workers, units));
  parallel_for(pool, workers, [&](size_t w0, size_t w1) {
    for (size_t w = w0; w < w1; ++w) {
      const size_t u_end = units * (w + 1) / workers;
      for (size_t u = units * w / workers; u < u_end; u += block_units) {
        const size_t r0 = u * mr, r1 = std::min(rows, std::min(u_end, u + block_units) * mr);
        fn(w, r0, r1);
      }
    }
  });
}

// Below these many elements, waking the threads costs more than it saves:
// memory-bound ops (arithmetic, clamps) run at several elements per nanosecond,
// and a pool dispatch measured 0.7 us. A split
// also keeps each half of an Add on the core whose conv wrote it: MobileNetV2-224's
// 56x56x24 residual Add took 0.030 ms at two threads unsplit (one thread reading the
// other core's rows) and 0.014 ms split. Smaller tensors usually come from a node that
// ran on one core: split from 2^14, BERT-tiny's 16,384-element ops made it 4% slower at
// two threads, while MobileNetV2's smaller Adds gained 0.01 ms. The exp/erf ops (and
// Softmax) take 1-2.5 ns per element on an AVX2 EPYC, so 2^13 of them are 8-20 us of
// work: a ViT's Erf and Softmax nodes (25k and 10k elements) ran on one thread of two,
// and splitting them took the model 2.07 -> 1.99 ms at two threads.
constexpr size_t kEltwiseParallelMin = size_t{1} << 16;
constexpr size_t kTranscendentalParallelMin = size_t{1} << 13;
// Strided copies (Transpose, Slice) move about one element per nanosecond.
constexpr size_t kStridedCopyParallelMin = size_t{1} << 16;
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
  parallel_for(pool, blocks, run);
}

}  // namespace pare::rt::ops
