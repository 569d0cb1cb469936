// Built where CMake found no CUDA headers that compile: CUDA graphs say so.
#include <c10/util/Exception.h>

#include "cuda_graph.h"

namespace bt {

struct CudaGraph::Impl {};
bool CudaGraph::Available() { return false; }
CudaGraph::CudaGraph(int) {
  TORCH_CHECK_VALUE(false, "CUDA graphs are not in this build (CUDA's headers were not found when it was compiled)");
}
CudaGraph::~CudaGraph() = default;
void CudaGraph::OnSideStream(const std::function<void()>&) {}
void CudaGraph::Capture(const std::function<void()>&) {}
void CudaGraph::Replay() {}

}  // namespace bt
