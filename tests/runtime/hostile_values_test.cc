// File values at the ends of int64 in the attributes and constant inputs that prepare turns
// into shapes (pads, strides, dilations, Slice bounds, Reshape dims, Split sizes, axes, k,
// ranges). A 128-bit reference follows the ONNX formula step by step: when every step fits
// in int64, the op must compute the reference's shape and run to its values; when a step
// does not, or the shape is not the planned one, prepare must fail with a bad-model error.
// Under UBSan (scripts/test_sanitize.sh) a wrapped product or sum on the way fails too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "runtime/op.h"
#include "runtime/ops/ops.h"
#include "tests/runtime/op_harness.h"

namespace pare::rt {
namespace {

using namespace op_harness;
using i128 = __int128;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// The ends of int64 and the powers of two where products of two dims start to wrap.
const std::vector<int64_t> kExtremes = {kMax,      kMax - 1,        kMin,      kMin + 1, int64_t{1} << 62,
                                        -(int64_t{1} << 62), int64_t{1} << 40, -(int64_t{1} << 40),
                                        int64_t{1} << 32, int64_t{1} << 31};
// The extremes that are positive (strides, dilations, pads, kernel sizes).
std::vector<int64_t> positive_extremes() {
  std::vector<int64_t> v;
  for (int64_t e : kExtremes)
    if (e > 0) v.push_back(e);
  return v;
}

std::vector<int64_t> with(std::vector<int64_t> a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A reference shape from 128-bit arithmetic is usable as a planned output when it is small.
bool small(i128 v) { return v >= 0 && v <= 64; }

// The steps of a shape formula in 128 bits, noting whether each one fits in int64.
struct Steps {
  bool fit = true;
  i128 operator()(i128 v) {
    fit = fit && v >= kMin && v <= kMax;
    return v;
  }
};

void expect_bad_model(const Status& s, const std::string& what) {
  EXPECT_FALSE(s.is_ok()) << what << ": prepare accepted it";
  if (!s.is_ok()) {
    EXPECT_EQ(s.code(), Status::kBadModel) << what << ": " << s.message();
  }
}

// ---- Slice: numpy slicing of [0, 1, ..., 6] with every start, end and step below --------

std::vector<int64_t> slice_reference(int64_t dim, i128 start, i128 end, i128 step) {
  std::vector<int64_t> out;
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<i128>(start, 0, dim);
    end = std::clamp<i128>(end, 0, dim);
    for (i128 i = start; i < end; i += step) out.push_back(static_cast<int64_t>(i));
  } else {
    start = std::clamp<i128>(start, 0, dim - 1);
    end = std::clamp<i128>(end, -1, dim - 1);
    for (i128 i = start; i > end; i += step) out.push_back(static_cast<int64_t>(i));
  }
  return out;
}

TEST(HostileValues, SliceBoundsAndStepsAtTheEndsOfInt64) {
  const int64_t dim = 7;
  const std::vector<int64_t> x = {0, 1, 2, 3, 4, 5, 6};
  const std::vector<int64_t> bounds = with(kExtremes, {-8, -7, -1, 0, 1, 3, 6, 7, 8});
  const std::vector<int64_t> steps = {1, 2, 3, -1, -2, kMax, kMin, kMin + 1, int64_t{1} << 62, -(int64_t{1} << 62)};
  int cases = 0;
  for (int64_t start : bounds)
    for (int64_t end : bounds)
      for (int64_t step : steps) {
        const std::vector<int64_t> expected = slice_reference(dim, start, end, step);
        Node n(ops::prepare_Slice, "Slice");
        n.in(make<int64_t>({dim}, x))
            .in(constant<int64_t>({1}, {start}))
            .in(constant<int64_t>({1}, {end}))
            .in(constant<int64_t>({1}, {0}))
            .in(constant<int64_t>({1}, {step}))
            .out({static_cast<int64_t>(expected.size())}, DType::kInt64);
        const Outcome r = n.run_all();
        ASSERT_TRUE(r.status.is_ok()) << start << ":" << end << ":" << step << ": " << r.status.message();
        ASSERT_EQ(r.values<int64_t>(), expected) << start << ":" << end << ":" << step;
        ++cases;
      }
  EXPECT_EQ(cases, 19 * 19 * 10);
}

// ---- Pad: a [3] input padded by (before, after) ------------------------------------------

TEST(HostileValues, PadsAtTheEndsOfInt64) {
  const std::vector<int64_t> values = with(kExtremes, {-3, -1, 0, 2});
  for (const char* mode : {"constant", "edge", "reflect"})
    for (int64_t before : values)
      for (int64_t after : values) {
        Steps step;
        const i128 length = step(step(i128{3} + before) + after);
        Node n(ops::prepare_Pad, "Pad");
        n.in(make<float>({3}, {1, 2, 3})).in(constant<int64_t>({2}, {before, after})).s("mode", mode);
        const std::string what = std::string(mode) + " pads " + std::to_string(before) + ", " + std::to_string(after);
        if (step.fit && small(length)) {
          n.out({static_cast<int64_t>(length)});
          const Outcome r = n.run_all();
          ASSERT_TRUE(r.status.is_ok()) << what << ": " << r.status.message();
          const std::vector<float> y = r.values<float>();
          for (int64_t i = 0; i < static_cast<int64_t>(length); ++i) {
            // The input index output i reads: inside, or folded back by the mode.
            i128 source = i128{i} - before;
            float want = 0.f;
            if (source >= 0 && source < 3) {
              want = static_cast<float>(source + 1);
            } else if (std::string(mode) == "edge") {
              want = source < 0 ? 1.f : 3.f;
            } else if (std::string(mode) == "reflect") {
              source = ((source % 4) + 4) % 4;  // period 2 * (3 - 1)
              want = static_cast<float>((source < 3 ? source : 4 - source) + 1);
            }
            ASSERT_EQ(y[static_cast<size_t>(i)], want) << what << " at " << i;
          }
        } else {
          n.out({5});
          expect_bad_model(n.prepare_status(), what);
        }
      }
}

// ---- Conv and MaxPool windows: [1, 1, 5, 5] input, 3x3 window ----------------------------

struct WindowCase {
  int64_t stride, dilation, pad_begin, pad_end;
  bool ceil_mode;
};

// Output length of a 3-tap window over 5 elements; -1 when no window fits or a step of
// the formula leaves int64.
i128 window_out(const WindowCase& c) {
  Steps step;
  const i128 extent = step(step(i128{2} * c.dilation) + 1);
  const i128 span = step(step(step(i128{5} + c.pad_begin) + c.pad_end) - extent);
  if (span < 0) return -1;
  i128 out = span / c.stride + (c.ceil_mode && span % c.stride != 0 ? 1 : 0) + 1;
  if (c.ceil_mode && step((out - 1) * c.stride) >= step(i128{5} + c.pad_begin)) --out;
  return step.fit ? out : -1;
}

// Input index of output o, tap k; 128-bit, so any distance from the data is representable.
i128 tap(const WindowCase& c, int64_t o, int64_t k) { return i128{o} * c.stride - c.pad_begin + i128{k} * c.dilation; }

std::vector<WindowCase> window_cases(bool ceil_modes) {
  std::vector<int64_t> strides = with(positive_extremes(), {1, 2});
  std::vector<int64_t> pads = with(positive_extremes(), {0, 1});
  std::vector<WindowCase> cases;
  for (int64_t s : strides)
    for (int64_t d : strides)
      for (int64_t pb : pads)
        for (int64_t pe : pads)
          for (int ceil = 0; ceil <= (ceil_modes ? 1 : 0); ++ceil) cases.push_back({s, d, pb, pe, ceil == 1});
  return cases;
}

std::string describe(const WindowCase& c) {
  return "stride " + std::to_string(c.stride) + " dilation " + std::to_string(c.dilation) + " pads " +
         std::to_string(c.pad_begin) + "," + std::to_string(c.pad_end) + (c.ceil_mode ? " ceil" : "");
}

// One conv layout: `channels` input channels in `group` groups (1, 1: the single-channel
// path; 2, 1: im2col and GEMM; 2, 2: depthwise), float or int8 (u8 data and output, scale 1
// in, 64 out, so the int8 result is the float sum / 64 rounded), NCHW or NHWC.
struct ConvLayout {
  int64_t channels, group;
  bool int8, nhwc;
};

// Runs Conv over a [1, C, 5, 5] input with a 3x3 kernel for every window case and ISA cap;
// returns how many cases ran (the others must have failed at prepare).
int check_conv_windows(const ConvLayout& l) {
  const int64_t c_in = l.channels, c_out = l.channels, c_per_group = c_in / l.group;
  std::vector<uint8_t> x_bytes(static_cast<size_t>(25 * c_in));
  for (size_t i = 0; i < x_bytes.size(); ++i) x_bytes[i] = static_cast<uint8_t>(1 + i % 25);
  std::vector<int8_t> w(static_cast<size_t>(c_out * c_per_group * 9));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(1 + i % 9);
  auto x_at = [&](int64_t ch, int64_t y, int64_t xx) {  // the NCHW value
    return static_cast<float>(x_bytes[static_cast<size_t>((ch * 5 + y) * 5 + xx)]);
  };
  std::vector<uint8_t> x_laid = x_bytes;
  if (l.nhwc) x_laid = to_nhwc<uint8_t>({1, c_in, 5, 5}, x_bytes);
  const Shape x_shape = l.nhwc ? Shape{1, 5, 5, c_in} : Shape{1, c_in, 5, 5};
  const std::vector<Isa> caps = l.int8 ? usable_int8_caps() : usable_caps();

  int ran = 0;
  for (const WindowCase& c : window_cases(false))
    for (Isa cap : caps) {
      Node n(ops::prepare_Conv, "Conv");
      n.isa(cap);
      if (l.int8) {
        Tensor x = make<uint8_t>(x_shape, x_laid, DType::kUInt8);
        quantize(&x.desc, {1.f}, {0});
        Tensor wt = constant<int8_t>({c_out, c_per_group, 3, 3}, w);
        quantize(&wt.desc, {1.f}, {0});
        n.in(x).in(wt);
      } else {
        std::vector<float> xf(x_laid.begin(), x_laid.end()), wf(w.begin(), w.end());
        n.in(make<float>(x_shape, xf)).in(constant<float>({c_out, c_per_group, 3, 3}, wf));
      }
      n.i("group", l.group)
          .ints("strides", {c.stride, c.stride})
          .ints("dilations", {c.dilation, c.dilation})
          .ints("pads", {c.pad_begin, c.pad_begin, c.pad_end, c.pad_end});
      if (l.nhwc) n.s("layout", "NHWC");
      const i128 out = window_out(c);
      const auto o = out >= 1 && out <= 64 ? static_cast<int64_t>(out) : 2;
      const Shape y_shape = l.nhwc ? Shape{1, o, o, c_out} : Shape{1, c_out, o, o};
      TensorDesc y = op_harness::out(l.int8 ? DType::kUInt8 : DType::kFloat32, y_shape);
      if (l.int8) quantize(&y, {64.f}, {0});
      n.out(y);
      const std::string what = describe(c) + " C" + std::to_string(c_in) + " g" + std::to_string(l.group) +
                               (l.int8 ? " int8" : " float") + (l.nhwc ? " NHWC" : " NCHW") + " " + isa_name(cap);
      if (out < 1 || out > 64) {
        expect_bad_model(n.prepare_status(), what);
        continue;
      }
      const Outcome r = n.run_all();
      EXPECT_TRUE(r.status.is_ok()) << what << ": " << r.status.message();
      if (!r.status.is_ok()) return ran;
      for (int64_t oc = 0; oc < c_out; ++oc)
        for (int64_t oy = 0; oy < o; ++oy)
          for (int64_t ox = 0; ox < o; ++ox) {
            float want = 0.f;
            const int64_t first = oc / (c_out / l.group) * c_per_group;
            for (int64_t ci = 0; ci < c_per_group; ++ci)
              for (int64_t ky = 0; ky < 3; ++ky)
                for (int64_t kx = 0; kx < 3; ++kx) {
                  const i128 iy = tap(c, oy, ky), ix = tap(c, ox, kx);
                  if (iy >= 0 && iy < 5 && ix >= 0 && ix < 5)
                    want += x_at(first + ci, static_cast<int64_t>(iy), static_cast<int64_t>(ix)) *
                            w[static_cast<size_t>(((oc * c_per_group + ci) * 3 + ky) * 3 + kx)];
                }
            const size_t at = static_cast<size_t>(l.nhwc ? (oy * o + ox) * c_out + oc : (oc * o + oy) * o + ox);
            const float got = l.int8 ? static_cast<float>(r.outputs[0][at]) : r.values<float>()[at];
            if (l.int8) want = std::min(255.f, std::nearbyint(want / 64.f));
            EXPECT_NEAR(got, want, l.int8 ? 1.f : 0.f) << what << " at " << oc << "," << oy << "," << ox;
            if (std::abs(got - want) > (l.int8 ? 1.f : 0.f)) return ran;
          }
      ++ran;
    }
  return ran;
}

TEST(HostileValues, ConvStridesDilationsPads) {
  for (const ConvLayout& l : {ConvLayout{1, 1, false, false}, ConvLayout{2, 1, false, false},
                              ConvLayout{2, 2, false, false}, ConvLayout{2, 1, false, true},
                              ConvLayout{2, 2, false, true}, ConvLayout{1, 1, true, true},
                              ConvLayout{2, 1, true, true}, ConvLayout{2, 2, true, true},
                              ConvLayout{2, 1, true, false}})
    // Huge strides with small pads still give 1x1 or 2x2 outputs.
    EXPECT_GT(check_conv_windows(l), 50) << "C" << l.channels << " g" << l.group << (l.int8 ? " int8" : " float")
                                         << (l.nhwc ? " NHWC" : " NCHW");
}

TEST(HostileValues, MaxPoolStridesDilationsPadsCeilMode) {
  const std::vector<float> x = iota(25, 1.f);
  int ran = 0;
  for (const WindowCase& c : window_cases(true))
    for (Isa cap : usable_caps()) {
      Node n(ops::prepare_MaxPool, "MaxPool");
      n.isa(cap);
      n.in(make<float>({1, 1, 5, 5}, x))
          .ints("kernel_shape", {3, 3})
          .ints("strides", {c.stride, c.stride})
          .ints("dilations", {c.dilation, c.dilation})
          .ints("pads", {c.pad_begin, c.pad_begin, c.pad_end, c.pad_end})
          .i("ceil_mode", c.ceil_mode ? 1 : 0);
      const i128 out = window_out(c);
      if (out < 1 || out > 64) {
        n.out({1, 1, 2, 2});
        expect_bad_model(n.prepare_status(), describe(c));
        continue;
      }
      const auto o = static_cast<int64_t>(out);
      n.out({1, 1, o, o});
      const Outcome r = n.run_all();
      ASSERT_TRUE(r.status.is_ok()) << describe(c) << ": " << r.status.message();
      const std::vector<float> y = r.values<float>();
      for (int64_t oy = 0; oy < o; ++oy)
        for (int64_t ox = 0; ox < o; ++ox) {
          float want = -std::numeric_limits<float>::infinity();
          for (int64_t ky = 0; ky < 3; ++ky)
            for (int64_t kx = 0; kx < 3; ++kx) {
              const i128 iy = tap(c, oy, ky), ix = tap(c, ox, kx);
              if (iy >= 0 && iy < 5 && ix >= 0 && ix < 5) want = std::max(want, x[static_cast<size_t>(iy * 5 + ix)]);
            }
          ASSERT_EQ(y[static_cast<size_t>(oy * o + ox)], want) << describe(c) << " at " << oy << "," << ox;
        }
      ++ran;
    }
  EXPECT_GT(ran, 100);
}

// Average and max pooling with window sizes near 2^63 over 5 values: a window mostly in the
// pads must cost what it reads (the kernels count the pad taps instead of visiting them), and
// both divisors (count_include_pad 0 and 1) must match the reference.
TEST(HostileValues, PoolKernelSizesAtTheEndsOfInt64) {
  const std::vector<float> x = {1, 2, 3, 4, 5};
  int ran = 0;
  for (int64_t k : with(positive_extremes(), {1, 3, 5}))
    for (int64_t pad : with(positive_extremes(), {0, 1}))
      for (int64_t stride : {int64_t{1}, int64_t{3}, kMax})
        for (const char* op : {"AveragePool", "MaxPool"})
          for (int64_t include_pad : {0, 1})
            for (Isa cap : usable_caps()) {
              if (std::string(op) == "MaxPool" && include_pad == 1) continue;
              Steps step;
              const i128 span = step(step(step(i128{5} + pad) + pad) - k);
              const i128 out = span < 0 ? -1 : span / stride + 1;
              Node n(std::string(op) == "MaxPool" ? ops::prepare_MaxPool : ops::prepare_AveragePool, op);
              n.isa(cap);
              n.in(make<float>({1, 1, 5}, x)).ints("kernel_shape", {k}).ints("strides", {stride}).ints("pads", {pad, pad});
              if (std::string(op) == "AveragePool") n.i("count_include_pad", include_pad);
              const std::string what = std::string(op) + " kernel " + std::to_string(k) + " pads " +
                                       std::to_string(pad) + " stride " + std::to_string(stride) +
                                       (include_pad ? " count_include_pad" : "") + " " + isa_name(cap);
              if (!step.fit || out < 1 || out > 64) {
                n.out({1, 1, 2});
                expect_bad_model(n.prepare_status(), what);
                continue;
              }
              const auto o = static_cast<int64_t>(out);
              n.out({1, 1, o});
              const Outcome r = n.run_all();
              ASSERT_TRUE(r.status.is_ok()) << what << ": " << r.status.message();
              const std::vector<float> y = r.values<float>();
              for (int64_t i = 0; i < o; ++i) {
                const i128 first = i128{i} * stride - pad, end = first + k;  // window [first, end)
                const i128 lo = std::max<i128>(first, 0), hi = std::min<i128>(end, 5);
                float sum = 0.f, best = -std::numeric_limits<float>::infinity();
                for (i128 j = lo; j < hi; ++j) {
                  sum += x[static_cast<size_t>(j)];
                  best = std::max(best, x[static_cast<size_t>(j)]);
                }
                const i128 padded = std::min<i128>(end, 5 + pad) - std::max<i128>(first, -pad);
                const i128 divisor = include_pad ? padded : std::max<i128>(hi - lo, 0);
                const float want = std::string(op) == "MaxPool" ? best
                                   : divisor > 0 ? sum / static_cast<float>(divisor) : 0.f;
                ASSERT_EQ(y[static_cast<size_t>(i)], want) << what << " at " << i;
              }
              ++ran;
            }
  EXPECT_GT(ran, 20);
}

TEST(HostileValues, ConvTransposeGeometry) {
  const std::vector<int64_t> values = with(positive_extremes(), {1, 2});
  for (int64_t stride : values)
    for (int64_t dilation : values)
      for (int64_t pad : with(positive_extremes(), {0}))
        for (int64_t output_padding : {int64_t{0}, int64_t{1}, kMax}) {
          // Full length 2 * stride + output_padding + 2 * dilation + 1 over 3 inputs, less pads.
          Steps step;
          const i128 full = step(step(step(step(i128{2} * stride) + output_padding) + step(i128{2} * dilation)) + 1);
          const i128 out = step(step(full - pad) - pad);
          Node n(ops::prepare_ConvTranspose, "ConvTranspose");
          n.in(make<float>({1, 1, 3}, {1, 2, 3}))
              .in(constant<float>({1, 1, 3}, {1, 1, 1}))
              .ints("strides", {stride})
              .ints("dilations", {dilation})
              .ints("pads", {pad, pad})
              .ints("output_padding", {output_padding});
          const std::string what = "stride " + std::to_string(stride) + " dilation " + std::to_string(dilation) +
                                   " pad " + std::to_string(pad) + " output_padding " + std::to_string(output_padding);
          if (step.fit && out >= 1 && out <= 64) {
            n.out({1, 1, static_cast<int64_t>(out)});
            EXPECT_TRUE(n.run_all().status.is_ok()) << what;
          } else {
            n.out({1, 1, 9});
            expect_bad_model(n.prepare_status(), what);
          }
        }
  // output_shape given: pads follow from it, whatever its size.
  for (int64_t size : kExtremes) {
    Node n(ops::prepare_ConvTranspose, "ConvTranspose");
    n.in(make<float>({1, 1, 3}, {1, 2, 3})).in(constant<float>({1, 1, 3}, {1, 1, 1})).ints("strides", {kMax});
    n.ints("output_shape", {size}).out({1, 1, 5});
    expect_bad_model(n.prepare_status(), "output_shape " + std::to_string(size));
  }
}

// ---- shapes from constants ---------------------------------------------------------------

TEST(HostileValues, ReshapeSplitTileExpandConstantOfShape) {
  for (int64_t a : with(kExtremes, {-1, 0, 2}))
    for (int64_t b : kExtremes) {
      const std::string what = std::to_string(a) + ", " + std::to_string(b);
      for (int64_t allowzero : {0, 1}) {
        Node n(ops::prepare_Reshape, "Reshape");
        n.in(make<float>({2, 3}, iota(6))).in(constant<int64_t>({2}, {a, b})).i("allowzero", allowzero).out({2, 3});
        expect_bad_model(n.prepare_status(), "Reshape to " + what);
      }
      {
        Node n(ops::prepare_Split, "Split");
        n.in(make<float>({6}, iota(6))).in(constant<int64_t>({2}, {a, b})).out({3}).out({3});
        expect_bad_model(n.prepare_status(), "Split " + what);
      }
      {
        Node n(ops::prepare_Tile, "Tile");
        n.in(make<float>({2, 3}, iota(6))).in(constant<int64_t>({2}, {a, b})).out({2, 3});
        expect_bad_model(n.prepare_status(), "Tile " + what);
      }
      {
        Node n(ops::prepare_Expand, "Expand");
        n.in(make<float>({2, 3}, iota(6))).in(constant<int64_t>({2}, {a, b})).out({2, 3});
        expect_bad_model(n.prepare_status(), "Expand to " + what);
      }
      {
        Node n(ops::prepare_ConstantOfShape, "ConstantOfShape");
        n.in(constant<int64_t>({2}, {a, b})).out({2, 3});
        expect_bad_model(n.prepare_status(), "ConstantOfShape " + what);
      }
      {
        Node n(ops::prepare_Resize, "Resize");
        n.in(make<float>({2, 3}, iota(6))).in(absent()).in(absent()).in(constant<int64_t>({2}, {a, b})).out({2, 3});
        expect_bad_model(n.prepare_status(), "Resize to " + what);
      }
    }
}

TEST(HostileValues, AxesKAndRanges) {
  for (int64_t v : kExtremes) {
    const std::string what = std::to_string(v);
    auto x = [] { return make<float>({2, 3}, iota(6)); };
    {
      Node n(ops::prepare_Concat, "Concat");
      n.in(x()).in(x()).i("axis", v).out({4, 3});
      expect_bad_model(n.prepare_status(), "Concat axis " + what);
    }
    {
      Node n(ops::prepare_Softmax, "Softmax");
      n.in(x()).i("axis", v).out({2, 3});
      expect_bad_model(n.prepare_status(), "Softmax axis " + what);
    }
    {
      Node n(ops::prepare_Flatten, "Flatten");
      n.in(x()).i("axis", v).out({2, 3});
      expect_bad_model(n.prepare_status(), "Flatten axis " + what);
    }
    {
      Node n(ops::prepare_Gather, "Gather");
      n.in(x()).in(constant<int64_t>({1}, {0})).i("axis", v).out({1, 3});
      expect_bad_model(n.prepare_status(), "Gather axis " + what);
    }
    {
      Node n(ops::prepare_Gather, "Gather");
      n.in(x()).in(constant<int64_t>({1}, {v})).out({1, 3});
      expect_bad_model(n.prepare_status(), "Gather constant index " + what);
    }
    {
      Node n(ops::prepare_ReduceSum, "ReduceSum");
      n.in(x()).in(constant<int64_t>({1}, {v})).out({1, 3});
      expect_bad_model(n.prepare_status(), "ReduceSum axes " + what);
    }
    {
      Node n(ops::prepare_Unsqueeze, "Unsqueeze");
      n.in(x()).in(constant<int64_t>({1}, {v})).out({1, 2, 3});
      expect_bad_model(n.prepare_status(), "Unsqueeze axes " + what);
    }
    {
      Node n(ops::prepare_Transpose, "Transpose");
      n.in(x()).ints("perm", {v, 0}).out({3, 2});
      expect_bad_model(n.prepare_status(), "Transpose perm " + what);
    }
    {
      Node n(ops::prepare_CumSum, "CumSum");
      n.in(x()).in(constant<int64_t>({}, {v})).out({2, 3});
      expect_bad_model(n.prepare_status(), "CumSum axis " + what);
    }
    {
      Node n(ops::prepare_TopK, "TopK");
      n.in(x()).in(constant<int64_t>({1}, {v})).out({2, 3}).out({2, 3}, DType::kInt64);
      expect_bad_model(n.prepare_status(), "TopK k " + what);
    }
    for (int64_t limit : kExtremes) {
      // Step 1 from v to limit: max(limit - v, 0) elements, never the planned 2 here.
      ASSERT_NE(i128{limit} - v, 2);
      Node n(ops::prepare_Range, "Range");
      n.in(constant<int64_t>({}, {v})).in(constant<int64_t>({}, {limit})).in(constant<int64_t>({}, {1})).out({2}, DType::kInt64);
      expect_bad_model(n.prepare_status(), "Range " + what + " to " + std::to_string(limit));
    }
  }
}

// Gather's indices from an input are checked when it runs: out of range is an error naming
// the index, not a read outside the data.
TEST(HostileValues, GatherIndicesOutOfRangeAtRunTime) {
  for (int64_t v : with(kExtremes, {-3, 2})) {
    Node n(ops::prepare_Gather, "Gather");
    n.in(make<float>({2, 3}, iota(6))).in(make<int64_t>({1}, {v})).out({1, 3});
    const Outcome r = n.run_all();
    EXPECT_EQ(r.status.code(), Status::kInvalidArgument) << v;
    EXPECT_NE(r.status.message().find("index " + std::to_string(v) + " is out of range"), std::string::npos)
        << r.status.message();
  }
}

}  // namespace
}  // namespace pare::rt
