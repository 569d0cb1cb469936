#include "checkpoint.h"

#include "autocast.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>

#include <mutex>

namespace bt {

namespace {
at::Generator DefaultGenerator(const at::Device& d) {
  return d.is_cpu() ? at::detail::getDefaultCPUGenerator() : at::globalContext().defaultGenerator(d);
}

struct CheckpointBackward : torch::autograd::Node {
  LayerFn fn;
  torch::Tensor input;
  c10::intrusive_ptr<c10::TensorImpl> rng_state;
  // Autocast is thread-local and its scope has closed by the time backward
  // runs: the recompute re-enters it so it repeats the forward's dtypes.
  std::optional<torch::ScalarType> autocast;

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    torch::Tensor x = input.detach().requires_grad_(true);
    torch::Tensor y;
    // Replay the RNG of the first run so dropout draws the same masks. The
    // generator's mutex is held only to swap states: dropout locks it itself.
    auto gen = DefaultGenerator(x.device());
    c10::intrusive_ptr<c10::TensorImpl> now;
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      now = gen.get_state().getIntrusivePtr();
      gen.set_state(torch::Tensor(rng_state));
    }
    {
      torch::AutoGradMode enable(true);
      AutocastGuard autocast_scope(x.device(), autocast);
      y = fn(x);
    }
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(torch::Tensor(now));
    }
    torch::autograd::backward({y}, {grads[0]});
    return {x.grad()};
  }
  std::string name() const override { return "CheckpointBackward"; }
  void release_variables() override {
    input.reset();
    fn = nullptr;
  }
};
}  // namespace

torch::Tensor Checkpoint(LayerFn fn, const torch::Tensor& x) {
  auto node = std::make_shared<CheckpointBackward>();
  {
    auto gen = DefaultGenerator(x.device());
    std::lock_guard<std::mutex> lock(gen.mutex());
    node->rng_state = gen.get_state().getIntrusivePtr();
  }
  node->autocast = ActiveAutocast(x.device().type());
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = fn(x);
  }
  node->fn = std::move(fn);
  node->input = x.detach();
  node->set_next_edges(torch::autograd::collect_next_edges(x));
  torch::autograd::set_history(y, node);
  return y;
}

}  // namespace bt
