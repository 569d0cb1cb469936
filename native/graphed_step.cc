// Training steps replayed from a CUDA graph (torch.cuda.graph's whole-step
// capture: forward, backward, clipping and the fused AdamW in one launch).
// Why: a BERT step is ~1,500 small kernels; replaying removes their launch
// cost from the host. What must stay fixed is everything the graph baked in:
// batch shapes and which fields are present, max_grad_norm, addresses. So the
// inputs live in static device tensors that each step copies into, lr and
// step live in device tensors AdamW reads (BeginReplay), MLM scores every
// position (no nonzero()), and a non-finite loss gates the update on device.
#include <torch/torch.h>

#include <cmath>
#include <cstring>

#include "autocast.h"
#include "cuda_graph.h"
#include "model.h"

namespace bt {

struct BertRunner::GraphedStep {
  std::vector<int64_t> key;
  int eager_left = 3;
  std::unique_ptr<CudaGraph> graph;
  bert::Batch in;     // static inputs on the device
  torch::Tensor lr;   // (1,) read by the captured AdamW
  torch::Tensor out;  // (2,) loss, grad norm, written by the graph
  int64_t replays = 0;
};

namespace {
// What a graph bakes in: each field's presence, shape and dtype, and the clip.
std::vector<int64_t> Signature(const bert::Batch& d, double max_grad_norm) {
  std::vector<int64_t> key;
  for (const auto* t : {&d.input_ids, &d.attention_mask, &d.token_type_ids, &d.labels, &d.next_sentence_label}) {
    key.push_back(t->defined() ? static_cast<int64_t>(t->scalar_type()) : -1);
    if (t->defined()) key.insert(key.end(), t->sizes().begin(), t->sizes().end());
    key.push_back(-2);
  }
  int64_t bits;
  std::memcpy(&bits, &max_grad_norm, sizeof bits);
  key.push_back(bits);
  return key;
}

torch::Tensor StaticLike(const torch::Tensor& t) { return t.defined() ? torch::empty_like(t) : t; }
void Fill(const torch::Tensor& dst, const torch::Tensor& src) {
  if (dst.defined()) dst.copy_(src, /*non_blocking=*/true);
}
}  // namespace

void BertRunner::SetCudaGraphs(bool on) {
  if (on) {
    // Its masked positions and sampled replacements are data-dependent shapes.
    TORCH_CHECK_VALUE(module_->task != bert::Task::ReplacedTokenDetection,
                      "CUDA graphs cannot capture replaced-token detection (its generator's samples have data-dependent shapes)");
    TORCH_CHECK_VALUE(CudaGraph::Available(), "CUDA graphs are not in this build (CUDA's headers were not found when it was compiled)");
    TORCH_CHECK_VALUE(device_.is_cuda(), "CUDA graphs need the model on a CUDA device (model.to('cuda') first)");
    // The recompute in backward swaps the CUDA generator's state, which a
    // capture forbids: every capture would fail.
    TORCH_CHECK_VALUE(!config().gradient_checkpointing, "CUDA graphs cannot capture gradient checkpointing's recompute: "
                      "turn off gradient_checkpointing or CUDA graphs");
  }
  cuda_graphs_ = on;
  graphed_.reset();
}

int64_t BertRunner::graph_replays() const { return graphed_ ? graphed_->replays : 0; }

StepResult BertRunner::TrainStepGraphed(const bert::Batch& b, double max_grad_norm, bool skip_nonfinite) {
  TORCH_CHECK_VALUE(device_.is_cuda(), "CUDA graphs need the model on a CUDA device");
  TORCH_CHECK_VALUE(!group_, "CUDA graphs do not capture the gradient all-reduce: train without a process group, or without cudaGraphs");
  TORCH_CHECK_VALUE(optimizer_->Fuses(), "CUDA graphs need the fused AdamW (impl 'auto' or 'fused')");
  bert::Batch d = ToDevice(b);  // no scored_rows with graphs on
  auto key = Signature(d, max_grad_norm);
  if (graphed_ && graphed_->key != key && !d.attention_mask.defined() && b.attention_mask.defined()) {
    // ToDevice dropped an all-ones mask. A graph captured with a mask replays
    // it with ones (the same result) instead of being dropped and captured
    // again: padded batches with the odd full one would otherwise recapture
    // twice around each full batch.
    bert::Batch ones = d;
    ones.attention_mask = torch::ones(b.attention_mask.sizes(), b.attention_mask.options().device(device_));
    auto ones_key = Signature(ones, max_grad_norm);
    if (ones_key == graphed_->key) {
      d = std::move(ones);
      key = std::move(ones_key);
    }
  }
  if (!graphed_ || graphed_->key != key) {
    graphed_ = std::make_shared<GraphedStep>();
    graphed_->key = key;
    graphed_->graph = std::make_unique<CudaGraph>(device_.has_index() ? device_.index() : -1);
  }
  auto& g = *graphed_;
  if (g.eager_left > 0) {  // warm-up: lazy per-stream setup happens here, not in the capture
    g.eager_left--;
    StepResult r;
    g.graph->OnSideStream([&] { r = TrainStepEager(b, max_grad_norm, skip_nonfinite); });
    return r;
  }
  if (!g.out.defined()) {
    g.in = {StaticLike(d.input_ids), StaticLike(d.attention_mask), StaticLike(d.token_type_ids),
            StaticLike(d.labels), StaticLike(d.next_sentence_label), torch::Tensor()};
    g.lr = torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat).device(device_));
    ZeroGrad();  // the captured backward then writes fresh grads, in the graph's memory
    try {
      g.graph->Capture([&] {
        torch::Tensor loss;
        {
          torch::AutoGradMode grad(true);
          AutocastGuard autocast(device_, autocast_);
          bert::ForwardOptions o;
          o.loss_only = true;
          o.static_shapes = true;
          loss = module_->forward(g.in, o).loss;
        }
        {
          torch::AutoGradMode grad(true);
          loss.backward();
        }
        torch::NoGradGuard no_grad;
        auto norm = optim::ClipGradNorm(optimizer_->params(), max_grad_norm);
        optimizer_->StepCaptured(g.lr, NonFinite(loss, norm));
        g.out = torch::stack({loss.detach().to(torch::kFloat).reshape({}), norm.to(torch::kFloat)});
      });
    } catch (const c10::OutOfMemoryError&) {
      // Kept as it is, so the caller sees an out-of-memory error (a smaller
      // batch may capture); graphs go off as below.
      graphed_.reset();
      ZeroGrad();
      cuda_graphs_ = false;
      throw;
    } catch (const c10::Error& e) {
      // Drop the half-made graph and the grads that point into its memory,
      // and go eager: what failed one capture (an op that syncs or cannot be
      // captured) would fail every later one.
      graphed_.reset();
      ZeroGrad();
      cuda_graphs_ = false;
      TORCH_CHECK(false, "capturing a training step in a CUDA graph failed, so CUDA graphs are now off for this model ",
                  "(later steps run eagerly): ", e.what_without_backtrace());
    } catch (...) {
      graphed_.reset();
      ZeroGrad();
      cuda_graphs_ = false;
      throw;
    }
  }
  Fill(g.in.input_ids, d.input_ids);
  Fill(g.in.attention_mask, d.attention_mask);
  Fill(g.in.token_type_ids, d.token_type_ids);
  Fill(g.in.labels, d.labels);
  Fill(g.in.next_sentence_label, d.next_sentence_label);
  StepResult r;
  r.lr = optimizer_->BeginReplay(g.lr);
  g.graph->Replay();
  g.replays++;
  auto host = g.out.cpu();
  ZeroGrad();  // as the eager step leaves them; the graph keeps its own buffers
  r.loss = host[0].item<double>();
  r.grad_norm = host[1].item<double>();
  if (std::isfinite(r.loss) && std::isfinite(r.grad_norm)) return r;
  optimizer_->Unstep();  // the captured kernel skipped the update
  return Skipped(r, skip_nonfinite);
}

}  // namespace bt
