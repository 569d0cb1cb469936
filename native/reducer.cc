#include "reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

namespace bt::dist {

// Runs after a parameter's AccumulateGrad node, i.e. once its .grad holds
// everything this backward adds to it. A post hook on the node is what c10d's
// Reducer uses and exists in every libtorch >= 2.1; the C++ Tensor API has no
// register_post_accumulate_grad_hook, and the autograd meta's single
// post_acc_grad_hooks slot (2.2+) is where Python keeps its own hooks.
class GradReducer::Hook : public torch::autograd::FunctionPostHook {
 public:
  Hook(GradReducer* reducer, size_t param) : reducer_(reducer), param_(param) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    reducer_->MarkReady(param_);
    return outputs;
  }

 private:
  GradReducer* reducer_;
  size_t param_;
};

GradReducer::GradReducer(std::shared_ptr<Group> group, std::vector<torch::Tensor> params, int64_t bucket_bytes)
    : group_(std::move(group)) {
  for (auto& p : params)
    if (p.requires_grad()) params_.push_back(p);
  loc_.resize(params_.size());
  ready_.assign(params_.size(), false);
  // Reverse registration order; a bucket holds one dtype on one device and
  // closes before it would pass bucket_bytes (a bigger parameter gets its own).
  int64_t bytes = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const auto& p = params_[k];
    int64_t nbytes = p.numel() * static_cast<int64_t>(p.element_size());
    const torch::Tensor* first = buckets_.empty() ? nullptr : &params_[buckets_.back().params[0]];
    if (!first || bytes + nbytes > bucket_bytes || p.scalar_type() != first->scalar_type() ||
        p.device() != first->device()) {
      buckets_.emplace_back();
      bytes = 0;
    }
    auto& b = buckets_.back();
    loc_[k] = {buckets_.size() - 1, b.params.size()};
    b.offsets.push_back(b.params.empty() ? 0 : b.offsets.back() + params_[b.params.back()].numel());
    b.params.push_back(k);
    bytes += nbytes;
  }
  for (auto& b : buckets_) {
    const auto& last = params_[b.params.back()];
    b.flat = torch::empty({b.offsets.back() + last.numel()}, last.options());
    b.pending = b.params.size();
  }
  stats_.buckets = static_cast<int64_t>(buckets_.size());
  // Before any hook can launch a bucket: ranks whose models differ (or whose
  // bucket sizes do) would give Gloo buckets of different sizes, which ends the
  // process; checked here, it is a DistError (DDP's verify_params_across_processes).
  CheckSameOnEveryRank(*group_, "gradient all-reduce", params_, bucket_bytes);

  for (size_t k = 0; k < params_.size(); k++) {
    // Autograd keeps only a weak reference to a leaf's AccumulateGrad node;
    // holding it here keeps the node, and so the hook, across steps.
    auto node = torch::autograd::impl::grad_accumulator(params_[k]);
    TORCH_INTERNAL_ASSERT(node, "a parameter that requires grad has no grad accumulator");
    uintptr_t key = node->add_post_hook(std::make_unique<Hook>(this, k));
    hooks_.emplace_back(std::move(node), key);
  }
}

GradReducer::~GradReducer() {
  for (auto& [node, key] : hooks_) node->del_post_hook(key);
}

void GradReducer::Arm() {
  std::lock_guard<std::mutex> lock(mu_);
  TORCH_INTERNAL_ASSERT(!armed_ && next_launch_ == 0, "GradReducer armed twice");
  armed_ = true;
}

void GradReducer::MarkReady(size_t param) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!armed_) return;  // a backward that does not reduce (no_sync, or a user's own)
  // DDP refuses this too: a second accumulation could land after the bucket
  // left (a parameter used both inside and outside a checkpointed layer).
  TORCH_CHECK(!ready_[param], "a parameter's gradient was accumulated twice in one backward; "
                              "data-parallel training needs each parameter reached once");
  torch::NoGradGuard no_grad;
  ready_[param] = true;
  auto& b = buckets_[loc_[param].bucket];
  const auto& p = params_[param];
  auto dst = b.flat.narrow(0, b.offsets[loc_[param].slot], p.numel()).view(p.sizes());
  if (p.grad().defined()) dst.copy_(p.grad());
  else dst.zero_();  // AccumulateGrad saw an undefined gradient
  if (--b.pending > 0) return;
  size_t before = next_launch_;
  LaunchReadyPrefix();
  stats_.launched_in_backward += static_cast<int64_t>(next_launch_ - before);
}

// Gloo matches collectives by issue order, and hooks may fire in a different
// order on each rank, so bucket i leaves only after buckets 0..i-1 have.
void GradReducer::LaunchReadyPrefix() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) Launch(buckets_[next_launch_++]);
}

void GradReducer::Launch(Bucket& b) { b.wait = AllReduceSumAsync(*group_, b.flat); }

void GradReducer::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  TORCH_INTERNAL_ASSERT(armed_, "GradReducer::Finish without Arm");
  torch::NoGradGuard no_grad;
  // Parameters no hook marked (unused this step) still take part, with their
  // current gradient or zeros, so every rank launches the same buckets.
  for (auto& b : buckets_) {
    if (b.pending == 0) continue;
    for (size_t s = 0; s < b.params.size(); s++) {
      if (ready_[b.params[s]]) continue;
      const auto& p = params_[b.params[s]];
      auto dst = b.flat.narrow(0, b.offsets[s], p.numel()).view(p.sizes());
      if (p.grad().defined()) dst.copy_(p.grad());
      else dst.zero_();
    }
    b.pending = 0;
  }
  LaunchReadyPrefix();
  int world = WorldSize(*group_);
  for (auto& b : buckets_) {
    b.wait();
    b.wait = nullptr;
    b.flat.div_(world);
    for (size_t s = 0; s < b.params.size(); s++) {
      auto& p = params_[b.params[s]];
      auto avg = b.flat.narrow(0, b.offsets[s], p.numel()).view(p.sizes());
      auto& grad = p.mutable_grad();
      if (grad.defined()) grad.copy_(avg);
      else grad = avg.clone();
    }
    b.pending = b.params.size();
  }
  ready_.assign(ready_.size(), false);
  next_launch_ = 0;
  armed_ = false;
  stats_.reductions++;
}

void GradReducer::Abandon() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& b : buckets_) {
    // An all-reduce still in flight owns the old buffer (its Work holds it)
    // and may write into it later: the next step gets a fresh one.
    if (b.wait) b.flat = torch::empty_like(b.flat);
    b.wait = nullptr;
    b.pending = b.params.size();
  }
  ready_.assign(ready_.size(), false);
  next_launch_ = 0;
  armed_ = false;
}

}  // namespace bt::dist
