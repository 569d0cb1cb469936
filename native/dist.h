// Process groups on libtorch's c10d: TCPStore rendezvous and the Gloo (CPU)
// or NCCL (CUDA, where the libtorch has it) backend. Pure C++.
// Lifetime: a Group is shared (shared_ptr) by its JS wrapper, by models that
// average gradients over it, and by in-flight workers; the last holder frees
// the store and backend, which closes the connections.
// Threading: collectives block until done or until `timeout` passes, when
// c10d raises DistError; callers run them on worker threads.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace bt::dist {

// Each Gloo rank opens a connection to every other and holds per-peer state:
// a larger world would exhaust memory and descriptors before rendezvous.
constexpr int64_t kMaxWorldSize = 65536;

struct GroupOptions {
  std::string backend = "gloo";
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  int rank = 0;
  int world_size = 1;
  std::chrono::milliseconds timeout{30000};
};

class Group;
// Rendezvous and connect; blocks until every rank joined or the timeout.
std::shared_ptr<Group> Init(const GroupOptions& o);
bool Available();  // built with a c10d backend
std::vector<std::string> Backends();  // the backends built in: "gloo", "nccl"

int Rank(const Group& g);
int WorldSize(const Group& g);
// In place; op: "sum" | "avg" | "max" | "min" | "product" (avg = sum / world).
void AllReduce(Group& g, std::vector<torch::Tensor>& tensors, const std::string& op);
void Broadcast(Group& g, std::vector<torch::Tensor>& tensors, int src);
std::vector<torch::Tensor> AllGather(Group& g, const torch::Tensor& t);
void Barrier(Group& g);
void Destroy(Group& g);

// Gloo ends the process (std::terminate on its transport thread) when the
// ranks' buffers in one collective differ in size, so each collective is
// first agreed on: every rank contributes a fixed-size fingerprint of `what`
// it is about to reduce (op, element count, dtype, shape hash), and a
// difference is a DistError on every rank, naming the ranks' element counts.
// `extra` is a setting that must match too (broadcast's source, bucket size).
void CheckSameOnEveryRank(Group& g, const std::string& what, const std::vector<torch::Tensor>& tensors,
                          int64_t extra = 0);

// Starts a SUM all-reduce of `flat` in place and returns at once; the returned
// function waits for it (up to the group's timeout, then DistError). Every rank
// must start its all-reduces in the same order: Gloo matches them by order.
std::function<void()> AllReduceSumAsync(Group& g, torch::Tensor flat);

// DDP's gradient averaging: grads are packed into flat buckets of about
// bucket_bytes (same dtype and device), every bucket's all-reduce is launched
// before any is awaited, then the averages are copied back. After backward:
// the reference for GradReducer (reducer.h), which overlaps it with backward.
void AverageGradients(Group& g, std::vector<torch::Tensor> params, int64_t bucket_bytes);
// Copies rank `src`'s parameter values to every rank.
void BroadcastParameters(Group& g, const std::vector<torch::Tensor>& params, int src);

}  // namespace bt::dist
