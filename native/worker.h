// PromiseWorker: the one way long native work runs off the JS thread.
// The subclass copies every input into C++ members in its constructor (the
// "baton"), Run() executes on an Executor thread (executor.h) and may throw
// anything, and Resolve() builds the JS result on the JS thread, reached
// through the environment's thread-safe function. Execute never touches Napi
// values. Thread-local libtorch state (grad mode, intra-op threads) is set
// here because executor threads do not inherit it from the JS thread.
#pragma once
#include <napi.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "errors.h"
#include "executor.h"

namespace bt {

class PromiseWorker {
 public:
  explicit PromiseWorker(Napi::Env env, bool grad_enabled = false, Executor::Kind kind = Executor::kCompute)
      : env_(env), deferred_(Napi::Promise::Deferred::New(env)), grad_enabled_(grad_enabled), kind_(kind) {}
  virtual ~PromiseWorker() = default;

  // Queues the worker and returns its Promise (the worker deletes itself).
  Napi::Promise Start();

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Resolve(Napi::Env env) { return env.Undefined(); }
  // Called on the JS thread after Run, success or not (release busy flags).
  virtual void Finish() {}

 private:
  void Execute() {
    error_ = Capture([&] {
      at::init_num_threads();
      torch::AutoGradMode grad(grad_enabled_);
      Run();
    });
  }
  void Complete(Napi::Env env);

  Napi::Env env_;
  Napi::Promise::Deferred deferred_;
  bool grad_enabled_;
  Executor::Kind kind_;
  ErrorInfo error_;
};

}  // namespace bt
