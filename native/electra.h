// Replaced-token detection (ELECTRA, Clark et al. 2020, arXiv:2003.10555):
// a small MLM generator fills the masked positions with tokens sampled from
// its softmax, and the discriminator (the BERT we keep) tells, for every
// non-pad token, whether it is the original or a replacement. Both share the
// BERT's embeddings; the generator projects them to its narrower width.
// Lifetime: the modules are registered on the BertForTask that owns them
// (bert.h); nothing here holds state between calls. Pure C++ over libtorch.
#pragma once
#include <torch/torch.h>

#include "bert.h"

namespace bt::electra {

// HF ElectraForPreTraining scales the discriminator's BCE by this against the
// generator's MLM loss (the paper's lambda).
constexpr double kDiscriminatorWeight = 50.0;

// The generator's own sizes: the generator_* fields of the config, each 0
// meaning a quarter of the discriminator's (ELECTRA's best ratio; heads
// rounded down until they divide the width), all layers.
bert::BertConfig GeneratorConfig(const bert::BertConfig& c);

// ElectraGeneratorPredictions + the LM head tied to the shared word embeddings:
// dense (Cg -> C), gelu, LayerNorm(C), then logits against the (V, C) embeddings.
struct GeneratorImpl : torch::nn::Module {
  explicit GeneratorImpl(const bert::BertConfig& discriminator);
  // emb: the shared embeddings' output (B, T, C); mask additive (B, 1, 1, T) or
  // undefined; rows: flat indices of the masked positions. Returns (M, V) logits.
  torch::Tensor forward(const torch::Tensor& emb, const torch::Tensor& mask, const torch::Tensor& rows,
                        const torch::Tensor& word_embeddings);
  torch::nn::Linear embeddings_project{nullptr};  // only when Cg != C
  bert::BertEncoder encoder{nullptr};
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::Tensor bias;  // (V,) the LM head's bias
};
TORCH_MODULE(Generator);

// HF ElectraDiscriminatorPredictions: dense, hidden_act, dense_prediction -> 1 logit.
struct DiscriminatorPredictionsImpl : torch::nn::Module {
  explicit DiscriminatorPredictionsImpl(const bert::BertConfig& c);
  torch::Tensor forward(const torch::Tensor& h);  // (B, T, C) -> (B, T)
  torch::nn::Linear dense{nullptr}, dense_prediction{nullptr};
  std::string act;
};
TORCH_MODULE(DiscriminatorPredictions);

// BertForTask's forward for Task::ReplacedTokenDetection.
// - labels int64 (MLM targets, -100 where not masked; input_ids masked): the
//   whole objective. The generator's MLM loss plus kDiscriminatorWeight times
//   the discriminator's BCE on the ids with sampled replacements; logits are
//   the discriminator's (B, T).
// - labels float (B, T), 1 = replaced: the discriminator alone on input_ids as
//   given, with HF ElectraForPreTraining's loss (BCE over attention_mask == 1).
// - no labels: the discriminator's logits.
bert::Output Forward(bert::BertForTaskImpl& m, const bert::Batch& b, const bert::ForwardOptions& o);

}  // namespace bt::electra
