// Tensor factories and process-level switches (grad mode, seeds, threads).
// Factories take (shape, dtype, device[, seed]); a seed gives the call its own
// CPU generator so results do not depend on other calls (torch.Generator).
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "args.h"
#include "convert.h"
#include "errors.h"
#include "tensor.h"
#include "worker.h"

namespace bt {

namespace {
using Info = const Napi::CallbackInfo&;

at::TensorOptions Options(Info info, size_t dtype_i, size_t device_i, at::ScalarType dflt = at::kFloat) {
  at::ScalarType dt = info[dtype_i].IsUndefined() ? dflt : ParseDtype(args::String(info, dtype_i, "dtype"));
  at::Device dev = info[device_i].IsUndefined() ? at::Device(at::kCPU)
                                                 : ParseDevice(args::String(info, device_i, "device"));
  return at::TensorOptions().dtype(dt).device(dev);
}

std::optional<at::Generator> Seeded(Info info, size_t i) {
  if (info[i].IsUndefined() || info[i].IsNull()) return std::nullopt;
  int64_t seed = args::Int(info, i, "seed");
  if (seed < 0) ThrowRange("Expected a non-negative integer for seed but received " + std::to_string(seed));
  return at::detail::createCPUGenerator(static_cast<uint64_t>(seed));
}

// Random factories draw on the CPU (seeded, reproducible across devices), then move.
at::Tensor Random(Info info, bool normal) {
  auto shape = args::IntList(info, 0, "shape");
  auto opts = Options(info, 1, 2);
  if (!at::isFloatingType(opts.dtype().toScalarType()))
    ThrowType("Expected a floating dtype for rand/randn but received " + DtypeName(opts.dtype().toScalarType()));
  auto gen = Seeded(info, 3);
  auto cpu = opts.device(at::kCPU);
  at::Tensor t = gen ? (normal ? at::randn(shape, *gen, cpu) : at::rand(shape, *gen, cpu))
                     : (normal ? at::randn(shape, cpu) : at::rand(shape, cpu));
  return t.to(opts.device());
}

Napi::Value FromArray(Info info) {
  if (!info[0].IsTypedArray()) args::Bad("a TypedArray", "data", info[0]);
  auto shape = args::IntList(info, 1, "shape");
  auto dtype = ParseDtype(args::String(info, 2, "dtype"));
  at::Tensor t = TensorFromTypedArray(info[0].As<Napi::TypedArray>(), shape, dtype);
  if (!info[3].IsUndefined()) t = t.to(ParseDevice(args::String(info, 3, "device")));
  return handles::Wrap(info.Env(), t);
}

// Long matmul on a worker thread: the event loop keeps running meanwhile.
class MatmulWorker : public PromiseWorker {
 public:
  MatmulWorker(Napi::Env env, at::Tensor a, at::Tensor b, int64_t repeat)
      : PromiseWorker(env), a_(std::move(a)), b_(std::move(b)), repeat_(repeat) {}
  void Run() override {
    for (int64_t r = 0; r < repeat_; r++) out_ = at::matmul(a_, b_);
  }
  Napi::Value Resolve(Napi::Env env) override { return handles::Wrap(env, out_); }

 private:
  at::Tensor a_, b_, out_;
  int64_t repeat_;
};
}  // namespace

void RegisterTensorCreate(Napi::Env env, Napi::Object exports) {
  auto def = [&](const char* name, auto fn) {
    exports.Set(name, Napi::Function::New(env, [fn](Info info) { return Guard(info.Env(), [&] { return fn(info); }); }, name));
  };
  def("fromArray", FromArray);
  def("zeros", [](Info i) { return handles::Wrap(i.Env(), at::zeros(args::IntList(i, 0, "shape"), Options(i, 1, 2))); });
  def("ones", [](Info i) { return handles::Wrap(i.Env(), at::ones(args::IntList(i, 0, "shape"), Options(i, 1, 2))); });
  def("full", [](Info i) {
    return handles::Wrap(i.Env(), at::full(args::IntList(i, 0, "shape"), args::Number(i, 1, "value"), Options(i, 2, 3)));
  });
  def("arange", [](Info i) {
    double start = args::Number(i, 0, "start"), end = args::Number(i, 1, "end");
    double step = args::NumberOr(i, 2, "step", 1);
    if (step == 0) ThrowRange("Expected a non-zero number for step but received 0");
    return handles::Wrap(i.Env(), at::arange(start, end, step, Options(i, 3, 4, at::kLong)));
  });
  def("rand", [](Info i) { return handles::Wrap(i.Env(), Random(i, false)); });
  def("randn", [](Info i) { return handles::Wrap(i.Env(), Random(i, true)); });
  def("manualSeed", [](Info i) {
    int64_t seed = args::Int(i, 0, "seed");
    if (seed < 0) ThrowRange("Expected a non-negative integer for seed but received " + std::to_string(seed));
    torch::manual_seed(static_cast<uint64_t>(seed));
    return i.Env().Undefined();
  });
  def("setGradEnabled", [](Info i) {
    bool prev = at::GradMode::is_enabled();
    at::GradMode::set_enabled(args::BoolOr(i, 0, "enabled", true));
    return Napi::Boolean::New(i.Env(), prev);
  });
  def("isGradEnabled", [](Info i) { return Napi::Boolean::New(i.Env(), at::GradMode::is_enabled()); });
  def("liveTensors", [](Info i) { return Napi::Number::New(i.Env(), static_cast<double>(LiveTensors())); });
  def("matmulAsync", [](Info i) {
    auto a = args::Tensor(i, 0, "self");
    auto b = args::Tensor(i, 1, "other");
    int64_t repeat = args::IntOr(i, 2, "repeat", 1);
    if (repeat < 1) ThrowRange("Expected a positive integer for repeat but received " + std::to_string(repeat));
    return (new MatmulWorker(i.Env(), a, b, repeat))->Start();
  });
  def("setNumThreads", [](Info i) {
    int64_t n = args::Int(i, 0, "threads");
    if (n < 1 || n > 1024) ThrowRange("Expected an integer in [1, 1024] for threads but received " + std::to_string(n));
    at::set_num_threads(static_cast<int>(n));
    return i.Env().Undefined();
  });
  def("getNumThreads", [](Info i) { return Napi::Number::New(i.Env(), at::get_num_threads()); });
}

}  // namespace bt
