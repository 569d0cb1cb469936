// The NCCL backend, in a file of its own: only it needs the CUDA and NCCL
// headers (from the CUDA wheels' site-packages/nvidia/, or a CUDA toolkit),
// and CMake compiles it only where both were found.
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <cstdlib>

#include "dist_backends.h"

namespace bt::dist {

c10::intrusive_ptr<c10d::Backend> MakeNccl(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world,
                                           std::chrono::milliseconds timeout) {
  TORCH_CHECK_VALUE(at::cuda::is_available(), "backend 'nccl' needs a CUDA device and none is available here (use 'gloo')");
  // NCCL's watchdog kills the whole process when a collective times out
  // (mode 3, the default). Mode 2 aborts the communicators only, so the
  // waiting call fails with DistError and the service survives to report it.
  setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "2", /*overwrite=*/0);
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, opts);
}

}  // namespace bt::dist
