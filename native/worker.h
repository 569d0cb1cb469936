// PromiseWorker: the one way long native work runs off the JS thread.
// The subclass copies every input into C++ members in its constructor (the
// "baton"), Run() executes on a libuv thread and may throw anything, and
// Resolve() builds the JS result on the JS thread. Execute never touches
// Napi values. Thread-local libtorch state (grad mode, intra-op threads) is
// set here because libuv threads do not inherit it from the JS thread.
#pragma once
#include <napi.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "errors.h"

namespace bt {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env, bool grad_enabled = false)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)),
        grad_enabled_(grad_enabled) {}

  Napi::Promise Promise() { return deferred_.Promise(); }
  // Queues the worker and returns its Promise (the worker deletes itself).
  Napi::Promise Start() {
    auto p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Resolve(Napi::Env env) { return env.Undefined(); }
  // Called on the JS thread after Run, success or not (release busy flags).
  virtual void Finish() {}

 private:
  void Execute() override {
    error_ = Capture([&] {
      at::init_num_threads();
      torch::AutoGradMode grad(grad_enabled_);
      Run();
    });
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Finish();
    if (!error_.ok()) {
      deferred_.Reject(MakeError(env, error_).Value());
      return;
    }
    Napi::Value value;
    ErrorInfo resolve_error = Capture([&] { value = Resolve(env); });
    if (!resolve_error.ok()) {
      deferred_.Reject(MakeError(env, resolve_error).Value());
      return;
    }
    deferred_.Resolve(value);
  }
  void OnError(const Napi::Error& e) override {
    Finish();
    deferred_.Reject(e.Value());
  }

  Napi::Promise::Deferred deferred_;
  bool grad_enabled_;
  ErrorInfo error_;
};

}  // namespace bt
