#include "tensor.h"

#include <atomic>
#include <cmath>
#include <sstream>

#include "args.h"
#include "convert.h"
#include "errors.h"
#include "instance.h"
#include "worker.h"

namespace bt {

// Process-wide, not per-env: a count over all environments.
static std::atomic<int64_t> g_live_tensors{0};
static constexpr size_t kReportBytes = 16384;
static constexpr double kSlotSpan = 16777216.0;  // 2^24 slots
static constexpr uint32_t kMaxGen = (1u << 28) - 1;  // (gen * 2 + 1) * 2^24 + slot < 2^53

int64_t LiveTensors() { return g_live_tensors.load(); }

TensorTable::~TensorTable() {
  // The environment is going away: no external-memory adjustments now.
  for (auto& s : slots_)
    if (s.tensor.defined()) g_live_tensors--;
}

double TensorTable::Add(Napi::Env env, at::Tensor t) {
  TORCH_CHECK(t.defined(), "internal: a handle on an undefined tensor");
  uint32_t i;
  if (!free_.empty()) {
    i = free_.back();
    free_.pop_back();
  } else {
    if (slots_.size() >= static_cast<size_t>(kSlotSpan))
      throw CodedError("ERR_TOO_MANY_TENSORS", "more than 2^24 tensors are alive: dispose() or tidy() the ones you no longer use");
    i = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[i];
  s.tensor = std::move(t);
  g_live_tensors++;
  // Only buffers worth a GC are reported: the call costs more than a tiny op.
  if (s.tensor.device().is_cpu() && s.tensor.has_storage() && s.tensor.storage().nbytes() >= kReportBytes) {
    s.external_bytes = static_cast<int64_t>(s.tensor.storage().nbytes());
    Napi::MemoryManagement::AdjustExternalMemory(env, s.external_bytes);
  }
  double tag = static_cast<double>(s.gen) * 2 + (s.external_bytes ? 1 : 0);
  return tag * kSlotSpan + i;
}

at::Tensor* TensorTable::Find(double h, bool* disposed) {
  if (disposed) *disposed = false;
  if (!(h >= kSlotSpan) || h != std::floor(h) || h >= 9007199254740992.0) return nullptr;
  auto tag = static_cast<uint64_t>(h / kSlotSpan);
  auto i = static_cast<uint64_t>(h - static_cast<double>(tag) * kSlotSpan);
  uint64_t gen = tag >> 1;
  if (i >= slots_.size()) return nullptr;
  Slot& s = slots_[i];
  if (s.gen != gen || !s.tensor.defined() || (tag & 1) != (s.external_bytes ? 1u : 0u)) {
    // An older generation of this slot: a handle that was freed.
    if (disposed) *disposed = gen < s.gen || (gen == s.gen && !s.tensor.defined());
    return nullptr;
  }
  return &s.tensor;
}

bool TensorTable::Release(Napi::Env env, double h) {
  if (!Find(h)) return false;
  auto i = static_cast<uint32_t>(h - std::floor(h / kSlotSpan) * kSlotSpan);
  Slot& s = slots_[i];
  s.tensor.reset();
  g_live_tensors--;
  if (s.external_bytes) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -s.external_bytes);
    s.external_bytes = 0;
  }
  // Wrapping the generation back to 1 after 2^28 reuses of one slot is safe
  // here: lib/tensor.ts unregisters a disposed Tensor from its finalizer, so
  // no stale handle is ever released later.
  s.gen = s.gen == kMaxGen ? 1 : s.gen + 1;
  free_.push_back(i);
  return true;
}

namespace handles {

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  return Napi::Number::New(env, Instance(env)->tensors.Add(env, std::move(t)));
}

at::Tensor& From(const Napi::Value& v, const char* what) {
  if (v.IsNumber()) {
    bool disposed = false;
    at::Tensor* t = Instance(v.Env())->tensors.Find(v.As<Napi::Number>().DoubleValue(), &disposed);
    if (t) return *t;
    if (disposed) throw CodedError("ERR_DISPOSED", std::string("Tensor was disposed (") + what + ")");
  }
  args::Bad("a Tensor", what, v);
}

}  // namespace handles

namespace {
using Info = const Napi::CallbackInfo&;

at::Tensor& Self(Info info) { return handles::From(info[0], "self"); }

// Copies a tensor to the host off the JS thread (a GPU sync can take a while).
class DataWorker : public PromiseWorker {
 public:
  DataWorker(Napi::Env env, at::Tensor t) : PromiseWorker(env), src_(std::move(t)) {}
  void Run() override { host_ = HostCopyForJs(src_); }
  Napi::Value Resolve(Napi::Env env) override { return TypedArrayFromHost(env, host_); }

 private:
  at::Tensor src_, host_;
};

Napi::Value Item(Info info) {
  const auto& t = Self(info);
  if (t.numel() != 1)
    ThrowRange("Expected a tensor with one element for item() but received shape " + c10::str(t.sizes()));
  auto s = t.item();
  if (t.scalar_type() == at::kLong) return Napi::BigInt::New(info.Env(), s.toLong());
  if (t.scalar_type() == at::kBool) return Napi::Boolean::New(info.Env(), s.toBool());
  return Napi::Number::New(info.Env(), s.toDouble());
}

// to(device | dtype): a string that names a dtype is a dtype, else a device.
Napi::Value To(Info info) {
  const auto& t = Self(info);
  std::string s = args::String(info, 1, "target");
  bool is_device = s == "cpu" || s.rfind("cuda", 0) == 0;
  at::Tensor out = is_device ? t.to(ParseDevice(s, "to()")) : t.to(ParseDtype(s, "to()"));
  return handles::Wrap(info.Env(), out);
}

Napi::Value Backward(Info info) {
  const auto& t = Self(info);
  at::Tensor grad;
  if (!info[1].IsUndefined() && !info[1].IsNull()) grad = handles::From(info[1], "gradient");
  t.backward(grad, args::BoolOr(info, 2, "retainGraph", false));
  return info.Env().Undefined();
}

Napi::Value Describe(Info info) {
  const auto& t = Self(info);
  std::ostringstream os;
  os << "Tensor(shape=" << t.sizes() << ", dtype=" << DtypeName(t.scalar_type()) << ", device=" << t.device() << ")";
  return Napi::String::New(info.Env(), os.str());
}
}  // namespace

void RegisterTensor(Napi::Env env, Napi::Object exports) {
  auto def = [&](const char* name, Napi::Value (*fn)(Info)) {
    exports.Set(name, Napi::Function::New(env, [fn](Info info) { return Guard(info.Env(), [&] { return fn(info); }); }, name));
  };
  // dispose: frees now; false when the handle was not live (idempotent from JS).
  def("dispose", [](Info i) -> Napi::Value {
    if (!i[0].IsNumber()) args::Bad("a Tensor", "self", i[0]);
    return Napi::Boolean::New(i.Env(), Instance(i.Env())->tensors.Release(i.Env(), i[0].As<Napi::Number>().DoubleValue()));
  });
  def("isDisposed", [](Info i) -> Napi::Value {
    if (!i[0].IsNumber()) args::Bad("a Tensor", "self", i[0]);
    return Napi::Boolean::New(i.Env(), !Instance(i.Env())->tensors.Find(i[0].As<Napi::Number>().DoubleValue()));
  });
  def("shape", [](Info i) -> Napi::Value { return FromIntList(i.Env(), Self(i).sizes()); });
  def("dtype", [](Info i) -> Napi::Value { return Napi::String::New(i.Env(), DtypeName(Self(i).scalar_type())); });
  def("device", [](Info i) -> Napi::Value { return Napi::String::New(i.Env(), DeviceName(Self(i).device())); });
  def("numel", [](Info i) -> Napi::Value { return Napi::Number::New(i.Env(), static_cast<double>(Self(i).numel())); });
  def("item", Item);
  def("toArray", [](Info i) -> Napi::Value { return TypedArrayFromTensor(i.Env(), Self(i)); });
  def("data", [](Info i) -> Napi::Value { return (new DataWorker(i.Env(), Self(i)))->Start(); });
  def("to", To);
  def("requiresGrad", [](Info i) -> Napi::Value { return Napi::Boolean::New(i.Env(), Self(i).requires_grad()); });
  def("setRequiresGrad", [](Info i) -> Napi::Value {
    if (!i[1].IsBoolean()) args::Bad("a boolean", "requiresGrad", i[1]);
    Self(i).set_requires_grad(i[1].As<Napi::Boolean>().Value());
    return i.Env().Undefined();
  });
  def("grad", [](Info i) -> Napi::Value {
    const auto& g = Self(i).grad();
    return g.defined() ? handles::Wrap(i.Env(), g) : i.Env().Null();
  });
  def("backward", Backward);
  def("zeroGrad", [](Info i) -> Napi::Value {
    Self(i).mutable_grad().reset();
    return i.Env().Undefined();
  });
  def("describe", Describe);
}

}  // namespace bt
