#include "worker.h"

#include "instance.h"

namespace bt {

namespace {
// One thread-safe function per environment carries finished workers back to
// its JS thread. It is referenced (keeps the loop alive) only while workers
// are pending.
Napi::ThreadSafeFunction& Channel(Napi::Env env) {
  auto* data = Instance(env);
  if (!data->channel) {
    auto noop = Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
    data->channel = Napi::ThreadSafeFunction::New(env, noop, "bertorch", 0, 1);
    data->channel.Unref(env);
  }
  return data->channel;
}
}  // namespace

Napi::Promise PromiseWorker::Start() {
  auto promise = deferred_.Promise();
  auto* data = Instance(env_);
  auto& channel = Channel(env_);
  if (data->pending_workers++ == 0) channel.Ref(env_);
  Napi::ThreadSafeFunction tsfn = channel;
  Executor::Get(kind_).Post([this, tsfn]() mutable {
    Execute();
    tsfn.BlockingCall(this, [](Napi::Env env, Napi::Function, PromiseWorker* w) { w->Complete(env); });
  });
  return promise;
}

void PromiseWorker::Complete(Napi::Env env) {
  Napi::HandleScope scope(env);
  auto* data = Instance(env);
  if (--data->pending_workers == 0) data->channel.Unref(env);
  Finish();
  if (!error_.ok()) {
    deferred_.Reject(MakeError(env, error_).Value());
  } else {
    Napi::Value value;
    ErrorInfo resolve_error = Capture([&] { value = Resolve(env); });
    if (resolve_error.ok()) deferred_.Resolve(value);
    else deferred_.Reject(MakeError(env, resolve_error).Value());
  }
  delete this;
}

}  // namespace bt
