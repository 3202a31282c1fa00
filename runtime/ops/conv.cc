// Conv and ConvTranspose (1-D to 3-D, grouped, fused activation), float32; Conv also in
// NHWC layout (attribute layout = "NHWC", 4-D data, weights kept in ONNX layout).
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/conv/conv.h"
#include "runtime/kernels/dwconv/dwconv.h"
#include "runtime/kernels/gemm/gemm.h"
#include "runtime/kernels/winograd/winograd.h"
#include "runtime/ops/nn_util.h"
#include "runtime/ops/ops.h"
#include "runtime/ops/parallel.h"
#include "runtime/ops/dense_copies.h"
#include "runtime/ops/palette_weight.h"
#include "runtime/ops/sparse_weight.h"
#include "runtime/thread_pool.h"

namespace pare::rt::ops {

namespace {

using kernels::ConvGeometry;

// fusion_tag values of the kernels fuse_conv_chain takes and makes.
constexpr char kGemmConvTag = 'p', kDepthwiseTag = 'd', kPointwiseDepthwiseTag = 'f';

// A float count rounded up to whole 64-byte lines, so that buffers laid out one after
// another in scratch each start aligned.
size_t whole_lines(size_t floats) { return (floats + 15) / 16 * 16; }
using ConvFn = void (*)(const ConvGeometry&, const float*, const float*, const float*, float*,
                        int64_t, int64_t);

class ConvKernel final : public OpKernel {
 public:
  ConvKernel(ConvFn fn, const ConvGeometry& g, bool has_bias, FusedActivation act, std::string name)
      : fn_(fn), g_(g), has_bias_(has_bias), act_(act), name_(std::move(name)) {}

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    const auto* w = static_cast<const float*>(ctx.inputs[1]);
    const auto* bias = has_bias_ ? static_cast<const float*>(ctx.inputs[2]) : nullptr;
    auto* y = static_cast<float*>(ctx.outputs[0]);
    const int64_t out_plane = g_.out_size[0] * g_.out_size[1] * g_.out_size[2];
    const size_t planes = static_cast<size_t>(g_.batch * g_.out_channels);
    parallel_for(ctx.pool, planes, [&](size_t begin, size_t end) {
      fn_(g_, x, w, bias, y, static_cast<int64_t>(begin), static_cast<int64_t>(end));
      apply_activation(act_, y + static_cast<int64_t>(begin) * out_plane,
                       (end - begin) * static_cast<size_t>(out_plane));
    });
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  ConvFn fn_;
  ConvGeometry g_;
  bool has_bias_;
  FusedActivation act_;
  std::string name_;
};

// Channels-last Conv. How each case runs is chosen once at prepare:
enum class NhwcConvPath {
  kPointwise,  // 1x1, stride 1, no pads, one group, constant weights: packed GEMM on the pixels
  kWinograd,   // one-group 3x3 stride 1 with enough channels and pixels: Winograd F(2x2, 3x3)
  kWinograd43, // the same on larger images: Winograd F(4x4, 3x3), packed GEMMs
  kIndirect,   // other one-group geometries with constant weights: packed GEMM on indirect A rows
  kDepthwise,  // one filter per channel (group == Cin == Cout), constant weights
  kGrouped,    // other grouped convs with at least nn::kMinGroupedOutChannels per group, constant weights
  kPointwiseReference,  // 1x1 pointwise with weights computed at run time
  kDirect,     // every other case (grouped, channel multiplier, weights computed at run time)
};


// Tiles of 2x2 outputs (over the batch) from which a 3x3 conv runs as Winograd F(2x2, 3x3),
// and of 4x4 outputs from which it runs as F(4x4, 3x3).
constexpr int64_t kMinWinogradTiles = 32;
constexpr int64_t kMinWinograd43Tiles = 32;

// 1x1, stride 1, no pads, one group: a matrix product on the pixels.
bool is_pointwise(const ConvGeometry& g) {
  bool pointwise = g.groups == 1;
  for (int i = 0; i < 3; ++i)
    pointwise = pointwise && g.kernel[i] == 1 && g.stride[i] == 1 && g.pad_begin[i] == 0 &&
                g.in_size[i] == g.out_size[i];
  return pointwise;
}

NhwcConvPath choose_nhwc_path(const PrepareContext& ctx, const ConvGeometry& g) {
  const bool pointwise = is_pointwise(g);
  const TensorDesc* bias = optional_input(ctx, 2);
  const bool constant = ctx.inputs[1]->constant != nullptr && (!bias || bias->constant != nullptr);
  const bool empty = g.batch == 0 || g.in_channels == 0 || g.out_channels == 0;
  if (!constant || empty) return pointwise ? NhwcConvPath::kPointwiseReference : NhwcConvPath::kDirect;
  if (pointwise) return NhwcConvPath::kPointwise;
  // With few channels the transforms and 16 small GEMMs outweigh the multiplies saved; the
  // scalar cap keeps the indirect GEMM. With few tiles (ResNet's 7x7 layers: 16) each of
  // the 16 transformed weight matrices (16/9 the weights) serves too few rows: their
  // streaming from L3 costs more than the multiplies saved. ResNet-18 fp32 at one thread
  // took 24 ms with the 7x7 layers on the indirect GEMM against 27 ms with Winograd
  // (kMinWinogradTiles 60, which also moved the 14x14 layers, took 27 ms too).
  const bool winograd = g.groups == 1 && g.kernel[0] == 1 && g.kernel[1] == 3 && g.kernel[2] == 3 &&
                        g.stride[1] == 1 && g.stride[2] == 1 && g.dilation[1] == 1 && g.dilation[2] == 1 &&
                        g.in_channels >= 16 && g.out_channels >= 16 && ctx.isa != Isa::kScalar &&
                        kernels::f32_conv_winograd_f23_tiles(g) >= kMinWinogradTiles;
  // F(4x4, 3x3) has 36 transformed weight matrices (4x the weights) against 16 (16/9):
  // worth it where each serves enough tiles (ResNet's 56x56 and 28x28 layers, not its 14x14).
  if (winograd && kernels::f32_conv_winograd_f43_tiles(g) >= kMinWinograd43Tiles) return NhwcConvPath::kWinograd43;
  if (winograd) return NhwcConvPath::kWinograd;
  if (g.groups == 1) return NhwcConvPath::kIndirect;
  if (g.groups == g.in_channels && g.groups == g.out_channels && g.kernel[0] == 1)
    return NhwcConvPath::kDepthwise;
  if (g.out_channels / g.groups >= nn::kMinGroupedOutChannels) return NhwcConvPath::kGrouped;
  return NhwcConvPath::kDirect;
}

// One-group Conv as C [pixels, Cout] = A [pixels, taps * Cin] * W + bias with the packed
// GEMM. W ([taps * Cin, Cout], rows in im2col order, (k0, k1, k2, cin)) and the bias are
// packed at prepare. A pointwise conv reads the input as A; other geometries give the
// GEMM's indirect microkernel, block by block, pointers to the runs of input pixels under
// each kernel row (f32_conv_nhwc_indirection): only runs that reach into the pads are
// copied. Against an im2col copy of every row, MobileNetV2-224's stem (Cin 3) went from
// 0.365 to 0.22 ms. Every output element is one microkernel call over all of K from the
// bias, so the bytes do not depend on the blocking or the thread count.
class NhwcGemmConvKernel final : public OpKernel {
 public:
  NhwcGemmConvKernel(const ConvGeometry& g, bool pointwise, const kernels::F32GemmVariant& v,
                     const float* weight, const float* bias, FusedActivation act, std::string name)
      : g_(g), pointwise_(pointwise), v_(v), act_(act), name_(std::move(name)) {
    const size_t taps = static_cast<size_t>(g.kernel[0] * g.kernel[1] * g.kernel[2]);
    const size_t n = static_cast<size_t>(g.out_channels);
    const size_t k = taps * static_cast<size_t>(g.in_channels);
    if (!packed_.resize(kernels::f32_gemm_packed_b_bytes(v.nr, n, k) / sizeof(float))) return;
    if (pointwise) {
      kernels::f32_gemm_pack_b_nk(v.nr, n, k, weight, k, bias, packed_.data());
    } else {
      std::vector<float> kn(k * n);  // [taps, Cin, Cout]
      kernels::f32_conv_nhwc_pack_weight(g, weight, kn.data());
      kernels::f32_gemm_pack_b_kn(v.nr, n, k, kn.data(), n, bias, packed_.data());
    }
    pixels_ = static_cast<size_t>(g.batch * g.out_size[0] * g.out_size[1] * g.out_size[2]);
    if (!pointwise) {
      runs_per_row_ = static_cast<size_t>(kernels::f32_conv_nhwc_runs_per_row(g));
      if (!zeros_.resize(k / runs_per_row_)) return;
    }
    args_.m = pixels_;
    args_.n = n;
    args_.k = k;
    args_.a_stride = k;
    args_.packed_b = packed_.data();
    args_.c_stride = n;
    args_.residual_stride = n;
    kernels::f32_gemm_set_activation(act_, &args_, v.isa);
    // Blocks of whole MR-row tiles of about kBlockBytes of A, so that a block's input stays
    // in L2 while every panel of W passes over it.
    const size_t row_bytes = k * sizeof(float);
    block_rows_ = std::max<size_t>(1, kBlockBytes / (row_bytes * v.mr)) * v.mr;
    // Few pixels and deep rows (ResNet's 7x7 and 14x14 layers: K up to 4608, weights up to
    // 9 MB): all of A fits in L2 and the weights come from L3, so the panels go in the outer
    // loop, each read once per run (and split among the threads) instead of once per block.
    whole_ = !pointwise && pixels_ * row_bytes <= kWholeBytes && pixels_ > block_rows_;
  }

  size_t scratch_bytes() const override {
    if (pointwise_) return 0;
    return whole_ ? lowering_bytes(pixels_) : kMaxWorkers * lowering_bytes(block_rows_);
  }

  void run(const ExecContext& ctx) override {
    const float* x = add_.x(ctx);
    const float* residual = add_.operand(ctx);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    if (pointwise_) {
      kernels::F32GemmArgs args = args_;
      args.a = x;
      args.c = y;
      args.residual = residual;
      const size_t m_tiles = kernels::f32_gemm_m_tiles(v_, args.m), n_panels = kernels::f32_gemm_n_panels(v_, args.n);
      const size_t threads = ctx.pool ? static_cast<size_t>(ctx.pool->threads()) : 1;
      if (threads > 1 && m_tiles >= kRowSplitTiles * threads) {
        // Whole MR-row tiles per thread, one share each.
        for_each_block(ctx.pool, args.m, v_.mr, args.m, threads, [&](size_t, size_t r0, size_t r1) {
          gemm_rows(x + r0 * args.a_stride, r1 - r0, y + r0 * args.c_stride,
                    residual ? residual + r0 * args.residual_stride : nullptr);
        });
        return;
      }
      parallel_for(ctx.pool, m_tiles * n_panels, [&](size_t t0, size_t t1) { kernels::f32_gemm_tiles(v_, args, t0, t1); });
      return;
    }
    const size_t threads = ctx.pool ? static_cast<size_t>(ctx.pool->threads()) : 1;
    auto* scratch = static_cast<char*>(ctx.scratch);
    if (whole_) {
      // One indirection for all pixels, then the panels in the outer loop, split among threads.
      kernels::F32GemmArgs args = lowered(x, 0, pixels_, y, scratch, residual);
      const size_t m_tiles = kernels::f32_gemm_m_tiles(v_, pixels_);
      parallel_for(ctx.pool, kernels::f32_gemm_n_panels(v_, args.n), [&](size_t p0, size_t p1) {
        for (size_t np = p0; np < p1; ++np) kernels::f32_gemm(v_, args, 0, m_tiles, np, np + 1);
      });
      return;
    }
    // One worker per thread (at most kMaxWorkers), each with its own block buffer.
    const size_t worker_bytes = lowering_bytes(block_rows_);
    for_each_block(ctx.pool, pixels_, v_.mr, block_rows_, std::min(threads, kMaxWorkers),
                   [&](size_t w, size_t r0, size_t r1) {
                     conv_rows(x, r0, r1, y + r0 * args_.c_stride, scratch + w * worker_bytes,
                               residual ? residual + r0 * args_.residual_stride : nullptr);
                   });
  }

  const char* kernel_name() const override { return name_.c_str(); }
  const void* fusion_tag() const override { return &kGemmConvTag; }

  // Takes the Add that reads this conv's output (kF32ResidualAddTag), once: run() then reads
  // the conv's input from inputs[x_slot] and adds inputs[1 - x_slot] to its output tiles.
  bool take_residual_add(const OpKernel& add, size_t x_slot) {
    if (!add_.take(x_slot)) return false;
    args_.residual_first = add_.operand_first();
    name_ += std::string("+") + add.kernel_name();
    return true;
  }

  // Pointwise: output rows [0, m) for the m input rows at `a` (A rows of args_.a_stride), into
  // `c` (rows of args_.c_stride) plus the rows at `residual` when set; their tiles numbered
  // by f32_gemm_tiles.
  void gemm_rows(const float* a, size_t m, float* c, const float* residual = nullptr) const {
    if (m == 0) return;
    kernels::F32GemmArgs args = args_;
    args.m = m;
    args.a = a;
    args.c = c;
    args.residual = residual;
    kernels::f32_gemm_tiles(v_, args, 0, kernels::f32_gemm_m_tiles(v_, m) * kernels::f32_gemm_n_panels(v_, args.n));
  }

  // Not pointwise: scratch bytes to compute `pixels` output pixels in one conv_rows call.
  size_t lowering_bytes(size_t pixels) const {
    return whole_lines(pixels * args_.k) * sizeof(float) + pixels * runs_per_row_ * sizeof(const float*);
  }

  // Not pointwise: output pixels [pixel_begin, pixel_end) of the batch into `c` (rows of
  // args_.c_stride) plus the rows at `residual` when set, tile row by tile row, with
  // lowering_bytes(pixel_end - pixel_begin) of 64-byte aligned scratch.
  void conv_rows(const float* x, size_t pixel_begin, size_t pixel_end, float* c, void* scratch,
                 const float* residual = nullptr) const {
    const kernels::F32GemmArgs args = lowered(x, pixel_begin, pixel_end, c, scratch, residual);
    kernels::f32_gemm(v_, args, 0, kernels::f32_gemm_m_tiles(v_, args.m), 0, kernels::f32_gemm_n_panels(v_, args.n));
  }

  // The product for output pixels [pixel_begin, pixel_end): their indirection built in
  // `scratch` (lowering_bytes of them), C at `c`, plus the rows at `residual` when set.
  kernels::F32GemmArgs lowered(const float* x, size_t pixel_begin, size_t pixel_end, float* c, void* scratch,
                               const float* residual) const {
    const size_t m = pixel_end - pixel_begin;
    auto* gathered = static_cast<float*>(scratch);
    auto** runs = reinterpret_cast<const float**>(gathered + whole_lines(m * args_.k));
    kernels::f32_conv_nhwc_indirection(g_, x, zeros_.data(), static_cast<int64_t>(pixel_begin),
                                       static_cast<int64_t>(pixel_end), runs, gathered);
    kernels::F32GemmArgs args = args_;
    args.m = m;
    args.a_runs = runs;
    args.a_run_count = runs_per_row_;
    args.c = c;
    args.residual = residual;
    return args;
  }

 private:
  friend class PointwiseDepthwiseKernel;
  // With at least this many M tiles per thread, each thread takes whole rows (all output
  // channels of its pixels) instead of a share of the tiles: the next op (a depthwise
  // conv, an Add) splits by rows too and then finds its input in its own core's cache.
  // MobileNetV2-224 at two threads: 2.95 -> 2.84 ms; with 16 per thread (the 14x14 layers
  // then kept the tile split) 2.94.
  static constexpr size_t kRowSplitTiles = 4;
  static constexpr size_t kBlockBytes = 128 * 1024;
  static constexpr size_t kWholeBytes = 1024 * 1024;
  // Bounds the scratch: kMaxWorkers blocks.
  static constexpr size_t kMaxWorkers = 8;

  ConvGeometry g_;
  bool pointwise_;
  const kernels::F32GemmVariant& v_;
  FusedActivation act_;  // args_.activation may point here
  std::string name_;
  AlignedArray<float> packed_;
  AlignedArray<float> zeros_;  // a run of pads: kernel[2] * Cin zeros (not pointwise)
  kernels::F32GemmArgs args_;
  size_t pixels_ = 0, block_rows_ = 0, runs_per_row_ = 0;
  bool whole_ = false;  // all pixels at once, panels outside (see the constructor)
  FusedAddInputs add_;  // the conv's input, and the residual added with a fused Add
};

// 3x3 stride-1 Conv as Winograd F(R x R, 3x3), R = 2 or 4: per block of tiles, the input
// transform writes E = (R+2)^2 matrices [tiles, Cin], E packed GEMMs (weights transformed and
// packed at prepare, without the bias) give [tiles, Cout], and the output transform adds the bias
// and applies a fused ReLU or Clip; other activations follow. Each tile's bytes depend
// only on the tile, so they do not depend on the blocking or the thread count.
class NhwcWinogradConvKernel final : public OpKernel {
 public:
  NhwcWinogradConvKernel(const ConvGeometry& g, int out_tile, const kernels::F32GemmVariant& v,
                         const kernels::WinogradVariant& transforms, const float* weight, const float* bias,
                         FusedActivation act, std::string name)
      : g_(g),
        out_tile_(out_tile),
        matrices_(static_cast<size_t>((out_tile + 2) * (out_tile + 2))),
        v_(v),
        transforms_(transforms.of(out_tile)),
        act_(act),
        name_(std::move(name)) {
    // ReLU and Clip go into the output transform as a clamp; the rest runs after it.
    kernels::F32GemmArgs clamp;
    kernels::f32_gemm_set_activation(act_, &clamp);
    min_ = clamp.min;
    max_ = clamp.max;
    separate_activation_ = clamp.activation != nullptr;
    act_vector_ = kernels::f32_activation_vector(act.kind, v.isa);
    const size_t cin = static_cast<size_t>(g.in_channels), cout = static_cast<size_t>(g.out_channels);
    // The packed buffer first: it counts against a memory limit, and the transformed
    // weights below take about as much again until the packing is done.
    matrix_floats_ = kernels::f32_gemm_packed_b_bytes(v.nr, cout, cin) / sizeof(float);
    if (!packed_.resize(matrices_ * matrix_floats_)) return;
    std::vector<float> u(matrices_ * cin * cout);
    if (out_tile == 4)
      kernels::f32_conv_winograd_f43_weight(g, weight, u.data());
    else
      kernels::f32_conv_winograd_f23_weight(g, weight, u.data());
    for (size_t e = 0; e < matrices_; ++e)
      kernels::f32_gemm_pack_b_kn(v.nr, cout, cin, u.data() + e * cin * cout, cout, nullptr,
                                  packed_.data() + e * matrix_floats_);
    if (bias) bias_.assign(bias, bias + cout);
    tiles_ = static_cast<size_t>(out_tile == 4 ? kernels::f32_conv_winograd_f43_tiles(g)
                                               : kernels::f32_conv_winograd_f23_tiles(g));
    // Blocks of whole MR-row tiles whose input and output matrices take about kBlockBytes,
    // so that they stay in L2 between the transforms and the GEMMs.
    const size_t tile_bytes = matrices_ * (cin + cout) * sizeof(float);
    block_tiles_ = std::max<size_t>(1, kBlockBytes / (tile_bytes * v.mr)) * v.mr;
    // One cache line past a multiple of 4 KiB apart: the transforms touch all the matrices
    // at once, which would otherwise fall into the same L1 sets.
    v_stride_ = (block_tiles_ * cin + 1023) / 1024 * 1024 + 16;
    m_stride_ = (block_tiles_ * cout + 1023) / 1024 * 1024 + 16;
  }

  size_t scratch_bytes() const override {
    return kMaxWorkers * worker_floats() * sizeof(float);
  }

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    const size_t cin = static_cast<size_t>(g_.in_channels), cout = static_cast<size_t>(g_.out_channels);
    const size_t threads = ctx.pool ? static_cast<size_t>(ctx.pool->threads()) : 1;
    auto* scratch = static_cast<float*>(ctx.scratch);
    const float* bias = bias_.empty() ? nullptr : bias_.data();
    for_each_block(ctx.pool, tiles_, v_.mr, block_tiles_, std::min(threads, kMaxWorkers),
                   [&](size_t w, size_t t0, size_t t1) {
                     float* v = scratch + w * worker_floats();
                     float* m = v + matrices_ * v_stride_;
                     transforms_.input(g_, x, static_cast<int64_t>(t0), static_cast<int64_t>(t1), v,
                                       static_cast<int64_t>(v_stride_));
                     kernels::F32GemmArgs args;
                     args.m = t1 - t0;
                     args.n = cout;
                     args.k = cin;
                     args.a_stride = cin;
                     args.c_stride = cout;
                     for (size_t e = 0; e < matrices_; ++e) {
                       args.a = v + e * v_stride_;
                       args.packed_b = packed_.data() + e * matrix_floats_;
                       args.c = m + e * m_stride_;
                       kernels::f32_gemm(v_, args, 0, kernels::f32_gemm_m_tiles(v_, args.m), 0,
                                         kernels::f32_gemm_n_panels(v_, args.n));
                     }
                     transforms_.output(g_, m, static_cast<int64_t>(m_stride_), bias, min_, max_,
                                        static_cast<int64_t>(t0), static_cast<int64_t>(t1), y);
                     if (separate_activation_) activate_tiles(t0, t1, y);
                   });
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  static constexpr size_t kBlockBytes = 256 * 1024;
  static constexpr size_t kMaxWorkers = 8;

  size_t worker_floats() const { return matrices_ * (v_stride_ + m_stride_); }

  // The output pixels of tiles [t0, t1): whole rows of R pixels, clipped at the edges.
  void activate_tiles(size_t t0, size_t t1, float* y) const {
    const int64_t out_h = g_.out_size[1], out_w = g_.out_size[2], cout = g_.out_channels;
    for (auto t = static_cast<int64_t>(t0); t < static_cast<int64_t>(t1); ++t) {
      int64_t n, oh, ow;
      if (out_tile_ == 4)
        kernels::winograd_detail::tile_origin<4>(g_, t, &n, &oh, &ow);
      else
        kernels::winograd_detail::tile_origin<2>(g_, t, &n, &oh, &ow);
      const int64_t width = std::min<int64_t>(out_tile_, out_w - ow);
      for (int64_t i = 0; i < out_tile_ && oh + i < out_h; ++i)
        kernels::f32_activation(act_, act_vector_, y + ((n * out_h + oh + i) * out_w + ow) * cout,
                                static_cast<size_t>(width * cout));
    }
  }

  ConvGeometry g_;
  int out_tile_;      // R
  size_t matrices_;   // (R+2)^2
  const kernels::F32GemmVariant& v_;
  const kernels::WinogradTransforms& transforms_;
  FusedActivation act_;
  float min_ = 0.f, max_ = 0.f;  // the clamp of a fused ReLU or Clip (else -inf, +inf)
  bool separate_activation_ = false;
  kernels::F32UnaryFn act_vector_ = nullptr;
  std::string name_;
  AlignedArray<float> packed_;
  size_t matrix_floats_ = 0;
  std::vector<float> bias_;
  size_t tiles_ = 0, block_tiles_ = 0;
  size_t v_stride_ = 0, m_stride_ = 0;  // floats between the matrices
};

// Depthwise Conv with the dwconv family: weights and bias packed at prepare, output rows
// of all images split among threads.
class NhwcDepthwiseConvKernel final : public OpKernel {
 public:
  NhwcDepthwiseConvKernel(const ConvGeometry& g, const kernels::DwConvParams& params,
                          const kernels::DwConvVariant& v, const float* weight, const float* bias,
                          FusedActivation act, std::string name)
      : params_(params), v_(v), batch_(g.batch), act_(act), name_(std::move(name)) {
    fused_ = kernels::dwconv_fuses_activation(act.kind);
    if (!fused_) params_.activation = FusedActivation{};
    act_vector_ = kernels::f32_activation_vector(act.kind, v.isa);
    if (!packed_.resize(kernels::dwconv_packed_floats(params.channels, params.kernel_h, params.kernel_w,
                                                      v.channel_block)))
      return;
    kernels::dwconv_pack(params.channels, params.kernel_h, params.kernel_w, v.channel_block, weight,
                         bias, packed_.data());
  }

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    const int64_t out_h = params_.out_h;
    const int64_t in_image = params_.in_h * params_.in_w * params_.channels;
    const int64_t out_row = params_.out_w * params_.channels;
    const size_t rows = static_cast<size_t>(batch_ * out_h);
    parallel_for(ctx.pool, rows, [&](size_t begin, size_t end) {
      int64_t r = static_cast<int64_t>(begin);
      while (r < static_cast<int64_t>(end)) {
        const int64_t n = r / out_h, oh0 = r % out_h;
        const int64_t oh1 = std::min(out_h, oh0 + static_cast<int64_t>(end) - r);
        float* out = y + n * out_h * out_row;
        v_.fn(params_, x + n * in_image, packed_.data(), out, oh0, oh1);
        if (!fused_) kernels::f32_activation(act_, act_vector_, out + oh0 * out_row, static_cast<size_t>((oh1 - oh0) * out_row));
        r += oh1 - oh0;
      }
    });
  }

  const char* kernel_name() const override { return name_.c_str(); }
  const void* fusion_tag() const override { return &kDepthwiseTag; }

 private:
  friend class PointwiseDepthwiseKernel;
  kernels::DwConvParams params_;
  const kernels::DwConvVariant& v_;
  int64_t batch_;
  FusedActivation act_;
  kernels::F32UnaryFn act_vector_ = nullptr;  // an activation the kernel does not fuse, vectorised
  bool fused_ = true;
  std::string name_;
  AlignedArray<float> packed_;
};

// A pointwise Conv (or another one-group Conv on indirect A rows, such as a stem), the
// depthwise Conv that reads its output and, when it reads only the depthwise output, the
// pointwise Conv after that (MobileNet's expansion, depthwise and projection), run as one
// kernel: each worker takes a share of the output rows and, band by
// band, computes the expanded rows the band needs into a buffer of its own, runs the
// depthwise kernel on that buffer, and the projection on the depthwise rows. The expanded
// tensor (6x the block's channels) and the depthwise output then stay in L2 instead of
// going to memory and back. Rows that the next band shares with this one move to the
// buffer's start rather than being computed again. Every element is computed by the same
// microkernel calls as when the nodes run apart, so the output bytes are the same, whatever
// the bands and the thread count.
class PointwiseDepthwiseKernel final : public OpKernel {
 public:
  PointwiseDepthwiseKernel(std::unique_ptr<OpKernel> pointwise, std::unique_ptr<OpKernel> depthwise,
                           size_t band_bytes)
      : pw_owner_(std::move(pointwise)), dw_owner_(std::move(depthwise)),
        pw_(static_cast<NhwcGemmConvKernel&>(*pw_owner_)), dw_(static_cast<NhwcDepthwiseConvKernel&>(*dw_owner_)),
        name_(std::string(pw_.kernel_name()) + "+" + dw_.kernel_name()) {
    const kernels::DwConvParams& p = dw_.params_;
    row_floats_ = static_cast<size_t>(p.in_w * p.channels);
    const size_t window = static_cast<size_t>((p.kernel_h - 1) * p.dilation_h + 1);
    const size_t rows_fit = std::max<size_t>(1, band_bytes / (row_floats_ * sizeof(float)));
    band_ = rows_fit > window ? (rows_fit - window) / static_cast<size_t>(p.stride_h) + 1 : 1;
    expanded_floats_ = whole_lines(((band_ - 1) * static_cast<size_t>(p.stride_h) + window) * row_floats_);
    if (!pw_.pointwise_) {
      // A few rows at a time, so that a worst case of gathered runs stays in L1/L2.
      const size_t lowered_row = static_cast<size_t>(p.in_w) * pw_.args_.k;
      lowered_rows_ = std::max<size_t>(1, kLoweredBytes / (lowered_row * sizeof(float)));
      lowering_floats_ = whole_lines(pw_.lowering_bytes(lowered_rows_ * static_cast<size_t>(p.in_w)) / sizeof(float));
    }
  }

  // The pair fuses when the depthwise conv reads the first conv's output whole (same
  // channels and plane, both in one batch), every depthwise window overlaps the input (pads
  // smaller than the window, so each band needs at least one computed row), and the
  // expanded tensor is at least min_expanded_bytes. The first conv is pointwise or, on
  // indirect A rows, any other one-group conv (a stem).
  static bool fuses(const NhwcGemmConvKernel& pw, const NhwcDepthwiseConvKernel& dw, size_t min_expanded_bytes) {
    const kernels::DwConvParams& p = dw.params_;
    const ConvGeometry& g = pw.g_;
    const int64_t window = (p.kernel_h - 1) * p.dilation_h + 1;
    const bool pair = g.batch == dw.batch_ && g.out_channels == p.channels && g.out_size[0] == 1 &&
                      g.out_size[1] == p.in_h && g.out_size[2] == p.in_w && p.in_pixel_stride == p.channels &&
                      p.pad_top < window && (p.out_h - 1) * p.stride_h - p.pad_top < p.in_h;
    // A window of rows (or a lowered row) of hostile size gains nothing from a band buffer,
    // and its buffer sizes must not overflow.
    const double window_bytes = static_cast<double>(p.in_w) * static_cast<double>(p.channels) * sizeof(float) *
                                static_cast<double>(window);
    const double lowered_bytes = static_cast<double>(p.in_w) * static_cast<double>(pw.args_.k) * sizeof(float);
    if (window_bytes > kMaxWindowBytes || (!pw.pointwise_ && lowered_bytes > kMaxWindowBytes)) return false;
    return pair && static_cast<size_t>(g.batch * p.in_h * p.in_w * p.channels) * sizeof(float) >= min_expanded_bytes;
  }

  // Takes the pointwise conv that reads the depthwise output whole, once.
  bool add_projection(std::unique_ptr<OpKernel>& kernel) {
    if (proj_ || kernel->fusion_tag() != &kGemmConvTag) return false;
    const auto& proj = static_cast<const NhwcGemmConvKernel&>(*kernel);
    const kernels::DwConvParams& p = dw_.params_;
    const ConvGeometry& g = proj.g_;
    if (!proj.pointwise_ || g.batch != dw_.batch_ || g.in_channels != p.channels || g.in_size[0] != 1 ||
        g.in_size[1] != p.out_h || g.in_size[2] != p.out_w || p.out_pixel_stride != p.channels)
      return false;
    proj_owner_ = std::move(kernel);
    proj_ = &proj;
    name_ += std::string("+") + proj.kernel_name();
    depthwise_floats_ = whole_lines(band_ * static_cast<size_t>(p.out_w * p.channels));
    return true;
  }

  size_t scratch_bytes() const override { return kMaxWorkers * worker_floats() * sizeof(float); }

  // inputs[0] is the first pointwise conv's input (the interpreter passes it in place of
  // the expanded tensor); outputs[0] is the last fused node's output.
  void run(const ExecContext& ctx) override {
    const float* x = add_.x(ctx);
    const float* residual = add_.operand(ctx);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    auto* scratch = static_cast<float*>(ctx.scratch);
    const size_t rows = static_cast<size_t>(dw_.batch_ * dw_.params_.out_h);
    const size_t threads = ctx.pool ? static_cast<size_t>(ctx.pool->threads()) : 1;
    // One share of the rows per worker, each with its own buffers.
    for_each_block(ctx.pool, rows, 1, rows, std::min(threads, kMaxWorkers), [&](size_t w, size_t r0, size_t r1) {
      run_rows(x, residual, y, scratch + w * worker_floats(), r0, r1);
    });
  }

  // With the projection: takes the Add that reads its output (kF32ResidualAddTag), once, as
  // NhwcGemmConvKernel::take_residual_add.
  bool take_residual_add(const OpKernel& add, size_t x_slot) {
    if (!proj_ || !add_.take(x_slot)) return false;
    static_cast<NhwcGemmConvKernel&>(*proj_owner_).args_.residual_first = add_.operand_first();
    name_ += std::string("+") + add.kernel_name();
    return true;
  }

  const char* kernel_name() const override { return name_.c_str(); }
  const void* fusion_tag() const override { return &kPointwiseDepthwiseTag; }

 private:
  static constexpr size_t kMaxWorkers = 8;

  static constexpr size_t kLoweredBytes = 32 * 1024;
  static constexpr double kMaxWindowBytes = 64.0 * 1024 * 1024;

  size_t worker_floats() const { return expanded_floats_ + depthwise_floats_ + lowering_floats_; }

  // Rows [row_begin, row_end) of image n of the first conv's output into `out`: the GEMM
  // straight on the input rows (pointwise), or on indirect A rows a few at a time.
  void first_conv_rows(const float* x, int64_t n, int64_t row_begin, int64_t row_end, float* out,
                       float* lowering) const {
    const int64_t w = dw_.params_.in_w, h = dw_.params_.in_h;
    if (pw_.pointwise_) {
      pw_.gemm_rows(x + (n * h + row_begin) * w * static_cast<int64_t>(pw_.args_.a_stride),
                static_cast<size_t>((row_end - row_begin) * w), out);
      return;
    }
    for (int64_t r = row_begin; r < row_end; r += static_cast<int64_t>(lowered_rows_)) {
      const int64_t r1 = std::min(row_end, r + static_cast<int64_t>(lowered_rows_));
      pw_.conv_rows(x, static_cast<size_t>((n * h + r) * w), static_cast<size_t>((n * h + r1) * w),
                    out + (r - row_begin) * w * static_cast<int64_t>(pw_.args_.n), lowering);
    }
  }

  // Output rows [r0, r1) of the whole batch (row r is image r / out_h, row r % out_h), plus
  // the rows of `residual` when set.
  void run_rows(const float* x, const float* residual, float* y, float* buffer, size_t r0, size_t r1) const {
    const kernels::DwConvParams& p = dw_.params_;
    const int64_t out_row = p.out_w * p.channels;
    float* depthwise_rows = buffer + expanded_floats_;
    float* lowering = depthwise_rows + depthwise_floats_;
    int64_t image = -1, buffer_lo = 0, buffer_hi = 0;  // input rows held in the buffer
    for (auto r = static_cast<int64_t>(r0); r < static_cast<int64_t>(r1);) {
      const int64_t n = r / p.out_h, oy0 = r % p.out_h;
      const int64_t oy1 = std::min({p.out_h, oy0 + static_cast<int64_t>(band_), oy0 + static_cast<int64_t>(r1) - r});
      // Input rows the windows of output rows [oy0, oy1) touch.
      const int64_t lo = std::max<int64_t>(0, oy0 * p.stride_h - p.pad_top);
      const int64_t hi = std::min(p.in_h, (oy1 - 1) * p.stride_h - p.pad_top + (p.kernel_h - 1) * p.dilation_h + 1);
      int64_t have = 0;  // rows at the buffer's start that are already computed
      if (image == n && lo >= buffer_lo && lo < buffer_hi) {
        have = buffer_hi - lo;
        std::memmove(buffer, buffer + (lo - buffer_lo) * static_cast<int64_t>(row_floats_),
                     static_cast<size_t>(have) * row_floats_ * sizeof(float));
      }
      first_conv_rows(x, n, lo + have, hi, buffer + have * static_cast<int64_t>(row_floats_), lowering);
      image = n;
      buffer_lo = lo;
      buffer_hi = hi;

      // The depthwise kernel sees the buffer as an input of rows [lo, hi): output row oy0
      // becomes its row 0, and the top pad shifts by the rows before lo.
      kernels::DwConvParams band = p;
      band.in_h = hi - lo;
      band.out_h = oy1 - oy0;
      band.pad_top = p.pad_top + lo - oy0 * p.stride_h;
      float* out = proj_ ? depthwise_rows : y + (n * p.out_h + oy0) * out_row;
      dw_.v_.fn(band, buffer, dw_.packed_.data(), out, 0, oy1 - oy0);
      if (!dw_.fused_) kernels::f32_activation(dw_.act_, dw_.act_vector_, out, static_cast<size_t>((oy1 - oy0) * out_row));
      if (proj_) {
        const int64_t offset = (n * p.out_h + oy0) * p.out_w * static_cast<int64_t>(proj_->args_.n);
        proj_->gemm_rows(depthwise_rows, static_cast<size_t>((oy1 - oy0) * p.out_w), y + offset,
                         residual ? residual + offset : nullptr);
      }
      r += oy1 - oy0;
    }
  }

  std::unique_ptr<OpKernel> pw_owner_, dw_owner_, proj_owner_;
  const NhwcGemmConvKernel& pw_;
  const NhwcDepthwiseConvKernel& dw_;
  const NhwcGemmConvKernel* proj_ = nullptr;
  std::string name_;
  size_t row_floats_ = 0, band_ = 1, expanded_floats_ = 0, depthwise_floats_ = 0;
  size_t lowered_rows_ = 0, lowering_floats_ = 0;
  FusedAddInputs add_;  // as in NhwcGemmConvKernel
};

// Grouped Conv (RegNet's and ResNeXt's 3x3 convs; depthwise ones have their own kernel):
// group j is a one-group Conv of Cin / groups -> Cout / groups channels, run as a packed GEMM
// on indirect A rows, one run per tap of the group's input channels
// (f32_conv_nhwc_tap_indirection: runs point into the input, or at a row of zeros in the
// pads, and nothing is copied). A block of output pixels finds its runs once; each group
// then advances them by its channel offset and writes its columns of the output rows. Every
// output element is one microkernel call over all of the group's K from the bias, so the
// bytes do not depend on the blocking or the thread count.
class NhwcGroupedConvKernel final : public OpKernel {
 public:
  NhwcGroupedConvKernel(const ConvGeometry& g, const kernels::F32GemmVariant& v, const float* weight,
                        const float* bias, FusedActivation act, std::string name)
      : g_(g), v_(v), act_(act), name_(std::move(name)) {
    taps_ = static_cast<size_t>(g.kernel[0] * g.kernel[1] * g.kernel[2]);
    cin_ = static_cast<size_t>(g.in_channels / g.groups);
    cout_ = static_cast<size_t>(g.out_channels / g.groups);
    const size_t k = taps_ * cin_;
    group_floats_ = kernels::f32_gemm_packed_b_bytes(v.nr, cout_, k) / sizeof(float);
    if (!packed_.resize(static_cast<size_t>(g.groups) * group_floats_) ||
        !zeros_.resize(static_cast<size_t>(g.in_channels)))
      return;
    std::vector<float> kn(static_cast<size_t>(kernels::f32_conv_nhwc_packed_weight_floats(g)));  // [groups, taps, cin, cout]
    kernels::f32_conv_nhwc_pack_weight(g, weight, kn.data());
    for (size_t j = 0; j < static_cast<size_t>(g.groups); ++j)
      kernels::f32_gemm_pack_b_kn(v.nr, cout_, k, kn.data() + j * k * cout_, cout_, bias ? bias + j * cout_ : nullptr,
                                  packed_.data() + j * group_floats_);
    pixels_ = static_cast<size_t>(g.batch * g.out_size[0] * g.out_size[1] * g.out_size[2]);
    args_.n = cout_;
    args_.k = k;
    args_.a_run_count = taps_;
    args_.c_stride = static_cast<size_t>(g.out_channels);
    kernels::f32_gemm_set_activation(act_, &args_, v.isa);
    // Blocks of whole MR-row tiles whose input windows (all groups) take about kBlockBytes,
    // so that they stay in L2 while the groups pass over them.
    const size_t pixel_bytes = taps_ * static_cast<size_t>(g.in_channels) * sizeof(float);
    block_rows_ = std::max<size_t>(1, kBlockBytes / (pixel_bytes * v.mr)) * v.mr;
  }

  size_t scratch_bytes() const override { return kMaxWorkers * worker_bytes(); }

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    const size_t threads = ctx.pool ? static_cast<size_t>(ctx.pool->threads()) : 1;
    auto* scratch = static_cast<char*>(ctx.scratch);
    for_each_block(ctx.pool, pixels_, v_.mr, block_rows_, std::min(threads, kMaxWorkers),
                   [&](size_t w, size_t r0, size_t r1) {
                     auto** base = reinterpret_cast<const float**>(scratch + w * worker_bytes());
                     const float** runs = base + block_rows_ * taps_;
                     const size_t count = (r1 - r0) * taps_;
                     kernels::f32_conv_nhwc_tap_indirection(g_, x, zeros_.data(), static_cast<int64_t>(r0),
                                                            static_cast<int64_t>(r1), base);
                     kernels::F32GemmArgs args = args_;
                     args.m = r1 - r0;
                     args.a_runs = runs;
                     const size_t m_tiles = kernels::f32_gemm_m_tiles(v_, args.m);
                     const size_t n_panels = kernels::f32_gemm_n_panels(v_, args.n);
                     for (size_t j = 0; j < static_cast<size_t>(g_.groups); ++j) {
                       for (size_t i = 0; i < count; ++i) runs[i] = base[i] + j * cin_;
                       args.packed_b = packed_.data() + j * group_floats_;
                       args.c = y + r0 * args.c_stride + j * cout_;
                       kernels::f32_gemm(v_, args, 0, m_tiles, 0, n_panels);
                     }
                   });
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  static constexpr size_t kBlockBytes = 128 * 1024;
  static constexpr size_t kMaxWorkers = 8;

  // The block's runs, and the runs of the group in progress.
  size_t worker_bytes() const { return whole_lines(2 * block_rows_ * taps_) * sizeof(const float*); }

  ConvGeometry g_;
  const kernels::F32GemmVariant& v_;
  FusedActivation act_;  // args_.activation may point here
  std::string name_;
  AlignedArray<float> packed_;  // per group: a packed B [taps * cin, cout] with its bias
  AlignedArray<float> zeros_;   // Cin zeros: a pad run of any group
  kernels::F32GemmArgs args_;
  size_t taps_ = 0, cin_ = 0, cout_ = 0, group_floats_ = 0, pixels_ = 0, block_rows_ = 0;
};

// Pointwise Conv with weights computed at run time, through the strided reference GEMM.
// Work is split over output pixels (all channels of a pixel in one piece), so results do
// not depend on the thread count.
class NhwcPointwiseConvKernel final : public OpKernel {
 public:
  NhwcPointwiseConvKernel(const ConvGeometry& g, bool has_bias, FusedActivation act, std::string name)
      : g_(g), has_bias_(has_bias), act_(act), name_(std::move(name)) {}

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    const auto* w = static_cast<const float*>(ctx.inputs[1]);
    const auto* bias = has_bias_ ? static_cast<const float*>(ctx.inputs[2]) : nullptr;
    auto* y = static_cast<float*>(ctx.outputs[0]);
    const int64_t cin = g_.in_channels, cout = g_.out_channels;
    const int64_t pixels = g_.batch * g_.out_size[0] * g_.out_size[1] * g_.out_size[2];
    parallel_for(ctx.pool, static_cast<size_t>(pixels), [&](size_t begin, size_t end) {
      kernels::GemmArgs args;
      args.rows = static_cast<int64_t>(end - begin);
      args.cols = cout;
      args.depth = cin;
      args.a = x + static_cast<int64_t>(begin) * cin;
      args.a_row_stride = cin;
      args.a_col_stride = 1;
      // W is [Cout, Cin]: B(k, n) = W[n, k].
      args.b = w;
      args.b_row_stride = 1;
      args.b_col_stride = cin;
      args.c = bias;  // broadcast over the rows
      args.c_row_stride = 0;
      args.c_col_stride = 1;
      args.y = y + static_cast<int64_t>(begin) * cout;
      kernels::f32_gemm_ref__scalar(args);
      apply_activation(act_, args.y, (end - begin) * static_cast<size_t>(cout));
    });
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  ConvGeometry g_;
  bool has_bias_;
  FusedActivation act_;
  std::string name_;
};

// Packs constant weights once at prepare; weights computed at run time are packed into
// the scratch buffer at each run.
class NhwcDirectConvKernel final : public OpKernel {
 public:
  NhwcDirectConvKernel(const ConvGeometry& g, const float* constant_weight, bool has_bias,
                       FusedActivation act, std::string name)
      : g_(g), has_bias_(has_bias), act_(act), name_(std::move(name)) {
    if (constant_weight) {
      packed_.resize(static_cast<size_t>(kernels::f32_conv_nhwc_packed_weight_floats(g)));
      kernels::f32_conv_nhwc_pack_weight(g, constant_weight, packed_.data());
    }
  }

  size_t scratch_bytes() const override {
    return packed_.empty()
               ? static_cast<size_t>(kernels::f32_conv_nhwc_packed_weight_floats(g_)) * sizeof(float)
               : 0;
  }

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    const auto* bias = has_bias_ ? static_cast<const float*>(ctx.inputs[2]) : nullptr;
    auto* y = static_cast<float*>(ctx.outputs[0]);
    const float* w = packed_.data();
    if (packed_.empty()) {
      auto* scratch = static_cast<float*>(ctx.scratch);
      kernels::f32_conv_nhwc_pack_weight(g_, static_cast<const float*>(ctx.inputs[1]), scratch);
      w = scratch;
    }
    const int64_t pixels = g_.batch * g_.out_size[0] * g_.out_size[1] * g_.out_size[2];
    parallel_for(ctx.pool, static_cast<size_t>(pixels), [&](size_t begin, size_t end) {
      kernels::f32_conv_nhwc_ref__scalar(g_, x, w, bias, y, static_cast<int64_t>(begin),
                                         static_cast<int64_t>(end));
      apply_activation(act_, y + static_cast<int64_t>(begin) * g_.out_channels,
                       (end - begin) * static_cast<size_t>(g_.out_channels));
    });
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  ConvGeometry g_;
  bool has_bias_;
  FusedActivation act_;
  std::string name_;
  std::vector<float> packed_;
};

std::unique_ptr<OpKernel> make_nhwc_conv(const PrepareContext& ctx, const ConvGeometry& g) {
  const TensorDesc* bias_desc = optional_input(ctx, 2);
  const bool has_bias = bias_desc != nullptr;
  const auto* weight = static_cast<const float*>(ctx.inputs[1]->constant);
  const auto* bias = has_bias ? static_cast<const float*>(bias_desc->constant) : nullptr;
  const NhwcConvPath path = choose_nhwc_path(ctx, g);
  switch (path) {
    case NhwcConvPath::kPointwise:
    case NhwcConvPath::kIndirect: {
      const auto depth = static_cast<size_t>(g.kernel[0] * g.kernel[1] * g.kernel[2] * g.in_channels);
      const kernels::F32GemmVariant& v = kernels::select_f32_gemm(ctx.isa, depth);
      const bool pointwise = path == NhwcConvPath::kPointwise;
      return std::unique_ptr<OpKernel>(new NhwcGemmConvKernel(
          g, pointwise, v, weight, bias, ctx.activation,
          nn::kernel_name(pointwise ? "f32_gemm" : "f32_conv_indirect", ctx.activation, v.tile_isa)));
    }
    case NhwcConvPath::kWinograd:
    case NhwcConvPath::kWinograd43: {
      // Its GEMMs each sum over the input channels.
      const kernels::F32GemmVariant& v = kernels::select_f32_gemm(ctx.isa, static_cast<size_t>(g.in_channels));
      const bool f43 = path == NhwcConvPath::kWinograd43;
      return std::unique_ptr<OpKernel>(new NhwcWinogradConvKernel(
          g, f43 ? 4 : 2, v, kernels::select_winograd(ctx.isa), weight, bias, ctx.activation,
          nn::kernel_name(f43 ? "f32_conv_winograd_f43" : "f32_conv_winograd_f23", ctx.activation, v.tile_isa)));
    }
    case NhwcConvPath::kDepthwise: {
      kernels::DwConvParams p;
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
      p.activation = ctx.activation;
      const kernels::DwConvVariant& v = kernels::select_dwconv(ctx.isa, p);
      return std::unique_ptr<OpKernel>(new NhwcDepthwiseConvKernel(
          g, p, v, weight, bias, ctx.activation, nn::kernel_name("f32_dwconv", ctx.activation, v.tile_isa)));
    }
    case NhwcConvPath::kGrouped: {
      const auto depth = static_cast<size_t>(g.kernel[0] * g.kernel[1] * g.kernel[2] * (g.in_channels / g.groups));
      const kernels::F32GemmVariant& v = kernels::select_f32_gemm(ctx.isa, depth);
      return std::unique_ptr<OpKernel>(new NhwcGroupedConvKernel(
          g, v, weight, bias, ctx.activation, nn::kernel_name("f32_conv_grouped", ctx.activation, v.tile_isa)));
    }
    case NhwcConvPath::kPointwiseReference:
      return std::unique_ptr<OpKernel>(new NhwcPointwiseConvKernel(
          g, has_bias, ctx.activation, nn::kernel_name("f32_gemm", ctx.activation, "ref__scalar")));
    case NhwcConvPath::kDirect:
      break;
  }
  return std::unique_ptr<OpKernel>(new NhwcDirectConvKernel(
      g, weight, has_bias, ctx.activation, nn::kernel_name("f32_conv_nhwc", ctx.activation, "ref__scalar")));
}

Status check_conv_shapes(const PrepareContext& ctx);

// Checks X, W and the optional B of either op: float32, X of rank 3 to 5, W of X's rank.
Status check_conv_inputs(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 2, 3, 1, 1));
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *ctx.inputs[0], "input", {DType::kFloat32}));
  PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *ctx.inputs[1], "weight", {DType::kFloat32}));
  if (const TensorDesc* b = optional_input(ctx, 2))
    PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *b, "bias", {DType::kFloat32}));
  PARE_RT_RETURN_IF_ERROR(check_conv_shapes(ctx));
  return nn::check_activation(ctx);
}

// X of rank 3 to 5, W of X's rank, kernel_shape matching W (any dtypes).
Status check_conv_shapes(const PrepareContext& ctx) {
  const TensorDesc& x = *ctx.inputs[0];
  const TensorDesc& w = *ctx.inputs[1];
  if (x.rank() < 3 || x.rank() > 5)
    return ctx.error(Status::kUnsupported, "input '" + x.name + "' has shape " + shape_str(x.shape) +
                                               ": only 1-D to 3-D convolutions (rank 3 to 5) are supported");
  if (w.rank() != x.rank())
    return ctx.error(Status::kBadModel, "weight '" + w.name + "' has shape " + shape_str(w.shape) +
                                            ", expected rank " + std::to_string(x.rank()));
  if (ctx.attrs->has("kernel_shape")) {
    std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
    if (ctx.attrs->get_ints("kernel_shape") != kernel)
      return ctx.error(Status::kBadModel, "kernel_shape " + shape_str(ctx.attrs->get_ints("kernel_shape")) +
                                              " does not match weight shape " + shape_str(w.shape));
  }
  return Status::ok();
}

Status check_bias(const PrepareContext& ctx, int64_t channels) {
  const TensorDesc* b = optional_input(ctx, 2);
  if (b && b->shape != std::vector<int64_t>{channels})
    return ctx.error(Status::kBadModel, "bias '" + b->name + "' has shape " + shape_str(b->shape) +
                                            ", expected [" + std::to_string(channels) + "]");
  return Status::ok();
}

// Floor division (rounds toward minus infinity, like Python's //).
int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Channel-first Conv (graphs before the nhwc pass, which calibration and channel pruning
// run) through the channels-last kernels: the input is transposed to [N, pixels, C] in
// scratch, the NHWC kernel runs, and its output is transposed back. The two copies cost a
// small part of what the direct loop over planes costs for the same conv.
class NchwViaNhwcConvKernel final : public OpKernel {
 public:
  NchwViaNhwcConvKernel(const ConvGeometry& g, bool has_bias, std::unique_ptr<OpKernel> nhwc)
      : g_(g), inputs_(has_bias ? 3 : 2), nhwc_(std::move(nhwc)),
        name_(std::string(nhwc_->kernel_name()) + "_via_nhwc") {
    in_floats_ = whole_lines(static_cast<size_t>(g.batch * g.in_channels * g.in_size[0] * g.in_size[1] * g.in_size[2]));
    out_floats_ =
        whole_lines(static_cast<size_t>(g.batch * g.out_channels * g.out_size[0] * g.out_size[1] * g.out_size[2]));
  }

  size_t scratch_bytes() const override { return (in_floats_ + out_floats_) * sizeof(float) + nhwc_->scratch_bytes(); }

  void run(const ExecContext& ctx) override {
    auto* x_nhwc = static_cast<float*>(ctx.scratch);
    float* y_nhwc = x_nhwc + in_floats_;
    const int64_t in_pixels = g_.in_size[0] * g_.in_size[1] * g_.in_size[2];
    const int64_t out_pixels = g_.out_size[0] * g_.out_size[1] * g_.out_size[2];
    // [N, C, P] -> [N, P, C] and back: a strided view of each, copied contiguously.
    const int64_t to_last_dims[3] = {g_.batch, in_pixels, g_.in_channels};
    const int64_t to_last_strides[3] = {g_.in_channels * in_pixels, 1, in_pixels};
    copy(ctx.pool, to_last_dims, to_last_strides, ctx.inputs[0], x_nhwc);

    const void* inputs[3] = {x_nhwc, ctx.inputs[1], inputs_ == 3 ? ctx.inputs[2] : nullptr};
    void* outputs[1] = {y_nhwc};
    ExecContext inner = ctx;
    inner.inputs = inputs;
    inner.outputs = outputs;
    inner.scratch = y_nhwc + out_floats_;
    nhwc_->run(inner);

    const int64_t to_first_dims[3] = {g_.batch, g_.out_channels, out_pixels};
    const int64_t to_first_strides[3] = {g_.out_channels * out_pixels, 1, g_.out_channels};
    copy(ctx.pool, to_first_dims, to_first_strides, y_nhwc, ctx.outputs[0]);
  }

  const char* kernel_name() const override { return name_.c_str(); }

 private:
  // Floats moved as 32-bit elements by the threaded strided copy.
  static void copy(ThreadPool* pool, const int64_t* dims, const int64_t* strides, const void* x, void* y) {
    copy_strided(pool, 3, dims, strides, static_cast<const uint32_t*>(x), static_cast<uint32_t*>(y));
  }

  ConvGeometry g_;
  size_t inputs_;
  std::unique_ptr<OpKernel> nhwc_;
  std::string name_;
  size_t in_floats_ = 0, out_floats_ = 0;
};

std::unique_ptr<OpKernel> make_nchw_conv_via_nhwc(const PrepareContext& ctx, const ConvGeometry& g) {
  // The scalar cap keeps the plain loop: it is the reference the fast paths are tested
  // against. So does a geometry for which the channels-last side has only a direct loop.
  if (ctx.isa == Isa::kScalar) return nullptr;
  switch (choose_nhwc_path(ctx, g)) {
    case NhwcConvPath::kPointwise:
    case NhwcConvPath::kIndirect:
    case NhwcConvPath::kWinograd:
    case NhwcConvPath::kWinograd43:
    case NhwcConvPath::kDepthwise:
    case NhwcConvPath::kGrouped: break;
    default: return nullptr;
  }
  return std::unique_ptr<OpKernel>(
      new NchwViaNhwcConvKernel(g, optional_input(ctx, 2) != nullptr, make_nhwc_conv(ctx, g)));
}

}  // namespace

std::unique_ptr<OpKernel> fuse_conv_chain(std::unique_ptr<OpKernel>& producer, std::unique_ptr<OpKernel>& consumer,
                                          size_t slot, const PointwiseDepthwiseFusion& tuning) {
  if (consumer->fusion_tag() == &kF32ResidualAddTag) {
    // A residual Add after a one-group conv or after a chain with its projection.
    bool taken = false;
    if (producer->fusion_tag() == &kGemmConvTag)
      taken = static_cast<NhwcGemmConvKernel&>(*producer).take_residual_add(*consumer, slot);
    else if (producer->fusion_tag() == &kPointwiseDepthwiseTag)
      taken = static_cast<PointwiseDepthwiseKernel&>(*producer).take_residual_add(*consumer, slot);
    if (!taken) return nullptr;
    consumer.reset();
    return std::move(producer);
  }
  if (slot != 0) return nullptr;
  if (producer->fusion_tag() == &kPointwiseDepthwiseTag) {
    // The projection after an expansion and depthwise pair: the same kernel, taking it.
    if (!static_cast<PointwiseDepthwiseKernel&>(*producer).add_projection(consumer)) return nullptr;
    return std::move(producer);
  }
  if (producer->fusion_tag() != &kGemmConvTag || consumer->fusion_tag() != &kDepthwiseTag) return nullptr;
  const auto& pw = static_cast<const NhwcGemmConvKernel&>(*producer);
  const auto& dw = static_cast<const NhwcDepthwiseConvKernel&>(*consumer);
  if (!PointwiseDepthwiseKernel::fuses(pw, dw, tuning.min_expanded_bytes)) return nullptr;
  return std::unique_ptr<OpKernel>(new PointwiseDepthwiseKernel(std::move(producer), std::move(consumer), tuning.band_bytes));
}

Status nn::conv_geometry(const PrepareContext& ctx, bool* nhwc, ConvGeometry* g, std::vector<int64_t>* out_shape) {
  PARE_RT_RETURN_IF_ERROR(check_conv_shapes(ctx));
  const TensorDesc& w = *ctx.inputs[1];
  PARE_RT_RETURN_IF_ERROR(nn::read_layout(ctx, ctx.inputs[0]->rank(), nhwc));
  // Shapes in NC[D]HW order from here on; the output shape is returned in the node's layout.
  const std::vector<int64_t> x_shape = *nhwc ? nn::nhwc_to_nchw(ctx.inputs[0]->shape) : ctx.inputs[0]->shape;
  const int64_t group = ctx.attrs->get_int("group", 1);
  const int64_t channels = x_shape[1], out_channels = w.shape[0];
  if (group < 1 || channels % group != 0 || out_channels % group != 0)
    return ctx.error(Status::kBadModel, "group " + std::to_string(group) + " must divide the " +
                                            std::to_string(channels) + " input and " +
                                            std::to_string(out_channels) + " output channels");
  if (w.shape[1] != channels / group)
    return ctx.error(Status::kBadModel, "weight '" + w.name + "' has shape " + shape_str(w.shape) +
                                            ": dim 1 should be " + std::to_string(channels / group) +
                                            " (input channels / group)");
  PARE_RT_RETURN_IF_ERROR(check_bias(ctx, out_channels));

  std::vector<int64_t> in(x_shape.begin() + 2, x_shape.end());
  std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  nn::Window win;
  PARE_RT_RETURN_IF_ERROR(nn::resolve_window(ctx, in, kernel, false, &win));

  *out_shape = {x_shape[0], out_channels};
  out_shape->insert(out_shape->end(), win.out.begin(), win.out.end());
  if (*nhwc) *out_shape = nn::nchw_to_nhwc(*out_shape);

  *g = ConvGeometry{};
  g->batch = x_shape[0];
  g->groups = group;
  g->in_channels = channels;
  g->out_channels = out_channels;
  nn::right_align3(in, g->in_size);
  nn::right_align3(win.out, g->out_size);
  nn::right_align3(win.kernel, g->kernel);
  nn::right_align3(win.strides, g->stride);
  nn::right_align3(win.dilations, g->dilation);
  nn::right_align3(win.pad_begin, g->pad_begin);
  return Status::ok();
}

Result<std::unique_ptr<OpKernel>> prepare_Conv(const PrepareContext& ctx) {
  if (is_q8_tensor(optional_input(ctx, 0))) {
    if (has_palette_input(ctx)) {
      // A 1x1 NHWC int8 conv runs the int8 LUT kernel where it pays; every other case
      // prepares on the expanded weight.
      bool nhwc = false;
      ConvGeometry g;
      std::vector<int64_t> out_shape;
      if (nn::conv_geometry(ctx, &nhwc, &g, &out_shape).is_ok() && nhwc && is_pointwise(g) &&
          check_output(ctx, 0, ctx.inputs[0]->dtype, out_shape).is_ok()) {
        const auto pixels = static_cast<size_t>(g.batch * g.out_size[0] * g.out_size[1] * g.out_size[2]);
        if (std::unique_ptr<OpKernel> lut = make_q8_lutgemm_conv_kernel(ctx, pixels)) return lut;
      }
    }
    return has_encoded_input(ctx) ? prepare_on_dense_copies(ctx, prepare_Conv) : nn::prepare_q8_conv(ctx);
  }
  PARE_RT_RETURN_IF_ERROR(check_conv_inputs(ctx));
  bool nhwc = false;
  ConvGeometry g;
  std::vector<int64_t> out_shape;
  PARE_RT_RETURN_IF_ERROR(nn::conv_geometry(ctx, &nhwc, &g, &out_shape));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, DType::kFloat32, out_shape));
  if (has_palette_input(ctx)) {
    // Likewise for a palette weight and the LUT kernel.
    const TensorDesc* bias = optional_input(ctx, 2);
    if (nhwc && is_pointwise(g) && palette_kernel_pays(ctx, 1, false) && (!bias || bias->constant)) {
      const auto pixels = static_cast<size_t>(g.batch * g.out_size[0] * g.out_size[1] * g.out_size[2]);
      return make_lutgemm_kernel(ctx, 1, false, bias ? static_cast<const float*>(bias->constant) : nullptr, 1.f,
                                 pixels);
    }
    return prepare_on_dense_copies(ctx, prepare_Conv);
  }
  if (has_sparse_input(ctx)) {
    // A sparse weight of a 1x1 NHWC conv runs the sparse kernel when sparse enough for it
    // to win; every other case prepares on the densified weight.
    const TensorDesc* bias = optional_input(ctx, 2);
    if (nhwc && is_pointwise(g) && sparse_kernel_pays(ctx, 1, false) && (!bias || bias->constant)) {
      const auto pixels = static_cast<size_t>(g.batch * g.out_size[0] * g.out_size[1] * g.out_size[2]);
      return make_spmm_kernel(ctx, 1, false, bias ? static_cast<const float*>(bias->constant) : nullptr, 1.f,
                              pixels);
    }
    return prepare_on_dense_copies(ctx, prepare_Conv);
  }
  if (nhwc) return make_nhwc_conv(ctx, g);
  if (std::unique_ptr<OpKernel> via_nhwc = make_nchw_conv_via_nhwc(ctx, g)) return via_nhwc;
  return std::unique_ptr<OpKernel>(new ConvKernel(kernels::f32_conv_ref__scalar, g,
                                                  optional_input(ctx, 2) != nullptr, ctx.activation,
                                                  nn::kernel_name("f32_conv", ctx.activation, "ref__scalar")));
}

Result<std::unique_ptr<OpKernel>> prepare_ConvTranspose(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_conv_inputs(ctx));
  bool nhwc = false;
  PARE_RT_RETURN_IF_ERROR(nn::read_layout(ctx, ctx.inputs[0]->rank(), &nhwc));
  if (nhwc) return ctx.error(Status::kUnsupported, "ConvTranspose runs in NCHW layout only");
  const TensorDesc& x = *ctx.inputs[0];
  const TensorDesc& w = *ctx.inputs[1];
  const int64_t group = ctx.attrs->get_int("group", 1);
  const int64_t channels = x.shape[1];
  if (w.shape[0] != channels)
    return ctx.error(Status::kBadModel, "weight '" + w.name + "' has shape " + shape_str(w.shape) +
                                            ": dim 0 should be " + std::to_string(channels) +
                                            " (input channels)");
  if (group < 1 || channels % group != 0)
    return ctx.error(Status::kBadModel, "group " + std::to_string(group) + " must divide the " +
                                            std::to_string(channels) + " input channels");
  const int64_t out_channels = w.shape[1] * group;
  PARE_RT_RETURN_IF_ERROR(check_bias(ctx, out_channels));

  const size_t n = x.rank() - 2;
  const std::vector<int64_t> in(x.shape.begin() + 2, x.shape.end());
  const std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  const std::vector<int64_t> strides = ctx.attrs->get_ints("strides", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> dilations = ctx.attrs->get_ints("dilations", std::vector<int64_t>(n, 1));
  const std::vector<int64_t> output_padding =
      ctx.attrs->get_ints("output_padding", std::vector<int64_t>(n, 0));
  const std::vector<int64_t> pads = ctx.attrs->get_ints("pads", std::vector<int64_t>(2 * n, 0));
  std::vector<int64_t> output_shape = ctx.attrs->get_ints("output_shape");
  const std::string auto_pad = ctx.attrs->get_string("auto_pad", "NOTSET");

  if (strides.size() != n || dilations.size() != n || output_padding.size() != n || pads.size() != 2 * n)
    return ctx.error(Status::kBadModel, "strides, dilations, output_padding and pads must have one value per "
                                        "spatial dim (pads two)");
  // output_shape may list the batch and channel dims too.
  if (output_shape.size() == n + 2) output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  if (!output_shape.empty() && output_shape.size() != n)
    return ctx.error(Status::kBadModel, "output_shape " + shape_str(output_shape) + " does not match " +
                                            std::to_string(n) + " spatial dims");
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER")
    return ctx.error(Status::kBadModel, "unknown auto_pad '" + auto_pad + "'");

  std::vector<int64_t> out(n), pad_begin(n);
  CheckedMath m;
  for (size_t i = 0; i < n; ++i) {
    if (kernel[i] < 1 || strides[i] < 1 || dilations[i] < 1)
      return ctx.error(Status::kBadModel, "kernel dims, strides and dilations must be positive");
    if (output_padding[i] < 0 || pads[i] < 0 || pads[n + i] < 0)
      return ctx.error(Status::kBadModel, "pads and output_padding must be >= 0");
    // The full (unpadded) output extent of the scatter.
    const int64_t full = m.add(m.add(m.add(m.mul(strides[i], in[i] - 1), output_padding[i]),
                                     m.mul(kernel[i] - 1, dilations[i])),
                               1);
    if (!output_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      // Pads follow from the output size; a negative total pads the end with zeros.
      out[i] = !output_shape.empty() ? output_shape[i] : m.mul(in[i], strides[i]);
      const int64_t total = m.sub(full, out[i]);
      pad_begin[i] = auto_pad == "SAME_UPPER" ? floor_div(total, 2) : total - floor_div(total, 2);
    } else if (auto_pad == "VALID") {
      out[i] = full;
      pad_begin[i] = 0;
    } else {
      out[i] = m.sub(m.sub(full, pads[i]), pads[n + i]);
      pad_begin[i] = pads[i];
    }
    if (m.overflow)
      return ctx.error(Status::kBadModel, "strides " + shape_str(strides) + ", dilations " + shape_str(dilations) +
                                              ", pads " + shape_str(pads) + " and output_padding " +
                                              shape_str(output_padding) + " overflow 64-bit sizes");
    if (out[i] < 1)
      return ctx.error(Status::kBadModel, "output spatial dims " + shape_str(out) + " must be positive");
  }

  std::vector<int64_t> out_shape = {x.shape[0], out_channels};
  out_shape.insert(out_shape.end(), out.begin(), out.end());
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, DType::kFloat32, out_shape));

  ConvGeometry g;
  g.batch = x.shape[0];
  g.groups = group;
  g.in_channels = channels;
  g.out_channels = out_channels;
  nn::right_align3(in, g.in_size);
  nn::right_align3(out, g.out_size);
  nn::right_align3(kernel, g.kernel);
  nn::right_align3(strides, g.stride);
  nn::right_align3(dilations, g.dilation);
  nn::right_align3(pad_begin, g.pad_begin);
  return std::unique_ptr<OpKernel>(
      new ConvKernel(kernels::f32_convtranspose_ref__scalar, g, optional_input(ctx, 2) != nullptr,
                     ctx.activation, nn::kernel_name("f32_convtranspose", ctx.activation, "ref__scalar")));
}

}  // namespace pare::rt::ops
