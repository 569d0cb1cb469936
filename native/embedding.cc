// Pooling and the in-batch-negatives loss, after sentence-transformers'
// models/Pooling.py, models/Normalize.py and losses/MultipleNegativesRankingLoss.py.
// Shapes: B batch, T sequence, C hidden, A anchors, N rows.
#include "embedding.h"

namespace bt::embedding {

namespace F = torch::nn::functional;

Pooling ParsePooling(const std::string& name) {
  if (name == "mean") return Pooling::Mean;
  if (name == "cls") return Pooling::Cls;
  if (name == "max") return Pooling::Max;
  TORCH_CHECK_VALUE(false, "unknown pooling '", name, "' (expected mean, cls or max)");
}

torch::Tensor Pool(const torch::Tensor& h, const torch::Tensor& mask, Pooling p) {
  if (p == Pooling::Cls) return h.select(1, 0);  // (B, C)
  if (!mask.defined()) return p == Pooling::Mean ? h.mean(1) : std::get<0>(h.max(1));
  auto m = mask.unsqueeze(-1).to(h.scalar_type());  // (B, T, 1)
  if (p == Pooling::Mean) return (h * m).sum(1) / m.sum(1).clamp_min(1e-9);
  return std::get<0>(h.masked_fill(m.eq(0), -1e9).max(1));
}

torch::Tensor Normalize(const torch::Tensor& e) {
  return F::normalize(e, F::NormalizeFuncOptions().p(2).dim(1));
}

Ranking MultipleNegativesRanking(const torch::Tensor& emb, const torch::Tensor& labels, const Objective& o) {
  auto flat = labels.reshape({-1});
  auto is_anchor = flat.ne(-100);
  auto anchors = emb.index({is_anchor}).to(torch::kFloat);       // (A, C)
  auto candidates = emb.index({~is_anchor}).to(torch::kFloat);   // (N - A, C)
  auto target = flat.index({is_anchor});                         // (A)
  if (o.cosine) {
    anchors = Normalize(anchors);
    candidates = Normalize(candidates);
  }
  Ranking r;
  r.scores = anchors.mm(candidates.t()) * o.scale;  // (A, N - A)
  r.loss = F::cross_entropy(r.scores, target);
  return r;
}

void CheckRankingLabels(const torch::Tensor& labels, int64_t rows) {
  TORCH_CHECK_VALUE(labels.numel() == rows, "a ranking batch needs one label per row (", rows, "), got ", labels.numel());
  if (!labels.is_cpu()) return;
  auto flat = labels.reshape({-1}).to(torch::kLong);
  auto anchors = flat.ne(-100);
  int64_t a = anchors.sum().item<int64_t>();
  TORCH_CHECK_VALUE(a > 0 && a < rows, "a ranking batch needs anchor rows (label >= 0) and candidate rows (label -100); got ",
                    a, " anchors in ", rows, " rows");
  auto v = flat.index({anchors});
  auto [lo, hi] = at::aminmax(v);
  int64_t mn = lo.item<int64_t>(), mx = hi.item<int64_t>();
  TORCH_CHECK_INDEX(mn >= 0 && mx < rows - a, "index out of range: labels holds ", mn < 0 ? mn : mx,
                    ", outside [0, ", rows - a, ") (the candidate rows of this ranking batch)");
}

}  // namespace bt::embedding
