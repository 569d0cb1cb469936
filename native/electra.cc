// Replaced-token detection: the generator, the discriminator head and the
// joint forward (electra.h). Shapes: B batch, T sequence, C discriminator
// width, Cg generator width, V vocabulary, M masked positions.
#include "electra.h"

#include <algorithm>
#include <limits>

namespace bt::electra {

namespace F = torch::nn::functional;

bert::BertConfig GeneratorConfig(const bert::BertConfig& c) {
  bert::BertConfig g = c;
  g.hidden_size = c.generator_hidden_size > 0 ? c.generator_hidden_size : std::max<int64_t>(1, c.hidden_size / 4);
  if (c.generator_num_attention_heads > 0) {
    g.num_attention_heads = c.generator_num_attention_heads;
  } else {  // a quarter of the heads, fewer until they divide the width
    g.num_attention_heads = std::max<int64_t>(1, std::min(g.hidden_size, c.num_attention_heads / 4));
    while (g.hidden_size % g.num_attention_heads != 0) g.num_attention_heads--;
  }
  g.intermediate_size =
      c.generator_intermediate_size > 0 ? c.generator_intermediate_size : std::max<int64_t>(1, c.intermediate_size / 4);
  g.num_hidden_layers = c.generator_num_hidden_layers > 0 ? c.generator_num_hidden_layers : c.num_hidden_layers;
  TORCH_CHECK_VALUE(g.hidden_size % g.num_attention_heads == 0, "generator_hidden_size ", g.hidden_size,
                    " is not a multiple of generator_num_attention_heads ", g.num_attention_heads);
  return g;
}

GeneratorImpl::GeneratorImpl(const bert::BertConfig& d) {
  auto g = GeneratorConfig(d);
  bert::CheckConfig(g);
  if (g.hidden_size != d.hidden_size)
    embeddings_project = register_module("embeddings_project", torch::nn::Linear(d.hidden_size, g.hidden_size));
  encoder = register_module("encoder", bert::BertEncoder(g));
  dense = register_module("dense", torch::nn::Linear(g.hidden_size, d.hidden_size));
  LayerNorm = register_module("LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d.hidden_size}).eps(d.layer_norm_eps)));
  bias = register_parameter("bias", torch::zeros({d.vocab_size}));
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& emb, const torch::Tensor& mask, const torch::Tensor& rows,
                                     const torch::Tensor& word_embeddings) {
  auto x = embeddings_project ? embeddings_project(emb) : emb;  // (B, T, Cg)
  bert::Output unused;
  auto h = encoder->forward(x, mask, bert::ForwardOptions{}, unused);
  auto scored = h.reshape({-1, h.size(-1)}).index_select(0, rows);  // (M, Cg)
  // ElectraGeneratorPredictions uses gelu whatever the config's hidden_act.
  auto t = LayerNorm(bert::Activation("gelu", dense(scored)));  // (M, C)
  return F::linear(t, word_embeddings, bias);                  // (M, V)
}

DiscriminatorPredictionsImpl::DiscriminatorPredictionsImpl(const bert::BertConfig& c) : act(c.hidden_act) {
  dense = register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size));
  dense_prediction = register_module("dense_prediction", torch::nn::Linear(c.hidden_size, 1));
}

torch::Tensor DiscriminatorPredictionsImpl::forward(const torch::Tensor& h) {
  return dense_prediction(bert::Activation(act, dense(h))).squeeze(-1);  // (B, T)
}

namespace {
// As BertModel's: (1 - mask)[:, None, None, :] * lowest, added to the scores of padded keys.
torch::Tensor AdditiveMask(const torch::Tensor& mask, torch::ScalarType dtype) {
  if (!mask.defined()) return {};
  double lowest = dtype == torch::kHalf ? -65504.0
                  : dtype == torch::kBFloat16 ? -3.3895313892515355e38
                                              : std::numeric_limits<float>::lowest();
  return (1.0 - mask.unsqueeze(1).unsqueeze(2).to(dtype)) * lowest;  // (B, 1, 1, T)
}

// HF ElectraForPreTraining: BCE over the positions whose attention_mask is 1
// (all when there is no mask: the runner drops an all-ones one).
torch::Tensor DiscriminatorLoss(const torch::Tensor& logits, const torch::Tensor& replaced, const torch::Tensor& mask) {
  auto l = logits.to(torch::kFloat).reshape({-1});
  auto y = replaced.to(torch::kFloat).reshape({-1});
  if (mask.defined()) {
    auto active = mask.reshape({-1}).eq(1);
    l = l.masked_select(active);
    y = y.masked_select(active);
  }
  return F::binary_cross_entropy_with_logits(l, y);
}
}  // namespace

bert::Output Forward(bert::BertForTaskImpl& m, const bert::Batch& b, const bert::ForwardOptions& o) {
  TORCH_CHECK_VALUE(b.input_ids.dim() == 2, "input_ids must be (batch, sequence), got ", b.input_ids.sizes());
  bert::Output out;
  bool joint = b.labels.defined() && !at::isFloatingType(b.labels.scalar_type());
  if (!joint) {
    out.logits = m.discriminator_predictions->forward(m.bert->forward(b, o, out));  // (B, T)
    if (b.labels.defined()) out.loss = DiscriminatorLoss(out.logits, b.labels, b.attention_mask);
    return out;
  }
  auto labels = b.labels.reshape({-1});
  auto rows = b.scored_rows.defined() ? b.scored_rows : labels.ne(-100).nonzero().squeeze(1);  // (M)
  auto targets = labels.index_select(0, rows);                                                 // (M)
  auto word_embeddings = m.bert->embeddings->word_embeddings->weight;
  auto emb = m.bert->embeddings(b.input_ids, b.token_type_ids);  // (B, T, C), shared with the discriminator
  auto gen_logits = m.generator->forward(emb, AdditiveMask(b.attention_mask, emb.scalar_type()), rows, word_embeddings);
  // No masked position (a short batch): nothing to generate, every token is original.
  auto gen_loss = rows.size(0) > 0 ? F::cross_entropy(gen_logits.to(torch::kFloat), targets)
                                   : torch::zeros({}, gen_logits.options().dtype(torch::kFloat));
  torch::Tensor corrupted, replaced;
  {
    // The sample is data, not a function of the generator: no gradient flows
    // through it (ELECTRA trains the generator by its MLM loss alone).
    torch::NoGradGuard no_grad;
    auto sampled = torch::multinomial(torch::softmax(gen_logits.detach().to(torch::kFloat), -1), 1).squeeze(1);  // (M)
    auto flat = b.input_ids.reshape({-1});
    auto original = flat.index_copy(0, rows, targets);
    corrupted = flat.index_copy(0, rows, sampled).view_as(b.input_ids);
    // A sample equal to the original token counts as original (Clark et al. 2020, §2).
    replaced = corrupted.reshape({-1}).ne(original).view_as(b.input_ids);  // (B, T) bool
  }
  bert::Batch d{corrupted, b.attention_mask, b.token_type_ids, {}, {}, {}};
  out.logits = m.discriminator_predictions->forward(m.bert->forward(d, o, out));  // (B, T)
  out.loss = gen_loss + kDiscriminatorWeight * DiscriminatorLoss(out.logits, replaced, b.attention_mask);
  return out;
}

}  // namespace bt::electra
