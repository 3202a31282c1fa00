// LUT GEMM on palette weights: the view's decoding against indices packed here by hand, and
// every variant usable on this CPU (PARE_ISA caps the set) against the references that
// expand the view, over sizes around each tile and index group (M, N, K), 2-4 bits, per-row
// and per-tensor tables, activations and strides: f32 within a bound on the rounding of the
// sums, int8 bit for bit. Activations are read from right before a PROT_NONE page, so a
// kernel reading past a row of X faults.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/isa_coverage_test.h"
#include "runtime/kernels/lutgemm/lutgemm.h"
#include "runtime/kernels/qgemm/qgemm.h"

namespace pare::rt::kernels {
namespace {

// A palette constant built by hand: indices[r * cols + c] into table(r), packed per row.
struct Palette {
  std::vector<uint32_t> indices;
  std::vector<float> f32_tables;
  std::vector<int8_t> s8_tables;
  std::vector<uint8_t> packed;
  PaletteView view;

  float f32_at(int64_t r, int64_t c) const {
    return f32_tables[(view.per_row ? r : 0) * view.entries + indices[r * view.cols + c]];
  }
  int8_t s8_at(int64_t r, int64_t c) const {
    return s8_tables[(view.per_row ? r : 0) * view.entries + indices[r * view.cols + c]];
  }
};

Palette make_palette(int64_t rows, int64_t cols, int bits, bool per_row, DType dtype, uint32_t seed) {
  std::mt19937 rng(seed);
  Palette p;
  PaletteView& v = p.view;
  v.rows = rows;
  v.cols = cols;
  v.bits = bits;
  v.entries = (1 << bits) - static_cast<int>(seed % 2);  // full and not quite full tables
  v.per_row = per_row;
  v.dtype = dtype;
  v.row_bytes = (cols * bits + 7) / 8;
  const int64_t tables = per_row ? rows : 1;
  std::uniform_real_distribution<float> value(-1.f, 1.f);
  std::uniform_int_distribution<int> s8(-128, 127);
  for (int64_t e = 0; e < tables * v.entries; ++e) {
    p.f32_tables.push_back(value(rng));
    p.s8_tables.push_back(static_cast<int8_t>(s8(rng)));
  }
  std::uniform_int_distribution<uint32_t> index(0, static_cast<uint32_t>(v.entries - 1));
  p.packed.assign(static_cast<size_t>(rows * v.row_bytes), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const uint32_t i = index(rng);
      p.indices.push_back(i);
      for (int b = 0; b < bits; ++b)
        if (i >> b & 1) {
          const int64_t bit = c * bits + b;
          p.packed[r * v.row_bytes + bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
        }
    }
  v.palette = dtype == DType::kFloat32 ? static_cast<const void*>(p.f32_tables.data()) : p.s8_tables.data();
  v.indices = p.packed.data();
  return p;
}

// `bytes` bytes ending right before a PROT_NONE page.
class GuardedBytes {
 public:
  explicit GuardedBytes(size_t bytes) : bytes_(bytes) {
    const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    pages_ = (bytes + page - 1) / page + 1;
    base_ = static_cast<uint8_t*>(mmap(nullptr, pages_ * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    mprotect(base_ + (pages_ - 1) * page, page, PROT_NONE);
    data_ = base_ + (pages_ - 1) * page - bytes;
  }
  ~GuardedBytes() { munmap(base_, pages_ * static_cast<size_t>(sysconf(_SC_PAGESIZE))); }
  GuardedBytes(const GuardedBytes&) = delete;
  GuardedBytes& operator=(const GuardedBytes&) = delete;
  uint8_t* data() { return data_; }

 private:
  size_t bytes_, pages_;
  uint8_t* base_;
  uint8_t* data_;
};

// A 64-byte aligned buffer (packed weights, the decoded panel).
class AlignedBytes {
 public:
  explicit AlignedBytes(size_t bytes) : data_(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64))) {}
  ~AlignedBytes() { std::free(data_); }
  AlignedBytes(const AlignedBytes&) = delete;
  AlignedBytes& operator=(const AlignedBytes&) = delete;
  uint8_t* data() { return data_; }

 private:
  uint8_t* data_;
};

template <class V>
std::vector<const V*> usable(const V* all, size_t count) {
  std::vector<const V*> out;
  for (size_t i = 0; i < count; ++i)
    if (isa_usable(all[i].isa, best_isa())) out.push_back(&all[i]);
  return out;
}

std::vector<const F32LutVariant*> f32_variants() {
  size_t count = 0;
  const F32LutVariant* all = f32_lutgemm_variants(&count);
  return usable(all, count);
}

std::vector<const Q8LutVariant*> q8_variants() {
  size_t count = 0;
  const Q8LutVariant* all = q8_lutgemm_variants(&count);
  return usable(all, count);
}

TEST(Palette, DensifyReadsEveryWidth) {
  for (int bits = 2; bits <= 8; ++bits)
    for (bool per_row : {true, false})
      for (int64_t cols : {1, 5, 8, 13, 33}) {
        const Palette p = make_palette(3, cols, bits, per_row, DType::kFloat32, static_cast<uint32_t>(bits * 7 + cols));
        std::vector<float> dense(static_cast<size_t>(3 * cols));
        palette_densify(p.view, dense.data());
        for (int64_t r = 0; r < 3; ++r)
          for (int64_t c = 0; c < cols; ++c)
            ASSERT_EQ(dense[r * cols + c], p.f32_at(r, c)) << "bits " << bits << " r" << r << " c" << c;
        const Palette q = make_palette(3, cols, bits, per_row, DType::kInt8, static_cast<uint32_t>(bits + cols));
        std::vector<int8_t> s8(static_cast<size_t>(3 * cols));
        palette_densify(q.view, s8.data());
        for (int64_t r = 0; r < 3; ++r)
          for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(s8[r * cols + c], q.s8_at(r, c));
      }
}

TEST(LutGemm, Packable) {
  Palette p = make_palette(4, 8, 4, true, DType::kFloat32, 2);
  EXPECT_TRUE(lutgemm_packable(p.view, false));
  EXPECT_FALSE(lutgemm_packable(p.view, true));  // a table per row of [K, N]
  p.view.per_row = false;
  EXPECT_TRUE(lutgemm_packable(p.view, true));
  p.view.bits = 5;
  EXPECT_FALSE(lutgemm_packable(p.view, false));
}

TEST(LutGemm, TableAndSelect) {
  size_t count = 0;
  const F32LutVariant* f = f32_lutgemm_variants(&count);
  ASSERT_GE(count, 1u);
  EXPECT_EQ(f[0].isa, Isa::kScalar);
  EXPECT_EQ(&select_f32_lutgemm(Isa::kScalar), &f[0]);
  EXPECT_TRUE(isa_usable(select_f32_lutgemm(best_isa()).isa, best_isa()));
  EXPECT_TRUE(isa_usable(select_q8_lutgemm(best_isa()).isa, best_isa()));
  std::string names;
  for (const F32LutVariant* v : f32_variants()) names += std::string(" ") + v->name;
  for (const Q8LutVariant* v : q8_variants()) names += std::string(" ") + v->name;
  std::printf("usable variants:%s\n", names.c_str());
}

// One f32 problem on every variant: Y through the driver in two calls, rows of X and Y
// strided, against the reference within the rounding of sums of |x w| terms.
void check_f32(size_t m, size_t n, size_t k, int bits, bool per_row, bool transposed, const FusedActivation& act) {
  const std::string what = "M" + std::to_string(m) + " N" + std::to_string(n) + " K" + std::to_string(k) +
                           " bits" + std::to_string(bits) + (per_row ? " per-row" : " per-tensor") +
                           (transposed ? " transposed" : "") + " act" + std::to_string(static_cast<int>(act.kind));
  const auto seed = static_cast<uint32_t>(m * 131 + n * 17 + k * 3 + bits);
  const Palette p = transposed ? make_palette(static_cast<int64_t>(k), static_cast<int64_t>(n), bits, per_row, DType::kFloat32, seed)
                               : make_palette(static_cast<int64_t>(n), static_cast<int64_t>(k), bits, per_row, DType::kFloat32, seed);
  ASSERT_TRUE(lutgemm_packable(p.view, transposed)) << what;
  const size_t x_stride = k + 3, y_stride = n + 2;
  GuardedBytes x_bytes(((m - 1) * x_stride + k) * sizeof(float));
  auto* x = reinterpret_cast<float*>(x_bytes.data());
  std::mt19937 rng(seed + 1);
  std::uniform_real_distribution<float> value(-2.f, 2.f);
  std::vector<float> x_dense(m * x_stride, 0.f), bias(n);
  for (size_t i = 0; i < m; ++i)
    for (size_t q = 0; q < k; ++q) x_dense[i * x_stride + q] = value(rng);
  std::memcpy(x, x_dense.data(), ((m - 1) * x_stride + k) * sizeof(float));
  for (float& b : bias) b = value(rng);
  const float alpha = transposed ? 0.5f : 1.f;
  std::vector<float> want(m * n);
  f32_lutgemm_ref__scalar(p.view, transposed, bias.data(), alpha, m, x, x_stride, act, want.data());
  // The rounding bound: sums of up to k + 1 terms, each at most |x w|.
  std::vector<float> bound(m * n, 0.f);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      float s = std::fabs(bias[j]);
      for (size_t q = 0; q < k; ++q)
        s += std::fabs(x[i * x_stride + q] * alpha * (transposed ? p.f32_at(q, j) : p.f32_at(j, q)));
      bound[i * n + j] = 1e-6f + 4e-7f * static_cast<float>(k + 1) * s;
    }
  for (const F32LutVariant* v : f32_variants()) {
    const F32LutPacked w = f32_lutgemm_pack(p.view, transposed, bias.data(), alpha, v->half);
    std::vector<float> y(m * y_stride, 777.f);
    F32LutArgs args;
    args.w = &w;
    args.x = x;
    args.x_stride = x_stride;
    args.y = y.data();
    args.y_stride = y_stride;
    f32_lutgemm_set_activation(act, &args);
    f32_lutgemm(*v, args, 0, m / 2);
    f32_lutgemm(*v, args, m / 2, m);
    for (size_t i = 0; i < m; ++i) {
      for (size_t j = 0; j < n; ++j)
        ASSERT_NEAR(want[i * n + j], y[i * y_stride + j], bound[i * n + j]) << v->name << " " << what << " at " << i << "," << j;
      for (size_t j = n; j < y_stride; ++j) ASSERT_EQ(y[i * y_stride + j], 777.f) << v->name << " row padding written";
    }
  }
}

TEST(LutGemm, F32VariantsMatchReferenceOverSizes) {
  const FusedActivation none;
  for (size_t m : {1, 3, 4, 5, 17})
    for (size_t n : {1, 3, 4, 5, 9})
      for (size_t k : {1, 7, 16, 17, 31, 32, 33, 64, 65, 100})
        for (int bits : {2, 4}) check_f32(m, n, k, bits, (m + n + k) % 2 == 0, false, none);
}

TEST(LutGemm, F32BitsTablesActivationsTransposed) {
  FusedActivation relu{ActivationKind::kRelu}, clip{ActivationKind::kClip, -0.5f, 0.75f},
      hard_swish{ActivationKind::kHardSwish};
  for (int bits : {2, 3, 4})
    for (bool per_row : {true, false})
      for (const FusedActivation& act : {FusedActivation{}, relu, clip, hard_swish}) {
        check_f32(6, 7, 40, bits, per_row, false, act);
        check_f32(21, 34, 150, bits, per_row, false, act);
        if (!per_row) check_f32(9, 11, 45, bits, false, true, act);
      }
}

// One int8 problem on every variant, bit for bit.
void check_q8(size_t m, size_t n, size_t k, int bits, bool per_row, int32_t a_zero_point, int32_t c_zero_point,
              int32_t lo, int32_t hi, bool extremes) {
  const std::string what = "M" + std::to_string(m) + " N" + std::to_string(n) + " K" + std::to_string(k) +
                           " bits" + std::to_string(bits) + (per_row ? " per-row" : " per-tensor") + " azp" +
                           std::to_string(a_zero_point);
  const auto seed = static_cast<uint32_t>(m * 131 + n * 17 + k * 3 + bits);
  Palette p = make_palette(static_cast<int64_t>(n), static_cast<int64_t>(k), bits, per_row, DType::kInt8, seed);
  if (extremes)  // the largest products: -128 x 255 everywhere
    for (int8_t& e : p.s8_tables) e = -128;
  const size_t a_stride = k + 5;
  GuardedBytes a_bytes((m - 1) * a_stride + k);
  uint8_t* a = a_bytes.data();
  std::mt19937 rng(seed + 1);
  std::uniform_int_distribution<int> byte(0, 255), bias_value(-50000, 50000);
  for (size_t i = 0; i < (m - 1) * a_stride + k; ++i) a[i] = extremes ? 255 : static_cast<uint8_t>(byte(rng));
  std::vector<int32_t> bias(n);
  std::vector<Requant> rq(n);
  std::uniform_real_distribution<double> scale(1e-5, 3e-3);
  for (size_t j = 0; j < n; ++j) {
    bias[j] = bias_value(rng);
    ASSERT_TRUE(requant_from_scale(scale(rng), &rq[j]));
  }
  std::vector<uint8_t> want(m * n);
  q8_lutgemm_ref__scalar(p.view, bias.data(), a_zero_point, rq.data(), m, a, a_stride, c_zero_point, lo, hi,
                         want.data());
  std::vector<int8_t> dense(n * k);
  palette_densify(p.view, dense.data());
  for (const Q8LutVariant* v : q8_variants()) {
    const Q8LutPacked w = q8_lutgemm_pack(*v, p.view, bias.data(), a_zero_point, rq.data());
    AlignedBytes panel(q8_lutgemm_scratch_bytes(*v, k));
    const size_t c_stride = n + 3;
    std::vector<uint8_t> c(m * c_stride, 77);
    Q8LutArgs args;
    args.w = &w;
    args.a = a;
    args.a_stride = a_stride;
    args.c = c.data();
    args.c_stride = c_stride;
    args.c_zero_point = c_zero_point;
    args.lo = lo;
    args.hi = hi;
    args.panel = panel.data();
    // Rows and panels in separate calls, as threads split them.
    const size_t panels = q8_lutgemm_panels(w), np = panels / 2;
    q8_lutgemm(*v, args, 0, m / 3, 0, panels);
    q8_lutgemm(*v, args, m / 3, m, 0, np);
    q8_lutgemm(*v, args, m / 3, m, np, panels);
    // The qgemm variant the LUT variant runs on, over the expanded weights: the same panels
    // byte for byte, and the same results.
    const QGemmVariant& gemm = select_qgemm(v->isa);
    AlignedBytes packed(qgemm_packed_b_bytes(gemm, n, k));
    qgemm_pack_b(gemm, n, k, dense.data(), k, 1, bias.data(), a_zero_point, rq.data(), packed.data());
    const size_t stride = qgemm_panel_stride(gemm, k);
    for (size_t i = 0; i < panels; ++i) {
      std::memset(panel.data(), 0xAB, stride);
      q8_lutgemm_decode_panel(*v, w, i, panel.data());
      const size_t used = w.header_bytes + w.body_elements * (qgemm_panel_layout(gemm) == QGemmPanelLayout::kK4xS8 ? 1 : 2);
      ASSERT_EQ(0, std::memcmp(panel.data(), packed.data() + i * stride, used)) << v->name << " " << what << " panel " << i;
    }
    std::vector<uint8_t> dense_c(m * n);
    QGemmArgs g;
    g.m = m;
    g.n = n;
    g.k = k;
    g.a = a;
    g.a_stride = a_stride;
    g.packed_b = packed.data();
    g.c = dense_c.data();
    g.c_stride = n;
    g.c_zero_point = c_zero_point;
    g.lo = lo;
    g.hi = hi;
    qgemm_tiles(gemm, g, 0, qgemm_m_tiles(gemm, m) * qgemm_n_panels(gemm, n));
    for (size_t i = 0; i < m; ++i) {
      for (size_t j = 0; j < n; ++j) {
        ASSERT_EQ(want[i * n + j], c[i * c_stride + j]) << v->name << " " << what << " at " << i << "," << j;
        ASSERT_EQ(dense_c[i * n + j], c[i * c_stride + j]) << v->name << " vs " << gemm.name << " " << what;
      }
      for (size_t j = n; j < c_stride; ++j) ASSERT_EQ(c[i * c_stride + j], 77) << v->name << " row padding written";
    }
  }
}

// The SIMD panel decoders write the same bytes as the portable one.
TEST(LutGemm, Q8PanelDecodersMatchPortable) {
#if PARE_KERNELS_AVX512VNNI
  const CpuFeatures& f = cpu_features();
  if (!isa_usable(Isa::kAvx512Vnni, best_isa())) GTEST_SKIP() << "no AVX-512 VNNI";
  const Q8LutVariant& v = select_q8_lutgemm(Isa::kAvx512Vnni);
  for (size_t n : {1, 17, 32, 45})
    for (size_t k : {1, 5, 64, 133}) {
      const Palette p = make_palette(static_cast<int64_t>(n), static_cast<int64_t>(k), 4, true, DType::kInt8,
                                     static_cast<uint32_t>(n + k));
      const Q8LutPacked w = q8_lutgemm_pack(v, p.view, nullptr, 0, std::vector<Requant>(n).data());
      const size_t bytes = q8_lutgemm_scratch_bytes(v, k) - w.header_bytes;
      AlignedBytes want(bytes), got(bytes);
      for (size_t np = 0; np < q8_lutgemm_panels(w); ++np) {
        q8_lutgemm_decode__scalar(w, np, want.data());
        q8_lutgemm_decode_k4x32__avx512bw(w, np, got.data());
        ASSERT_EQ(0, std::memcmp(want.data(), got.data(), w.body_elements)) << "bw n" << n << " k" << k;
        if (!f.avx512vbmi) continue;
        std::memset(got.data(), 0, bytes);
        q8_lutgemm_decode_k4x32__avx512vbmi(w, np, got.data());
        ASSERT_EQ(0, std::memcmp(want.data(), got.data(), w.body_elements)) << "vbmi n" << n << " k" << k;
      }
    }
  if (!f.avx512vbmi) std::printf("no VBMI: its decoder is not tested here\n");
#else
  GTEST_SKIP() << "no AVX-512 VNNI kernels in this build (x86-64 only, PARE_ISAS)";
#endif
}

TEST(LutGemm, Q8VariantsMatchReferenceOverSizes) {
  // Around qgemm's tiles (4..8 rows, panels of 8..32 channels) and groups of 4 rows of K.
  for (size_t m : {1, 3, 5, 8, 9, 17})
    for (size_t n : {1, 3, 9, 17, 31, 32, 33, 70})
      for (size_t k : {1, 3, 15, 32, 33, 63, 64, 65, 129, 200})
        for (int bits : {2, 4}) check_q8(m, n, k, bits, (m + n + k) % 2 == 1, 128, 3, 0, 255, false);
}

TEST(LutGemm, Q8ZeroPointsClampsExtremes) {
  for (int bits : {2, 3, 4})
    for (bool per_row : {true, false}) {
      check_q8(7, 13, 96, bits, per_row, 0, 0, -128, 127, false);
      check_q8(7, 13, 96, bits, per_row, 255, 100, 20, 200, false);
      check_q8(9, 6, 1000, bits, per_row, 0, 0, 0, 255, true);
      check_q8(9, 6, 1000, bits, per_row, 17, -5, -128, 127, true);
    }
}

// The ISAs of the variants above that this CPU cannot run, as skipped tests.
PARE_ISA_COVERAGE(f32_lutgemm, isa_coverage::cases(f32_lutgemm_variants,
                                         [](const F32LutVariant& v) { return v.name; }, /*capped=*/true));
PARE_ISA_COVERAGE(q8_lutgemm, isa_coverage::cases(q8_lutgemm_variants,
                                         [](const Q8LutVariant& v) { return v.name; }, /*capped=*/true));

}  // namespace
}  // namespace pare::rt::kernels
