#include "runtime/thread_pool.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <utility>

namespace pare::rt {
namespace {

using Ranges = std::vector<std::pair<size_t, size_t>>;

Ranges record_chunks(ThreadPool& pool, size_t n) {
  std::mutex mu;
  Ranges ranges;
  pool.parallel_for(n, [&](size_t begin, size_t end) {
    std::lock_guard<std::mutex> lock(mu);
    ranges.emplace_back(begin, end);
  });
  std::sort(ranges.begin(), ranges.end());
  return ranges;
}

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 4, 7, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (size_t n : {0, 1, 2, 3, 5, 7, 8, 9, 16, 31, 100, 1000, 4097}) {
      std::vector<std::atomic<int>> hits(n);
      for (auto& h : hits) h = 0;
      pool.parallel_for(n, [&](size_t begin, size_t end) {
        ASSERT_LE(begin, end);
        ASSERT_LE(end, n);
        for (size_t i = begin; i < end; ++i) hits[i].fetch_add(1);
      });
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(hits[i].load(), 1) << "threads=" << threads << " n=" << n << " i=" << i;
    }
  }
}

TEST(ThreadPool, ChunksAreContiguousAndBalanced) {
  ThreadPool pool(4);
  // 10 over 4 threads: the first 10 % 4 = 2 chunks take one more index.
  EXPECT_EQ(record_chunks(pool, 10), (Ranges{{0, 3}, {3, 6}, {6, 8}, {8, 10}}));
  // Fewer indices than threads: one index per chunk, no empty calls.
  EXPECT_EQ(record_chunks(pool, 3), (Ranges{{0, 1}, {1, 2}, {2, 3}}));
  EXPECT_EQ(record_chunks(pool, 0), Ranges{});
  ThreadPool single(1);
  EXPECT_EQ(record_chunks(single, 10), (Ranges{{0, 10}}));
}

TEST(ThreadPool, ChunkingDependsOnlyOnSizeAndThreadCount) {
  for (int threads : {2, 3, 5}) {
    ThreadPool a(threads), b(threads);
    for (size_t n : {1, 4, 17, 250, 1001}) {
      const Ranges first = record_chunks(a, n);
      EXPECT_EQ(record_chunks(a, n), first);
      EXPECT_EQ(record_chunks(b, n), first);
      EXPECT_EQ(first.size(), std::min(n, static_cast<size_t>(threads)));
    }
  }
}

TEST(ThreadPool, CallerRunsTheFirstChunk) {
  ThreadPool pool(3);
  std::thread::id first_chunk_thread;
  pool.parallel_for(30, [&](size_t begin, size_t) {
    if (begin == 0) first_chunk_thread = std::this_thread::get_id();
  });
  EXPECT_EQ(first_chunk_thread, std::this_thread::get_id());
}

// With every thread of the process on one CPU, a worker runs only when the scheduler
// switches to it, so after chunk 0 the caller should nearly always find chunk 1 unclaimed and
// run it itself rather than wait for the worker's turn (a pool that assigns chunk 1 to the
// worker would wait every time). This is what keeps a job going while another process holds
// a worker's core.
TEST(ThreadPool, CallerRunsTheChunksOfAWorkerThatIsNotScheduled) {
  cpu_set_t saved;
  if (sched_getaffinity(0, sizeof(saved), &saved) != 0) GTEST_SKIP() << "sched_getaffinity failed";
  cpu_set_t one;
  CPU_ZERO(&one);
  int cpu = 0;
  while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &saved)) ++cpu;
  CPU_SET(cpu, &one);
  if (sched_setaffinity(0, sizeof(one), &one) != 0) GTEST_SKIP() << "sched_setaffinity failed";
  size_t by_caller = 0;
  constexpr int kJobs = 200;
  {
    ThreadPool pool(2);  // its worker inherits the one-CPU affinity
    const std::thread::id caller = std::this_thread::get_id();
    for (int job = 0; job < kJobs; ++job) {
      std::atomic<bool> second_by_caller{false};
      pool.parallel_for(2, [&](size_t begin, size_t) {
        if (begin == 1 && std::this_thread::get_id() == caller) second_by_caller = true;
      });
      by_caller += second_by_caller ? 1 : 0;
    }
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
  EXPECT_GT(by_caller, static_cast<size_t>(kJobs / 2));
}

// A worker that finds itself on the caller's CPU moves to another one by narrowing its
// affinity for a moment: it must always get the whole mask back, never stay pinned.
TEST(ThreadPool, WorkersKeepTheAffinityTheyStartedWith) {
  cpu_set_t process;
  if (sched_getaffinity(0, sizeof(process), &process) != 0) GTEST_SKIP() << "sched_getaffinity failed";
  if (CPU_COUNT(&process) < 2) GTEST_SKIP() << "one CPU allowed: workers have nowhere to move";
  std::atomic<size_t> checked{0}, narrowed{0};
  {
    ThreadPool pool(3);
    const std::thread::id caller = std::this_thread::get_id();
    for (int job = 0; job < 300; ++job) {
      std::atomic<bool> worker_ran{false};
      pool.parallel_for(3, [&](size_t begin, size_t) {
        if (std::this_thread::get_id() == caller) {
          // Gives a worker up to 5 ms to take a chunk: on a loaded machine the caller
          // would otherwise run all three before a worker wakes.
          const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
          while (begin == 0 && !worker_ran && std::chrono::steady_clock::now() < until) std::this_thread::yield();
          return;
        }
        worker_ran = true;
        cpu_set_t now;
        ASSERT_EQ(sched_getaffinity(0, sizeof(now), &now), 0);
        ++checked;
        if (!CPU_EQUAL(&now, &process)) ++narrowed;
      });
    }
  }
  EXPECT_GT(checked.load(), 0u);
  EXPECT_EQ(narrowed.load(), 0u);
}

TEST(ThreadPool, ManyJobsInARowAndSafeDestruction) {
  ThreadPool pool(4);
  std::atomic<size_t> total{0};
  for (int job = 0; job < 2000; ++job)
    pool.parallel_for(37, [&](size_t begin, size_t end) { total += end - begin; });
  EXPECT_EQ(total.load(), 2000u * 37u);
  // Pools destroyed with and without ever running a job.
  for (int i = 0; i < 50; ++i) {
    auto p = std::make_unique<ThreadPool>(1 + i % 5);
    if (i % 2) p->parallel_for(5, [](size_t, size_t) {});
  }
}

}  // namespace
}  // namespace pare::rt
