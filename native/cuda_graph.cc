#include "cuda_graph.h"

#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace bt {

struct CudaGraph::Impl {
  at::cuda::CUDAGraph graph;
  c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
  bool captured = false;

  // The side stream starts after the current one's queued work, and the
  // current one continues after the side stream's.
  void Run(const std::function<void()>& fn) {
    auto current = c10::cuda::getCurrentCUDAStream();
    at::cuda::CUDAEvent before;
    before.record(current);
    before.block(side);
    {
      c10::cuda::CUDAStreamGuard guard(side);
      fn();
    }
    at::cuda::CUDAEvent after;
    after.record(side);
    after.block(current);
  }
};

bool CudaGraph::Available() { return true; }
CudaGraph::CudaGraph() : impl_(std::make_unique<Impl>()) {}
CudaGraph::~CudaGraph() = default;

void CudaGraph::OnSideStream(const std::function<void()>& fn) { impl_->Run(fn); }

void CudaGraph::Capture(const std::function<void()>& fn) {
  TORCH_CHECK(!impl_->captured, "internal: a CUDA graph is captured once");
  // Cached autocast casts would be graph memory freed behind the graph's back.
  bool cache = at::autocast::is_autocast_cache_enabled();
  at::autocast::set_autocast_cache_enabled(false);
  try {
    impl_->Run([&] {
      impl_->graph.capture_begin();
      try {
        fn();
      } catch (...) {
        try { impl_->graph.capture_end(); } catch (...) {}
        throw;
      }
      impl_->graph.capture_end();
    });
  } catch (...) {
    at::autocast::set_autocast_cache_enabled(cache);
    throw;
  }
  at::autocast::set_autocast_cache_enabled(cache);
  impl_->captured = true;
}

void CudaGraph::Replay() {
  TORCH_CHECK(impl_->captured, "internal: replay before capture");
  impl_->graph.replay();
}

}  // namespace bt
