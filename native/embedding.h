// Sentence embeddings over BERT's last hidden state: sentence-transformers'
// Pooling module (mean / cls / max over the tokens the attention mask keeps)
// and the in-batch-negatives loss (MultipleNegativesRankingLoss). Pure C++
// over libtorch, no napi.h. Lifetime: plain values; an Objective is held by
// the BertForTask that trains with it (bert.h). Threading: called from the
// model's worker thread inside forward, like the rest of bert.cc.
#pragma once
#include <torch/torch.h>

#include <string>

namespace bt::embedding {

enum class Pooling { Mean, Cls, Max };
// "mean" | "cls" | "max"; c10::ValueError otherwise.
Pooling ParsePooling(const std::string& name);

// h (B, T, C), mask (B, T) of 0/1 or undefined (all kept) -> (B, C).
// Mean: sum(h * m) / clamp(sum(m), 1e-9); Max: max over kept tokens (others
// set to -1e9); Cls: h[:, 0] (sentence_transformers.models.Pooling).
torch::Tensor Pool(const torch::Tensor& h, const torch::Tensor& mask, Pooling p);

// Row-wise L2 normalisation (sentence_transformers.models.Normalize).
torch::Tensor Normalize(const torch::Tensor& e);

// In-batch negatives (sentence_transformers.losses.MultipleNegativesRankingLoss):
// the batch's rows are anchors (label >= 0) and candidates (label -100); an
// anchor's label is the index of its positive among the candidate rows, and
// every other candidate (the other anchors' positives, hard negatives) is a
// negative. scores = scale * sim(anchor, candidate), loss = cross-entropy.
struct Objective {
  Pooling pooling = Pooling::Mean;
  double scale = 20.0;   // MultipleNegativesRankingLoss(scale=20.0)
  bool cosine = true;    // cos_sim (default) or dot_score
};

struct Ranking {
  torch::Tensor scores;  // (A, N - A) float32
  torch::Tensor loss;    // () float32
};

// emb (N, C), labels (N) int64. c10::IndexError for labels out of range.
Ranking MultipleNegativesRanking(const torch::Tensor& emb, const torch::Tensor& labels, const Objective& o);

// Host-side check of a ranking batch's labels (before they reach a device):
// at least one anchor and one candidate, every anchor label in [0, candidates).
void CheckRankingLabels(const torch::Tensor& labels, int64_t rows);

}  // namespace bt::embedding
