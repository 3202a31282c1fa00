// Which teacher tensor each student layer computes. Passes keep the source node names
// (compressed files may drop internal tensor names), so layers are matched by node name,
// with the names the passes give the nodes they add:
//   X/lowrank_b, X/lowrank_c  the last factor of X's low-rank pair: X's output
//   X/activation              an activation quantize moved out of int8 X: X's output
//   X/dequantize, X/quantize  X's output as float or 8-bit (X a node or a graph input)
// and the same name otherwise. A layer whose fused activation differs from the teacher
// node's, or whose shape differs in every layout, is not aligned (with the reason).
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace pare::check {

struct LayerAlignment {
  ir::NodeId student_node = ir::kNoNode;
  ir::TensorId student_tensor = ir::kNoTensor;  // the node's first output
  ir::TensorId teacher_tensor = ir::kNoTensor;  // kNoTensor when not aligned
  std::string why_not_aligned;
  // The student tensor is 4-D channels-last ([N,H,W,C]) and the teacher's channels-first
  // ([N,C,H,W]), or the other way round: its elements are permuted before comparing.
  bool to_nchw = false;
  bool to_nhwc = false;
};

// Per tensor id of `graph`: true when the tensor holds 4-D data in NHWC layout (written by a
// node with layout = "NHWC", a Transpose to channels-last, or a layout-free node reading one).
std::vector<bool> nhwc_tensors(const ir::Graph& graph);

// One entry per student node with an output, in the student's execution order.
std::vector<LayerAlignment> align_layers(const ir::Graph& teacher, const ir::Graph& student);

// Permutes a 4-D tensor of `dims` (in its own layout) from NHWC to NCHW or back.
void nhwc_to_nchw(const float* in, const std::vector<int64_t>& nhwc_dims, float* out);
void nchw_to_nhwc(const float* in, const std::vector<int64_t>& nchw_dims, float* out);

}  // namespace pare::check
