// BERT as torch::nn modules, one class per HuggingFace sub-module, registered
// under HF's checkpoint names (LayerNorm, dense, query, ...) so that
// named_parameters() equals HF's state_dict keys. Pure C++ over libtorch.
// Lifetime: modules are shared_ptr-held (TORCH_MODULE); the JS Model owns the
// top module. Threading: forward/backward run on one worker thread at a time.
#pragma once
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "embedding.h"

namespace bt::electra {
struct GeneratorImpl;
struct DiscriminatorPredictionsImpl;
}  // namespace bt::electra

namespace bt::bert {

// HF BertConfig fields (config.json names in comments).
struct BertConfig {
  int64_t vocab_size = 30522;             // vocab_size
  int64_t hidden_size = 768;              // hidden_size
  int64_t num_hidden_layers = 12;         // num_hidden_layers
  int64_t num_attention_heads = 12;       // num_attention_heads
  int64_t intermediate_size = 3072;       // intermediate_size
  int64_t max_position_embeddings = 512;  // max_position_embeddings
  int64_t type_vocab_size = 2;            // type_vocab_size
  std::string hidden_act = "gelu";        // hidden_act: gelu | gelu_new | gelu_pytorch_tanh | relu | silu | tanh
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  std::optional<double> classifier_dropout;  // classifier_dropout (null -> hidden_dropout_prob)
  double layer_norm_eps = 1e-12;
  double initializer_range = 0.02;
  int64_t pad_token_id = 0;
  int64_t num_labels = 2;
  std::string problem_type;  // "", single_label_classification, multi_label_classification, regression
  // bertorch switches (not HF config keys)
  bool use_sdpa = true;                 // fused attention when it is exact enough
  bool gradient_checkpointing = false;  // recompute each layer in backward
  // ReplacedTokenDetection's generator (electra.h); 0 = derived from the above.
  int64_t generator_hidden_size = 0, generator_num_attention_heads = 0;
  int64_t generator_intermediate_size = 0, generator_num_hidden_layers = 0;
};

// Throws c10::ValueError naming the field for a config no model can be built
// from: a size below 1, heads that do not divide hidden_size, or more float32
// parameters than this machine has memory (they are first made on the CPU).
void CheckConfig(const BertConfig& c);

enum class Task { Base, MaskedLM, SequenceClassification, TokenClassification, PreTraining, ReplacedTokenDetection };
Task ParseTask(const std::string& name);

struct Batch {
  torch::Tensor input_ids;       // (B, T) int64
  torch::Tensor attention_mask;  // (B, T) int64, optional
  torch::Tensor token_type_ids;  // (B, T) int64, optional
  torch::Tensor labels;          // task-specific, optional
  torch::Tensor next_sentence_label;  // (B,) for PreTraining, optional
  // MLM: flat indices of the positions with a label, found on the host before
  // the batch moved to a GPU, so the loss needs no nonzero() (a sync). Optional.
  torch::Tensor scored_rows;     // (M,) int64
};

struct ForwardOptions {
  bool output_hidden_states = false;
  bool output_attentions = false;
  // Training steps need only the loss: the MLM decoder (V x C per token, most
  // of a small BERT's FLOPs) then runs on the scored positions alone.
  bool loss_only = false;
  // No data-dependent shapes (CUDA graph capture): MLM scores every position.
  bool static_shapes = false;
  // BertModel: also return the pooled sentence embedding (embedding.h), L2-normalised if asked.
  std::optional<embedding::Pooling> pooling;
  bool normalize = false;
  // Pad tokens skip every per-token layer (the linear layers, LayerNorm,
  // activation: nearly all FLOPs at the short lengths of real text); only
  // attention sees the padded (B, T) grid. Real tokens' outputs are HF's; pad
  // positions' hidden states are 0 instead of values nothing should read.
  // Ignored with hidden states, attentions, static shapes or left padding.
  bool skip_padding = false;
};

// The real tokens of a padded (B, T) batch: `rows` are their flat indices
// into B * T, in order. Per-token layers run on (N, C) rows; attention
// scatters them back onto the grid.
struct Unpadded {
  torch::Tensor rows;  // (N,) int64
  int64_t B = 0, T = 0;
  torch::Tensor Gather(const torch::Tensor& x) const;   // (B, T, C) -> (N, C)
  torch::Tensor Scatter(const torch::Tensor& x) const;  // (N, C) -> (B, T, C), zeros at pads
};

struct Output {
  torch::Tensor loss;               // undefined when there are no labels
  torch::Tensor logits;             // task logits; last_hidden_state for Base
  torch::Tensor seq_relationship_logits;  // PreTraining only
  torch::Tensor pooler_output;      // when the model has a pooler
  torch::Tensor sentence_embedding; // (B, C) with ForwardOptions::pooling
  std::vector<torch::Tensor> hidden_states;  // embeddings + each layer, if asked
  std::vector<torch::Tensor> attentions;     // each layer's probabilities, if asked
};

torch::Tensor Activation(const std::string& name, const torch::Tensor& x);

struct BertEmbeddingsImpl : torch::nn::Module {
  explicit BertEmbeddingsImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids);
  torch::nn::Embedding word_embeddings{nullptr}, position_embeddings{nullptr}, token_type_embeddings{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
  int64_t pad_token_id;
};
TORCH_MODULE(BertEmbeddings);

struct BertSelfAttentionImpl : torch::nn::Module {
  explicit BertSelfAttentionImpl(const BertConfig& c);
  // x (B, T, C), or (N, C) rows with u; mask (B, 1, 1, T) additive; probs filled when asked for.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, torch::Tensor* probs,
                        const Unpadded* u = nullptr);
  torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       const torch::Tensor& mask, torch::Tensor* probs);  // (B, H, T, D) each
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
  torch::nn::Dropout dropout{nullptr};
  int64_t heads, head_dim;
  bool use_sdpa;
};
TORCH_MODULE(BertSelfAttention);

struct BertSelfOutputImpl : torch::nn::Module {
  explicit BertSelfOutputImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& input);
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertSelfOutput);

struct BertAttentionImpl : torch::nn::Module {
  explicit BertAttentionImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, torch::Tensor* probs,
                        const Unpadded* u = nullptr);
  BertSelfAttention self{nullptr};
  BertSelfOutput output{nullptr};
};
TORCH_MODULE(BertAttention);

struct BertIntermediateImpl : torch::nn::Module {
  explicit BertIntermediateImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear dense{nullptr};
  std::string act;
};
TORCH_MODULE(BertIntermediate);

struct BertOutputImpl : torch::nn::Module {
  explicit BertOutputImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& input);
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(BertOutput);

struct BertLayerImpl : torch::nn::Module {
  explicit BertLayerImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, torch::Tensor* probs,
                        const Unpadded* u = nullptr);
  BertAttention attention{nullptr};
  BertIntermediate intermediate{nullptr};
  BertOutput output{nullptr};
};
TORCH_MODULE(BertLayer);

struct BertEncoderImpl : torch::nn::Module {
  explicit BertEncoderImpl(const BertConfig& c);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask, const ForwardOptions& o, Output& out,
                        const Unpadded* u = nullptr);
  torch::nn::ModuleList layer{nullptr};
  bool gradient_checkpointing;
};
TORCH_MODULE(BertEncoder);

struct BertPoolerImpl : torch::nn::Module {
  explicit BertPoolerImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& h);  // tanh(dense(h[:, 0]))
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(BertPooler);

struct BertModelImpl : torch::nn::Module {
  BertModelImpl(const BertConfig& c, bool add_pooling_layer);
  // Returns last_hidden_state (B, T, C); fills out.pooler_output / hidden states.
  torch::Tensor forward(const Batch& b, const ForwardOptions& o, Output& out);
  BertEmbeddings embeddings{nullptr};
  BertEncoder encoder{nullptr};
  BertPooler pooler{nullptr};
};
TORCH_MODULE(BertModel);

struct BertPredictionHeadTransformImpl : torch::nn::Module {
  explicit BertPredictionHeadTransformImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& h);
  torch::nn::Linear dense{nullptr};
  torch::nn::LayerNorm LayerNorm{nullptr};
  std::string act;
};
TORCH_MODULE(BertPredictionHeadTransform);

// decoder.weight is tied to the word embeddings and decoder.bias to `bias`,
// as in HF; neither is a separate parameter here.
struct BertLMPredictionHeadImpl : torch::nn::Module {
  explicit BertLMPredictionHeadImpl(const BertConfig& c);
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& word_embeddings);
  BertPredictionHeadTransform transform{nullptr};
  torch::Tensor bias;
};
TORCH_MODULE(BertLMPredictionHead);

// "cls": predictions (+ seq_relationship for PreTraining).
struct BertHeadsImpl : torch::nn::Module {
  BertHeadsImpl(const BertConfig& c, bool nsp);
  BertLMPredictionHead predictions{nullptr};
  torch::nn::Linear seq_relationship{nullptr};
};
TORCH_MODULE(BertHeads);

// One module for every task: "bert" plus the task's head, with HF's names.
struct BertForTaskImpl : torch::nn::Module {
  BertForTaskImpl(const BertConfig& c, Task task);
  Output forward(const Batch& b, const ForwardOptions& o);
  // HF _init_weights: normal(0, initializer_range) weights, zero biases,
  // LayerNorm ones/zeros, the padding embedding row zeroed.
  void InitWeights(at::Generator gen);
  torch::Tensor Loss(const torch::Tensor& logits, const torch::Tensor& labels) const;

  BertConfig config;
  Task task;
  // BertModel trained for sentence embeddings: with labels, forward pools and
  // returns the in-batch-negatives scores as logits and their loss (embedding.h).
  std::optional<embedding::Objective> objective;
  BertModel bert{nullptr};
  BertHeads cls{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear classifier{nullptr};
  // ReplacedTokenDetection only (electra.h).
  std::shared_ptr<electra::GeneratorImpl> generator;
  std::shared_ptr<electra::DiscriminatorPredictionsImpl> discriminator_predictions;
};
TORCH_MODULE(BertForTask);

}  // namespace bt::bert
