// The JS-facing Model: owns a BertRunner through a shared_ptr that in-flight
// workers also hold, so dispose() never frees memory a worker is using; a
// worker that starts after dispose fails with ERR_DISPOSED. One mutating call
// at a time: a second while a worker runs throws ERR_BUSY (lib/ queues calls).
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>

#include "model.h"

namespace bt {

struct RunnerHandle {
  std::unique_ptr<BertRunner> runner;
  std::atomic<bool> disposed{false};
  std::atomic<bool> busy{false};
};

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  BertRunner& Runner();  // throws ERR_DISPOSED / ERR_BUSY
  Napi::Value ParameterNames(const Napi::CallbackInfo& info);
  Napi::Value StateDict(const Napi::CallbackInfo& info);
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info);
  Napi::Value Grads(const Napi::CallbackInfo& info);
  Napi::Value SetTrainable(const Napi::CallbackInfo& info);
  Napi::Value Trainable(const Napi::CallbackInfo& info);
  Napi::Value SetGrads(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value ForwardBackward(const Napi::CallbackInfo& info);
  Napi::Value TrainStep(const Napi::CallbackInfo& info);
  Napi::Value OptimizerStep(const Napi::CallbackInfo& info);
  Napi::Value ConfigureOptimizer(const Napi::CallbackInfo& info);
  Napi::Value SetLearningRate(const Napi::CallbackInfo& info);
  Napi::Value OptimizerState(const Napi::CallbackInfo& info);
  Napi::Value LoadOptimizerState(const Napi::CallbackInfo& info);
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info);
  Napi::Value SetTraining(const Napi::CallbackInfo& info);
  Napi::Value SetAutocast(const Napi::CallbackInfo& info);
  Napi::Value SetCudaGraphs(const Napi::CallbackInfo& info);
  Napi::Value SetObjective(const Napi::CallbackInfo& info);
  Napi::Value SetProcessGroup(const Napi::CallbackInfo& info);
  Napi::Value BroadcastParameters(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value Describe(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<RunnerHandle> handle_;
};

}  // namespace bt
