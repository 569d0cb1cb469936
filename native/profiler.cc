#include "profiler.h"

#include <kineto/ActivityType.h>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "args.h"
#include "errors.h"
#include "worker.h"

namespace bt {
namespace {
namespace kp = torch::profiler::impl;
using Info = const Napi::CallbackInfo&;

// Profiler state is the compute thread's, like the work it watches.
bool g_active = false;
std::chrono::steady_clock::time_point g_started;

struct Row {
  std::string name;
  int64_t count = 0;
  double us = 0;
};
struct Summary {
  double wall_ms = 0;
  double device_busy_ms = 0;
  std::vector<Row> cpu, device;
};

std::vector<Row> Top(std::map<std::string, Row>& by_name, size_t n) {
  std::vector<Row> rows;
  for (auto& [_, r] : by_name) rows.push_back(r);
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.us > b.us; });
  if (rows.size() > n) rows.resize(n);
  return rows;
}

class StartWorker : public PromiseWorker {
 public:
  StartWorker(Napi::Env env, bool cuda) : PromiseWorker(env), cuda_(cuda) {}
  void Run() override {
    TORCH_CHECK(!g_active, "the profiler is already running (call profilerStop() first)");
    std::set<kp::ActivityType> activities{kp::ActivityType::CPU};
    if (cuda_) {
      TORCH_CHECK_VALUE(torch::cuda::is_available(), "profiling CUDA needs a CUDA device and none is available here");
      activities.insert(kp::ActivityType::CUDA);
    }
    kp::ProfilerConfig config(kp::ProfilerState::KINETO);
    torch::autograd::profiler::prepareProfiler(config, activities);
    torch::autograd::profiler::enableProfiler(config, activities);
    g_active = true;
    g_started = std::chrono::steady_clock::now();
  }

 private:
  bool cuda_;
};

class StopWorker : public PromiseWorker {
 public:
  StopWorker(Napi::Env env, std::string trace, size_t top) : PromiseWorker(env), trace_(std::move(trace)), top_(top) {}
  void Run() override {
    TORCH_CHECK(g_active, "the profiler is not running (call profilerStart() first)");
    if (torch::cuda::is_available()) torch::cuda::synchronize();
    g_active = false;
    auto result = torch::autograd::profiler::disableProfiler();
    out_.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - g_started).count();
    std::map<std::string, Row> cpu, device;
    for (const auto& e : result->events()) {
      // deviceType() is CUDA also for GPU_USER_ANNOTATION spans (record_function
      // ranges drawn on the GPU timeline, overlapping the kernels they cover),
      // CUDA_SYNC and CUDA_PROFILER_RANGE: only kernels, memcpys and memsets
      // are device work; the rest would double-count deviceBusyMs.
      auto type = static_cast<libkineto::ActivityType>(e.activityType());
      bool on_device = type == libkineto::ActivityType::CONCURRENT_KERNEL ||
                       type == libkineto::ActivityType::GPU_MEMCPY || type == libkineto::ActivityType::GPU_MEMSET;
      if (!on_device && e.deviceType() != c10::DeviceType::CPU) continue;
      auto& row = (on_device ? device : cpu)[e.name()];
      row.name = e.name();
      row.count++;
      row.us += static_cast<double>(e.durationNs()) / 1e3;
      if (on_device) out_.device_busy_ms += static_cast<double>(e.durationNs()) / 1e6;
    }
    out_.cpu = Top(cpu, top_);
    out_.device = Top(device, top_);
    if (!trace_.empty()) result->save(trace_);
  }
  Napi::Value Resolve(Napi::Env env) override {
    auto rows = [&](const std::vector<Row>& v) {
      auto a = Napi::Array::New(env, v.size());
      for (size_t i = 0; i < v.size(); i++) {
        auto o = Napi::Object::New(env);
        o.Set("name", v[i].name);
        o.Set("count", static_cast<double>(v[i].count));
        o.Set("ms", v[i].us / 1e3);
        a.Set(i, o);
      }
      return a;
    };
    auto o = Napi::Object::New(env);
    o.Set("wallMs", out_.wall_ms);
    o.Set("deviceBusyMs", out_.device_busy_ms);
    o.Set("cpuOps", rows(out_.cpu));
    o.Set("deviceKernels", rows(out_.device));
    return o;
  }

 private:
  std::string trace_;
  size_t top_;
  Summary out_;
};
}  // namespace

void RegisterProfiler(Napi::Env env, Napi::Object exports) {
  exports.Set("profilerStart", Napi::Function::New(env, [](Info i) {
    return Guard(i.Env(), [&] { return (new StartWorker(i.Env(), args::BoolOr(i, 0, "cuda", false)))->Start(); });
  }, "profilerStart"));
  exports.Set("profilerStop", Napi::Function::New(env, [](Info i) {
    return Guard(i.Env(), [&] {
      std::string trace = i[0].IsUndefined() || i[0].IsNull() ? "" : args::String(i, 0, "tracePath");
      int64_t top = args::IntOr(i, 1, "top", 30);
      if (top < 1) ThrowRange("Expected a positive integer for top but received " + std::to_string(top));
      return (new StopWorker(i.Env(), trace, static_cast<size_t>(top)))->Start();
    });
  }, "profilerStop"));
}

}  // namespace bt
