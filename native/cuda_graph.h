// CUDA graphs without CUDA headers in the callers: a captured piece of work
// replayed with one launch. cuda_graph.cc is compiled against CUDA's headers
// where CMake found a set that builds; elsewhere cuda_graph_stub.cc says so.
// Capture runs on a side stream of its own, which the caller also uses for
// the eager warm-up steps (lazy per-stream setup, such as cuBLAS workspaces,
// must not happen during capture).
#pragma once
#include <functional>
#include <memory>

namespace bt {

class CudaGraph {
 public:
  static bool Available();  // built with CUDA's headers
  // device: the CUDA device index the captured work runs on (-1: current).
  // The side stream, the capture and the RNG state registered with it belong
  // to that device, whatever device the calling thread has current.
  explicit CudaGraph(int device = -1);
  ~CudaGraph();
  // Runs fn with the graph's side stream current (warm-up), then waits for it.
  void OnSideStream(const std::function<void()>& fn);
  // Records fn's CUDA work on the side stream; nothing runs until Replay().
  void Capture(const std::function<void()>& fn);
  // Launches the captured work on the current stream.
  void Replay();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bt
