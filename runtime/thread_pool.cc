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
}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(std::max(threads, 1)) {
  workers_.reserve(static_cast<size_t>(threads_ - 1));
  for (int i = 1; i < threads_; ++i) workers_.emplace_back(&ThreadPool::worker, this, i);
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_n_ = n;
    pending_ = threads_ - 1;
    ++generation_;
  }
  work_cv_.notify_all();

  // The calling thread takes chunk 0, worker i takes chunk i.
  size_t begin, end;
  chunk_range(n, chunks, 0, &begin, &end);
  fn(begin, end);

  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [this] { return pending_ == 0; });
  job_ = nullptr;
}

void ThreadPool::worker(int index) {
  size_t seen = 0;
  for (;;) {
    const std::function<void(size_t, size_t)>* job;
    size_t n;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
      n = job_n_;
    }
    const size_t chunks = std::min(n, static_cast<size_t>(threads_));
    const size_t i = static_cast<size_t>(index);
    if (i < chunks) {
      size_t begin, end;
      chunk_range(n, chunks, i, &begin, &end);
      (*job)(begin, end);
    }
    bool last;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last = --pending_ == 0;
    }
    if (last) done_cv_.notify_one();
  }
}

}  // namespace pare::rt
