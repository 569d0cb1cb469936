// Per-environment state (one per Node main thread or worker_thread): the JS
// classes we construct from C++ and the tensors JS holds handles to.
// No statics hold Napi references; this object is freed with the environment.
#pragma once
#include <napi.h>
#include <atomic>
#include <map>
#include <string>

#include "tensor.h"

namespace bt {

struct InstanceData {
  TensorTable tensors;
  Napi::FunctionReference model_ctor;
  Napi::FunctionReference process_group_ctor;
  Napi::ThreadSafeFunction channel;  // worker.cc: finished workers back to this thread
  int64_t pending_workers = 0;
  std::map<std::string, Napi::FunctionReference> error_classes;
};

inline InstanceData* Instance(Napi::Env env) { return env.GetInstanceData<InstanceData>(); }

}  // namespace bt
