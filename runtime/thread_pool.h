// A small fixed pool of worker threads. parallel_for splits [0, n) into contiguous
// chunks whose boundaries depend only on n and the thread count, so a kernel that
// writes disjoint outputs per index gives identical results for every thread count.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pare::rt {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads >= 1; the calling thread is one of them
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  // Calls fn(begin, end) on disjoint ranges covering [0, n); returns when all are done.
  void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn);

 private:
  void worker(int index);

  int threads_;
  std::vector<std::thread> workers_;
  // Dispatch: job_ and job_n_ are written before generation_ is bumped (release) and read
  // after it is seen (acquire). Workers and the caller spin briefly before sleeping on the
  // condition variables, because a model runs many short parallel regions back to back and
  // a futex wake-up costs more than most of them.
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  const std::function<void(size_t, size_t)>* job_ = nullptr;
  size_t job_n_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace pare::rt
