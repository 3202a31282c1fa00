#include "runtime/memory_planner.h"

#include <algorithm>
#include <numeric>
#include <string>

namespace pare::rt {

namespace {

size_t align_up(size_t v) { return (v + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

bool lifetimes_overlap(const BufferLifetime& a, const BufferLifetime& b) {
  return a.first_use <= b.last_use && b.first_use <= a.last_use;
}


}  // namespace

MemoryPlan plan_memory(const std::vector<BufferLifetime>& buffers, size_t pair_budget) {
  MemoryPlan plan;
  plan.offsets.assign(buffers.size(), 0);

  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return buffers[a].bytes > buffers[b].bytes; });

  std::vector<size_t> placed;  // indices, kept sorted by offset
  std::vector<size_t> conflicts;
  size_t arena_end = 0, pairs = 0;
  for (size_t idx : order) {
    const BufferLifetime& buf = buffers[idx];
    if (buf.bytes == 0) continue;  // occupies nothing: offset 0
    pairs += placed.size();
    if (pairs > pair_budget) {
      plan.offsets[idx] = align_up(arena_end);
      arena_end = plan.offsets[idx] + buf.bytes;
      continue;
    }
    conflicts.clear();
    for (size_t p : placed)
      if (lifetimes_overlap(buf, buffers[p])) conflicts.push_back(p);
    // `placed` is sorted by offset, so `conflicts` is too: walk the gaps from the bottom.
    size_t offset = 0;
    for (size_t p : conflicts) {
      const size_t p_begin = plan.offsets[p], p_end = p_begin + buffers[p].bytes;
      if (offset + buf.bytes <= p_begin) break;
      offset = std::max(offset, align_up(p_end));
    }
    plan.offsets[idx] = offset;
    arena_end = std::max(arena_end, offset + buf.bytes);
    auto pos = std::upper_bound(placed.begin(), placed.end(), offset,
                                [&](size_t off, size_t p) { return off < plan.offsets[p]; });
    placed.insert(pos, idx);
  }
  plan.arena_bytes = align_up(arena_end);
  return plan;
}

Status check_memory_plan(const std::vector<BufferLifetime>& buffers, const MemoryPlan& plan) {
  if (plan.offsets.size() != buffers.size())
    return Status(Status::kBadModel, "memory plan has " + std::to_string(plan.offsets.size()) +
                                         " offsets for " + std::to_string(buffers.size()) +
                                         " buffers");
  for (size_t i = 0; i < buffers.size(); ++i) {
    const size_t off = plan.offsets[i], bytes = buffers[i].bytes;
    if (off % kArenaAlignment != 0)
      return Status(Status::kBadModel, "buffer " + std::to_string(i) + " offset " +
                                           std::to_string(off) + " is not " +
                                           std::to_string(kArenaAlignment) + "-byte aligned");
    if (off > plan.arena_bytes || bytes > plan.arena_bytes - off)
      return Status(Status::kBadModel, "buffer " + std::to_string(i) + " (" +
                                           std::to_string(bytes) + " bytes at offset " +
                                           std::to_string(off) + ") lies outside the arena of " +
                                           std::to_string(plan.arena_bytes) + " bytes");
  }
  // Sweep by offset: only buffers that start before another ends can overlap in memory.
  std::vector<size_t> order;
  order.reserve(buffers.size());
  for (size_t i = 0; i < buffers.size(); ++i)
    if (buffers[i].bytes > 0) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return plan.offsets[a] != plan.offsets[b] ? plan.offsets[a] < plan.offsets[b] : a < b;
  });
  for (size_t k = 0; k < order.size(); ++k) {
    const size_t a = order[k];
    const size_t a_end = plan.offsets[a] + buffers[a].bytes;
    for (size_t m = k + 1; m < order.size() && plan.offsets[order[m]] < a_end; ++m) {
      const size_t b = order[m];
      if (lifetimes_overlap(buffers[a], buffers[b]))
        return Status(Status::kBadModel,
                      "buffers " + std::to_string(std::min(a, b)) + " and " +
                          std::to_string(std::max(a, b)) +
                          " are live at the same time and overlap in the arena");
    }
  }
  return Status::ok();
}

}  // namespace pare::rt
