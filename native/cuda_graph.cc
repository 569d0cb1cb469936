#include "cuda_graph.h"

#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace bt {

struct CudaGraph::Impl {
  explicit Impl(c10::DeviceIndex device) : side(c10::cuda::getStreamFromPool(false, device)) {}
  at::cuda::CUDAGraph graph;
  // On the model's device: getStreamFromPool() without it would take the
  // thread's current device (0 on the compute thread), and a capture on
  // cuda:0's stream records nothing of work queued on cuda:1's streams.
  c10::cuda::CUDAStream side;
  bool captured = false;

  // The side stream starts after the current one's queued work, and the
  // current one continues after the side stream's (also when fn throws).
  void Run(const std::function<void()>& fn) {
    auto current = c10::cuda::getCurrentCUDAStream(side.device_index());
    at::cuda::CUDAEvent before;
    before.record(current);
    before.block(side);
    auto join = [&] {
      at::cuda::CUDAEvent after;
      after.record(side);
      after.block(current);
    };
    try {
      c10::cuda::CUDAStreamGuard guard(side);  // also makes side's device current
      fn();
    } catch (...) {
      try { join(); } catch (...) {}
      throw;
    }
    join();
  }
};

bool CudaGraph::Available() { return true; }
CudaGraph::CudaGraph(int device) : impl_(std::make_unique<Impl>(static_cast<c10::DeviceIndex>(device))) {}
CudaGraph::~CudaGraph() = default;

void CudaGraph::OnSideStream(const std::function<void()>& fn) { impl_->Run(fn); }

void CudaGraph::Capture(const std::function<void()>& fn) {
  TORCH_CHECK(!impl_->captured, "internal: a CUDA graph is captured once");
  // Cached autocast casts would be graph memory freed behind the graph's back.
  bool cache = at::autocast::is_autocast_cache_enabled();
  at::autocast::set_autocast_cache_enabled(false);
  try {
    impl_->Run([&] {
      // Thread-local mode: a CUDA call from another thread (the JS thread's
      // tensor ops) does not invalidate this capture; the autograd engine's
      // device thread only launches onto the capturing stream.
      impl_->graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
      try {
        fn();
      } catch (...) {
        try { impl_->graph.capture_end(); } catch (...) {}
        (void)cudaGetLastError();  // an invalidated capture leaves an error the next CUDA call would report
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
