// Int8 depthwise convolution kernels: every variant usable on this CPU against
// qdwconv_ref__scalar, bit for bit, over channel counts around each ISA's block, small odd
// images, symmetric and asymmetric pads, strides, kernel sizes (2x4 and dilation 2 for the
// generic variants), input zero points 0/128/255, random biases, per-channel scales from 1e-4
// to 1, narrowed clamps, pixel strides wider than the channel count (the gaps must stay
// untouched) and splits of the output rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/isa_coverage_test.h"
#include "runtime/kernels/qdwconv/qdwconv.h"

namespace pare::rt::kernels {
namespace {

constexpr uint8_t kSentinel = 0xA5;  // fills the bytes a kernel must not write

std::vector<const QDwConvVariant*> usable_variants() {
  size_t count = 0;
  const QDwConvVariant* all = qdwconv_variants(&count);
  std::vector<const QDwConvVariant*> out;
  for (size_t i = 0; i < count; ++i)
    if (isa_usable(all[i].isa, all[i].isa)) out.push_back(&all[i]);
  return out;
}

int64_t output_size(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin,
                    int64_t pad_end) {
  const int64_t span = dilation * (kernel - 1) + 1;
  const int64_t padded = in + pad_begin + pad_end;
  return padded < span ? 0 : (padded - span) / stride + 1;
}

struct Case {
  int64_t channels, in_h, in_w, kernel_h, kernel_w, stride_h, stride_w;
  int64_t pad_top, pad_left, pad_bottom, pad_right;
  int64_t dilation = 1;
  int32_t x_zero_point = 0;
  bool narrow = false;  // a Relu-like clamp [y_zero_point, hi] instead of [0, 255]
  int64_t extra_in_stride = 0, extra_out_stride = 0;
};

std::string describe(const Case& c) {
  return "C=" + std::to_string(c.channels) + " in=" + std::to_string(c.in_h) + "x" +
         std::to_string(c.in_w) + " k=" + std::to_string(c.kernel_h) + "x" +
         std::to_string(c.kernel_w) + " s=" + std::to_string(c.stride_h) + "," +
         std::to_string(c.stride_w) + " d=" + std::to_string(c.dilation) + " pads=" +
         std::to_string(c.pad_top) + "," + std::to_string(c.pad_left) + "," +
         std::to_string(c.pad_bottom) + "," + std::to_string(c.pad_right) +
         " xzp=" + std::to_string(c.x_zero_point) + " narrow=" + std::to_string(c.narrow) +
         " strides+=" + std::to_string(c.extra_in_stride) + "," + std::to_string(c.extra_out_stride);
}

struct Data {
  QDwConvParams p;
  std::vector<int8_t> weight;  // [C, 1, KH, KW]
  std::vector<int32_t> bias;
  std::vector<Requant> rq;
  std::vector<uint8_t> input;  // NHWC with the case's pixel stride
};

Data make_data(const Case& c, std::mt19937* rng) {
  Data d;
  QDwConvParams& p = d.p;
  p.channels = c.channels;
  p.in_h = c.in_h;
  p.in_w = c.in_w;
  p.kernel_h = c.kernel_h;
  p.kernel_w = c.kernel_w;
  p.stride_h = c.stride_h;
  p.stride_w = c.stride_w;
  p.dilation_h = p.dilation_w = c.dilation;
  p.pad_top = c.pad_top;
  p.pad_left = c.pad_left;
  p.out_h = output_size(c.in_h, c.kernel_h, c.stride_h, c.dilation, c.pad_top, c.pad_bottom);
  p.out_w = output_size(c.in_w, c.kernel_w, c.stride_w, c.dilation, c.pad_left, c.pad_right);
  p.in_pixel_stride = c.channels + c.extra_in_stride;
  p.out_pixel_stride = c.channels + c.extra_out_stride;
  p.x_zero_point = c.x_zero_point;
  std::uniform_int_distribution<int> byte(0, 255);
  p.y_zero_point = byte(*rng);
  p.lo = 0;
  p.hi = 255;
  if (c.narrow) {
    p.lo = p.y_zero_point;
    p.hi = std::min(255, p.y_zero_point + 1 + byte(*rng) / 2);
  }
  const int64_t taps = c.kernel_h * c.kernel_w;
  d.weight.resize(static_cast<size_t>(c.channels * taps));
  for (int8_t& w : d.weight) w = static_cast<int8_t>(byte(*rng) - 128);
  std::uniform_int_distribution<int32_t> bias(-200000, 200000);
  d.bias.resize(static_cast<size_t>(c.channels));
  for (int32_t& b : d.bias) b = bias(*rng);
  std::uniform_real_distribution<double> log_scale(std::log(1e-4), 0.0);
  d.rq.resize(static_cast<size_t>(c.channels));
  for (Requant& r : d.rq) EXPECT_TRUE(requant_from_scale(std::exp(log_scale(*rng)), &r));
  d.input.assign(static_cast<size_t>(p.in_h * p.in_w * p.in_pixel_stride), 0);
  for (uint8_t& x : d.input) x = static_cast<uint8_t>(byte(*rng));
  return d;
}

std::vector<uint8_t> run_ref(const Data& d) {
  const QDwConvParams& p = d.p;
  std::vector<uint8_t> out(static_cast<size_t>(p.out_h * p.out_w * p.out_pixel_stride), kSentinel);
  qdwconv_ref__scalar(p, d.input.data(), d.weight.data(), d.bias.data(), d.rq.data(), out.data(), 0,
                      p.out_h);
  return out;
}

std::vector<uint8_t> run(const QDwConvVariant& v, const Data& d,
                         const std::vector<int64_t>& row_splits) {
  const QDwConvParams& p = d.p;
  const size_t bytes = qdwconv_packed_bytes(v, p.channels, p.kernel_h, p.kernel_w);
  void* packed = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  qdwconv_pack(v, p, d.weight.data(), d.bias.data(), d.rq.data(), packed);
  std::vector<uint8_t> out(static_cast<size_t>(p.out_h * p.out_w * p.out_pixel_stride), kSentinel);
  int64_t begin = 0;
  for (int64_t end : row_splits) {
    v.fn(p, d.input.data(), packed, out.data(), begin, end);
    begin = end;
  }
  v.fn(p, d.input.data(), packed, out.data(), begin, p.out_h);
  std::free(packed);
  return out;
}

void expect_same(const QDwConvParams& p, const std::vector<uint8_t>& want,
                 const std::vector<uint8_t>& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  int failures = 0;
  for (size_t i = 0; i < want.size() && failures < 5; ++i) {
    if (want[i] == got[i]) continue;
    const int64_t px = static_cast<int64_t>(i) / p.out_pixel_stride;
    ADD_FAILURE() << what << ": pixel (" << px / p.out_w << ", " << px % p.out_w << ") lane "
                  << static_cast<int64_t>(i) % p.out_pixel_stride << " got " << int(got[i])
                  << " want " << int(want[i]);
    ++failures;
  }
}

int check_case(const Case& c, std::mt19937* rng, const std::vector<const QDwConvVariant*>& variants) {
  const Data d = make_data(c, rng);
  const QDwConvParams& p = d.p;
  if (p.out_h <= 0 || p.out_w <= 0) return 0;
  const std::vector<uint8_t> want = run_ref(d);
  const std::vector<int64_t> splits = {p.out_h / 3, 2 * p.out_h / 3};
  int checked = 0;
  for (const QDwConvVariant* v : variants) {
    if (!qdwconv_variant_accepts(*v, p)) continue;
    const std::string what = std::string(v->name) + " " + describe(c);
    expect_same(p, want, run(*v, d, {}), what);
    expect_same(p, want, run(*v, d, splits), what + " split");
    ++checked;
  }
  return checked;
}

constexpr int64_t kChannels[] = {1, 7, 16, 17, 32, 33, 96, 144};
constexpr int64_t kSizes[][2] = {{1, 1}, {2, 3}, {7, 7}, {14, 14}, {15, 13}};
constexpr int32_t kZeroPoints[] = {0, 128, 255};

TEST(QDwConv, SquareKernelsMatchReference) {
  std::mt19937 rng(7);
  const auto variants = usable_variants();
  int64_t checked = 0, n = 0;
  for (int64_t ch : kChannels)
    for (int64_t k : {3, 5, 7})
      for (int64_t s : {1, 2})
        for (const auto& hw : kSizes)
          for (int pads = 0; pads < 3; ++pads) {
            Case c{ch, hw[0], hw[1], k, k, s, s, 0, 0, 0, 0};
            if (pads == 1) c.pad_top = c.pad_left = c.pad_bottom = c.pad_right = k / 2;
            if (pads == 2) {  // asymmetric
              c.pad_top = 2;
              c.pad_left = 1;
              c.pad_bottom = 0;
              c.pad_right = 2;
            }
            c.x_zero_point = kZeroPoints[n % 3];
            c.narrow = n % 4 == 1;
            if (n % 5 == 2) c.extra_in_stride = 3;
            if (n % 7 == 3) c.extra_out_stride = 5;
            ++n;
            checked += check_case(c, &rng, variants);
          }
  EXPECT_GT(checked, 0);
}

TEST(QDwConv, GenericShapesMatchReference) {
  std::mt19937 rng(11);
  const auto variants = usable_variants();
  int64_t n = 0;
  for (int64_t ch : kChannels)
    for (const auto& hw : kSizes) {
      for (int64_t dil : {1, 2}) {
        Case c{ch, hw[0], hw[1], 2, 4, 1, 2, 1, 2, 0, 1};
        c.dilation = dil;
        c.x_zero_point = kZeroPoints[n % 3];
        c.narrow = n % 2 == 1;
        c.extra_in_stride = n % 3 == 0 ? 16 : 0;
        ++n;
        check_case(c, &rng, variants);
        Case d{ch, hw[0], hw[1], 3, 3, 2, 1, 1, 0, 2, 1};
        d.dilation = dil;
        d.x_zero_point = kZeroPoints[(n + 1) % 3];
        d.extra_out_stride = n % 2 ? 1 : 0;
        ++n;
        check_case(d, &rng, variants);
      }
    }
}

// Large scales saturate at the clamp, tiny ones round everything to the zero point.
TEST(QDwConv, ExtremeScalesMatchReference) {
  std::mt19937 rng(3);
  const auto variants = usable_variants();
  for (double scale : {0.0, 1e-12, 1e-7, 0.5, 1.0, 37.0}) {
    for (int64_t k : {3, 5}) {
      Case c{33, 9, 11, k, k, 1, 1, 1, 1, 1, 1};
      Data d = make_data(c, &rng);
      for (Requant& r : d.rq) ASSERT_TRUE(requant_from_scale(scale, &r));
      const std::vector<uint8_t> want = run_ref(d);
      for (const QDwConvVariant* v : variants)
        if (qdwconv_variant_accepts(*v, d.p))
          expect_same(d.p, want, run(*v, d, {}), std::string(v->name) + " scale " + std::to_string(scale));
    }
  }
}

// Per-channel scales up to 0.24, up to 0.49 and up to 0.9 (the largest in one channel of
// each block): the vector kernels scale a block in 32-bit lanes when every shift is >= 33, take
// the high dword of 64-bit sums when every shift is >= 32, and else work in 64 bits.
TEST(QDwConv, EachScalingRangeMatchesReference) {
  std::mt19937 rng(4);
  const auto variants = usable_variants();
  for (double largest : {0.24, 0.49, 0.9})
    for (int64_t channels : {32, 64, 70})
      for (int64_t k : {3, 5})
        for (int64_t stride : {1, 2}) {
          Case c{channels, 9, 12, k, k, stride, stride, k / 2, k / 2, k / 2, k / 2};
          Data d = make_data(c, &rng);
          std::uniform_real_distribution<double> log_scale(std::log(1e-3), std::log(largest));
          for (size_t i = 0; i < d.rq.size(); ++i)
            ASSERT_TRUE(requant_from_scale(i % 64 == 5 ? largest : std::exp(log_scale(rng)), &d.rq[i]));
          const std::vector<uint8_t> want = run_ref(d);
          for (const QDwConvVariant* v : variants)
            if (qdwconv_variant_accepts(*v, d.p))
              expect_same(d.p, want, run(*v, d, {}),
                          std::string(v->name) + " " + describe(c) + " largest scale " + std::to_string(largest));
        }
}

TEST(QDwConv, SelectPrefersSpecialisedVariants) {
  QDwConvParams p;
  p.kernel_h = p.kernel_w = 3;
  const QDwConvVariant& v = select_qdwconv(best_isa(), p);
  EXPECT_TRUE(qdwconv_variant_accepts(v, p));
  p.kernel_w = 4;
  const QDwConvVariant& g = select_qdwconv(best_isa(), p);
  EXPECT_EQ(g.kernel, 0);
  EXPECT_EQ(select_qdwconv(Isa::kScalar, p).isa, Isa::kScalar);
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(qdwconv, isa_coverage::cases(qdwconv_variants,
                                         [](const QDwConvVariant& v) { return v.name; }));

}  // namespace
}  // namespace pare::rt::kernels
