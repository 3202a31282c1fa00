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
  static constexpr int kMaxThreads = 1024;
  // threads is clamped to [1, kMaxThreads]; the calling thread is one of them.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  // Calls fn(begin, end) on disjoint ranges covering [0, n); returns when all are done.
  void parallel_for(size_t n, const std::function<void(size_t, size_t)>& fn);

 private:
  // index: 1 .. threads - 1.
  void worker(int index);
  // Claims chunks of generation `gen` until none is left, running each.
  void run_chunks(uint64_t gen);

  int threads_;
  // The CPU the caller of the last parallel_for (at first: the creator) ran on, -1 where
  // unknown. A worker that finds itself there moves (see step_aside in thread_pool.cc).
  std::atomic<int> caller_cpu_{-1};
  std::vector<std::thread> workers_;
  // Dispatch. The caller runs chunk 0; the other chunks are claimed, not assigned: workers
  // and then the caller take the next unclaimed chunk until none is left, so a worker that
  // the OS has not scheduled (another process on its core) does not hold the job up; the
  // caller runs that chunk instead. Which thread runs a chunk never changes its bounds, so
  // results do not depend on it. claim_ packs (generation << 32 | chunks << 16 | next chunk): a claim is a
  // compare-and-swap that fails once the generation has moved on, so a late worker never
  // runs a chunk of a finished job. job_ and job_n_ are written before claim_ opens the
  // generation (release) and read after a successful claim (acquire). The caller returns
  // when done_ reaches the number of chunks. Workers and the caller spin briefly before
  // sleeping on the condition variables, because a model runs many short parallel regions
  // back to back and a futex wake-up costs more than most of them.
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::atomic<const std::function<void(size_t, size_t)>*> job_{nullptr};
  std::atomic<size_t> job_n_{0};
  std::atomic<uint64_t> claim_{0};
  std::atomic<size_t> done_{0};
  std::atomic<uint64_t> generation_{0};  // bumped per job: wakes the workers
  std::atomic<bool> stop_{false};
};

}  // namespace pare::rt
