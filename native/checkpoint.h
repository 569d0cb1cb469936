// Gradient checkpointing (torch.utils.checkpoint, reentrant form): run a
// layer without saving activations, and recompute it during backward with the
// RNG state of the first run so dropout masks match. Trades ~1/3 more compute
// for activation memory that no longer grows with depth.
#pragma once
#include <torch/torch.h>

#include <functional>

namespace bt {

using LayerFn = std::function<torch::Tensor(const torch::Tensor&)>;
// y = fn(x), with fn's parameters receiving gradients when y is backpropagated.
torch::Tensor Checkpoint(LayerFn fn, const torch::Tensor& x);

}  // namespace bt
