// Conv on quantized 8-bit data (docs/quantization.md): X uint8 or int8 per tensor, W int8
// constant per output channel (or per tensor), B int32, Y of X's dtype; a fused Relu/Clip is
// the requantization clamp. NHWC runs on the int8 kernels (qgemm for pointwise, im2col and
// grouped, qdwconv for depthwise); NCHW convolutions and groups of fewer than 4 output
// channels run on a plain scalar path.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/kernels/conv/conv.h"
#include "runtime/kernels/qdwconv/qdwconv.h"
#include "runtime/kernels/qgemm/qgemm.h"
#include "runtime/kernels/qwinograd/qwinograd.h"
#include "runtime/kernels/quant/requant.h"
#include "runtime/kernels/transpose/transpose.h"
#include "runtime/kernels/winograd/winograd.h"
#include "runtime/ops/nn_util.h"
#include "runtime/ops/ops.h"
#include "runtime/ops/parallel.h"
#include "runtime/thread_pool.h"

namespace pare::rt::ops {

namespace {

using kernels::ConvGeometry;
using kernels::Requant;


// Everything the int8 kernels need from the node, resolved at prepare.
struct Q8Conv {
  ConvGeometry g;
  bool nhwc = false;
  bool x_signed = false;  // int8 activations (read as bytes xor 0x80 by the kernels)
  int32_t x_zero_point = 0;  // in X's own domain
  int32_t y_zero_point = 0;  // in Y's domain
  int32_t lo = 0, hi = 255;  // output clamp in Y's domain
  std::vector<Requant> rq;   // per output channel
  const int8_t* weight = nullptr;  // ONNX layout [Cout, Cin / group, kh, kw]
  const int32_t* bias = nullptr;   // [Cout] or null

  // X's zero point as the uint8 kernels see it.
  int32_t x_zero_point_u8() const { return x_signed ? x_zero_point + 128 : x_zero_point; }
  int64_t pixels() const { return g.batch * g.out_size[0] * g.out_size[1] * g.out_size[2]; }
};

// Copies n bytes, flipping the sign bit when `flip` (int8 -> the uint8 the kernels read).
inline void copy_bytes(const uint8_t* src, size_t n, bool flip, uint8_t* dst) {
  if (!flip) {
    kernels::copy_short(dst, src, n);
    return;
  }
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(src[i] ^ 0x80);
}

// One-group NHWC Conv as C [pixels, Cout] = A [pixels, taps * Cin] * W with the int8 GEMM.
// W is reordered to [Cout, taps * Cin] (im2col order) and packed at prepare with the bias,
// X's zero point and the requantization. A uint8 pointwise conv reads X as A; otherwise
// blocks of A rows are gathered into per-worker scratch (im2col; pad taps hold X's zero
// point; int8 bytes flipped to uint8). Every output element comes from one microkernel call
// over all of K, so the bytes do not depend on the blocking or the thread count.
class Q8GemmConvKernel final : public OpKernel {
 public:
  Q8GemmConvKernel(const Q8Conv& q, bool pointwise, const kernels::QGemmVariant& v, std::string name)
      : q_(q), pointwise_(pointwise), v_(v), name_(std::move(name)) {
    const ConvGeometry& g = q.g;
    taps_ = static_cast<size_t>(g.kernel[1] * g.kernel[2]);
    const size_t cin = static_cast<size_t>(g.in_channels), n = static_cast<size_t>(g.out_channels);
    // Gathered rows are padded to a multiple of 4 bytes (with zero weights) so that the GEMM
    // never takes its slow path for a K tail; a pointwise conv reading X in place cannot be.
    const size_t k = taps_ == 1 ? cin : (taps_ * cin + 3) / 4 * 4;
    if (!packed_.resize(kernels::qgemm_packed_b_bytes(v, n, k))) return;
    if (taps_ == 1) {
      kernels::qgemm_pack_b(v, n, k, q.weight, k, 1, q.bias, q.x_zero_point_u8(), q.rq.data(), packed_.data());
    } else {
      std::vector<int8_t> nk(n * k, 0);  // [Cout, taps, Cin] + zero padding
      for (size_t j = 0; j < n; ++j)
        for (size_t c = 0; c < cin; ++c)
          for (size_t t = 0; t < taps_; ++t) nk[j * k + t * cin + c] = q.weight[(j * cin + c) * taps_ + t];
      kernels::qgemm_pack_b(v, n, k, nk.data(), k, 1, q.bias, q.x_zero_point_u8(), q.rq.data(), packed_.data());
    }
    pixels_ = static_cast<size_t>(q.pixels());
    args_.m = pixels_;
    args_.n = n;
    args_.k = k;
    args_.a_stride = k;
    args_.packed_b = packed_.data();
    args_.c_stride = n;
    args_.c_zero_point = q.y_zero_point;
    args_.lo = q.lo;
    args_.hi = q.hi;
    direct_ = pointwise && !q.x_signed;
    // Blocks of whole MR-row tiles of about kBlockBytes, so that a block stays in L2 while
    // every panel of W passes over it.
    block_rows_ = std::max<size_t>(1, kBlockBytes / (std::max<size_t>(k, 1) * v.mr)) * v.mr;
  }

  size_t scratch_bytes() const override {
    return direct_ ? 0 : kMaxWorkers * (block_rows_ * args_.k + kGatherSlack);
  }

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const uint8_t*>(ctx.inputs[0]);
    auto* y = static_cast<uint8_t*>(ctx.outputs[0]);
    if (direct_) {
      kernels::QGemmArgs args = args_;
      args.a = x;
      args.c = y;
      const size_t tiles = kernels::qgemm_m_tiles(v_, args.m) * kernels::qgemm_n_panels(v_, args.n);
      parallel_for(ctx.pool, tiles, [&](size_t t0, size_t t1) { kernels::qgemm_tiles(v_, args, t0, t1); });
      return;
    }
    // One worker per thread (at most kMaxWorkers), each with its own block buffer.
    const size_t threads = ctx.pool ? static_cast<size_t>(ctx.pool->threads()) : 1;
    auto* scratch = static_cast<uint8_t*>(ctx.scratch);
    for_each_block(ctx.pool, pixels_, v_.mr, block_rows_, std::min(threads, kMaxWorkers),
                       [&](size_t w, size_t r0, size_t r1) {
                         uint8_t* rows = scratch + w * (block_rows_ * args_.k + kGatherSlack);
                         gather(x, r0, r1, rows);
                         kernels::QGemmArgs args = args_;
                         args.m = r1 - r0;
                         args.a = rows;
                         args.c = y + r0 * args_.n;
                         kernels::qgemm(v_, args, 0, kernels::qgemm_m_tiles(v_, args.m), 0,
                                        kernels::qgemm_n_panels(v_, args.n));
                       });
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  static constexpr size_t kBlockBytes = 64 * 1024;
  static constexpr size_t kMaxWorkers = 8;  // bounds the scratch
  // A gathered row's last fixed-width copy may run this far past the row (see gather).
  static constexpr size_t kGatherSlack = 32;

  // Rows of A for output pixels [r0, r1): per tap (ky, kx) the Cin input bytes under it, or
  // X's zero point where the tap falls in the pads.
  void gather(const uint8_t* x, size_t r0, size_t r1, uint8_t* rows) const {
    const ConvGeometry& g = q_.g;
    const size_t cin = static_cast<size_t>(g.in_channels), k = args_.k;
    const bool flip = q_.x_signed;
    if (pointwise_) {
      copy_bytes(x + r0 * cin, (r1 - r0) * cin, flip, rows);
      return;
    }
    // The geometry in locals: the copies below may alias anything, so fields read through `g`
    // would be loaded again after every copy.
    const int64_t in_h = g.in_size[1], in_w = g.in_size[2], out_h = g.out_size[1], out_w = g.out_size[2];
    const int64_t kernel_h = g.kernel[1], kernel_w = g.kernel[2], stride_h = g.stride[1], stride_w = g.stride[2];
    const int64_t dilation_h = g.dilation[1], dilation_w = g.dilation[2], pad_h = g.pad_begin[1], pad_w = g.pad_begin[2];
    const size_t taps_bytes = taps_ * cin, span = static_cast<size_t>(kernel_w) * cin;
    const auto zp = static_cast<uint8_t>(q_.x_zero_point_u8());
    // Window rows of at most 16 or 32 bytes (a few-channel stem: 3x3 or 7x7 over 3 channels)
    // are copied 16 or 32 bytes at a time, each copy running into the next window row, the
    // padding and then the next A row, which are written after it (and the block's last row
    // into kGatherSlack): a run of pixels whose windows lie inside X in one loop. Where the
    // copy would read past X, the exact copy below runs. Fixed widths compile to plain
    // vector moves; a call to memcpy per window row cost ResNet-18's stem 0.4 ms.
    const int64_t x_bytes = g.batch * in_h * in_w * static_cast<int64_t>(cin);
    const int64_t width = span <= 16 ? 16 : 32;
    const bool wide = !flip && span <= 32;
    // Output columns below ox_hi (and whole_rows below) have their windows' right ends inside X.
    const int64_t ox_hi = in_w >= kernel_w ? std::min(out_w, (in_w - kernel_w + pad_w) / stride_w + 1) : 0;
    // The first pixel's coordinates by division, the others by stepping (a division per
    // pixel costs more than copying a few-channel row).
    const auto first = static_cast<int64_t>(r0);
    int64_t n = first / (out_h * out_w), oy = first / out_w % out_h, ox = first % out_w;
    for (size_t r = r0; r < r1; ++r) {
      if (r > r0 && ++ox == out_w) {
        ox = 0;
        if (++oy == out_h) {
          oy = 0;
          ++n;
        }
      }
      uint8_t* row = rows + (r - r0) * k;
      const int64_t ix0 = ox * stride_w - pad_w;
      // The whole window row is kernel_w * Cin contiguous bytes of X.
      const bool whole_rows = dilation_w == 1 && ix0 >= 0 && ix0 + kernel_w <= in_w;
      const int64_t iy0 = oy * stride_h - pad_h;
      if (wide && whole_rows && iy0 >= 0 && iy0 + (kernel_h - 1) * dilation_h < in_h) {
        // The window and, with two pixels or more, a stride lie inside X, so these steps fit.
        const int64_t src = ((n * in_h + iy0) * in_w + ix0) * static_cast<int64_t>(cin);
        const int64_t src_step = kernel_h > 1 ? dilation_h * in_w * static_cast<int64_t>(cin) : 0;
        const int64_t window_tail = (kernel_h - 1) * src_step + width;  // bytes read from the window's start
        // Pixels ox .. ox + count - 1 of this output row, as far as 16-byte reads stay in X.
        int64_t count = std::min(ox_hi - ox, static_cast<int64_t>(r1 - r));
        const int64_t pixel_step = count > 1 ? stride_w * static_cast<int64_t>(cin) : 0;
        if (src + window_tail > x_bytes) count = 0;
        else if (count > 1) count = std::min(count, (x_bytes - window_tail - src) / pixel_step + 1);
        if (count > 0) {
          const auto copy_windows = [&](auto fixed_width) {
            const uint8_t* from = x + src;
            for (int64_t i = 0; i < count; ++i, from += pixel_step, row += k) {
              for (int64_t ky = 0; ky < kernel_h; ++ky)
                std::memcpy(row + ky * span, from + ky * src_step, decltype(fixed_width)::value);
              for (size_t j = taps_bytes; j < k; ++j) row[j] = zp;  // padding (its weights are zero)
            }
          };
          if (width == 16) copy_windows(std::integral_constant<size_t, 16>{});
          else copy_windows(std::integral_constant<size_t, 32>{});
          r += static_cast<size_t>(count - 1);
          ox += count - 1;
          continue;
        }
      }
      for (size_t i = taps_bytes; i < k; ++i) row[i] = zp;
      for (int64_t ky = 0; ky < kernel_h; ++ky) {
        const int64_t iy = oy * stride_h - pad_h + ky * dilation_h;
        const bool inside = iy >= 0 && iy < in_h;
        const uint8_t* line = inside ? x + (n * in_h + iy) * in_w * static_cast<int64_t>(cin) : nullptr;
        if (inside && whole_rows) {
          copy_bytes(line + ix0 * static_cast<int64_t>(cin), span, flip, row);
          row += span;
          continue;
        }
        for (int64_t kx = 0; kx < kernel_w; ++kx, row += cin) {
          const int64_t ix = ix0 + kx * dilation_w;
          if (!inside || ix < 0 || ix >= in_w)
            std::memset(row, zp, cin);
          else
            copy_bytes(line + ix * static_cast<int64_t>(cin), cin, flip, row);
        }
      }
    }
  }

  Q8Conv q_;
  bool pointwise_;
  const kernels::QGemmVariant& v_;
  std::string name_;
  AlignedArray<uint8_t> packed_;
  kernels::QGemmArgs args_;
  size_t taps_ = 1, pixels_ = 0, block_rows_ = 0;
  bool direct_ = false;
};

// One-group 3x3 stride-1 Conv as int8 Winograd F(2x2, 3x3) (kernels/qwinograd): per block
// of tiles, the input transform writes 16 int16 matrices [tiles, Cin], 16 products give
// int32 [tiles, Cout] and the output transform requantizes them. The arithmetic is exact,
// so the bytes equal Q8GemmConvKernel's; each tile's depend only on the tile, not on the
// blocking or the thread count.
class Q8WinogradConvKernel final : public OpKernel {
 public:
  Q8WinogradConvKernel(const Q8Conv& q, const kernels::Q8WinogradVariant& v, std::string name)
      : q_(q), v_(v), name_(std::move(name)) {
    const ConvGeometry& g = q.g;
    cin_pad_ = kernels::q8_winograd_cin_pad(g.in_channels);
    cout_pad_ = kernels::q8_winograd_cout_pad(g.out_channels);
    if (!packed_.resize(kernels::q8_winograd_packed_weight_elements(g.in_channels, g.out_channels))) return;
    kernels::q8_winograd_pack_weight(g.in_channels, g.out_channels, q.weight, packed_.data());
    // Columns past Cout: bias 0, multiplier 0 and a shift of 31 (a valid requantization).
    bias_.assign(cout_pad_, 0);
    multipliers_.assign(cout_pad_, 0);
    shifts_.assign(cout_pad_, 31);
    for (size_t c = 0; c < static_cast<size_t>(g.out_channels); ++c) {
      bias_[c] = q.bias ? q.bias[c] : 0;
      multipliers_[c] = q.rq[c].multiplier;
      shifts_[c] = q.rq[c].shift;
    }
    tiles_ = static_cast<size_t>(kernels::f32_conv_winograd_f23_tiles(g));
    // Blocks of whole 6-row tiles whose 16 input and 16 output matrices take about
    // kBlockBytes, so that they stay in L2 between the transforms and the products.
    const size_t tile_bytes = 16 * (cin_pad_ * sizeof(int16_t) + cout_pad_ * sizeof(int32_t));
    block_tiles_ = std::max<size_t>(1, kBlockBytes / (tile_bytes * kRows)) * kRows;
    // One cache line past a multiple of 4 KiB apart: the transforms touch all 16 matrices
    // at once, which would otherwise fall into the same L1 sets.
    v_stride_ = (block_tiles_ * cin_pad_ + 2047) / 2048 * 2048 + 32;
    m_stride_ = (block_tiles_ * cout_pad_ + 1023) / 1024 * 1024 + 16;
  }

  size_t scratch_bytes() const override { return kMaxWorkers * worker_bytes(); }

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const uint8_t*>(ctx.inputs[0]);
    auto* y = static_cast<uint8_t*>(ctx.outputs[0]);
    const size_t threads = ctx.pool ? static_cast<size_t>(ctx.pool->threads()) : 1;
    auto* scratch = static_cast<uint8_t*>(ctx.scratch);
    const size_t cout = static_cast<size_t>(q_.g.out_channels), per_e = cin_pad_ * cout_pad_;
    for_each_block(ctx.pool, tiles_, kRows, block_tiles_, std::min(threads, kMaxWorkers),
                   [&](size_t w, size_t t0, size_t t1) {
                     auto* v = reinterpret_cast<int16_t*>(scratch + w * worker_bytes());
                     auto* m = reinterpret_cast<int32_t*>(v + 16 * v_stride_);
                     v_.input(q_.g, x, q_.x_signed, q_.x_zero_point_u8(), static_cast<int64_t>(t0),
                              static_cast<int64_t>(t1), v, static_cast<int64_t>(v_stride_));
                     for (size_t e = 0; e < 16; ++e)
                       v_.gemm(t1 - t0, cin_pad_, cout, v + e * v_stride_, packed_.data() + e * per_e,
                               m + e * m_stride_);
                     v_.output(q_.g, m, static_cast<int64_t>(m_stride_), bias_.data(), multipliers_.data(),
                               shifts_.data(), q_.y_zero_point, q_.lo, q_.hi, static_cast<int64_t>(t0),
                               static_cast<int64_t>(t1), y);
                   });
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  static constexpr size_t kBlockBytes = 256 * 1024;
  static constexpr size_t kMaxWorkers = 8;  // bounds the scratch
  static constexpr size_t kRows = 6;        // the product's row tile

  size_t worker_bytes() const { return 16 * (v_stride_ * sizeof(int16_t) + m_stride_ * sizeof(int32_t)); }

  Q8Conv q_;
  const kernels::Q8WinogradVariant& v_;
  std::string name_;
  AlignedArray<int16_t> packed_;
  std::vector<int32_t> bias_, multipliers_, shifts_;  // cout_pad_ entries
  size_t cin_pad_ = 0, cout_pad_ = 0, tiles_ = 0, block_tiles_ = 0;
  size_t v_stride_ = 0, m_stride_ = 0;  // elements between the 16 matrices
};

// Grouped NHWC Conv that is not depthwise (RegNet's, ResNeXt's): group j is a one-group
// Conv of Cin / groups -> Cout / groups channels, run with the int8 GEMM on its own packed
// weights. A block of output pixels is gathered once for all groups, each row laid out group
// by group ([groups][taps * Cin / groups], each padded to a multiple of 4 bytes with X's zero
// point and zero weights), so that group j's A is the block's rows from j's offset; its
// product writes j's columns of the output rows. Every output element comes from one
// microkernel call over all of the group's K: the bytes do not depend on the blocking or
// the thread count.
class Q8GroupedConvKernel final : public OpKernel {
 public:
  Q8GroupedConvKernel(const Q8Conv& q, const kernels::QGemmVariant& v, std::string name)
      : q_(q), v_(v), name_(std::move(name)) {
    const ConvGeometry& g = q.g;
    taps_ = static_cast<size_t>(g.kernel[1] * g.kernel[2]);
    groups_ = static_cast<size_t>(g.groups);
    cin_ = static_cast<size_t>(g.in_channels / g.groups);
    cout_ = static_cast<size_t>(g.out_channels / g.groups);
    k_ = (taps_ * cin_ + 3) / 4 * 4;
    group_bytes_ = (kernels::qgemm_packed_b_bytes(v, cout_, k_) + 63) / 64 * 64;
    if (!packed_.resize(groups_ * group_bytes_)) return;
    std::vector<int8_t> nk(cout_ * k_);  // group j's [Cout / groups, taps, Cin / groups] + zero padding
    for (size_t j = 0; j < groups_; ++j) {
      std::fill(nk.begin(), nk.end(), int8_t{0});
      for (size_t o = 0; o < cout_; ++o)
        for (size_t c = 0; c < cin_; ++c)
          for (size_t t = 0; t < taps_; ++t)
            nk[o * k_ + t * cin_ + c] = q.weight[((j * cout_ + o) * cin_ + c) * taps_ + t];
      kernels::qgemm_pack_b(v, cout_, k_, nk.data(), k_, 1, q.bias ? q.bias + j * cout_ : nullptr,
                            q.x_zero_point_u8(), q.rq.data() + j * cout_, packed_.data() + j * group_bytes_);
    }
    pixels_ = static_cast<size_t>(q.pixels());
    args_.n = cout_;
    args_.k = k_;
    args_.a_stride = groups_ * k_;
    args_.c_stride = static_cast<size_t>(g.out_channels);
    args_.c_zero_point = q.y_zero_point;
    args_.lo = q.lo;
    args_.hi = q.hi;
    block_rows_ = std::max<size_t>(1, kBlockBytes / (args_.a_stride * v.mr)) * v.mr;
  }

  size_t scratch_bytes() const override { return kMaxWorkers * block_rows_ * args_.a_stride; }

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const uint8_t*>(ctx.inputs[0]);
    auto* y = static_cast<uint8_t*>(ctx.outputs[0]);
    const size_t threads = ctx.pool ? static_cast<size_t>(ctx.pool->threads()) : 1;
    auto* scratch = static_cast<uint8_t*>(ctx.scratch);
    for_each_block(ctx.pool, pixels_, v_.mr, block_rows_, std::min(threads, kMaxWorkers),
                   [&](size_t w, size_t r0, size_t r1) {
                     uint8_t* rows = scratch + w * block_rows_ * args_.a_stride;
                     gather(x, r0, r1, rows);
                     kernels::QGemmArgs args = args_;
                     args.m = r1 - r0;
                     const size_t m_tiles = kernels::qgemm_m_tiles(v_, args.m);
                     const size_t n_panels = kernels::qgemm_n_panels(v_, args.n);
                     for (size_t j = 0; j < groups_; ++j) {
                       args.a = rows + j * k_;
                       args.packed_b = packed_.data() + j * group_bytes_;
                       args.c = y + r0 * args.c_stride + j * cout_;
                       kernels::qgemm(v_, args, 0, m_tiles, 0, n_panels);
                     }
                   });
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  static constexpr size_t kBlockBytes = 64 * 1024;
  static constexpr size_t kMaxWorkers = 8;  // bounds the scratch

  // Rows of output pixels [r0, r1): for each group, per tap (ky, kx) the group's input bytes
  // under it, or X's zero point where the tap falls in the pads. Group widths of 4, 8, 16 and
  // 32 bytes (RegNet's are 8) copy with fixed-size moves.
  void gather(const uint8_t* x, size_t r0, size_t r1, uint8_t* rows) const {
    switch (q_.x_signed ? 0 : cin_) {
      case 4: return gather_groups<4>(x, r0, r1, rows);
      case 8: return gather_groups<8>(x, r0, r1, rows);
      case 16: return gather_groups<16>(x, r0, r1, rows);
      case 32: return gather_groups<32>(x, r0, r1, rows);
      default: return gather_groups<0>(x, r0, r1, rows);
    }
  }

  // kWidth: the group width in bytes when fixed (uint8 X), 0 for any (flipping int8 bytes).
  template <size_t kWidth>
  void gather_groups(const uint8_t* x, size_t r0, size_t r1, uint8_t* rows) const {
    const ConvGeometry& g = q_.g;
    const int64_t in_h = g.in_size[1], in_w = g.in_size[2], out_h = g.out_size[1], out_w = g.out_size[2];
    const int64_t kernel_h = g.kernel[1], kernel_w = g.kernel[2], stride_h = g.stride[1], stride_w = g.stride[2];
    const int64_t dilation_h = g.dilation[1], dilation_w = g.dilation[2], pad_h = g.pad_begin[1], pad_w = g.pad_begin[2];
    const auto cin = static_cast<int64_t>(g.in_channels);
    const auto zp = static_cast<uint8_t>(q_.x_zero_point_u8());
    const size_t width = kWidth ? kWidth : cin_, groups = groups_, k = k_, row_bytes = args_.a_stride;
    const size_t tail = k - taps_ * width;  // padding bytes after each group's taps
    const bool flip = q_.x_signed;
    auto copy = [&](uint8_t* to, const uint8_t* from) {
      for (size_t j = 0; j < groups; ++j) {
        if constexpr (kWidth > 0)
          std::memcpy(to + j * k, from + j * kWidth, kWidth);
        else
          copy_bytes(from + j * width, width, flip, to + j * k);
      }
    };
    auto fill = [&](uint8_t* to) {
      for (size_t j = 0; j < groups; ++j)
        for (size_t b = 0; b < width; ++b) to[j * k + b] = zp;
    };
    const auto first = static_cast<int64_t>(r0);
    int64_t n = first / (out_h * out_w), oy = first / out_w % out_h, ox = first % out_w;
    for (size_t r = r0; r < r1; ++r) {
      if (r > r0 && ++ox == out_w) {
        ox = 0;
        if (++oy == out_h) {
          oy = 0;
          ++n;
        }
      }
      uint8_t* to = rows + (r - r0) * row_bytes;
      for (int64_t ky = 0; ky < kernel_h; ++ky) {
        const int64_t iy = oy * stride_h - pad_h + ky * dilation_h;
        const bool inside = iy >= 0 && iy < in_h;
        const uint8_t* line = x + (n * in_h + (inside ? iy : 0)) * in_w * cin;
        for (int64_t kx = 0; kx < kernel_w; ++kx, to += width) {
          const int64_t ix = ox * stride_w - pad_w + kx * dilation_w;
          if (inside && ix >= 0 && ix < in_w)
            copy(to, line + ix * cin);
          else
            fill(to);
        }
      }
      if (tail > 0) {
        uint8_t* row = rows + (r - r0) * row_bytes;
        for (size_t j = 0; j < groups; ++j)
          for (size_t b = taps_ * width; b < k; ++b) row[j * k + b] = zp;  // padding (zero weights)
      }
    }
  }

  Q8Conv q_;
  const kernels::QGemmVariant& v_;
  std::string name_;
  AlignedArray<uint8_t> packed_;  // group j's packed B at j * group_bytes_
  kernels::QGemmArgs args_;
  size_t taps_ = 1, groups_ = 1, cin_ = 0, cout_ = 0, k_ = 0, group_bytes_ = 0, pixels_ = 0, block_rows_ = 0;
};

// Depthwise NHWC Conv with the qdwconv family: weights, bias and requantization packed at
// prepare; output rows of all images split among threads. An int8 X is first flipped to
// uint8 into scratch.
class Q8DepthwiseConvKernel final : public OpKernel {
 public:
  Q8DepthwiseConvKernel(const Q8Conv& q, const kernels::QDwConvParams& p, const kernels::QDwConvVariant& v,
                        std::string name)
      : p_(p), v_(v), batch_(q.g.batch), x_signed_(q.x_signed), name_(std::move(name)) {
    if (!packed_.resize(kernels::qdwconv_packed_bytes(v, p.channels, p.kernel_h, p.kernel_w))) return;
    kernels::qdwconv_pack(v, p, q.weight, q.bias, q.rq.data(), packed_.data());
    in_image_ = static_cast<size_t>(p.in_h * p.in_w * p.in_pixel_stride);
    out_image_ = static_cast<size_t>(p.out_h * p.out_w * p.out_pixel_stride);
  }

  size_t scratch_bytes() const override { return x_signed_ ? static_cast<size_t>(batch_) * in_image_ : 0; }

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const uint8_t*>(ctx.inputs[0]);
    auto* y = static_cast<uint8_t*>(ctx.outputs[0]);
    if (x_signed_) {
      auto* flipped = static_cast<uint8_t*>(ctx.scratch);
      const size_t bytes = static_cast<size_t>(batch_) * in_image_;
      parallel_for(ctx.pool, (bytes + kChunk - 1) / kChunk, [&](size_t c0, size_t c1) {
        const size_t b0 = c0 * kChunk, b1 = std::min(bytes, c1 * kChunk);
        copy_bytes(x + b0, b1 - b0, true, flipped + b0);
      });
      x = flipped;
    }
    const auto rows = static_cast<size_t>(batch_ * p_.out_h);
    parallel_for(ctx.pool, rows, [&](size_t begin, size_t end) {
      for (auto r = static_cast<int64_t>(begin); r < static_cast<int64_t>(end);) {
        const int64_t n = r / p_.out_h, oy = r % p_.out_h;
        const int64_t oy_end = std::min(p_.out_h, oy + static_cast<int64_t>(end) - r);
        v_.fn(p_, x + static_cast<size_t>(n) * in_image_, packed_.data(), y + static_cast<size_t>(n) * out_image_,
              oy, oy_end);
        r += oy_end - oy;
      }
    });
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  static constexpr size_t kChunk = 16 * 1024;

  kernels::QDwConvParams p_;
  const kernels::QDwConvVariant& v_;
  int64_t batch_;
  bool x_signed_;
  std::string name_;
  AlignedArray<uint8_t> packed_;
  size_t in_image_ = 0, out_image_ = 0;
};

// Any geometry and layout (grouped, NCHW, channel multipliers), one output element at a
// time: acc = bias + sum (x - x_zero_point) * w in int32 (wrapping as the vector kernels
// do), then requantized. Output planes (image, channel) split among threads.
class Q8ReferenceConvKernel final : public OpKernel {
 public:
  Q8ReferenceConvKernel(const Q8Conv& q, std::string name) : q_(q), name_(std::move(name)) {}

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const uint8_t*>(ctx.inputs[0]);
    auto* y = static_cast<uint8_t*>(ctx.outputs[0]);
    const ConvGeometry& g = q_.g;
    parallel_for(ctx.pool, static_cast<size_t>(g.batch * g.out_channels), [&](size_t begin, size_t end) {
      for (size_t plane = begin; plane < end; ++plane) conv_plane(x, static_cast<int64_t>(plane), y);
    });
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  int32_t load(const uint8_t* x, int64_t i) const {
    return q_.x_signed ? static_cast<int32_t>(static_cast<int8_t>(x[i])) : static_cast<int32_t>(x[i]);
  }

  void conv_plane(const uint8_t* x, int64_t plane, uint8_t* y) const {
    const ConvGeometry& g = q_.g;
    const int64_t cin = g.in_channels, cout = g.out_channels;
    const int64_t cin_g = cin / g.groups, cout_g = cout / g.groups;
    const int64_t n = plane / cout, oc = plane % cout, group = oc / cout_g;
    const int64_t in_spatial = g.in_size[0] * g.in_size[1] * g.in_size[2];
    const int64_t out_spatial = g.out_size[0] * g.out_size[1] * g.out_size[2];
    const int64_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
    // Element strides of X and Y: channel and spatial position (flattened d, h, w).
    const int64_t x_c = q_.nhwc ? 1 : in_spatial, x_s = q_.nhwc ? cin : 1;
    const int64_t y_c = q_.nhwc ? 1 : out_spatial, y_s = q_.nhwc ? cout : 1;
    const int8_t* w = q_.weight + oc * cin_g * taps;
    const uint8_t* xn = x + n * cin * in_spatial;
    uint8_t* yn = y + n * cout * out_spatial;
    for (int64_t o0 = 0; o0 < g.out_size[0]; ++o0)
      for (int64_t o1 = 0; o1 < g.out_size[1]; ++o1)
        for (int64_t o2 = 0; o2 < g.out_size[2]; ++o2) {
          uint32_t acc = q_.bias ? static_cast<uint32_t>(q_.bias[oc]) : 0u;
          for (int64_t c = 0; c < cin_g; ++c) {
            const int64_t ic = group * cin_g + c;
            for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
              const int64_t i0 = o0 * g.stride[0] - g.pad_begin[0] + k0 * g.dilation[0];
              if (i0 < 0 || i0 >= g.in_size[0]) continue;
              for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
                const int64_t i1 = o1 * g.stride[1] - g.pad_begin[1] + k1 * g.dilation[1];
                if (i1 < 0 || i1 >= g.in_size[1]) continue;
                for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
                  const int64_t i2 = o2 * g.stride[2] - g.pad_begin[2] + k2 * g.dilation[2];
                  if (i2 < 0 || i2 >= g.in_size[2]) continue;
                  const int64_t s = (i0 * g.in_size[1] + i1) * g.in_size[2] + i2;
                  const int32_t xv = load(xn, ic * x_c + s * x_s) - q_.x_zero_point;
                  const int32_t wv = w[((c * g.kernel[0] + k0) * g.kernel[1] + k1) * g.kernel[2] + k2];
                  acc += static_cast<uint32_t>(xv * wv);
                }
              }
            }
          }
          const int64_t s = (o0 * g.out_size[1] + o1) * g.out_size[2] + o2;
          yn[oc * y_c + s * y_s] = static_cast<uint8_t>(kernels::requantize(
              static_cast<int32_t>(acc), q_.rq[static_cast<size_t>(oc)], q_.y_zero_point, q_.lo, q_.hi));
        }
  }

  Q8Conv q_;
  std::string name_;
};

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

// A per-tensor quantization of an 8-bit tensor: one scale > 0 and a zero point in the
// dtype's range.
Status per_tensor_quant(const PrepareContext& ctx, const TensorDesc& t, const char* what, float* scale,
                        int32_t* zero_point) {
  const QuantParams& q = t.quant;
  if (!t.quantized || q.scales.size() != 1 || q.zero_points.size() > 1)
    return ctx.error(Status::kUnsupported, std::string(what) + " '" + t.name +
                                               "' must be quantized per tensor (one scale and zero point)");
  const bool is_signed = t.dtype == DType::kInt8;
  const int64_t zp = q.zero_points.empty() ? 0 : q.zero_points[0];
  if (!(q.scales[0] > 0) || zp < kernels::q8_min(is_signed) || zp > kernels::q8_max(is_signed))
    return ctx.error(Status::kBadModel, std::string(what) + " '" + t.name + "' has scale " +
                                            std::to_string(q.scales[0]) + " and zero point " + std::to_string(zp) +
                                            ": the scale must be > 0, the zero point in the dtype's range");
  *scale = q.scales[0];
  *zero_point = static_cast<int32_t>(zp);
  return Status::ok();
}

}  // namespace

Status nn::q8_output_params(const PrepareContext& ctx, const TensorDesc& x, const TensorDesc& w, int32_t w_axis,
                        const TensorDesc& y, int64_t channels, std::vector<Requant>* rq, int32_t* x_zero_point,
                        int32_t* y_zero_point, int32_t* lo, int32_t* hi) {
  if (!is_8bit(x.dtype)) return ctx.error(Status::kUnsupported, "input '" + x.name + "' must be uint8 or int8");
  if (y.dtype != x.dtype)
    return ctx.error(Status::kUnsupported, "output '" + y.name + "' has dtype " + dtype_name(y.dtype) +
                                               ", expected the input's " + dtype_name(x.dtype));
  if (w.dtype != DType::kInt8 || w.constant == nullptr)
    return ctx.error(Status::kUnsupported, "weight '" + w.name + "' must be a constant int8 tensor");
  float sx = 0, sy = 0;
  PARE_RT_RETURN_IF_ERROR(per_tensor_quant(ctx, x, "input", &sx, x_zero_point));
  PARE_RT_RETURN_IF_ERROR(per_tensor_quant(ctx, y, "output", &sy, y_zero_point));
  const QuantParams& wq = w.quant;
  const bool per_channel = wq.scales.size() == static_cast<size_t>(channels) && channels != 1;
  if (!w.quantized || (wq.scales.size() != 1 && !per_channel) || (per_channel && wq.axis != w_axis))
    return ctx.error(Status::kUnsupported, "weight '" + w.name + "' must be quantized per tensor or per output "
                                           "channel (axis " + std::to_string(w_axis) + ", " +
                                               std::to_string(channels) + " scales)");
  for (int64_t zp : wq.zero_points)
    if (zp != 0) return ctx.error(Status::kUnsupported, "weight '" + w.name + "' must have zero points 0");
  rq->resize(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const float sw = wq.scales[per_channel ? static_cast<size_t>(c) : 0];
    // ONNX Runtime's scale: the two agree on every output but rounding ties and float-rounding edges.
    const float real = kernels::weight_requant_scale(sx, sw, sy);
    if (!kernels::requant_from_scale(static_cast<double>(real), &(*rq)[static_cast<size_t>(c)]))
      return ctx.error(Status::kUnsupported, "weight '" + w.name + "' channel " + std::to_string(c) + ": scale " +
                                                 std::to_string(sx * sw / sy) + " cannot be requantized");
  }
  const bool y_signed = y.dtype == DType::kInt8;
  float min = -INFINITY, max = INFINITY;
  switch (ctx.activation.kind) {
    case ActivationKind::kNone: break;
    case ActivationKind::kRelu: min = 0.f; break;
    case ActivationKind::kClip:
      min = ctx.activation.p0;
      max = ctx.activation.p1;
      break;
    default:
      return ctx.error(Status::kUnsupported, std::string("int8 ") + ctx.op + " fuses only Relu or Clip (the output "
                                             "clamp); run other activations as their own node");
  }
  kernels::q8_clamp_range(y_signed, sy, *y_zero_point, min, max, lo, hi);
  return Status::ok();
}

// Tiles of 2x2 outputs (over the batch) from which an int8 3x3 conv runs as Winograd. Lower
// than float's 32: int8 im2col costs more per product. ResNet-18's 7x7 layers (16 tiles) on
// Winograd took ResNet-18 int8 from 81.6 to 78.2 ms on an AVX2 EPYC, the fmnist CNN's from
// 1.61 to 1.49 ms.
constexpr int64_t kMinQ8WinogradTiles = 16;

// Int8 Winograd where the int8 GEMM multiplies int16 operands anyway (AVX2 without VNNI, NEON
// without dot products): 2.25x fewer products at the same rate. On an AVX2 EPYC the fmnist CNN's 28x28 32 -> 64 conv went
// from 0.91 to 0.58 ms and its 14x14 64 -> 128 conv from 0.86 to 0.49 ms. With VNNI or AMX
// the byte products run at twice the int16 rate or more, and on the scalar path the
// transforms cost more than they save.
// The variant to run, or null for im2col.
const kernels::Q8WinogradVariant* q8_winograd_variant(const PrepareContext& ctx, const ConvGeometry& g,
                                                      const kernels::QGemmVariant& gemm) {
  const bool shape = g.kernel[0] == 1 && g.kernel[1] == 3 && g.kernel[2] == 3 && g.stride[1] == 1 &&
                     g.stride[2] == 1 && g.dilation[1] == 1 && g.dilation[2] == 1 && g.in_channels >= 16 &&
                     g.in_channels <= kernels::kQ8WinogradMaxChannels && g.out_channels >= 16 &&
                     kernels::f32_conv_winograd_f23_tiles(g) >= kMinQ8WinogradTiles;
  if (!shape) return nullptr;
  // Selected (and so listed by `pare ops`) for every such conv, whatever this CPU runs.
  const kernels::Q8WinogradVariant& w = kernels::select_q8_winograd(ctx.isa);
  return (gemm.isa == Isa::kAvx2 || gemm.isa == Isa::kNeon) && w.isa == gemm.isa ? &w : nullptr;
}

Result<std::unique_ptr<OpKernel>> nn::prepare_q8_conv(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 3, 1, 1));
  Q8Conv q;
  std::vector<int64_t> out_shape;
  PARE_RT_RETURN_IF_ERROR(nn::conv_geometry(ctx, &q.nhwc, &q.g, &out_shape));
  const TensorDesc& x = *ctx.inputs[0];
  const TensorDesc& w = *ctx.inputs[1];
  PARE_RT_RETURN_IF_ERROR(q8_output_params(ctx, x, w, 0, *ctx.outputs[0], q.g.out_channels, &q.rq,
                                           &q.x_zero_point, &q.y_zero_point, &q.lo, &q.hi));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, out_shape));
  if (const TensorDesc* b = optional_input(ctx, 2)) {
    if (b->dtype != DType::kInt32 || b->constant == nullptr)
      return ctx.error(Status::kUnsupported, "bias '" + b->name + "' of an int8 Conv must be a constant int32 tensor");
    q.bias = static_cast<const int32_t*>(b->constant);
  }
  q.x_signed = x.dtype == DType::kInt8;
  q.weight = static_cast<const int8_t*>(w.constant);
  const ConvGeometry& g = q.g;
  const bool empty = g.batch == 0 || g.in_channels == 0 || g.out_channels == 0 || q.pixels() == 0;
  if (q.nhwc && !empty) {
    bool pointwise = g.groups == 1;
    for (int i = 0; i < 3; ++i)
      pointwise = pointwise && g.kernel[i] == 1 && g.stride[i] == 1 && g.pad_begin[i] == 0 &&
                  g.in_size[i] == g.out_size[i];
    if (g.groups == 1) {
      const kernels::QGemmVariant& v = kernels::select_qgemm(ctx.isa);
      if (const kernels::Q8WinogradVariant* w = q8_winograd_variant(ctx, g, v)) {
        return std::unique_ptr<OpKernel>(
            new Q8WinogradConvKernel(q, *w, nn::kernel_name("q8_conv_winograd_f23", ctx.activation, w->tile_isa)));
      }
      return std::unique_ptr<OpKernel>(new Q8GemmConvKernel(
          q, pointwise, v,
          nn::kernel_name(pointwise ? "q8_conv_pointwise" : "q8_conv_im2col", ctx.activation, v.tile_isa)));
    }
    if (g.groups == g.in_channels && g.groups == g.out_channels) {
      kernels::QDwConvParams p;
      p.channels = g.in_channels;
      p.in_h = g.in_size[1];
      p.in_w = g.in_size[2];
      p.out_h = g.out_size[1];
      p.out_w = g.out_size[2];
      p.kernel_h = g.kernel[1];
      p.kernel_w = g.kernel[2];
      p.stride_h = g.stride[1];
      p.stride_w = g.stride[2];
      p.dilation_h = g.dilation[1];
      p.dilation_w = g.dilation[2];
      p.pad_top = g.pad_begin[1];
      p.pad_left = g.pad_begin[2];
      p.in_pixel_stride = p.out_pixel_stride = g.in_channels;
      p.x_zero_point = q.x_zero_point_u8();
      p.y_zero_point = q.y_zero_point;
      p.lo = q.lo;
      p.hi = q.hi;
      const kernels::QDwConvVariant& v = kernels::select_qdwconv(ctx.isa, p);
      // "q8_dwconv_3x3s1__avx512vnni" -> "q8_conv_depthwise_3x3s1__avx512vnni"
      std::string tile = v.name;
      const std::string prefix = "q8_dwconv_";
      if (tile.compare(0, prefix.size(), prefix) == 0) tile.erase(0, prefix.size());
      return std::unique_ptr<OpKernel>(
          new Q8DepthwiseConvKernel(q, p, v, nn::kernel_name("q8_conv_depthwise", ctx.activation, tile.c_str())));
    }
    if (g.out_channels / g.groups >= nn::kMinGroupedOutChannels && g.kernel[0] == 1) {
      // Groups narrower than an AMX tile pair (RegNetY-400MF's are 8 channels) run faster
      // on the VNNI tile: 2.1 against 2.7 ms for that model's grouped convs.
      const bool narrow = g.out_channels / g.groups < 32;
      const kernels::QGemmVariant& v =
          kernels::select_qgemm(ctx.isa == Isa::kAmx && narrow ? Isa::kAvx512Vnni : ctx.isa);
      return std::unique_ptr<OpKernel>(
          new Q8GroupedConvKernel(q, v, nn::kernel_name("q8_conv_grouped", ctx.activation, v.tile_isa)));
    }
  }
  return std::unique_ptr<OpKernel>(
      new Q8ReferenceConvKernel(q, nn::kernel_name("q8_conv", ctx.activation, "ref__scalar")));
}

}  // namespace pare::rt::ops
