// Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms: every variant usable on this CPU against
// the scalar reference, byte for byte (any NaN matching any NaN), over channel counts around each ISA's vector, images smaller
// than a tile, odd sizes (tiles clipped at the edges), pads 0 and 1, two images, NaN,
// infinities and signed zeros, with and without bias, with the ReLU and Clip clamps, and
// tile ranges split as the op splits them (identical bytes, nothing written outside). Then
// the transforms round trip: input transform, per-element products with the transformed
// weights, output transform equals the direct 3x3 convolution. Each test runs for both tile
// sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/isa_coverage_test.h"
#include "runtime/kernels/winograd/winograd.h"

namespace pare::rt::kernels {
namespace {

constexpr float kSentinel = -12345.f;
const int64_t kChannels[] = {1, 3, 4, 5, 8, 9, 15, 16, 17, 31, 33, 64};

std::vector<const WinogradVariant*> optimized_variants() {
  size_t count = 0;
  const WinogradVariant* all = winograd_variants(&count);
  std::vector<const WinogradVariant*> out;
  for (size_t i = 0; i < count; ++i)
    if (all[i].isa != Isa::kScalar && isa_usable(all[i].isa, all[i].isa)) out.push_back(&all[i]);
  return out;
}

// Equal bytes, except that any NaN matches any NaN: where two NaNs meet in an addition,
// which one comes out depends on the operand order the compiler picks for the reference.
bool same_values(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::isnan(a[i]) && std::isnan(b[i])) && std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return false;
  return true;
}

std::vector<float> test_values(size_t n, std::mt19937* rng) {
  std::uniform_real_distribution<float> dist(-2.f, 2.f);
  std::uniform_int_distribution<int> pick(0, 49);
  std::vector<float> v(n);
  for (float& x : v) {
    switch (pick(*rng)) {
      case 0: x = std::numeric_limits<float>::quiet_NaN(); break;
      case 1: x = 0.f; break;
      case 2: x = -0.f; break;
      case 3: x = std::numeric_limits<float>::infinity(); break;
      default: x = dist(*rng);
    }
  }
  return v;
}

struct Image {
  int64_t batch, h, w, pad;
};
const Image kImages[] = {{1, 1, 1, 1}, {1, 2, 3, 1}, {2, 5, 7, 1}, {1, 6, 6, 0},
                         {1, 9, 4, 0}, {2, 8, 11, 1}, {1, 13, 10, 1}, {1, 12, 12, 0}};

// One tile size's functions: R = 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3)).
struct TileSize {
  int r;
  int matrices;
  int64_t (*tiles)(const ConvGeometry&);
  void (*weight)(const ConvGeometry&, const float*, float*);
  F32WinogradInputFn input_ref;
  F32WinogradOutputFn output_ref;
};
const TileSize kTileSizes[] = {
    {2, 16, f32_conv_winograd_f23_tiles, f32_conv_winograd_f23_weight, f32_winograd_f23_input_ref__scalar,
     f32_winograd_f23_output_ref__scalar},
    {4, 36, f32_conv_winograd_f43_tiles, f32_conv_winograd_f43_weight, f32_winograd_f43_input_ref__scalar,
     f32_winograd_f43_output_ref__scalar},
};

ConvGeometry geometry(const Image& im, int64_t cin, int64_t cout) {
  ConvGeometry g;
  g.batch = im.batch;
  g.in_channels = cin;
  g.out_channels = cout;
  g.in_size[1] = im.h;
  g.in_size[2] = im.w;
  g.kernel[1] = g.kernel[2] = 3;
  g.pad_begin[1] = g.pad_begin[2] = im.pad;
  g.out_size[1] = im.h + 2 * im.pad - 2;
  g.out_size[2] = im.w + 2 * im.pad - 2;
  return g;
}

std::string describe(const Image& im, int64_t c, const char* kernel) {
  return std::string(kernel) + " C=" + std::to_string(c) + " " + std::to_string(im.batch) + "x" +
         std::to_string(im.h) + "x" + std::to_string(im.w) + " pad " + std::to_string(im.pad);
}

// The tile ranges the op may hand a worker: all at once and uneven pieces.
std::vector<std::pair<int64_t, int64_t>> pieces(int64_t tiles) {
  std::vector<std::pair<int64_t, int64_t>> out = {{0, tiles}};
  const int64_t cuts[] = {0, 1, tiles / 3, tiles / 3 + 1, tiles - 1, tiles};
  for (size_t i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); ++i)
    if (cuts[i] < cuts[i + 1]) out.emplace_back(cuts[i], cuts[i + 1]);
  return out;
}

TEST(Winograd, InputTransformMatchesReference) {
  const auto variants = optimized_variants();
  std::mt19937 rng(1);
  for (const TileSize& ts : kTileSizes)
    for (const Image& im : kImages)
      for (int64_t c : kChannels) {
        const ConvGeometry g = geometry(im, c, 1);
        if (g.out_size[1] < 1 || g.out_size[2] < 1) continue;
        const int64_t tiles = ts.tiles(g);
        const std::vector<float> x = test_values(static_cast<size_t>(im.batch * im.h * im.w * c), &rng);
        const int64_t stride = tiles * c + 5;  // matrices not back to back
        for (const auto& [b, e] : pieces(tiles)) {
          std::vector<float> expected(static_cast<size_t>(ts.matrices * stride), kSentinel);
          ts.input_ref(g, x.data(), b, e, expected.data(), stride);
          for (const WinogradVariant* v : variants) {
            std::vector<float> got(expected.size(), kSentinel);
            v->of(ts.r).input(g, x.data(), b, e, got.data(), stride);
            ASSERT_TRUE(same_values(got, expected))
                << describe(im, c, v->of(ts.r).input_name) << " tiles [" << b << ", " << e << ")";
          }
        }
      }
}

TEST(Winograd, OutputTransformMatchesReference) {
  const auto variants = optimized_variants();
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const std::pair<float, float> clamps[] = {{-kInf, kInf}, {0.f, kInf}, {0.f, 6.f}, {-0.5f, 0.25f}};
  std::mt19937 rng(2);
  for (const TileSize& ts : kTileSizes)
    for (const Image& im : kImages)
      for (int64_t c : kChannels) {
        const ConvGeometry g = geometry(im, 1, c);
        if (g.out_size[1] < 1 || g.out_size[2] < 1) continue;
        const int64_t tiles = ts.tiles(g);
        const int64_t stride = tiles * c + 3;
        const std::vector<float> m = test_values(static_cast<size_t>(ts.matrices * stride), &rng);
        const std::vector<float> bias = test_values(static_cast<size_t>(c), &rng);
        const size_t out_floats = static_cast<size_t>(im.batch * g.out_size[1] * g.out_size[2] * c);
        for (const auto& [lo, hi] : clamps)
          for (const float* b : {bias.data(), static_cast<const float*>(nullptr)}) {
            std::vector<float> expected(out_floats, kSentinel);
            ts.output_ref(g, m.data(), stride, b, lo, hi, 0, tiles, expected.data());
            for (const WinogradVariant* v : variants)
              for (const auto& [t0, t1] : pieces(tiles)) {
                // A piece reads its tiles' rows from the start of m, as the op's blocks do.
                std::vector<float> got(out_floats, kSentinel), ref(out_floats, kSentinel);
                ts.output_ref(g, m.data(), stride, b, lo, hi, t0, t1, ref.data());
                v->of(ts.r).output(g, m.data(), stride, b, lo, hi, t0, t1, got.data());
                ASSERT_TRUE(same_values(got, ref))
                    << describe(im, c, v->of(ts.r).output_name) << " clamp [" << lo << ", " << hi << "]"
                    << (b ? " bias" : "") << " tiles [" << t0 << ", " << t1 << ")";
              }
            // The reference over all tiles writes every output pixel exactly once.
            for (float y : expected) ASSERT_FALSE(y == kSentinel) << describe(im, c, "reference");
          }
      }
}

// Input transform, the products with the transformed weights (summed over input channels
// in double), output transform: the direct convolution within float rounding.
TEST(Winograd, TransformsComputeTheConvolution) {
  std::vector<const WinogradVariant*> variants = optimized_variants();
  size_t count = 0;
  variants.push_back(&winograd_variants(&count)[count - 1]);  // the reference
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (const TileSize& ts : kTileSizes)
    for (const Image& im : kImages) {
      const int64_t cin = 5, cout = 7;
      const ConvGeometry g = geometry(im, cin, cout);
      if (g.out_size[1] < 1 || g.out_size[2] < 1) continue;
      std::vector<float> x(static_cast<size_t>(im.batch * im.h * im.w * cin)), w(static_cast<size_t>(cout * cin * 9)),
          bias(static_cast<size_t>(cout));
      for (float& f : x) f = dist(rng);
      for (float& f : w) f = dist(rng);
      for (float& f : bias) f = dist(rng);
      const int64_t oh = g.out_size[1], ow = g.out_size[2];
      std::vector<double> direct(static_cast<size_t>(im.batch * oh * ow * cout));
      for (int64_t n = 0; n < im.batch; ++n)
        for (int64_t y = 0; y < oh; ++y)
          for (int64_t xo = 0; xo < ow; ++xo)
            for (int64_t co = 0; co < cout; ++co) {
              double s = bias[static_cast<size_t>(co)];
              for (int64_t ci = 0; ci < cin; ++ci)
                for (int64_t ky = 0; ky < 3; ++ky)
                  for (int64_t kx = 0; kx < 3; ++kx) {
                    const int64_t iy = y + ky - im.pad, ix = xo + kx - im.pad;
                    if (iy < 0 || iy >= im.h || ix < 0 || ix >= im.w) continue;
                    s += double{x[static_cast<size_t>(((n * im.h + iy) * im.w + ix) * cin + ci)]} *
                         w[static_cast<size_t>((co * cin + ci) * 9 + ky * 3 + kx)];
                  }
              direct[static_cast<size_t>(((n * oh + y) * ow + xo) * cout + co)] = s;
            }
      const int64_t tiles = ts.tiles(g);
      std::vector<float> u(static_cast<size_t>(ts.matrices * cin * cout));
      ts.weight(g, w.data(), u.data());
      for (const WinogradVariant* v : variants) {
        std::vector<float> vt(static_cast<size_t>(ts.matrices * tiles * cin)),
            mt(static_cast<size_t>(ts.matrices * tiles * cout));
        v->of(ts.r).input(g, x.data(), 0, tiles, vt.data(), tiles * cin);
        for (int64_t e = 0; e < ts.matrices; ++e)
          for (int64_t t = 0; t < tiles; ++t)
            for (int64_t co = 0; co < cout; ++co) {
              double s = 0;
              for (int64_t ci = 0; ci < cin; ++ci)
                s += double{vt[static_cast<size_t>((e * tiles + t) * cin + ci)]} * u[static_cast<size_t>((e * cin + ci) * cout + co)];
              mt[static_cast<size_t>((e * tiles + t) * cout + co)] = static_cast<float>(s);
            }
        std::vector<float> y(direct.size());
        v->of(ts.r).output(g, mt.data(), tiles * cout, bias.data(), -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::infinity(), 0, tiles, y.data());
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_NEAR(y[i], direct[i], 1e-4) << describe(im, cin, v->of(ts.r).output_name) << " output " << i;
      }
    }
}

TEST(Winograd, SelectionFollowsTheIsaCap) {
  EXPECT_EQ(select_winograd(Isa::kScalar).isa, Isa::kScalar);
  for (const WinogradVariant* v : optimized_variants()) EXPECT_EQ(select_winograd(v->isa).isa, v->isa);
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(winograd, isa_coverage::cases(winograd_variants,
                                             [](const WinogradVariant& v) { return v.f23.input_name; }));

}  // namespace
}  // namespace pare::rt::kernels
