// Matrix multiplication kernels, float32.
//
// Two families:
// - f32_gemm_ref__scalar: a plain strided reference (any transposition, alpha, beta, C).
// - f32_gemm: the fast path for Gemm, MatMul and convolutions lowered to a matrix product
//   (1x1 in NHWC directly, KxK through im2col). B (the weights) is packed once at prepare
//   time together with the bias; a microkernel computes an MR x NR tile of C from MR rows of
//   A and one packed panel of B; the driver runs a range of tiles. See README.md.
//
// At prepare time:
//   const F32GemmVariant& v = select_f32_gemm(ctx.isa);
//   packed = 64-byte aligned buffer of f32_gemm_packed_b_bytes(v.nr, n, k) bytes;
//   f32_gemm_pack_b_nk(v.nr, n, k, weights, k, bias, packed);  // weights [N, K]
//   F32GemmArgs args: m, n, k, packed_b, strides; f32_gemm_set_activation(act_, &args);
// In run(), with a and c set for this call, each thread takes a contiguous share of the
// m_tiles * n_panels tiles:
//   nn::parallel_for(pool, tiles, [&](size_t t0, size_t t1) { f32_gemm_tiles(v, args, t0, t1); });
// Every element of C is computed by one microkernel call over all of K in order, starting
// from the bias, so C is bit-identical however the tiles are split among threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "runtime/cpu.h"
#include "runtime/kernels/activation/activation.h"
#include "runtime/types.h"

namespace pare::rt::kernels {

// y[m, n] = alpha * sum_k a(m, k) * b(k, n) + beta * c(m, n) for m < rows, n < cols, where
// x(i, j) = x[i * x_row_stride + j * x_col_stride]: transposed operands swap their strides
// and a broadcast C has a zero stride. c may be null (no C term). y is rows x cols, dense.
struct GemmArgs {
  int64_t rows = 0, cols = 0, depth = 0;
  const float* a = nullptr;
  int64_t a_row_stride = 0, a_col_stride = 0;
  const float* b = nullptr;
  int64_t b_row_stride = 0, b_col_stride = 0;
  const float* c = nullptr;
  int64_t c_row_stride = 0, c_col_stride = 0;
  float alpha = 1.f, beta = 1.f;
  float* y = nullptr;
};

void f32_gemm_ref__scalar(const GemmArgs& args);

// ---- Packed weights ----
//
// B [K, N] is stored as ceil(N / nr) panels of nr columns. Panel j holds the bias of its
// columns (nr floats, zero where there is no bias) followed by K rows of nr weights
// (row p: B[p, j*nr .. j*nr+nr-1]); columns past N are zero. Each panel starts on a 64-byte
// boundary (its size is rounded up to 16 floats), so with a 64-byte aligned buffer every
// panel is aligned.

// Floats from the start of one panel to the next.
size_t f32_gemm_panel_stride(size_t nr, size_t k);
// Bytes of the packed form of a K x N matrix for panels of nr columns.
size_t f32_gemm_packed_b_bytes(size_t nr, size_t n, size_t k);
// Packs B given as [K, N] row-major: B[p, j] = b[p * ldb + j] (ldb >= n). bias: [N] or null.
void f32_gemm_pack_b_kn(size_t nr, size_t n, size_t k, const float* b, size_t ldb,
                        const float* bias, float* packed);
// Packs B given as [N, K] row-major (Gemm transB=1, conv weights [Cout, Cin]):
// B[p, j] = b[j * ldb + p] (ldb >= k). bias: [N] or null.
void f32_gemm_pack_b_nk(size_t nr, size_t n, size_t k, const float* b, size_t ldb,
                        const float* bias, float* packed);

// ---- Microkernels ----
//
// A residual added to a tile after its clamp (a fused Add): C[i, j] = C[i, j] + R[i, j], or
// R[i, j] + C[i, j] with `first` (the operand order of the Add: it decides which NaN passes
// when both are NaN), R[i, j] = r[i * stride + j]. R must not overlap C.
struct F32GemmResidual {
  const float* r = nullptr;
  size_t stride = 0;
  bool first = false;
};
//
// Computes an mr x nc tile (1 <= mr <= MR, 1 <= nc <= NR) of
//   C[i, j] = clamp(panel bias[j] + sum_p A[i, p] * panel B[p, j], min, max)
// with A[i, p] = a[i * a_stride + p], C[i, j] = c[i * c_stride + j], over p = 0 .. k-1 in
// order (the SIMD microkernels: one fused multiply-add per step, so they agree bit for bit
// with each other). NaN passes the clamp. Reads only rows < mr of A, writes only the
// mr x nc elements of C. `panel` points at the start of a packed panel (its bias). A
// residual, when not null, is added to the clamped tile.
using F32GemmMicrokernel = void (*)(size_t mr, size_t nc, size_t k, const float* a,
                                    size_t a_stride, const float* panel, float* c,
                                    size_t c_stride, float min, float max,
                                    const F32GemmResidual* residual);

// The same tile with A given indirectly: row i of A is `runs` runs of run_len floats (K =
// runs * run_len), run r of row i starting at a[i * runs + r]. Each C element gets the same
// fused multiply-adds in the same order as from the strided microkernel on the A rows the
// runs spell, so the two agree bit for bit.
using F32GemmIndirectMicrokernel = void (*)(size_t mr, size_t nc, size_t runs, size_t run_len,
                                            const float* const* a, const float* panel, float* c,
                                            size_t c_stride, float min, float max,
                                            const F32GemmResidual* residual);

struct F32GemmVariant {
  const char* name;      // "f32_gemm_8x32__avx512"
  const char* tile_isa;  // "8x32__avx512", for kernel names with an activation
  rt::Isa isa;           // instruction set the microkernel needs
  size_t mr, nr;
  F32GemmMicrokernel microkernel;
  F32GemmIndirectMicrokernel indirect;
  // The microkernel, asking for the panel a few KiB ahead of use: for weights that come
  // from L3 rather than L2 (f32_gemm_streams_b). The same bytes.
  F32GemmMicrokernel streaming;
  // The indirect microkernel asking for the panel ahead the same way (ResNet-50's 3x3 and
  // strided layers at one thread on Zen 5: 183-191 -> 206-215 GFLOP/s). The same bytes.
  F32GemmIndirectMicrokernel indirect_streaming;
  // Chosen only for products of at least this depth (0: any): a taller tile shares each
  // B load among more rows, but its setup and stores weigh more at small K.
  size_t min_k = 0;
};

void f32_gemm_4x8__scalar(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                          const float* panel, float* c, size_t c_stride, float min, float max,
                          const F32GemmResidual* residual);
void f32_igemm_4x8__scalar(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                           const float* panel, float* c, size_t c_stride, float min, float max,
                           const F32GemmResidual* residual);
#if defined(__x86_64__)
void f32_gemm_6x16__avx2(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                         const float* panel, float* c, size_t c_stride, float min, float max,
                         const F32GemmResidual* residual);
void f32_gemm_6x16__avx2_streaming(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                                   const float* panel, float* c, size_t c_stride, float min, float max,
                                   const F32GemmResidual* residual);
void f32_igemm_6x16__avx2(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                          const float* panel, float* c, size_t c_stride, float min, float max,
                          const F32GemmResidual* residual);
void f32_igemm_6x16__avx2_streaming(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                                    const float* panel, float* c, size_t c_stride, float min, float max,
                                    const F32GemmResidual* residual);
void f32_gemm_8x32__avx512(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                           const float* panel, float* c, size_t c_stride, float min, float max,
                           const F32GemmResidual* residual);
void f32_gemm_8x32__avx512_streaming(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                                     const float* panel, float* c, size_t c_stride, float min, float max,
                                     const F32GemmResidual* residual);
void f32_igemm_8x32__avx512(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                            const float* panel, float* c, size_t c_stride, float min, float max,
                            const F32GemmResidual* residual);
void f32_igemm_8x32__avx512_streaming(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                                      const float* panel, float* c, size_t c_stride, float min, float max,
                                      const F32GemmResidual* residual);
void f32_gemm_12x32__avx512(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                            const float* panel, float* c, size_t c_stride, float min, float max,
                            const F32GemmResidual* residual);
void f32_gemm_12x32__avx512_streaming(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                                      const float* panel, float* c, size_t c_stride, float min, float max,
                                      const F32GemmResidual* residual);
void f32_igemm_12x32__avx512(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                             const float* panel, float* c, size_t c_stride, float min, float max,
                             const F32GemmResidual* residual);
void f32_igemm_12x32__avx512_streaming(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                                       const float* panel, float* c, size_t c_stride, float min, float max,
                                       const F32GemmResidual* residual);
#endif
#if defined(__aarch64__)
void f32_gemm_8x8__neon(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                        const float* panel, float* c, size_t c_stride, float min, float max,
                        const F32GemmResidual* residual);
void f32_gemm_8x8__neon_streaming(size_t mr, size_t nc, size_t k, const float* a, size_t a_stride,
                                  const float* panel, float* c, size_t c_stride, float min, float max,
                                  const F32GemmResidual* residual);
void f32_igemm_8x8__neon(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                         const float* panel, float* c, size_t c_stride, float min, float max,
                         const F32GemmResidual* residual);
void f32_igemm_8x8__neon_streaming(size_t mr, size_t nc, size_t runs, size_t run_len, const float* const* a,
                                   const float* panel, float* c, size_t c_stride, float min, float max,
                                   const F32GemmResidual* residual);
#endif

// Every variant built for this architecture, scalar first; usable only where
// rt::isa_usable(variant.isa, cap).
const F32GemmVariant* f32_gemm_variants(size_t* count);
// The fastest variant usable under the ISA cap `isa` (PrepareContext::isa) for products of
// depth k (0: unknown, any depth). Variants of one ISA share the panel width, so weights
// packed for one run with the others, with the same bytes.
const F32GemmVariant& select_f32_gemm(rt::Isa isa, size_t k = 0);

// ---- Driver ----

struct F32GemmArgs {
  size_t m = 0, n = 0, k = 0;
  const float* a = nullptr;  // A[i, p] = a[i * a_stride + p], a_stride >= k
  size_t a_stride = 0;
  // Or, where a_runs is set, A given indirectly (the variant's indirect microkernel): row i
  // is a_run_count runs of k / a_run_count floats, run r at a_runs[i * a_run_count + r].
  const float* const* a_runs = nullptr;
  size_t a_run_count = 0;
  const float* packed_b = nullptr;  // packed with the variant's nr
  float* c = nullptr;               // C[i, j] = c[i * c_stride + j], c_stride >= n
  size_t c_stride = 0;
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
  // Applied by f32_gemm_activation on each tile right after the microkernel, or null.
  const FusedActivation* activation = nullptr;
  F32UnaryFn activation_vector = nullptr;  // its vector kernel (f32_activation_vector), or null
  // Added to each tile after the clamp and the activation, or null (a residual connection:
  // the bytes of an Add run after the product): C[i, j] + R[i, j], or R[i, j] + C[i, j] with
  // residual_first, R[i, j] = residual[i * residual_stride + j]. It must not overlap C.
  const float* residual = nullptr;
  size_t residual_stride = 0;
  bool residual_first = false;
};

// Tiles of C: m_tiles of at most MR rows by n_panels panels of NR columns (the last
// shorter when NR does not divide N).
inline size_t f32_gemm_m_tiles(const F32GemmVariant& v, size_t m) { return (m + v.mr - 1) / v.mr; }
inline size_t f32_gemm_n_panels(const F32GemmVariant& v, size_t n) { return (n + v.nr - 1) / v.nr; }
// Rows of M tile m_tile: MR rows from m_tile * MR, except that when the rows left for the
// last tile are fewer than MR / 2, the last two tiles share MR + (m % MR) rows evenly.
void f32_gemm_tile_rows(const F32GemmVariant& v, size_t m, size_t m_tile, size_t* first_row,
                        size_t* rows);

// Computes the tiles [m_tile_begin, m_tile_end) x [n_panel_begin, n_panel_end) of C, row of
// tiles by row of tiles.
void f32_gemm(const F32GemmVariant& v, const F32GemmArgs& args, size_t m_tile_begin,
              size_t m_tile_end, size_t n_panel_begin, size_t n_panel_end);
// Whether f32_gemm_tiles numbers tiles panel by panel: when A is small enough to stay in
// the core's L2 (a few dozen rows: attention and MLP layers, late 7x7 convs), each packed
// panel of B then stays in L1 while every M tile uses it, instead of coming again from L2
// for each M tile. The order changes no result: each C element is one microkernel call.
inline bool f32_gemm_panel_major(const F32GemmArgs& args) {
  return args.m * args.k * sizeof(float) <= 256 * 1024;
}
// Whether the tiles of this product run the variant's streaming microkernel: packed
// weights of more than 128 KiB (in a large model they come from L3 on every inference).
bool f32_gemm_streams_b(const F32GemmVariant& v, const F32GemmArgs& args);
// Computes tiles [tile_begin, tile_end) of the m_tiles * n_panels tiles, numbered row by row
// (tile t = M tile t / n_panels, N panel t % n_panels) or, where f32_gemm_panel_major,
// panel by panel (M tile t % m_tiles, N panel t / m_tiles): any contiguous split of
// [0, m_tiles * n_panels) among threads balances the work, e.g. with nn::parallel_for.
void f32_gemm_tiles(const F32GemmVariant& v, const F32GemmArgs& args, size_t tile_begin,
                    size_t tile_end);

// Sets the epilogue of `args` for a fused activation: Relu and Clip become the
// microkernel's clamp; Sigmoid, HardSigmoid, HardSwish, LeakyRelu and Silu run per tile
// through f32_gemm_activation (args->activation = &act, which must outlive the calls; the
// exp-based ones through the vector kernel for the ISA cap `cap`); None leaves C unclamped.
void f32_gemm_set_activation(const FusedActivation& act, F32GemmArgs* args, Isa cap = Isa::kScalar);

// Applies `act` (f32_activation: `vector` when set, else the scalar formula) to rows x
// cols of c with row stride c_stride.
void f32_gemm_activation(const FusedActivation& act, F32UnaryFn vector, size_t rows, size_t cols, float* c,
                         size_t c_stride);

}  // namespace pare::rt::kernels
