#include "optim.h"

#include <cmath>

#include <torch/version.h>

namespace bt::optim {

double ScheduleFactor(const ScheduleOptions& s, int64_t step) {
  double w = static_cast<double>(s.warmup_steps);
  if (s.kind == "constant") return 1.0;
  if (step < s.warmup_steps) return static_cast<double>(step) / std::max(1.0, w);
  if (s.kind == "constant_with_warmup") return 1.0;
  double remaining = static_cast<double>(s.total_steps - step);
  double span = std::max(1.0, static_cast<double>(s.total_steps - s.warmup_steps));
  if (s.kind == "linear") return std::max(0.0, remaining / span);
  if (s.kind == "cosine") {
    double progress = static_cast<double>(step - s.warmup_steps) / span;
    return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * s.num_cycles * 2.0 * progress)));
  }
  TORCH_CHECK_VALUE(false, "unknown schedule '", s.kind, "' (constant, constant_with_warmup, linear, cosine)");
}

AdamW::AdamW(std::vector<ParamState> params, AdamWOptions opts, ScheduleOptions sched)
    : params_(std::move(params)), opts_(opts), sched_(sched) {
  TORCH_CHECK_VALUE(opts_.lr >= 0, "lr must be >= 0, got ", opts_.lr);
  TORCH_CHECK_VALUE(opts_.beta1 >= 0 && opts_.beta1 < 1, "beta1 must be in [0, 1), got ", opts_.beta1);
  TORCH_CHECK_VALUE(opts_.beta2 >= 0 && opts_.beta2 < 1, "beta2 must be in [0, 1), got ", opts_.beta2);
  TORCH_CHECK_VALUE(opts_.eps >= 0, "eps must be >= 0, got ", opts_.eps);
  TORCH_CHECK_VALUE(opts_.weight_decay >= 0, "weight_decay must be >= 0, got ", opts_.weight_decay);
  ScheduleFactor(sched_, 0);  // validates the kind
}

double AdamW::CurrentLr() const { return opts_.lr * ScheduleFactor(sched_, step_); }

bool AdamW::Fuses() const {
  if (opts_.impl == "reference" || params_.empty()) return false;
  const auto& p = params_.front().param;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  // On CPU one pass over (param, grad, m, v) instead of the loop's eight: BERT-small's
  // update takes 12.6 ms instead of 83-92 ms (2 threads, torch.optim.AdamW fused=True
  // vs foreach=False, this machine), about a tenth of its training step at sequence 128.
  if (p.is_cpu()) return true;
#endif
  return p.is_cuda();
}

double AdamW::Step(const torch::Tensor& found_inf) {
  TORCH_CHECK(!found_inf.defined() || Fuses(), "internal: found_inf needs the fused AdamW");
  torch::NoGradGuard no_grad;
  double lr = CurrentLr();
  step_++;
  for (auto& p : params_) {
    if (!p.param.grad().defined() || p.exp_avg.defined()) continue;
    p.exp_avg = torch::zeros_like(p.param, at::MemoryFormat::Preserve);
    p.exp_avg_sq = torch::zeros_like(p.param, at::MemoryFormat::Preserve);
  }
  bool fused = opts_.impl != "reference" && StepFused(lr, found_inf);
  TORCH_CHECK_VALUE(fused || opts_.impl != "fused", "fused AdamW is not available for this device / libtorch");
  if (!fused) StepReference(lr);
  return lr;
}

// torch.optim.AdamW single-tensor path (foreach=False), element for element:
//   p <- p * (1 - lr*wd);  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2
//   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
void AdamW::StepReference(double lr) {
  double t = static_cast<double>(step_);
  double bc1 = 1.0 - std::pow(opts_.beta1, t);
  double bc2_sqrt = std::sqrt(1.0 - std::pow(opts_.beta2, t));
  double step_size = lr / bc1;
  for (auto& p : params_) {
    const auto& g = p.param.grad();
    if (!g.defined()) continue;
    auto& w = p.param;
    double wd = p.decay ? opts_.weight_decay : 0.0;
    if (wd != 0.0) w.mul_(1.0 - lr * wd);
    p.exp_avg.mul_(opts_.beta1).add_(g, 1.0 - opts_.beta1);
    p.exp_avg_sq.mul_(opts_.beta2).addcmul_(g, g, 1.0 - opts_.beta2);
    auto denom = (p.exp_avg_sq.sqrt() / bc2_sqrt).add_(opts_.eps);
    w.addcdiv_(p.exp_avg, denom, -step_size);
  }
}

// libtorch's fused AdamW (one kernel per parameter group and dtype): CUDA
// since 2.0, CPU since 2.4. Same math; rounding differs in the last bits
// (1.2e-7 on a tiny BERT's parameters after 3 steps, test/heads-optim.test.ts).
double AdamW::BeginReplay(torch::Tensor& lr) {
  TORCH_CHECK(step_tensor_.defined(), "internal: capture a step after an eager one");
  double value = CurrentLr();
  step_++;
  step_tensor_.fill_(static_cast<double>(step_));
  lr.fill_(value);
  return value;
}

void AdamW::StepCaptured(const torch::Tensor& lr, const torch::Tensor& found_inf) {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(Fuses() && step_tensor_.defined(), "internal: a captured step needs the fused AdamW after an eager step");
  StepFused(0.0, found_inf, lr);
}

bool AdamW::StepFused(double lr, const torch::Tensor& found_inf, const torch::Tensor& lr_tensor) {
  if (params_.empty()) return true;
  if (!Fuses()) return false;
  // The fused kernels walk param, grad and moments as flat arrays, so all four
  // must be dense in one layout: grads are made contiguous (autograd's already
  // are); a non-contiguous parameter (never made by bertorch) takes the loop.
  for (auto& p : params_) {
    const auto& g = p.param.grad();
    if (!g.defined()) continue;
    if (!(p.param.is_contiguous() && p.exp_avg.is_contiguous() && p.exp_avg_sq.is_contiguous())) {
      TORCH_CHECK(!found_inf.defined(), "internal: a device-gated AdamW step needs contiguous parameters (", p.name, ")");
      return false;
    }
    if (!g.is_contiguous()) p.param.mutable_grad() = g.contiguous();
  }
  const auto& first = params_.front().param;
  std::vector<torch::Tensor> groups[2][4];
  for (auto& p : params_) {
    if (!p.param.grad().defined()) continue;
    auto* g = groups[p.decay ? 1 : 0];
    g[0].push_back(p.param);
    g[1].push_back(p.param.grad());
    g[2].push_back(p.exp_avg);
    g[3].push_back(p.exp_avg_sq);
  }
  if (!step_tensor_.defined()) step_tensor_ = torch::zeros({1}, first.options().dtype(torch::kFloat));
  if (!lr_tensor.defined()) step_tensor_.fill_(static_cast<double>(step_));  // captured: BeginReplay writes it
  for (int d = 0; d < 2; d++) {
    auto& g = groups[d];
    if (g[0].empty()) continue;
    std::vector<torch::Tensor> steps(g[0].size(), step_tensor_);
    auto inf = found_inf.defined() ? std::optional<torch::Tensor>(found_inf) : std::nullopt;
    double wd = d ? opts_.weight_decay : 0.0;
    if (lr_tensor.defined()) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
      at::_fused_adamw_(g[0], g[1], g[2], g[3], {}, steps, lr_tensor, opts_.beta1, opts_.beta2, wd, opts_.eps, false, false, {}, inf);
#else
      TORCH_CHECK(false, "a captured AdamW step (CUDA graphs) needs libtorch >= 2.3");
#endif
    } else {
      at::_fused_adamw_(g[0], g[1], g[2], g[3], {}, steps, lr, opts_.beta1, opts_.beta2, wd, opts_.eps, false, false, {}, inf);
    }
  }
  return true;
}

// Multi-tensor kernels (_foreach_norm, _foreach_mul_), as PyTorch's
// clip_grad_norm_(foreach=True): a handful of launches instead of three per
// parameter (~600 for BERT-base), and no host sync: the norm stays on device.
torch::Tensor ClipGradNorm(std::vector<ParamState>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (auto& p : params)
    if (p.param.grad().defined()) grads.push_back(p.param.grad());
  if (grads.empty()) return params.empty() ? torch::zeros({}, torch::kFloat) : torch::zeros({}, params.front().param.options().dtype(torch::kFloat));
  std::vector<torch::Tensor> norms;
  for (auto& n : at::_foreach_norm(grads, 2)) norms.push_back(n.to(torch::kFloat));
  auto total = torch::stack(norms).norm(2);
  if (max_norm > 0) {
    auto coef = torch::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
    if (grads.front().scalar_type() == torch::kFloat) {
      at::_foreach_mul_(grads, coef);
    } else {
      for (auto& g : grads) g.mul_(coef.to(g.scalar_type()));
    }
  }
  return total;
}

}  // namespace bt::optim
