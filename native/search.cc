// Exact top-k search in row blocks (search.h), then its JS binding.
// Shapes: Q queries, R rows of a block, D dim, k results.
#include "search.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <unordered_set>

namespace bt::search {

namespace F = torch::nn::functional;

Metric ParseMetric(const std::string& name) {
  if (name == "cosine") return Metric::Cosine;
  if (name == "dot") return Metric::Dot;
  TORCH_CHECK_VALUE(false, "unknown metric '", name, "' (expected cosine or dot)");
}

std::string MetricName(Metric m) { return m == Metric::Cosine ? "cosine" : "dot"; }

ExactIndex::ExactIndex(int64_t dim, Metric metric) { Reset(dim, metric); }

void ExactIndex::Reset(int64_t dim, Metric metric) {
  TORCH_CHECK_VALUE(dim >= 1, "an index needs dim >= 1, got ", dim);
  dim_ = dim;
  metric_ = metric;
  blocks_.clear();
  ids_.clear();
  rows_.clear();
  size_ = 0;
}

torch::Tensor ExactIndex::Row(int64_t r) const { return blocks_[r / kBlockRows][r % kBlockRows]; }

void ExactIndex::Add(const torch::Tensor& ids, const torch::Tensor& vectors) {
  torch::NoGradGuard no_grad;
  int64_t n = ids.numel();
  TORCH_CHECK_VALUE(vectors.dim() == 2 && vectors.size(0) == n && vectors.size(1) == dim_, "expected (", n, ", ", dim_,
                    ") vectors for ", n, " ids, got ", vectors.sizes());
  auto id = ids.to(torch::kLong).contiguous();
  const int64_t* p = id.data_ptr<int64_t>();
  std::unordered_set<int64_t> seen;
  seen.reserve(n);
  for (int64_t i = 0; i < n; i++) {
    TORCH_CHECK_VALUE(!rows_.count(p[i]), "id ", p[i], " is already in the index (remove it first)");
    TORCH_CHECK_VALUE(seen.insert(p[i]).second, "id ", p[i], " appears twice in one add");
  }
  auto v = vectors.to(torch::kFloat).contiguous();
  if (metric_ == Metric::Cosine) v = F::normalize(v, F::NormalizeFuncOptions().p(2).dim(1));
  int64_t size = size_.load(), done = 0;
  while (done < n) {
    int64_t b = size / kBlockRows, off = size % kBlockRows;
    if (b == static_cast<int64_t>(blocks_.size())) blocks_.push_back(torch::empty({kBlockRows, dim_}));
    int64_t m = std::min(n - done, kBlockRows - off);
    blocks_[b].narrow(0, off, m).copy_(v.narrow(0, done, m));
    done += m;
    size += m;
  }
  ids_.insert(ids_.end(), p, p + n);
  for (int64_t i = 0; i < n; i++) rows_[p[i]] = size_.load() + i;
  size_ = size;
}

int64_t ExactIndex::Remove(const torch::Tensor& ids) {
  torch::NoGradGuard no_grad;
  auto id = ids.to(torch::kLong).contiguous();
  const int64_t* p = id.data_ptr<int64_t>();
  int64_t removed = 0;
  for (int64_t i = 0; i < id.numel(); i++) {
    auto it = rows_.find(p[i]);
    if (it == rows_.end()) continue;
    int64_t r = it->second, last = size_.load() - 1;
    rows_.erase(it);
    if (r != last) {  // the last row fills the hole
      Row(r).copy_(Row(last));
      ids_[r] = ids_[last];
      rows_[ids_[r]] = r;
    }
    ids_.pop_back();
    size_ = last;
    removed++;
  }
  int64_t needed = (size_.load() + kBlockRows - 1) / kBlockRows;
  while (static_cast<int64_t>(blocks_.size()) > needed) blocks_.pop_back();
  return removed;
}

Hits ExactIndex::Search(const torch::Tensor& queries, int64_t k) const {
  torch::NoGradGuard no_grad;
  TORCH_CHECK_VALUE(queries.dim() == 2 && queries.size(1) == dim_, "expected (Q, ", dim_, ") queries, got ", queries.sizes());
  TORCH_CHECK_VALUE(k >= 1, "k must be >= 1, got ", k);
  auto q = queries.to(torch::kFloat).contiguous();
  if (metric_ == Metric::Cosine) q = F::normalize(q, F::NormalizeFuncOptions().p(2).dim(1));
  int64_t Q = q.size(0), size = size_.load(), kk = std::min(k, size);
  Hits out{torch::full({Q, k}, -1, torch::kLong), torch::full({Q, k}, -std::numeric_limits<float>::infinity())};
  if (kk == 0 || Q == 0) return out;
  // Queries in chunks, so a chunk's (Q, R) score block stays near 128 MB.
  const int64_t kQueryChunk = 1024;
  for (int64_t q0 = 0; q0 < Q; q0 += kQueryChunk) {
    auto qc = q.narrow(0, q0, std::min(kQueryChunk, Q - q0));  // (Qc, D)
    std::vector<torch::Tensor> vals, rows;
    for (size_t b = 0; b < blocks_.size(); b++) {
      int64_t base = static_cast<int64_t>(b) * kBlockRows, R = std::min(kBlockRows, size - base);
      auto s = qc.mm(blocks_[b].narrow(0, 0, R).t());  // (Qc, R)
      auto [v, i] = s.topk(std::min(kk, R), 1);
      vals.push_back(v);
      rows.push_back(i + base);
    }
    auto all_v = torch::cat(vals, 1), all_r = torch::cat(rows, 1);  // (Qc, k * blocks)
    auto [v, j] = all_v.topk(kk, 1);
    auto r = all_r.gather(1, j).contiguous();
    // Rows -> ids: Qc * kk lookups.
    auto ids = torch::empty_like(r);
    const int64_t* rp = r.data_ptr<int64_t>();
    int64_t* ip = ids.data_ptr<int64_t>();
    for (int64_t x = 0; x < r.numel(); x++) ip[x] = ids_[rp[x]];
    out.ids.narrow(0, q0, qc.size(0)).narrow(1, 0, kk).copy_(ids);
    out.scores.narrow(0, q0, qc.size(0)).narrow(1, 0, kk).copy_(v);
  }
  return out;
}

torch::Tensor ExactIndex::Get(const torch::Tensor& ids) const {
  auto id = ids.to(torch::kLong).contiguous();
  const int64_t* p = id.data_ptr<int64_t>();
  auto out = torch::empty({id.numel(), dim_});
  for (int64_t i = 0; i < id.numel(); i++) {
    auto it = rows_.find(p[i]);
    TORCH_CHECK_INDEX(it != rows_.end(), "id ", p[i], " is not in the index");
    out[i].copy_(Row(it->second));
  }
  return out;
}

namespace {
constexpr char kMagic[4] = {'B', 'T', 'V', 'I'};
constexpr uint32_t kVersion = 1;
struct Header {
  char magic[4];
  uint32_t version, metric;
  uint64_t dim, count;
};
}  // namespace

void ExactIndex::Save(const std::string& path) const {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    TORCH_CHECK_VALUE(f, "cannot write ", tmp, ": ", std::strerror(errno));
    Header h{};
    std::memcpy(h.magic, kMagic, 4);
    h.version = kVersion;
    h.metric = metric_ == Metric::Cosine ? 0 : 1;
    h.dim = dim_;
    h.count = size_.load();
    f.write(reinterpret_cast<const char*>(&h), sizeof h);
    f.write(reinterpret_cast<const char*>(ids_.data()), ids_.size() * sizeof(int64_t));
    int64_t left = size_.load();
    for (const auto& b : blocks_) {
      int64_t m = std::min(left, kBlockRows);
      f.write(reinterpret_cast<const char*>(b.data_ptr<float>()), m * dim_ * sizeof(float));
      left -= m;
    }
    f.flush();
    TORCH_CHECK_VALUE(f, "writing ", tmp, " failed: ", std::strerror(errno));
  }
  TORCH_CHECK_VALUE(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename ", tmp, " to ", path, ": ", std::strerror(errno));
}

void ExactIndex::Load(const std::string& path) {
  torch::NoGradGuard no_grad;
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  TORCH_CHECK_VALUE(f, "cannot read ", path, ": ", std::strerror(errno));
  uint64_t bytes = static_cast<uint64_t>(f.tellg());
  f.seekg(0);
  Header h{};
  TORCH_CHECK_VALUE(bytes >= sizeof h && f.read(reinterpret_cast<char*>(&h), sizeof h) && std::memcmp(h.magic, kMagic, 4) == 0,
                    path, " is not a bertorch index file (no BTVI header)");
  TORCH_CHECK_VALUE(h.version == kVersion, path, ": index format version ", h.version, " is not supported (expected ", kVersion, ")");
  TORCH_CHECK_VALUE(h.metric <= 1 && h.dim >= 1 && h.dim < (1u << 20), path, ": corrupt header (metric ", h.metric, ", dim ", h.dim, ")");
  TORCH_CHECK_VALUE(h.count < (uint64_t{1} << 40) && bytes == sizeof h + h.count * (8 + 4 * h.dim), path, ": ", bytes,
                    " bytes, but the header's ", h.count, " vectors of dim ", h.dim, " need ", sizeof h + h.count * (8 + 4 * h.dim));
  // Rows go straight into blocks: no second copy of the whole file in memory.
  Reset(static_cast<int64_t>(h.dim), h.metric == 0 ? Metric::Cosine : Metric::Dot);
  ids_.resize(h.count);
  f.read(reinterpret_cast<char*>(ids_.data()), h.count * sizeof(int64_t));
  int64_t count = static_cast<int64_t>(h.count);
  for (int64_t done = 0; done < count; done += kBlockRows) {
    blocks_.push_back(torch::empty({kBlockRows, dim_}));
    int64_t m = std::min(kBlockRows, count - done);
    f.read(reinterpret_cast<char*>(blocks_.back().data_ptr<float>()), m * dim_ * sizeof(float));
  }
  bool ok = static_cast<bool>(f);
  rows_.reserve(count);
  for (int64_t r = 0; ok && r < count; r++) ok = rows_.emplace(ids_[r], r).second;
  if (!ok) {
    Reset(dim_, metric_);
    TORCH_CHECK_VALUE(false, path, ": reading failed or the file repeats an id");
  }
  size_ = count;
}

}  // namespace bt::search
