// JS binding of search::ExactIndex (search_binding.h). Inputs are copied
// into tensors before the worker is queued; results are copied out on the
// worker thread and become TypedArrays on the JS thread.
#include "search_binding.h"

#include "args.h"
#include "convert.h"
#include "errors.h"
#include "worker.h"

namespace bt {

namespace {
using Info = const Napi::CallbackInfo&;

// ids: a Float64Array of integers (checked in TS; here cast, then re-checked).
torch::Tensor Ids(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    args::Bad("a Float64Array of ids", what, v);
  auto arr = v.As<Napi::TypedArray>();
  auto d = TensorFromTypedArray(arr, {static_cast<int64_t>(arr.ElementLength())}, at::kDouble);
  auto ids = d.to(at::kLong);
  TORCH_CHECK_VALUE(ids.numel() == 0 || ids.to(at::kDouble).eq(d).all().item<bool>(), what, " holds a non-integer id");
  return ids;
}

// rows: a Float32Array of n * dim values.
torch::Tensor Rows(const Napi::Value& v, int64_t dim, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    args::Bad("a Float32Array", what, v);
  auto arr = v.As<Napi::TypedArray>();
  int64_t n = static_cast<int64_t>(arr.ElementLength());
  if (n % dim != 0) ThrowRange(std::string("Expected a multiple of dim (") + std::to_string(dim) + ") values for " + what +
                               " but received " + std::to_string(n));
  return TensorFromTypedArray(arr, {n / dim, dim}, at::kFloat);
}

class IndexWorker : public PromiseWorker {
 public:
  enum Kind { kAdd, kRemove, kSearch, kGet, kSave, kLoad };
  IndexWorker(Napi::Env env, std::shared_ptr<IndexHandle> h, Kind kind) : PromiseWorker(env), h_(std::move(h)), kind_(kind) {}
  torch::Tensor a_, b_;
  int64_t k_ = 0;
  std::string path_;

 protected:
  void Run() override {
    if (h_->disposed) throw CodedError("ERR_DISPOSED", "Index was disposed while the call was queued");
    auto& ix = *h_->index;
    switch (kind_) {
      case kAdd: ix.Add(a_, b_); break;
      case kRemove: removed_ = ix.Remove(a_); break;
      case kSearch: hits_ = ix.Search(b_, k_); break;
      case kGet: rows_ = ix.Get(a_); break;
      case kSave: ix.Save(path_); break;
      case kLoad: ix.Load(path_); break;
    }
  }
  Napi::Value Resolve(Napi::Env env) override {
    switch (kind_) {
      case kRemove: return Napi::Number::New(env, static_cast<double>(removed_));
      case kSearch: {
        auto o = Napi::Object::New(env);
        o.Set("ids", TypedArrayFromHost(env, hits_.ids.to(at::kDouble)));
        o.Set("scores", TypedArrayFromHost(env, hits_.scores));
        return o;
      }
      case kGet: return TypedArrayFromHost(env, rows_);
      default: return env.Undefined();
    }
  }

 private:
  std::shared_ptr<IndexHandle> h_;
  Kind kind_;
  int64_t removed_ = 0;
  search::Hits hits_;
  torch::Tensor rows_;
};
}  // namespace

Napi::Function ExactIndexWrap::Init(Napi::Env env) {
  return DefineClass(env, "ExactIndex", {
      InstanceMethod<&ExactIndexWrap::Add>("add"),
      InstanceMethod<&ExactIndexWrap::Remove>("remove"),
      InstanceMethod<&ExactIndexWrap::Search>("search"),
      InstanceMethod<&ExactIndexWrap::Get>("get"),
      InstanceMethod<&ExactIndexWrap::Save>("save"),
      InstanceMethod<&ExactIndexWrap::Load>("load"),
      InstanceMethod<&ExactIndexWrap::Describe>("describe"),
      InstanceMethod<&ExactIndexWrap::Dispose>("dispose"),
  });
}

// new ExactIndex(dim, metric)
ExactIndexWrap::ExactIndexWrap(Info info) : Napi::ObjectWrap<ExactIndexWrap>(info) {
  Guard(info.Env(), [&] {
    int64_t dim = args::Int(info, 0, "dim");
    auto metric = search::ParseMetric(args::String(info, 1, "metric"));
    handle_ = std::make_shared<IndexHandle>();
    handle_->index = std::make_unique<search::ExactIndex>(dim, metric);
    return 0;
  });
}

std::shared_ptr<IndexHandle> ExactIndexWrap::H() {
  if (!handle_ || handle_->disposed) throw CodedError("ERR_DISPOSED", "Index was disposed");
  return handle_;
}

// add(ids: Float64Array, vectors: Float32Array)
Napi::Value ExactIndexWrap::Add(Info info) {
  return Guard(info.Env(), [&] {
    auto h = H();
    auto* w = new IndexWorker(info.Env(), h, IndexWorker::kAdd);
    std::unique_ptr<IndexWorker> guard(w);
    w->a_ = Ids(info[0], "ids");
    w->b_ = Rows(info[1], h->index->dim(), "vectors");
    if (w->b_.size(0) != w->a_.numel())
      ThrowRange("Expected " + std::to_string(w->a_.numel() * h->index->dim()) + " values (one row per id) for vectors but received " +
                 std::to_string(w->b_.numel()));
    return guard.release()->Start();
  });
}

Napi::Value ExactIndexWrap::Remove(Info info) {
  return Guard(info.Env(), [&] {
    auto* w = new IndexWorker(info.Env(), H(), IndexWorker::kRemove);
    std::unique_ptr<IndexWorker> guard(w);
    w->a_ = Ids(info[0], "ids");
    return guard.release()->Start();
  });
}

// search(queries: Float32Array, k) -> { ids: Float64Array, scores: Float32Array } (Q x k)
Napi::Value ExactIndexWrap::Search(Info info) {
  return Guard(info.Env(), [&] {
    auto h = H();
    auto* w = new IndexWorker(info.Env(), h, IndexWorker::kSearch);
    std::unique_ptr<IndexWorker> guard(w);
    w->b_ = Rows(info[0], h->index->dim(), "queries");
    w->k_ = args::Int(info, 1, "k");
    if (w->k_ < 1) ThrowRange("Expected an integer >= 1 for k but received " + std::to_string(w->k_));
    return guard.release()->Start();
  });
}

Napi::Value ExactIndexWrap::Get(Info info) {
  return Guard(info.Env(), [&] {
    auto* w = new IndexWorker(info.Env(), H(), IndexWorker::kGet);
    std::unique_ptr<IndexWorker> guard(w);
    w->a_ = Ids(info[0], "ids");
    return guard.release()->Start();
  });
}

Napi::Value ExactIndexWrap::Save(Info info) {
  return Guard(info.Env(), [&] {
    auto* w = new IndexWorker(info.Env(), H(), IndexWorker::kSave);
    std::unique_ptr<IndexWorker> guard(w);
    w->path_ = args::String(info, 0, "path");
    return guard.release()->Start();
  });
}

Napi::Value ExactIndexWrap::Load(Info info) {
  return Guard(info.Env(), [&] {
    auto* w = new IndexWorker(info.Env(), H(), IndexWorker::kLoad);
    std::unique_ptr<IndexWorker> guard(w);
    w->path_ = args::String(info, 0, "path");
    return guard.release()->Start();
  });
}

Napi::Value ExactIndexWrap::Describe(Info info) {
  return Guard(info.Env(), [&] {
    auto& ix = *H()->index;
    auto o = Napi::Object::New(info.Env());
    o.Set("size", static_cast<double>(ix.size()));
    o.Set("dim", static_cast<double>(ix.dim()));
    o.Set("metric", search::MetricName(ix.metric()));
    return o;
  });
}

Napi::Value ExactIndexWrap::Dispose(Info info) {
  // An in-flight worker holds handle_; its index is freed with the last holder.
  if (handle_ && !handle_->disposed) {
    handle_->disposed = true;
    handle_.reset();
  }
  return info.Env().Undefined();
}

void RegisterSearch(Napi::Env env, Napi::Object exports) {
  exports.Set("ExactIndex", ExactIndexWrap::Init(env));
}

}  // namespace bt
