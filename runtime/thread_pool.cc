#include "runtime/thread_pool.h"

#include <algorithm>

namespace pare::rt {

namespace {
// Chunk `index` of `chunks` near-equal contiguous chunks of [0, n): the first n % chunks
// chunks get one extra index. Depends only on n and chunks.
void chunk_range(size_t n, size_t chunks, size_t index, size_t* begin, size_t* end) {
  const size_t base = n / chunks, extra = n % chunks;
  *begin = index * base + std::min(index, extra);
  *end = *begin + base + (index < extra ? 1 : 0);
}

// About 0.1-0.3 ms of polling before a thread blocks: long enough to bridge the serial
// ops between two parallel regions of one inference, short enough not to burn a core
// between inferences.
constexpr int kSpinIterations = 1 << 14;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}
}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(std::max(threads, 1)) {
  workers_.reserve(static_cast<size_t>(threads_ - 1));
  for (int i = 1; i < threads_; ++i) workers_.emplace_back(&ThreadPool::worker, this, i);
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  const size_t chunks = std::min(n, static_cast<size_t>(threads_));
  if (chunks == 1) {
    fn(0, n);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  pending_.store(threads_ - 1, std::memory_order_relaxed);
  {
    // Under the lock so that a worker about to sleep cannot miss the bump.
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  work_cv_.notify_all();

  // The calling thread takes chunk 0, worker i takes chunk i.
  size_t begin, end;
  chunk_range(n, chunks, 0, &begin, &end);
  fn(begin, end);

  for (int spin = 0; spin < kSpinIterations; ++spin) {
    if (pending_.load(std::memory_order_acquire) == 0) return;
    cpu_relax();
  }
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    bool ready = false;
    for (int spin = 0; spin < kSpinIterations && !ready; ++spin) {
      ready = generation_.load(std::memory_order_acquire) != seen ||
              stop_.load(std::memory_order_acquire);
      if (!ready) cpu_relax();
    }
    if (!ready) {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] {
        return stop_.load(std::memory_order_acquire) ||
               generation_.load(std::memory_order_acquire) != seen;
      });
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    const std::function<void(size_t, size_t)>* job = job_;
    const size_t n = job_n_;
    const size_t chunks = std::min(n, static_cast<size_t>(threads_));
    const size_t i = static_cast<size_t>(index);
    if (i < chunks) {
      size_t begin, end;
      chunk_range(n, chunks, i, &begin, &end);
      (*job)(begin, end);
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

}  // namespace pare::rt
