// Tensor: a JS object holding one at::Tensor by value (a refcounted handle,
// so views and copies share storage cheaply).
// Lifetime: dispose() resets the handle at once; the GC finalizer (destructor)
// does the same as a safety net. Both are idempotent. CPU bytes are reported to
// V8 as external memory while the handle is held, so the GC feels their weight.
// Every method first checks the handle and throws TorchError ERR_DISPOSED.
// Threading: methods run on the JS thread; async ones copy the handle into a
// PromiseWorker, which keeps the storage alive even if the wrapper is disposed.
#pragma once
#include <napi.h>
#include <torch/torch.h>

namespace bt {

class TensorWrap : public Napi::ObjectWrap<TensorWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Wraps t in a new JS Tensor.
  static Napi::Object Wrap(Napi::Env env, at::Tensor t);
  // The tensor held by a JS Tensor argument; throws TypeError naming `what`
  // when v is not a Tensor, ERR_DISPOSED when it was disposed.
  static const at::Tensor& From(const Napi::Value& v, const char* what);
  static bool IsTensor(const Napi::Value& v);
  static TensorWrap* TryUnwrap(const Napi::Value& v);  // nullptr when not a Tensor

  explicit TensorWrap(const Napi::CallbackInfo& info);
  ~TensorWrap() override;

  const at::Tensor& Get() const;  // throws ERR_DISPOSED

 private:
  void Set(Napi::Env env, at::Tensor t);
  void Release();

  // lifecycle and metadata (tensor.cc)
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value IsDisposed(const Napi::CallbackInfo& info);
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Numel(const Napi::CallbackInfo& info);
  Napi::Value Item(const Napi::CallbackInfo& info);
  Napi::Value ToArray(const Napi::CallbackInfo& info);
  Napi::Value Data(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);
  Napi::Value GetRequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
  Napi::Value Grad(const Napi::CallbackInfo& info);
  Napi::Value Backward(const Napi::CallbackInfo& info);
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info);
  Napi::Value ToString(const Napi::CallbackInfo& info);

  at::Tensor tensor_;
  int64_t external_bytes_ = 0;
  Napi::Env env_;
};

// Tensors currently held by JS wrappers (leak tests, like tfjs numTensors).
int64_t LiveTensors();

// Ops (tensor_ops.cc) and factories (tensor_create.cc) register module functions.
void RegisterTensorOps(Napi::Env env, Napi::Object exports);
void RegisterTensorCreate(Napi::Env env, Napi::Object exports);

}  // namespace bt
