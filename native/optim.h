// AdamW exactly as torch.optim.AdamW (decoupled weight decay, bias
// correction, eps added after the square root), learning-rate schedules as HF
// transformers' get_*_schedule_with_warmup, and clipping by global norm.
// Lifetime: the optimizer holds its own handles to the parameters (sharing
// storage with the model) and owns its moment tensors.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace bt::optim {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
  // "auto": libtorch's fused kernel where it exists for the device, else the
  // reference loop; "reference": always the per-tensor loop; "fused".
  std::string impl = "auto";
};

struct ScheduleOptions {
  std::string kind = "constant";  // constant | constant_with_warmup | linear | cosine
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;  // linear / cosine decay horizon
  double num_cycles = 0.5;  // cosine
};

// The multiplier of the base lr at optimizer step `step` (0-based), as HF's LambdaLR.
double ScheduleFactor(const ScheduleOptions& s, int64_t step);

struct ParamState {
  std::string name;
  torch::Tensor param;
  bool decay = true;
  torch::Tensor exp_avg, exp_avg_sq;  // created lazily, like PyTorch's state
};

class AdamW {
 public:
  AdamW(std::vector<ParamState> params, AdamWOptions opts, ScheduleOptions sched);
  // One update with the current grads (params without grad are skipped);
  // returns the lr that was used. Increments the step, then the schedule.
  // found_inf (fused only): a (1,) float on the device; when it holds 1 the
  // kernel leaves every tensor as it was, so the caller can decide to skip
  // the step after reading it, without a sync before the update.
  double Step(const torch::Tensor& found_inf = {});
  // True when Step() runs libtorch's fused kernel (CUDA; CPU with libtorch >= 2.4).
  bool Fuses() const;
  // Takes back the step counter of a step whose update found_inf skipped.
  void Unstep() { step_--; }
  // A step captured in a CUDA graph: the host advances the step and writes
  // it and the lr into device tensors before each replay (BeginReplay); the
  // captured StepCaptured reads them there. Returns the lr.
  double BeginReplay(torch::Tensor& lr);
  void StepCaptured(const torch::Tensor& lr, const torch::Tensor& found_inf);
  double CurrentLr() const;
  int64_t step() const { return step_; }
  void set_step(int64_t s) { step_ = s; }
  std::vector<ParamState>& params() { return params_; }
  const AdamWOptions& options() const { return opts_; }
  void set_options(const AdamWOptions& o) { opts_ = o; }
  void set_schedule(const ScheduleOptions& s) { sched_ = s; }

 private:
  void StepReference(double lr);
  bool StepFused(double lr, const torch::Tensor& found_inf, const torch::Tensor& lr_tensor = {});
  std::vector<ParamState> params_;
  AdamWOptions opts_;
  ScheduleOptions sched_;
  int64_t step_ = 0;
  torch::Tensor step_tensor_;  // for fused kernels, (1,) float32
};

// Scales grads so that their global L2 norm is at most max_norm (when > 0)
// and returns the norm before clipping (a 0-dim float tensor on the grads'
// device, unread), as torch.nn.utils.clip_grad_norm_.
torch::Tensor ClipGradNorm(std::vector<ParamState>& params, double max_norm);

}  // namespace bt::optim
