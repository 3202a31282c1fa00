// Sparse weights times dense activations, float32: Y[m, n] = act(bias[n] + sum_k X[m, k] W[n, k])
// for 1x1 convolutions in NHWC (X = [pixels, Cin]) and Gemm/MatMul with a constant sparse B.
//
// W comes from an rt::SparseView (block rows of 1 or 4, 2:4 or gaps) and is packed once at
// prepare into F32SpmmPacked: CSR over blocks of 1 or 4 output channels, each entry the
// offset of its input channel in the transposed activation tile and its 1 or 4 values, so
// memory stays proportional to the nonzeros. The SIMD kernels vectorise over pixels: a tile
// of tile_pixels rows of X (4 vectors) is transposed into scratch ([K, tile_pixels]) and
// each output channel accumulates broadcast weight x pixel vector over its nonzeros, two
// unstructured channels at a time so that 8 FMA chains hide the latency. Finished channels
// are transposed back into Y's rows a vector width of channels at a time, from L1. With few
// input channels a call takes two tiles (8 vectors, one channel at a time); with many
// (the transposed tile past ~40 KiB) the input channels go in chunks that fit L1, the
// entries stored chunk by chunk and the partial sums carried between chunks. Each element
// of Y is still summed from the bias over the channel's entries in order, whatever the
// tiles, chunks or threads, so the bytes do not depend on the thread count.
//
// At prepare time:
//   const F32SpmmVariant& v = select_f32_spmm(ctx.isa);
//   if (f32_spmm_pays(ctx.isa, f32_spmm_sparsity(view), n, k)) {
//     F32SpmmPacked w = f32_spmm_pack(view, transposed, bias, alpha, v.tile_pixels);
//     scratch per worker: f32_spmm_scratch_bytes(v, n, k)
//   } else densify (spmm_densify) and use the dense GEMM.
// In run(), each worker takes tiles [t0, t1) of f32_spmm_tiles(v, m), t0 a multiple of
// w.tiles_per_call, with its own scratch:
//   f32_spmm(v, args, t0, t1, scratch);
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/kernels/eltwise/eltwise.h"
#include "runtime/types.h"

namespace pare::rt::kernels {

// ---- Sparse views ----

// Fraction of W's elements that are not stored (a block's stored zeros count as stored).
double f32_spmm_sparsity(const SparseView& w);
// Writes the view as a dense row-major [rows, cols] matrix of element_bytes (1 or 4) each;
// elements not stored are zero bytes.
void spmm_densify(const SparseView& w, size_t element_bytes, void* dense);

// ---- Packed weights ----

struct F32SpmmPacked {
  size_t n = 0, k = 0;
  size_t block_rows = 1;  // 1 or 4 output channels per block
  // Input channels in `chunks` equal ranges of chunk_channels, more than one when a
  // transposed tile of all k would not fit L1. The entries are stored chunk by chunk, so a
  // pass over one chunk reads them in order: block b's entries in chunk c are
  // [block_starts[c * blocks + b], block_starts[c * blocks + b + 1]), blocks = n / block_rows.
  size_t chunks = 1, chunk_channels = 0;
  // Tiles per kernel call: 2 when the transposes of two tiles fit L1 together, so each
  // channel's pass over its entries (and its loop exit) serves twice the pixels.
  size_t tiles_per_call = 1;
  std::vector<float> bias;             // [n], zero where there is none
  std::vector<uint32_t> block_starts;  // [chunks * blocks + 1]
  std::vector<uint32_t> offsets;       // [entries]: input channel * tile_pixels, ascending per block
  std::vector<float> values;           // [entries * block_rows]
};

// Packs W [N, K] (the view's rows = N), or W^T when `transposed` (the view is B [K, N] of a
// Gemm without transB or of a MatMul). Keeps 4-row blocks when the view has them, or (gap
// layout) when every 4 rows share their input channels, and is not transposed; every other
// form becomes one row per block without its zeros. W is scaled by
// alpha. bias: [N] or null. tile_pixels: the variant's.
F32SpmmPacked f32_spmm_pack(const SparseView& w, bool transposed, const float* bias, float alpha,
                            size_t tile_pixels);

// ---- Kernels ----

struct F32SpmmArgs {
  size_t m = 0;
  const F32SpmmPacked* w = nullptr;
  const float* x = nullptr;  // X[i, p] = x[i * x_stride + p], x_stride >= k
  size_t x_stride = 0;
  float* y = nullptr;  // Y[i, j] = y[i * y_stride + j], y_stride >= n
  size_t y_stride = 0;
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
  // Applied by the driver to each tile after the kernel, or null (see f32_spmm_set_activation),
  // through its vector kernel when it has one: the dense GEMM's, so both give the same bytes.
  const FusedActivation* activation = nullptr;
  F32UnaryFn activation_vector = nullptr;
};

// Computes rows [m0, m0 + rows) of Y, rows <= w->tiles_per_call * tile_pixels, clamped to
// [min, max] (NaN passes). scratch: f32_spmm_scratch_bytes, 64-byte aligned.
using F32SpmmKernel = void (*)(const F32SpmmArgs& args, size_t m0, size_t rows, float* scratch);

struct F32SpmmVariant {
  const char* name;      // "f32_spmm_64x1__avx512"
  const char* tile_isa;  // "64x1__avx512", for kernel names with an activation
  rt::Isa isa;
  size_t tile_pixels;
  F32SpmmKernel kernel;
};

void f32_spmm_1x1__scalar(const F32SpmmArgs& args, size_t m0, size_t rows, float* scratch);
#if defined(__x86_64__)
void f32_spmm_32x1__avx2(const F32SpmmArgs& args, size_t m0, size_t rows, float* scratch);
void f32_spmm_64x1__avx512(const F32SpmmArgs& args, size_t m0, size_t rows, float* scratch);
#endif
#if defined(__aarch64__)
void f32_spmm_16x1__neon(const F32SpmmArgs& args, size_t m0, size_t rows, float* scratch);
#endif

// Every variant built for this architecture, scalar first.
const F32SpmmVariant* f32_spmm_variants(size_t* count);
// The fastest variant usable under the ISA cap.
const F32SpmmVariant& select_f32_spmm(rt::Isa isa);

// What the sparse kernel costs relative to the dense f32 GEMM of the same ISA on one layer
// Y [m, n] = X [m, k] W^T, per multiply-add of the dense product (m cancels out):
//   sparse / dense = (1 - sparsity) * (per_nonzero + per_nonzero_k * k / 1000)
//                    + per_input / k + per_output / n
// (1 - sparsity) * per_nonzero: one FMA per nonzero and pixel, each with its own load;
// the k term: the more input channels, the more chunks (partial sums stored and reloaded)
// and the longer the entry stream; per_input / k and per_output / n: the two transposes
// and each output channel's setup, loop exits and clamp. Least-squares fit to kernel_spmm_bench's per-layer times
// (MobileNetV2-224's 19 distinct 1x1 shapes at 50-95% unstructured, single thread, random
// weights; docs/benchmarks.md). Blocks of 4 run faster than this predicts. The portable
// kernel runs one pixel at a time and never beats the portable GEMM; NEON is not measured
// (qemu only) and takes AVX2's figures.
struct F32SpmmCost {
  double per_nonzero, per_nonzero_k, per_input, per_output;
};

inline bool f32_spmm_cost(rt::Isa isa, F32SpmmCost* cost) {
  switch (isa) {
    case rt::Isa::kScalar: return false;
    case rt::Isa::kAvx512:
    case rt::Isa::kAvx512Vnni:
    case rt::Isa::kAmx: *cost = {1.70, 0.97, 7.73, 2.70}; return true;
    case rt::Isa::kAvx2:
    case rt::Isa::kNeon:
    case rt::Isa::kNeonDot: *cost = {1.25, 0.60, 6.04, 1.98}; return true;
  }
  return false;
}

// sparse / dense time for a layer of n output and k input channels (infinity: no kernel).
inline double f32_spmm_relative_cost(rt::Isa isa, double sparsity, size_t n, size_t k) {
  F32SpmmCost c;
  if (!f32_spmm_cost(isa, &c) || n == 0 || k == 0) return std::numeric_limits<double>::infinity();
  const double kd = static_cast<double>(k);
  return (1.0 - sparsity) * (c.per_nonzero + c.per_nonzero_k * kd / 1000.0) + c.per_input / kd +
         c.per_output / static_cast<double>(n);
}

// The sparse kernel runs where the model predicts at least this margin: near 1 the fit's
// errors (a few tenths on some layers) decide, and either choice costs about the same.
constexpr double kF32SpmmMaxRelativeCost = 0.9;

// Whether a weight of this sparsity, [n, k], runs faster sparse on `isa`.
inline bool f32_spmm_pays(rt::Isa isa, double sparsity, size_t n, size_t k) {
  return f32_spmm_relative_cost(isa, sparsity, n, k) < kF32SpmmMaxRelativeCost;
}

// ---- Driver ----

inline size_t f32_spmm_tiles(const F32SpmmVariant& v, size_t m) {
  return (m + v.tile_pixels - 1) / v.tile_pixels;
}
// Scratch of one worker: the transposed tiles of X and Y.
size_t f32_spmm_scratch_bytes(const F32SpmmVariant& v, size_t n, size_t k);
// Computes tiles [tile_begin, tile_end) of Y with one worker's scratch.
void f32_spmm(const F32SpmmVariant& v, const F32SpmmArgs& args, size_t tile_begin,
              size_t tile_end, float* scratch);
// Relu and Clip become the clamp; other activations run per tile (args->activation = &act,
// which must outlive the calls), through the vector kernel under `cap`.
void f32_spmm_set_activation(const FusedActivation& act, F32SpmmArgs* args, Isa cap = Isa::kScalar);

// Y = act(bias + X W^T) straight from the view, every element in the view's entry order:
// the obviously right version the tests compare against. y_stride = n.
void f32_spmm_ref__scalar(const SparseView& w, const float* bias, size_t m, const float* x,
                          size_t x_stride, const FusedActivation& act, float* y);

}  // namespace pare::rt::kernels
