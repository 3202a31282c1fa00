#include "runtime/memory_planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <random>

namespace pare::rt {
namespace {

BufferLifetime buf(size_t bytes, int32_t first, int32_t last) {
  BufferLifetime b;
  b.bytes = bytes;
  b.first_use = first;
  b.last_use = last;
  return b;
}

TEST(MemoryPlanner, EmptyPlan) {
  MemoryPlan plan = plan_memory({});
  EXPECT_EQ(plan.arena_bytes, 0u);
  EXPECT_TRUE(plan.offsets.empty());
  EXPECT_TRUE(check_memory_plan({}, plan).is_ok());
}

TEST(MemoryPlanner, DisjointLifetimesShareMemory) {
  std::vector<BufferLifetime> b = {buf(100, 0, 1), buf(100, 2, 3)};
  MemoryPlan plan = plan_memory(b);
  EXPECT_EQ(plan.offsets, (std::vector<size_t>{0, 0}));
  EXPECT_EQ(plan.arena_bytes, 128u);  // 100 rounded up to the alignment
  EXPECT_TRUE(check_memory_plan(b, plan).is_ok());
}

TEST(MemoryPlanner, OverlappingLifetimesDoNotShare) {
  // A step that reads one buffer and writes the other makes them overlap.
  std::vector<BufferLifetime> b = {buf(100, 0, 2), buf(100, 2, 3)};
  MemoryPlan plan = plan_memory(b);
  EXPECT_EQ(plan.offsets, (std::vector<size_t>{0, 128}));
  EXPECT_EQ(plan.arena_bytes, 256u);
  EXPECT_TRUE(check_memory_plan(b, plan).is_ok());
}

TEST(MemoryPlanner, LargestFirstThenLowestOffset) {
  // Placement order by size: b1 (200), b2 (100), b0 (64).
  // b1 -> 0; b2 overlaps b1 at step 2 -> 256; b0 overlaps b1 at step 1, not b2 -> 256.
  std::vector<BufferLifetime> b = {buf(64, 0, 1), buf(200, 1, 2), buf(100, 2, 3)};
  MemoryPlan plan = plan_memory(b);
  EXPECT_EQ(plan.offsets, (std::vector<size_t>{256, 0, 256}));
  EXPECT_EQ(plan.arena_bytes, 384u);  // 356 rounded up
  EXPECT_TRUE(check_memory_plan(b, plan).is_ok());
}

TEST(MemoryPlanner, FillsGapBelowLiveBuffer) {
  // Equal sizes are placed by index: a -> 0, b -> 64, c -> 128. d is live only with b,
  // so it fits in the gap below b, at 0.
  std::vector<BufferLifetime> b = {buf(64, 0, 0), buf(64, 0, 5), buf(64, 0, 0), buf(64, 1, 1)};
  MemoryPlan plan = plan_memory(b);
  EXPECT_EQ(plan.offsets, (std::vector<size_t>{0, 64, 128, 0}));
  EXPECT_EQ(plan.arena_bytes, 192u);
  EXPECT_TRUE(check_memory_plan(b, plan).is_ok());
}

TEST(MemoryPlanner, OffsetsAreAligned) {
  std::vector<BufferLifetime> b = {buf(1, -1, INT32_MAX), buf(1, -1, INT32_MAX), buf(65, 0, 0)};
  MemoryPlan plan = plan_memory(b);
  // Largest first: the 65-byte buffer at 0, then the 1-byte ones at 128 and 192.
  EXPECT_EQ(plan.offsets, (std::vector<size_t>{128, 192, 0}));
  EXPECT_EQ(plan.arena_bytes, 256u);
  for (size_t off : plan.offsets) EXPECT_EQ(off % kArenaAlignment, 0u);
}

TEST(MemoryPlanner, ZeroByteBuffersTakeNoSpace) {
  std::vector<BufferLifetime> b = {buf(0, 0, 3), buf(64, 0, 3), buf(0, 1, 2)};
  MemoryPlan plan = plan_memory(b);
  EXPECT_EQ(plan.offsets, (std::vector<size_t>{0, 0, 0}));
  EXPECT_EQ(plan.arena_bytes, 64u);
  EXPECT_TRUE(check_memory_plan(b, plan).is_ok());
}

TEST(MemoryPlanner, CheckRejectsOverlappingLiveBuffers) {
  std::vector<BufferLifetime> b = {buf(100, 0, 2), buf(100, 1, 3)};
  MemoryPlan plan;
  plan.arena_bytes = 256;
  plan.offsets = {0, 64};  // [0,100) and [64,164) overlap while both are live
  Status st = check_memory_plan(b, plan);
  EXPECT_EQ(st.code(), Status::kBadModel);
  EXPECT_NE(st.message().find("buffers 0 and 1"), std::string::npos) << st.message();

  plan.offsets = {128, 0};  // [128,228) and [0,100): disjoint
  EXPECT_TRUE(check_memory_plan(b, plan).is_ok());

  // The same overlap is fine when the lifetimes are disjoint.
  std::vector<BufferLifetime> disjoint = {buf(100, 0, 1), buf(100, 2, 3)};
  plan.offsets = {0, 64};
  EXPECT_TRUE(check_memory_plan(disjoint, plan).is_ok());
}

TEST(MemoryPlanner, CheckRejectsOutOfArenaAndMisaligned) {
  std::vector<BufferLifetime> b = {buf(100, 0, 1)};
  MemoryPlan plan;
  plan.arena_bytes = 128;
  plan.offsets = {64};  // ends at 164 > 128
  EXPECT_EQ(check_memory_plan(b, plan).code(), Status::kBadModel);
  plan.offsets = {SIZE_MAX - 63};  // aligned, and offset + bytes would wrap around
  EXPECT_EQ(check_memory_plan(b, plan).code(), Status::kBadModel);
  plan.offsets = {32};  // inside, but not aligned
  plan.arena_bytes = 256;
  EXPECT_EQ(check_memory_plan(b, plan).code(), Status::kBadModel);
  plan.offsets = {};  // wrong count
  EXPECT_EQ(check_memory_plan(b, plan).code(), Status::kBadModel);
  plan.offsets = {128};
  EXPECT_TRUE(check_memory_plan(b, plan).is_ok());
}

TEST(MemoryPlanner, RandomPlansAreValidAndDeterministic) {
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 300; ++iter) {
    const int n = std::uniform_int_distribution<int>(1, 60)(rng);
    const int steps = std::uniform_int_distribution<int>(1, 30)(rng);
    std::vector<BufferLifetime> b;
    for (int i = 0; i < n; ++i) {
      const int32_t first = std::uniform_int_distribution<int32_t>(-1, steps - 1)(rng);
      int32_t last = std::uniform_int_distribution<int32_t>(std::max(first, 0), steps)(rng);
      if (std::uniform_int_distribution<int>(0, 9)(rng) == 0) last = INT32_MAX;
      const size_t bytes = std::uniform_int_distribution<size_t>(0, 5000)(rng);
      b.push_back(buf(bytes, first, last));
    }
    // Small pair budgets stack the last buffers instead of fitting them: still valid plans.
    const size_t budget = iter % 3 == 0 ? kGreedyPairBudget : iter % 3 == 1 ? 0 : static_cast<size_t>(n) * 4;
    const MemoryPlan plan = plan_memory(b, budget);
    ASSERT_TRUE(check_memory_plan(b, plan).is_ok()) << check_memory_plan(b, plan).message();

    // Never below what is live at once, never above no sharing at all.
    size_t max_live = 0, unshared = 0;
    for (int32_t t = -1; t <= steps; ++t) {
      size_t live = 0;
      for (const BufferLifetime& x : b)
        if (x.first_use <= t && t <= x.last_use) live += x.bytes;
      max_live = std::max(max_live, live);
    }
    for (const BufferLifetime& x : b) unshared += (x.bytes + 63) / 64 * 64;
    EXPECT_GE(plan.arena_bytes, max_live);
    EXPECT_LE(plan.arena_bytes, unshared);
    EXPECT_EQ(plan.arena_bytes % kArenaAlignment, 0u);

    const MemoryPlan again = plan_memory(b, budget);
    EXPECT_EQ(again.offsets, plan.offsets);
    EXPECT_EQ(again.arena_bytes, plan.arena_bytes);
  }
}


// Past the pair budget the remaining buffers go above everything placed, in size order; below
// it the plan is the greedy one.
TEST(MemoryPlanner, PairBudgetStacksTheRest) {
  // Disjoint lifetimes: the greedy plan puts all four at offset 0.
  const std::vector<BufferLifetime> b = {buf(640, 0, 0), buf(320, 1, 1), buf(192, 2, 2), buf(64, 3, 3)};
  const MemoryPlan greedy = plan_memory(b, 6);  // 0 + 1 + 2 + 3 pairs
  EXPECT_EQ(greedy.offsets, (std::vector<size_t>{0, 0, 0, 0}));
  EXPECT_EQ(greedy.arena_bytes, 640u);
  const MemoryPlan stacked = plan_memory(b, 1);  // the third buffer would compare 2 pairs more
  EXPECT_EQ(stacked.offsets, (std::vector<size_t>{0, 0, 640, 832}));
  EXPECT_EQ(stacked.arena_bytes, 896u);
  EXPECT_TRUE(check_memory_plan(b, stacked).is_ok());
}

}  // namespace
}  // namespace pare::rt
