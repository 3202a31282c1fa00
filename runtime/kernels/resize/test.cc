// Resize kernels: the bilinear kernel against the general multilinear reference, byte for
// byte, on NCHW, NHWC and other layouts with random coordinate tables; and the cases it must
// leave to the reference.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/resize/resize.h"

namespace pare::rt::kernels {
namespace {

// Coordinate tables of one resize: for the interpolated axes random lo in [0, in), hi = lo
// or lo + 1 (clamped) and weights in [0, 1); every other axis reads in place.
struct Case {
  std::vector<int64_t> in_shape, out_shape, in_strides;
  std::vector<std::vector<int64_t>> lo, hi;
  std::vector<std::vector<float>> weight;

  Case(std::vector<int64_t> in, std::vector<int64_t> out, std::vector<bool> interpolated, std::mt19937* rng)
      : in_shape(std::move(in)), out_shape(std::move(out)) {
    const size_t rank = in_shape.size();
    in_strides.assign(rank, 1);
    for (size_t d = rank - 1; d-- > 0;) in_strides[d] = in_strides[d + 1] * in_shape[d + 1];
    lo.resize(rank);
    hi.resize(rank);
    weight.resize(rank);
    std::uniform_real_distribution<float> unit(0.f, 1.f);
    for (size_t d = 0; d < rank; ++d) {
      std::uniform_int_distribution<int64_t> index(0, in_shape[d] - 1);
      for (int64_t o = 0; o < out_shape[d]; ++o) {
        const int64_t l = interpolated[d] ? index(*rng) : o;
        lo[d].push_back(l);
        hi[d].push_back(interpolated[d] && l + 1 < in_shape[d] && o % 3 != 0 ? l + 1 : l);
        weight[d].push_back(interpolated[d] ? unit(*rng) : 0.f);
      }
    }
    interpolate = interpolated;
  }
  std::vector<bool> interpolate;

  // Views of the tables (taken when used: a copied Case owns new vectors).
  std::vector<LinearAxis> axes() const {
    std::vector<LinearAxis> a;
    for (size_t d = 0; d < in_shape.size(); ++d)
      a.push_back({lo[d].data(), hi[d].data(), weight[d].data(), interpolate[d]});
    return a;
  }

  size_t in_elements() const { return static_cast<size_t>(in_strides[0] * in_shape[0]); }
  size_t out_elements() const {
    size_t n = 1;
    for (int64_t d : out_shape) n *= static_cast<size_t>(d);
    return n;
  }
  bool applies() const {
    return f32_resize_bilinear_applies(out_shape.size(), out_shape.data(), in_strides.data(), axes().data());
  }
};

std::string describe(const Case& c) {
  std::string s = "in";
  for (int64_t d : c.in_shape) s += " " + std::to_string(d);
  s += " out";
  for (int64_t d : c.out_shape) s += " " + std::to_string(d);
  return s;
}

TEST(ResizeBilinear, SameBytesAsTheReference) {
  std::mt19937 rng(1);
  std::normal_distribution<float> value(0.f, 3.f);
  const std::vector<Case> cases = {
      Case({1, 1, 28, 28}, {1, 1, 64, 64}, {false, false, true, true}, &rng),  // NCHW upsampling
      Case({2, 3, 9, 7}, {2, 3, 4, 5}, {false, false, true, true}, &rng),      // NCHW downsampling
      Case({1, 28, 28, 1}, {1, 64, 64, 1}, {false, true, true, false}, &rng),  // NHWC, one channel
      Case({2, 5, 6, 3}, {2, 11, 13, 3}, {false, true, true, false}, &rng),    // NHWC, three channels
      Case({6, 5}, {17, 3}, {true, true}, &rng),                               // rank 2
      Case({4, 4, 16}, {9, 2, 16}, {true, true, false}, &rng),                 // leading axes, inner block
      Case({2, 3, 5, 6, 2}, {2, 3, 10, 12, 2}, {false, false, true, true, false}, &rng),
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(c.applies()) << describe(c);
    std::vector<float> x(c.in_elements());
    for (float& v : x) v = value(rng);
    std::vector<float> want(c.out_elements()), got(c.out_elements(), -1.f);
    const std::vector<LinearAxis> axes = c.axes();
    f32_resize_linear_ref__scalar(c.out_shape.size(), c.out_shape.data(), c.in_strides.data(), axes.data(), 0.f,
                                  x.data(), want.data());
    f32_resize_bilinear__scalar(c.out_shape.size(), c.out_shape.data(), c.in_strides.data(), axes.data(), x.data(),
                                got.data());
    EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << describe(c);
  }
}

TEST(ResizeBilinear, LeavesOtherCasesToTheReference) {
  std::mt19937 rng(2);
  // Interpolated axes that are not neighbours.
  EXPECT_FALSE(Case({1, 4, 4, 4}, {1, 8, 4, 8}, {false, true, false, true}, &rng).applies());
  // One interpolated axis, or three.
  EXPECT_FALSE(Case({1, 1, 4, 4}, {1, 1, 4, 8}, {false, false, false, true}, &rng).applies());
  EXPECT_FALSE(Case({1, 4, 4, 4}, {1, 8, 8, 8}, {false, true, true, true}, &rng).applies());
  // A coordinate outside the input (tf_crop_and_resize's extrapolation).
  Case outside({1, 1, 4, 4}, {1, 1, 8, 8}, {false, false, true, true}, &rng);
  outside.lo[3][5] = -1;
  EXPECT_FALSE(outside.applies());
  // An axis that is not interpolated but does not read in place (every other sample).
  Case every_other({1, 6, 4, 4}, {1, 3, 8, 8}, {false, false, true, true}, &rng);
  for (int64_t o = 0; o < 3; ++o) every_other.lo[1][static_cast<size_t>(o)] = 2 * o;
  EXPECT_FALSE(every_other.applies());
  // In place but cropped: the inner block or the outer run has more input samples.
  EXPECT_FALSE(Case({1, 4, 4, 6}, {1, 8, 8, 3}, {false, true, true, false}, &rng).applies());
  EXPECT_FALSE(Case({2, 6, 4, 4}, {2, 3, 8, 8}, {false, false, true, true}, &rng).applies());
}

}  // namespace
}  // namespace pare::rt::kernels
