// libtorch's profiler (Kineto: CPU ops, and CUDA kernels through CUPTI) around
// whatever runs on the compute thread between profilerStart() and
// profilerStop(): the measurement behind the speed work (which kernels take
// the GPU's time), and the same tool torch.profiler is in Python.
#pragma once
#include <napi.h>

namespace bt {
void RegisterProfiler(Napi::Env env, Napi::Object exports);
}  // namespace bt
