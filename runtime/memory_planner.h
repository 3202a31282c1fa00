// Plans one activation arena: tensors whose lifetimes do not overlap share memory.
// Used by the .pare writer (to store the plan) and by the loader (to check a stored plan).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/status.h"

namespace pare::rt {

constexpr size_t kArenaAlignment = 64;

struct BufferLifetime {
  size_t bytes = 0;
  int32_t first_use = 0;  // index of the step that writes it (-1: live from the start, e.g. inputs)
  int32_t last_use = 0;   // index of the last step that reads it (INT32_MAX: live to the end, e.g. outputs)
};

struct MemoryPlan {
  size_t arena_bytes = 0;
  std::vector<size_t> offsets;  // one per BufferLifetime, multiples of kArenaAlignment
};

// Pairs of buffers the greedy placement below may compare. Each buffer is compared with
// every one placed before it, which is quadratic: a file whose Split has 65,536 outputs took
// 6 s to plan, and the passes plan a cut of the graph per batch of layers they measure. Past
// the budget (some 50 ms; a model needs about 5,800 activations to reach it, the bundled and
// torchvision models have under 1,000) the remaining, smallest, buffers are stacked above the
// arena each at its own offset: still a valid plan, only larger.
constexpr size_t kGreedyPairBudget = size_t{1} << 24;

// Greedy by size (largest first), each at the lowest offset free during its lifetime;
// deterministic (ties by index).
MemoryPlan plan_memory(const std::vector<BufferLifetime>& buffers, size_t pair_budget = kGreedyPairBudget);

// Checks a plan: every buffer aligned and inside the arena, and no two buffers with
// overlapping lifetimes overlapping in memory.
Status check_memory_plan(const std::vector<BufferLifetime>& buffers, const MemoryPlan& plan);

}  // namespace pare::rt
