// The one list of passes. `pare passes` prints it; parse_pipeline checks names and
// options against it.
#include <algorithm>

#include "passes/canonical.h"
#include "passes/pass.h"

namespace pare::passes {

const std::vector<PassInfo>& registry() {
  // Kept sorted by name (find_pass searches it by bisection; a test checks the order).
  static const std::vector<PassInfo> passes = {
      {"cluster",
       "Weight clustering: k-means of the float weights of Conv, Gemm and MatMul to at most 2^bits distinct "
       "values per output channel or tensor (a palette of k-bit indices for the writer); with calibration "
       "data the weights are rounded to the palettes with OBS error feedback; exact zeros stay zeros; "
       "the first conv, depthwise convs and small layers stay dense",
       {{"bits", "index bits: at most 2^bits values per table, 2 to 8 (4)"},
        {"per", "channel: a table per output channel (stored rows of Conv and Gemm(transB=1), stored columns "
                "of Gemm(transB=0) and MatMul); tensor: one table (channel)"},
        {"init", "kmeans++ or linear (evenly spaced between the extremes) (kmeans++)"},
        {"seed", "seed of the kmeans++ draws; results are the same on every machine (0)"},
        {"exclude", "source node names to keep dense, comma-separated (none)"},
        {"layer_bits", "per-layer bits instead of bits= for the layers it clusters: NODE:B,... (none)"},
        {"min_params", "layers with fewer weights stay dense (1024)"},
        {"weighting", "data: each weight's error weighted by the mean square of its input on the calibration "
                      "data; none: plain weight error (none)"},
        {"update", "obs: weights rounded to the palettes input by input, each error spread over the later "
                   "inputs so that the layer's output on the calibration data changes least, and the palette "
                   "entries refitted to that output; none: nearest centroid (obs with --calib, else none)"}},
       run_cluster},
      {"dce", "Removes nodes whose outputs reach no graph output, drops unused tensors, renumbers",
       {},
       run_dce},
      {"fold", "Infers shapes and replaces nodes whose inputs are all constant by their values",
       {{"max_output_mib",
         "largest output folded into a constant, in MiB, unless its inputs were larger (4)"}},
       run_fold},
      {"fold_batchnorm",
       "Folds BatchNormalization into the weights and bias of the Conv, ConvTranspose or Gemm "
       "before it; a BatchNormalization no producer takes becomes a per-channel Mul and Add",
       {},
       run_fold_batchnorm},
      {"fuse_activation",
       "Fuses Relu, Clip, Sigmoid, HardSigmoid, HardSwish and LeakyRelu into the Conv, "
       "ConvTranspose, Gemm or MatMul before them, x * Sigmoid(x) as SiLU; turns x * "
       "HardSigmoid(x) (alpha 1/6) into HardSwish and an exact Gelu's five nodes into one",
       {},
       run_fuse_activation},
      {"fuse_layernorm",
       "Fuses layer normalization as exporters before opset 17 write it (ReduceMean, Sub, Pow, ReduceMean, "
       "Add, Sqrt, Div, then a Mul by the scale and an Add of the bias) into one LayerNormalization",
       {},
       run_fuse_layernorm},
      {"lowrank",
       "Low-rank factorization: Gemm, MatMul and 1x1 Conv become two thin layers (truncated SVD), KxK Conv "
       "1x1 -> KxK -> 1x1 (Tucker-2), fitted to each layer's output on calibration data (whitened by its "
       "input covariance); grouped convs and layers saving too little stay",
       {{"energy", "fraction of each layer's (whitened) spectrum energy kept, in (0, 1] (0.97)"},
        {"rank_ratio", "instead of energy: the rank as a fraction of the full rank, in (0, 1) (none)"},
        {"data", "on: minimise the error of each layer's output on the calibration data (needs --calib); "
                 "off: of its weights (on)"},
        {"min_saving", "a layer is factorized only when it saves at least this fraction of both its MACs and "
                       "its bytes (0.2)"},
        {"multiple", "ranks are rounded up to a multiple of this (8)"},
        {"exclude", "source node names to leave alone, comma-separated (none)"}},
       run_lowrank},
      {"nhwc",
       "Runs Conv and pools on 4-D data channels-last (NHWC) with the layout-free ops between "
       "them, converting at the graph's edges; inputs and outputs keep their layout",
       {},
       run_nhwc},
      {"prune",
       "Pruning of the float weights of Conv, Gemm and MatMul to exact zeros (stored sparse by the "
       "writer where smaller), with calibration data refitting the kept weights to each layer's dense "
       "output; the first conv, depthwise convs and small layers stay dense",
       {{"sparsity", "fraction of the pruned layers' weights set to zero, in [0, 1) (0.5)"},
        {"scope", "global: one ranking of |w| / layer RMS over all layers; layer: each layer to the "
                  "sparsity (global)"},
        {"pattern", "unstructured, block4 (4 consecutive output channels zero the same inputs) or 2:4 "
                    "(2 of every 4 consecutive inputs zero: sparsity 0.5 in every pruned layer) (unstructured)"},
        {"schedule", "uniform (the scope's ranking) or sensitivity (per-layer sparsities from the "
                     "model output error on calibration data) (uniform)"},
        {"exclude", "source node names to keep dense, comma-separated (none)"},
        {"layer_sparsity", "per-layer caps on the chosen sparsity: NODE:S,... (0 keeps the layer dense) (none)"},
        {"min_params", "layers with fewer weights stay dense (1024)"},
        {"update", "obs: choose the mask and refit the kept weights so each layer's output on the calibration "
                   "data changes least; none: magnitude only (obs with --calib, else none)"}},
       run_prune},
      {"prune_channels",
       "Structured pruning: removes the least important output channels of Conv and Gemm layers "
       "(with the matching inputs of their consumers, channels coupled through Add, Concat, "
       "depthwise convs and flattens pruned together), moving their mean contribution into the "
       "next layer's bias and refitting the next layers on calibration data",
       {{"ratio", "fraction of each channel group's channels to remove, in [0, 1) (0.3)"},
        {"multiple", "kept channel counts are rounded to a multiple of this (8)"},
        {"exclude", "source names of Conv/Gemm nodes whose output channels stay, comma-separated (none)"},
        {"update", "lsq: refit the layers reading pruned channels by least squares to the dense model's "
                   "outputs on the calibration data; none: bias move only (lsq with --calib, else none)"},
        {"select", "lsq: keep the channels from which the rest best reconstruct the consumers' outputs "
                   "(backward elimination on calibration data); norm: filter norm times activation (norm)"}},
       run_prune_channels},
      {"quantize",
       "Int8 post-training quantization: calibrates activations on the calibration data, int8 "
       "weights per output channel, int32 bias; float ops keep Quantize/DequantizeLinear at their edges",
       {{"calib", "activation range observer: minmax, percentile, percentile(P), entropy or mse (mse)"},
        {"activations", "8-bit activation type: u8 or s8 (u8)"},
        {"weights", "per_channel or per_tensor weight scales (per_channel)"},
        {"exclude", "source node names to keep in float, comma-separated (none)"},
        {"bias_correction", "on: move the mean output shift that rounding the weights causes into the bias, "
                            "from the calibration means of the inputs (off)"},
        {"constants", "float constants of >= 128 elements read by float ops (embeddings, biases): "
                      "int8 (stored int8, dequantized at run time) or float (int8)"}},
       run_quantize},
      {"remove_identity",
       "Removes Identity, Cast to the same type, and Reshape/Flatten/Squeeze/Unsqueeze that keep "
       "the shape",
       {},
       run_remove_identity},
  };
  return passes;
}

const PassInfo* find_pass(const std::string& name) {
  const std::vector<PassInfo>& passes = registry();
  auto it = std::lower_bound(passes.begin(), passes.end(), name,
                             [](const PassInfo& p, const std::string& n) { return p.name < n; });
  return it != passes.end() && it->name == name ? &*it : nullptr;
}

}  // namespace pare::passes
