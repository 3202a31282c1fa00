// MaxPool, AveragePool (1-D to 3-D) and GlobalAveragePool (any rank >= 3); all three also
// in NHWC layout (attribute layout = "NHWC", 4-D data). On quantized 8-bit tensors MaxPool
// keeps the bytes, and the average pools sum q - zero_point in int32 and requantize with
// s_x / (s_y * count).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "runtime/kernels/pool/pool.h"
#include "runtime/kernels/quant/requant.h"
#include "runtime/ops/common.h"
#include "runtime/ops/nn_util.h"
#include "runtime/ops/ops.h"
#include "runtime/ops/parallel.h"

namespace pare::rt::ops {

namespace {

using kernels::PoolGeometry;

// Below about this many floats read, waking the workers costs more than the split saves.
constexpr int64_t kParallelReads = int64_t{1} << 15;

ThreadPool* pool_for(const ExecContext& ctx, int64_t reads) {
  return reads >= kParallelReads ? ctx.pool : nullptr;
}

template <typename T>
using MaxPoolFn = void (*)(const PoolGeometry&, const T*, T*, int64_t, int64_t);

template <typename T>
class MaxPoolKernel final : public OpKernel {
 public:
  MaxPoolKernel(MaxPoolFn<T> fn, const PoolGeometry& g, int64_t planes, const char* name)
      : fn_(fn), g_(g), planes_(planes), name_(name) {}

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const T*>(ctx.inputs[0]);
    auto* y = static_cast<T*>(ctx.outputs[0]);
    parallel_for(ctx.pool, static_cast<size_t>(planes_), [&](size_t begin, size_t end) {
      fn_(g_, x, y, static_cast<int64_t>(begin), static_cast<int64_t>(end));
    });
  }

  const char* kernel_name() const override { return name_; }

 private:
  MaxPoolFn<T> fn_;
  PoolGeometry g_;
  int64_t planes_;
  const char* name_;
};

class AvgPoolKernel final : public OpKernel {
 public:
  AvgPoolKernel(const PoolGeometry& g, bool count_include_pad, int64_t planes)
      : g_(g), count_include_pad_(count_include_pad), planes_(planes) {}

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    parallel_for(ctx.pool, static_cast<size_t>(planes_), [&](size_t begin, size_t end) {
      kernels::f32_avgpool_ref__scalar(g_, count_include_pad_, x, y, static_cast<int64_t>(begin),
                                       static_cast<int64_t>(end));
    });
  }

  const char* kernel_name() const override { return "f32_avgpool_ref__scalar"; }

 private:
  PoolGeometry g_;
  bool count_include_pad_;
  int64_t planes_;
};

class GlobalAvgPoolKernel final : public OpKernel {
 public:
  GlobalAvgPoolKernel(int64_t planes, int64_t plane_size) : planes_(planes), plane_size_(plane_size) {}

  void run(const ExecContext& ctx) override {
    const auto* x = static_cast<const float*>(ctx.inputs[0]);
    auto* y = static_cast<float*>(ctx.outputs[0]);
    parallel_for(ctx.pool, static_cast<size_t>(planes_), [&](size_t begin, size_t end) {
      kernels::f32_global_avgpool_ref__scalar(plane_size_, x, y, static_cast<int64_t>(begin),
                                              static_cast<int64_t>(end));
    });
  }

  const char* kernel_name() const override { return "f32_global_avgpool_ref__scalar"; }

 private:
  int64_t planes_, plane_size_;
};

// What the MaxPool/AveragePool kernels need besides the geometry. NC[D]HW kernels run over
// planes (one channel of one image); NHWC kernels over output pixels (all channels).
struct PoolWork {
  bool nhwc = false;
  int64_t planes = 0;    // batch * channels
  int64_t pixels = 0;    // batch * output pixels per image
  int64_t channels = 0;
  int64_t taps = 0;      // kernel elements of one window (at most what int64 holds)

  // Element reads of `windows` windows, for the threading threshold: saturates, never wraps.
  int64_t reads(int64_t windows) const {
    CheckedMath m;
    const int64_t r = m.mul(windows, taps);
    return m.overflow ? INT64_MAX : r;
  }
};

// Validates the input and the window attributes of MaxPool/AveragePool, checks the
// planned output and fills the kernel geometry.
Status prepare_window(const PrepareContext& ctx, PoolGeometry* g, PoolWork* work) {
  const TensorDesc& x = *ctx.inputs[0];
  if (x.rank() < 3 || x.rank() > 5)
    return ctx.error(Status::kUnsupported, "input '" + x.name + "' has shape " + shape_str(x.shape) +
                                               ": only 1-D to 3-D pooling (rank 3 to 5) is supported");
  PARE_RT_RETURN_IF_ERROR(nn::read_layout(ctx, x.rank(), &work->nhwc));
  if (!ctx.attrs->has("kernel_shape")) return ctx.error(Status::kBadModel, "kernel_shape is required");
  const int64_t ceil_mode = ctx.attrs->get_int("ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) return ctx.error(Status::kBadModel, "ceil_mode must be 0 or 1");

  // NC[D]HW order from here on; the planned output is checked in the node's layout.
  const std::vector<int64_t> x_shape = work->nhwc ? nn::nhwc_to_nchw(x.shape) : x.shape;
  std::vector<int64_t> in(x_shape.begin() + 2, x_shape.end());
  nn::Window win;
  PARE_RT_RETURN_IF_ERROR(
      nn::resolve_window(ctx, in, ctx.attrs->get_ints("kernel_shape"), ceil_mode == 1, &win));
  std::vector<int64_t> out_shape = {x_shape[0], x_shape[1]};
  out_shape.insert(out_shape.end(), win.out.begin(), win.out.end());
  PARE_RT_RETURN_IF_ERROR(
      check_output(ctx, 0, x.dtype, work->nhwc ? nn::nchw_to_nhwc(out_shape) : out_shape));

  nn::right_align3(in, g->in_size);
  nn::right_align3(win.out, g->out_size);
  nn::right_align3(win.kernel, g->kernel);
  nn::right_align3(win.strides, g->stride);
  nn::right_align3(win.dilations, g->dilation);
  nn::right_align3(win.pad_begin, g->pad_begin);
  nn::right_align3(win.pad_end, g->pad_end);
  CheckedMath m;
  work->taps = m.mul(m.mul(g->kernel[0], g->kernel[1]), g->kernel[2]);
  if (m.overflow)
    return ctx.error(Status::kBadModel, "kernel_shape " + shape_str(win.kernel) + " has more taps than 64-bit sizes hold");
  work->channels = x_shape[1];
  work->planes = x_shape[0] * x_shape[1];
  work->pixels = x_shape[0] * g->out_size[0] * g->out_size[1] * g->out_size[2];
  return Status::ok();
}

template <typename T>
using MaxPoolNhwcFn = void (*)(const PoolGeometry&, int64_t, const T*, T*, int64_t, int64_t);

template <typename T>
std::unique_ptr<OpKernel> make_maxpool(const PoolGeometry& g, const PoolWork& work, MaxPoolFn<T> nchw,
                                       const char* nchw_name, MaxPoolNhwcFn<T> nhwc, const char* nhwc_name) {
  if (!work.nhwc) return std::unique_ptr<OpKernel>(new MaxPoolKernel<T>(nchw, g, work.planes, nchw_name));
  const int64_t reads = work.reads(work.pixels * work.channels);
  return make_kernel(nhwc_name, [nhwc, g, work, reads](const ExecContext& ctx) {
    const auto* x = static_cast<const T*>(ctx.inputs[0]);
    auto* y = static_cast<T*>(ctx.outputs[0]);
    parallel_for(pool_for(ctx, reads), static_cast<size_t>(work.pixels), [&](size_t begin, size_t end) {
      nhwc(g, work.channels, x, y, static_cast<int64_t>(begin), static_cast<int64_t>(end));
    });
  });
}

// ---- int8 average pools ----------------------------------------------------------------

// The requantization of a window sum over `count` taps, for every count in [0, max_count]
// (count 0, an empty window, gives the zero point, as the float op gives 0).
struct Q8Average {
  bool is_signed = false;
  int32_t x_zero_point = 0, y_zero_point = 0, lo = 0, hi = 255;
  std::vector<kernels::Requant> by_count;

  int32_t out(int32_t sum, int64_t count) const {
    if (count <= 0) return std::min(hi, std::max(lo, y_zero_point));
    return kernels::requantize(sum, by_count[static_cast<size_t>(count)], y_zero_point, lo, hi);
  }
};

// With `only_max` (a global average: every window has max_count taps) by_count[1] holds the
// requantization of max_count instead.
Status q8_average_params(const PrepareContext& ctx, int64_t max_count, bool only_max, Q8Average* a) {
  Q8Quant qx, qy;
  PARE_RT_RETURN_IF_ERROR(q8_per_tensor(ctx, *ctx.inputs[0], "input", &qx));
  PARE_RT_RETURN_IF_ERROR(q8_per_tensor(ctx, *ctx.outputs[0], "output", &qy));
  if (max_count > (int64_t{1} << 23))  // 255 * count must fit int32
    return ctx.error(Status::kUnsupported, "int8 average over more than 2^23 elements");
  a->is_signed = qx.is_signed;
  a->x_zero_point = qx.zero_point;
  a->y_zero_point = qy.zero_point;
  a->lo = kernels::q8_min(qy.is_signed);
  a->hi = kernels::q8_max(qy.is_signed);
  a->by_count.resize(only_max ? 2 : static_cast<size_t>(max_count) + 1);
  for (int64_t c = only_max ? max_count : 1; c <= max_count; ++c) {
    // In float, in ONNX Runtime's order (see qconv.cc): sx / (sy * count).
    const double real = static_cast<double>(qx.scale / (qy.scale * static_cast<float>(c)));
    if (!kernels::requant_from_scale(real, &a->by_count[only_max ? 1 : static_cast<size_t>(c)]))
      return ctx.error(Status::kUnsupported, "the int8 average scale " + std::to_string(real) + " has no encoding");
  }
  return Status::ok();
}

// Calls tap(offset) for every window tap of output pixel `o` (row-major over out_size) that
// falls inside the input, offset in input pixels; sets the inside and padded tap counts.
// Only the taps inside are visited (pool_detail::window_at counts the others).
template <typename F>
void for_each_tap(const PoolGeometry& g, int64_t o, int64_t* inside_count, int64_t* padded_count, const F& tap) {
  const int64_t o2 = o % g.out_size[2], o1 = o / g.out_size[2] % g.out_size[1], o0 = o / (g.out_size[2] * g.out_size[1]);
  const int64_t s[3] = {o0 * g.stride[0] - g.pad_begin[0], o1 * g.stride[1] - g.pad_begin[1],
                        o2 * g.stride[2] - g.pad_begin[2]};
  kernels::pool_detail::PixelWindow w;
  kernels::pool_detail::window_at(g, s, &w);
  *inside_count = w.inside_count;
  *padded_count = w.padded_count;
  for (int64_t k0 = w.tap_begin[0]; k0 < w.tap_end[0]; ++k0) {
    const int64_t i0 = s[0] + k0 * g.dilation[0];
    for (int64_t k1 = w.tap_begin[1]; k1 < w.tap_end[1]; ++k1) {
      const int64_t i1 = s[1] + k1 * g.dilation[1];
      for (int64_t k2 = w.tap_begin[2]; k2 < w.tap_end[2]; ++k2)
        tap((i0 * g.in_size[1] + i1) * g.in_size[2] + s[2] + k2 * g.dilation[2]);
    }
  }
}

// NC[D]HW planes [begin, end).
template <typename T>
void q8_avgpool_planes(const PoolGeometry& g, bool include_pad, const Q8Average& a, const T* x, T* y,
                       int64_t begin, int64_t end) {
  const int64_t in_plane = g.in_size[0] * g.in_size[1] * g.in_size[2];
  const int64_t out_plane = g.out_size[0] * g.out_size[1] * g.out_size[2];
  for (int64_t p = begin; p < end; ++p) {
    const T* in = x + p * in_plane;
    for (int64_t o = 0; o < out_plane; ++o) {
      int32_t sum = 0;
      int64_t inside_count, padded_count;
      for_each_tap(g, o, &inside_count, &padded_count,
                   [&](int64_t off) { sum += static_cast<int32_t>(in[off]) - a.x_zero_point; });
      y[p * out_plane + o] = static_cast<T>(a.out(sum, include_pad ? padded_count : inside_count));
    }
  }
}

// NHWC output pixels [begin, end), all channels; sums kept for a block of channels at a time.
template <typename T>
void q8_avgpool_pixels(const PoolGeometry& g, int64_t channels, bool include_pad, const Q8Average& a, const T* x,
                       T* y, int64_t begin, int64_t end) {
  constexpr int64_t kBlock = 256;
  const int64_t in_pixels = g.in_size[0] * g.in_size[1] * g.in_size[2];
  const int64_t out_pixels = g.out_size[0] * g.out_size[1] * g.out_size[2];
  int32_t sum[kBlock];
  for (int64_t p = begin; p < end; ++p) {
    const T* image = x + p / out_pixels * in_pixels * channels;
    for (int64_t c0 = 0; c0 < channels; c0 += kBlock) {
      const int64_t nc = std::min(kBlock, channels - c0);
      std::fill(sum, sum + nc, 0);
      int64_t inside_count, padded_count;
      for_each_tap(g, p % out_pixels, &inside_count, &padded_count, [&](int64_t off) {
        const T* px = image + off * channels + c0;
        for (int64_t c = 0; c < nc; ++c) sum[c] += px[c];
      });
      const int64_t count = include_pad ? padded_count : inside_count;
      const int32_t bias = static_cast<int32_t>(inside_count) * a.x_zero_point;
      for (int64_t c = 0; c < nc; ++c) y[p * channels + c0 + c] = static_cast<T>(a.out(sum[c] - bias, count));
    }
  }
}

template <typename T>
std::unique_ptr<OpKernel> make_q8_avgpool(const PoolGeometry& g, const PoolWork& work, bool include_pad,
                                          Q8Average a, const char* tag) {
  const int64_t reads = work.reads(work.nhwc ? work.pixels * work.channels : work.planes);
  const std::string name = std::string(tag) + (work.nhwc ? "_avgpool_nhwc_ref__scalar" : "_avgpool_ref__scalar");
  return make_kernel(name, [g, work, include_pad, a = std::move(a), reads](const ExecContext& ec) {
    const auto* x = static_cast<const T*>(ec.inputs[0]);
    auto* y = static_cast<T*>(ec.outputs[0]);
    const size_t items = static_cast<size_t>(work.nhwc ? work.pixels : work.planes);
    parallel_for(pool_for(ec, reads), items, [&](size_t begin, size_t end) {
      if (work.nhwc)
        q8_avgpool_pixels(g, work.channels, include_pad, a, x, y, static_cast<int64_t>(begin),
                          static_cast<int64_t>(end));
      else
        q8_avgpool_planes(g, include_pad, a, x, y, static_cast<int64_t>(begin), static_cast<int64_t>(end));
    });
  });
}

// Means [begin, end) of batch * channels: NCHW reads plane by plane, NHWC sums a block of
// channels over the pixels (a plain loop over contiguous channels the compiler vectorises).
template <typename T>
void q8_global_avgpool(bool nhwc, int64_t pixels, int64_t channels, const Q8Average& a, const T* x, T* y,
                       int64_t begin, int64_t end) {
  const int32_t bias = static_cast<int32_t>(pixels) * a.x_zero_point;
  if (!nhwc) {
    for (int64_t p = begin; p < end; ++p) {
      const T* in = x + p * pixels;
      int32_t sum = 0;
      for (int64_t i = 0; i < pixels; ++i) sum += in[i];
      y[p] = static_cast<T>(a.out(sum - bias, 1));  // by_count[1]: the full plane
    }
    return;
  }
  constexpr int64_t kBlock = 256;
  int32_t sum[kBlock];
  for (int64_t m = begin; m < end;) {
    const int64_t n = m / channels, c0 = m % channels;
    const int64_t nc = std::min({kBlock, channels - c0, end - m});
    std::fill(sum, sum + nc, 0);
    const T* in = x + n * pixels * channels + c0;
    for (int64_t i = 0; i < pixels; ++i, in += channels)
      for (int64_t c = 0; c < nc; ++c) sum[c] += in[c];
    for (int64_t c = 0; c < nc; ++c) y[m + c] = static_cast<T>(a.out(sum[c] - bias, 1));
    m += nc;
  }
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_MaxPool(const PrepareContext& ctx) {
  if (ctx.outputs.size() > 1)
    return ctx.error(Status::kUnsupported, "the Indices output of MaxPool is not supported");
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 1, 1, 1));
  PoolGeometry g;
  PoolWork work;
  PARE_RT_RETURN_IF_ERROR(prepare_window(ctx, &g, &work));
  switch (ctx.inputs[0]->dtype) {
    case DType::kFloat32: {
      const kernels::PoolNhwcVariant& v = kernels::select_pool_nhwc(ctx.isa);
      return make_maxpool<float>(g, work, kernels::f32_maxpool_ref__scalar, "f32_maxpool_ref__scalar",
                                 v.maxpool, v.maxpool_name);
    }
    case DType::kUInt8: {
      const kernels::PoolNhwcVariant& v = kernels::select_pool_nhwc(ctx.isa);
      return make_maxpool<uint8_t>(g, work, kernels::u8_maxpool_ref__scalar, "u8_maxpool_ref__scalar",
                                   v.u8_maxpool, v.u8_maxpool_name);
    }
    case DType::kInt8: {
      const kernels::PoolNhwcVariant& v = kernels::select_pool_nhwc(ctx.isa);
      return make_maxpool<int8_t>(g, work, kernels::s8_maxpool_ref__scalar, "s8_maxpool_ref__scalar",
                                  v.s8_maxpool, v.s8_maxpool_name);
    }
    default:
      return ctx.error(Status::kUnsupported, std::string("input dtype ") + dtype_name(ctx.inputs[0]->dtype) +
                                                 " is not supported (float32, uint8, int8)");
  }
}

Result<std::unique_ptr<OpKernel>> prepare_AveragePool(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 1, 1, 1));
  const bool q8 = is_q8_tensor(ctx.inputs[0]);
  if (!q8) PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, *ctx.inputs[0], "input", {DType::kFloat32}));
  const int64_t count_include_pad = ctx.attrs->get_int("count_include_pad", 0);
  if (count_include_pad != 0 && count_include_pad != 1)
    return ctx.error(Status::kBadModel, "count_include_pad must be 0 or 1");
  PoolGeometry g;
  PoolWork work;
  PARE_RT_RETURN_IF_ERROR(prepare_window(ctx, &g, &work));
  const bool include_pad = count_include_pad == 1;
  if (q8) {
    Q8Average a;
    PARE_RT_RETURN_IF_ERROR(q8_average_params(ctx, work.taps, false, &a));
    if (a.is_signed) return make_q8_avgpool<int8_t>(g, work, include_pad, std::move(a), "s8");
    return make_q8_avgpool<uint8_t>(g, work, include_pad, std::move(a), "u8");
  }
  if (!work.nhwc) return std::unique_ptr<OpKernel>(new AvgPoolKernel(g, include_pad, work.planes));
  const kernels::PoolNhwcVariant& v = kernels::select_pool_nhwc(ctx.isa);
  const kernels::F32AvgPoolNhwcFn fn = v.avgpool;
  const int64_t reads = work.reads(work.pixels * work.channels);
  return make_kernel(v.avgpool_name,
                     [fn, g, work, include_pad, reads](const ExecContext& ec) {
                       const auto* x = static_cast<const float*>(ec.inputs[0]);
                       auto* y = static_cast<float*>(ec.outputs[0]);
                       parallel_for(pool_for(ec, reads), static_cast<size_t>(work.pixels),
                                        [&](size_t begin, size_t end) {
                                          fn(g, work.channels, include_pad, x, y, static_cast<int64_t>(begin),
                                             static_cast<int64_t>(end));
                                        });
                     });
}

Result<std::unique_ptr<OpKernel>> prepare_GlobalAveragePool(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(check_arity(ctx, 1, 1, 1, 1));
  const TensorDesc& x = *ctx.inputs[0];
  const bool q8 = is_q8_tensor(&x);
  if (!q8) PARE_RT_RETURN_IF_ERROR(check_dtype(ctx, x, "input", {DType::kFloat32}));
  if (x.rank() < 3)
    return ctx.error(Status::kBadModel, "input '" + x.name + "' has shape " + shape_str(x.shape) +
                                            ", expected rank >= 3 (N, C, spatial...)");
  bool nhwc = false;
  PARE_RT_RETURN_IF_ERROR(nn::read_layout(ctx, x.rank(), &nhwc));
  const std::vector<int64_t> x_shape = nhwc ? nn::nhwc_to_nchw(x.shape) : x.shape;
  int64_t plane_size = 1;
  std::vector<int64_t> out_shape = {x_shape[0], x_shape[1]};
  for (size_t i = 2; i < x.rank(); ++i) {
    plane_size *= x_shape[i];
    out_shape.push_back(1);
  }
  if (plane_size == 0)
    return ctx.error(Status::kBadModel, "input '" + x.name + "' has an empty spatial extent " +
                                            shape_str(x.shape));
  PARE_RT_RETURN_IF_ERROR(check_output(ctx, 0, x.dtype, nhwc ? nn::nchw_to_nhwc(out_shape) : out_shape));
  const int64_t means = x_shape[0] * x_shape[1];
  if (q8) {
    Q8Average a;
    PARE_RT_RETURN_IF_ERROR(q8_average_params(ctx, plane_size, true, &a));
    const char* tag = a.is_signed ? "s8" : "u8";
    const std::string name = std::string(tag) + (nhwc ? "_global_avgpool_nhwc_ref__scalar" : "_global_avgpool_ref__scalar");
    const int64_t channels = x_shape[1];
    return make_kernel(name, [nhwc, means, plane_size, channels, a = std::move(a)](const ExecContext& ec) {
      constexpr int64_t kChunk = 256;  // a multiple of the channel block: threads split whole blocks
      const size_t chunks = static_cast<size_t>((means + kChunk - 1) / kChunk);
      parallel_for(pool_for(ec, means * plane_size), chunks, [&](size_t b, size_t e) {
        const int64_t begin = static_cast<int64_t>(b) * kChunk, end = std::min(means, static_cast<int64_t>(e) * kChunk);
        if (a.is_signed)
          q8_global_avgpool(nhwc, plane_size, channels, a, static_cast<const int8_t*>(ec.inputs[0]),
                            static_cast<int8_t*>(ec.outputs[0]), begin, end);
        else
          q8_global_avgpool(nhwc, plane_size, channels, a, static_cast<const uint8_t*>(ec.inputs[0]),
                            static_cast<uint8_t*>(ec.outputs[0]), begin, end);
      });
    });
  }
  if (!nhwc) return std::unique_ptr<OpKernel>(new GlobalAvgPoolKernel(means, plane_size));
  return f32_global_avgpool_nhwc_kernel(ctx, x_shape[0], plane_size, x_shape[1]);
}

std::unique_ptr<OpKernel> f32_global_avgpool_nhwc_kernel(const PrepareContext& ctx, int64_t batch, int64_t pixels,
                                                         int64_t channels) {
  const int64_t means = batch * channels;
  const kernels::PoolNhwcVariant& v = kernels::select_pool_nhwc(ctx.isa);
  const kernels::F32GlobalAvgPoolNhwcFn fn = v.global_avgpool;
  // Threads take whole groups of kChunk outputs, a multiple of every channel block.
  constexpr int64_t kChunk = 64;
  return make_kernel(v.global_avgpool_name, [fn, means, pixels, channels](const ExecContext& ec) {
    const auto* in = static_cast<const float*>(ec.inputs[0]);
    auto* out = static_cast<float*>(ec.outputs[0]);
    const size_t chunks = static_cast<size_t>((means + kChunk - 1) / kChunk);
    parallel_for(pool_for(ec, means * pixels), chunks, [&](size_t begin, size_t end) {
      fn(pixels, channels, in, out, static_cast<int64_t>(begin) * kChunk,
         std::min(means, static_cast<int64_t>(end) * kChunk));
    });
  });
}

}  // namespace pare::rt::ops
