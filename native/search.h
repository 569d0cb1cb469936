// ExactIndex: exact top-k search over float32 vectors by inner product
// (cosine = inner product of L2-normalised rows, normalised when added).
// Vectors live in fixed-size row blocks (kBlockRows x dim tensors), so adding
// never copies what is stored; a search multiplies each block by the queries
// (one GEMM) and keeps the block's top-k (torch::topk), merging as it goes:
// no per-row loop anywhere. Ids are int64, unique; remove moves the last row
// into the freed slot. Pure C++ over libtorch, no napi.h.
// Threading: not synchronised; the binding runs every call on the one compute
// executor thread, which serialises them.
#pragma once
#include <torch/torch.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace bt::search {

enum class Metric { Cosine, Dot };
Metric ParseMetric(const std::string& name);  // "cosine" | "dot"
std::string MetricName(Metric m);

struct Hits {
  torch::Tensor ids;     // (Q, k) int64, -1 past the stored count
  torch::Tensor scores;  // (Q, k) float32, -inf past the stored count
};

class ExactIndex {
 public:
  static constexpr int64_t kBlockRows = 32768;
  ExactIndex(int64_t dim, Metric metric);

  // vectors (n, dim) float32, ids (n) int64. Throws c10::ValueError (nothing
  // added) when an id is already stored or repeats within the call.
  void Add(const torch::Tensor& ids, const torch::Tensor& vectors);
  // Returns how many of the ids were stored (unknown ids are skipped).
  int64_t Remove(const torch::Tensor& ids);
  // queries (Q, dim) float32 -> the k best stored rows of each, best first.
  Hits Search(const torch::Tensor& queries, int64_t k) const;
  // The stored vectors of `ids` (n, dim); c10::IndexError for an unknown id.
  torch::Tensor Get(const torch::Tensor& ids) const;
  // File: "BTVI", u32 version, u32 metric, u64 dim, u64 count, int64 ids, float32 rows.
  // Written to path + ".tmp" and renamed. Load checks every size against the file's.
  void Save(const std::string& path) const;
  void Load(const std::string& path);

  int64_t size() const { return size_.load(); }
  int64_t dim() const { return dim_; }
  Metric metric() const { return metric_; }

 private:
  torch::Tensor Row(int64_t r) const;  // a (dim) view of stored row r
  void Reset(int64_t dim, Metric metric);
  int64_t dim_;
  Metric metric_;
  std::vector<torch::Tensor> blocks_;  // each (kBlockRows, dim)
  std::vector<int64_t> ids_;           // row -> id
  std::unordered_map<int64_t, int64_t> rows_;  // id -> row
  std::atomic<int64_t> size_{0};       // read by the JS thread's getters
};

}  // namespace bt::search
