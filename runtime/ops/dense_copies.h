// Ops that read encoded constants (sparse or palette weights, TensorDesc::encoding) fall back
// to their dense kernels for every form without a kernel of its own: the encoded inputs are
// expanded once at prepare into memory the returned kernel owns.
#pragma once

#include <memory>

#include "runtime/op.h"

namespace pare::rt::ops {

// Whether any input of the node is a constant stored sparse or as a palette.
bool has_encoded_input(const PrepareContext& ctx);

// Prepares the node with `factory` on dense copies (rt::densify) of its encoded inputs; the
// returned kernel hands them to the op at every run. Named after the dense kernel, with
// "_expanded" appended when a palette input was expanded.
Result<std::unique_ptr<OpKernel>> prepare_on_dense_copies(const PrepareContext& ctx, OpFactory factory);

}  // namespace pare::rt::ops
