#include <algorithm>
#include <cstring>

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

Q8LutPacked q8_lutgemm_pack(const PaletteView& w, const int32_t* bias, int32_t a_zero_point,
                            const Requant* rq, size_t half) {
  Q8LutPacked p;
  p.w = pack_indices(w, false, half);
  p.tables.assign(p.w.n * kLutEntries, 0);
  p.bias.assign(p.w.n, 0);
  p.rq.assign(rq, rq + p.w.n);
  const auto* table = static_cast<const int8_t*>(w.palette);
  for (size_t j = 0; j < p.w.n; ++j) {
    const int8_t* t = table + table_of(w, static_cast<int64_t>(j)) * w.entries;
    std::copy(t, t + w.entries, p.tables.begin() + static_cast<std::ptrdiff_t>(j * kLutEntries));
    uint32_t sum = 0;
    for (size_t q = 0; q < p.w.k; ++q) sum += static_cast<uint32_t>(t[palette_index(w, static_cast<int64_t>(j), static_cast<int64_t>(q))]);
    // Wraps modulo 2^32 like every integer sum here (see qgemm_ref__scalar).
    p.bias[j] = static_cast<int32_t>((bias ? static_cast<uint32_t>(bias[j]) : 0u) -
                                     static_cast<uint32_t>(a_zero_point) * sum);
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

void q8_lutgemm_1x1__scalar(const Q8LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1) {
  const Q8LutPacked& w = *args.w;
  for (size_t i = m0; i < m1; ++i) {
    const uint8_t* a = args.a + i * args.a_stride;
    for (size_t j = n0; j < n1; ++j) {
      const uint8_t* row = w.w.row(j);
      const int8_t* t = w.tables.data() + j * kLutEntries;
      uint32_t acc = static_cast<uint32_t>(w.bias[j]);
      for (size_t q = 0; q < w.w.k; ++q)
        acc += static_cast<uint32_t>(static_cast<int32_t>(a[q]) * t[packed_index(w.w, row, q)]);
      args.c[i * args.c_stride + j] = static_cast<uint8_t>(
          requantize(static_cast<int32_t>(acc), w.rq[j], args.c_zero_point, args.lo, args.hi));
    }
  }
}

// ---- Variants ----

namespace {

constexpr F32LutVariant kF32Variants[] = {
    {"f32_lutgemm_1x1__scalar", "1x1__scalar", Isa::kScalar, 8, f32_lutgemm_1x1__scalar},
#if defined(__x86_64__)
    {"f32_lutgemm_4x2__avx2", "4x2__avx2", Isa::kAvx2, 8, f32_lutgemm_4x2__avx2},
    {"f32_lutgemm_4x4__avx512", "4x4__avx512", Isa::kAvx512, 16, f32_lutgemm_4x4__avx512},
#endif
#if defined(__aarch64__)
    {"f32_lutgemm_4x2__neon", "4x2__neon", Isa::kNeon, 8, f32_lutgemm_4x2__neon},
#endif
};

constexpr Q8LutVariant kQ8Variants[] = {
    {"q8_lutgemm_1x1__scalar", "1x1__scalar", Isa::kScalar, 8, q8_lutgemm_1x1__scalar},
#if defined(__x86_64__)
    {"q8_lutgemm_4x2__avx2", "4x2__avx2", Isa::kAvx2, 16, q8_lutgemm_4x2__avx2},
    {"q8_lutgemm_4x4__avx512vnni", "4x4__avx512vnni", Isa::kAvx512Vnni, 32, q8_lutgemm_4x4__avx512vnni},
#endif
};

template <class V, size_t N>
const V& select(const V (&variants)[N], Isa isa) {
  for (size_t i = N; i-- > 1;)
    if (isa_usable(variants[i].isa, isa)) return variants[i];
  return variants[0];
}

// Rows of X per block: a block's rows stay in L1 while every output channel passes over them.
constexpr size_t kRowBlock = 16;

}  // namespace

const F32LutVariant* f32_lutgemm_variants(size_t* count) {
  *count = sizeof(kF32Variants) / sizeof(kF32Variants[0]);
  return kF32Variants;
}
const Q8LutVariant* q8_lutgemm_variants(size_t* count) {
  *count = sizeof(kQ8Variants) / sizeof(kQ8Variants[0]);
  return kQ8Variants;
}
const F32LutVariant& select_f32_lutgemm(Isa isa) { return select(kF32Variants, isa); }
const Q8LutVariant& select_q8_lutgemm(Isa isa) { return select(kQ8Variants, isa); }

// Measured with kernel_lutgemm_bench (docs/benchmarks.md) on MobileNetV2-224's 19 distinct
// 1x1 shapes at M = 4, 16 and the network's M: no layer runs at least as fast as the dense
// kernel of the same ISA (f32: at best 0.84x on AVX-512 and 0.59x on AVX2, with K = 960 or
// 144; int8: at best 0.48x of qgemm VNNI), so every layer is expanded until a kernel wins.
// NEON is not measured (qemu only).
bool f32_lutgemm_pays(Isa isa, size_t n, size_t k) { return false; }

bool q8_lutgemm_pays(Isa isa, size_t n, size_t k) { return false; }

void f32_lutgemm(const F32LutVariant& v, const F32LutArgs& args, size_t m0, size_t m1) {
  for (size_t i = m0; i < m1; i += kRowBlock) {
    const size_t rows = std::min(kRowBlock, m1 - i);
    v.kernel(args, i, i + rows, 0, args.w->w.n);
    if (args.activation)
      f32_gemm_activation(*args.activation, rows, args.w->w.n, args.y + i * args.y_stride, args.y_stride);
  }
}

void q8_lutgemm(const Q8LutVariant& v, const Q8LutArgs& args, size_t m0, size_t m1) {
  for (size_t i = m0; i < m1; i += kRowBlock) v.kernel(args, i, std::min(m1, i + kRowBlock), 0, args.w->w.n);
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
  f32_gemm_activation(act, m, n, y, n);
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
