// All of BERT's forward pass, after HF transformers' modeling_bert.py.
// Shapes: B batch, T sequence, C hidden, H heads, D = C / H.
#include "bert.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "checkpoint.h"
#include "cpu_allocator.h"
#include "dropout.h"
#include "electra.h"

namespace bt::bert {

namespace F = torch::nn::functional;

Task ParseTask(const std::string& name) {
  if (name == "BertModel") return Task::Base;
  if (name == "BertForMaskedLM") return Task::MaskedLM;
  if (name == "BertForSequenceClassification") return Task::SequenceClassification;
  if (name == "BertForTokenClassification") return Task::TokenClassification;
  if (name == "BertForPreTraining") return Task::PreTraining;
  if (name == "BertForReplacedTokenDetection") return Task::ReplacedTokenDetection;
  TORCH_CHECK_VALUE(false, "unknown BERT architecture '", name,
                    "' (expected BertModel, BertForMaskedLM, BertForSequenceClassification, "
                    "BertForTokenClassification, BertForPreTraining or BertForReplacedTokenDetection)");
}

void CheckConfig(const BertConfig& c) {
  const std::pair<const char*, int64_t> sizes[] = {
      {"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size}, {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads}, {"intermediate_size", c.intermediate_size},
      {"max_position_embeddings", c.max_position_embeddings}, {"type_vocab_size", c.type_vocab_size}};
  for (const auto& [name, v] : sizes) TORCH_CHECK_VALUE(v >= 1, "config.", name, " must be a positive integer, got ", v);
  TORCH_CHECK_VALUE(c.num_labels >= 0, "config.num_labels must be >= 0, got ", c.num_labels);
  TORCH_CHECK_VALUE(c.hidden_size % c.num_attention_heads == 0, "hidden_size ", c.hidden_size,
                    " is not a multiple of num_attention_heads ", c.num_attention_heads);
  // In double: the products of absurd sizes overflow int64 (a loop over 2^40
  // layers would otherwise run until the OOM killer ends the process).
  double H = c.hidden_size, I = c.intermediate_size, L = c.num_hidden_layers;
  double embeddings = (static_cast<double>(c.vocab_size) + c.max_position_embeddings + c.type_vocab_size) * H;
  double layer = 4 * H * H + 2 * H * I;
  double heads = 2 * H * H + H * (static_cast<double>(c.num_labels) + 2) + static_cast<double>(c.vocab_size);
  double bytes = 4 * (embeddings + L * layer + heads);
  double memory = static_cast<double>(UsableMemory());
  if (bytes > memory) {
    std::ostringstream os;
    os.precision(3);
    os << "config needs " << bytes / 1e9 << " GB of float32 parameters but this process may use " << memory / 1e9
       << " GB of memory (vocab_size=" << c.vocab_size << ", hidden_size=" << c.hidden_size
       << ", num_hidden_layers=" << c.num_hidden_layers << ", intermediate_size=" << c.intermediate_size << ")";
    TORCH_CHECK_VALUE(false, os.str());
  }
}

torch::Tensor Activation(const std::string& name, const torch::Tensor& x) {
  if (name == "gelu") return at::gelu(x);  // exact erf form
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return at::gelu(x, "tanh");
  if (name == "relu") return at::relu(x);
  if (name == "silu" || name == "swish") return at::silu(x);
  if (name == "tanh") return at::tanh(x);
  TORCH_CHECK_VALUE(false, "unsupported hidden_act '", name, "' (gelu, gelu_new, gelu_pytorch_tanh, relu, silu, tanh)");
}

namespace {
// The modules hold p and the train/eval switch (and keep HF's module tree);
// the work is bt::Dropout's (dropout.h).
torch::Tensor Drop(const torch::nn::Dropout& d, const torch::Tensor& x) {
  return bt::Dropout(x, d->options.p(), d->is_training());
}

torch::nn::LayerNorm MakeLayerNorm(const BertConfig& c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps));
}
}  // namespace

BertEmbeddingsImpl::BertEmbeddingsImpl(const BertConfig& c) : pad_token_id(c.pad_token_id) {
  word_embeddings = register_module("word_embeddings",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(c.vocab_size, c.hidden_size).padding_idx(c.pad_token_id)));
  position_embeddings = register_module("position_embeddings", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size));
  token_type_embeddings = register_module("token_type_embeddings", torch::nn::Embedding(c.type_vocab_size, c.hidden_size));
  LayerNorm = register_module("LayerNorm", MakeLayerNorm(c));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

torch::Tensor BertEmbeddingsImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids) {
  int64_t T = input_ids.size(1);
  TORCH_CHECK_INDEX(T <= position_embeddings->weight.size(0), "sequence length ", T,
                    " exceeds max_position_embeddings ", position_embeddings->weight.size(0));
  auto positions = torch::arange(T, input_ids.options());  // HF default: 0..T-1, not shifted by padding
  auto types = token_type_ids.defined() ? token_type_ids : torch::zeros_like(input_ids);
  auto x = word_embeddings(input_ids) + token_type_embeddings(types) + position_embeddings(positions).unsqueeze(0);
  return Drop(dropout, LayerNorm(x));  // (B, T, C)
}

BertSelfAttentionImpl::BertSelfAttentionImpl(const BertConfig& c)
    : heads(c.num_attention_heads), head_dim(0), use_sdpa(c.use_sdpa) {
  // Checked before dividing: an integer division by 0 is SIGFPE, not an exception.
  TORCH_CHECK_VALUE(c.num_attention_heads >= 1 && c.hidden_size % c.num_attention_heads == 0, "hidden_size ",
                    c.hidden_size, " is not a multiple of num_attention_heads ", c.num_attention_heads);
  head_dim = c.hidden_size / c.num_attention_heads;
  query = register_module("query", torch::nn::Linear(c.hidden_size, c.hidden_size));
  key = register_module("key", torch::nn::Linear(c.hidden_size, c.hidden_size));
  value = register_module("value", torch::nn::Linear(c.hidden_size, c.hidden_size));
  dropout = register_module("dropout", torch::nn::Dropout(c.attention_probs_dropout_prob));
}

torch::Tensor Unpadded::Gather(const torch::Tensor& x) const {
  return x.reshape({B * T, x.size(-1)}).index_select(0, rows);
}

torch::Tensor Unpadded::Scatter(const torch::Tensor& x) const {
  return torch::zeros({B * T, x.size(-1)}, x.options()).index_copy(0, rows, x).view({B, T, x.size(-1)});
}

torch::Tensor BertSelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, torch::Tensor* probs,
                                             const Unpadded* u) {
  if (u) {
    // One (N, C) x (C, 3C) product for q, k and v (concatenating the weights
    // costs 3C^2 copies against 3NC^2 multiply-adds), then onto the grid.
    auto w = torch::cat({query->weight, key->weight, value->weight});
    auto bias = torch::cat({query->bias, key->bias, value->bias});
    // unbind: one gradient buffer for q, k and v (three selects would each
    // zero-fill a full-size one in backward).
    auto qkv = u->Scatter(F::linear(x, w, bias)).view({u->B, u->T, 3, heads, head_dim}).permute({2, 0, 3, 1, 4}).unbind(0);
    auto ctx = Attend(qkv[0], qkv[1], qkv[2], mask, probs);  // (B, H, T, D)
    return u->Gather(ctx.transpose(1, 2).reshape({u->B, u->T, heads * head_dim}));  // (N, C)
  }
  int64_t B = x.size(0), T = x.size(1);
  auto split = [&](const torch::Tensor& t) { return t.view({B, T, heads, head_dim}).transpose(1, 2); };  // (B, H, T, D)
  auto ctx = Attend(split(query(x)), split(key(x)), split(value(x)), mask, probs);
  return ctx.transpose(1, 2).reshape({B, T, heads * head_dim});  // (B, T, C)
}

torch::Tensor BertSelfAttentionImpl::Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                            const torch::Tensor& mask, torch::Tensor* probs) {
  double p = is_training() ? dropout->options.p() : 0.0;
  // On CPU, SDPA with dropout takes its math path, which is this formula with
  // at::dropout; here it gets the one-pass dropout (dropout.h) instead.
  bool cpu_dropout = p > 0 && q.is_cpu();
  if (use_sdpa && probs == nullptr && !cpu_dropout) {
    c10::optional<torch::Tensor> m;
    if (mask.defined()) m = mask;
    return at::scaled_dot_product_attention(q, k, v, m, p, false);
  }
  // The explicit formula (and the only way to return the probabilities).
  // q is scaled rather than the scores: (B, H, T, D) is smaller than (B, H, T, T).
  auto scores = torch::matmul(q * (1.0 / std::sqrt(static_cast<double>(head_dim))), k.transpose(-1, -2));
  if (mask.defined()) scores = scores + mask;
  // Softmax in float32 also when the scores are bf16/fp16 (autocast), then
  // back to v's dtype for the product, as mixed-precision attention does.
  bool reduced = scores.scalar_type() == torch::kBFloat16 || scores.scalar_type() == torch::kHalf;
  auto probs_ = reduced ? torch::softmax(scores, -1, torch::kFloat).to(v.scalar_type()) : torch::softmax(scores, -1);  // (B, H, T, T)
  if (probs) *probs = probs_;
  return torch::matmul(Drop(dropout, probs_), v);
}

BertSelfOutputImpl::BertSelfOutputImpl(const BertConfig& c) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size));
  LayerNorm = register_module("LayerNorm", MakeLayerNorm(c));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

torch::Tensor BertSelfOutputImpl::forward(const torch::Tensor& h, const torch::Tensor& input) {
  return LayerNorm(Drop(dropout, dense(h)) + input);
}

BertAttentionImpl::BertAttentionImpl(const BertConfig& c) {
  self = register_module("self", BertSelfAttention(c));
  output = register_module("output", BertSelfOutput(c));
}

torch::Tensor BertAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, torch::Tensor* probs,
                                         const Unpadded* u) {
  return output(self->forward(x, mask, probs, u), x);
}

BertIntermediateImpl::BertIntermediateImpl(const BertConfig& c) : act(c.hidden_act) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.intermediate_size));
}

torch::Tensor BertIntermediateImpl::forward(const torch::Tensor& x) { return Activation(act, dense(x)); }

BertOutputImpl::BertOutputImpl(const BertConfig& c) {
  dense = register_module("dense", torch::nn::Linear(c.intermediate_size, c.hidden_size));
  LayerNorm = register_module("LayerNorm", MakeLayerNorm(c));
  dropout = register_module("dropout", torch::nn::Dropout(c.hidden_dropout_prob));
}

torch::Tensor BertOutputImpl::forward(const torch::Tensor& h, const torch::Tensor& input) {
  return LayerNorm(Drop(dropout, dense(h)) + input);
}

BertLayerImpl::BertLayerImpl(const BertConfig& c) {
  attention = register_module("attention", BertAttention(c));
  intermediate = register_module("intermediate", BertIntermediate(c));
  output = register_module("output", BertOutput(c));
}

torch::Tensor BertLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, torch::Tensor* probs,
                                     const Unpadded* u) {
  auto a = attention->forward(x, mask, probs, u);
  return output(intermediate(a), a);
}

BertEncoderImpl::BertEncoderImpl(const BertConfig& c) : gradient_checkpointing(c.gradient_checkpointing) {
  layer = register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; i++) layer->push_back(BertLayer(c));
}

torch::Tensor BertEncoderImpl::forward(torch::Tensor x, const torch::Tensor& mask, const ForwardOptions& o, Output& out,
                                       const Unpadded* u) {
  if (o.output_hidden_states) out.hidden_states.push_back(x);
  for (const auto& m : *layer) {
    auto l = std::dynamic_pointer_cast<BertLayerImpl>(m);
    torch::Tensor probs;
    bool checkpoint = gradient_checkpointing && is_training() && torch::GradMode::is_enabled() && !o.output_attentions;
    if (checkpoint) {
      // SDPA may pick a different CPU kernel (with its own dropout RNG use)
      // with and without grad; the explicit path makes the replay exact.
      bool attn_dropout = l->attention->self->dropout->options.p() > 0;
      std::optional<Unpadded> rows;
      if (u) rows = *u;
      x = Checkpoint([l, mask, attn_dropout, rows](const torch::Tensor& in) {
        torch::Tensor probs;
        return l->forward(in, mask, attn_dropout ? &probs : nullptr, rows ? &*rows : nullptr);
      }, x);
    } else {
      x = l->forward(x, mask, o.output_attentions ? &probs : nullptr, u);
    }
    if (o.output_attentions) out.attentions.push_back(probs);
    if (o.output_hidden_states) out.hidden_states.push_back(x);
  }
  return x;
}

BertPoolerImpl::BertPoolerImpl(const BertConfig& c) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size));
}

torch::Tensor BertPoolerImpl::forward(const torch::Tensor& h) { return torch::tanh(dense(h.select(1, 0))); }

BertModelImpl::BertModelImpl(const BertConfig& c, bool add_pooling_layer) {
  embeddings = register_module("embeddings", BertEmbeddings(c));
  encoder = register_module("encoder", BertEncoder(c));
  if (add_pooling_layer) pooler = register_module("pooler", BertPooler(c));
}

namespace {
// HF: (1 - mask)[:, None, None, :] * finfo(dtype).min, added to the scores of padded keys.
torch::Tensor ExtendedMask(const torch::Tensor& mask, torch::ScalarType dtype) {
  if (!mask.defined()) return {};
  double lowest = dtype == torch::kHalf ? -65504.0
                  : dtype == torch::kBFloat16 ? -3.3895313892515355e38
                  : dtype == torch::kDouble ? std::numeric_limits<double>::lowest()
                                            : std::numeric_limits<float>::lowest();
  auto m = mask.unsqueeze(1).unsqueeze(2).to(dtype);  // (B, 1, 1, T)
  return (1.0 - m) * lowest;
}

// The rows to run when skipping padding pays and keeps real tokens' outputs
// exact: there is padding, nobody asked for per-layer outputs, and position 0
// is real in every row (the pooler and CLS pooling read it).
std::optional<Unpadded> RealTokens(const Batch& b, const ForwardOptions& o) {
  const auto& m = b.attention_mask;
  if (!o.skip_padding || o.output_hidden_states || o.output_attentions || o.static_shapes || !m.defined()) return {};
  auto real = m.ne(0);
  if (real.all().item<bool>() || !real.select(1, 0).all().item<bool>()) return {};
  Unpadded u;
  u.B = m.size(0);
  u.T = m.size(1);
  u.rows = real.reshape({-1}).nonzero().squeeze(1);
  return u;
}
}  // namespace

torch::Tensor BertModelImpl::forward(const Batch& b, const ForwardOptions& o, Output& out) {
  TORCH_CHECK_VALUE(b.input_ids.dim() == 2, "input_ids must be (batch, sequence), got ", b.input_ids.sizes());
  auto x = embeddings(b.input_ids, b.token_type_ids);
  auto mask = ExtendedMask(b.attention_mask, x.scalar_type());
  torch::Tensor h;
  if (auto u = RealTokens(b, o)) {
    h = u->Scatter(encoder->forward(u->Gather(x), mask, o, out, &*u));
  } else {
    h = encoder->forward(x, mask, o, out);
  }
  if (pooler) out.pooler_output = pooler(h);
  return h;
}

BertPredictionHeadTransformImpl::BertPredictionHeadTransformImpl(const BertConfig& c) : act(c.hidden_act) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size));
  LayerNorm = register_module("LayerNorm", MakeLayerNorm(c));
}

torch::Tensor BertPredictionHeadTransformImpl::forward(const torch::Tensor& h) {
  return LayerNorm(Activation(act, dense(h)));
}

BertLMPredictionHeadImpl::BertLMPredictionHeadImpl(const BertConfig& c) {
  transform = register_module("transform", BertPredictionHeadTransform(c));
  bias = register_parameter("bias", torch::zeros({c.vocab_size}));
}

torch::Tensor BertLMPredictionHeadImpl::forward(const torch::Tensor& h, const torch::Tensor& word_embeddings) {
  return F::linear(transform(h), word_embeddings, bias);  // (B, T, V)
}

BertHeadsImpl::BertHeadsImpl(const BertConfig& c, bool nsp) {
  predictions = register_module("predictions", BertLMPredictionHead(c));
  if (nsp) seq_relationship = register_module("seq_relationship", torch::nn::Linear(c.hidden_size, 2));
}

BertForTaskImpl::BertForTaskImpl(const BertConfig& c, Task t) : config(c), task(t) {
  CheckConfig(c);
  bool pooler = t == Task::Base || t == Task::SequenceClassification || t == Task::PreTraining;
  bert = register_module("bert", BertModel(c, pooler));
  if (t == Task::MaskedLM || t == Task::PreTraining) cls = register_module("cls", BertHeads(c, t == Task::PreTraining));
  if (t == Task::SequenceClassification || t == Task::TokenClassification) {
    dropout = register_module("dropout", torch::nn::Dropout(c.classifier_dropout.value_or(c.hidden_dropout_prob)));
    classifier = register_module("classifier", torch::nn::Linear(c.hidden_size, c.num_labels));
  }
  if (t == Task::ReplacedTokenDetection) {
    generator = register_module("generator", electra::Generator(c));
    discriminator_predictions = register_module("discriminator_predictions", electra::DiscriminatorPredictions(c));
  }
}

void BertForTaskImpl::InitWeights(at::Generator gen) {
  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* lin = m->as<torch::nn::Linear>()) {
      lin->weight.normal_(0.0, config.initializer_range, gen);
      if (lin->bias.defined()) lin->bias.zero_();
    } else if (auto* emb = m->as<torch::nn::Embedding>()) {
      emb->weight.normal_(0.0, config.initializer_range, gen);
      if (auto pad = emb->options.padding_idx()) emb->weight[*pad].zero_();
    } else if (auto* ln = m->as<torch::nn::LayerNorm>()) {
      ln->weight.fill_(1.0);
      ln->bias.zero_();
    }
  }
  if (cls) cls->predictions->bias.zero_();
}

torch::Tensor BertForTaskImpl::Loss(const torch::Tensor& logits, const torch::Tensor& labels) const {
  if (task == Task::SequenceClassification) {
    std::string pt = config.problem_type;
    if (pt.empty()) {  // HF's inference when config.problem_type is unset
      if (config.num_labels == 1) pt = "regression";
      else if (labels.scalar_type() == torch::kLong || labels.scalar_type() == torch::kInt) pt = "single_label_classification";
      else pt = "multi_label_classification";
    }
    if (pt == "regression") {
      auto l = labels.to(logits.scalar_type());
      return config.num_labels == 1 ? F::mse_loss(logits.squeeze(), l.squeeze()) : F::mse_loss(logits, l);
    }
    if (pt == "multi_label_classification")
      return F::binary_cross_entropy_with_logits(logits, labels.to(logits.scalar_type()));
    TORCH_CHECK_VALUE(pt == "single_label_classification", "unknown problem_type '", pt, "'");
  }
  auto flat = logits.reshape({-1, logits.size(-1)});
  return F::cross_entropy(flat.to(torch::kFloat), labels.reshape({-1}).to(torch::kLong),
                          F::CrossEntropyFuncOptions().ignore_index(-100));
}

Output BertForTaskImpl::forward(const Batch& b, const ForwardOptions& o) {
  if (task == Task::ReplacedTokenDetection) return electra::Forward(*this, b, o);
  Output out;
  auto h = bert->forward(b, o, out);  // (B, T, C)
  switch (task) {
    case Task::Base:
      out.logits = h;
      if (o.pooling) {
        out.sentence_embedding = embedding::Pool(h, b.attention_mask, *o.pooling);  // (B, C)
        if (o.normalize) out.sentence_embedding = embedding::Normalize(out.sentence_embedding);
      }
      if (objective && b.labels.defined()) {
        auto r = embedding::MultipleNegativesRanking(embedding::Pool(h, b.attention_mask, objective->pooling), b.labels, *objective);
        out.logits = r.scores;  // (A, N - A)
        out.loss = r.loss;
      }
      return out;
    case Task::MaskedLM:
    case Task::PreTraining:
      if (task == Task::PreTraining) out.seq_relationship_logits = cls->seq_relationship(out.pooler_output);  // (B, 2)
      if (o.loss_only && !o.static_shapes && b.labels.defined()) {
        // Same loss as cross-entropy over all positions with ignore_index -100.
        auto labels = b.labels.reshape({-1});
        auto rows = b.scored_rows.defined() ? b.scored_rows : labels.ne(-100).nonzero().squeeze(1);  // (M)
        auto scored = h.reshape({-1, h.size(-1)}).index_select(0, rows);  // (M, C)
        auto logits = cls->predictions->forward(scored, bert->embeddings->word_embeddings->weight);  // (M, V)
        out.loss = F::cross_entropy(logits.to(torch::kFloat), labels.index_select(0, rows));
        if (task == Task::PreTraining && b.next_sentence_label.defined())
          out.loss = out.loss + F::cross_entropy(out.seq_relationship_logits.to(torch::kFloat), b.next_sentence_label.reshape({-1}));
        return out;
      }
      out.logits = cls->predictions->forward(h, bert->embeddings->word_embeddings->weight);  // (B, T, V)
      break;
    case Task::SequenceClassification:
      out.logits = classifier(Drop(dropout, out.pooler_output));  // (B, L)
      break;
    case Task::TokenClassification:
      out.logits = classifier(Drop(dropout, h));  // (B, T, L)
      break;
    case Task::ReplacedTokenDetection:  // electra::Forward, above
      break;
  }
  if (b.labels.defined()) {
    out.loss = Loss(out.logits, b.labels);
    if (task == Task::PreTraining && b.next_sentence_label.defined())
      out.loss = out.loss + F::cross_entropy(out.seq_relationship_logits.to(torch::kFloat), b.next_sentence_label.reshape({-1}));
  }
  return out;
}

}  // namespace bt::bert
