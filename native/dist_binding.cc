// JS binding of native/dist.h: initProcessGroup() and the ProcessGroup class.
// Rendezvous and collectives run on worker threads (they block until every
// rank arrives or the group's timeout passes, then reject with TorchDistError).
#include "dist_binding.h"

#include <cmath>

#include "args.h"
#include "convert.h"
#include "errors.h"
#include "instance.h"
#include "tensor.h"
#include "worker.h"

namespace bt {

namespace {
using Info = const Napi::CallbackInfo&;

class InitWorker : public PromiseWorker {
 public:
  InitWorker(Napi::Env env, dist::GroupOptions o) : PromiseWorker(env, false, Executor::kCollective), o_(std::move(o)) {}
  void Run() override { g_ = dist::Init(o_); }
  Napi::Value Resolve(Napi::Env env) override { return ProcessGroupWrap::Wrap(env, g_); }

 private:
  dist::GroupOptions o_;
  std::shared_ptr<dist::Group> g_;
};

// One collective on tensors the worker holds (copies of the JS handles).
class CollectiveWorker : public PromiseWorker {
 public:
  enum Kind { kAllReduce, kBroadcast, kAllGather, kBarrier };
  CollectiveWorker(Napi::Env env, std::shared_ptr<dist::Group> g, Kind k, torch::Tensor t, std::string op, int src)
      : PromiseWorker(env, false, Executor::kCollective), g_(std::move(g)), kind_(k), t_(std::move(t)), op_(std::move(op)), src_(src) {}
  void Run() override {
    std::vector<torch::Tensor> v{t_};
    switch (kind_) {
      case kAllReduce: dist::AllReduce(*g_, v, op_); break;
      case kBroadcast: dist::Broadcast(*g_, v, src_); break;
      case kAllGather: out_ = dist::AllGather(*g_, t_); break;
      case kBarrier: dist::Barrier(*g_); break;
    }
  }
  Napi::Value Resolve(Napi::Env env) override {
    if (kind_ == kBarrier) return env.Undefined();
    if (kind_ != kAllGather) return handles::Wrap(env, t_);
    auto a = Napi::Array::New(env, out_.size());
    for (size_t i = 0; i < out_.size(); i++) a.Set(i, handles::Wrap(env, out_[i]));
    return a;
  }

 private:
  std::shared_ptr<dist::Group> g_;
  Kind kind_;
  torch::Tensor t_;
  std::string op_;
  int src_;
  std::vector<torch::Tensor> out_;
};

Napi::Value InitProcessGroup(Info info) {
  return Guard(info.Env(), [&] {
    if (!info[0].IsObject()) args::Bad("an options object", "options", info[0]);
    auto o = info[0].As<Napi::Object>();
    dist::GroupOptions g;
    auto str = [&](const char* k, std::string& dst) { if (o.Get(k).IsString()) dst = o.Get(k).As<Napi::String>().Utf8Value(); };
    // Range-checked here: a cast to int would turn rank 2^32 into rank 0.
    auto num = [&](const char* k, int64_t lo, int64_t hi) -> int64_t {
      Napi::Value v = o.Get(k);
      double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
      if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != std::floor(d))
        ThrowRange("Expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "] for options." + k +
                   " but received " + args::Describe(v));
      return static_cast<int64_t>(d);
    };
    str("backend", g.backend);
    str("masterAddr", g.master_addr);
    g.master_port = static_cast<int>(num("masterPort", 1, 65535));
    g.world_size = static_cast<int>(num("worldSize", 1, dist::kMaxWorldSize));
    g.rank = static_cast<int>(num("rank", 0, g.world_size - 1));
    g.timeout = std::chrono::milliseconds(num("timeoutMs", 1, int64_t{1} << 40));
    return (new InitWorker(info.Env(), g))->Start();
  });
}
}  // namespace

Napi::Function ProcessGroupWrap::Init(Napi::Env env) {
  return DefineClass(env, "ProcessGroup", {
      InstanceMethod<&ProcessGroupWrap::Rank>("rank"),
      InstanceMethod<&ProcessGroupWrap::WorldSize>("worldSize"),
      InstanceMethod<&ProcessGroupWrap::AllReduce>("allReduce"),
      InstanceMethod<&ProcessGroupWrap::Broadcast>("broadcast"),
      InstanceMethod<&ProcessGroupWrap::AllGather>("allGather"),
      InstanceMethod<&ProcessGroupWrap::Barrier>("barrier"),
      InstanceMethod<&ProcessGroupWrap::Destroy>("destroy"),
  });
}

ProcessGroupWrap::ProcessGroupWrap(Info info) : Napi::ObjectWrap<ProcessGroupWrap>(info) {}

Napi::Object ProcessGroupWrap::Wrap(Napi::Env env, std::shared_ptr<dist::Group> g) {
  Napi::Object obj = Instance(env)->process_group_ctor.New({});
  Unwrap(obj)->group_ = std::move(g);
  return obj;
}

std::shared_ptr<dist::Group> ProcessGroupWrap::From(const Napi::Value& v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(Instance(v.Env())->process_group_ctor.Value()))
    args::Bad("a ProcessGroup", "group", v);
  auto g = Unwrap(v.As<Napi::Object>())->group_;
  if (!g) throw CodedError("ERR_DISPOSED", "ProcessGroup was destroyed");
  return g;
}

std::shared_ptr<dist::Group> ProcessGroupWrap::G() {
  if (!group_) throw CodedError("ERR_DISPOSED", "ProcessGroup was destroyed");
  return group_;
}

Napi::Value ProcessGroupWrap::Rank(Info info) {
  return Guard(info.Env(), [&] { return Napi::Number::New(info.Env(), dist::Rank(*G())); });
}
Napi::Value ProcessGroupWrap::WorldSize(Info info) {
  return Guard(info.Env(), [&] { return Napi::Number::New(info.Env(), dist::WorldSize(*G())); });
}
Napi::Value ProcessGroupWrap::AllReduce(Info info) {
  return Guard(info.Env(), [&] {
    auto t = args::Tensor(info, 0, "tensor");
    std::string op = info[1].IsUndefined() ? "sum" : args::String(info, 1, "op");
    return (new CollectiveWorker(info.Env(), G(), CollectiveWorker::kAllReduce, t, op, 0))->Start();
  });
}
Napi::Value ProcessGroupWrap::Broadcast(Info info) {
  return Guard(info.Env(), [&] {
    auto t = args::Tensor(info, 0, "tensor");
    int src = args::Int32Or(info, 1, "src", 0);
    return (new CollectiveWorker(info.Env(), G(), CollectiveWorker::kBroadcast, t, "", src))->Start();
  });
}
Napi::Value ProcessGroupWrap::AllGather(Info info) {
  return Guard(info.Env(), [&] {
    auto t = args::Tensor(info, 0, "tensor");
    return (new CollectiveWorker(info.Env(), G(), CollectiveWorker::kAllGather, t, "", 0))->Start();
  });
}
Napi::Value ProcessGroupWrap::Barrier(Info info) {
  return Guard(info.Env(), [&] { return (new CollectiveWorker(info.Env(), G(), CollectiveWorker::kBarrier, {}, "", 0))->Start(); });
}
Napi::Value ProcessGroupWrap::Destroy(Info info) {
  if (group_) dist::Destroy(*group_);
  group_.reset();
  return info.Env().Undefined();
}

void RegisterDist(Napi::Env env, Napi::Object exports) {
  auto ctor = ProcessGroupWrap::Init(env);
  Instance(env)->process_group_ctor = Napi::Persistent(ctor);
  exports.Set("ProcessGroup", ctor);
  exports.Set("initProcessGroup", Napi::Function::New(env, InitProcessGroup, "initProcessGroup"));
  exports.Set("distAvailable", Napi::Function::New(env, [](Info i) { return Napi::Boolean::New(i.Env(), dist::Available()); }));
  exports.Set("distBackends", Napi::Function::New(env, [](Info i) {
    auto names = dist::Backends();
    auto a = Napi::Array::New(i.Env(), names.size());
    for (size_t k = 0; k < names.size(); k++) a.Set(k, names[k]);
    return a;
  }));
}

}  // namespace bt
