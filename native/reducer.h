// GradReducer: DDP's gradient averaging overlapped with backward, as PyTorch's
// c10d Reducer does it. Parameters are grouped once into flat buckets of about
// bucket_bytes in REVERSE registration order (gradients become ready roughly
// in that order); an autograd hook on each parameter's AccumulateGrad node
// marks it ready, and a bucket whose parameters are all ready is copied into
// its flat buffer and its all-reduce launched while backward goes on.
// dist::AverageGradients (after backward) is the plain reference path.
// Lifetime: owned by a BertRunner; holds the group, the parameters and their
// AccumulateGrad nodes (the hooks live on the nodes, which autograd would
// otherwise free and recreate without them); the destructor removes the hooks.
// Threading: Arm/Finish/Abandon on the thread that runs backward; hooks on the
// autograd engine's thread for the parameters' device (the same thread on CPU),
// guarded by a mutex.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "dist.h"

namespace torch::autograd {
struct Node;
}

namespace bt::dist {

class GradReducer {
 public:
  GradReducer(std::shared_ptr<Group> group, std::vector<torch::Tensor> params, int64_t bucket_bytes);
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // The next backward reduces: hooks launch buckets as they fill.
  void Arm();
  // After backward returned: launches the buckets still pending (zeros for
  // parameters that got no gradient), waits for all of them, and leaves the
  // average over ranks in every parameter's .grad.
  void Finish();
  // After a failed backward or wait: disarms, so the next step starts clean.
  void Abandon();

  struct Stats {
    int64_t buckets = 0;
    int64_t reductions = 0;          // Finish() calls that completed
    int64_t launched_in_backward = 0;  // buckets launched by hooks, all steps
  };
  Stats stats() const { return stats_; }

 private:
  struct Bucket {
    std::vector<size_t> params;   // indices into params_, in bucket order
    std::vector<int64_t> offsets;  // each one's start in `flat`
    torch::Tensor flat;            // preallocated, 1-D, the bucket's dtype/device
    size_t pending = 0;            // parameters not yet ready this step
    std::function<void()> wait;    // set once launched
  };
  class Hook;
  void MarkReady(size_t param);  // called by the hook of params_[param]
  void LaunchReadyPrefix();
  void Launch(Bucket& b);

  std::shared_ptr<Group> group_;
  std::vector<torch::Tensor> params_;
  std::vector<Bucket> buckets_;
  struct Loc {
    size_t bucket, slot;
  };
  std::vector<Loc> loc_;  // param index -> where it sits in the buckets
  std::vector<bool> ready_;
  size_t next_launch_ = 0;  // buckets launch in index order on every rank
  bool armed_ = false;
  std::mutex mu_;
  std::vector<std::pair<std::shared_ptr<torch::autograd::Node>, uintptr_t>> hooks_;
  Stats stats_;
};

}  // namespace bt::dist
