// Dropout for training, as torch.nn.functional.dropout: x * keep / (1 - p)
// with keep ~ Bernoulli(1 - p) per element. Pure C++ over libtorch.
//
// Why not at::dropout on CPU: it is bernoulli_ into a float tensor, a div_
// and a mul (three passes, a 4-byte mask kept for backward), and bernoulli_
// was 15% of a BERT-small step at sequence 512 (scripts/bench/train.ts with
// --profile). The CPU kernel here is one pass with a counter-based generator
// (SplitMix64 of seed + index, so every thread computes its own elements and
// the result does not depend on the thread count) and saves a 1-byte mask.
// The seed comes from the default CPU generator, so manualSeed() and the
// checkpoint replay (checkpoint.cc restores that generator) still decide it.
// CUDA keeps at::dropout, whose fused kernel already does this.
#pragma once
#include <torch/torch.h>

namespace bt {

// Identity when !train or p == 0. Differentiable in x (once).
torch::Tensor Dropout(const torch::Tensor& x, double p, bool train);

}  // namespace bt
