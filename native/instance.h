// Per-environment state (one per Node main thread or worker_thread): the JS
// classes we construct from C++ and the tensors JS holds handles to.
// No statics hold Napi references; this object is freed with the environment.
#pragma once
#include <napi.h>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "tensor.h"

namespace bt {

// Carries finished workers back to the JS thread (worker.cc). Shared with the
// executor jobs, because a worker_thread's environment can be torn down while
// its jobs still run: Node frees the thread-safe function then, and `alive`
// (set false by its finalizer, under `mu`) tells a late job not to touch it.
struct Channel {
  std::mutex mu;
  bool alive = true;
  Napi::ThreadSafeFunction tsfn;
};

struct InstanceData {
  TensorTable tensors;
  Napi::FunctionReference model_ctor;
  Napi::FunctionReference process_group_ctor;
  std::shared_ptr<Channel> channel;
  int64_t pending_workers = 0;
  std::map<std::string, Napi::FunctionReference> error_classes;
};

inline InstanceData* Instance(Napi::Env env) { return env.GetInstanceData<InstanceData>(); }

}  // namespace bt
