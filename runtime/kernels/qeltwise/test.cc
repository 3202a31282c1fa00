// Int8 elementwise kernels: the reference against the formulas of qeltwise.h on hand-picked
// values (ties to even, NaN, infinities, saturation), then every variant usable on this CPU
// bit for bit against the reference over lengths around the vector widths, steps 0 and 1 for
// each operand, signed and unsigned operands and extreme zero points.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/isa_coverage_test.h"
#include "runtime/kernels/qeltwise/qeltwise.h"

namespace pare::rt::kernels {
namespace {

const size_t kLengths[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 127, 129, 1000};

std::vector<const Q8EltwiseVariant*> usable_variants() {
  size_t count = 0;
  const Q8EltwiseVariant* all = q8_eltwise_variants(&count);
  std::vector<const Q8EltwiseVariant*> out;
  for (size_t i = 1; i < count; ++i)
    if (isa_usable(all[i].isa, all[i].isa)) out.push_back(&all[i]);
  return out;
}

std::vector<uint8_t> random_bytes(size_t n, std::mt19937* rng) {
  std::uniform_int_distribution<int> dist(0, 255);
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) b = static_cast<uint8_t>(dist(*rng));
  return v;
}

std::vector<uint8_t> quantize_ref(const std::vector<float>& x, const Q8QuantizeParams& p) {
  std::vector<uint8_t> y(x.size());
  q8_quantize_ref(x.size(), x.data(), p, y.data());
  return y;
}

TEST(Q8Eltwise, ReferenceQuantizeRoundsTiesToEvenAndSaturates) {
  Q8QuantizeParams p;
  p.scale = 1.f;
  p.zero_point = 0;
  const std::vector<float> x = {0.5f, 1.5f, 2.5f, 3.5f, -0.5f, 254.5f, 255.5f, 300.f, -3.f, 1e30f,
                                std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                                std::numeric_limits<float>::quiet_NaN()};
  const std::vector<uint8_t> want = {0, 2, 2, 4, 0, 254, 255, 255, 0, 255, 255, 0, 0};
  EXPECT_EQ(quantize_ref(x, p), want);
  // int8 with a zero point: NaN gives the zero point, -inf the minimum.
  p.zero_point = -3;
  p.lo = -128;
  p.hi = 127;
  const std::vector<uint8_t> s = quantize_ref({2.5f, -130.f, std::numeric_limits<float>::quiet_NaN(),
                                               -std::numeric_limits<float>::infinity(), 200.f}, p);
  EXPECT_EQ(static_cast<int8_t>(s[0]), -1);
  EXPECT_EQ(static_cast<int8_t>(s[1]), -128);
  EXPECT_EQ(static_cast<int8_t>(s[2]), -3);
  EXPECT_EQ(static_cast<int8_t>(s[3]), -128);
  EXPECT_EQ(static_cast<int8_t>(s[4]), 127);
  // A true division: 0.3 / 0.1 is 2.9999998 in float, 0.3 * (1 / 0.1) is 3.
  p = Q8QuantizeParams{};
  p.scale = 0.2f;
  EXPECT_EQ(quantize_ref({0.5f}, p)[0], 2);  // 2.5 -> 2
  p.scale = 0.5f;
  EXPECT_EQ(quantize_ref({1.75f}, p)[0], 4);  // 3.5 -> 4
}

TEST(Q8Eltwise, ReferenceBinaryAndDequantize) {
  const uint8_t a[] = {0x80, 10}, b[] = {3, 250};
  float f[2];
  q8_dequantize_ref(2, a, true, -2, 0.5f, f);
  EXPECT_EQ(f[0], -63.f);  // (-128 + 2) * 0.5
  EXPECT_EQ(f[1], 6.f);
  Q8BinaryParams p;
  p.a_signed = true;
  p.a_zero_point = -128;
  p.b_zero_point = 3;
  p.a_multiplier = 0.5f;
  p.b_multiplier = 0.25f;
  p.y_zero_point = 10;
  uint8_t y[2];
  q8_add_ref(2, a, 1, b, 1, p, y);
  EXPECT_EQ(y[0], 10);                      // 0 + 0
  EXPECT_EQ(y[1], 10 + 69 + 62);            // 138 * 0.5 + 247 * 0.25 = 69 + 61.75
  p.a_multiplier = 1.f / 64;
  q8_mul_ref(2, a, 1, b, 0, p, y);          // b broadcast: (q - za) * 0 everywhere
  EXPECT_EQ(y[0], 10);
  EXPECT_EQ(y[1], 10);
  uint8_t table[256];
  for (int i = 0; i < 256; ++i) table[i] = static_cast<uint8_t>(255 - i);
  q8_lookup_ref(2, b, table, y);
  EXPECT_EQ(y[0], 252);
  EXPECT_EQ(y[1], 5);
}

TEST(Q8Eltwise, SelectHonoursTheCap) {
  EXPECT_STREQ(select_q8_eltwise(Isa::kScalar).isa_name, "scalar");
  const Q8EltwiseVariant& best = select_q8_eltwise(best_isa());
  EXPECT_TRUE(isa_usable(best.isa, best_isa()));
  std::string names;
  for (const Q8EltwiseVariant* v : usable_variants()) names += std::string(" ") + v->isa_name;
  std::cout << "vector variants usable here:" << names << "\n";
}

TEST(Q8Eltwise, QuantizeMatchesReference) {
  std::mt19937 rng(1);
  std::vector<float> special = {0.f, -0.f, 0.5f, 1.5f, 2.5f, 3.5f, -2.5f, -3.5f, 127.5f, 128.5f, -128.5f,
                                255.5f, 1e-40f, 1e20f, -1e20f, 3.4e38f, -3.4e38f,
                                std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                                std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN()};
  struct P { float scale; int32_t zp, lo, hi; };
  const P params[] = {{1.f, 0, 0, 255},     {1.f, 255, 0, 255},   {0.5f, 128, 0, 255}, {0.0173f, 3, 0, 255},
                      {1.f, -128, -128, 127}, {1.f, 127, -128, 127}, {0.1f, 0, -128, 127}, {1e-30f, 0, -128, 127},
                      {0.25f, 0, -127, 127}};
  for (const Q8EltwiseVariant* v : usable_variants()) {
    for (const P& pp : params) {
      Q8QuantizeParams p;
      p.scale = pp.scale;
      p.zero_point = pp.zp;
      p.lo = pp.lo;
      p.hi = pp.hi;
      for (size_t n : kLengths) {
        std::uniform_real_distribution<float> dist(-300.f * pp.scale, 300.f * pp.scale);
        std::vector<float> x(n);
        for (size_t i = 0; i < n; ++i) {
          // Half-integers (ties) in units of the scale, specials, and random values.
          const int kind = static_cast<int>(rng() % 4);
          if (kind == 0) x[i] = special[rng() % special.size()];
          else if (kind == 1) x[i] = (static_cast<float>(static_cast<int>(rng() % 600) - 300) + 0.5f) * pp.scale;
          else x[i] = dist(rng);
        }
        std::vector<uint8_t> want(n + 1, 0xA5), got(n + 1, 0xA5);
        q8_quantize_ref(n, x.data(), p, want.data());
        v->quantize(n, x.data(), p, got.data());
        ASSERT_EQ(got, want) << v->isa_name << " n=" << n << " scale=" << pp.scale << " zp=" << pp.zp;
      }
    }
  }
}

TEST(Q8Eltwise, DequantizeMatchesReference) {
  std::mt19937 rng(2);
  for (const Q8EltwiseVariant* v : usable_variants()) {
    for (bool is_signed : {false, true}) {
      for (int32_t zp : {0, 1, is_signed ? -128 : 255, is_signed ? 127 : 128}) {
        for (size_t n : kLengths) {
          const std::vector<uint8_t> x = random_bytes(n, &rng);
          std::vector<float> want(n + 1, -7.f), got(n + 1, -7.f);
          q8_dequantize_ref(n, x.data(), is_signed, zp, 0.0371f, want.data());
          v->dequantize(n, x.data(), is_signed, zp, 0.0371f, got.data());
          ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)))
              << v->isa_name << " n=" << n << " signed=" << is_signed << " zp=" << zp;
        }
      }
    }
  }
}

void check_binary(bool mul) {
  std::mt19937 rng(mul ? 4 : 3);
  struct M { float a, b; };
  // Multipliers: plain, output scale finer than the inputs (saturation), tiny, ones (ties).
  const M mults[] = {{0.7f, 0.3f}, {3.1f, 5.7f}, {1e-6f, 2e-6f}, {1.f, 1.f}, {0.5f, 0.5f}, {1.f / 255, 0.0039f}};
  for (const Q8EltwiseVariant* v : usable_variants()) {
    const Q8BinaryFn fn = mul ? v->mul : v->add;
    const Q8BinaryFn ref = mul ? q8_mul_ref : q8_add_ref;
    for (int signs = 0; signs < 8; ++signs) {
      Q8BinaryParams p;
      p.a_signed = signs & 1;
      p.b_signed = signs & 2;
      p.y_signed = signs & 4;
      for (int zps = 0; zps < 3; ++zps) {
        // Zero points: the low end, the high end, and random.
        auto zp = [&](bool s) {
          if (zps == 0) return s ? -128 : 0;
          if (zps == 1) return s ? 127 : 255;
          return static_cast<int32_t>(rng() % 256) + (s ? -128 : 0);
        };
        p.a_zero_point = zp(p.a_signed);
        p.b_zero_point = zp(p.b_signed);
        p.y_zero_point = zp(p.y_signed);
        const M& m = mults[rng() % (sizeof(mults) / sizeof(mults[0]))];
        p.a_multiplier = mul ? m.a * m.b : m.a;
        p.b_multiplier = m.b;
        p.lo = p.y_signed ? -128 : 0;
        p.hi = p.y_signed ? 127 : 255;
        if (rng() % 2) p.lo = std::min(p.hi, std::max(p.lo, p.y_zero_point));  // a fused Relu
        for (size_t n : kLengths) {
          for (size_t a_step : {0, 1}) {
            for (size_t b_step : {0, 1}) {
              const std::vector<uint8_t> a = random_bytes(std::max<size_t>(n, 1), &rng);
              const std::vector<uint8_t> b = random_bytes(std::max<size_t>(n, 1), &rng);
              std::vector<uint8_t> want(n + 1, 0xA5), got(n + 1, 0xA5);
              ref(n, a.data(), a_step, b.data(), b_step, p, want.data());
              fn(n, a.data(), a_step, b.data(), b_step, p, got.data());
              ASSERT_EQ(got, want) << v->isa_name << (mul ? " mul" : " add") << " n=" << n
                                   << " steps=" << a_step << b_step << " signs=" << signs << " zps=" << zps;
            }
          }
        }
      }
    }
  }
}

TEST(Q8Eltwise, AddMatchesReference) { check_binary(false); }
TEST(Q8Eltwise, MulMatchesReference) { check_binary(true); }

TEST(Q8Eltwise, LookupMatchesReference) {
  std::mt19937 rng(5);
  uint8_t table[256];
  for (uint8_t& t : table) t = static_cast<uint8_t>(rng());
  std::vector<std::pair<std::string, Q8LookupFn>> lookups;
  for (const Q8EltwiseVariant* v : usable_variants()) lookups.emplace_back(v->isa_name, v->lookup);
#if defined(__x86_64__)
  // The AVX-512 variant runs one of two lookups by the CPU: both, where they can run.
  const CpuFeatures& f = cpu_features();
  if (f.avx512) lookups.emplace_back("avx512bw", q8_lookup__avx512bw);
  if (f.avx512vbmi) lookups.emplace_back("avx512vbmi", q8_lookup__avx512vbmi);
  if (!f.avx512vbmi) std::printf("no VBMI: its lookup is not tested here\n");
#endif
  std::vector<uint8_t> every(256);
  for (int i = 0; i < 256; ++i) every[i] = static_cast<uint8_t>(i);
  for (const auto& [name, fn] : lookups) {
    std::vector<uint8_t> all(256);
    fn(256, every.data(), table, all.data());
    ASSERT_EQ(0, std::memcmp(all.data(), table, 256)) << name << ": every byte";
    for (size_t n : kLengths) {
      const std::vector<uint8_t> x = random_bytes(n, &rng);
      std::vector<uint8_t> want(n + 1, 0xA5), got(n + 1, 0xA5);
      q8_lookup_ref(n, x.data(), table, want.data());
      fn(n, x.data(), table, got.data());
      ASSERT_EQ(got, want) << name << " n=" << n;
    }
  }
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(qeltwise, isa_coverage::cases(q8_eltwise_variants,
                                         [](const Q8EltwiseVariant& v) { return v.isa_name; }));

}  // namespace
}  // namespace pare::rt::kernels
