// The pass interface, the pass registry and the pass manager.
//
// A pipeline is text: "fold(max_output_mib=4),fold_batchnorm,fuse_activation,dce". Each item is a
// registered pass name with optional (key=value,...) options. Parsing then printing a
// pipeline gives back the same text (canonical spacing, options in the order given).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/status.h"

namespace pare::passes {

// One quantized layer in the quantize pass's report: its output's quantization and how
// close the int8 graph's output is to the float graph's on the calibration data.
struct QuantLayerReport {
  std::string node;    // source node name
  std::string op;
  std::string tensor;  // the output tensor
  std::string dtype;   // "uint8" / "int8"
  float scale = 0;
  int64_t zero_point = 0;
  double sqnr_db = 0;  // 10 log10(sum ref^2 / sum (ref - int8)^2); inf when identical
};

// One channel group of the prune_channels pass: layers whose output channels are pruned
// together (coupled through residual adds, concats, depthwise convs, flattens).
struct ChannelGroupReport {
  std::vector<std::string> layers;  // source names of the Conv/Gemm writing the channels
  int64_t channels_before = 0, channels_after = 0;
  std::string left_alone;  // why the group was not pruned; empty when it was considered
};

struct ChannelPruneReport {
  std::vector<ChannelGroupReport> groups;
  int64_t macs_before = 0, macs_after = 0;  // multiply-accumulates of one inference
  bool bias_compensated = false;            // false without calibration data
  std::string update = "none";              // "lsq": consumers refitted on calibration data
  double update_seconds = 0;
};

// One layer in the prune pass's report: weights, zeros, bytes and the decision.
struct PruneLayerReport {
  std::string node;  // source node name
  std::string op;
  int64_t params = 0;
  int64_t zeros_before = 0, zeros_after = 0;
  double sparsity = 0;         // zeros_after / params
  double target_sparsity = 0;  // the sparsity chosen for the layer (0 when it stays dense)
  size_t bytes_before = 0;     // dense float32
  size_t bytes_after = 0;      // as the writer would store it: the smaller of dense and sparse, float32
  std::string decision;        // how its sparsity was chosen, or why it stays dense
};

// One layer in the cluster pass's report.
struct ClusterLayerReport {
  std::string node;  // source node name
  std::string op;
  int64_t params = 0;
  int bits = 0;             // 0 when it stays dense
  std::string per;          // "channel" (a table per stored row) or "tensor"; empty when dense
  int64_t tables = 0;       // stored rows (per=channel) or 1
  int max_distinct = 0;     // the most distinct values of a table after the pass
  double relative_error = 0;  // ||W' - W|| / ||W||
  std::string decision;     // the weighting used, or why it stays dense
};

// One candidate layer of the lowrank pass: the ranks chosen and what they save, or why the
// layer was left alone.
struct LowrankLayerReport {
  std::string node;  // source node name
  std::string op;
  std::string form;  // "svd" (two layers), "tucker2" (1x1 -> KxK -> 1x1); empty when skipped
  int64_t full_rank = 0;       // min(outputs, inputs), or for tucker2 the input channels
  int64_t rank = 0;            // the chosen rank; tucker2: of the input channels
  int64_t rank_out = 0;        // tucker2: of the output channels
  double energy_kept = 0;      // fraction of the (whitened) spectrum's energy kept
  int64_t params_before = 0, params_after = 0;
  int64_t macs_before = 0, macs_after = 0;  // one inference
  double output_error = -1;    // relative squared output error on the calibration inputs (-1: no data)
  std::string skipped;         // why it was left alone; empty when factorized
};

struct PassReport {
  std::string pass;
  double ms = 0;
  size_t nodes_before = 0, nodes_after = 0;
  size_t weight_bytes_before = 0, weight_bytes_after = 0;
  std::vector<std::string> notes;  // per-layer figures or remarks, human readable
  std::vector<QuantLayerReport> quant_layers;  // quantize only
  std::optional<ChannelPruneReport> channel_prune;  // prune_channels only
  std::vector<PruneLayerReport> prune_layers;  // prune only
  std::vector<ClusterLayerReport> cluster_layers;  // cluster only
  std::vector<LowrankLayerReport> lowrank_layers;  // lowrank only
};

// Calibration samples for passes that look at data (quantize): for each sample, one array
// per graph input (in the order of Graph::inputs) with that input's element count, float32
// for float32 inputs and int64 for int64 inputs (token ids, attention masks).
class CalibrationData {
 public:
  virtual ~CalibrationData() = default;
  virtual size_t size() const = 0;
  // Writes `count` floats of float32 graph input `input` of sample `sample`.
  virtual void fill(size_t sample, size_t input, float* out, size_t count) const = 0;
  // Writes `count` values of int64 graph input `input` of sample `sample`. The default
  // throws pare::Error(kUnsupported): data that gives float inputs only.
  virtual void fill_int64(size_t sample, size_t input, int64_t* out, size_t count) const;
};

struct PassOptions {
  std::map<std::string, std::string> values;  // as written in the pipeline
  std::vector<std::string> order;             // keys in the order written (printing)
  // Typed access; throw pare::Error(kInvalidInput) naming the pass on a bad value.
  std::string get(const std::string& key, const std::string& dflt) const;
  double get_double(const std::string& key, double dflt) const;
  int64_t get_int(const std::string& key, int64_t dflt) const;
  bool has(const std::string& key) const { return values.count(key) != 0; }
};

// An 8-bit activation's quantization, as quantize chose it.
struct ActivationQuant {
  float scale = 1.f;
  int64_t zero_point = 0;
};

// Stored sizes of constant buffers already measured: weight_bytes runs before and after
// every pass, the writer's encoding search behind it is slow, and most passes leave most
// weights alone. Buffers are immutable; a weak pointer tells a live buffer from a new one at
// a reused address.
struct StoredBytesCache {
  struct Entry {
    std::weak_ptr<const ir::Buffer> buffer;
    ir::DType dtype = ir::DType::kUndefined;
    ir::Shape shape;
    uint64_t bytes = 0;
  };
  std::map<const ir::Buffer*, Entry> entries;
};

struct PassContext {
  uint64_t seed = 0;
  bool verify_each = false;  // run ir::verify after every pass (tests, debug builds)
  // false: skip what only feeds the report (quantize's per-layer SQNR run); quant_layers then
  // lists the int8 layers with a NaN SQNR.
  bool measure = true;
  // Activation quantization by float tensor name. quantize stores what it calibrates here,
  // and when every tensor it quantizes has an entry (and bias_correction is off) takes them
  // instead of calibrating: back-off's proxies of one build share its calibration.
  std::map<std::string, ActivationQuant>* activation_quant = nullptr;
  std::vector<PassReport> reports;
  std::function<void(const std::string& what, double fraction)> progress;  // may be empty
  const CalibrationData* calibration = nullptr;  // may be null: data-driven passes then refuse
  StoredBytesCache stored_bytes;
};

using PassFn = std::function<Status(ir::Graph&, const PassOptions&, PassContext&)>;

struct PassInfo {
  std::string name;
  std::string doc;                             // one line
  std::vector<std::pair<std::string, std::string>> options;  // name -> "doc (default)"
  PassFn run;
};

// Every registered pass (one explicit list in passes/registry.cc), sorted by name.
const std::vector<PassInfo>& registry();
const PassInfo* find_pass(const std::string& name);

struct PipelineItem {
  std::string pass;
  PassOptions options;
};

// Throws pare::Error(kInvalidInput) on syntax errors and unknown passes or options.
std::vector<PipelineItem> parse_pipeline(const std::string& text);
std::string print_pipeline(const std::vector<PipelineItem>& items);

// The canonicalizing pipeline `pare convert` runs.
extern const char* const kCanonicalPipeline;

// Shape inference over the whole graph in topological order, folding on the way every
// node whose inputs are all constant (and Shape of static tensors), so that shapes that
// depend on exporter shape arithmetic become known. Run first by run_pipeline.
Status infer_and_fold(ir::Graph& graph);

// Runs infer_and_fold, then each pass in order. A failure names the pass, the node (by
// source name, when the pass knows it) and the pipeline.
Status run_pipeline(ir::Graph& graph, const std::string& pipeline, PassContext& ctx);
// The same for a parsed pipeline (items built in code; their names need not be pipeline text).
Status run_pipeline(ir::Graph& graph, const std::vector<PipelineItem>& items, PassContext& ctx);

// Bytes the .pare writer stores for the constants (weights) of the live graph: dense, or
// the smallest sparse layout where that is smaller.
size_t weight_bytes(const ir::Graph& graph, StoredBytesCache* cache = nullptr);

}  // namespace pare::passes
