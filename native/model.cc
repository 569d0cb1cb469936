#include "model.h"

#include "autocast.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/version.h>
#include <cmath>

namespace bt {


BertRunner::BertRunner(const bert::BertConfig& config, bert::Task task, uint64_t seed) {
  // Initialisation draws from a private generator seeded here: two models made
  // with the same seed are identical whatever else the process has drawn.
  module_ = bert::BertForTask(config, task);
  module_->InitWeights(at::detail::createCPUGenerator(seed));
}

std::string BertRunner::HfName(const std::string& name) const {
  // Base and RTD save as HF's base model does: the discriminator's names are BertModel's.
  bool bare = module_->task == bert::Task::Base || module_->task == bert::Task::ReplacedTokenDetection;
  if (bare && name.rfind("bert.", 0) == 0) return name.substr(5);
  return name;
}

std::vector<std::pair<std::string, torch::Tensor>> BertRunner::NamedParameters() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : module_->named_parameters(true)) out.emplace_back(HfName(item.key()), item.value());
  return out;
}

void BertRunner::SetTrainable(const std::vector<std::string>& names, bool on) {
  std::map<std::string, torch::Tensor> byName;
  for (auto& [n, p] : NamedParameters()) byName.emplace(n, p);
  for (const auto& n : names) TORCH_CHECK_VALUE(byName.count(n), "setTrainable: the model has no parameter ", n);
  for (const auto& n : names) {
    auto& p = byName[n];
    p.requires_grad_(on);
    if (!on) p.mutable_grad().reset();
  }
  reducer_.reset();
  grads_averaged_ = false;
  graphed_.reset();
}

LoadReport BertRunner::LoadState(const std::map<std::string, torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  LoadReport report;
  std::map<std::string, bool> used;
  for (auto& [name, param] : NamedParameters()) {
    auto it = state.find(name);
    if (it == state.end()) {
      report.missing.push_back(name);
      continue;
    }
    used[name] = true;
    if (it->second.sizes() != param.sizes()) {
      report.mismatched.push_back(name + ": checkpoint " + c10::str(it->second.sizes()) + " vs model " +
                                  c10::str(param.sizes()));
      continue;
    }
    param.copy_(it->second);
  }
  for (const auto& [name, t] : state)
    if (!used.count(name)) report.unexpected.push_back(name);
  return report;
}

namespace {
// Ids and class labels checked on the host, before any kernel reads them: on a
// GPU an out-of-range one is a device-side assert that leaves the CUDA context
// unusable for the rest of the process; here it is an IndexError naming the field.
// Float labels are checked as the loss will read them (cast to int64).
// labels: class labels, where -100 (no label) is allowed; otherwise ids.
void CheckRange(const torch::Tensor& t, int64_t end, const char* field, const char* limit, bool labels) {
  if (!t.defined() || !t.is_cpu() || t.numel() == 0 || t.scalar_type() == torch::kBool) return;
  torch::Tensor v = t;
  if (labels && at::isFloatingType(t.scalar_type())) {
    TORCH_CHECK_VALUE(t.isfinite().all().item<bool>(), field, " holds a NaN or infinite class label");
    v = t.to(torch::kLong);
  } else if (!at::isIntegralType(t.scalar_type(), /*includeBool=*/false)) {
    return;
  }
  if (labels) v = v.masked_select(v.ne(-100));  // every loss here ignores -100, as HF's
  if (v.numel() == 0) return;
  auto [lo, hi] = at::aminmax(v);
  int64_t mn = lo.item<int64_t>(), mx = hi.item<int64_t>();
  TORCH_CHECK_INDEX(mn >= 0 && mx < end, "index out of range: ", field, " holds ", mn < 0 ? mn : mx, ", outside [0, ", end,
                    ") (", limit, ")", labels ? "; -100 marks positions without a label" : "");
}

// The single-label (cross-entropy) case of bert.cc's Loss, by the same rule.
bool SingleLabel(const bert::BertConfig& c, const torch::Tensor& labels) {
  if (!c.problem_type.empty()) return c.problem_type == "single_label_classification";
  return c.num_labels > 1 && labels.defined() && !at::isFloatingType(labels.scalar_type());
}
}  // namespace

void BertRunner::CheckBatch(const bert::Batch& b) const {
  const auto& c = module_->config;
  CheckRange(b.input_ids, c.vocab_size, "inputIds", "vocab_size", false);
  CheckRange(b.token_type_ids, c.type_vocab_size, "tokenTypeIds", "type_vocab_size", false);
  switch (module_->task) {
    case bert::Task::PreTraining:
      CheckRange(b.next_sentence_label, 2, "nextSentenceLabel", "is next / is random", true);
      [[fallthrough]];
    case bert::Task::MaskedLM:
      CheckRange(b.labels, c.vocab_size, "labels", "vocab_size", true);
      break;
    case bert::Task::TokenClassification:
      CheckRange(b.labels, c.num_labels, "labels", "num_labels", true);
      break;
    case bert::Task::SequenceClassification:
      // Regression and multi-label targets are floats with no range.
      if (SingleLabel(c, b.labels)) CheckRange(b.labels, c.num_labels, "labels", "num_labels", true);
      break;
    case bert::Task::ReplacedTokenDetection:
      // Float labels are the discriminator's targets (1 replaced, 0 original), integer ones MLM targets.
      if (b.labels.defined() && at::isFloatingType(b.labels.scalar_type())) CheckRange(b.labels, 2, "labels", "1 replaced, 0 original", true);
      else CheckRange(b.labels, c.vocab_size, "labels", "vocab_size", true);
      break;
    case bert::Task::Base:
      if (module_->objective && b.labels.defined()) embedding::CheckRankingLabels(b.labels, b.input_ids.size(0));
      break;
  }
}

bert::Batch BertRunner::ToDevice(const bert::Batch& b) const {
  CheckBatch(b);
  // To a GPU through page-locked memory (the cached host allocator), so the
  // copy is queued on the stream instead of staged by the driver, as
  // DataLoader(pin_memory=True) does.
  bool pin = device_.is_cuda();
  auto mv = [&](const torch::Tensor& t) {
    if (!t.defined() || t.device() == device_) return t;
    return (pin && t.is_cpu() ? t.pin_memory() : t).to(device_, /*non_blocking=*/true);
  };
  // An all-ones mask masks nothing: without it SDPA may take its fused kernels,
  // as HF does. Checked only while the mask is still on the host (no sync).
  torch::Tensor mask = b.attention_mask;
  if (mask.defined() && mask.is_cpu() && mask.numel() > 0 && mask.ne(0).all().item<bool>()) mask = torch::Tensor();
  torch::Tensor rows;
  // Only the masked-rows MLM loss reads them (not a captured step: static shapes).
  bool mlm = module_->task == bert::Task::MaskedLM || module_->task == bert::Task::PreTraining ||
             (module_->task == bert::Task::ReplacedTokenDetection && b.labels.defined() && !at::isFloatingType(b.labels.scalar_type()));
  if (mlm && !cuda_graphs_ && b.labels.defined() && b.labels.is_cpu() && b.labels.dim() == 2)
    rows = b.labels.reshape({-1}).ne(-100).nonzero().squeeze(1);
  return {mv(b.input_ids), mv(mask), mv(b.token_type_ids), mv(b.labels), mv(b.next_sentence_label), mv(rows)};
}

bert::Output BertRunner::Forward(const bert::Batch& b, const bert::ForwardOptions& o) {
  AutocastGuard autocast(device_, autocast_);
  return module_->forward(ToDevice(b), o);
}

torch::Tensor BertRunner::ForwardBackward(const bert::Batch& b, double loss_scale, bool sync) {
  TORCH_CHECK_VALUE(b.labels.defined(), "a training step needs labels");
  torch::AutoGradMode grad(true);
  torch::Tensor loss;
  {
    AutocastGuard autocast(device_, autocast_);
    bert::ForwardOptions o;
    o.loss_only = true;
    o.static_shapes = cuda_graphs_;  // warm-up steps run the code a capture records
    o.skip_padding = true;           // the loss reads real tokens only
    loss = module_->forward(ToDevice(b), o).loss;
  }
  TORCH_CHECK_VALUE(loss.requires_grad(), "every parameter is frozen (setTrainable(false)): there is nothing to train");
  dist::GradReducer* reducer = group_ && sync ? &Reducer() : nullptr;
  grads_averaged_ = false;
  if (reducer) reducer->Arm();
  try {
    (loss_scale == 1.0 ? loss : loss * loss_scale).backward();
    if (reducer) reducer->Finish();
  } catch (...) {
    if (reducer) reducer->Abandon();
    throw;
  }
  grads_averaged_ = reducer != nullptr;
  return loss.detach();
}

void BertRunner::SetProcessGroup(std::shared_ptr<dist::Group> group, int64_t bucket_bytes) {
  reducer_.reset();
  group_ = std::move(group);
  bucket_bytes_ = bucket_bytes;
  grads_averaged_ = false;
}

dist::GradReducer& BertRunner::Reducer() {
  if (!reducer_) {
    std::vector<torch::Tensor> params;
    for (auto& [_, p] : NamedParameters()) params.push_back(p);
    reducer_ = std::make_unique<dist::GradReducer>(group_, std::move(params), bucket_bytes_);
  }
  return *reducer_;
}

std::optional<dist::GradReducer::Stats> BertRunner::ReducerStats() const {
  if (!group_) return std::nullopt;
  return reducer_ ? reducer_->stats() : dist::GradReducer::Stats{};
}

void BertRunner::ConfigureOptimizer(const optim::AdamWOptions& o, const optim::ScheduleOptions& s, bool decay_all) {
  std::vector<optim::ParamState> params;
  for (auto& [name, p] : NamedParameters()) {
    // HF Trainer: no weight decay on biases and LayerNorm weights.
    bool no_decay = !decay_all && (name.find("bias") != std::string::npos || name.find("LayerNorm") != std::string::npos);
    params.push_back({name, p, !no_decay, {}, {}});
  }
  optimizer_ = std::make_unique<optim::AdamW>(std::move(params), o, s);
  graphed_.reset();
}

torch::Tensor BertRunner::ReduceAndClip(double max_grad_norm) {
  if (group_ && !grads_averaged_) {  // grads changed since the last sync backward
    std::vector<torch::Tensor> params;
    for (auto& p : optimizer_->params()) params.push_back(p.param);
    dist::AverageGradients(*group_, params, bucket_bytes_);
  }
  return optim::ClipGradNorm(optimizer_->params(), max_grad_norm);
}

StepResult BertRunner::OptimizerStep(double max_grad_norm, bool skip_nonfinite, std::optional<double> loss) {
  TORCH_CHECK(optimizer_, "configureOptimizer() must be called before optimizerStep()");
  torch::Tensor l;
  if (loss) l = torch::full({}, *loss, torch::TensorOptions().dtype(torch::kFloat).device(device_));
  return ApplyStep(l, max_grad_norm, skip_nonfinite);
}

StepResult BertRunner::TrainStep(const bert::Batch& b, double max_grad_norm, bool skip_nonfinite) {
  TORCH_CHECK(optimizer_, "configureOptimizer() must be called before trainStep()");
  if (cuda_graphs_) return TrainStepGraphed(b, max_grad_norm, skip_nonfinite);
  return TrainStepEager(b, max_grad_norm, skip_nonfinite);
}

StepResult BertRunner::TrainStepEager(const bert::Batch& b, double max_grad_norm, bool skip_nonfinite) {
  torch::Tensor loss;
  try {
    loss = ForwardBackward(b, 1.0, /*sync=*/true);
  } catch (...) {
    ZeroGrad();  // a failed backward leaves partial grads; the next step starts clean
    throw;
  }
  return ApplyStep(loss, max_grad_norm, skip_nonfinite);
}

torch::Tensor NonFinite(const torch::Tensor& loss, const torch::Tensor& norm) {
  auto bad = norm.isfinite().logical_not();
  if (loss.defined()) bad = bad.logical_or(loss.detach().isfinite().logical_not());
  return bad.to(torch::kFloat).reshape({1});
}

StepResult BertRunner::ApplyStep(const torch::Tensor& loss, double max_grad_norm, bool skip_nonfinite) {
  torch::NoGradGuard no_grad;
  auto norm = ReduceAndClip(max_grad_norm);
  auto bad = NonFinite(loss, norm);
  if (group_) {
    // The norm is the same on every rank, the loss is not: one flag summed
    // over the ranks makes every rank take the same decision (a rank that
    // alone skipped, or threw, would leave the others' next collective waiting).
    dist::AllReduceSumAsync(*group_, bad)();
    bad = bad.gt(0).to(torch::kFloat);  // found_inf must be exactly 1 to gate the kernel
  }
  StepResult r;
  bool fused = optimizer_->Fuses() && device_.is_cuda();
  // CUDA: the whole step is queued before the host reads anything; a flagged
  // step is gated on the device (found_inf), and loss, norm and flag come back
  // in one copy at the end. Elsewhere the host decides first.
  if (fused) r.lr = optimizer_->Step(bad);
  auto l = loss.defined() ? loss.detach().to(torch::kFloat).reshape({}) : torch::zeros({}, norm.options().dtype(torch::kFloat));
  auto host = torch::stack({l, norm.to(torch::kFloat).reshape({}), bad.reshape({})}).cpu();
  r.loss = host[0].item<double>();
  r.grad_norm = host[1].item<double>();
  bool skip = host[2].item<double>() != 0.0;
  if (!skip && !fused) r.lr = optimizer_->Step();
  ZeroGrad();
  if (!skip) return r;
  if (fused) optimizer_->Unstep();  // the kernel skipped the update
  return Skipped(r, skip_nonfinite);
}

StepResult BertRunner::Skipped(StepResult r, bool skip_nonfinite) {
  r.lr = optimizer_->CurrentLr();
  r.skipped = true;
  if (skip_nonfinite) return r;
  // fp16 overflow, for one, gives inf gradients from a finite loss.
  int64_t step = optimizer_->step() + 1;
  TORCH_CHECK_VALUE(std::isfinite(r.loss), "non-finite loss (", r.loss, ") at optimizer step ", step);
  TORCH_CHECK_VALUE(std::isfinite(r.grad_norm), "non-finite gradient norm (", r.grad_norm, "; loss ", r.loss, ") at optimizer step ", step);
  TORCH_CHECK_VALUE(false, "non-finite loss or gradient norm on another rank (loss ", r.loss, " here) at optimizer step ", step);
  return r;
}

void BertRunner::BroadcastParameters(int src) {
  TORCH_CHECK(group_, "setProcessGroup() must be called before broadcastParameters()");
  std::vector<torch::Tensor> params;
  for (auto& [_, p] : NamedParameters()) params.push_back(p);
  dist::BroadcastParameters(*group_, params, src);
}

void BertRunner::ZeroGrad() {
  for (auto& p : module_->parameters()) p.mutable_grad().reset();  // set_to_none
  grads_averaged_ = false;
}

void BertRunner::SetGrads(const std::map<std::string, torch::Tensor>& grads) {
  for (auto& [n, p] : NamedParameters()) {
    auto it = grads.find(n);
    if (it == grads.end()) continue;
    TORCH_CHECK_VALUE(it->second.sizes() == p.sizes(), "gradient for ", n, " has shape ", it->second.sizes(),
                      ", parameter has ", p.sizes());
    // Contiguous, as AccumulateGrad would make it: the fused AdamW walks raw memory.
    p.mutable_grad() = it->second.detach().to(p.options()).clone(at::MemoryFormat::Contiguous);
  }
  grads_averaged_ = false;
}

void BertRunner::To(const torch::Device& d, std::optional<torch::ScalarType> dtype) {
  TORCH_CHECK(!optimizer_, "move the model before configureOptimizer(): AdamW state lives on the parameters' device");
  reducer_.reset();  // set_data may replace the parameters' grad accumulators
  graphed_.reset();
  if (dtype) module_->to(d, *dtype);
  else module_->to(d);
  device_ = d;
}

}  // namespace bt
