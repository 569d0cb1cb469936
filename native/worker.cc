#include "worker.h"

#include "instance.h"

namespace bt {

namespace {
// One thread-safe function per environment carries finished workers back to
// its JS thread. It is referenced (keeps the loop alive) only while workers
// are pending.
std::shared_ptr<Channel> GetChannel(Napi::Env env) {
  auto* data = Instance(env);
  if (!data->channel) {
    auto channel = std::make_shared<Channel>();
    auto noop = Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
    // Runs on the JS thread just before Node frees the function (environment
    // teardown): from then on a job must not call it.
    auto finalize = [](Napi::Env, std::shared_ptr<Channel>* ch) {
      {
        std::lock_guard<std::mutex> lock((*ch)->mu);
        (*ch)->alive = false;
      }
      delete ch;
    };
    channel->tsfn = Napi::ThreadSafeFunction::New(env, noop, "bertorch", 0, 1, finalize,
                                                  new std::shared_ptr<Channel>(channel));
    channel->tsfn.Unref(env);
    data->channel = channel;
  }
  return data->channel;
}
}  // namespace

Napi::Promise PromiseWorker::Start() {
  auto promise = deferred_.Promise();
  auto* data = Instance(env_);
  auto channel = GetChannel(env_);
  if (data->pending_workers++ == 0) channel->tsfn.Ref(env_);
  Executor::Get(kind_).Post([this, channel]() {
    Execute();
    // The lock keeps the finalizer (and so Node's free) from running during the call,
    // which only queues (no queue limit), so it is held for microseconds.
    std::lock_guard<std::mutex> lock(channel->mu);
    napi_status status = napi_closing;
    if (channel->alive)
      status = channel->tsfn.BlockingCall(this, [](Napi::Env env, Napi::Function, PromiseWorker* w) { w->Complete(env); });
    // Its environment is gone (a worker_thread that exited or was terminated):
    // nobody awaits the Promise; free what the job holds.
    if (status != napi_ok) delete this;
  });
  return promise;
}

void PromiseWorker::Complete(Napi::Env env) {
  Napi::HandleScope scope(env);
  auto* data = Instance(env);
  if (--data->pending_workers == 0) data->channel->tsfn.Unref(env);
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
