#include <algorithm>
#include <cstring>

#include "runtime/kernel_family_log.h"
#include "runtime/kernel_selection.h"
#include "runtime/kernels/activation/activation.h"
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/spmm/spmm.h"

namespace pare::rt::kernels {

namespace {

uint32_t column_at(const SparseView& w, int64_t e) {
  return w.column_bytes == 2 ? static_cast<const uint16_t*>(w.columns)[e]
                             : static_cast<const uint32_t*>(w.columns)[e];
}

// Calls fn(row, col, index of the value) for every stored element, row by row, columns
// ascending within a row.
template <typename Fn>
void for_each_stored(const SparseView& w, const Fn& fn) {
  if (w.format == SparseFormat::kTwoOfFour) {
    const int64_t groups = w.cols / 4;
    for (int64_t r = 0; r < w.rows; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        const uint8_t pos = w.positions[r * groups + g];
        const int64_t value = 2 * (r * groups + g);
        fn(r, 4 * g + (pos & 3), value);
        fn(r, 4 * g + ((pos >> 2) & 3), value + 1);
      }
    return;
  }
  if (w.format == SparseFormat::kGaps) {
    SparseGapReader reader(w);
    int64_t position = 0;
    for (int64_t v = 0; reader.next(&position); ++v) fn(position / w.cols, position % w.cols, v);
    return;
  }
  const int64_t br = w.block_rows;
  for (int64_t b = 0; b < w.rows / br; ++b)
    for (int64_t r = 0; r < br; ++r)
      for (int64_t e = w.block_starts[b]; e < w.block_starts[b + 1]; ++e)
        fn(b * br + r, static_cast<int64_t>(column_at(w, e)), e * br + r);
}

// Rows packed one per block become blocks of 4 when every 4 consecutive rows hold the same
// input channels: block4 pruning stored in the gap layout runs on the 4-row kernels, as it
// does from a kBlockRows view with block_rows 4.
void group_rows_by_4(F32SpmmPacked* p) {
  if (p->n % 4 != 0) return;
  const std::vector<uint32_t>& starts = p->block_starts;
  const auto row = [&](size_t r) { return p->offsets.begin() + starts[r]; };
  for (size_t b = 0; b < p->n; b += 4) {
    const uint32_t length = starts[b + 1] - starts[b];
    for (size_t r = b + 1; r < b + 4; ++r)
      if (starts[r + 1] - starts[r] != length || !std::equal(row(b), row(b + 1), row(r))) return;
  }
  std::vector<uint32_t> block_starts(p->n / 4 + 1, 0), offsets(p->offsets.size() / 4);
  std::vector<float> values(p->values.size());
  for (size_t b = 0; b < p->n / 4; ++b) {
    const uint32_t first = starts[4 * b], length = starts[4 * b + 1] - first, out = block_starts[b];
    block_starts[b + 1] = out + length;
    for (uint32_t e = 0; e < length; ++e) {
      offsets[out + e] = p->offsets[first + e];
      for (uint32_t r = 0; r < 4; ++r) values[(out + e) * 4 + r] = p->values[starts[4 * b + r] + e];
    }
  }
  p->block_rows = 4;
  p->block_starts = std::move(block_starts);
  p->offsets = std::move(offsets);
  p->values = std::move(values);
}

// The transposed tile of X a kernel reads at once: kept to about L1 (48 KiB on Zen 4 and
// 5, 32 KiB on older cores) with room for the output rows; above it the input channels go
// in equal chunks of at most this much.
constexpr size_t kXTileBytes = 40 * 1024;

size_t chunk_count(size_t k, size_t tile_pixels) {
  const size_t per_chunk = std::max<size_t>(1, kXTileBytes / (tile_pixels * sizeof(float)));
  return tile_pixels == 1 ? 1 : std::max<size_t>(1, (k + per_chunk - 1) / per_chunk);
}

size_t tiles_per_call(size_t k, size_t tile_pixels) {
  return tile_pixels > 1 && 2 * k * tile_pixels * sizeof(float) <= kXTileBytes ? 2 : 1;
}

// Splits each block's entries (input channels ascending) at the chunk boundaries and
// stores them chunk by chunk.
void split_into_chunks(size_t tile_pixels, F32SpmmPacked* p) {
  p->tiles_per_call = tiles_per_call(p->k, tile_pixels);
  p->chunks = chunk_count(p->k, tile_pixels);
  p->chunk_channels = (p->k + p->chunks - 1) / p->chunks;
  if (p->chunks == 1) return;
  const size_t blocks = p->n / p->block_rows, br = p->block_rows;
  const uint32_t chunk_offsets = static_cast<uint32_t>(p->chunk_channels * tile_pixels);
  std::vector<uint32_t> starts(p->chunks * blocks + 1, 0);
  for (size_t b = 0; b < blocks; ++b)
    for (uint32_t e = p->block_starts[b]; e < p->block_starts[b + 1]; ++e)
      ++starts[p->offsets[e] / chunk_offsets * blocks + b + 1];
  for (size_t i = 0; i + 1 < starts.size(); ++i) starts[i + 1] += starts[i];
  std::vector<uint32_t> offsets(p->offsets.size());
  std::vector<float> values(p->values.size());
  std::vector<uint32_t> next(starts.begin(), starts.end() - 1);
  for (size_t b = 0; b < blocks; ++b)
    for (uint32_t e = p->block_starts[b]; e < p->block_starts[b + 1]; ++e) {
      const uint32_t to = next[p->offsets[e] / chunk_offsets * blocks + b]++;
      offsets[to] = p->offsets[e];
      std::copy(p->values.begin() + e * br, p->values.begin() + (e + 1) * br, values.begin() + to * br);
    }
  p->block_starts = std::move(starts);
  p->offsets = std::move(offsets);
  p->values = std::move(values);
}

}  // namespace

double f32_spmm_sparsity(const SparseView& w) {
  const double total = static_cast<double>(w.rows) * static_cast<double>(w.cols);
  if (total == 0) return 0;
  // kGaps has block_rows 1: its entries are the values.
  const double stored = w.format == SparseFormat::kTwoOfFour
                            ? total / 2
                            : static_cast<double>(w.entries) * w.block_rows;
  return 1.0 - stored / total;
}

void spmm_densify(const SparseView& w, size_t element_bytes, void* dense) {
  auto* out = static_cast<uint8_t*>(dense);
  const auto* values = static_cast<const uint8_t*>(w.values);
  std::memset(out, 0, static_cast<size_t>(w.rows * w.cols) * element_bytes);
  for_each_stored(w, [&](int64_t r, int64_t c, int64_t v) {
    std::memcpy(out + static_cast<size_t>(r * w.cols + c) * element_bytes,
                values + static_cast<size_t>(v) * element_bytes, element_bytes);
  });
}

F32SpmmPacked f32_spmm_pack(const SparseView& w, bool transposed, const float* bias, float alpha,
                            size_t tile_pixels) {
  F32SpmmPacked p;
  p.n = static_cast<size_t>(transposed ? w.cols : w.rows);
  p.k = static_cast<size_t>(transposed ? w.rows : w.cols);
  p.bias.assign(p.n, 0.f);
  if (bias) std::copy(bias, bias + p.n, p.bias.begin());
  const auto* values = static_cast<const float*>(w.values);
  if (!transposed && w.format == SparseFormat::kBlockRows && w.block_rows == 4) {
    p.block_rows = 4;
    p.block_starts.assign(w.block_starts, w.block_starts + p.n / 4 + 1);
    p.offsets.resize(static_cast<size_t>(w.entries));
    for (int64_t e = 0; e < w.entries; ++e)
      p.offsets[static_cast<size_t>(e)] = column_at(w, e) * static_cast<uint32_t>(tile_pixels);
    p.values.assign(values, values + w.entries * 4);
    for (float& v : p.values) v *= alpha;
    split_into_chunks(tile_pixels, &p);
    return p;
  }
  // One row per block, without zeros: count per output channel, then place (a stable
  // counting sort, so input channels stay ascending within each output channel).
  p.block_starts.assign(p.n + 1, 0);
  for_each_stored(w, [&](int64_t r, int64_t c, int64_t v) {
    if (values[v] != 0.f) ++p.block_starts[static_cast<size_t>(transposed ? c : r) + 1];
  });
  for (size_t j = 0; j < p.n; ++j) p.block_starts[j + 1] += p.block_starts[j];
  p.offsets.resize(p.block_starts[p.n]);
  p.values.resize(p.block_starts[p.n]);
  std::vector<uint32_t> next(p.block_starts.begin(), p.block_starts.end() - 1);
  for_each_stored(w, [&](int64_t r, int64_t c, int64_t v) {
    if (values[v] == 0.f) return;
    const uint32_t e = next[static_cast<size_t>(transposed ? c : r)]++;
    p.offsets[e] = static_cast<uint32_t>(transposed ? r : c) * static_cast<uint32_t>(tile_pixels);
    p.values[e] = alpha * values[v];
  });
  if (!transposed && w.format == SparseFormat::kGaps) group_rows_by_4(&p);
  split_into_chunks(tile_pixels, &p);
  return p;
}

void f32_spmm_ref__scalar(const SparseView& w, const float* bias, size_t m, const float* x,
                          size_t x_stride, const FusedActivation& act, float* y) {
  const size_t n = static_cast<size_t>(w.rows);
  const auto* values = static_cast<const float*>(w.values);
  for (size_t i = 0; i < m; ++i) {
    float* row = y + i * n;
    for (size_t j = 0; j < n; ++j) row[j] = bias ? bias[j] : 0.f;
    for_each_stored(w, [&](int64_t r, int64_t c, int64_t v) {
      row[r] += x[i * x_stride + static_cast<size_t>(c)] * values[v];
    });
    f32_activation__scalar(act, row, n);
  }
}

// ---- Portable kernel: one pixel at a time, straight from X (tile_pixels 1, so the
// offsets are input channels) ----

void f32_spmm_1x1__scalar(const F32SpmmArgs& a, size_t m0, size_t rows, float*) {
  const F32SpmmPacked& w = *a.w;
  const size_t br = w.block_rows, blocks = w.n / br;
  for (size_t i = m0; i < m0 + rows; ++i) {
    const float* x = a.x + i * a.x_stride;
    float* y = a.y + i * a.y_stride;
    for (size_t b = 0; b < blocks; ++b)
      for (size_t r = 0; r < br; ++r) {
        float acc = w.bias[b * br + r];
        for (uint32_t e = w.block_starts[b]; e < w.block_starts[b + 1]; ++e)
          acc += x[w.offsets[e]] * w.values[e * br + r];
        y[b * br + r] = std::min(std::max(acc, a.min), a.max);
      }
  }
}

// ---- Variants ----

namespace {

constexpr F32SpmmVariant kReference = {"f32_spmm_1x1__scalar", "1x1__scalar", Isa::kScalar, 1,
                                       f32_spmm_1x1__scalar};

constexpr F32SpmmVariant kVariants[] = {
    kReference,
#if PARE_KERNELS_AVX2
    {"f32_spmm_32x1__avx2", "32x1__avx2", Isa::kAvx2, 32, f32_spmm_32x1__avx2},
#endif
#if PARE_KERNELS_AVX512
    {"f32_spmm_64x1__avx512", "64x1__avx512", Isa::kAvx512, 64, f32_spmm_64x1__avx512},
#endif
#if PARE_KERNELS_NEON
    {"f32_spmm_16x1__neon", "16x1__neon", Isa::kNeon, 16, f32_spmm_16x1__neon},
#endif
};

}  // namespace

const F32SpmmVariant* f32_spmm_variants(size_t* count) {
  if constexpr (!kernel_family_selected("f32_spmm")) {
    *count = 1;
    return &kReference;
  }
  *count = sizeof(kVariants) / sizeof(kVariants[0]);
  return kVariants;
}

const F32SpmmVariant& select_f32_spmm(Isa isa) {
  note_kernel_family("f32_spmm");
  size_t count = 0;
  const F32SpmmVariant* all = f32_spmm_variants(&count);
  const F32SpmmVariant* best = best_usable_variant(all, count, true, isa);
  return best ? *best : all[0];
}

// ---- Driver ----

size_t f32_spmm_scratch_bytes(const F32SpmmVariant& v, size_t n, size_t k) {
  // The transposes of X's tiles, [k, tile_pixels] each, and the output rows: one group of
  // channels (one vector width, a quarter of a tile) or, in chunks, the partial sums of all n.
  const size_t tile = v.tile_pixels;
  if (tile == 1) return 0;
  if (chunk_count(k, tile) > 1) return (k + n) * tile * sizeof(float);
  return tiles_per_call(k, tile) * (k + tile / 4) * tile * sizeof(float);
}

void f32_spmm(const F32SpmmVariant& v, const F32SpmmArgs& a, size_t tile_begin, size_t tile_end,
              float* scratch) {
  const size_t end = std::min(tile_end * v.tile_pixels, a.m), span = a.w->tiles_per_call * v.tile_pixels;
  for (size_t m0 = tile_begin * v.tile_pixels; m0 < end; m0 += span) {
    const size_t rows = std::min(span, end - m0);
    v.kernel(a, m0, rows, scratch);
    if (a.activation)
      for (size_t i = m0; i < m0 + rows; ++i)
        f32_activation(*a.activation, a.activation_vector, a.y + i * a.y_stride, a.w->n);
  }
}

void f32_spmm_set_activation(const FusedActivation& act, F32SpmmArgs* args, Isa cap) {
  F32GemmArgs gemm;
  f32_gemm_set_activation(act, &gemm, cap);
  args->min = gemm.min;
  args->max = gemm.max;
  args->activation = gemm.activation;
  args->activation_vector = gemm.activation_vector;
}

}  // namespace pare::rt::kernels
