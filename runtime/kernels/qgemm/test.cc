// Int8 GEMM kernels: requant_from_scale / requantize against long double arithmetic; then
// every variant usable on this CPU against qgemm_ref__scalar, bit for bit, over sizes around
// each variant's tile (M, N) and around groups of 4 (K), with uint8 and int8 style zero
// points and clamps, both weight layouts, arbitrary tile splits, worst-case accumulators, and
// A's last row ending right before an inaccessible page.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/kernels/isa_coverage_test.h"
#include "runtime/kernels/qgemm/qgemm.h"

namespace pare::rt::kernels {
namespace {

// ---- requant.h ----

TEST(Requant, FromScaleEncodesTheScale) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> exp_dist(-40.0, 29.9);
  for (int t = 0; t < 20000; ++t) {
    const double s = std::exp2(exp_dist(rng));
    Requant r;
    ASSERT_TRUE(requant_from_scale(s, &r)) << s;
    if (r.multiplier == 0) {
      EXPECT_LT(s, std::ldexp(1.0, -31)) << s;
      continue;
    }
    EXPECT_GE(r.multiplier, 1 << 30);
    EXPECT_GE(r.shift, 1);
    EXPECT_LE(r.shift, 62);
    const long double enc = std::ldexp(static_cast<long double>(r.multiplier), -r.shift);
    EXPECT_LE(std::fabs(enc - s), s * std::ldexp(1.0L, -31)) << s;
  }
  Requant r;
  EXPECT_FALSE(requant_from_scale(-1.0, &r));
  EXPECT_FALSE(requant_from_scale(std::nan(""), &r));
  EXPECT_FALSE(requant_from_scale(INFINITY, &r));
  EXPECT_FALSE(requant_from_scale(1073741824.0, &r));
  EXPECT_TRUE(requant_from_scale(0.0, &r));
  EXPECT_EQ(r.multiplier, 0);
}

// round(acc * multiplier * 2^-shift) with ties up, in long double (at least 64 bits of
// mantissa: the product is exact), and close to round(acc * real_scale).
TEST(Requant, RequantizeMatchesLongDouble) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<double> exp_dist(std::log2(1e-6), 4.0);
  std::uniform_int_distribution<int32_t> acc_dist(INT32_MIN, INT32_MAX);
  std::uniform_int_distribution<int32_t> small_dist(-100000, 100000);
  for (int t = 0; t < 200000; ++t) {
    const double s = std::exp2(exp_dist(rng));
    Requant r;
    ASSERT_TRUE(requant_from_scale(s, &r));
    const int32_t acc = t % 2 ? acc_dist(rng) : small_dist(rng);
    const long double x = std::ldexp(static_cast<long double>(acc) * r.multiplier, -r.shift);
    const long double want = std::floor(x + 0.5L);
    ASSERT_EQ(static_cast<long double>(requant_scale(acc, r)), want) << acc << " " << s;
    const long double exact = std::nearbyint(static_cast<long double>(acc) * s);
    // The encoding's relative error is at most 2^-31.
    const long double slack = 1.0L + std::fabs(static_cast<long double>(acc) * s) * std::ldexp(1.0L, -31);
    ASSERT_LE(std::fabs(want - exact), slack) << acc << " " << s;
    // Clamped to a byte range and shifted by a zero point.
    const int32_t zp = t % 3 == 0 ? 0 : (t % 3 == 1 ? 128 : -5);
    const long double v = std::min(255.0L, std::max(-128.0L, want + zp));
    ASSERT_EQ(requantize(acc, r, zp, -128, 255), static_cast<int32_t>(v));
  }
  // Ties go toward +infinity: +-0.5 and +-1.5 at scale 1/2.
  Requant half;
  ASSERT_TRUE(requant_from_scale(0.5, &half));
  EXPECT_EQ(requant_scale(1, half), 1);
  EXPECT_EQ(requant_scale(-1, half), 0);
  EXPECT_EQ(requant_scale(3, half), 2);
  EXPECT_EQ(requant_scale(-3, half), -1);
}

// ---- GEMM ----

bool usable_here(const QGemmVariant& v) { return isa_usable(v.isa, v.isa); }

std::vector<const QGemmVariant*> usable_variants() {
  size_t count = 0;
  const QGemmVariant* all = qgemm_variants(&count);
  std::vector<const QGemmVariant*> out;
  for (size_t i = 0; i < count; ++i)
    if (usable_here(all[i])) out.push_back(&all[i]);
  static bool listed = false;
  if (!listed) {
    std::string names;
    for (const QGemmVariant* v : out) names += std::string(" ") + v->name;
    std::printf("usable variants:%s\n", names.c_str());
    listed = true;
  }
  return out;
}

// `bytes` bytes ending right before a PROT_NONE page, so reading past the end faults.
class GuardedBytes {
 public:
  explicit GuardedBytes(size_t bytes) : bytes_(bytes) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    pages_ = (bytes + page - 1) / page + 1;
    map_ = static_cast<uint8_t*>(
        mmap(nullptr, pages_ * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    EXPECT_NE(map_, MAP_FAILED);
    mprotect(map_ + (pages_ - 1) * page, page, PROT_NONE);
    data_ = map_ + (pages_ - 1) * page - bytes;
    page_ = page;
  }
  ~GuardedBytes() { munmap(map_, pages_ * page_); }
  GuardedBytes(const GuardedBytes&) = delete;
  GuardedBytes& operator=(const GuardedBytes&) = delete;
  uint8_t* data() { return data_; }
  size_t size() const { return bytes_; }

 private:
  size_t bytes_, pages_ = 0, page_ = 0;
  uint8_t* map_ = nullptr;
  uint8_t* data_ = nullptr;
};

struct Problem {
  size_t m = 1, n = 1, k = 1;
  int32_t a_zero_point = 0, c_zero_point = 0, lo = 0, hi = 255;
  bool kn_layout = false;  // weights [K, N] instead of [N, K]
  size_t a_pad = 0, c_pad = 0;  // row strides k + a_pad and n + c_pad
  enum Fill { kRandom, kWorstCase } fill = kRandom;
  double min_scale = 1e-5, max_scale = 2.0;
};

struct Data {
  std::vector<uint8_t> a;
  std::vector<int8_t> w;
  std::vector<int32_t> bias;
  std::vector<Requant> rq;
};

Data make_data(const Problem& p, std::mt19937* rng) {
  Data d;
  const size_t a_stride = p.k + p.a_pad;
  d.a.resize(p.m * a_stride);
  d.w.resize(p.n * p.k);
  d.bias.resize(p.n);
  d.rq.resize(p.n);
  std::uniform_int_distribution<int> byte(0, 255), sbyte(-128, 127), edge(0, 9);
  std::uniform_int_distribution<int32_t> bias_dist(-200000, 200000);
  std::uniform_real_distribution<double> log_scale(std::log(p.min_scale), std::log(p.max_scale));
  for (auto& x : d.a) x = p.fill == Problem::kWorstCase ? 255 : static_cast<uint8_t>(byte(*rng));
  for (auto& x : d.w) {
    const int e = edge(*rng);  // the extremes often
    x = p.fill == Problem::kWorstCase ? -128 : static_cast<int8_t>(e == 0 ? -128 : e == 1 ? 127 : sbyte(*rng));
  }
  for (auto& b : d.bias) b = p.fill == Problem::kWorstCase ? INT32_MIN / 2 : bias_dist(*rng);
  for (auto& r : d.rq) EXPECT_TRUE(requant_from_scale(std::exp(log_scale(*rng)), &r));
  return d;
}

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

// Runs `v` on the problem through qgemm_tiles with the tiles split at `cuts` (or through
// qgemm on rectangles when `rectangles`), returns C (rows n + c_pad wide, pads untouched).
std::vector<uint8_t> run_variant(const QGemmVariant& v, const Problem& p, const Data& d,
                                 const std::vector<size_t>& cuts, bool rectangles = false) {
  const size_t w_row = p.kn_layout ? 1 : p.k, w_col = p.kn_layout ? p.n : 1;
  std::vector<int8_t> w = d.w;
  if (p.kn_layout)  // same B: B[q, j] = d.w[j * k + q]
    for (size_t j = 0; j < p.n; ++j)
      for (size_t q = 0; q < p.k; ++q) w[q * p.n + j] = d.w[j * p.k + q];
  const size_t bytes = qgemm_packed_b_bytes(v, p.n, p.k);
  std::unique_ptr<void, AlignedFree> packed(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
  qgemm_pack_b(v, p.n, p.k, w.data(), w_row, w_col, d.bias.data(), p.a_zero_point, d.rq.data(),
               packed.get());
  // A in a buffer that ends right after the last row's k bytes.
  const size_t a_stride = p.k + p.a_pad, a_bytes = (p.m - 1) * a_stride + p.k;
  GuardedBytes a(a_bytes);
  std::memcpy(a.data(), d.a.data(), a_bytes);
  const size_t c_stride = p.n + p.c_pad;
  std::vector<uint8_t> c(p.m * c_stride, 0xA5);
  QGemmArgs args;
  args.m = p.m;
  args.n = p.n;
  args.k = p.k;
  args.a = a.data();
  args.a_stride = a_stride;
  args.packed_b = packed.get();
  args.c = c.data();
  args.c_stride = c_stride;
  args.c_zero_point = p.c_zero_point;
  args.lo = p.lo;
  args.hi = p.hi;
  const size_t mt = qgemm_m_tiles(v, p.m), np = qgemm_n_panels(v, p.n);
  if (rectangles) {
    // Columns of panels in two halves, each over the M tiles in two halves.
    const size_t mh = mt / 2, nh = np / 2;
    qgemm(v, args, mh, mt, nh, np);
    qgemm(v, args, 0, mh, nh, np);
    qgemm(v, args, 0, mt, 0, nh);
    return c;
  }
  size_t t0 = 0;
  for (size_t cut : cuts) {
    const size_t t1 = std::min(cut, mt * np);
    qgemm_tiles(v, args, t0, t1);
    t0 = std::max(t0, t1);
  }
  qgemm_tiles(v, args, t0, mt * np);
  return c;
}

std::vector<uint8_t> run_reference(const Problem& p, const Data& d) {
  const size_t c_stride = p.n + p.c_pad;
  std::vector<uint8_t> c(p.m * c_stride, 0xA5);
  qgemm_ref__scalar(p.m, p.n, p.k, d.a.data(), p.k + p.a_pad, p.a_zero_point, d.w.data(), p.k, 1,
                    d.bias.data(), d.rq.data(), p.c_zero_point, p.lo, p.hi, c.data(), c_stride);
  return c;
}

std::string describe(const QGemmVariant& v, const Problem& p) {
  return std::string(v.name) + " m=" + std::to_string(p.m) + " n=" + std::to_string(p.n) +
         " k=" + std::to_string(p.k) + " azp=" + std::to_string(p.a_zero_point) +
         " czp=" + std::to_string(p.c_zero_point) + " lo=" + std::to_string(p.lo) +
         " hi=" + std::to_string(p.hi) + (p.kn_layout ? " [K,N]" : " [N,K]");
}

// First mismatch as text, or "".
std::string compare(const std::vector<uint8_t>& want, const std::vector<uint8_t>& got, const Problem& p) {
  const size_t c_stride = p.n + p.c_pad;
  for (size_t i = 0; i < p.m; ++i)
    for (size_t j = 0; j < c_stride; ++j)
      if (want[i * c_stride + j] != got[i * c_stride + j])
        return "C[" + std::to_string(i) + ", " + std::to_string(j) + "]: want " +
               std::to_string(want[i * c_stride + j]) + " got " + std::to_string(got[i * c_stride + j]);
  return "";
}

// The output domains: uint8 full and Relu-clamped, int8 full and Relu-clamped.
struct OutputDomain {
  int32_t zero_point, lo, hi;
};
constexpr OutputDomain kDomains[] = {{0, 0, 255}, {77, 77, 255}, {255, 0, 255}, {77, 0, 255},
                                     {0, -128, 127}, {-20, -20, 127}, {-128, -128, 127}, {5, 10, 100}};
constexpr int32_t kAZeroPoints[] = {0, 3, 128, 255};

TEST(QGemm, TableAndSelect) {
  size_t count = 0;
  const QGemmVariant* all = qgemm_variants(&count);
  ASSERT_GE(count, 1u);
  EXPECT_EQ(all[0].isa, Isa::kScalar);
  EXPECT_EQ(&select_qgemm(Isa::kScalar), &all[0]);
  const QGemmVariant& best = select_qgemm(best_isa());
  EXPECT_TRUE(isa_usable(best.isa, best_isa()));
  for (size_t i = 0; i < count; ++i) {
    EXPECT_LE(all[i].nr, 256u);
    EXPECT_EQ(qgemm_panel_stride(all[i], 5) % 64, 0u);
  }
}

TEST(QGemm, VariantsMatchReferenceOverSizes) {
  std::mt19937 rng(3);
  constexpr size_t kKs[] = {1, 2, 3, 4, 5, 7, 8, 31, 32, 33, 64, 127, 320};
  size_t case_index = 0;
  for (const QGemmVariant* v : usable_variants()) {
    std::vector<size_t> ms;
    for (size_t m = 1; m <= v->mr + 1; ++m) ms.push_back(m);
    ms.push_back(2 * v->mr + 3);
    ms.push_back(57);
    std::vector<size_t> ns = {1, v->nr - 1, v->nr, v->nr + 1, 2 * v->nr + 5, 100};
    for (size_t m : ms)
      for (size_t n : ns)
        for (size_t k : kKs) {
          Problem p;
          p.m = m;
          p.n = n;
          p.k = k;
          const OutputDomain& dom = kDomains[case_index % (sizeof(kDomains) / sizeof(kDomains[0]))];
          p.c_zero_point = dom.zero_point;
          p.lo = dom.lo;
          p.hi = dom.hi;
          p.a_zero_point = kAZeroPoints[(case_index / 3) % 4];
          p.kn_layout = case_index % 2 == 1;
          p.a_pad = case_index % 5 == 0 ? 3 : 0;
          p.c_pad = case_index % 7 == 0 ? 5 : 0;
          ++case_index;
          const Data d = make_data(p, &rng);
          const std::vector<uint8_t> want = run_reference(p, d);
          const std::string diff = compare(want, run_variant(*v, p, d, {}), p);
          ASSERT_EQ(diff, "") << describe(*v, p);
        }
  }
}

// Every zero point and output domain on shapes with full and partial tiles.
TEST(QGemm, ZeroPointsAndClamps) {
  std::mt19937 rng(4);
  for (const QGemmVariant* v : usable_variants())
    for (int32_t azp : kAZeroPoints)
      for (const OutputDomain& dom : kDomains)
        for (bool kn : {false, true}) {
          Problem p;
          p.m = 2 * v->mr + 1;
          p.n = v->nr + 3;
          p.k = 37;
          p.a_zero_point = azp;
          p.c_zero_point = dom.zero_point;
          p.lo = dom.lo;
          p.hi = dom.hi;
          p.kn_layout = kn;
          // Scales that leave most outputs inside the clamp.
          p.min_scale = 1e-5;
          p.max_scale = 1e-3;
          const Data d = make_data(p, &rng);
          ASSERT_EQ(compare(run_reference(p, d), run_variant(*v, p, d, {}), p), "") << describe(*v, p);
        }
}

// Scales up to 0.24, 0.49 and 0.9 (the largest in one column of each 8), on every tile width:
// the vector epilogues scale in 32-bit lanes without 64-bit rounding adds when every shift is
// >= 33, with them when every shift is >= 32, and else in 64 bits; the 8-column halves too.
TEST(QGemm, EachScalingRangeOnEveryTileWidth) {
  std::mt19937 rng(6);
  size_t case_index = 0;
  for (const QGemmVariant* v : usable_variants())
    for (double largest : {0.24, 0.49, 0.9})
      for (size_t n : {size_t{5}, size_t{8}, size_t{16}, size_t{21}, size_t{24}, size_t{32}, size_t{40}, size_t{56}}) {
        Problem p;
        p.m = 2 * v->mr + 3;
        p.n = n;
        p.k = 23;
        const OutputDomain& dom = kDomains[case_index++ % (sizeof(kDomains) / sizeof(kDomains[0]))];
        p.c_zero_point = dom.zero_point;
        p.lo = dom.lo;
        p.hi = dom.hi;
        p.a_zero_point = 3;
        p.min_scale = 1e-4;
        p.max_scale = largest;
        Data d = make_data(p, &rng);
        for (size_t j = 3; j < n; j += 8) ASSERT_TRUE(requant_from_scale(largest, &d.rq[j]));
        ASSERT_EQ(compare(run_reference(p, d), run_variant(*v, p, d, {}), p), "")
            << describe(*v, p) << " largest scale " << largest;
      }
}

TEST(QGemm, TileSplitsGiveTheSameBytes) {
  std::mt19937 rng(5);
  for (const QGemmVariant* v : usable_variants()) {
    Problem p;
    p.m = 3 * v->mr + 2;
    p.n = 3 * v->nr + 1;
    p.k = 45;
    p.a_zero_point = 128;
    p.c_zero_point = 77;
    p.c_pad = 4;
    const Data d = make_data(p, &rng);
    const std::vector<uint8_t> want = run_reference(p, d);
    const size_t tiles = qgemm_m_tiles(*v, p.m) * qgemm_n_panels(*v, p.n);
    std::uniform_int_distribution<size_t> cut(0, tiles);
    for (int t = 0; t < 20; ++t) {
      std::vector<size_t> cuts(t % 6);
      for (size_t& x : cuts) x = cut(rng);
      std::sort(cuts.begin(), cuts.end());
      ASSERT_EQ(compare(want, run_variant(*v, p, d, cuts), p), "") << describe(*v, p);
    }
    ASSERT_EQ(compare(want, run_variant(*v, p, d, {}, true), p), "") << describe(*v, p);
  }
}

// A all 255, W all -128, a large K and a large negative bias: the accumulators reach
// -2^30 - 1024 * 255 * 128 and must requantize as in the reference.
TEST(QGemm, WorstCaseAccumulators) {
  std::mt19937 rng(6);
  for (const QGemmVariant* v : usable_variants())
    for (int32_t azp : {0, 255})
      for (double scale : {1e-9, 1e-5, 0.5}) {
        Problem p;
        p.m = v->mr + 1;
        p.n = v->nr + 1;
        p.k = 1024;
        p.a_zero_point = azp;
        p.fill = Problem::kWorstCase;
        p.min_scale = p.max_scale = scale;
        p.c_zero_point = 128;
        p.lo = -128;
        p.hi = 255;
        const Data d = make_data(p, &rng);
        ASSERT_EQ(compare(run_reference(p, d), run_variant(*v, p, d, {}), p), "") << describe(*v, p);
      }
}

// Accumulators spread over the whole int32 range (large biases) with the full range of
// multipliers and shifts, so the 64-bit epilogue sees products near 2^62.
TEST(QGemm, EpilogueOverTheInt32Range) {
  std::mt19937 rng(7);
  for (const QGemmVariant* v : usable_variants()) {
    Problem p;
    p.m = v->mr;
    p.n = 4 * v->nr;
    p.k = 9;
    p.c_zero_point = 0;
    p.lo = -128;
    p.hi = 255;
    Data d = make_data(p, &rng);
    std::uniform_int_distribution<int32_t> big(INT32_MIN / 2, INT32_MAX / 2);
    std::uniform_real_distribution<double> log_scale(std::log(1e-10), std::log(1e-6));
    for (size_t j = 0; j < p.n; ++j) {
      d.bias[j] = big(rng);
      ASSERT_TRUE(requant_from_scale(std::exp(log_scale(rng)), &d.rq[j]));
    }
    d.rq[0] = Requant{0, 1};               // a scale too small to matter
    d.rq[1] = Requant{(1 << 30) + 1, 62};  // the largest shift
    d.rq[2] = Requant{INT32_MAX, 1};       // the largest product
    ASSERT_EQ(compare(run_reference(p, d), run_variant(*v, p, d, {}), p), "") << describe(*v, p);
  }
}

// Small K with panels that mix shifts >= 32 (real scale < 1/2), shifts <= 31, and zero
// multipliers, with biases big enough that the scaled values leave the int16 range: kernels
// that take a faster epilogue when a panel's shifts allow it must pick it per panel and
// give the same bytes either way, for every output domain and every row/column remainder.
TEST(QGemm, MixedShiftsInOnePanel) {
  std::mt19937 rng(8);
  constexpr size_t kNs[] = {5, 8, 13, 16, 24, 29, 32, 48, 96};
  for (const QGemmVariant* v : usable_variants()) {
    size_t case_index = 0;
    for (size_t m : {size_t{1}, size_t{3}, v->mr, v->mr + 5})
      for (size_t n : kNs)
        for (size_t k : {size_t{16}, size_t{24}, size_t{7}})
          for (int mix = 0; mix < 5; ++mix) {
            Problem p;
            p.m = m;
            p.n = n;
            p.k = k;
            const OutputDomain& dom = kDomains[case_index++ % (sizeof(kDomains) / sizeof(kDomains[0]))];
            p.c_zero_point = dom.zero_point;
            p.lo = dom.lo;
            p.hi = dom.hi;
            p.c_pad = 3;
            Data d = make_data(p, &rng);
            std::uniform_int_distribution<int32_t> big(-(1 << 28), 1 << 28);
            std::uniform_real_distribution<double> log_scale(std::log(1e-7), std::log(mix == 4 ? 0.24 : 0.49));
            std::uniform_int_distribution<size_t> col(0, n - 1);
            for (size_t j = 0; j < n; ++j) {
              if (j % 3 == 0) d.bias[j] = big(rng);
              ASSERT_TRUE(requant_from_scale(std::exp(log_scale(rng)), &d.rq[j]));
              ASSERT_GE(d.rq[j].shift, 32);
            }
            // mix 0: every shift >= 32; 1: one shift of 31; 2: one small shift; 3: zero
            // multipliers; 4: every shift >= 33 but zero multipliers (shift 1).
            if (mix == 1) d.rq[col(rng)] = Requant{(1 << 30) + 12345, 31};
            if (mix == 2) d.rq[col(rng)] = Requant{(1 << 30) + 7, 20};
            if (mix >= 3) d.rq[col(rng)] = d.rq[col(rng)] = Requant{0, 1};
            ASSERT_EQ(compare(run_reference(p, d), run_variant(*v, p, d, {}), p), "")
                << describe(*v, p) << " mix " << mix;
          }
  }
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(qgemm, isa_coverage::cases(qgemm_variants, [](const QGemmVariant& v) { return v.name; }));

}  // namespace
}  // namespace pare::rt::kernels
