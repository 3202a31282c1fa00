// Int8 matrix multiplication: C = requantize(A * B + bias), A uint8 activations [M, K],
// B int8 weights [K, N] (symmetric, per output column), C 8-bit [M, N]. Serves int8 Conv
// (1x1 directly in NHWC, KxK through an im2col of uint8 rows), Gemm and MatMul.
//
// Arithmetic (exact, identical for every variant; see quant/requant.h):
//   acc[i, j] = bias[j] + sum_p (A[i, p] - a_zero_point) * B[p, j]          (int32)
//   C[i, j]   = requantize(acc[i, j], rq[j], c_zero_point, lo, hi)          (stored as a byte)
// A is always read as uint8 (an int8 tensor is passed as its bytes xor 0x80 with
// a_zero_point + 128: the same real values). Each variant folds a_zero_point (and, for
// signed-by-signed dot products, the +128 offset) into the bias when it packs B, so the
// microkernels add no zero-point term.
//
// At prepare:
//   const QGemmVariant& v = select_qgemm(ctx.isa);
//   packed = 64-byte aligned buffer of qgemm_packed_b_bytes(v, n, k) bytes;
//   qgemm_pack_b(v, n, k, w, w_row_stride, w_col_stride, bias, a_zero_point, rq, packed);
// In run(): fill QGemmArgs (a, c and m for this call) and split the tiles among threads:
//   nn::parallel_for(pool, qgemm_m_tiles(v, m) * qgemm_n_panels(v, n),
//                    [&](size_t t0, size_t t1) { qgemm_tiles(v, args, t0, t1); });
// Integer results do not depend on the split.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/cpu.h"
#include "runtime/kernels/quant/requant.h"

namespace pare::rt::kernels {

// The plain reference the variants are tested against (no packing). B[p, j] =
// w[j * w_row_stride + p * w_col_stride] (so [N, K] row-major has w_row_stride = K,
// w_col_stride = 1, and [K, N] row-major has w_row_stride = 1, w_col_stride = N).
// bias may be null (zeros). rq: N entries.
void qgemm_ref__scalar(size_t m, size_t n, size_t k, const uint8_t* a, size_t a_stride,
                       int32_t a_zero_point, const int8_t* w, size_t w_row_stride,
                       size_t w_col_stride, const int32_t* bias, const Requant* rq,
                       int32_t c_zero_point, int32_t lo, int32_t hi, uint8_t* c, size_t c_stride);

struct QGemmArgs {
  size_t m = 0, n = 0, k = 0;
  const uint8_t* a = nullptr;  // A[i, p] = a[i * a_stride + p], a_stride >= k
  size_t a_stride = 0;
  const void* packed_b = nullptr;  // from qgemm_pack_b with the same variant, n and k
  uint8_t* c = nullptr;            // C[i, j] = c[i * c_stride + j], c_stride >= n
  size_t c_stride = 0;
  int32_t c_zero_point = 0;
  int32_t lo = 0, hi = 255;  // output clamp in the output's integer domain
};

// Computes C tile rows [i0, i0 + mr) (mr <= MR) and the nc <= NR columns of one panel.
using QGemmMicrokernel = void (*)(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                                  const void* panel, uint8_t* c, size_t c_stride,
                                  int32_t c_zero_point, int32_t lo, int32_t hi);

struct QGemmVariant {
  const char* name;      // "q8_gemm_8x32__avx512vnni"
  const char* tile_isa;  // "8x32__avx512vnni"
  rt::Isa isa;
  size_t mr, nr;
  QGemmMicrokernel microkernel;
  size_t panel_bytes_per_k4;  // implementation detail of packing, see qgemm_packed_b_bytes
  size_t k_pad = 4;           // the panels hold K rounded up to a multiple of this (zeros)
};

// ---- Packed weights ----
//
// B is stored as ceil(N / nr) panels of nr columns, each starting on a 64-byte boundary
// (qgemm_panel_stride bytes apart). A panel is a header of three int32[nr] arrays (the bias
// with the zero-point terms folded in, the requantization multipliers, the shifts) and one
// int32, the smallest shift of a column with a nonzero multiplier (63 when there is none:
// the scaling paths a tile may take are known once per panel), padded to 64 bytes, followed
// by ceil(K / k_pad) * k_pad / 4 groups of panel_bytes_per_k4 bytes holding
// 4 rows of B in the variant's layout (QGemmPanelLayout). Columns past N and rows past K are
// zero. The AMX variant pads K to whole 64-row tiles and otherwise packs as the VNNI one, so
// its panels also serve the VNNI tile that runs its edges.
enum class QGemmPanelLayout {
  kK4xS8,   // per 4 rows: nr columns x 4 int8 (the operand order of vpdpbusd / sdot)
  kK2xS16,  // per 2 rows: nr columns x 2 int16 (vpmaddwd)
  kK1xS16,  // per row: nr int16 (smlal)
};
QGemmPanelLayout qgemm_panel_layout(const QGemmVariant& v);
// Bytes of a panel's header (qgemm_header_bytes(v.nr)), and from the start of one panel to
// the next.
constexpr size_t qgemm_header_bytes(size_t nr) { return (3 * nr * sizeof(int32_t) + sizeof(int32_t) + 63) / 64 * 64; }
size_t qgemm_panel_header_bytes(const QGemmVariant& v);
size_t qgemm_panel_stride(const QGemmVariant& v, size_t k);

// ---- Microkernels ----
void q8_gemm_4x8__scalar(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                         const void* panel, uint8_t* c, size_t c_stride, int32_t c_zero_point,
                         int32_t lo, int32_t hi);
#if defined(__x86_64__)
void q8_gemm_6x16__avx2(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                        const void* panel, uint8_t* c, size_t c_stride, int32_t c_zero_point,
                        int32_t lo, int32_t hi);
void q8_gemm_8x32__avx512vnni(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                              const void* panel, uint8_t* c, size_t c_stride, int32_t c_zero_point,
                              int32_t lo, int32_t hi);
void q8_gemm_32x32__amx(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride, const void* panel,
                        uint8_t* c, size_t c_stride, int32_t c_zero_point, int32_t lo, int32_t hi);
#endif
#if defined(__aarch64__)
void q8_gemm_8x8__neon(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                       const void* panel, uint8_t* c, size_t c_stride, int32_t c_zero_point,
                       int32_t lo, int32_t hi);
void q8_gemm_8x8__neondot(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                          const void* panel, uint8_t* c, size_t c_stride, int32_t c_zero_point,
                          int32_t lo, int32_t hi);
#endif

// Every variant built for this architecture, scalar first; usable only where
// rt::isa_usable(variant.isa, cap).
const QGemmVariant* qgemm_variants(size_t* count);
// The fastest variant usable under the ISA cap `isa` (PrepareContext::isa).
const QGemmVariant& select_qgemm(rt::Isa isa);

size_t qgemm_packed_b_bytes(const QGemmVariant& v, size_t n, size_t k);
// B[p, j] = w[j * w_row_stride + p * w_col_stride] as in qgemm_ref__scalar; bias: [N] or
// null; rq: [N]. `packed` holds qgemm_packed_b_bytes(v, n, k) bytes, 64-byte aligned.
void qgemm_pack_b(const QGemmVariant& v, size_t n, size_t k, const int8_t* w, size_t w_row_stride,
                  size_t w_col_stride, const int32_t* bias, int32_t a_zero_point, const Requant* rq,
                  void* packed);

inline size_t qgemm_m_tiles(const QGemmVariant& v, size_t m) { return (m + v.mr - 1) / v.mr; }
inline size_t qgemm_n_panels(const QGemmVariant& v, size_t n) { return (n + v.nr - 1) / v.nr; }
// Runs tiles [t0, t1) of the m_tiles x n_panels grid (row-major over (m tile, n panel)).
void qgemm_tiles(const QGemmVariant& v, const QGemmArgs& args, size_t t0, size_t t1);
// Runs the tiles of m tiles [mt0, mt1) x n panels [np0, np1).
void qgemm(const QGemmVariant& v, const QGemmArgs& args, size_t mt0, size_t mt1, size_t np0, size_t np1);

}  // namespace pare::rt::kernels
