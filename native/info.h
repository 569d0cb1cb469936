// Build and runtime facts for info(): libtorch version and build config, the
// BLAS / oneDNN / OpenMP in use, threads, CUDA devices. Also the thread-count
// policy applied once per process at load.
#pragma once
#include <napi.h>

namespace bt {

// Cores this process may really use: the affinity mask, capped by the cgroup
// CPU quota (containers), at least 1.
int AvailableCores();
// Sets libtorch's intra-op threads from BERTORCH_NUM_THREADS or
// AvailableCores(), unless OMP_NUM_THREADS / MKL_NUM_THREADS already decided.
void ConfigureThreads();
Napi::Value Info(const Napi::CallbackInfo& info);
void RegisterInfo(Napi::Env env, Napi::Object exports);

}  // namespace bt
