// Calibration observers against hand-computed ranges, streaming against one-shot, memory bounds,
// scale/zero-point choice, the image folder reader (PNGs and a JPEG written here) and the dataset
// checks of .npy/.npz/image sources.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "calibration/dataset.h"
#include "calibration/image_folder.h"
#include "calibration/npy.h"
#include "calibration/observer.h"
#include "ir/graph.h"
#include "ir/status.h"
#include "tests/support/test_util.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

// Heap bytes in use (glibc), to show that observing allocates nothing per sample.
static size_t heap_in_use() { return mallinfo2().uordblks; }

namespace pare::calib {
namespace {

// Runs f, expecting pare::Error(code) whose message contains every one of `parts`.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts,
                  Status::Code code = Status::kInvalidInput) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << " lacks " << p;
  }
}

std::vector<float> gaussian(size_t n, float sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<float> uniform(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

void observe_all(Observer& o, const std::vector<float>& v) { o.observe(v.data(), v.size()); }

// --- Observers

TEST(Observer, MinMaxOfKnownArray) {
  MinMaxObserver o("t");
  const std::vector<float> v = {0.5f, -2.5f, 3.75f, 1.0f};
  observe_all(o, v);
  Range a = o.range(false);
  EXPECT_EQ(a.min, -2.5f);
  EXPECT_EQ(a.max, 3.75f);
  Range s = o.range(true);
  EXPECT_EQ(s.min, -3.75f);
  EXPECT_EQ(s.max, 3.75f);
  EXPECT_EQ(o.count(), 4u);

  // Ranges always contain 0.
  MinMaxObserver p("relu");
  const std::vector<float> pos = {1.0f, 5.0f, 2.0f};
  observe_all(p, pos);
  EXPECT_EQ(p.range(false).min, 0.0f);
  EXPECT_EQ(p.range(false).max, 5.0f);
}

TEST(Observer, PercentileOfRamp) {
  // 0..9999: numpy's linear percentile is (N-1)*p/100; the histogram interpolates inside bins,
  // so the answer is within one bin width of it.
  std::vector<float> ramp(10000);
  for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<float>(i);
  for (double p : {99.99, 99.0, 90.0, 50.0}) {
    PercentileObserver o("ramp", p);
    observe_all(o, ramp);
    const double w = o.histogram().bin_width();
    EXPECT_EQ(w, 8.0);  // R = 16384 (the power of two above 9999), 2048 bins
    const double expect = 9999.0 * p / 100.0;
    EXPECT_NEAR(o.range(true).max, expect, w) << p;
    EXPECT_EQ(o.range(true).min, -o.range(true).max);
    EXPECT_NEAR(o.range(false).max, expect, w) << p;
    EXPECT_EQ(o.range(false).min, 0.0f);  // the low tail's percentile is > 0; 0 stays in range
  }
  // Asymmetric tails, clipped separately: -5000..4999.
  PercentileObserver o("ramp", 99.0);
  for (float& x : ramp) x -= 5000.0f;
  observe_all(o, ramp);
  Range r = o.range(false);
  const double w = o.histogram().bin_width();
  EXPECT_NEAR(r.min, -5000.0 + 9999.0 * 0.01, w);
  EXPECT_NEAR(r.max, -5000.0 + 9999.0 * 0.99, w);
  // Symmetric: the 99th percentile of |x|.
  EXPECT_NEAR(o.range(true).max, 4950.0, w);
}

TEST(Observer, EntropyClipsOutliersOfGaussian) {
  std::vector<float> v = gaussian(200000, 1.0f, 1);
  for (int i = 0; i < 20; ++i) v.push_back(i % 2 ? 50.0f : -50.0f);
  EntropyObserver o("g");
  observe_all(o, v);
  Range s = o.range(true);
  EXPECT_GT(s.max, 3.0f);
  EXPECT_LT(s.max, 25.0f);  // well below the max of 50
  EXPECT_EQ(s.min, -s.max);

  // Asymmetric, one-sided (after a ReLU): all 256 levels on the positive side, lower bound 0.
  EntropyObserver r("relu");
  for (float& x : v) x = std::max(x, 0.0f);
  observe_all(r, v);
  Range a = r.range(false);
  EXPECT_EQ(a.min, 0.0f);
  EXPECT_GT(a.max, 3.0f);
  EXPECT_LT(a.max, 25.0f);
}

TEST(Observer, EntropyKeepsRangeWithoutOutliers) {
  // Uniform data has no tail to clip: the threshold stays near the max.
  EntropyObserver o("u");
  observe_all(o, uniform(100000, -1.0f, 1.0f, 2));
  EXPECT_GT(o.range(true).max, 0.9f);
}

TEST(Observer, MseKeepsUniformRangeAndClipsHeavyTail) {
  MseObserver u("u");
  observe_all(u, uniform(100000, -1.0f, 1.0f, 3));
  Range s = u.range(true);
  EXPECT_GT(s.max, 0.98f);
  EXPECT_LE(s.max, u.max() > -u.min() ? u.max() : -u.min());
  MseObserver u2("u2");
  observe_all(u2, uniform(100000, 0.0f, 2.0f, 4));
  Range a = u2.range(false);
  EXPECT_EQ(a.min, 0.0f);
  EXPECT_GT(a.max, 1.96f);

  // Laplace (b = 1), symmetric int8: rounding t^2 / (127^2 * 12) plus clipping 2 e^-t per value is
  // smallest at t e^t = 127^2 * 6, t = 9.89, while the max of a million samples is about 14.
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> d(0.0, 1.0);
  std::vector<float> lap(1000000), expo(1000000);
  for (size_t i = 0; i < lap.size(); ++i) {
    expo[i] = static_cast<float>(-std::log(1.0 - d(rng)));
    lap[i] = i % 2 ? expo[i] : -expo[i];
  }
  MseObserver h("laplace");
  observe_all(h, lap);
  const float amax = std::max(h.max(), -h.min());
  EXPECT_GT(amax, 12.0f);
  EXPECT_NEAR(h.range(true).max, 9.89f, 0.4f);
  // Exponential (rate 1), uint8 over [0, t]: t^2 / (255^2 * 12) + e^-t, smallest at t e^t = 255^2 * 6, t = 10.52.
  MseObserver e("exp");
  observe_all(e, expo);
  Range ea = e.range(false);
  EXPECT_EQ(ea.min, 0.0f);
  EXPECT_NEAR(ea.max, 10.52f, 0.4f);
  EXPECT_LT(ea.max, 0.85f * e.max());
}

// Histograms use power-of-two half widths, so a stream of batches builds exactly the histogram of
// one batch holding everything: every observer gives the same range, bit for bit.
TEST(Observer, StreamingEqualsOneShot) {
  std::vector<float> all;
  for (int b = 0; b < 100; ++b) {
    std::vector<float> g = gaussian(1000, 0.05f * static_cast<float>(b + 1), 100 + b);  // growing: re-binning
    all.insert(all.end(), g.begin(), g.end());
  }
  all[12345] = 0.0f;
  for (const char* spec : {"minmax", "percentile(99.9)", "entropy", "mse"}) {
    auto one = make_observer(spec, "x");
    auto many = make_observer(spec, "x");
    one->observe(all.data(), all.size());
    for (size_t b = 0; b < 100; ++b) many->observe(all.data() + b * 1000, 1000);
    for (bool sym : {true, false}) {
      Range r1 = one->range(sym), r2 = many->range(sym);
      EXPECT_EQ(r1.min, r2.min) << spec << " symmetric=" << sym;
      EXPECT_EQ(r1.max, r2.max) << spec << " symmetric=" << sym;
    }
  }
  PercentileObserver a("x", 99.0), b("x", 99.0);
  a.observe(all.data(), all.size());
  for (size_t i = 0; i < all.size(); i += 7) b.observe(all.data() + i, std::min<size_t>(7, all.size() - i));
  EXPECT_EQ(a.histogram().pos(), b.histogram().pos());
  EXPECT_EQ(a.histogram().neg(), b.histogram().neg());
  EXPECT_EQ(a.histogram().half_width(), b.histogram().half_width());
}

TEST(Observer, HistogramGrowsAndKeepsCounts) {
  StreamingHistogram h(8);
  const std::vector<float> first = {0.0f, 0.1f, -0.3f, 0.2f};
  h.add(first.data(), first.size());
  EXPECT_EQ(h.half_width(), 0.5);  // the power of two above 0.3
  const std::vector<float> second = {3.0f};
  h.add(second.data(), second.size());
  EXPECT_EQ(h.half_width(), 4.0);
  EXPECT_EQ(h.count(), 5u);
  // Bins of width 0.5: 0, 0.1, 0.2 in pos[0], -0.3 in neg[0], 3.0 in pos[6].
  EXPECT_EQ(h.pos(), (std::vector<uint64_t>{3, 0, 0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(h.neg(), (std::vector<uint64_t>{1, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(Observer, MemoryIsBoundedWhateverTheSampleCount) {
  const std::vector<float> batch = gaussian(10000, 2.0f, 9);
  for (const char* spec : {"minmax", "percentile", "entropy", "mse"}) {
    auto o = make_observer(spec, "x");
    o->observe(batch.data(), batch.size());
    const size_t before = heap_in_use();
    for (int i = 0; i < 200; ++i) o->observe(batch.data(), batch.size());  // 2M more samples
    EXPECT_EQ(heap_in_use(), before) << spec;
    EXPECT_EQ(o->count(), 201u * 10000u);
  }
  PercentileObserver p("x", 99.0);
  for (int i = 0; i < 100; ++i) p.observe(batch.data(), batch.size());
  EXPECT_EQ(p.histogram().pos().size(), static_cast<size_t>(StreamingHistogram::kDefaultBins));
  EXPECT_EQ(p.histogram().pos().capacity(), static_cast<size_t>(StreamingHistogram::kDefaultBins));
}

TEST(Observer, RejectsNonFinite) {
  for (const char* spec : {"minmax", "percentile", "entropy", "mse"}) {
    auto o = make_observer(spec, "conv1_out");
    const std::vector<float> ok = gaussian(1000, 1.0f, 8);
    o->observe(ok.data(), ok.size());
    const Range before = o->range(false);
    const std::vector<float> bad = {1.0f, NAN, 2.0f};
    expect_error([&] { o->observe(bad.data(), bad.size()); }, {"conv1_out", "NaN", "index 1"});
    const std::vector<float> inf = {-INFINITY};
    expect_error([&] { o->observe(inf.data(), inf.size()); }, {"conv1_out", "-inf"});
    EXPECT_EQ(o->count(), 1000u);  // rejected batches leave no trace
    EXPECT_EQ(o->range(false).max, before.max);
    EXPECT_EQ(o->range(false).min, before.min);
  }
  MinMaxObserver empty("unused");
  expect_error([&] { empty.range(false); }, {"unused", "no values"});
}

TEST(Observer, Factory) {
  EXPECT_EQ(make_observer("minmax", "x")->kind(), "minmax");
  EXPECT_EQ(make_observer("entropy", "x")->kind(), "entropy");
  EXPECT_EQ(make_observer("mse", "x")->kind(), "mse");
  EXPECT_EQ(make_observer("percentile", "x")->kind(), "percentile(99.99)");
  EXPECT_EQ(make_observer("percentile(99.9)", "x")->kind(), "percentile(99.9)");
  EXPECT_EQ(make_observer("percentile(100)", "x")->kind(), "percentile(100)");
  for (const char* bad : {"kl", "MinMax", "percentile()", "percentile(abc)", "percentile(101)", "percentile(0)",
                          "percentile(99.9", "percentile(99.9x)", "percentile(nan)"})
    expect_error([&] { make_observer(bad, "x"); }, {std::string("'") + bad + "'"});
}

// --- Scale and zero point

void expect_covers(Range r, bool is_signed, bool symmetric) {
  QuantParams q = choose_quant_params(r, is_signed, symmetric);
  SCOPED_TRACE(::testing::Message() << "[" << r.min << ", " << r.max << "] signed=" << is_signed
                                    << " symmetric=" << symmetric);
  EXPECT_EQ(q.qmin, is_signed ? -128 : 0);
  EXPECT_EQ(q.qmax, is_signed ? 127 : 255);
  EXPECT_GE(q.zero_point, q.qmin);
  EXPECT_LE(q.zero_point, q.qmax);
  EXPECT_GT(q.scale, 0.0f);
  // Both ends (and 0) representable without clipping.
  EXPECT_LE(static_cast<double>(q.scale) * (q.qmin - q.zero_point), std::min(r.min, 0.0f));
  EXPECT_GE(static_cast<double>(q.scale) * (q.qmax - q.zero_point), std::max(r.max, 0.0f));
  if (symmetric) {
    EXPECT_EQ(q.zero_point, is_signed ? 0 : 128);
  }
  // And not wasteful: at most one extra step over the tight scale.
  const double lo = std::min(r.min, 0.0f), hi = std::max(r.max, 0.0f);
  const double tight = symmetric ? std::max(-lo, hi) / 127.0 : (hi - lo) / 255.0;
  if (hi > lo) {
    EXPECT_LE(q.scale, tight * (symmetric ? 1.0 + 1e-6 : 255.0 / 253.0 * (1.0 + 1e-6)));
  }
}

TEST(QuantParams, ZeroExactAndRangeCovered) {
  QuantParams q = choose_quant_params({0.0f, 255.0f}, false, false);
  EXPECT_EQ(q.scale, 1.0f);
  EXPECT_EQ(q.zero_point, 0);
  q = choose_quant_params({-128.0f, 127.0f}, true, false);
  EXPECT_EQ(q.scale, 1.0f);
  EXPECT_EQ(q.zero_point, 0);
  q = choose_quant_params({-1.0f, 1.0f}, true, true);
  EXPECT_FLOAT_EQ(q.scale, 1.0f / 127.0f);
  EXPECT_EQ(q.zero_point, 0);
  q = choose_quant_params({-0.5f, 1.0f}, false, true);
  EXPECT_EQ(q.zero_point, 128);
  q = choose_quant_params({0.0f, 0.0f}, false, false);
  EXPECT_EQ(q.scale, 1.0f);
  // A range not containing 0 is extended to it.
  q = choose_quant_params({2.0f, 10.0f}, false, false);
  EXPECT_EQ(q.zero_point, 0);
  expect_error([] { choose_quant_params({1.0f, -1.0f}, false, false); }, {"[1, -1]"});
  expect_error([] { choose_quant_params({0.0f, NAN}, false, false); }, {"finite"});

  std::mt19937 rng(11);
  std::uniform_real_distribution<float> d(-10.0f, 10.0f);
  std::vector<Range> ranges = {{-0.001f, 255.0f}, {-255.0f, 0.001f}, {-1e-30f, 1e-30f}, {-3e30f, 1e30f},
                               {0.0f, 1.0f}, {-1.0f, 0.0f}, {-0.3f, 0.7f}, {5.0f, 6.0f}, {-6.0f, -5.0f}};
  for (int i = 0; i < 2000; ++i) {
    float a = d(rng), b = d(rng) * (i % 3 ? 1.0f : 1e-3f);
    ranges.push_back({std::min(a, b), std::max(a, b)});
  }
  for (const Range& r : ranges)
    for (bool is_signed : {false, true})
      for (bool symmetric : {false, true}) expect_covers(r, is_signed, symmetric);
}

// --- Image folder

std::string write_png(const test::TempDir& dir, const std::string& name, int w, int h, int c,
                      const std::vector<unsigned char>& px) {
  std::string path = dir.file(name);
  EXPECT_TRUE(stbi_write_png(path.c_str(), w, h, c, px.data(), w * c)) << path;
  return path;
}

TEST(ImageFolder, DecodesNormalisesAndLaysOut) {
  test::TempDir dir;
  // 2x2 RGB, pixels (r, g, b) = (0,10,20) (30,40,50) / (60,70,80) (255,0,255).
  const std::vector<unsigned char> px = {0, 10, 20, 30, 40, 50, 60, 70, 80, 255, 0, 255};
  write_png(dir, "a.png", 2, 2, 3, px);
  test::write_file(dir.file("notes.txt"), "not an image");
  ImageOptions o;
  o.mean = {0.5f, 0.25f, 0.0f};
  o.std = {0.5f, 0.25f, 2.0f};
  ImageFolder f(dir.path(), o);
  ASSERT_EQ(f.size(), 1u);
  ImageTensor t = f.load(0);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{1, 3, 2, 2}));
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 4; ++p) {
      float expect = (px[p * 3 + c] / 255.0f - o.mean[c]) / o.std[c];
      EXPECT_NEAR(t.data[c * 4 + p], expect, 1e-6f) << c << " " << p;
    }
  o.layout = ImageLayout::kNHWC;
  o.mean = {};
  o.std = {};
  o.pixel_scale = 1.0f;
  ImageTensor n = ImageFolder(dir.path(), o).load(0);
  EXPECT_EQ(n.shape, (std::vector<int64_t>{1, 2, 2, 3}));
  for (size_t i = 0; i < px.size(); ++i) EXPECT_EQ(n.data[i], static_cast<float>(px[i]));
  // Grayscale: equal r, g, b give that value.
  o.grayscale = true;
  test::TempDir gdir;
  write_png(gdir, "g.png", 1, 1, 3, {90, 90, 90});
  ImageTensor g = ImageFolder(gdir.path(), o).load(0);
  EXPECT_EQ(g.shape, (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_NEAR(g.data[0], 90.0f, 1.0f);
}

TEST(ImageFolder, ResizesBilinearly) {
  test::TempDir dir;
  write_png(dir, "x.png", 2, 2, 1, {0, 100, 200, 40});
  ImageOptions o;
  o.height = 4;
  o.width = 4;
  o.pixel_scale = 1.0f;
  ImageTensor t = ImageFolder(dir.path(), o).load(0);
  ASSERT_EQ(t.shape, (std::vector<int64_t>{1, 1, 4, 4}));
  // Half-pixel centres, edges clamped: output x at input (x + 0.5) / 2 - 0.5.
  const float expect[16] = {0, 25, 75, 100, 50, 58.75f, 76.25f, 85, 150, 126.25f, 78.75f, 55, 200, 160, 80, 40};
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(t.data[i], expect[i], 1e-3f) << i;
  o.height = 1;
  o.width = 1;
  EXPECT_NEAR(ImageFolder(dir.path(), o).load(0).data[0], 85.0f, 1e-3f);  // the mean when shrinking
}

TEST(ImageFolder, SortedOrderAndJpeg) {
  test::TempDir dir;
  write_png(dir, "b.png", 1, 1, 1, {20});
  write_png(dir, "a.PNG", 1, 1, 1, {10});
  std::vector<unsigned char> grey(8 * 8, 128);
  ASSERT_TRUE(stbi_write_jpg(dir.file("c.jpg").c_str(), 8, 8, 1, grey.data(), 95));
  ImageOptions o;
  o.pixel_scale = 1.0f;
  o.channels = 1;  // the JPEG writer always stores colour
  ImageFolder f(dir.path(), o);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f.files()[0], dir.file("a.PNG"));
  EXPECT_EQ(f.files()[1], dir.file("b.png"));
  EXPECT_EQ(f.load(0).data[0], 10.0f);
  EXPECT_EQ(f.load(1).data[0], 20.0f);
  ImageTensor j = f.load(2);
  EXPECT_EQ(j.shape, (std::vector<int64_t>{1, 1, 8, 8}));
  for (float v : j.data) EXPECT_NEAR(v, 128.0f, 2.0f);
}

TEST(ImageFolder, Errors) {
  test::TempDir empty;
  test::write_file(empty.file("readme.md"), "x");
  expect_error([&] { ImageFolder(empty.path(), {}); }, {empty.path(), "no .png"});
  expect_error([&] { ImageFolder(empty.file("missing"), {}); }, {"missing", "not a folder"});

  test::TempDir corrupt;
  write_png(corrupt, "a.png", 1, 1, 1, {1});
  test::write_file(corrupt.file("broken.png"), "\x89PNG\r\n\x1a\n garbage");
  ImageFolder f(corrupt.path(), {});
  EXPECT_NO_THROW(f.load(0));
  expect_error([&] { f.load(1); }, {"broken.png", "cannot decode"});

  test::TempDir mixed;
  write_png(mixed, "a.png", 1, 1, 3, {1, 2, 3});
  write_png(mixed, "b.png", 1, 1, 1, {1});
  ImageFolder m(mixed.path(), {});
  expect_error([&] { m.load(1); }, {"b.png", "1 channels", "a.png"});
  ImageOptions three;
  three.channels = 3;  // an explicit count converts instead
  EXPECT_EQ(ImageFolder(mixed.path(), three).load(1).shape, (std::vector<int64_t>{1, 3, 1, 1}));

  ImageOptions bad_mean;
  bad_mean.mean = {0.1f, 0.2f};
  ImageFolder bm(mixed.path(), bad_mean);
  expect_error([&] { bm.load(0); }, {"mean", "2 values"});
}

// --- Dataset

npy::Array f32(std::vector<int64_t> shape, float start = 0.0f) {
  npy::Array a;
  a.type = npy::ElemType::kFloat32;
  a.shape = std::move(shape);
  a.data.resize(static_cast<size_t>(a.size()) * 4);
  for (int64_t i = 0; i < a.size(); ++i) a.as<float>()[i] = start + static_cast<float>(i);
  return a;
}

const std::vector<InputSpec> kOneInput = {{"image", {1, 3, 2, 2}, true}};

TEST(Dataset, NpySampleShapes) {
  test::TempDir dir;
  for (auto shape : {std::vector<int64_t>{1, 3, 2, 2}, std::vector<int64_t>{5, 1, 3, 2, 2},
                     std::vector<int64_t>{5, 3, 2, 2}}) {
    npy::write_npy(dir.file("x.npy"), f32(shape));
    auto ds = open_dataset(dir.file("x.npy"), kOneInput);
    const size_t n = shape[0] == 1 ? 1 : 5;
    ASSERT_EQ(ds->size(), n);
    for (size_t k = 0; k < n; ++k) {
      std::vector<Tensor> s = ds->sample(k);
      ASSERT_EQ(s.size(), 1u);
      EXPECT_EQ(s[0].name, "image");
      EXPECT_EQ(s[0].shape, kOneInput[0].shape);
      ASSERT_EQ(s[0].data.size(), 12u);
      EXPECT_EQ(s[0].data[0], 12.0f * k);
      EXPECT_EQ(s[0].data[11], 12.0f * k + 11);
    }
  }
  // float64 is converted.
  npy::Array d;
  d.type = npy::ElemType::kFloat64;
  d.shape = {2, 3, 2, 2};
  d.data.resize(24 * 8);
  for (int i = 0; i < 24; ++i) d.as<double>()[i] = 0.5 * i;
  npy::write_npy(dir.file("d.npy"), d);
  auto ds = open_dataset(dir.file("d.npy"), kOneInput);
  EXPECT_EQ(ds->sample(1).at(0).data[1], 6.5f);
}

TEST(Dataset, SamplingIsDeterministic) {
  test::TempDir dir;
  npy::write_npy(dir.file("x.npy"), f32({50, 3, 2, 2}));
  DatasetOptions o;
  o.max_samples = 7;
  o.seed = 42;
  auto a = open_dataset(dir.file("x.npy"), kOneInput, o);
  auto b = open_dataset(dir.file("x.npy"), kOneInput, o);
  EXPECT_EQ(a->total(), 50u);
  ASSERT_EQ(a->size(), 7u);
  EXPECT_EQ(a->selected(), b->selected());
  for (size_t k = 1; k < 7; ++k) EXPECT_LT(a->selected()[k - 1], a->selected()[k]);
  EXPECT_EQ(a->sample(3).at(0).data[0], 12.0f * a->selected()[3]);
  o.seed = 43;
  EXPECT_NE(open_dataset(dir.file("x.npy"), kOneInput, o)->selected(), a->selected());
  o.max_samples = 100;  // more than there are: all of them
  EXPECT_EQ(open_dataset(dir.file("x.npy"), kOneInput, o)->size(), 50u);
}

TEST(Dataset, NpzPerInput) {
  test::TempDir dir;
  const std::vector<InputSpec> two = {{"a", {1, 2}, true}, {"b", {3}, true}};
  npy::write_npz(dir.file("x.npz"), {{"b", f32({4, 3}, 100.0f)}, {"a", f32({4, 2})}});
  auto ds = open_dataset(dir.file("x.npz"), two);
  ASSERT_EQ(ds->size(), 4u);
  std::vector<Tensor> s = ds->sample(2);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, "a");
  EXPECT_EQ(s[0].data, (std::vector<float>{4, 5}));
  EXPECT_EQ(s[1].name, "b");
  EXPECT_EQ(s[1].shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(s[1].data, (std::vector<float>{106, 107, 108}));
  std::vector<float> buf(3);
  ds->fill(2, 1, buf.data(), buf.size());
  EXPECT_EQ(buf, s[1].data);
  expect_error([&] { ds->fill(2, 1, buf.data(), 2); }, {"'b'", "[3]"}, Status::kInternal);
  // A single array of any name feeds a single input.
  npy::write_npz(dir.file("one.npz"), {{"arr_0", f32({2, 3, 2, 2})}});
  EXPECT_EQ(open_dataset(dir.file("one.npz"), kOneInput)->size(), 2u);

  expect_error([&] { npy::write_npz(dir.file("m.npz"), {{"a", f32({4, 2})}}); open_dataset(dir.file("m.npz"), two); },
               {"m.npz", "no array for input 'b'", "[3]"});
  expect_error([&] {
    npy::write_npz(dir.file("e.npz"), {{"a", f32({4, 2})}, {"b", f32({4, 3})}, {"c", f32({1})}});
    open_dataset(dir.file("e.npz"), two);
  }, {"e.npz", "'c'", "a, b"});
  expect_error([&] {
    npy::write_npz(dir.file("n.npz"), {{"a", f32({4, 2})}, {"b", f32({3, 3})}});
    open_dataset(dir.file("n.npz"), two);
  }, {"n.npz", "3 samples", "'b'", "4"});
  expect_error([&] {
    npy::write_npy(dir.file("two.npy"), f32({4, 2}));
    open_dataset(dir.file("two.npy"), two);
  }, {"two.npy", "2 inputs", ".npz"});
}

TEST(Dataset, Errors) {
  test::TempDir dir;
  npy::write_npy(dir.file("shape.npy"), f32({5, 3, 2, 3}));
  expect_error([&] { open_dataset(dir.file("shape.npy"), kOneInput); },
               {"shape.npy", "'image'", "[5,3,2,3]", "[1,3,2,2]"});

  npy::Array ints;
  ints.type = npy::ElemType::kInt32;
  ints.shape = {1, 3, 2, 2};
  ints.data.resize(48);
  npy::write_npy(dir.file("ints.npy"), ints);
  expect_error([&] { open_dataset(dir.file("ints.npy"), kOneInput); }, {"ints.npy", "int32", "'image'", "[1,3,2,2]"});

  npy::Array nan = f32({3, 3, 2, 2});
  nan.as<float>()[12 * 2 + 5] = NAN;
  npy::write_npy(dir.file("nan.npy"), nan);
  expect_error([&] { open_dataset(dir.file("nan.npy"), kOneInput); }, {"nan.npy", "NaN", "sample 2", "'image'", "[1,3,2,2]"});

  npy::write_npy(dir.file("empty.npy"), f32({0, 3, 2, 2}));
  expect_error([&] { open_dataset(dir.file("empty.npy"), kOneInput); }, {"empty.npy", "no samples", "'image'", "[1,3,2,2]"});

  expect_error([&] { open_dataset(dir.file("missing.npy"), kOneInput); }, {"missing.npy", "does not exist"});
  test::write_file(dir.file("data.csv"), "1,2");
  expect_error([&] { open_dataset(dir.file("data.csv"), kOneInput); }, {"data.csv", ".npy"});
  test::write_file(dir.file("junk.npy"), "junk");
  expect_error([&] { open_dataset(dir.file("junk.npy"), kOneInput); }, {"junk.npy"});

  const std::vector<InputSpec> ids = {{"ids", {1, 8}, false}};
  expect_error([&] { open_dataset(dir.file("shape.npy"), ids); }, {"'ids'", "float32"}, Status::kUnsupported);
}

TEST(Dataset, Int64InputsFromNpz) {
  test::TempDir dir;
  // A float input next to two int64 ones (token ids, a mask), as an encoder takes them.
  const std::vector<InputSpec> inputs = {
      {"ids", {1, 4}, false, true}, {"mask", {1, 4}, false, true}, {"x", {2}, true}};
  npy::Array ids;
  ids.type = npy::ElemType::kInt64;
  ids.shape = {3, 4};
  ids.data.resize(12 * sizeof(int64_t));
  for (int64_t i = 0; i < 12; ++i) ids.as<int64_t>()[i] = (int64_t{1} << 40) + i;  // beyond float's exact range
  npy::Array mask;
  mask.type = npy::ElemType::kInt32;
  mask.shape = {3, 4};
  mask.data.resize(12 * sizeof(int32_t));
  for (int64_t i = 0; i < 12; ++i) mask.as<int32_t>()[i] = i % 4 < 2;
  npy::write_npz(dir.file("d.npz"), {{"ids", ids}, {"mask", mask}, {"x", f32({3, 2})}});
  auto ds = open_dataset(dir.file("d.npz"), inputs);
  ASSERT_EQ(ds->size(), 3u);
  std::vector<int64_t> got(4);
  ds->fill_int64(1, 0, got.data(), got.size());
  EXPECT_EQ(got, (std::vector<int64_t>{(int64_t{1} << 40) + 4, (int64_t{1} << 40) + 5, (int64_t{1} << 40) + 6,
                                       (int64_t{1} << 40) + 7}));
  ds->fill_int64(2, 1, got.data(), got.size());
  EXPECT_EQ(got, (std::vector<int64_t>{1, 1, 0, 0}));
  std::vector<float> x(2);
  ds->fill(2, 2, x.data(), x.size());
  EXPECT_EQ(x, (std::vector<float>{4, 5}));
  EXPECT_EQ(ds->sample(2).at(1).data, (std::vector<float>{1, 1, 0, 0}));
  expect_error([&] { ds->fill(0, 0, x.data(), 4); }, {"'ids'", "int64"}, Status::kInternal);
  expect_error([&] { ds->fill_int64(0, 2, got.data(), 2); }, {"'x'"}, Status::kInternal);

  // float token ids, a missing member, a wrong length; images for an int64 input.
  npy::write_npz(dir.file("f.npz"), {{"ids", f32({3, 4})}, {"mask", mask}, {"x", f32({3, 2})}});
  expect_error([&] { open_dataset(dir.file("f.npz"), inputs); }, {"f.npz", "'ids'", "float32", "int64"});
  npy::write_npz(dir.file("m.npz"), {{"ids", ids}, {"x", f32({3, 2})}});
  expect_error([&] { open_dataset(dir.file("m.npz"), inputs); }, {"m.npz", "'mask'"});
  npy::Array long_ids = ids;
  long_ids.shape = {2, 6};
  npy::write_npz(dir.file("s.npz"), {{"ids", long_ids}, {"mask", mask}, {"x", f32({3, 2})}});
  expect_error([&] { open_dataset(dir.file("s.npz"), inputs); }, {"s.npz", "'ids'", "[2,6]"});
  test::TempDir images;
  expect_error([&] { open_dataset(images.path(), {{"ids", {1, 3, 4, 4}, false, true}}); }, {"'ids'", "float32"});
}

TEST(Dataset, ImageFolder) {
  test::TempDir dir;
  write_png(dir, "1.png", 2, 2, 3, std::vector<unsigned char>(12, 51));
  write_png(dir, "2.png", 3, 3, 3, std::vector<unsigned char>(27, 102));
  DatasetOptions o;
  o.mean = {0.1f};
  auto ds = open_dataset(dir.path(), kOneInput, o);
  ASSERT_EQ(ds->size(), 2u);
  std::vector<Tensor> s = ds->sample(1);
  EXPECT_EQ(s.at(0).name, "image");
  EXPECT_EQ(s[0].shape, kOneInput[0].shape);
  for (float v : s[0].data) EXPECT_NEAR(v, 0.4f - 0.1f, 1e-5f);

  const std::vector<InputSpec> nhwc = {{"x", {1, 4, 5, 3}, true}};
  EXPECT_EQ(open_dataset(dir.path(), nhwc)->sample(0).at(0).shape, (std::vector<int64_t>{1, 4, 5, 3}));

  const std::vector<InputSpec> not_image = {{"x", {1, 10}, true}};
  expect_error([&] { open_dataset(dir.path(), not_image); }, {dir.path(), "'x'", "[1,10]"});
  o.std = {1.0f, 2.0f};
  expect_error([&] { open_dataset(dir.path(), kOneInput, o); }, {"std", "'image'", "3 channels"});
  o.std = {};
  std::vector<float> buf(12);
  auto filled = open_dataset(dir.path(), kOneInput, o);
  filled->fill(0, 0, buf.data(), buf.size());
  for (float v : buf) EXPECT_NEAR(v, 0.2f - 0.1f, 1e-5f);

  // Ambiguous shapes ([1,3,4,3]) take the layout option; the size and grayscale must agree.
  const std::vector<InputSpec> ambiguous = {{"x", {1, 3, 4, 3}, true}};
  o.layout = "NHWC";
  EXPECT_EQ(open_dataset(dir.path(), ambiguous, o)->sample(0).at(0).shape, (std::vector<int64_t>{1, 3, 4, 3}));
  o.layout = "NCHW";
  EXPECT_EQ(open_dataset(dir.path(), ambiguous, o)->sample(0).at(0).shape, (std::vector<int64_t>{1, 3, 4, 3}));
  o.layout = "CHW";
  expect_error([&] { open_dataset(dir.path(), kOneInput, o); }, {"layout 'CHW'"});
  o.layout = "NCHW";
  o.resize = "2x2";
  EXPECT_EQ(open_dataset(dir.path(), kOneInput, o)->size(), 2u);
  o.resize = "3x2";
  expect_error([&] { open_dataset(dir.path(), kOneInput, o); }, {"3x2", "'image'", "[1,3,2,2]"});
  o.resize = "2by2";
  expect_error([&] { open_dataset(dir.path(), kOneInput, o); }, {"'2by2'"});
  o.resize = "";
  o.grayscale = true;
  expect_error([&] { open_dataset(dir.path(), kOneInput, o); }, {"grayscale", "'image'", "3 channels"});
  const std::vector<InputSpec> gray = {{"g", {1, 1, 2, 2}, true}};
  EXPECT_EQ(open_dataset(dir.path(), gray, o)->sample(1).at(0).shape, (std::vector<int64_t>{1, 1, 2, 2}));

  test::TempDir empty;
  expect_error([&] { open_dataset(empty.path(), kOneInput); }, {empty.path(), "no .png"});
}

TEST(Dataset, InputSpecsFromGraph) {
  ir::Graph g;
  ir::Tensor t;
  t.name = "in";
  t.dtype = ir::DType::kFloat32;
  t.shape = ir::Shape(std::vector<int64_t>{1, 3, 8, 8});
  g.inputs.push_back(g.add_tensor(t));
  std::vector<InputSpec> specs = input_specs(g);
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].name, "in");
  EXPECT_EQ(specs[0].shape, (std::vector<int64_t>{1, 3, 8, 8}));
  ir::Tensor d;
  d.name = "dyn";
  d.dtype = ir::DType::kFloat32;
  d.shape.rank_known = true;
  d.shape.dims = {ir::Dim::sym("N"), ir::Dim::known(3)};
  g.inputs.push_back(g.add_tensor(d));
  expect_error([&] { input_specs(g); }, {"'dyn'", "[N,3]"});
}

}  // namespace
}  // namespace pare::calib
