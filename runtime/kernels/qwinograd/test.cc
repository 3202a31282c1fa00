// Int8 Winograd F(2x2, 3x3): every variant usable on this CPU, the reference included, gives
// the direct 3x3 convolution's bytes exactly (computed here in int64 and requantized as
// qgemm's arithmetic does), over input channels around the 16-lane chunks, output channels
// around the 8- and 16-column vectors, images smaller than a tile and odd sizes (tiles
// clipped at the edges), pads 0 and 1, two images, uint8 and int8 inputs, the ReLU clamp,
// and tile ranges split unevenly (each range's matrices start at its first tile). Then the
// extremes: 1024 input channels of 255 (or -128) against weights of -128 and 127, where the
// int32 sums wrap and the result must still be exact; and the AVX2 pieces against the
// reference's intermediate matrices.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/isa_coverage_test.h"
#include "runtime/kernels/quant/requant.h"
#include "runtime/kernels/qwinograd/qwinograd.h"
#include "runtime/kernels/winograd/winograd.h"

namespace pare::rt::kernels {
namespace {

std::vector<const Q8WinogradVariant*> usable_variants() {
  size_t count = 0;
  const Q8WinogradVariant* all = q8_winograd_variants(&count);
  std::vector<const Q8WinogradVariant*> out;
  for (size_t i = 0; i < count; ++i)
    if (isa_usable(all[i].isa, all[i].isa)) out.push_back(&all[i]);
  return out;
}

struct Problem {
  ConvGeometry g;
  bool flip = false;          // int8 X
  int32_t x_zero_point = 0;   // in the uint8 domain the kernels read
  int32_t y_zero_point = 0, lo = 0, hi = 255;
  std::vector<uint8_t> x;
  std::vector<int8_t> w;      // [Cout, Cin, 3, 3]
  std::vector<int32_t> bias, multipliers, shifts;  // cout_pad entries
};

ConvGeometry geometry(int64_t batch, int64_t h, int64_t w, int64_t pad, int64_t cin, int64_t cout) {
  ConvGeometry g;
  g.batch = batch;
  g.in_channels = cin;
  g.out_channels = cout;
  g.in_size[1] = h;
  g.in_size[2] = w;
  g.kernel[1] = g.kernel[2] = 3;
  g.pad_begin[1] = g.pad_begin[2] = pad;
  g.out_size[1] = h + 2 * pad - 2;
  g.out_size[2] = w + 2 * pad - 2;
  return g;
}

std::string describe(const Problem& p) {
  const ConvGeometry& g = p.g;
  return std::to_string(g.batch) + "x" + std::to_string(g.in_size[1]) + "x" + std::to_string(g.in_size[2]) + "x" +
         std::to_string(g.in_channels) + " -> " + std::to_string(g.out_channels) + " pad " +
         std::to_string(g.pad_begin[1]) + (p.flip ? " int8" : " uint8") + " zp " + std::to_string(p.x_zero_point);
}

Problem random_problem(const ConvGeometry& g, bool flip, bool relu, std::mt19937* rng) {
  Problem p;
  p.g = g;
  p.flip = flip;
  std::uniform_int_distribution<int> byte(0, 255), weight(-128, 127), bias(-20000, 20000);
  p.x_zero_point = byte(*rng);
  p.y_zero_point = byte(*rng) / 2 + 64;
  if (relu) p.lo = p.y_zero_point;
  p.x.resize(static_cast<size_t>(g.batch * g.in_size[1] * g.in_size[2] * g.in_channels));
  for (uint8_t& v : p.x) v = static_cast<uint8_t>(byte(*rng));
  p.w.resize(static_cast<size_t>(g.out_channels * g.in_channels * 9));
  for (int8_t& v : p.w) v = static_cast<int8_t>(weight(*rng));
  const size_t cout_pad = q8_winograd_cout_pad(g.out_channels);
  p.bias.assign(cout_pad, 0);
  p.multipliers.assign(cout_pad, 0);
  p.shifts.assign(cout_pad, 31);
  std::uniform_real_distribution<double> scale(1e-5, 4e-3);
  for (size_t c = 0; c < static_cast<size_t>(g.out_channels); ++c) {
    Requant rq;
    EXPECT_TRUE(requant_from_scale(scale(*rng), &rq));
    p.bias[c] = bias(*rng);
    p.multipliers[c] = rq.multiplier;
    p.shifts[c] = rq.shift;
  }
  return p;
}

// The direct convolution, exact in int64, requantized as qgemm does (int32 accumulator).
std::vector<uint8_t> direct(const Problem& p) {
  const ConvGeometry& g = p.g;
  const int64_t cin = g.in_channels, cout = g.out_channels, in_h = g.in_size[1], in_w = g.in_size[2];
  const int64_t out_h = g.out_size[1], out_w = g.out_size[2], pad = g.pad_begin[1];
  std::vector<uint8_t> y(static_cast<size_t>(g.batch * out_h * out_w * cout));
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t oy = 0; oy < out_h; ++oy)
      for (int64_t ox = 0; ox < out_w; ++ox)
        for (int64_t co = 0; co < cout; ++co) {
          int64_t acc = p.bias[static_cast<size_t>(co)];
          for (int64_t ky = 0; ky < 3; ++ky)
            for (int64_t kx = 0; kx < 3; ++kx) {
              const int64_t iy = oy + ky - pad, ix = ox + kx - pad;
              if (iy < 0 || iy >= in_h || ix < 0 || ix >= in_w) continue;
              for (int64_t ci = 0; ci < cin; ++ci) {
                const int32_t xv = (p.x[static_cast<size_t>(((n * in_h + iy) * in_w + ix) * cin + ci)] ^
                                    (p.flip ? 0x80 : 0)) - p.x_zero_point;
                acc += int64_t{xv} * p.w[static_cast<size_t>(((co * cin + ci) * 3 + ky) * 3 + kx)];
              }
            }
          EXPECT_EQ(acc, static_cast<int32_t>(acc)) << "the test's own problem overflows int32";
          const Requant rq{p.multipliers[static_cast<size_t>(co)], p.shifts[static_cast<size_t>(co)]};
          y[static_cast<size_t>(((n * out_h + oy) * out_w + ox) * cout + co)] =
              static_cast<uint8_t>(requantize(static_cast<int32_t>(acc), rq, p.y_zero_point, p.lo, p.hi));
        }
  return y;
}

// The variant's three steps over tile ranges [cuts[i], cuts[i + 1]), as the op runs a block.
std::vector<uint8_t> winograd(const Q8WinogradVariant& v, const Problem& p, const std::vector<int64_t>& cuts) {
  const ConvGeometry& g = p.g;
  const size_t cin_pad = q8_winograd_cin_pad(g.in_channels), cout_pad = q8_winograd_cout_pad(g.out_channels);
  std::vector<int16_t> packed(q8_winograd_packed_weight_elements(g.in_channels, g.out_channels));
  q8_winograd_pack_weight(g.in_channels, g.out_channels, p.w.data(), packed.data());
  std::vector<uint8_t> y(static_cast<size_t>(g.batch * g.out_size[1] * g.out_size[2] * g.out_channels), 0xA5);
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    const int64_t t0 = cuts[i], t1 = cuts[i + 1];
    const auto rows = static_cast<size_t>(t1 - t0);
    const size_t v_stride = rows * cin_pad + 48, m_stride = rows * cout_pad + 24;  // not back to back
    std::vector<int16_t> vm(16 * v_stride, 0x5A5A);
    std::vector<int32_t> mm(16 * m_stride, 0x5A5A5A5A);
    v.input(g, p.x.data(), p.flip, p.x_zero_point, t0, t1, vm.data(), static_cast<int64_t>(v_stride));
    for (size_t e = 0; e < 16; ++e)
      v.gemm(rows, cin_pad, static_cast<size_t>(g.out_channels), vm.data() + e * v_stride,
             packed.data() + e * cin_pad * cout_pad, mm.data() + e * m_stride);
    v.output(g, mm.data(), static_cast<int64_t>(m_stride), p.bias.data(), p.multipliers.data(), p.shifts.data(),
             p.y_zero_point, p.lo, p.hi, t0, t1, y.data());
  }
  return y;
}

std::vector<int64_t> cuts_of(int64_t tiles, int64_t step) {
  std::vector<int64_t> cuts;
  for (int64_t t = 0; t < tiles; t += step) cuts.push_back(t);
  cuts.push_back(tiles);
  return cuts;
}

TEST(Q8Winograd, EqualsTheDirectConvolution) {
  const auto variants = usable_variants();
  ASSERT_FALSE(variants.empty());
  struct Image {
    int64_t batch, h, w, pad;
  };
  const Image images[] = {{1, 1, 1, 1}, {1, 2, 3, 1}, {2, 5, 7, 1}, {1, 6, 6, 0}, {1, 9, 4, 0}, {2, 8, 11, 1}};
  const int64_t in_channels[] = {1, 15, 16, 17, 33, 64};
  const int64_t out_channels[] = {1, 7, 8, 9, 16, 17, 40};
  std::mt19937 rng(7);
  size_t checked = 0;
  for (const Image& im : images)
    for (int64_t cin : in_channels)
      for (int64_t cout : out_channels) {
        const ConvGeometry g = geometry(im.batch, im.h, im.w, im.pad, cin, cout);
        if (g.out_size[1] < 1 || g.out_size[2] < 1) continue;
        const bool flip = (cin + cout) % 2 == 0, relu = cout % 3 == 0;
        const Problem p = random_problem(g, flip, relu, &rng);
        const std::vector<uint8_t> expected = direct(p);
        const int64_t tiles = f32_conv_winograd_f23_tiles(g);
        for (const Q8WinogradVariant* v : variants)
          for (int64_t step : {tiles, int64_t{1}, int64_t{5}, int64_t{7}}) {
            ASSERT_EQ(winograd(*v, p, cuts_of(tiles, step)), expected)
                << v->name << " " << describe(p) << " tiles in steps of " << step;
            ++checked;
          }
      }
  EXPECT_GT(checked, 500u);
}

// 4 * conv near +-2^30 with partial sums past int32 in between.
TEST(Q8Winograd, ExactAtTheChannelLimit) {
  for (const Q8WinogradVariant* v : usable_variants())
    for (const auto& [x_byte, w_value, flip] :
         {std::tuple<uint8_t, int8_t, bool>{255, -128, false}, {255, 127, false}, {0x00, -128, true}, {0x7F, 127, true}}) {
      const ConvGeometry g = geometry(1, 4, 5, 1, kQ8WinogradMaxChannels, 9);
      std::mt19937 rng(3);
      Problem p = random_problem(g, flip, false, &rng);
      p.x_zero_point = 0;
      std::fill(p.x.begin(), p.x.end(), x_byte);
      std::fill(p.w.begin(), p.w.end(), w_value);
      // Alternate channels' signs in one output so that the 16 products' sums swing widely.
      for (size_t i = 0; i < p.w.size(); i += 18) p.w[i] = static_cast<int8_t>(-w_value - (w_value < 0 ? 1 : 0));
      for (size_t c = 0; c < 9; ++c) {
        Requant rq;
        ASSERT_TRUE(requant_from_scale(1e-7, &rq));
        p.multipliers[c] = rq.multiplier;
        p.shifts[c] = rq.shift;
      }
      const int64_t tiles = f32_conv_winograd_f23_tiles(g);
      EXPECT_EQ(winograd(*v, p, cuts_of(tiles, tiles)), direct(p)) << v->name << " " << describe(p);
    }
}

// The AVX2 pieces against the reference's: the same int16 V and int32 M, element for element.
TEST(Q8Winograd, StepsMatchTheReference) {
  const ConvGeometry g = geometry(2, 7, 6, 1, 33, 20);
  std::mt19937 rng(11);
  const Problem p = random_problem(g, true, false, &rng);
  const int64_t tiles = f32_conv_winograd_f23_tiles(g);
  const size_t cin_pad = q8_winograd_cin_pad(g.in_channels), cout_pad = q8_winograd_cout_pad(g.out_channels);
  const size_t rows = static_cast<size_t>(tiles - 1), v_stride = rows * cin_pad + 16;
  std::vector<int16_t> packed(q8_winograd_packed_weight_elements(g.in_channels, g.out_channels));
  q8_winograd_pack_weight(g.in_channels, g.out_channels, p.w.data(), packed.data());
  const Q8WinogradVariant& ref = *usable_variants().back();
  ASSERT_EQ(ref.isa, Isa::kScalar);
  std::vector<int16_t> v_ref(16 * v_stride);
  ref.input(g, p.x.data(), p.flip, p.x_zero_point, 1, tiles, v_ref.data(), static_cast<int64_t>(v_stride));
  std::vector<int32_t> m_ref(rows * cout_pad);
  ref.gemm(rows, cin_pad, static_cast<size_t>(g.out_channels), v_ref.data() + 5 * v_stride,
           packed.data() + 5 * cin_pad * cout_pad, m_ref.data());
  for (const Q8WinogradVariant* v : usable_variants()) {
    std::vector<int16_t> v_got(16 * v_stride);
    v->input(g, p.x.data(), p.flip, p.x_zero_point, 1, tiles, v_got.data(), static_cast<int64_t>(v_stride));
    for (size_t e = 0; e < 16; ++e)
      for (size_t r = 0; r < rows; ++r)  // lanes past Cin may differ: they meet zero weights
        for (size_t c = 0; c < static_cast<size_t>(g.in_channels); ++c)
          ASSERT_EQ(v_got[e * v_stride + r * cin_pad + c], v_ref[e * v_stride + r * cin_pad + c])
              << v->name << " V_" << e << " row " << r << " channel " << c;
    std::vector<int32_t> m_got(rows * cout_pad);
    v->gemm(rows, cin_pad, static_cast<size_t>(g.out_channels), v_ref.data() + 5 * v_stride,
            packed.data() + 5 * cin_pad * cout_pad, m_got.data());
    EXPECT_EQ(m_got, m_ref) << v->name;
  }
}

TEST(Q8Winograd, SelectionFollowsTheIsaCap) {
  EXPECT_EQ(select_q8_winograd(Isa::kScalar).isa, Isa::kScalar);
  for (const Q8WinogradVariant* v : usable_variants()) EXPECT_EQ(select_q8_winograd(v->isa).isa, v->isa);
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(q8_winograd, isa_coverage::cases(q8_winograd_variants,
                                                   [](const Q8WinogradVariant& v) { return v.name; }));

}  // namespace
}  // namespace pare::rt::kernels
