// c10d backends, each built only where its headers were found at build time
// (BT_WITH_GLOO: Gloo's headers; BT_WITH_NCCL: NCCL's and CUDA's).
#pragma once
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>

namespace bt::dist {

#ifdef BT_WITH_NCCL
c10::intrusive_ptr<c10d::Backend> MakeNccl(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world,
                                           std::chrono::milliseconds timeout);
#endif

}  // namespace bt::dist
