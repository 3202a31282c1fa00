// Sparse weights times dense activations, float32: Y[m, n] = act(bias[n] + sum_k X[m, k] W[n, k])
// for 1x1 convolutions in NHWC (X = [pixels, Cin]) and Gemm/MatMul with a constant sparse B.
//
// W comes from an rt::SparseView (block rows of 1 or 4, 2:4 or gaps) and is packed once at
// prepare into F32SpmmPacked: CSR over blocks of 1 or 4 output channels, each entry the
// offset of its input channel in the transposed activation tile and its 1 or 4 values, so
// memory stays proportional to the nonzeros. The SIMD kernels vectorise over pixels: a tile
// of tile_pixels rows of X is transposed into scratch ([K, tile_pixels]), each output channel
// accumulates broadcast weight x pixel vector over its nonzeros, and the [N, tile_pixels]
// result is transposed back into the rows of Y. Each element of Y is summed from the bias
// over the channel's entries in order, whatever the tiles or threads.
//
// At prepare time:
//   const F32SpmmVariant& v = select_f32_spmm(ctx.isa);
//   if (f32_spmm_pays(ctx.isa, f32_spmm_sparsity(view), k)) {
//     F32SpmmPacked w = f32_spmm_pack(view, transposed, bias, alpha, v.tile_pixels);
//     scratch per worker: f32_spmm_scratch_bytes(v, n, k)
//   } else densify (spmm_densify) and use the dense GEMM.
// In run(), each worker takes tiles [t0, t1) of f32_spmm_tiles(v, m) with its own scratch:
//   f32_spmm(v, args, t0, t1, scratch);
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "runtime/cpu.h"
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
  std::vector<float> bias;             // [n], zero where there is none
  std::vector<uint32_t> block_starts;  // [n / block_rows + 1]
  std::vector<uint32_t> offsets;       // [entries]: input channel * tile_pixels
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
  // Applied by the driver to each tile after the kernel, or null (see f32_spmm_set_activation).
  const FusedActivation* activation = nullptr;
};

// Computes rows [m0, m0 + rows) of Y, rows <= tile_pixels, clamped to [min, max] (NaN
// passes). scratch: f32_spmm_scratch_bytes, 64-byte aligned.
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

// Where the sparse kernel beats the dense f32 GEMM of the same ISA (kernel_spmm_bench on
// MobileNetV2-224's pointwise layers, single thread, docs/benchmarks.md): the sparsity from
// which the whole chain runs faster, with a margin (unstructured crossed over between 60%
// and 70% on AVX-512 and between 50% and 60% on AVX2, block4 below 50%), and the fewest
// input channels for which a layer does (below that the two transposes cost more than the
// dense product saves). The portable kernel runs one pixel at a time and never beats the
// portable GEMM (at 95%: 19.5 ms against 18.0 ms for the chain); NEON is not measured (qemu
// only) and takes AVX2's figure.
inline double f32_spmm_min_sparsity(rt::Isa isa) {
  switch (isa) {
    case rt::Isa::kScalar: return 2.0;  // never
    case rt::Isa::kAvx2: return 0.65;
    case rt::Isa::kAvx512:
    case rt::Isa::kAvx512Vnni: return 0.75;
    case rt::Isa::kNeon:
    case rt::Isa::kNeonDot: return 0.65;
  }
  return 2.0;
}
constexpr size_t kF32SpmmMinInputChannels = 24;

// Whether a weight of this sparsity with k input channels runs faster sparse on `isa`.
inline bool f32_spmm_pays(rt::Isa isa, double sparsity, size_t k) {
  return sparsity >= f32_spmm_min_sparsity(isa) && k >= kF32SpmmMinInputChannels;
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
// which must outlive the calls).
void f32_spmm_set_activation(const FusedActivation& act, F32SpmmArgs* args);

// Y = act(bias + X W^T) straight from the view, every element in the view's entry order:
// the obviously right version the tests compare against. y_stride = n.
void f32_spmm_ref__scalar(const SparseView& w, const float* bias, size_t m, const float* x,
                          size_t x_stride, const FusedActivation& act, float* y);

}  // namespace pare::rt::kernels
