// GEMM on palette weights (weight clustering): Y[m, n] = act(bias[n] + sum_k X[m, k] W[n, k])
// with W[n, k] = P_n[idx(n, k)] read from an rt::PaletteView, for 1x1 convolutions in NHWC
// (X = [pixels, Cin]) and Gemm/MatMul with a constant palette B.
//
// The weights are never expanded in memory: prepare repacks the 2-, 3- or 4-bit indices into
// 4-bit groups of the variant's layout (a table per output channel, padded to 16 entries),
// and the kernels look each weight up in registers. A group of 2 * half input channels is
// `half` bytes, byte b holding channel b in its low nibble and channel half + b in its high
// one, so one load and a mask or shift give `half` indices in the lanes of a vector:
//   f32: vpermps / vpermps+blend (AVX2) / tbl (NEON) on the 16 floats of the table;
//   int8: vpshufb / tbl on the 16 int8 entries, then vpdpbusd (VNNI) or vpmaddwd (AVX2)
//         against u8 activations, exact integer sums as in qgemm.
// Vectors run along k: each (row of X, output channel) pair keeps a vector of partial sums,
// reduced once per tile, so an MR x NR tile decodes each weight once per MR rows.
// Resident memory: k/2 bytes per output channel (rounded up to a group) + the tables.
//
// f32 sums are in a different order from the reference (lane partial sums): tests bound
// the difference. int8 results are bit-exact: acc = bias - a_zp * sum_k w + sum_k a w, then
// kernels::requantize exactly as qgemm.
//
// Bits 5..8 (more than 16 entries), transposed views with a table per row of the [K, N]
// view, views with a table per column, and entropy-coded indices (PaletteCoding::kHuffman)
// are not packed: the op expands them (palette_densify) and names the kernel
// "..._expanded". Where the kernel runs is decided at prepare (lutgemm_pays).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/quant/requant.h"
#include "runtime/types.h"

namespace pare::rt::kernels {

constexpr size_t kLutEntries = 16;

// Writes the view as a dense row-major [rows, cols] matrix of its dtype (float or int8),
// decoding a kHuffman stream in one pass.
void palette_densify(const PaletteView& w, void* dense);

// Whether the view can be packed for the LUT kernels: float32 or int8, at most 16 entries
// (bits <= 4), packed indices, a table per row or one table, and, when `transposed` (the
// view is [K, N]), a single table.
bool lutgemm_packable(const PaletteView& w, bool transposed);

// Indices of W [n, k] in groups of 2 * half input channels (see above), a table of 16
// entries per output channel (per-tensor tables are replicated, missing entries zero).
struct LutIndices {
  size_t n = 0, k = 0, half = 0;
  size_t groups = 0;             // ceil(k / (2 * half))
  std::vector<uint8_t> indices;  // [n][groups * half]
  const uint8_t* row(size_t j) const { return indices.data() + j * groups * half; }
};

struct F32LutPacked {
  LutIndices w;
  std::vector<float> tables;  // [n][16], scaled by alpha
  std::vector<float> bias;    // [n], zero where there is none
};

struct Q8LutPacked {
  LutIndices w;
  std::vector<int8_t> tables;  // [n][16]
  std::vector<int32_t> bias;   // [n]: bias - a_zero_point * sum_k W[n, k]
  std::vector<Requant> rq;     // [n]
};

// W = the view ([N, K], or [K, N] when `transposed`), f32 scaled by alpha; bias [N] or null.
F32LutPacked f32_lutgemm_pack(const PaletteView& w, bool transposed, const float* bias, float alpha,
                              size_t half);
// int8 view [N, K]; bias [N] or null; rq [N].
Q8LutPacked q8_lutgemm_pack(const PaletteView& w, const int32_t* bias, int32_t a_zero_point,
                            const Requant* rq, size_t half);

// ---- Kernels ----

struct F32LutArgs {
  const F32LutPacked* w = nullptr;
  const float* x = nullptr;  // X[i, p] = x[i * x_stride + p], x_stride >= k
  size_t x_stride = 0;
  float* y = nullptr;  // Y[i, j] = y[i * y_stride + j], y_stride >= n
  size_t y_stride = 0;
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
  const FusedActivation* activation = nullptr;  // applied by the driver after the kernel, or null
};

struct Q8LutArgs {
  const Q8LutPacked* w = nullptr;
  const uint8_t* a = nullptr;  // A[i, p] = a[i * a_stride + p]
  size_t a_stride = 0;
  uint8_t* c = nullptr;  // C[i, j] = c[i * c_stride + j]
  size_t c_stride = 0;
  int32_t c_zero_point = 0;
  int32_t lo = 0, hi = 255;
};

// Rows [m0, m1) x output channels [n0, n1) of Y (or C), clamped to [min, max] (NaN passes).
using F32LutKernel = void (*)(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1);
using Q8LutKernel = void (*)(const Q8LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1);

struct F32LutVariant {
  const char* name;      // "f32_lutgemm_4x4__avx512"
  const char* tile_isa;  // "4x4__avx512"
  rt::Isa isa;
  size_t half;  // bytes per index group (2 * half input channels)
  F32LutKernel kernel;
};

struct Q8LutVariant {
  const char* name;
  const char* tile_isa;
  rt::Isa isa;
  size_t half;
  Q8LutKernel kernel;
};

void f32_lutgemm_1x1__scalar(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1);
void q8_lutgemm_1x1__scalar(const Q8LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1);
#if defined(__x86_64__)
void f32_lutgemm_4x2__avx2(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1);
void f32_lutgemm_4x4__avx512(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1);
void q8_lutgemm_4x2__avx2(const Q8LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1);
void q8_lutgemm_4x4__avx512vnni(const Q8LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1);
#endif
#if defined(__aarch64__)
void f32_lutgemm_4x2__neon(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1);
#endif

// Every variant built for this architecture, scalar first.
const F32LutVariant* f32_lutgemm_variants(size_t* count);
const Q8LutVariant* q8_lutgemm_variants(size_t* count);
// The fastest variant usable under the ISA cap.
const F32LutVariant& select_f32_lutgemm(rt::Isa isa);
const Q8LutVariant& select_q8_lutgemm(rt::Isa isa);

// Whether the LUT kernel of `isa` runs a [n, k] layer at least as fast as the dense GEMM of
// the same ISA (kernel_lutgemm_bench on MobileNetV2-224's 1x1 shapes; docs/benchmarks.md).
bool f32_lutgemm_pays(rt::Isa isa, size_t n, size_t k);
bool q8_lutgemm_pays(rt::Isa isa, size_t n, size_t k);

// ---- Driver ----

// Rows [m0, m1) of Y, all output channels, in tiles that keep a few rows of X in L1.
void f32_lutgemm(const F32LutVariant& v, const F32LutArgs& args, size_t m0, size_t m1);
void q8_lutgemm(const Q8LutVariant& v, const Q8LutArgs& args, size_t m0, size_t m1);
// Relu and Clip become the clamp; other activations run after each call.
void f32_lutgemm_set_activation(const FusedActivation& act, F32LutArgs* args);

// The obviously right versions the tests compare against, straight from the view: the
// weights expanded, then the plain sums (f32 in k order; int8 through qgemm_ref__scalar).
void f32_lutgemm_ref__scalar(const PaletteView& w, bool transposed, const float* bias, float alpha,
                             size_t m, const float* x, size_t x_stride, const FusedActivation& act,
                             float* y);
void q8_lutgemm_ref__scalar(const PaletteView& w, const int32_t* bias, int32_t a_zero_point,
                            const Requant* rq, size_t m, const uint8_t* a, size_t a_stride,
                            int32_t c_zero_point, int32_t lo, int32_t hi, uint8_t* c);

}  // namespace pare::rt::kernels
