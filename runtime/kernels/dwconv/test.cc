// Depthwise convolution kernels: the NHWC reference against a direct NCHW formula, then every
// variant usable on this CPU against the reference over channel counts around each ISA's
// block, small odd images, symmetric and asymmetric pads, strides, kernel sizes, activations,
// pixel strides wider than the channel count, and splits of the output rows; and guard pages
// around input and output to show that no kernel touches memory outside the tensors.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/dwconv/dwconv.h"
#include "runtime/kernels/isa_coverage_test.h"

namespace pare::rt::kernels {
namespace {

constexpr float kSentinel = -12345.f;  // fills the elements a kernel must not write

std::vector<float> random_floats(size_t n, std::mt19937* rng) {
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(*rng);
  return v;
}

bool usable_here(const DwConvVariant& v) { return isa_usable(v.isa, v.isa); }

std::vector<const DwConvVariant*> usable_variants() {
  size_t count = 0;
  const DwConvVariant* all = dwconv_variants(&count);
  std::vector<const DwConvVariant*> out;
  for (size_t i = 0; i < count; ++i)
    if (usable_here(all[i])) out.push_back(&all[i]);
  return out;
}

const DwConvVariant& reference_variant() {
  size_t count = 0;
  const DwConvVariant* all = dwconv_variants(&count);
  return all[count - 1];
}

struct Case {
  int64_t channels, in_h, in_w, kernel_h, kernel_w, stride_h, stride_w;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
  int64_t dilation = 1;
  ActivationKind activation = ActivationKind::kNone;
  int64_t extra_in_stride = 0, extra_out_stride = 0;
};

std::string describe(const Case& c) {
  return "C=" + std::to_string(c.channels) + " in=" + std::to_string(c.in_h) + "x" +
         std::to_string(c.in_w) + " k=" + std::to_string(c.kernel_h) + "x" +
         std::to_string(c.kernel_w) + " s=" + std::to_string(c.stride_h) + "," +
         std::to_string(c.stride_w) + " d=" + std::to_string(c.dilation) +
         " pads=" + std::to_string(c.pad_top) + "," + std::to_string(c.pad_left) + "," +
         std::to_string(c.pad_bottom) + "," + std::to_string(c.pad_right) +
         " act=" + std::to_string(static_cast<int>(c.activation)) +
         " strides+=" + std::to_string(c.extra_in_stride) + "," +
         std::to_string(c.extra_out_stride);
}

FusedActivation make_activation(ActivationKind kind) {
  FusedActivation a;
  a.kind = kind;
  if (kind == ActivationKind::kClip) {
    a.p0 = -0.25f;
    a.p1 = 0.5f;
  }
  return a;
}

DwConvParams make_params(const Case& c) {
  DwConvParams p;
  p.channels = c.channels;
  p.in_h = c.in_h;
  p.in_w = c.in_w;
  p.kernel_h = c.kernel_h;
  p.kernel_w = c.kernel_w;
  p.stride_h = c.stride_h;
  p.stride_w = c.stride_w;
  p.dilation_h = c.dilation;
  p.dilation_w = c.dilation;
  p.pad_top = c.pad_top;
  p.pad_left = c.pad_left;
  p.out_h = dwconv_output_size(c.in_h, c.kernel_h, c.stride_h, c.dilation, c.pad_top, c.pad_bottom);
  p.out_w = dwconv_output_size(c.in_w, c.kernel_w, c.stride_w, c.dilation, c.pad_left, c.pad_right);
  p.in_pixel_stride = c.channels + c.extra_in_stride;
  p.out_pixel_stride = c.channels + c.extra_out_stride;
  p.activation = make_activation(c.activation);
  return p;
}

// Inputs of one case, in ONNX layouts, plus the NHWC input the kernels read.
struct Data {
  std::vector<float> weight;  // [C, 1, KH, KW]
  std::vector<float> bias;    // [C]
  std::vector<float> input;   // NHWC with the case's pixel stride; the gaps hold NaN
};

Data make_data(const Case& c, const DwConvParams& p, std::mt19937* rng) {
  Data d;
  d.weight = random_floats(static_cast<size_t>(c.channels * c.kernel_h * c.kernel_w), rng);
  d.bias = random_floats(static_cast<size_t>(c.channels), rng);
  d.input.assign(static_cast<size_t>(p.in_h * p.in_w * p.in_pixel_stride),
                 std::numeric_limits<float>::quiet_NaN());
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (int64_t px = 0; px < p.in_h * p.in_w; ++px)
    for (int64_t ch = 0; ch < p.channels; ++ch) d.input[px * p.in_pixel_stride + ch] = dist(*rng);
  return d;
}

std::vector<float> run(const DwConvVariant& v, const DwConvParams& p, const Data& d,
                       const std::vector<int64_t>& row_splits) {
  std::vector<float> packed(
      dwconv_packed_floats(p.channels, p.kernel_h, p.kernel_w, v.channel_block));
  dwconv_pack(p.channels, p.kernel_h, p.kernel_w, v.channel_block, d.weight.data(), d.bias.data(),
              packed.data());
  std::vector<float> out(static_cast<size_t>(p.out_h * p.out_w * p.out_pixel_stride), kSentinel);
  int64_t begin = 0;
  for (int64_t end : row_splits) {
    v.fn(p, d.input.data(), packed.data(), out.data(), begin, end);
    begin = end;
  }
  v.fn(p, d.input.data(), packed.data(), out.data(), begin, p.out_h);
  return out;
}

// Per output element: |bias| + sum of |input * weight| over the window, the scale of the
// rounding error of any summation order.
std::vector<float> magnitudes(const DwConvParams& p, const Data& d) {
  std::vector<float> mag(static_cast<size_t>(p.out_h * p.out_w * p.channels));
  for (int64_t oy = 0; oy < p.out_h; ++oy)
    for (int64_t ox = 0; ox < p.out_w; ++ox)
      for (int64_t ch = 0; ch < p.channels; ++ch) {
        float m = std::fabs(d.bias[ch]);
        for (int64_t ky = 0; ky < p.kernel_h; ++ky)
          for (int64_t kx = 0; kx < p.kernel_w; ++kx) {
            const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
            const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dilation_w;
            if (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w) continue;
            m += std::fabs(d.input[(iy * p.in_w + ix) * p.in_pixel_stride + ch] *
                           d.weight[(ch * p.kernel_h + ky) * p.kernel_w + kx]);
          }
        mag[(oy * p.out_w + ox) * p.channels + ch] = m;
      }
  return mag;
}

// Compares a variant's output with the reference's: values within 1e-5 of the magnitude
// (times 2, HardSwish's largest slope), and the gaps between pixels untouched.
void expect_close(const DwConvParams& p, const std::vector<float>& mag,
                  const std::vector<float>& want, const std::vector<float>& got,
                  const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  int failures = 0;
  for (int64_t px = 0; px < p.out_h * p.out_w && failures < 5; ++px) {
    for (int64_t ch = 0; ch < p.out_pixel_stride && failures < 5; ++ch) {
      const size_t i = static_cast<size_t>(px * p.out_pixel_stride + ch);
      if (ch >= p.channels) {
        if (got[i] != kSentinel) {
          ADD_FAILURE() << what << ": wrote past the channels at pixel " << px << " lane " << ch;
          ++failures;
        }
        continue;
      }
      const float tol = 2e-5f * mag[static_cast<size_t>(px * p.channels + ch)] + 1e-30f;
      if (!(std::fabs(got[i] - want[i]) <= tol)) {
        ADD_FAILURE() << what << ": pixel " << px << " channel " << ch << " got " << got[i]
                      << " want " << want[i] << " tol " << tol;
        ++failures;
      }
    }
  }
}

// Checks every usable variant that takes the case against the reference, whole and with
// the output rows split into three ranges (bit-identical to the whole run).
void check_case(const Case& c, std::mt19937* rng,
                const std::vector<const DwConvVariant*>& variants) {
  const DwConvParams p = make_params(c);
  if (p.out_h <= 0 || p.out_w <= 0) return;
  const Data d = make_data(c, p, rng);
  const std::vector<float> want = run(reference_variant(), p, d, {});
  const std::vector<float> mag = magnitudes(p, d);
  const std::vector<int64_t> splits = {p.out_h / 3, 2 * p.out_h / 3};
  for (const DwConvVariant* v : variants) {
    if (!dwconv_variant_accepts(*v, p)) continue;
    const std::string what = std::string(v->name) + " " + describe(c);
    const std::vector<float> got = run(*v, p, d, {});
    expect_close(p, mag, want, got, what);
    const std::vector<float> split = run(*v, p, d, splits);
    EXPECT_EQ(0, std::memcmp(got.data(), split.data(), got.size() * sizeof(float)))
        << what << ": row split changed the output";
  }
}

constexpr ActivationKind kFused[] = {ActivationKind::kNone, ActivationKind::kRelu,
                                     ActivationKind::kClip, ActivationKind::kHardSwish};

TEST(DwConv, ReferenceMatchesDirectNchwFormula) {
  // Asymmetric pads, stride 2, 5x5: out[c][oy][ox] = bias[c] + sum w[c][ky][kx] * x[c][iy][ix].
  std::mt19937 rng(7);
  const int64_t C = 5, H = 9, W = 8, K = 5, S = 2, pt = 2, pl = 1, pb = 1, pr = 2;
  const std::vector<float> x_nchw = random_floats(C * H * W, &rng);
  const std::vector<float> weight = random_floats(C * K * K, &rng);
  const std::vector<float> bias = random_floats(C, &rng);
  const int64_t OH = (H + pt + pb - K) / S + 1, OW = (W + pl + pr - K) / S + 1;
  std::vector<float> want(C * OH * OW);
  for (int64_t ch = 0; ch < C; ++ch)
    for (int64_t oy = 0; oy < OH; ++oy)
      for (int64_t ox = 0; ox < OW; ++ox) {
        double acc = bias[ch];
        for (int64_t ky = 0; ky < K; ++ky)
          for (int64_t kx = 0; kx < K; ++kx) {
            const int64_t iy = oy * S + ky - pt, ix = ox * S + kx - pl;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W)
              acc += double(weight[(ch * K + ky) * K + kx]) * x_nchw[(ch * H + iy) * W + ix];
          }
        want[(ch * OH + oy) * OW + ox] = static_cast<float>(std::max(acc, 0.0));
      }

  DwConvParams p;
  p.channels = C;
  p.in_h = H;
  p.in_w = W;
  p.kernel_h = p.kernel_w = K;
  p.stride_h = p.stride_w = S;
  p.pad_top = pt;
  p.pad_left = pl;
  p.out_h = dwconv_output_size(H, K, S, 1, pt, pb);
  p.out_w = dwconv_output_size(W, K, S, 1, pl, pr);
  ASSERT_EQ(p.out_h, OH);
  ASSERT_EQ(p.out_w, OW);
  p.in_pixel_stride = p.out_pixel_stride = C;
  p.activation.kind = ActivationKind::kRelu;
  std::vector<float> x_nhwc(C * H * W);
  for (int64_t ch = 0; ch < C; ++ch)
    for (int64_t i = 0; i < H * W; ++i) x_nhwc[i * C + ch] = x_nchw[ch * H * W + i];
  std::vector<float> packed(dwconv_packed_floats(C, K, K, 1));
  dwconv_pack(C, K, K, 1, weight.data(), bias.data(), packed.data());
  std::vector<float> got(C * OH * OW);
  f32_dwconv_ref__scalar(p, x_nhwc.data(), packed.data(), got.data(), 0, OH);
  for (int64_t ch = 0; ch < C; ++ch)
    for (int64_t i = 0; i < OH * OW; ++i)
      EXPECT_NEAR(got[i * C + ch], want[ch * OH * OW + i], 1e-5f)
          << "channel " << ch << " pixel " << i;
}

TEST(DwConv, PackLayout) {
  // 3 channels, block 2, 1x2 kernel: [b0 b1 | w0t0 w1t0 | w0t1 w1t1] [b2 0 | w2t0 0 | w2t1 0].
  const float weight[] = {1, 2, 3, 4, 5, 6};
  const float bias[] = {10, 20, 30};
  ASSERT_EQ(dwconv_packed_floats(3, 1, 2, 2), 12u);
  std::vector<float> packed(12, -1.f);
  dwconv_pack(3, 1, 2, 2, weight, bias, packed.data());
  EXPECT_EQ(packed, (std::vector<float>{10, 20, 1, 3, 2, 4, 30, 0, 5, 0, 6, 0}));
  dwconv_pack(3, 1, 2, 2, weight, nullptr, packed.data());
  EXPECT_EQ(packed[0], 0.f);
  EXPECT_EQ(packed[6], 0.f);
}

TEST(DwConv, OutputSize) {
  EXPECT_EQ(dwconv_output_size(112, 3, 2, 1, 1, 1), 56);
  EXPECT_EQ(dwconv_output_size(7, 5, 1, 1, 2, 2), 7);
  EXPECT_EQ(dwconv_output_size(9, 3, 1, 2, 0, 0), 5);
  EXPECT_EQ(dwconv_output_size(2, 5, 1, 1, 0, 0), 0);
}

TEST(DwConv, SelectorPicksSpecialisedKernels) {
  DwConvParams p;
  p.kernel_h = p.kernel_w = 3;
  p.stride_h = p.stride_w = 2;
  EXPECT_STREQ(select_dwconv(Isa::kScalar, p).name, "f32_dwconv_ref__scalar");
  const DwConvVariant& best = select_dwconv(best_isa(), p);
  if (best.isa != Isa::kScalar) {
    EXPECT_EQ(best.kernel, 3);
    EXPECT_EQ(best.stride, 2);
    EXPECT_NE(std::string(best.name).find("3x3s2"), std::string::npos);
  }
  // Shapes without a specialised kernel: 9x9, 3x9, dilation 2, mixed strides.
  p.kernel_h = p.kernel_w = 9;
  EXPECT_EQ(select_dwconv(best_isa(), p).kernel, 0);
  p.kernel_h = 3;
  EXPECT_EQ(select_dwconv(best_isa(), p).kernel, 0);
  p.kernel_w = 3;
  p.dilation_h = 2;
  EXPECT_EQ(select_dwconv(best_isa(), p).kernel, 0);
  p.dilation_h = 1;
  p.stride_h = 1;
  EXPECT_EQ(select_dwconv(best_isa(), p).kernel, 0);
  for (const DwConvVariant* v : usable_variants())
    EXPECT_EQ(std::string(v->name), std::string("f32_dwconv_") + v->tile_isa);
}

TEST(DwConv, OptimizedVariantsRunWhereTheCpuHasThem) {
  // The sweeps below compare every usable variant; make sure that is more than the reference
  // on a CPU with SIMD, so they never pass vacuously.
  size_t optimized = 0;
  std::string names;
  for (const DwConvVariant* v : usable_variants()) {
    optimized += v->isa != Isa::kScalar;
    names += std::string(" ") + v->name;
  }
  std::cout << "variants usable here:" << names << "\n";
#if defined(__x86_64__)
  if (cpu_features().avx2_fma) {
    EXPECT_GE(optimized, 7u);
  }
  if (cpu_features().avx512) {
    EXPECT_EQ(optimized, 14u);
  }
#elif defined(__aarch64__)
  if (cpu_features().neon) {
    EXPECT_EQ(optimized, 7u);
  }
#endif
}

TEST(DwConv, FusedActivations) {
  EXPECT_TRUE(dwconv_fuses_activation(ActivationKind::kClip));
  EXPECT_TRUE(dwconv_fuses_activation(ActivationKind::kHardSwish));
  EXPECT_FALSE(dwconv_fuses_activation(ActivationKind::kSigmoid));
}

// Kernel sizes, strides and channel counts against the images and pads below.
class DwConvSweep : public ::testing::TestWithParam<int64_t> {};

TEST_P(DwConvSweep, MatchesReference) {
  const int64_t channels = GetParam();
  const std::vector<const DwConvVariant*> variants = usable_variants();
  std::mt19937 rng(static_cast<unsigned>(channels));
  struct Size {
    int64_t h, w;
  };
  std::vector<Size> sizes = {{1, 1}, {2, 3}, {3, 2}, {4, 5}, {5, 4},  {6, 7},
                             {7, 6}, {8, 9}, {9, 8}, {9, 9}, {14, 14}};
  if (channels <= 96) sizes.push_back({28, 28});
  struct Pads {
    int64_t t, l, b, r;
  };
  const Pads pads[] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2},
                       {1, 0, 0, 1}, {0, 2, 1, 0}, {2, 1, 0, 2}};
  int index = 0;
  for (int64_t k : {3, 5, 7})
    for (int64_t s : {1, 2})
      for (const Size& size : sizes)
        for (const Pads& pad : pads) {
          Case c{channels, size.h, size.w, k, k, s, s, pad.t, pad.l, pad.b, pad.r};
          c.activation = kFused[index % 4];
          c.extra_in_stride = index % 3 == 1 ? 3 : 0;
          c.extra_out_stride = index % 5 == 2 ? 5 : 0;
          ++index;
          check_case(c, &rng, variants);
        }
}

INSTANTIATE_TEST_SUITE_P(Channels, DwConvSweep,
                         ::testing::Values(1, 7, 8, 15, 16, 17, 31, 32, 33, 96, 144, 960));

TEST(DwConv, EveryActivationOnEveryVariant) {
  const std::vector<const DwConvVariant*> variants = usable_variants();
  std::mt19937 rng(11);
  for (ActivationKind act : kFused)
    for (int64_t k : {3, 5})
      for (int64_t s : {1, 2})
        for (int64_t channels : {17, 40}) {
          Case c{channels, 9, 11, k, k, s, s, 1, 2, 2, 1};
          c.activation = act;
          check_case(c, &rng, variants);
        }
}

TEST(DwConv, GenericShapes) {
  // Non-square kernels, mixed strides and dilation go to the kxk variants.
  const std::vector<const DwConvVariant*> variants = usable_variants();
  std::mt19937 rng(13);
  const Case cases[] = {
      {17, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2},   {33, 12, 10, 3, 3, 2, 2, 2, 2, 2, 2, 2},
      {16, 7, 9, 1, 5, 1, 1, 0, 2, 0, 2},      {9, 8, 7, 5, 1, 2, 1, 2, 0, 2, 0},
      {24, 10, 11, 3, 5, 1, 2, 1, 2, 1, 2},    {5, 6, 6, 3, 3, 3, 3, 1, 1, 1, 1},
      {40, 13, 13, 5, 5, 1, 1, 4, 4, 4, 4, 2}, {8, 3, 3, 9, 9, 1, 1, 4, 4, 4, 4},
      {31, 16, 16, 3, 3, 2, 1, 1, 1, 1, 1},
  };
  for (const Case& c : cases) check_case(c, &rng, variants);
}

TEST(DwConv, LargeImagesWithInteriorTiles) {
  // Wide rows exercise many interior tiles plus the tile remainder before the right border.
  const std::vector<const DwConvVariant*> variants = usable_variants();
  std::mt19937 rng(17);
  for (int64_t w : {29, 30, 31, 32, 33})
    for (int64_t k : {3, 5})
      for (int64_t s : {1, 2}) {
        Case c{24, 5, w, k, k, s, s, k / 2, k / 2, k / 2, k / 2};
        c.activation = ActivationKind::kClip;
        check_case(c, &rng, variants);
      }
}

// `count` floats flush against an inaccessible page, after their end or before their start,
// so that any access past that end of the buffer faults, SIMD loads and stores included.
class GuardedFloats {
 public:
  GuardedFloats(size_t count, bool guard_after) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t bytes = (count * sizeof(float) + page - 1) / page * page;
    size_ = bytes + 2 * page;
    void* base = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return;
    base_ = static_cast<char*>(base);
    mprotect(base_, page, PROT_NONE);
    mprotect(base_ + page + bytes, page, PROT_NONE);
    data_ = reinterpret_cast<float*>(guard_after ? base_ + page + bytes - count * sizeof(float)
                                                 : base_ + page);
  }
  ~GuardedFloats() {
    if (base_) munmap(base_, size_);
  }
  GuardedFloats(const GuardedFloats&) = delete;
  GuardedFloats& operator=(const GuardedFloats&) = delete;
  float* data() const { return data_; }

 private:
  char* base_ = nullptr;
  size_t size_ = 0;
  float* data_ = nullptr;
};

TEST(DwConv, NothingOutsideTheTensorsIsTouched) {
  // Input and output sized exactly to their last channel (no trailing gap) and placed against
  // guard pages on either side: a read or write outside them crashes the test.
  const std::vector<const DwConvVariant*> variants = usable_variants();
  std::mt19937 rng(19);
  const Case cases[] = {
      {1, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1},     {7, 7, 5, 3, 3, 2, 2, 2, 1, 0, 2},
      {17, 9, 9, 5, 5, 1, 1, 2, 2, 2, 2},    {33, 6, 7, 5, 5, 2, 2, 1, 2, 2, 1},
      {15, 8, 8, 7, 7, 1, 1, 3, 3, 3, 3},    {9, 9, 10, 7, 7, 2, 2, 3, 2, 1, 3},
      {20, 7, 9, 3, 3, 1, 2, 1, 1, 1, 1, 2},
  };
  for (Case c : cases) {
    for (int64_t extra : {0, 3}) {
      c.extra_in_stride = c.extra_out_stride = extra;
      const DwConvParams p = make_params(c);
      const Data d = make_data(c, p, &rng);
      const std::vector<float> mag = magnitudes(p, d);
      const size_t in_floats =
          static_cast<size_t>((p.in_h * p.in_w - 1) * p.in_pixel_stride + p.channels);
      const size_t out_floats =
          static_cast<size_t>((p.out_h * p.out_w - 1) * p.out_pixel_stride + p.channels);
      const std::vector<float> want = run(reference_variant(), p, d, {});
      for (const DwConvVariant* v : variants) {
        if (!dwconv_variant_accepts(*v, p)) continue;
        std::vector<float> packed(
            dwconv_packed_floats(p.channels, p.kernel_h, p.kernel_w, v->channel_block));
        dwconv_pack(p.channels, p.kernel_h, p.kernel_w, v->channel_block, d.weight.data(),
                    d.bias.data(), packed.data());
        for (bool guard_after : {false, true}) {
          GuardedFloats in(in_floats, guard_after), out(out_floats, !guard_after);
          ASSERT_NE(in.data(), nullptr);
          ASSERT_NE(out.data(), nullptr);
          std::copy(d.input.begin(), d.input.begin() + in_floats, in.data());
          std::fill(out.data(), out.data() + out_floats, kSentinel);
          v->fn(p, in.data(), packed.data(), out.data(), 0, p.out_h);
          std::vector<float> got(want.size(), kSentinel);
          std::copy(out.data(), out.data() + out_floats, got.begin());
          expect_close(p, mag, want, got, std::string(v->name) + " guarded " + describe(c));
        }
      }
    }
  }
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(dwconv, isa_coverage::cases(dwconv_variants,
                                         [](const DwConvVariant& v) { return v.name; }));

}  // namespace
}  // namespace pare::rt::kernels
