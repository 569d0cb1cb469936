#include "tensor.h"

#include <atomic>
#include <sstream>

#include "convert.h"
#include "errors.h"
#include "instance.h"
#include "worker.h"

namespace bt {

// Process-wide, not per-env: finalizers may run after instance data is gone.
std::atomic<int64_t> g_live_tensors{0};
constexpr size_t kReportBytes = 16384;
// Type tags identify our wrappers in one call, cheaper than instanceof's
// prototype walk on every op argument.
static const napi_type_tag kTensorTag = {0x6274746f72636831ULL, 0x54656e736f723031ULL};

int64_t LiveTensors() { return g_live_tensors.load(); }

Napi::Function TensorWrap::Init(Napi::Env env) {
  return DefineClass(env, "Tensor",
                     {
                         InstanceMethod<&TensorWrap::Dispose>("dispose"),
                         InstanceMethod<&TensorWrap::IsDisposed>("isDisposed"),
                         InstanceMethod<&TensorWrap::Shape>("shape"),
                         InstanceMethod<&TensorWrap::Dtype>("dtype"),
                         InstanceMethod<&TensorWrap::Device>("device"),
                         InstanceMethod<&TensorWrap::Numel>("numel"),
                         InstanceMethod<&TensorWrap::Item>("item"),
                         InstanceMethod<&TensorWrap::ToArray>("toArray"),
                         InstanceMethod<&TensorWrap::Data>("data"),
                         InstanceMethod<&TensorWrap::To>("to"),
                         InstanceMethod<&TensorWrap::GetRequiresGrad>("requiresGrad"),
                         InstanceMethod<&TensorWrap::SetRequiresGrad>("setRequiresGrad"),
                         InstanceMethod<&TensorWrap::Grad>("grad"),
                         InstanceMethod<&TensorWrap::Backward>("backward"),
                         InstanceMethod<&TensorWrap::ZeroGrad>("zeroGrad"),
                         InstanceMethod<&TensorWrap::ToString>("toString"),
                     });
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<TensorWrap>(info), env_(info.Env()) {}

TensorWrap::~TensorWrap() { Release(); }

Napi::Object TensorWrap::Wrap(Napi::Env env, at::Tensor t) {
  Napi::Object obj = Instance(env)->tensor_ctor.New({});
  napi_type_tag_object(env, obj, &kTensorTag);
  Unwrap(obj)->Set(env, std::move(t));
  return obj;
}

bool TensorWrap::IsTensor(const Napi::Value& v) {
  if (!v.IsObject()) return false;
  bool tagged = false;
  napi_check_object_type_tag(v.Env(), v, &kTensorTag, &tagged);
  return tagged;
}

TensorWrap* TensorWrap::TryUnwrap(const Napi::Value& v) {
  return IsTensor(v) ? Unwrap(v.As<Napi::Object>()) : nullptr;
}

const at::Tensor& TensorWrap::From(const Napi::Value& v, const char* what) {
  TensorWrap* w = TryUnwrap(v);
  if (!w) ThrowType(std::string("Expected a Tensor for ") + what);
  return w->Get();
}

const at::Tensor& TensorWrap::Get() const {
  if (!tensor_.defined()) throw CodedError("ERR_DISPOSED", "Tensor was disposed");
  return tensor_;
}

void TensorWrap::Set(Napi::Env env, at::Tensor t) {
  Release();
  tensor_ = std::move(t);
  if (!tensor_.defined()) return;
  g_live_tensors++;
  // Only buffers worth a GC are reported: the call costs more than a tiny op.
  if (tensor_.device().is_cpu() && tensor_.has_storage() && tensor_.storage().nbytes() >= kReportBytes) {
    external_bytes_ = static_cast<int64_t>(tensor_.storage().nbytes());
    Napi::MemoryManagement::AdjustExternalMemory(env, external_bytes_);
  }
}

// Safe from the finalizer: no JS calls, only V8's external-memory counter.
void TensorWrap::Release() {
  if (!tensor_.defined()) return;
  tensor_.reset();
  g_live_tensors--;
  if (external_bytes_) {
    Napi::MemoryManagement::AdjustExternalMemory(env_, -external_bytes_);
    external_bytes_ = 0;
  }
}

Napi::Value TensorWrap::Dispose(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

Napi::Value TensorWrap::IsDisposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !tensor_.defined());
}

Napi::Value TensorWrap::Shape(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return FromIntList(info.Env(), Get().sizes()); });
}

Napi::Value TensorWrap::Dtype(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return Napi::String::New(info.Env(), DtypeName(Get().scalar_type())); });
}

Napi::Value TensorWrap::Device(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return Napi::String::New(info.Env(), DeviceName(Get().device())); });
}

Napi::Value TensorWrap::Numel(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return Napi::Number::New(info.Env(), static_cast<double>(Get().numel())); });
}

Napi::Value TensorWrap::Item(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    const auto& t = Get();
    if (t.numel() != 1)
      ThrowRange("Expected a tensor with one element for item() but received shape " +
                 c10::str(t.sizes()));
    auto s = t.item();
    if (t.scalar_type() == at::kLong) return Napi::BigInt::New(info.Env(), s.toLong());
    if (t.scalar_type() == at::kBool) return Napi::Boolean::New(info.Env(), s.toBool());
    return Napi::Number::New(info.Env(), s.toDouble());
  });
}

Napi::Value TensorWrap::ToArray(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return TypedArrayFromTensor(info.Env(), Get()); });
}

namespace {
// Copies a tensor to the host off the JS thread (a GPU sync can take a while).
class DataWorker : public PromiseWorker {
 public:
  DataWorker(Napi::Env env, at::Tensor t) : PromiseWorker(env), src_(std::move(t)) {}
  void Run() override { host_ = HostCopyForJs(src_); }
  Napi::Value Resolve(Napi::Env env) override { return TypedArrayFromHost(env, host_); }

 private:
  at::Tensor src_, host_;
};
}  // namespace

Napi::Value TensorWrap::Data(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return (new DataWorker(info.Env(), Get()))->Start(); });
}

// to(device | dtype): a string that names a dtype is a dtype, else a device.
Napi::Value TensorWrap::To(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] {
    const auto& t = Get();
    if (!info[0].IsString()) ThrowType("Expected a device or dtype string for to()");
    std::string s = info[0].As<Napi::String>().Utf8Value();
    bool is_device = s == "cpu" || s.rfind("cuda", 0) == 0;
    at::Tensor out = is_device ? t.to(ParseDevice(s, "to()")) : t.to(ParseDtype(s, "to()"));
    return Wrap(info.Env(), out);
  });
}

Napi::Value TensorWrap::GetRequiresGrad(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] { return Napi::Boolean::New(info.Env(), Get().requires_grad()); });
}

Napi::Value TensorWrap::SetRequiresGrad(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] {
    if (!info[0].IsBoolean()) ThrowType("Expected a boolean for requiresGrad");
    tensor_ = Get();  // copy before mutating the autograd meta
    tensor_.set_requires_grad(info[0].As<Napi::Boolean>().Value());
    return info.This();
  });
}

Napi::Value TensorWrap::Grad(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&]() -> Napi::Value {
    const auto& g = Get().grad();
    if (!g.defined()) return info.Env().Null();
    return Wrap(info.Env(), g);
  });
}

Napi::Value TensorWrap::Backward(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] {
    const auto& t = Get();
    at::Tensor grad;
    if (info.Length() > 0 && !info[0].IsUndefined() && !info[0].IsNull())
      grad = From(info[0], "gradient");
    bool retain = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
    t.backward(grad, retain);
    return info.Env().Undefined();
  });
}

Napi::Value TensorWrap::ZeroGrad(const Napi::CallbackInfo& info) {
  return Guard(info.Env(), [&] {
    auto& g = Get().mutable_grad();
    g.reset();
    return info.Env().Undefined();
  });
}

Napi::Value TensorWrap::ToString(const Napi::CallbackInfo& info) {
  if (!tensor_.defined()) return Napi::String::New(info.Env(), "Tensor(disposed)");
  std::ostringstream os;
  os << "Tensor(shape=" << tensor_.sizes() << ", dtype=" << DtypeName(tensor_.scalar_type())
     << ", device=" << tensor_.device() << ")";
  return Napi::String::New(info.Env(), os.str());
}

}  // namespace bt
