// Channels-last pooling kernels: every variant usable on this CPU against the scalar
// reference, byte for byte (same taps, same order, same operations), over channel counts
// around each ISA's block, odd images, pads, strides, dilations, ceil-mode windows that end
// in or past the pads, NaN and signed-zero inputs, and splits of the work ranges (as the op
// splits them over threads), which must give identical bytes and write nothing outside.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/kernels/isa_coverage_test.h"
#include "runtime/kernels/pool/pool.h"

namespace pare::rt::kernels {
namespace {

constexpr float kSentinel = -12345.f;
const int64_t kChannels[] = {1, 7, 8, 15, 16, 17, 33, 96};

std::vector<const PoolNhwcVariant*> optimized_variants() {
  size_t count = 0;
  const PoolNhwcVariant* all = pool_nhwc_variants(&count);
  std::vector<const PoolNhwcVariant*> out;
  for (size_t i = 0; i < count; ++i)
    if (all[i].isa != Isa::kScalar && isa_usable(all[i].isa, all[i].isa)) out.push_back(&all[i]);
  return out;
}

// Random values with a sprinkling of NaN, infinities and both zeros, which decide whether
// max and sums are computed exactly as in the reference.
std::vector<float> test_input(size_t n, std::mt19937* rng) {
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::uniform_int_distribution<int> pick(0, 39);
  std::vector<float> v(n);
  for (float& x : v) {
    switch (pick(*rng)) {
      case 0: x = std::numeric_limits<float>::quiet_NaN(); break;
      case 1: x = 0.f; break;
      case 2: x = -0.f; break;
      case 3: x = -std::numeric_limits<float>::infinity(); break;
      default: x = dist(*rng);
    }
  }
  return v;
}

struct Window {
  int64_t h, w, kh, kw, sh, sw, dh, dw, pad_t, pad_l, pad_b, pad_r;
  bool ceil_mode;
};

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, bool ceil) {
  const int64_t span = in + pb + pe - d * (k - 1) - 1;
  int64_t out = (ceil ? (span + s - 1) / s : span / s) + 1;
  if (ceil && (out - 1) * s >= in + pb) --out;  // ONNX: no window may start in the end pad
  return out;
}

PoolGeometry geometry(const Window& w) {
  PoolGeometry g;
  g.in_size[1] = w.h;
  g.in_size[2] = w.w;
  g.kernel[1] = w.kh;
  g.kernel[2] = w.kw;
  g.stride[1] = w.sh;
  g.stride[2] = w.sw;
  g.dilation[1] = w.dh;
  g.dilation[2] = w.dw;
  g.pad_begin[1] = w.pad_t;
  g.pad_begin[2] = w.pad_l;
  g.pad_end[1] = w.pad_b;
  g.pad_end[2] = w.pad_r;
  g.out_size[1] = out_size(w.h, w.kh, w.sh, w.dh, w.pad_t, w.pad_b, w.ceil_mode);
  g.out_size[2] = out_size(w.w, w.kw, w.sw, w.dw, w.pad_l, w.pad_r, w.ceil_mode);
  return g;
}

std::string describe(const Window& w, int64_t c, const char* kernel) {
  return std::string(kernel) + " C=" + std::to_string(c) + " in=" + std::to_string(w.h) + "x" +
         std::to_string(w.w) + " k=" + std::to_string(w.kh) + "x" + std::to_string(w.kw) +
         " s=" + std::to_string(w.sh) + "," + std::to_string(w.sw) + " d=" +
         std::to_string(w.dh) + "," + std::to_string(w.dw) + " pads=" + std::to_string(w.pad_t) +
         "," + std::to_string(w.pad_l) + "," + std::to_string(w.pad_b) + "," +
         std::to_string(w.pad_r) + (w.ceil_mode ? " ceil" : "");
}

const Window kWindows[] = {
    {7, 9, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, false},  // the common 2x2/2 on odd sizes
    {7, 9, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, true},   // last window half outside
    {5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, false},
    {6, 7, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true},
    {9, 5, 3, 2, 2, 3, 1, 1, 2, 0, 1, 1, false},  // asymmetric
    {8, 8, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, true},   // dilation
    {3, 4, 5, 5, 1, 2, 1, 1, 2, 2, 2, 2, false},  // window larger than the image
    {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false},
    {11, 13, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, true},
};

constexpr int64_t kBatch = 2;

// Runs fn over [0, total) in one call and in uneven pieces; both must equal `expected` and
// write exactly the output range.
template <typename T>
T sentinel() {
  if constexpr (std::is_same_v<T, float>) return kSentinel;
  else return static_cast<T>(0xA5);
}

template <typename T, typename Fn>
void check_splits(const std::vector<T>& expected, int64_t total, int64_t unit, Fn fn,
                  const std::string& what) {
  const T kSentinel = sentinel<T>();
  std::vector<T> whole(expected.size(), kSentinel);
  fn(whole.data(), int64_t{0}, total);
  ASSERT_EQ(0, std::memcmp(whole.data(), expected.data(), expected.size() * sizeof(T))) << what;

  std::vector<T> pieces(expected.size(), kSentinel);
  const int64_t cuts[] = {0, 1, total / 3, total / 3 + 1, total - 1, total};
  for (size_t i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); ++i) {
    const int64_t b = cuts[i], e = cuts[i + 1];
    if (b >= e) continue;
    fn(pieces.data(), b, e);
    // Outputs past this piece are still untouched.
    for (size_t j = static_cast<size_t>(e * unit); j < pieces.size(); ++j)
      ASSERT_EQ(pieces[j], kSentinel) << what << " piece [" << b << ", " << e << ") wrote " << j;
  }
  ASSERT_EQ(0, std::memcmp(pieces.data(), expected.data(), expected.size() * sizeof(T)))
      << what << " (split)";
}

TEST(PoolNhwc, MaxPoolMatchesReference) {
  const auto variants = optimized_variants();
  std::mt19937 rng(1);
  for (const Window& w : kWindows)
    for (int64_t c : kChannels) {
      const PoolGeometry g = geometry(w);
      const int64_t pixels = kBatch * g.out_size[1] * g.out_size[2];
      const std::vector<float> x = test_input(static_cast<size_t>(kBatch * w.h * w.w * c), &rng);
      std::vector<float> expected(static_cast<size_t>(pixels * c));
      f32_maxpool_nhwc_ref__scalar(g, c, x.data(), expected.data(), 0, pixels);
      for (const PoolNhwcVariant* v : variants)
        check_splits(expected, pixels, c,
                     [&](float* y, int64_t b, int64_t e) { v->maxpool(g, c, x.data(), y, b, e); },
                     describe(w, c, v->maxpool_name));
    }
}

// 8-bit max pooling, unsigned and signed, over channel counts around the byte vectors
// (16, 32, 64) and the two-vector steps, with the extremes of each type in the inputs.
template <typename T, typename Ref, typename Get>
void check_byte_maxpool(Ref reference, Get variant_fn, const char* (*variant_name)(const PoolNhwcVariant&)) {
  const int64_t byte_channels[] = {1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200};
  const auto variants = optimized_variants();
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> dist(std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max());
  for (const Window& w : kWindows)
    for (int64_t c : byte_channels) {
      const PoolGeometry g = geometry(w);
      const int64_t pixels = kBatch * g.out_size[1] * g.out_size[2];
      std::vector<T> x(static_cast<size_t>(kBatch * w.h * w.w * c));
      for (T& v : x) v = static_cast<T>(dist(rng));
      std::vector<T> expected(static_cast<size_t>(pixels * c));
      reference(g, c, x.data(), expected.data(), int64_t{0}, pixels);
      for (const PoolNhwcVariant* v : variants)
        check_splits(expected, pixels, c,
                     [&](T* y, int64_t b, int64_t e) { variant_fn(*v)(g, c, x.data(), y, b, e); },
                     describe(w, c, variant_name(*v)));
    }
}

TEST(PoolNhwc, U8MaxPoolMatchesReference) {
  check_byte_maxpool<uint8_t>(
      u8_maxpool_nhwc_ref__scalar, [](const PoolNhwcVariant& v) { return v.u8_maxpool; },
      [](const PoolNhwcVariant& v) { return v.u8_maxpool_name; });
}

TEST(PoolNhwc, S8MaxPoolMatchesReference) {
  check_byte_maxpool<int8_t>(
      s8_maxpool_nhwc_ref__scalar, [](const PoolNhwcVariant& v) { return v.s8_maxpool; },
      [](const PoolNhwcVariant& v) { return v.s8_maxpool_name; });
}

TEST(PoolNhwc, NaNTapNeverWinsMax) {
  // Documents the semantics the vector kernels reproduce: a NaN tap never wins.
  PoolGeometry g;
  g.in_size[2] = 2;
  g.kernel[2] = 2;
  g.out_size[2] = 1;
  const float x[2] = {std::numeric_limits<float>::quiet_NaN(), -3.f};
  float y = 0.f;
  f32_maxpool_nhwc_ref__scalar(g, 1, x, &y, 0, 1);
  EXPECT_EQ(y, -3.f);
  for (const PoolNhwcVariant* v : optimized_variants()) {
    float z = 0.f;
    v->maxpool(g, 1, x, &z, 0, 1);
    EXPECT_EQ(z, -3.f) << v->maxpool_name;
  }
}

TEST(PoolNhwc, AvgPoolMatchesReference) {
  const auto variants = optimized_variants();
  std::mt19937 rng(2);
  for (bool include_pad : {false, true})
    for (const Window& w : kWindows)
      for (int64_t c : kChannels) {
        const PoolGeometry g = geometry(w);
        const int64_t pixels = kBatch * g.out_size[1] * g.out_size[2];
        const std::vector<float> x = test_input(static_cast<size_t>(kBatch * w.h * w.w * c), &rng);
        std::vector<float> expected(static_cast<size_t>(pixels * c));
        f32_avgpool_nhwc_ref__scalar(g, c, include_pad, x.data(), expected.data(), 0, pixels);
        for (const PoolNhwcVariant* v : variants)
          check_splits(expected, pixels, c,
                       [&](float* y, int64_t b, int64_t e) {
                         v->avgpool(g, c, include_pad, x.data(), y, b, e);
                       },
                       describe(w, c, v->avgpool_name) + (include_pad ? " include_pad" : ""));
      }
}

TEST(PoolNhwc, GlobalAvgPoolMatchesReference) {
  const auto variants = optimized_variants();
  std::mt19937 rng(3);
  for (int64_t pixels : {1, 5, 49, 63})
    for (int64_t c : kChannels) {
      const std::vector<float> x = test_input(static_cast<size_t>(kBatch * pixels * c), &rng);
      const int64_t total = kBatch * c;
      std::vector<float> expected(static_cast<size_t>(total));
      f32_global_avgpool_nhwc_ref__scalar(pixels, c, x.data(), expected.data(), 0, total);
      for (const PoolNhwcVariant* v : variants)
        check_splits(expected, total, 1,
                     [&](float* y, int64_t b, int64_t e) {
                       v->global_avgpool(pixels, c, x.data(), y, b, e);
                     },
                     std::string(v->global_avgpool_name) + " C=" + std::to_string(c) +
                         " pixels=" + std::to_string(pixels));
    }
}

TEST(PoolNhwc, SelectionFollowsTheIsaCap) {
  EXPECT_EQ(select_pool_nhwc(Isa::kScalar).isa, Isa::kScalar);
  for (const PoolNhwcVariant* v : optimized_variants()) EXPECT_EQ(select_pool_nhwc(v->isa).isa, v->isa);
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(pool, isa_coverage::cases(pool_nhwc_variants,
                                         [](const PoolNhwcVariant& v) { return v.maxpool_name; }));

}  // namespace
}  // namespace pare::rt::kernels
