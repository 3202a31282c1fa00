#include <algorithm>
#include <cstring>

#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/lutgemm/lutgemm.h"
#include "runtime/kernels/qgemm/qgemm.h"
#include "runtime/palette.h"

namespace pare::rt::kernels {

namespace {

// Index of element (r, c) of the view.
uint32_t palette_index(const PaletteView& w, int64_t r, int64_t c) {
  const uint8_t* row = w.indices + r * w.row_bytes;
  const int64_t bit = c * w.bits;
  uint32_t word = row[bit / 8];
  if (bit % 8 + w.bits > 8) word |= static_cast<uint32_t>(row[bit / 8 + 1]) << 8;
  return (word >> (bit % 8)) & ((1u << w.bits) - 1);
}

// The table of output channel `r` of a view the kernels pack (a table per row or one table).
size_t table_of(const PaletteView& w, int64_t r) { return w.per_row ? static_cast<size_t>(r) : 0; }

// Decodes the bit stream of a kHuffman view (checked at load) once, a row at a time.
template <typename T>
void densify_stream(const PaletteView& w, T* out) {
  PaletteCode code;
  std::string problem;
  if (!code.build(w.code_lengths, w.entries, &problem)) return;
  PaletteStreamReader stream(code, w.indices, w.stream_bits);
  const auto* tables = static_cast<const T*>(w.palette);
  std::vector<uint8_t> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r, out += w.cols) {
    stream.read_checked(w.cols, row.data());
    if (w.per_column) {
      for (int64_t c = 0; c < w.cols; ++c) out[c] = tables[c * w.entries + row[static_cast<size_t>(c)]];
    } else {
      const T* table = tables + (w.per_row ? r : 0) * w.entries;
      for (int64_t c = 0; c < w.cols; ++c) out[c] = table[row[static_cast<size_t>(c)]];
    }
  }
}

// Repacks W [n, k] (element (j, p) of the view at (p, j) when transposed) into 4-bit groups.
LutIndices pack_indices(const PaletteView& w, bool transposed, size_t half) {
  LutIndices p;
  p.n = static_cast<size_t>(transposed ? w.cols : w.rows);
  p.k = static_cast<size_t>(transposed ? w.rows : w.cols);
  p.half = half;
  p.groups = (p.k + 2 * half - 1) / (2 * half);
  p.indices.assign(p.n * p.groups * half, 0);
  for (size_t j = 0; j < p.n; ++j) {
    uint8_t* row = p.indices.data() + j * p.groups * half;
    for (size_t q = 0; q < p.k; ++q) {
      const auto idx = static_cast<uint8_t>(transposed ? palette_index(w, q, j) : palette_index(w, j, q));
      const size_t g = q / (2 * half), b = q % (2 * half);
      row[g * half + b % half] |= b < half ? idx : static_cast<uint8_t>(idx << 4);
    }
  }
  return p;
}

// Row (of K) and column (within the panel) of element e of a qgemm panel body, as
// qgemm_pack_b places them.
void panel_element(const Q8LutPacked& p, size_t e, size_t* row, size_t* col) {
  if (p.layout == QGemmPanelLayout::kK4xS8) {
    *row = e / (4 * p.nr) * 4 + e % 4;
    *col = e % (4 * p.nr) / 4;
  } else if (p.layout == QGemmPanelLayout::kK2xS16) {
    *row = e / (2 * p.nr) * 2 + e % 2;
    *col = e % (2 * p.nr) / 2;
  } else {
    *row = e / p.nr;
    *col = e % p.nr;
  }
}

}  // namespace

void palette_densify(const PaletteView& w, void* dense) {
  if (w.coding == PaletteCoding::kHuffman) {
    if (w.dtype == DType::kFloat32) return densify_stream(w, static_cast<float*>(dense));
    return densify_stream(w, static_cast<int8_t*>(dense));
  }
  const size_t element = dtype_size(w.dtype);
  const auto* table = static_cast<const uint8_t*>(w.palette);
  auto* out = static_cast<uint8_t*>(dense);
  for (int64_t r = 0; r < w.rows; ++r)
    for (int64_t c = 0; c < w.cols; ++c)
      std::memcpy(out + (r * w.cols + c) * element,
                  table + (palette_table_of(w, r, c) * w.entries + palette_index(w, r, c)) * element, element);
}

bool lutgemm_packable(const PaletteView& w, bool transposed) {
  return (w.dtype == DType::kFloat32 || w.dtype == DType::kInt8) && w.coding == PaletteCoding::kPacked &&
         w.bits >= 2 && w.bits <= 4 && w.entries >= 1 && static_cast<size_t>(w.entries) <= kLutEntries &&
         !w.per_column && (!transposed || !w.per_row);
}

F32LutPacked f32_lutgemm_pack(const PaletteView& w, bool transposed, const float* bias, float alpha,
                              size_t half) {
  F32LutPacked p;
  p.w = pack_indices(w, transposed, half);
  p.tables.assign(p.w.n * kLutEntries, 0.f);
  p.bias.assign(p.w.n, 0.f);
  const auto* table = static_cast<const float*>(w.palette);
  for (size_t j = 0; j < p.w.n; ++j) {
    const float* t = table + (transposed ? 0 : table_of(w, static_cast<int64_t>(j))) * w.entries;
    for (int32_t e = 0; e < w.entries; ++e) p.tables[j * kLutEntries + e] = alpha * t[e];
    if (bias) p.bias[j] = bias[j];
  }
  return p;
}

Q8LutPacked q8_lutgemm_pack(const Q8LutVariant& v, const PaletteView& w, const int32_t* bias,
                            int32_t a_zero_point, const Requant* rq) {
  const QGemmVariant& gemm = select_qgemm(v.isa);
  Q8LutPacked p;
  p.n = static_cast<size_t>(w.rows);
  p.k = static_cast<size_t>(w.cols);
  p.nr = gemm.nr;
  p.layout = qgemm_panel_layout(gemm);
  p.panels = qgemm_n_panels(gemm, p.n);
  p.header_bytes = qgemm_panel_header_bytes(gemm);
  p.body_elements = (p.k + 3) / 4 * 4 * p.nr;
  p.panel_index_bytes = (p.body_elements + 63) / 64 * 32;
  // The headers are qgemm's own (zero points folded into the bias as its variant does), so
  // the decoded panels are exactly what qgemm_pack_b writes for the expanded weights.
  {
    std::vector<int8_t> dense(p.n * p.k);
    palette_densify(w, dense.data());
    const size_t stride = qgemm_panel_stride(gemm, p.k);
    std::vector<uint8_t> packed(qgemm_packed_b_bytes(gemm, p.n, p.k));
    qgemm_pack_b(gemm, p.n, p.k, dense.data(), p.k, 1, bias, a_zero_point, rq, packed.data());
    p.headers.resize(p.panels * p.header_bytes);
    for (size_t np = 0; np < p.panels; ++np)
      std::memcpy(p.headers.data() + np * p.header_bytes, packed.data() + np * stride, p.header_bytes);
  }
  p.tables.assign(p.panels * p.nr * kLutEntries, 0);
  const auto* table = static_cast<const int8_t*>(w.palette);
  for (size_t j = 0; j < p.n; ++j)
    std::copy(table + table_of(w, static_cast<int64_t>(j)) * w.entries,
              table + (table_of(w, static_cast<int64_t>(j)) + 1) * w.entries,
              p.tables.begin() + static_cast<std::ptrdiff_t>(j * kLutEntries));
  p.indices.assign(p.panels * p.panel_index_bytes, 0);
  for (size_t np = 0; np < p.panels; ++np) {
    uint8_t* out = p.indices.data() + np * p.panel_index_bytes;
    for (size_t e = 0; e < p.body_elements; ++e) {
      size_t row, col;
      panel_element(p, e, &row, &col);
      const size_t j = np * p.nr + col;
      if (row >= p.k || j >= p.n) continue;
      const auto idx = static_cast<uint8_t>(palette_index(w, static_cast<int64_t>(j), static_cast<int64_t>(row)));
      out[e / 64 * 32 + e % 32] |= e % 64 < 32 ? idx : static_cast<uint8_t>(idx << 4);
    }
  }
  return p;
}

// ---- Portable kernels: one element at a time over the packed groups ----

namespace {

uint32_t packed_index(const LutIndices& w, const uint8_t* row, size_t q) {
  const size_t g = q / (2 * w.half), b = q % (2 * w.half);
  const uint8_t byte = row[g * w.half + b % w.half];
  return b < w.half ? byte & 15u : byte >> 4;
}

}  // namespace

void f32_lutgemm_1x1__scalar(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1) {
  const F32LutPacked& w = *args.w;
  for (size_t i = m0; i < m1; ++i) {
    const float* x = args.x + i * args.x_stride;
    for (size_t j = n0; j < n1; ++j) {
      const uint8_t* row = w.w.row(j);
      const float* t = w.tables.data() + j * kLutEntries;
      float acc = w.bias[j];
      for (size_t q = 0; q < w.w.k; ++q) acc += x[q] * t[packed_index(w.w, row, q)];
      // NaN passes the clamp (std::max and std::min return their first argument then).
      args.y[i * args.y_stride + j] = std::min(std::max(acc, args.min), args.max);
    }
  }
}

namespace {

// Element e of the body is in column (e >> kShift) % nr of the panel in every layout (4, 2 or
// 1 rows per column group; nr is a power of two), so a byte's two indices decode without
// working out their rows.
template <int kShift, class T>
void decode_elements(const uint8_t* idx, const int8_t* tables, size_t nr, size_t elements, T* body) {
  const size_t mask = nr - 1;
  for (size_t base = 0; base < elements; base += 64)
    for (size_t i = 0; i < 32; ++i) {
      const uint8_t byte = idx[base / 2 + i];
      const size_t lo = base + i, hi = lo + 32;  // elements is a multiple of 4 * nr >= 32
      body[lo] = static_cast<T>(tables[((lo >> kShift) & mask) * kLutEntries + (byte & 15u)]);
      if (hi < elements) body[hi] = static_cast<T>(tables[((hi >> kShift) & mask) * kLutEntries + (byte >> 4)]);
    }
}

}  // namespace

void q8_lutgemm_decode__scalar(const Q8LutPacked& w, size_t panel, uint8_t* body) {
  const uint8_t* idx = w.indices.data() + panel * w.panel_index_bytes;
  const int8_t* tables = w.tables.data() + panel * w.nr * kLutEntries;
  switch (w.layout) {
    case QGemmPanelLayout::kK4xS8:
      return decode_elements<2>(idx, tables, w.nr, w.body_elements, reinterpret_cast<int8_t*>(body));
    case QGemmPanelLayout::kK2xS16:
      return decode_elements<1>(idx, tables, w.nr, w.body_elements, reinterpret_cast<int16_t*>(body));
    case QGemmPanelLayout::kK1xS16:
      return decode_elements<0>(idx, tables, w.nr, w.body_elements, reinterpret_cast<int16_t*>(body));
  }
}

// ---- Variants ----

namespace {

constexpr F32LutVariant kF32Reference = {"f32_lutgemm_1x1__scalar", "1x1__scalar", Isa::kScalar, 8,
                                        f32_lutgemm_1x1__scalar};
constexpr F32LutVariant kF32Variants[] = {
    kF32Reference,
#if PARE_KERNELS_AVX2
    {"f32_lutgemm_4x2__avx2", "4x2__avx2", Isa::kAvx2, 8, f32_lutgemm_4x2__avx2},
#endif
#if PARE_KERNELS_AVX512
    {"f32_lutgemm_4x4__avx512", "4x4__avx512", Isa::kAvx512, 16, f32_lutgemm_4x4__avx512},
#endif
#if PARE_KERNELS_NEON
    {"f32_lutgemm_4x2__neon", "4x2__neon", Isa::kNeon, 8, f32_lutgemm_4x2__neon},
#endif
};

// The tile of each name is its qgemm variant's.
constexpr Q8LutVariant kQ8Reference = {"q8_lutgemm_4x8__scalar", "4x8__scalar", Isa::kScalar,
                                      q8_lutgemm_decode__scalar};
constexpr Q8LutVariant kQ8Variants[] = {
    kQ8Reference,
#if PARE_KERNELS_AVX2
    {"q8_lutgemm_6x16__avx2", "6x16__avx2", Isa::kAvx2, q8_lutgemm_decode__scalar},
#endif
#if PARE_KERNELS_AVX512VNNI
    {"q8_lutgemm_8x32__avx512vnni", "8x32__avx512vnni", Isa::kAvx512Vnni, q8_lutgemm_decode_k4x32__avx512vnni},
#endif
#if PARE_KERNELS_NEON
    {"q8_lutgemm_8x8__neon", "8x8__neon", Isa::kNeon, q8_lutgemm_decode__scalar},
#endif
#if PARE_KERNELS_NEONDOT
    {"q8_lutgemm_8x8__neondot", "8x8__neondot", Isa::kNeonDot, q8_lutgemm_decode__scalar},
#endif
};

// A table that runs from the portable variant (first) to the fastest.
template <class V>
const V& select(const V* variants, size_t count, Isa isa) {
  const V* best = best_usable_variant(variants, count, true, isa);
  return best ? *best : variants[0];
}

// Rows of X per block: a block's rows stay in L1 while every output channel passes over them.
constexpr size_t kRowBlock = 16;

}  // namespace

const F32LutVariant* f32_lutgemm_variants(size_t* count) {
  if constexpr (!kernel_family_selected("f32_lutgemm")) {
    *count = 1;
    return &kF32Reference;
  }
  *count = sizeof(kF32Variants) / sizeof(kF32Variants[0]);
  return kF32Variants;
}
const Q8LutVariant* q8_lutgemm_variants(size_t* count) {
  if constexpr (!kernel_family_selected("q8_lutgemm")) {
    *count = 1;
    return &kQ8Reference;
  }
  *count = sizeof(kQ8Variants) / sizeof(kQ8Variants[0]);
  return kQ8Variants;
}
const F32LutVariant& select_f32_lutgemm(Isa isa) {
  note_kernel_family("f32_lutgemm");
  size_t count = 0;
  const F32LutVariant* all = f32_lutgemm_variants(&count);
  return select(all, count, isa);
}
const Q8LutVariant& select_q8_lutgemm(Isa isa) {
  note_kernel_family("q8_lutgemm");
  size_t count = 0;
  const Q8LutVariant* all = q8_lutgemm_variants(&count);
  return select(all, count, isa);
}

// Measured with kernel_lutgemm_bench (docs/benchmarks.md) on MobileNetV2-224's 19 distinct
// 1x1 shapes at M = 4, 16 and the network's M (f32; no layer runs at least as fast as the
// dense kernel of the same ISA: at best 0.84x on AVX-512 and 0.59x on AVX2, with K = 960 or
// 144), so every f32 layer is expanded until a kernel wins.
bool f32_lutgemm_pays(Isa isa, size_t n, size_t k) { return false; }

// int8, same bench at M = 4, 16, 64 and the network's M (docs/benchmarks.md): with the VNNI
// panel decode every layer of M >= 3136 rows measures 1.00-1.05x of qgemm VNNI, M = 784
// 0.98-1.02x, M = 196 0.97-1.02x, M = 49..64 0.90-1.02x, M = 16 0.80-0.93x, M = 4
// 0.58-0.77x, whatever N and K (the decode is paid per panel and spread over the rows), so
// it runs from 1024 rows. The AVX2 and portable decoders go element by element and reach at
// best 0.95-1.01x at M >= 784 on AVX2; NEON is not measured (qemu only). Under the AMX cap
// the dense AMX GEMM runs the same layers 1.3-4x faster than the VNNI tile the decode feeds,
// so palette layers there expand to dense weights.
bool q8_lutgemm_pays(Isa isa, size_t m, size_t n, size_t k) { return isa == Isa::kAvx512Vnni && m >= 1024; }

void f32_lutgemm(const F32LutVariant& v, const F32LutArgs& args, size_t m0, size_t m1) {
  for (size_t i = m0; i < m1; i += kRowBlock) {
    const size_t rows = std::min(kRowBlock, m1 - i);
    v.kernel(args, i, i + rows, 0, args.w->w.n);
    if (args.activation)
      f32_gemm_activation(*args.activation, nullptr, rows, args.w->w.n, args.y + i * args.y_stride, args.y_stride);
  }
}

size_t q8_lutgemm_panels(const Q8LutPacked& w) { return w.panels; }

void q8_lutgemm_decode_panel(const Q8LutVariant& v, const Q8LutPacked& w, size_t np, uint8_t* panel) {
  std::memcpy(panel, w.headers.data() + np * w.header_bytes, w.header_bytes);
  uint8_t* body = panel + w.header_bytes;
  v.decode(w, np, body);
  if (w.k % 4 == 0) return;
  // The rows past K of the last group of 4: zero, as qgemm packs them (sdot reads the
  // missing A bytes as -128, so they must multiply zeros).
  const size_t element = w.layout == QGemmPanelLayout::kK4xS8 ? 1 : sizeof(int16_t);
  for (size_t e = w.body_elements - 4 * w.nr; e < w.body_elements; ++e) {
    size_t row, col;
    panel_element(w, e, &row, &col);
    if (row >= w.k) std::memset(body + e * element, 0, element);
  }
}

size_t q8_lutgemm_scratch_bytes(const Q8LutVariant& v, size_t k) {
  return qgemm_panel_stride(select_qgemm(v.isa), k);
}

void q8_lutgemm(const Q8LutVariant& v, const Q8LutArgs& args, size_t m0, size_t m1, size_t np0, size_t np1) {
  const Q8LutPacked& w = *args.w;
  const QGemmVariant& gemm = select_qgemm(v.isa);
  for (size_t np = np0; np < np1; ++np) {
    q8_lutgemm_decode_panel(v, w, np, args.panel);
    const size_t j0 = np * w.nr, nc = std::min(w.nr, w.n - j0);
    for (size_t i = m0; i < m1; i += gemm.mr)
      gemm.microkernel(std::min(gemm.mr, m1 - i), nc, w.k, args.a + i * args.a_stride, args.a_stride, args.panel,
                       args.c + i * args.c_stride + j0, args.c_stride, args.c_zero_point, args.lo, args.hi);
  }
}

void f32_lutgemm_set_activation(const FusedActivation& act, F32LutArgs* args) {
  F32GemmArgs gemm;
  f32_gemm_set_activation(act, &gemm);
  args->min = gemm.min;
  args->max = gemm.max;
  args->activation = gemm.activation;
}

// ---- References ----

void f32_lutgemm_ref__scalar(const PaletteView& w, bool transposed, const float* bias, float alpha,
                             size_t m, const float* x, size_t x_stride, const FusedActivation& act,
                             float* y) {
  std::vector<float> dense(static_cast<size_t>(w.rows * w.cols));
  palette_densify(w, dense.data());
  const auto n = static_cast<size_t>(transposed ? w.cols : w.rows);
  const auto k = static_cast<size_t>(transposed ? w.rows : w.cols);
  for (size_t i = 0; i < m; ++i)
    for (size_t j = 0; j < n; ++j) {
      float acc = bias ? bias[j] : 0.f;
      for (size_t q = 0; q < k; ++q) acc += x[i * x_stride + q] * (alpha * dense[transposed ? q * n + j : j * k + q]);
      y[i * n + j] = acc;
    }
  f32_gemm_activation(act, nullptr, m, n, y, n);
}

void q8_lutgemm_ref__scalar(const PaletteView& w, const int32_t* bias, int32_t a_zero_point,
                            const Requant* rq, size_t m, const uint8_t* a, size_t a_stride,
                            int32_t c_zero_point, int32_t lo, int32_t hi, uint8_t* c) {
  std::vector<int8_t> dense(static_cast<size_t>(w.rows * w.cols));
  palette_densify(w, dense.data());
  const auto n = static_cast<size_t>(w.rows), k = static_cast<size_t>(w.cols);
  qgemm_ref__scalar(m, n, k, a, a_stride, a_zero_point, dense.data(), k, 1, bias, rq, c_zero_point, lo, hi,
                    c, n);
}

}  // namespace pare::rt::kernels
