#include <algorithm>
#include <cstring>

#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
#include "runtime/kernels/qgemm/qgemm.h"

namespace pare::rt::kernels {

// Accumulators wrap modulo 2^32 (as the SIMD integer adds do) instead of overflowing, which
// only matters for K far beyond any real layer (65793 * 255 * 128 > 2^31).
void qgemm_ref__scalar(size_t m, size_t n, size_t k, const uint8_t* a, size_t a_stride,
                       int32_t a_zero_point, const int8_t* w, size_t w_row_stride,
                       size_t w_col_stride, const int32_t* bias, const Requant* rq,
                       int32_t c_zero_point, int32_t lo, int32_t hi, uint8_t* c, size_t c_stride) {
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      uint32_t acc = bias ? static_cast<uint32_t>(bias[j]) : 0u;
      for (size_t p = 0; p < k; ++p) {
        const int32_t x = static_cast<int32_t>(a[i * a_stride + p]) - a_zero_point;
        acc += static_cast<uint32_t>(x * static_cast<int32_t>(w[j * w_row_stride + p * w_col_stride]));
      }
      c[i * c_stride + j] =
          static_cast<uint8_t>(requantize(static_cast<int32_t>(acc), rq[j], c_zero_point, lo, hi));
    }
  }
}

// ---- Variants ----

namespace {

constexpr QGemmVariant kReference = {"q8_gemm_4x8__scalar", "4x8__scalar", Isa::kScalar, 4, 8,
                                     q8_gemm_4x8__scalar, 8 * 4};

constexpr QGemmVariant kVariants[] = {
    kReference,
#if PARE_KERNELS_AVX2
    {"q8_gemm_6x16__avx2", "6x16__avx2", Isa::kAvx2, 6, 16, q8_gemm_6x16__avx2, 16 * 4 * 2},
#endif
#if PARE_KERNELS_AVX512VNNI
    {"q8_gemm_8x32__avx512vnni", "8x32__avx512vnni", Isa::kAvx512Vnni, 8, 32,
     q8_gemm_8x32__avx512vnni, 32 * 4},
#endif
#if PARE_KERNELS_AMX
    {"q8_gemm_32x32__amx", "32x32__amx", Isa::kAmx, 32, 32, q8_gemm_32x32__amx, 32 * 4, 64},
#endif
#if PARE_KERNELS_NEON
    {"q8_gemm_8x8__neon", "8x8__neon", Isa::kNeon, 8, 8, q8_gemm_8x8__neon, 8 * 4 * 2},
#endif
#if PARE_KERNELS_NEONDOT
    {"q8_gemm_8x8__neondot", "8x8__neondot", Isa::kNeonDot, 8, 8, q8_gemm_8x8__neondot, 8 * 4},
#endif
};

}  // namespace

const QGemmVariant* qgemm_variants(size_t* count) {
  if constexpr (!kernel_family_selected("q8_gemm")) {
    *count = 1;
    return &kReference;
  }
  *count = sizeof(kVariants) / sizeof(kVariants[0]);
  return kVariants;
}

// The table runs from the portable variant to the fastest.
const QGemmVariant& select_qgemm(Isa isa) {
  note_kernel_family("q8_gemm");
  size_t count = 0;
  const QGemmVariant* all = qgemm_variants(&count);
  const QGemmVariant* best = best_usable_variant(all, count, true, isa);
  return best ? *best : all[0];
}

// ---- Packed weights ----

QGemmPanelLayout qgemm_panel_layout(const QGemmVariant& v) {
  switch (v.isa) {
    case Isa::kAvx2:
    case Isa::kAvx512: return QGemmPanelLayout::kK2xS16;
    case Isa::kNeon: return QGemmPanelLayout::kK1xS16;
    default: return QGemmPanelLayout::kK4xS8;
  }
}

size_t qgemm_panel_header_bytes(const QGemmVariant& v) { return qgemm_header_bytes(v.nr); }

size_t qgemm_panel_stride(const QGemmVariant& v, size_t k) {
  return (qgemm_panel_header_bytes(v) + (k + v.k_pad - 1) / v.k_pad * v.k_pad / 4 * v.panel_bytes_per_k4 + 63) / 64 *
         64;
}

size_t qgemm_packed_b_bytes(const QGemmVariant& v, size_t n, size_t k) {
  return qgemm_n_panels(v, n) * qgemm_panel_stride(v, k);
}

void qgemm_pack_b(const QGemmVariant& v, size_t n, size_t k, const int8_t* w, size_t w_row_stride,
                  size_t w_col_stride, const int32_t* bias, int32_t a_zero_point, const Requant* rq,
                  void* packed) {
  const size_t nr = v.nr, stride = qgemm_panel_stride(v, k), header = qgemm_panel_header_bytes(v);
  const QGemmPanelLayout layout = qgemm_panel_layout(v);
  // sdot multiplies signed bytes: the kernel reads A as a ^ 0x80 = a - 128, so the bias
  // carries the missing 128 * sum(w).
  const int32_t a_offset = v.isa == Isa::kNeonDot ? a_zero_point - 128 : a_zero_point;
  for (size_t j0 = 0; j0 < n; j0 += nr) {
    auto* panel = static_cast<uint8_t*>(packed) + j0 / nr * stride;
    std::memset(panel, 0, stride);
    const size_t nc = std::min(nr, n - j0);
    int32_t head[3][256];  // nr <= 256
    for (size_t j = 0; j < nr; ++j) {
      head[0][j] = head[1][j] = 0;
      head[2][j] = 1;
    }
    for (size_t j = 0; j < nc; ++j) {
      const int8_t* col = w + (j0 + j) * w_row_stride;
      uint32_t sum = 0;
      for (size_t p = 0; p < k; ++p) sum += static_cast<uint32_t>(static_cast<int32_t>(col[p * w_col_stride]));
      const uint32_t b = bias ? static_cast<uint32_t>(bias[j0 + j]) : 0u;
      head[0][j] = static_cast<int32_t>(b - static_cast<uint32_t>(a_offset) * sum);
      head[1][j] = rq[j0 + j].multiplier;
      head[2][j] = rq[j0 + j].shift;
    }
    int32_t min_shift = 63;
    for (size_t j = 0; j < nc; ++j)
      if (head[1][j] != 0) min_shift = std::min(min_shift, head[2][j]);
    for (int h = 0; h < 3; ++h) std::memcpy(panel + h * nr * sizeof(int32_t), head[h], nr * sizeof(int32_t));
    std::memcpy(panel + 3 * nr * sizeof(int32_t), &min_shift, sizeof(min_shift));
    uint8_t* body = panel + header;
    for (size_t j = 0; j < nc; ++j) {
      const int8_t* col = w + (j0 + j) * w_row_stride;
      for (size_t p = 0; p < k; ++p) {
        const int8_t x = col[p * w_col_stride];
        switch (layout) {
          case QGemmPanelLayout::kK4xS8:
            body[(p / 4) * nr * 4 + j * 4 + p % 4] = static_cast<uint8_t>(x);
            break;
          case QGemmPanelLayout::kK2xS16: {
            const int16_t x16 = x;
            std::memcpy(body + ((p / 2) * nr * 2 + j * 2 + p % 2) * sizeof(int16_t), &x16, sizeof(x16));
            break;
          }
          case QGemmPanelLayout::kK1xS16: {
            const int16_t x16 = x;
            std::memcpy(body + (p * nr + j) * sizeof(int16_t), &x16, sizeof(x16));
            break;
          }
        }
      }
    }
  }
}

// ---- Portable microkernel ----

namespace {

template <size_t MR>
void portable_tile(size_t nc, size_t k, const uint8_t* a, size_t a_stride, const void* panel,
                   uint8_t* c, size_t c_stride, int32_t c_zero_point, int32_t lo, int32_t hi) {
  constexpr size_t kNr = 8;
  int32_t head[3][kNr];
  std::memcpy(head, panel, sizeof(head));
  const auto* w = static_cast<const int8_t*>(panel) + qgemm_header_bytes(kNr);
  uint32_t acc[MR][kNr];
  for (size_t i = 0; i < MR; ++i)
    for (size_t j = 0; j < kNr; ++j) acc[i][j] = static_cast<uint32_t>(head[0][j]);
  for (size_t p0 = 0; p0 < k; p0 += 4, w += kNr * 4) {
    const size_t kc = std::min<size_t>(4, k - p0);
    for (size_t i = 0; i < MR; ++i)
      for (size_t q = 0; q < kc; ++q) {
        const int32_t x = a[i * a_stride + p0 + q];
        for (size_t j = 0; j < kNr; ++j) acc[i][j] += static_cast<uint32_t>(x * w[j * 4 + q]);
      }
  }
  for (size_t i = 0; i < MR; ++i)
    for (size_t j = 0; j < nc; ++j)
      c[i * c_stride + j] = static_cast<uint8_t>(requantize(
          static_cast<int32_t>(acc[i][j]), Requant{head[1][j], head[2][j]}, c_zero_point, lo, hi));
}

}  // namespace

void q8_gemm_4x8__scalar(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                         const void* panel, uint8_t* c, size_t c_stride, int32_t c_zero_point,
                         int32_t lo, int32_t hi) {
  switch (mr) {
    case 1: return portable_tile<1>(nc, k, a, a_stride, panel, c, c_stride, c_zero_point, lo, hi);
    case 2: return portable_tile<2>(nc, k, a, a_stride, panel, c, c_stride, c_zero_point, lo, hi);
    case 3: return portable_tile<3>(nc, k, a, a_stride, panel, c, c_stride, c_zero_point, lo, hi);
    default: return portable_tile<4>(nc, k, a, a_stride, panel, c, c_stride, c_zero_point, lo, hi);
  }
}

// ---- Driver ----

namespace {

inline void run_tile(const QGemmVariant& v, const QGemmArgs& g, size_t panel_stride, size_t m_tile,
                     size_t n_panel) {
  const size_t i0 = m_tile * v.mr, mr = std::min(v.mr, g.m - i0);
  const size_t j0 = n_panel * v.nr, nc = std::min(v.nr, g.n - j0);
  v.microkernel(mr, nc, g.k, g.a + i0 * g.a_stride, g.a_stride,
                static_cast<const uint8_t*>(g.packed_b) + n_panel * panel_stride,
                g.c + i0 * g.c_stride + j0, g.c_stride, g.c_zero_point, g.lo, g.hi);
}

}  // namespace

void qgemm(const QGemmVariant& v, const QGemmArgs& args, size_t mt0, size_t mt1, size_t np0, size_t np1) {
  const size_t panel_stride = qgemm_panel_stride(v, args.k);
  for (size_t mt = mt0; mt < mt1; ++mt)
    for (size_t np = np0; np < np1; ++np) run_tile(v, args, panel_stride, mt, np);
}

void qgemm_tiles(const QGemmVariant& v, const QGemmArgs& args, size_t t0, size_t t1) {
  const size_t panel_stride = qgemm_panel_stride(v, args.k), n_panels = qgemm_n_panels(v, args.n);
  for (size_t t = t0; t < t1; ++t) run_tile(v, args, panel_stride, t / n_panels, t % n_panels);
}

}  // namespace pare::rt::kernels
