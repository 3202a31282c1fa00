// Three planes into pixels: every vector kernel usable on this CPU against the reference,
// byte for byte, over pixel counts around the vector widths and any split of the range.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/isa_coverage_test.h"
#include "runtime/kernels/transpose/transpose.h"

namespace pare::rt::kernels {
namespace {

std::vector<const X32Interleave3Variant*> usable_variants() {
  size_t count = 0;
  const X32Interleave3Variant* all = x32_interleave3_variants(&count);
  std::vector<const X32Interleave3Variant*> out;
  for (size_t i = 0; i < count; ++i)
    if (isa_usable(all[i].isa, all[i].isa)) out.push_back(&all[i]);
  return out;
}

// Planes `plane` elements apart (at least `pixels`), each value naming its plane and index.
std::vector<uint32_t> planes(size_t pixels, size_t plane) {
  std::vector<uint32_t> x(2 * plane + pixels, 0xDEADBEEFu);
  for (size_t c = 0; c < 3; ++c)
    for (size_t i = 0; i < pixels; ++i) x[c * plane + i] = static_cast<uint32_t>((c << 24) | i);
  return x;
}

TEST(X32Interleave3, MatchesReference) {
  for (const X32Interleave3Variant* v : usable_variants())
    for (size_t pixels = 0; pixels <= 70; ++pixels)
      for (size_t gap : {0, 1, 13}) {
        const size_t plane = pixels + gap;
        const std::vector<uint32_t> x = planes(pixels, plane);
        // One element past the output on each side shows a write out of bounds.
        std::vector<uint32_t> want(3 * pixels + 2, 0x55555555u), got(want);
        x32_interleave3_ref__scalar(plane, x.data(), want.data() + 1, 0, pixels);
        v->fn(plane, x.data(), got.data() + 1, 0, pixels);
        ASSERT_EQ(got, want) << v->name << " pixels " << pixels << " plane " << plane;
        for (size_t i = 0; i < pixels; ++i)
          for (size_t c = 0; c < 3; ++c) ASSERT_EQ(got[1 + 3 * i + c], (c << 24) | i) << v->name;
      }
}

TEST(X32Interleave3, AnySplitGivesIdenticalBytes) {
  const size_t pixels = 224 * 3 + 5, plane = pixels;
  const std::vector<uint32_t> x = planes(pixels, plane);
  std::vector<uint32_t> want(3 * pixels);
  x32_interleave3_ref__scalar(plane, x.data(), want.data(), 0, pixels);
  for (const X32Interleave3Variant* v : usable_variants())
    for (size_t cut : {size_t{1}, size_t{7}, size_t{16}, size_t{17}, size_t{333}}) {
      std::vector<uint32_t> got(3 * pixels, 0);
      v->fn(plane, x.data(), got.data(), 0, cut);
      v->fn(plane, x.data(), got.data(), cut, pixels);
      ASSERT_EQ(got, want) << v->name << " cut at " << cut;
    }
}

TEST(X32Interleave3, SelectionHonoursTheCap) {
  EXPECT_EQ(select_x32_interleave3(Isa::kScalar), nullptr);
  const X32Interleave3Variant* best = select_x32_interleave3(best_isa());
  if (best != nullptr) {
    EXPECT_TRUE(isa_usable(best->isa, best_isa()));
  }
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(transpose, isa_coverage::cases(x32_interleave3_variants,
                                           [](const X32Interleave3Variant& v) { return v.name; }));

}  // namespace
}  // namespace pare::rt::kernels
