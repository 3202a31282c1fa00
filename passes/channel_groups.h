// Channel coupling for structured pruning (prune_channels): which output channels of which
// Conv/Gemm layers must be removed together, and every node that has to follow.
//
// Tensors are NCHW (or [N, C]) before the layout pass, so the channel axis is axis 1. A
// group collects the tensors whose channels are tied to one another: through channel-wise
// ops (activations, pools), depthwise convs, elementwise ops (a residual Add ties its two
// inputs), Concat on the channel axis (at an offset) and a flatten feeding a Gemm (channel c
// becomes the `spread` = H*W consecutive features c*spread ...). Channels are tied one by one
// with a union-find over (tensor, channel); each resulting class is kept or removed whole.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace pare::passes {

struct GroupTensor {
  ir::TensorId id = ir::kNoTensor;
  int64_t units = 0;   // channels
  int64_t spread = 1;  // features per channel along axis 1 (H*W after a flatten, else 1)
  std::vector<int> class_of;  // per channel: its class in the group
};

enum class MemberRole {
  kProducer,   // Conv (group 1) or Gemm writing a group tensor: drops weight rows and bias
  kConsumer,   // Conv (group 1) or Gemm reading a group tensor: drops weight inputs, gets the bias
  kDepthwise,  // depthwise Conv inside the group: drops weights, bias and groups
  kConstant,   // a per-channel constant of an elementwise op: input `input` is sliced
  kReshape,    // a Reshape flattening a group tensor: its shape constant becomes [N, -1]
};

struct GroupMember {
  ir::NodeId node = ir::kNoNode;
  MemberRole role = MemberRole::kProducer;
  ir::TensorId tensor = ir::kNoTensor;  // the group tensor the member writes or reads
  size_t input = 0;                     // kConstant: the input to slice
};

struct ChannelGroup {
  std::vector<GroupTensor> tensors;
  std::vector<GroupMember> members;
  int num_classes = 0;
  std::string unsafe;  // why the group cannot be pruned; empty when it can

  const GroupTensor* find(ir::TensorId t) const;
  // The source names of the producers, in graph order.
  std::vector<std::string> layers(const ir::Graph& graph) const;
};

// The groups of every Conv/Gemm whose output channels could be pruned, in graph order.
std::vector<ChannelGroup> find_channel_groups(const ir::Graph& graph);

// Conv with group 1 or Gemm, constant float32 weights and bias: its output channels can be
// removed, and its input channels (axis 1 of input 0).
bool is_prunable_layer(const ir::Graph& graph, const ir::Node& node);
// Conv whose groups equal its input and output channels, with constant weights.
bool is_depthwise_conv(const ir::Graph& graph, const ir::Node& node);

}  // namespace pare::passes
