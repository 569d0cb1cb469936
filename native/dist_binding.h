// The JS ProcessGroup: holds a shared_ptr<dist::Group>; destroy() drops this
// holder's reference and closes the group (models that average over it fail
// cleanly afterwards). See dist.h for the C++ side.
#pragma once
#include <napi.h>

#include <memory>

#include "dist.h"

namespace bt {

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<dist::Group> g);
  static std::shared_ptr<dist::Group> From(const Napi::Value& v);
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info);

 private:
  std::shared_ptr<dist::Group> G();
  Napi::Value Rank(const Napi::CallbackInfo& info);
  Napi::Value WorldSize(const Napi::CallbackInfo& info);
  Napi::Value AllReduce(const Napi::CallbackInfo& info);
  Napi::Value Broadcast(const Napi::CallbackInfo& info);
  Napi::Value AllGather(const Napi::CallbackInfo& info);
  Napi::Value Barrier(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  std::shared_ptr<dist::Group> group_;
};

void RegisterDist(Napi::Env env, Napi::Object exports);

}  // namespace bt
