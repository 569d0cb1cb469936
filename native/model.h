// BertRunner: what a JS Model drives, in plain C++ — a BertForTask, its
// device, and (once configured) its AdamW. The training step is one call:
// forward, loss, backward, clip, AdamW, schedule. Parameter names are HF's
// (BertModel's without the "bert." prefix, as HF's base model saves them).
// Threading: one call at a time (the binding's busy flag guarantees it);
// grad mode is set by the worker thread that calls in.
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bert.h"
#include "dist.h"
#include "optim.h"
#include "reducer.h"

namespace bt {

struct StepResult {
  double loss = 0;
  double grad_norm = 0;
  double lr = 0;
  bool skipped = false;  // non-finite loss or gradient norm, with the skip policy
};

// found_inf for the fused AdamW: a (1,) float, 1 when the norm or the loss
// (when defined) is not finite. Stays on the device.
torch::Tensor NonFinite(const torch::Tensor& loss, const torch::Tensor& norm);

struct LoadReport {
  std::vector<std::string> missing, unexpected, mismatched;
};

class BertRunner {
 public:
  BertRunner(const bert::BertConfig& config, bert::Task task, uint64_t seed);

  // HF-named parameters, in registration order.
  std::vector<std::pair<std::string, torch::Tensor>> NamedParameters() const;
  LoadReport LoadState(const std::map<std::string, torch::Tensor>& state);
  // requires_grad_(on) for the named parameters (PyTorch's freezing): a frozen
  // one gets no grad, so backward stops early and AdamW leaves it as it is.
  // Throws for a name the model lacks. The DDP buckets and captured graphs
  // are rebuilt for the new set on their next use.
  void SetTrainable(const std::vector<std::string>& names, bool on);

  bert::Output Forward(const bert::Batch& b, const bert::ForwardOptions& o);
  // Adds d(loss * loss_scale)/dparams to the grads; returns the unscaled loss.
  // With a process group and `sync`, the grads are then the average over ranks
  // (all-reduced during backward); sync = false is DDP's no_sync(), for all
  // but the last micro-batch of gradient accumulation.
  torch::Tensor ForwardBackward(const bert::Batch& b, double loss_scale, bool sync = true);
  // Clip + AdamW with the accumulated grads. A non-finite gradient norm, or a
  // non-finite `loss` (the accumulated window's, when the caller knows it),
  // skips the update (skip_nonfinite) or throws, as in TrainStep.
  StepResult OptimizerStep(double max_grad_norm, bool skip_nonfinite = false, std::optional<double> loss = std::nullopt);
  // Averages grads over the group when backward did not, then clips; the norm stays on device.
  torch::Tensor ReduceAndClip(double max_grad_norm);
  // With CUDA graphs on, a step of a batch signature seen before is replayed
  // from a graph (graphed_step.cc); otherwise it runs eagerly.
  StepResult TrainStep(const bert::Batch& b, double max_grad_norm, bool skip_nonfinite);
  // torch.cuda.graph for training steps of fixed shapes: CUDA, fused AdamW, no
  // process group. The first 3 steps of a new signature run eagerly on the
  // graph's stream, the 4th is captured, and later ones replay it.
  void SetCudaGraphs(bool on);
  bool cuda_graphs() const { return cuda_graphs_; }
  int64_t graph_replays() const;
  void ZeroGrad();
  // Copies of `grads` become the named parameters' .grad (others untouched).
  void SetGrads(const std::map<std::string, torch::Tensor>& grads);

  void ConfigureOptimizer(const optim::AdamWOptions& o, const optim::ScheduleOptions& s, bool decay_all);
  optim::AdamW* optimizer() { return optimizer_.get(); }

  // Mixed precision for forward/backward (torch.autocast): bf16 or fp16 on
  // CUDA, bf16 on CPU; nullopt = off. Parameters and AdamW stay float32.
  void SetAutocast(std::optional<torch::ScalarType> dtype) {
    autocast_ = dtype;
    graphed_.reset();
  }
  std::optional<torch::ScalarType> autocast() const { return autocast_; }
  // Data-parallel: gradients are averaged over `group` before clipping,
  // overlapped with the backward of a sync ForwardBackward (GradReducer), or
  // after it in OptimizerStep when the grads changed since the last sync.
  void SetProcessGroup(std::shared_ptr<dist::Group> group, int64_t bucket_bytes);
  // nullopt without a process group; zeros until the first sync backward.
  std::optional<dist::GradReducer::Stats> ReducerStats() const;
  void BroadcastParameters(int src);
  void SetTraining(bool on) {
    module_->train(on);
    graphed_.reset();
  }
  // A captured step holds addresses of the optimizer's state: call after replacing it.
  void DropCapturedSteps() { graphed_.reset(); }
  bool training() const { return module_->is_training(); }
  void To(const torch::Device& d, std::optional<torch::ScalarType> dtype);
  const torch::Device& device() const { return device_; }
  const bert::BertConfig& config() const { return module_->config; }
  // BertModel: train sentence embeddings with in-batch negatives (nullopt: off).
  void SetObjective(std::optional<embedding::Objective> o) {
    TORCH_CHECK_VALUE(!o || module_->task == bert::Task::Base, "a sentence-embedding objective needs a BertModel");
    module_->objective = o;
    graphed_.reset();
  }
  bert::Task task() const { return module_->task; }
  // Checks ids and labels against the config on the host (CheckBatch), then
  // moves the batch to the model's device.
  bert::Batch ToDevice(const bert::Batch& b) const;
  void CheckBatch(const bert::Batch& b) const;

 private:
  std::string HfName(const std::string& name) const;
  dist::GradReducer& Reducer();  // built on first use, for the current parameters
  bert::BertForTask module_{nullptr};
  std::unique_ptr<optim::AdamW> optimizer_;
  torch::Device device_{torch::kCPU};
  std::optional<torch::ScalarType> autocast_;
  std::shared_ptr<dist::Group> group_;
  int64_t bucket_bytes_ = 25 << 20;
  std::unique_ptr<dist::GradReducer> reducer_;
  bool grads_averaged_ = false;  // .grad is the average over ranks as it stands

  StepResult TrainStepEager(const bert::Batch& b, double max_grad_norm, bool skip_nonfinite);
  // Reduce, clip, then AdamW unless the loss (if given) or the norm is
  // non-finite, on this rank or (with a process group) any other.
  StepResult ApplyStep(const torch::Tensor& loss, double max_grad_norm, bool skip_nonfinite);
  // A step whose update did not happen: throws unless skip_nonfinite.
  StepResult Skipped(StepResult r, bool skip_nonfinite);
  StepResult TrainStepGraphed(const bert::Batch& b, double max_grad_norm, bool skip_nonfinite);
  struct GraphedStep;
  std::shared_ptr<GraphedStep> graphed_;  // shared_ptr: an incomplete type here
  bool cuda_graphs_ = false;
};

}  // namespace bt
