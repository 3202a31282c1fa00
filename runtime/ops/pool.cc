// MaxPool, AveragePool (1-D to 3-D) and GlobalAveragePool (any rank >= 3); all three also
// in NHWC layout (attribute layout = "NHWC", 4-D data).
#include <algorithm>
#include <string>
#include <utility>

#include "runtime/kernels/pool/pool.h"
#include "runtime/ops/common.h"
#include "runtime/ops/nn_util.h"
#include "runtime/ops/ops.h"

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
    nn::parallel_for(ctx.pool, static_cast<size_t>(planes_), [&](size_t begin, size_t end) {
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
    nn::parallel_for(ctx.pool, static_cast<size_t>(planes_), [&](size_t begin, size_t end) {
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
    nn::parallel_for(ctx.pool, static_cast<size_t>(planes_), [&](size_t begin, size_t end) {
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
      nn::check_output(ctx, 0, x.dtype, work->nhwc ? nn::nchw_to_nhwc(out_shape) : out_shape));

  nn::right_align3(in, g->in_size);
  nn::right_align3(win.out, g->out_size);
  nn::right_align3(win.kernel, g->kernel);
  nn::right_align3(win.strides, g->stride);
  nn::right_align3(win.dilations, g->dilation);
  nn::right_align3(win.pad_begin, g->pad_begin);
  nn::right_align3(win.pad_end, g->pad_end);
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
  const int64_t reads = work.pixels * work.channels * g.kernel[0] * g.kernel[1] * g.kernel[2];
  return make_kernel(nhwc_name, [nhwc, g, work, reads](const ExecContext& ctx) {
    const auto* x = static_cast<const T*>(ctx.inputs[0]);
    auto* y = static_cast<T*>(ctx.outputs[0]);
    nn::parallel_for(pool_for(ctx, reads), static_cast<size_t>(work.pixels), [&](size_t begin, size_t end) {
      nhwc(g, work.channels, x, y, static_cast<int64_t>(begin), static_cast<int64_t>(end));
    });
  });
}

}  // namespace

Result<std::unique_ptr<OpKernel>> prepare_MaxPool(const PrepareContext& ctx) {
  if (ctx.outputs.size() > 1)
    return ctx.error(Status::kUnsupported, "the Indices output of MaxPool is not supported");
  PARE_RT_RETURN_IF_ERROR(nn::check_arity(ctx, 1, 1, 1));
  PoolGeometry g;
  PoolWork work;
  PARE_RT_RETURN_IF_ERROR(prepare_window(ctx, &g, &work));
  switch (ctx.inputs[0]->dtype) {
    case DType::kFloat32: {
      const kernels::PoolNhwcVariant& v = kernels::select_pool_nhwc(ctx.isa);
      return make_maxpool<float>(g, work, kernels::f32_maxpool_ref__scalar, "f32_maxpool_ref__scalar",
                                 v.maxpool, v.maxpool_name);
    }
    case DType::kUInt8:
      return make_maxpool<uint8_t>(g, work, kernels::u8_maxpool_ref__scalar, "u8_maxpool_ref__scalar",
                                   kernels::u8_maxpool_nhwc_ref__scalar, "u8_maxpool_nhwc_ref__scalar");
    case DType::kInt8:
      return make_maxpool<int8_t>(g, work, kernels::s8_maxpool_ref__scalar, "s8_maxpool_ref__scalar",
                                  kernels::s8_maxpool_nhwc_ref__scalar, "s8_maxpool_nhwc_ref__scalar");
    default:
      return ctx.error(Status::kUnsupported, std::string("input dtype ") + dtype_name(ctx.inputs[0]->dtype) +
                                                 " is not supported (float32, uint8, int8)");
  }
}

Result<std::unique_ptr<OpKernel>> prepare_AveragePool(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(nn::check_arity(ctx, 1, 1, 1));
  PARE_RT_RETURN_IF_ERROR(nn::check_dtype(ctx, *ctx.inputs[0], DType::kFloat32, "input"));
  const int64_t count_include_pad = ctx.attrs->get_int("count_include_pad", 0);
  if (count_include_pad != 0 && count_include_pad != 1)
    return ctx.error(Status::kBadModel, "count_include_pad must be 0 or 1");
  PoolGeometry g;
  PoolWork work;
  PARE_RT_RETURN_IF_ERROR(prepare_window(ctx, &g, &work));
  const bool include_pad = count_include_pad == 1;
  if (!work.nhwc) return std::unique_ptr<OpKernel>(new AvgPoolKernel(g, include_pad, work.planes));
  const kernels::PoolNhwcVariant& v = kernels::select_pool_nhwc(ctx.isa);
  const kernels::F32AvgPoolNhwcFn fn = v.avgpool;
  const int64_t reads = work.pixels * work.channels * g.kernel[0] * g.kernel[1] * g.kernel[2];
  return make_kernel(v.avgpool_name,
                     [fn, g, work, include_pad, reads](const ExecContext& ec) {
                       const auto* x = static_cast<const float*>(ec.inputs[0]);
                       auto* y = static_cast<float*>(ec.outputs[0]);
                       nn::parallel_for(pool_for(ec, reads), static_cast<size_t>(work.pixels),
                                        [&](size_t begin, size_t end) {
                                          fn(g, work.channels, include_pad, x, y, static_cast<int64_t>(begin),
                                             static_cast<int64_t>(end));
                                        });
                     });
}

Result<std::unique_ptr<OpKernel>> prepare_GlobalAveragePool(const PrepareContext& ctx) {
  PARE_RT_RETURN_IF_ERROR(nn::check_arity(ctx, 1, 1, 1));
  const TensorDesc& x = *ctx.inputs[0];
  PARE_RT_RETURN_IF_ERROR(nn::check_dtype(ctx, x, DType::kFloat32, "input"));
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
  PARE_RT_RETURN_IF_ERROR(
      nn::check_output(ctx, 0, DType::kFloat32, nhwc ? nn::nchw_to_nhwc(out_shape) : out_shape));
  const int64_t means = x_shape[0] * x_shape[1];
  if (!nhwc) return std::unique_ptr<OpKernel>(new GlobalAvgPoolKernel(means, plane_size));
  const int64_t channels = x_shape[1];
  const kernels::PoolNhwcVariant& v = kernels::select_pool_nhwc(ctx.isa);
  const kernels::F32GlobalAvgPoolNhwcFn fn = v.global_avgpool;
  // Threads take whole groups of kChunk outputs, a multiple of every channel block.
  constexpr int64_t kChunk = 64;
  return make_kernel(v.global_avgpool_name, [fn, means, plane_size, channels](const ExecContext& ec) {
    const auto* in = static_cast<const float*>(ec.inputs[0]);
    auto* out = static_cast<float*>(ec.outputs[0]);
    const size_t chunks = static_cast<size_t>((means + kChunk - 1) / kChunk);
    nn::parallel_for(pool_for(ec, means * plane_size), chunks, [&](size_t begin, size_t end) {
      fn(plane_size, channels, in, out, static_cast<int64_t>(begin) * kChunk,
         std::min(means, static_cast<int64_t>(end) * kChunk));
    });
  });
}

}  // namespace pare::rt::ops
