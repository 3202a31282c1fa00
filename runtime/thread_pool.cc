#include "runtime/thread_pool.h"

#include <algorithm>

#if defined(__linux__)
#include <sched.h>
#endif

namespace pare::rt {

namespace {
// Chunk `index` of `chunks` near-equal contiguous chunks of [0, n): the first n % chunks
// chunks get one extra index. Depends only on n and chunks.
void chunk_range(size_t n, size_t chunks, size_t index, size_t* begin, size_t* end) {
  const size_t base = n / chunks, extra = n % chunks;
  *begin = index * base + std::min(index, extra);
  *end = *begin + base + (index < extra ? 1 : 0);
}

// Polling before a thread blocks (16,384 pauses: 0.45 ms on an AVX2 EPYC, where a pause
// takes 28 ns): long enough to bridge the serial ops between two parallel regions of one
// inference, short enough not to burn a core between inferences.
constexpr int kSpinIterations = 1 << 14;
// Past the first part of the polling, a thread yields its CPU now and then. Where another
// process shares the core, it then runs while this thread has nothing to do instead of
// preempting it in the middle of a chunk, where the other threads would wait for it: with
// a busy loop on one of two cores, the trained CNN at two threads went from 1.54 to 1.31 ms
// and the int8 ViT from 6.0 to 3.7 ms. On a quiet machine the medians did not move.
constexpr int kSpinBeforeYield = 1 << 11;

// claim_'s value: a generation's low 32 bits, its chunk count (< 2^16: chunks <= threads)
// and the next unclaimed chunk.
constexpr uint64_t claim_state(uint64_t gen, size_t chunks, size_t next) {
  return (gen & 0xFFFFFFFF) << 32 | uint64_t{chunks} << 16 | next;
}

int current_cpu() {
#if defined(__linux__)
  return sched_getcpu();
#else
  return -1;
#endif
}

// Moves the calling thread (worker `index`) to an allowed CPU other than `cpu`. Linux
// places a new thread, and often a woken one, on the CPU of the thread that started or woke
// it, and moves it only when a balancing pass comes round: tens of milliseconds later on a
// 2-core VM (traces showed both on one CPU for up to ~40 ms after the pool started). Until
// then the worker and the caller share one core while another idles, the caller runs every
// chunk, and inferences at two threads run at the one-thread speed: of 40 benchmark runs
// of 50 inferences of the trained MLP, 25 took 0.073 ms instead of 0.043; with this, 16.
// Restricting the thread to one other CPU moves it at once; the original mask is then
// restored, so this places the thread and never pins it.
void step_aside(int cpu, int index) {
#if defined(__linux__)
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (cpu < 0 || sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return;
  int others = 0;
  for (int c = 0; c < CPU_SETSIZE; ++c) others += c != cpu && CPU_ISSET(c, &allowed);
  if (others == 0) return;
  int pick = (index - 1) % others;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (c == cpu || !CPU_ISSET(c, &allowed) || pick-- != 0) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(c, &one);
    if (sched_setaffinity(0, sizeof(one), &one) == 0) sched_setaffinity(0, sizeof(allowed), &allowed);
    return;
  }
#else
  (void)cpu;
  (void)index;
#endif
}

// A worker steps aside at most once per this many jobs: where the other CPUs are taken
// (another process, a cgroup quota) the scheduler may put it back each time, and the two
// system calls should not run per parallel region.
constexpr uint64_t kJobsBetweenSteps = 1024;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}
}  // namespace

ThreadPool::ThreadPool(int threads) : threads_(std::clamp(threads, 1, kMaxThreads)) {
  caller_cpu_.store(current_cpu(), std::memory_order_relaxed);
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
  const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
  caller_cpu_.store(current_cpu(), std::memory_order_relaxed);
  job_.store(&fn, std::memory_order_relaxed);
  job_n_.store(n, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  claim_.store(claim_state(gen, chunks, 1), std::memory_order_release);  // chunk 0 is the caller's
  {
    // Under the lock so that a worker about to sleep cannot miss the bump.
    std::lock_guard<std::mutex> lock(mu_);
    generation_.store(gen, std::memory_order_release);
  }
  work_cv_.notify_all();

  // The caller runs chunk 0 (each thread keeps its share of consecutive ops, and their data
  // in its cache), then any chunk that no worker has claimed by then.
  size_t begin, end;
  chunk_range(n, chunks, 0, &begin, &end);
  fn(begin, end);
  done_.fetch_add(1, std::memory_order_acq_rel);
  run_chunks(gen);

  for (int spin = 0; spin < kSpinIterations; ++spin) {
    if (done_.load(std::memory_order_acquire) == chunks) return;
    cpu_relax();
    if (spin >= kSpinBeforeYield && spin % 256 == 255) std::this_thread::yield();
  }
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return done_.load(std::memory_order_acquire) == chunks; });
}

void ThreadPool::run_chunks(uint64_t gen) {
  uint64_t state = claim_.load(std::memory_order_acquire);
  for (;;) {
    const auto chunks = static_cast<size_t>((state >> 16) & 0xFFFF), next = static_cast<size_t>(state & 0xFFFF);
    if ((state >> 32) != (gen & 0xFFFFFFFF) || next >= chunks) return;
    if (!claim_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel, std::memory_order_acquire))
      continue;  // state now holds the current value
    size_t begin, end;
    chunk_range(job_n_.load(std::memory_order_relaxed), chunks, next, &begin, &end);
    (*job_.load(std::memory_order_relaxed))(begin, end);
    if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
    state = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0, last_step = 0;
  bool stepped = false;
  for (;;) {
    bool ready = false;
    for (int spin = 0; spin < kSpinIterations && !ready; ++spin) {
      ready = generation_.load(std::memory_order_acquire) != seen ||
              stop_.load(std::memory_order_acquire);
      if (ready) break;
      cpu_relax();
      if (spin >= kSpinBeforeYield && spin % 256 == 255) std::this_thread::yield();
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
    if (!stepped || seen - last_step >= kJobsBetweenSteps) {
      const int cpu = current_cpu();
      if (cpu == caller_cpu_.load(std::memory_order_relaxed)) {
        step_aside(cpu, index);
        stepped = true;
        last_step = seen;
      }
    }
    run_chunks(seen);
  }
}

}  // namespace pare::rt
