// Module init only: per-env instance data, classes and functions, error
// classes handed over by lib/errors.ts through setup().
#include <napi.h>

#include "cpu_allocator.h"
#include "dist_binding.h"
#include "errors.h"
#include "info.h"
#include "instance.h"
#include "model_binding.h"
#include "profiler.h"
#include "search_binding.h"
#include "tensor.h"

namespace bt {

Napi::Value Setup(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] {
    if (!info[0].IsObject()) ThrowType("Expected an object of error classes for setup");
    SetErrorClasses(info.Env(), info[0].As<Napi::Object>());
    return info.Env().Undefined();
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new InstanceData();
  env.SetInstanceData<InstanceData>(data);
  ConfigureThreads();
  InstallCpuCache();

  Napi::Function model = ModelWrap::Init(env);
  data->model_ctor = Napi::Persistent(model);
  exports.Set("Model", model);

  exports.Set("setup", Napi::Function::New(env, Setup, "setup"));
  RegisterInfo(env, exports);
  RegisterDist(env, exports);
  RegisterTensor(env, exports);
  RegisterTensorOps(env, exports);
  RegisterTensorCreate(env, exports);
  RegisterProfiler(env, exports);
  RegisterSearch(env, exports);
  return exports;
}

}  // namespace bt

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return bt::Init(env, exports); }

NODE_API_MODULE(bertorch, InitModule)
