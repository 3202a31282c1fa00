// GEMM on palette weights (weight clustering): Y[m, n] = act(bias[n] + sum_k X[m, k] W[n, k])
// with W[n, k] = P_n[idx(n, k)] read from an rt::PaletteView, for 1x1 convolutions in NHWC
// (X = [pixels, Cin]) and Gemm/MatMul with a constant palette B.
//
// The weights are never expanded in memory: prepare repacks the 2-, 3- or 4-bit indices into
// 4-bit form (a table per output channel, padded to 16 entries).
//
// f32: a group of 2 * half input channels is `half` bytes, byte b holding channel b in its
// low nibble and channel half + b in its high one, so one load and a mask or shift give
// `half` indices in the lanes of a vector; vpermps / vpermps+blend (AVX2) / tbl (NEON) on the
// 16 floats of the table. Vectors run along k: each (row of X, output channel) pair keeps a
// vector of partial sums, reduced once per tile, so an MR x NR tile decodes each weight once
// per MR rows. f32 sums are in a different order from the reference: tests bound the
// difference.
//
// int8: the indices are stored per panel of the qgemm variant of the same ISA (nr output
// channels), in the order of the elements of qgemm's packed panel body (QGemmPanelLayout).
// A call decodes one panel at a time into a scratch panel (qgemm's header, then K x nr
// weights in its layout: 30 KiB at K = 960, nr = 32, so it stays in L1) and runs qgemm's
// own microkernel on it over all the rows of the call: the decode is paid once per panel
// and call, the weights stream at 4 bits, and the results are bit-exact with qgemm on the
// expanded weights (same header, same microkernel, same requantization).
// Element e of a panel body (bytes for kK4xS8, int16 for the others) has its index in byte
// (e / 64) * 32 + e % 32 of the panel's indices, low nibble if e % 64 < 32, high otherwise,
// so 32 bytes give the 64 weights of one 512-bit vector (AVX-512: a nibble split and four
// masked vpshufb on the tables of the 4 channels in each 128-bit lane).
//
// Resident memory: about k/2 bytes per output channel + the tables (+ qgemm's panel header
// for int8).
//
// Bits 5..8 (more than 16 entries), transposed views with a table per row of the [K, N]
// view, views with a table per column, and entropy-coded indices (PaletteCoding::kHuffman)
// are not packed: the op expands them (palette_densify) and names the kernel
// "..._expanded". Where the kernel runs is decided at prepare (lutgemm_pays).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/qgemm/qgemm.h"
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

// int8 weights per qgemm panel of nr output channels (see above); columns past n have zero
// tables. The decoders write rows past k as index 0 gives; q8_lutgemm_decode_panel zeroes them.
struct Q8LutPacked {
  size_t n = 0, k = 0, nr = 0;
  QGemmPanelLayout layout = QGemmPanelLayout::kK4xS8;
  size_t panels = 0;
  size_t body_elements = 0;      // per panel: ceil(k / 4) * 4 * nr
  size_t header_bytes = 0;       // qgemm_panel_header_bytes
  size_t panel_index_bytes = 0;  // index bytes per panel, a multiple of 32
  std::vector<uint8_t> headers;  // [panels][header_bytes]: qgemm's panel headers
  std::vector<uint8_t> indices;  // [panels][panel_index_bytes]
  std::vector<int8_t> tables;    // [panels * nr][16]
};

// W = the view ([N, K], or [K, N] when `transposed`), f32 scaled by alpha; bias [N] or null.
F32LutPacked f32_lutgemm_pack(const PaletteView& w, bool transposed, const float* bias, float alpha,
                              size_t half);
struct Q8LutVariant;
// int8 view [N, K]; bias [N] or null; rq [N]. For the variant's qgemm panels.
Q8LutPacked q8_lutgemm_pack(const Q8LutVariant& v, const PaletteView& w, const int32_t* bias,
                            int32_t a_zero_point, const Requant* rq);

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
  uint8_t* panel = nullptr;  // q8_lutgemm_scratch_bytes, 64-byte aligned: the decoded panel
};

// Rows [m0, m1) x output channels [n0, n1) of Y, clamped to [min, max] (NaN passes).
using F32LutKernel = void (*)(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1);
// Writes the body of one qgemm panel (the elements after the header) from its indices and
// the 16-entry tables of its nr channels.
using Q8LutDecode = void (*)(const Q8LutPacked& w, size_t panel, uint8_t* body);

struct F32LutVariant {
  const char* name;      // "f32_lutgemm_4x4__avx512"
  const char* tile_isa;  // "4x4__avx512"
  rt::Isa isa;
  size_t half;  // bytes per index group (2 * half input channels)
  F32LutKernel kernel;
};

// Runs on the qgemm variant of the same ISA (select_qgemm(isa), the tile of the name).
struct Q8LutVariant {
  const char* name;      // "q8_lutgemm_8x32__avx512vnni"
  const char* tile_isa;  // "8x32__avx512vnni"
  rt::Isa isa;
  Q8LutDecode decode;
};

void f32_lutgemm_1x1__scalar(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1);
// Element by element, for every panel layout.
void q8_lutgemm_decode__scalar(const Q8LutPacked& w, size_t panel, uint8_t* body);
#if defined(__x86_64__)
void f32_lutgemm_4x2__avx2(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1);
void f32_lutgemm_4x4__avx512(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1);
// The kK4xS8 panels of qgemm 8x32 VNNI: vpermi2b where the CPU has VBMI, else vpshufb.
void q8_lutgemm_decode_k4x32__avx512vnni(const Q8LutPacked& w, size_t panel, uint8_t* body);
void q8_lutgemm_decode_k4x32__avx512vbmi(const Q8LutPacked& w, size_t panel, uint8_t* body);
void q8_lutgemm_decode_k4x32__avx512bw(const Q8LutPacked& w, size_t panel, uint8_t* body);
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
// int8 also by rows: the panel decode is paid once per call and amortised over m.
bool q8_lutgemm_pays(rt::Isa isa, size_t m, size_t n, size_t k);

// ---- Driver ----

// Rows [m0, m1) of Y, all output channels, in tiles that keep a few rows of X in L1.
void f32_lutgemm(const F32LutVariant& v, const F32LutArgs& args, size_t m0, size_t m1);
// Rows [m0, m1) x the output channels of panels [np0, np1) (q8_lutgemm_panels), one panel
// decoded at a time into args.panel.
void q8_lutgemm(const Q8LutVariant& v, const Q8LutArgs& args, size_t m0, size_t m1, size_t np0, size_t np1);
size_t q8_lutgemm_panels(const Q8LutPacked& w);
// Panel np as qgemm_pack_b writes it for the expanded weights, byte for byte: the header,
// the body decoded by v.decode, the rows past K zeroed.
void q8_lutgemm_decode_panel(const Q8LutVariant& v, const Q8LutPacked& w, size_t np, uint8_t* panel);
size_t q8_lutgemm_scratch_bytes(const Q8LutVariant& v, size_t k);
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

// The f32 kernels' common ends: a tile's `rows` x `cols` reduced sums written to Y at (i0, j0)
// with the bias added and clamped; and the walk over tiles of MR x NR.
template <size_t MR, size_t NR>
inline void f32_lut_store_tile(const F32LutArgs& args, const float (&sums)[MR][NR], size_t i0, size_t rows,
                               size_t j0, size_t cols) {
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      const float sum = args.w->bias[j0 + c] + sums[r][c];
      args.y[(i0 + r) * args.y_stride + j0 + c] = std::min(std::max(sum, args.min), args.max);
    }
}

template <size_t MR, size_t NR, typename Tile>
inline void f32_lut_tiles(const F32LutArgs& args, size_t m0, size_t m1, size_t n0, size_t n1, Tile tile) {
  for (size_t i = m0; i < m1; i += MR)
    for (size_t j = n0; j < n1; j += NR) tile(args, i, std::min(MR, m1 - i), j, std::min(NR, n1 - j));
}

}  // namespace pare::rt::kernels
