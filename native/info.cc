#include "info.h"

#include "dist.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <dlfcn.h>
#include <sched.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <regex>
#include <string>

#include "cpu_allocator.h"
#include "errors.h"

namespace bt {

int AvailableCores() {
  int n = 1;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
  // cgroup v2: "max 100000" or "<quota> <period>"
  std::ifstream f("/sys/fs/cgroup/cpu.max");
  std::string quota, period;
  if (f >> quota >> period && quota != "max") {
    double q = std::atof(quota.c_str()), p = std::atof(period.c_str());
    if (q > 0 && p > 0) n = std::min(n, std::max(1, static_cast<int>(q / p)));
  }
  return std::max(1, n);
}

void ConfigureThreads() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (const char* v = std::getenv("BERTORCH_NUM_THREADS")) {
      int n = std::atoi(v);
      if (n > 0) at::set_num_threads(n);
      return;
    }
    if (std::getenv("OMP_NUM_THREADS") || std::getenv("MKL_NUM_THREADS")) return;
    at::set_num_threads(AvailableCores());
  });
}

namespace {
std::string ConfigField(const std::string& config, const std::string& pattern) {
  std::smatch m;
  if (std::regex_search(config, m, std::regex(pattern))) return m[1].str();
  return "";
}

// Device names without compiling against CUDA headers: libtorch_cuda has
// already loaded the CUDA runtime, and cudaDeviceProp begins with char name[256].
std::string CudaDeviceName(int index) {
  using Fn = int (*)(void*, int);
  void* sym = dlsym(RTLD_DEFAULT, "cudaGetDeviceProperties_v2");
  if (!sym) sym = dlsym(RTLD_DEFAULT, "cudaGetDeviceProperties");
  if (!sym) return "cuda:" + std::to_string(index);
  alignas(16) char prop[8192] = {0};
  if (reinterpret_cast<Fn>(sym)(prop, index) != 0) return "cuda:" + std::to_string(index);
  return std::string(prop, strnlen(prop, 256));
}
}  // namespace

Napi::Value Info(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] {
    Napi::Env env = info.Env();
    auto out = Napi::Object::New(env);
    std::string config = at::show_config();
    out.Set("libtorchVersion", BT_TORCH_VERSION);
    out.Set("libtorchRoot", BT_LIBTORCH_ROOT);
    std::string blas = ConfigField(config, "BLAS_INFO=([A-Za-z0-9_]+)");
    if (config.find("Math Kernel Library") != std::string::npos) {
      std::string mkl = ConfigField(config, "Math Kernel Library Version ([0-9.]+)");
      blas = "mkl " + mkl;
    }
    out.Set("blas", blas.empty() ? "unknown" : blas);
    out.Set("mkldnn", ConfigField(config, "MKL-DNN (v[0-9.]+)"));
    out.Set("openmp", ConfigField(config, "(OpenMP [0-9]+)"));
    out.Set("cpuCapability", ConfigField(config, "CPU capability usage: ([A-Z0-9_]+)"));
    out.Set("intraOpThreads", at::get_num_threads());
    out.Set("interOpThreads", at::get_num_interop_threads());
    out.Set("availableCores", AvailableCores());
    out.Set("parallelInfo", at::get_parallel_info());
    bool cuda = torch::cuda::is_available();
    out.Set("cudaAvailable", cuda);
    auto devices = Napi::Array::New(env);
    if (cuda) {
      for (int i = 0; i < static_cast<int>(torch::cuda::device_count()); i++) devices.Set(i, CudaDeviceName(i));
    }
    out.Set("cudaDevices", devices);
    const auto& hooks = at::detail::getCUDAHooks();
    out.Set("cudaBuilt", hooks.hasCUDA() || ConfigField(config, "USE_CUDA=(ON)") == "ON");
    out.Set("cudnn", cuda && hooks.hasCuDNN() ? std::to_string(hooks.versionCuDNN()) : "");
    out.Set("cudaVersion", ConfigField(config, "CUDA_VERSION=([0-9.]+)"));
    auto backends = dist::Backends();
    auto dist_list = Napi::Array::New(info.Env(), backends.size());
    for (size_t i = 0; i < backends.size(); i++) dist_list.Set(i, backends[i]);
    out.Set("distributedBackends", dist_list);
    out.Set("cpuAllocator", CpuAllocatorName());
    out.Set("config", config);
    return out;
  });
}

Napi::Value CpuCacheStatsJs(const Napi::CallbackInfo& info) {
  CpuCacheStats s = GetCpuCacheStats();
  auto out = Napi::Object::New(info.Env());
  out.Set("installed", s.installed);
  auto mb = [](uint64_t b) { return static_cast<double>(b) / (1 << 20); };
  out.Set("limitMB", mb(s.limit_bytes));
  out.Set("inUseMB", mb(s.in_use_bytes));
  out.Set("cachedMB", mb(s.cached_bytes));
  out.Set("peakMB", mb(s.peak_bytes));
  out.Set("hits", static_cast<double>(s.hits));
  out.Set("misses", static_cast<double>(s.misses));
  out.Set("released", static_cast<double>(s.released));
  return out;
}

void RegisterInfo(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("cpuCacheStats", Napi::Function::New(env, CpuCacheStatsJs, "cpuCacheStats"));
  exports.Set("emptyCpuCache", Napi::Function::New(env, [](const Napi::CallbackInfo& i) {
    return Napi::Number::New(i.Env(), static_cast<double>(EmptyCpuCache()) / (1 << 20));
  }, "emptyCpuCache"));
  exports.Set("usableMemory", Napi::Function::New(env, [](const Napi::CallbackInfo& i) {
    return Napi::Number::New(i.Env(), static_cast<double>(UsableMemory()));
  }, "usableMemory"));
  exports.Set("cudaAvailable", Napi::Function::New(env, [](const Napi::CallbackInfo& i) {
    return Napi::Boolean::New(i.Env(), torch::cuda::is_available());
  }));
  exports.Set("cudaSynchronize", Napi::Function::New(env, [](const Napi::CallbackInfo& i) {
    return Guard(i.Env(), [&] {
      if (torch::cuda::is_available()) torch::cuda::synchronize();
      return i.Env().Undefined();
    });
  }));
}

}  // namespace bt
