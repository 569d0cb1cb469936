// The JS ExactIndex: holds a shared_ptr to a search::ExactIndex that in-flight
// workers also hold, so dispose() never frees an index a search is reading.
// Every call that reads or changes the rows is a PromiseWorker on the compute
// executor (one thread), which serialises them; the getters read atomics.
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>

#include "search.h"

namespace bt {

struct IndexHandle {
  std::unique_ptr<search::ExactIndex> index;
  std::atomic<bool> disposed{false};
};

class ExactIndexWrap : public Napi::ObjectWrap<ExactIndexWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit ExactIndexWrap(const Napi::CallbackInfo& info);

 private:
  std::shared_ptr<IndexHandle> H();  // throws ERR_DISPOSED
  Napi::Value Add(const Napi::CallbackInfo& info);
  Napi::Value Remove(const Napi::CallbackInfo& info);
  Napi::Value Search(const Napi::CallbackInfo& info);
  Napi::Value Get(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Describe(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  std::shared_ptr<IndexHandle> handle_;
};

void RegisterSearch(Napi::Env env, Napi::Object exports);

}  // namespace bt
