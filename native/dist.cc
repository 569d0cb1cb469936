#include "dist.h"

#include <torch/version.h>

#include <algorithm>
#include <sstream>

#ifdef BT_WITH_C10D
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "dist_backends.h"
#endif
#ifdef BT_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif

namespace bt::dist {

#ifdef BT_WITH_C10D
class Group {
 public:
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  int rank = 0, world = 1;
  std::chrono::milliseconds timeout{30000};
  bool destroyed = false;
  c10d::Backend& B() {
    TORCH_CHECK(!destroyed && backend, "the process group was destroyed");
    return *backend;
  }
};

bool Available() { return true; }

std::vector<std::string> Backends() {
  std::vector<std::string> out;
#ifdef BT_WITH_GLOO
  out.push_back("gloo");
#endif
#ifdef BT_WITH_NCCL
  out.push_back("nccl");
#endif
  return out;
}

std::shared_ptr<Group> Init(const GroupOptions& o) {
  auto built = Backends();
  if (std::find(built.begin(), built.end(), o.backend) == built.end()) {
    std::string list;
    for (const auto& b : built) list += (list.empty() ? "" : ", ") + b;
    TORCH_CHECK_VALUE(false, "backend '", o.backend, "' is not available in this build (built with: ", list, ")");
  }
  TORCH_CHECK_VALUE(o.world_size <= kMaxWorldSize, "world_size ", o.world_size, " is over ", kMaxWorldSize,
                    " (every Gloo rank connects to every other)");
  TORCH_CHECK_VALUE(o.world_size >= 1 && o.rank >= 0 && o.rank < o.world_size, "rank ", o.rank,
                    " is not in [0, world_size=", o.world_size, ")");
  TORCH_CHECK_VALUE(o.master_port > 0 && o.master_port < 65536, "master port ", o.master_port, " out of range");
  auto g = std::make_shared<Group>();
  g->rank = o.rank;
  g->world = o.world_size;
  g->timeout = o.timeout;
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(o.master_port);
  so.isServer = o.rank == 0;
  so.numWorkers = o.world_size;
  so.waitWorkers = false;
  so.timeout = o.timeout;
  auto tcp = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
  g->store = c10::make_intrusive<c10d::PrefixStore>("bertorch/0", tcp);
#ifdef BT_WITH_NCCL
  if (o.backend == "nccl") {
    g->backend = MakeNccl(g->store, o.rank, o.world_size, o.timeout);
    return g;
  }
#endif
#ifdef BT_WITH_GLOO
  auto opts = c10d::ProcessGroupGloo::Options::create();
  opts->timeout = o.timeout;
  opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o.master_addr == "localhost" ? "127.0.0.1" : o.master_addr));
  g->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, o.rank, o.world_size, opts);
#endif
  return g;
}

int Rank(const Group& g) { return g.rank; }
int WorldSize(const Group& g) { return g.world; }

namespace {
c10d::ReduceOp ParseOp(const std::string& op) {
  if (op == "sum" || op == "avg") return c10d::ReduceOp::SUM;
  if (op == "max") return c10d::ReduceOp::MAX;
  if (op == "min") return c10d::ReduceOp::MIN;
  if (op == "product") return c10d::ReduceOp::PRODUCT;
  TORCH_CHECK_VALUE(false, "unknown reduce op '", op, "' (sum, avg, max, min, product)");
}

void Wait(std::chrono::milliseconds timeout, const c10::intrusive_ptr<c10d::Work>& w) { w->wait(timeout); }
void Wait(Group& g, const c10::intrusive_ptr<c10d::Work>& w) { Wait(g.timeout, w); }

uint64_t Mix(uint64_t h, uint64_t v) { return (h ^ v) * 1099511628211ull; }  // FNV-1a step
}  // namespace

void CheckSameOnEveryRank(Group& g, const std::string& what, const std::vector<torch::Tensor>& tensors, int64_t extra) {
  if (g.world == 1 || tensors.empty()) return;
  // [tag, op, tensors, elements, layout hash, extra]: the same size on every rank whatever they pass.
  constexpr int64_t kTag = 0x62742d6670;  // "bt-fp"
  uint64_t op = 14695981039346656037ull, layout = op;
  for (char c : what) op = Mix(op, static_cast<unsigned char>(c));
  int64_t elements = 0;
  for (const auto& t : tensors) {
    elements += t.numel();
    layout = Mix(layout, static_cast<uint64_t>(t.scalar_type()));
    for (auto d : t.sizes()) layout = Mix(layout, static_cast<uint64_t>(d));
    layout = Mix(layout, ~0ull);
  }
  std::vector<int64_t> mine{kTag, static_cast<int64_t>(op), static_cast<int64_t>(tensors.size()), elements,
                            static_cast<int64_t>(layout), extra};
  auto fp = torch::tensor(mine, torch::kLong).to(tensors[0].device());
  std::vector<std::vector<torch::Tensor>> out(1);
  for (int i = 0; i < g.world; i++) out[0].push_back(torch::empty_like(fp));
  std::vector<torch::Tensor> in{fp};
  c10d::AllgatherOptions o;
  o.timeout = g.timeout;
  Wait(g, g.B().allgather(out, in, o));
  bool same = true;
  std::vector<std::vector<int64_t>> all;
  for (auto& t : out[0]) {
    auto c = t.cpu();
    all.emplace_back(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
    same = same && all.back() == mine;
  }
  if (same) return;
  std::ostringstream os;
  os << what << ": the ranks passed different tensors (every rank must pass the same shapes and dtypes): ";
  for (size_t r = 0; r < all.size(); r++) {
    const auto& f = all[r];
    os << (r ? "; " : "") << "rank " << r;
    if (f[0] != kTag || f[1] != static_cast<int64_t>(op)) os << " is in another collective";
    else os << " has " << f[3] << " elements in " << f[2] << " tensor(s)" << (f[4] == mine[4] ? "" : " of another shape or dtype")
            << (f[5] == extra ? "" : " with another setting");
  }
  C10_THROW_ERROR(DistError, os.str());
}

void AllReduce(Group& g, std::vector<torch::Tensor>& tensors, const std::string& op) {
  c10d::AllreduceOptions o;
  o.reduceOp = ParseOp(op);
  o.timeout = g.timeout;
  CheckSameOnEveryRank(g, "allReduce", tensors);
  Wait(g, g.B().allreduce(tensors, o));
  if (op == "avg")
    for (auto& t : tensors) t.div_(g.world);
}

std::function<void()> AllReduceSumAsync(Group& g, torch::Tensor flat) {
  std::vector<torch::Tensor> tensors{std::move(flat)};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::SUM;
  o.timeout = g.timeout;
  auto work = g.B().allreduce(tensors, o);
  return [work, timeout = g.timeout] { Wait(timeout, work); };
}

void Broadcast(Group& g, std::vector<torch::Tensor>& tensors, int src) {
  TORCH_CHECK_VALUE(src >= 0 && src < g.world, "broadcast source ", src, " is not a rank");
  c10d::BroadcastOptions o;
  o.rootRank = src;
  o.timeout = g.timeout;
  CheckSameOnEveryRank(g, "broadcast", tensors, src);
  Wait(g, g.B().broadcast(tensors, o));
}

std::vector<torch::Tensor> AllGather(Group& g, const torch::Tensor& t) {
  CheckSameOnEveryRank(g, "allGather", {t});
  std::vector<std::vector<torch::Tensor>> out(1);
  for (int i = 0; i < g.world; i++) out[0].push_back(torch::empty_like(t));
  std::vector<torch::Tensor> in{t.contiguous()};
  c10d::AllgatherOptions o;
  o.timeout = g.timeout;
  Wait(g, g.B().allgather(out, in, o));
  return out[0];
}

void Barrier(Group& g) {
  c10d::BarrierOptions o;
  o.timeout = g.timeout;
  Wait(g, g.B().barrier(o));
}

void Destroy(Group& g) {
  g.destroyed = true;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  // As destroy_process_group: NCCL's destructor without a shutdown() first
  // warns and aborts the communicators; Gloo's shutdown() does nothing.
  if (g.backend) {
    try { g.backend->shutdown(); } catch (...) {}
  }
#endif
  g.backend.reset();
  g.store.reset();
}

void AverageGradients(Group& g, std::vector<torch::Tensor> params, int64_t bucket_bytes) {
  torch::NoGradGuard no_grad;
  // Every rank must contribute the same buckets: a parameter without a grad
  // (unused this step) gets zeros, as DDP's find_unused_parameters does.
  std::vector<std::vector<torch::Tensor>> buckets;
  std::vector<torch::Tensor> cur;
  int64_t cur_bytes = 0;
  for (auto& p : params) {
    auto& grad = p.mutable_grad();
    if (!grad.defined()) grad = torch::zeros_like(p);
    if (!cur.empty() && (cur_bytes + grad.nbytes() > static_cast<size_t>(bucket_bytes) ||
                         grad.scalar_type() != cur[0].scalar_type() || grad.device() != cur[0].device())) {
      buckets.push_back(std::move(cur));
      cur.clear();
      cur_bytes = 0;
    }
    cur.push_back(grad);
    cur_bytes += grad.nbytes();
  }
  if (!cur.empty()) buckets.push_back(std::move(cur));
  std::vector<torch::Tensor> grads;
  for (auto& p : params) grads.push_back(p.grad());
  CheckSameOnEveryRank(g, "gradient all-reduce", grads, bucket_bytes);
  std::vector<torch::Tensor> flats;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::SUM;
  o.timeout = g.timeout;
  for (auto& b : buckets) {
    std::vector<torch::Tensor> parts;
    for (auto& t : b) parts.push_back(t.reshape({-1}));
    std::vector<torch::Tensor> flat{torch::cat(parts)};
    works.push_back(g.B().allreduce(flat, o));
    flats.push_back(flat[0]);
  }
  for (size_t i = 0; i < buckets.size(); i++) {
    Wait(g, works[i]);
    flats[i].div_(g.world);
    int64_t off = 0;
    for (auto& t : buckets[i]) {
      t.copy_(flats[i].narrow(0, off, t.numel()).view_as(t));
      off += t.numel();
    }
  }
}

void BroadcastParameters(Group& g, const std::vector<torch::Tensor>& params, int src) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat_parts;
  for (const auto& p : params) flat_parts.push_back(p.detach().reshape({-1}));
  std::vector<torch::Tensor> flat{torch::cat(flat_parts)};
  Broadcast(g, flat, src);
  int64_t off = 0;
  for (const auto& p : params) {
    p.detach().copy_(flat[0].narrow(0, off, p.numel()).view_as(p));
    off += p.numel();
  }
}

#else  // built without c10d headers: every entry point says so.

class Group {};
bool Available() { return false; }
std::vector<std::string> Backends() { return {}; }
[[noreturn]] static void NoDist() {
  TORCH_CHECK(false, "bertorch was built without torch.distributed (neither Gloo's headers nor NCCL's were found at "
                     "build time: install libgloo-dev and run `npm run build:native`)");
}
std::shared_ptr<Group> Init(const GroupOptions&) { NoDist(); }
int Rank(const Group&) { NoDist(); }
int WorldSize(const Group&) { NoDist(); }
void AllReduce(Group&, std::vector<torch::Tensor>&, const std::string&) { NoDist(); }
void Broadcast(Group&, std::vector<torch::Tensor>&, int) { NoDist(); }
std::vector<torch::Tensor> AllGather(Group&, const torch::Tensor&) { NoDist(); }
void Barrier(Group&) { NoDist(); }
void Destroy(Group&) {}
void CheckSameOnEveryRank(Group&, const std::string&, const std::vector<torch::Tensor>&, int64_t) { NoDist(); }
std::function<void()> AllReduceSumAsync(Group&, torch::Tensor) { NoDist(); }
void AverageGradients(Group&, std::vector<torch::Tensor>, int64_t) { NoDist(); }
void BroadcastParameters(Group&, const std::vector<torch::Tensor>&, int) { NoDist(); }
#endif

}  // namespace bt::dist
