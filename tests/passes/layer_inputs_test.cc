// LayerInputMeter: layers measured together give exactly what a measurement per layer gives,
// batches break where a layer depends on one measured with it, and the caps hold.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ir/shape_inference.h"
#include "passes/layer_inputs.h"
#include "passes/prune_layers.h"
#include "tests/passes/pass_test_util.h"

namespace pare::passes {
namespace {

// x -> a (3x3 conv) -> b, c (1x1 convs, parallel) ; b -> d (3x3 conv); outputs c and d.
// Plus `branches` 1x1 convs reading a, after d in the node order.
struct Net {
  Builder b;
  std::vector<PruneLayer> layers;
};

Net branchy(int branches) {
  Net n;
  Builder& b = n.b;
  const TensorId x = b.input("x", {1, 4, 6, 6});
  const TensorId a = b.conv("a", x, 4, 8, 3);
  const TensorId bb = b.conv("b", a, 8, 8, 1);
  const TensorId c = b.conv("c", a, 8, 6, 1);
  const TensorId d = b.conv("d", bb, 8, 5, 3);
  b.output(c);
  b.output(d);
  for (int i = 0; i < branches; ++i) b.output(b.conv("e" + std::to_string(i), a, 8, 2, 1));
  for (ir::NodeId id : b.g.topological_order()) ir::infer_node(b.g, id);
  for (ir::NodeId id : b.g.topological_order()) {
    PruneLayer l;
    if (describe_layer(b.g, id, l)) n.layers.push_back(l);
  }
  return n;
}

std::vector<const PruneLayer*> pointers(const std::vector<PruneLayer>& layers) {
  std::vector<const PruneLayer*> p;
  for (const PruneLayer& l : layers) p.push_back(&l);
  return p;
}

void scale_weight(ir::Tensor& w, float factor) {
  std::vector<float> v(w.values<float>(), w.values<float>() + w.shape.num_elements());
  for (float& f : v) f *= factor;
  auto buffer = std::make_shared<ir::Buffer>();
  buffer->bytes.resize(v.size() * sizeof(float));
  std::memcpy(buffer->bytes.data(), v.data(), buffer->bytes.size());
  w.data = buffer;
}

// Every layer measured in order, each layer's weight halved after its measurement (as a pass
// changes it), on a copy of the graph.
std::vector<LayerInputs> measure_all(const Net& net, const ir::Graph& dense, const CalibrationData& data,
                                     size_t max_batch_layers, size_t* batches) {
  ir::Graph g = net.b.g;
  LayerInputMeter::Wanted wanted;
  wanted.gram = true;
  wanted.mean_squares = true;
  wanted.dense = &dense;
  LayerInputMeter meter(g, pointers(net.layers), data, 8, wanted, max_batch_layers);
  std::vector<LayerInputs> out;
  for (size_t k = 0; k < net.layers.size(); ++k) {
    out.push_back(meter.take(k, g));
    scale_weight(g.tensor(net.layers[k].weight), 0.5f);
  }
  *batches = meter.batches();
  return out;
}

TEST(LayerInputMeter, BatchedMeasurementsEqualOnePerLayer) {
  const Net net = branchy(3);
  ASSERT_EQ(net.layers.size(), 7u);  // a, b, c, d, e0, e1, e2
  RandomCalibration data(8, 500, -1.f, 1.f);
  // The dense graph differs from the measured one in a's weights: the cross terms are not H.
  ir::Graph dense = net.b.g;
  scale_weight(dense.tensor(net.layers[0].weight), -1.f);
  size_t batched_runs = 0, alone_runs = 0;
  const std::vector<LayerInputs> batched = measure_all(net, dense, data, LayerInputMeter::kMaxBatchLayers, &batched_runs);
  const std::vector<LayerInputs> alone = measure_all(net, dense, data, 1, &alone_runs);
  // a reads the graph input; b, c read a; d reads b (a new batch), and the e's read a only.
  EXPECT_EQ(batched_runs, 3u);
  EXPECT_EQ(alone_runs, 7u);
  for (size_t k = 0; k < batched.size(); ++k) {
    const std::string& name = net.layers[k].name;
    const LayerInputs &p = batched[k], &q = alone[k];
    ASSERT_EQ(p.gram_why, "") << name;
    ASSERT_EQ(p.mean_squares_why, "") << name;
    EXPECT_GT(p.gram.samples, 0) << name;
    EXPECT_EQ(p.gram.samples, q.gram.samples) << name;
    EXPECT_EQ(p.gram.h, q.gram.h) << name;
    EXPECT_EQ(p.gram.cross, q.gram.cross) << name;
    EXPECT_EQ(p.gram.dense_h, q.gram.dense_h) << name;
    EXPECT_EQ(p.mean_squares, q.mean_squares) << name;
    // The graph input is the same in both graphs: no cross terms for a; the others have them,
    // and they differ from H (a's weights differ in the dense graph).
    EXPECT_EQ(p.gram.cross.empty(), k == 0) << name;
    if (k > 0) {
      EXPECT_NE(p.gram.cross, p.gram.h) << name;
    }
  }
}

TEST(LayerInputMeter, ManyParallelLayersShareRunsUpToTheCap) {
  const Net net = branchy(600);
  RandomCalibration data(2, 700, -1.f, 1.f);
  ir::Graph g = net.b.g;
  LayerInputMeter::Wanted wanted;
  wanted.gram = true;
  LayerInputMeter meter(g, pointers(net.layers), data, 2, wanted);
  for (size_t k = 0; k < net.layers.size(); ++k) {
    const LayerInputs in = meter.take(k, g);
    ASSERT_EQ(in.gram_why, "") << net.layers[k].name;
    EXPECT_EQ(in.gram.h.size(), 1u);
  }
  // {a}, {b, c}, {d, e0..e254}, {e255..e510}, {e511..e599}: d depends on b, and a batch has
  // 256 layers at most.
  EXPECT_EQ(meter.batches(), 5u);
}

TEST(LayerInputMeter, TakenOutOfOrderIsAnError) {
  const Net net = branchy(0);
  RandomCalibration data(2, 900, -1.f, 1.f);
  LayerInputMeter::Wanted wanted;
  wanted.mean_squares = true;
  LayerInputMeter meter(net.b.g, pointers(net.layers), data, 2, wanted);
  EXPECT_THROW(meter.take(1, net.b.g), Error);
  EXPECT_EQ(meter.take(0, net.b.g).mean_squares_why, "");
  EXPECT_THROW(meter.take(2, net.b.g), Error);
  EXPECT_THROW(meter.take(9, net.b.g), Error);
}

}  // namespace
}  // namespace pare::passes
